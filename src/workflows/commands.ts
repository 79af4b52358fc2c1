/**
 * The workflows module's commands. Each runs the engine through an Executor, so whatever a
 * command sets going (tasks submitted, sub-workflows started, parents told) happens in its entry.
 *
 *   workflows.define         register a definition by name and version
 *   workflows.create         create a run (of a definition given whole, or registered), started at once if asked
 *   workflows.create_many    many creates in one entry, each taken or refused on its own
 *   workflows.execute        start a created run
 *   workflows.cancel         cancel a run, its tasks and its sub-workflows
 *   workflows.event          deliver a named event to a run
 *   workflows.trigger        a named event for the definitions that start on it
 *   workflows.fire           timers the leader saw fall due
 *   workflows.open_approval  open the decision an approval step waits on (one per entry)
 *   workflows.configure      the settings apply depends on
 */

import Type, { type Static } from "typebox";
import {
  accept,
  isJsonValue,
  isRecord,
  refuse,
  type Applied,
  type ApplyContext,
  type CommandSpec,
  type JsonValue,
} from "../control/index.js";
import { openCommand } from "../decisions/commands.js";
import { tasksState } from "../tasks/module.js";
import { TERMINAL } from "../tasks/task.js";
import { validateDefinition, type WorkflowDefinition } from "./definition.js";
import { create } from "./engine.js";
import { Executor } from "./executor.js";
import { derivedUuid, utf8Length } from "./ids.js";
import { WORKFLOW_LIMITS } from "./limits.js";
import { WORKFLOW_TERMINAL, type Ignored } from "./run.js";
import { canonicalSettings, RUN_LIMITS, WorkflowSettingsSchema, type WorkflowsState } from "./state.js";

const Uuid = Type.String({ minLength: 36, maxLength: 36, pattern: "^[0-9a-f-]{36}$" });
const Name = Type.String({ minLength: 1, maxLength: WORKFLOW_LIMITS.nameLength });
const Team = Type.String({ minLength: 1, maxLength: 100 });
/** An input object; checked as JSON and bounded in check(). */
const Input = Type.Record(Type.String(), Type.Unknown());

function definitionProblem(definition: unknown): string | null {
  const result = validateDefinition(definition);
  if (result.ok) return null;
  const first = result.errors[0]!;
  return `${first.code} at ${first.path || "/"}: ${first.message}`;
}

function inputProblem(input: unknown): string | null {
  if (!isJsonValue(input)) return "input must be plain JSON nested at most 64 deep";
  if (utf8Length(JSON.stringify(input)) > WORKFLOW_LIMITS.inputBytes)
    return `input is over ${WORKFLOW_LIMITS.inputBytes} bytes of JSON`;
  return null;
}

/** The definition a validated body holds (check() ran on every replica before apply). */
function normalised(definition: unknown): WorkflowDefinition {
  const result = validateDefinition(definition);
  if (!result.ok) throw new Error("apply was handed a definition check() refused");
  return result.definition;
}

// ---- define ----

export const DefineBody = Type.Object({ definition: Type.Unknown() }, { additionalProperties: false });

export interface Defined {
  readonly name: string;
  readonly version: number;
  readonly created: boolean;
}

export const defineCommand: CommandSpec<WorkflowsState, typeof DefineBody, Defined> = {
  kind: "workflows.define",
  schema: DefineBody,
  check: (body) => definitionProblem(body.definition),
  apply(state, body, context): Applied<Defined> {
    const given = normalised(body.definition);
    const raw = body.definition as Record<string, unknown>;
    const versions = state.definitions.get(given.name);
    if (versions === undefined && state.definitions.size >= RUN_LIMITS.definitions)
      return refuse("limit_exceeded", `${RUN_LIMITS.definitions} definitions are registered, the limit`);
    if (versions !== undefined && versions.size >= RUN_LIMITS.versions)
      return refuse("limit_exceeded", `${given.name} has ${RUN_LIMITS.versions} versions, the limit`);
    const latest = versions === undefined ? 0 : Math.max(...versions.keys());
    // Without a version, the same definition as the latest is that version (a retry registers nothing).
    const same =
      latest > 0 &&
      JSON.stringify(versions!.get(latest)!.definition) === JSON.stringify({ ...given, version: latest });
    const version = raw["version"] === undefined ? (same ? latest : latest + 1) : given.version;
    const definition: WorkflowDefinition = { ...given, version };
    const known = versions?.get(version);
    if (known !== undefined) {
      if (JSON.stringify(known.definition) === JSON.stringify(definition))
        return accept({ name: definition.name, version, created: false });
      return refuse(
        "version_exists",
        `${definition.name} version ${version} is registered with a different definition; register a new version`,
      );
    }
    state.addDefinition({ definition, registered_at: context.timestamp });
    return accept({ name: definition.name, version, created: true });
  },
  entryType: () => "workflow_defined",
  logView: (body) => ({
    data: { name: isRecord(body.definition) ? ((body.definition["name"] as JsonValue) ?? null) : null },
  }),
};

// ---- create ----

export const CreateBody = Type.Object(
  {
    id: Uuid,
    team: Type.Union([Team, Type.Null()], { description: "who owns it (null: the definition's first team)" }),
    definition: Type.Union([Type.Unknown(), Type.Null()]),
    ref: Type.Union([
      Type.Object(
        { name: Name, version: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]) },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
    input: Input,
    execute: Type.Boolean(),
    idempotency_key: Type.Union([Type.String({ minLength: 1, maxLength: 255 }), Type.Null()]),
    expands_task: Type.Union([Uuid, Type.Null()]),
  },
  { additionalProperties: false },
);

export type CreateBody = Static<typeof CreateBody>;

export interface Created {
  readonly id: string;
  readonly created: boolean;
}

export const createCommand: CommandSpec<WorkflowsState, typeof CreateBody, Created> = {
  kind: "workflows.create",
  schema: CreateBody,
  check(body) {
    if ((body.definition === null) === (body.ref === null))
      return "give either a definition or a registered workflow's name";
    if (body.definition !== null) {
      const problem = definitionProblem(body.definition);
      if (problem !== null) return problem;
    }
    return inputProblem(body.input);
  },
  apply(state, body, context): Applied<Created> {
    const executor = new Executor(state, context);
    const outcome = createOne(state, body, context, executor);
    if ("code" in outcome) return refuse(outcome.code, outcome.message);
    return accept(outcome, executor.rows());
  },
  entryType: () => "workflow_created",
  logView: (body) => ({
    data: {
      id: body.id,
      name:
        body.ref?.name ??
        (isRecord(body.definition) ? ((body.definition["name"] as JsonValue) ?? null) : null),
      execute: body.execute,
    },
  }),
};

/** Why one create was refused (the codes a single create is refused with). */
interface CreateRefusal {
  readonly code: string;
  readonly message: string;
}

function refusal(code: string, message: string): CreateRefusal {
  return { code, message };
}

/** Creates one run through `executor` (started if asked), or says why not, having changed nothing. */
function createOne(
  state: WorkflowsState,
  body: CreateBody,
  context: ApplyContext,
  executor: Executor,
): Created | CreateRefusal {
  let definition: WorkflowDefinition;
  let ref: string | null = null;
  if (body.ref !== null) {
    const registered = state.definition(body.ref.name, body.ref.version);
    if (registered === undefined) {
      const which =
        body.ref.version === null ? body.ref.name : `${body.ref.name} version ${body.ref.version}`;
      return refusal("definition_not_found", `no workflow definition ${which} is registered`);
    }
    definition = registered.definition;
    ref = `${definition.name}@${definition.version}`;
  } else {
    definition = state.shared(normalised(body.definition));
  }
  const team = body.team ?? definition.teams[0]!;
  if (body.idempotency_key !== null) {
    const known = state.byIdempotency(team, body.idempotency_key);
    if (known !== undefined) return { id: known.run.id, created: false };
  }
  if (state.get(body.id) !== undefined) return refusal("conflict", `workflow id ${body.id} is taken`);
  if (state.liveCount >= RUN_LIMITS.liveRuns)
    return refusal("limit_exceeded", `the cluster holds ${RUN_LIMITS.liveRuns} live workflows, its limit`);
  if (body.expands_task !== null) {
    const task = context.read?.(tasksState).get(body.expands_task);
    if (task === undefined) return refusal("task_not_found", `no task ${body.expands_task}`);
    if (TERMINAL.has(task.status))
      return refusal("task_finished", `task ${body.expands_task} is already ${task.status}`);
    if (state.expansions.has(body.expands_task))
      return refusal("conflict", `task ${body.expands_task} is already expanded by another workflow`);
  }
  const run = create(definition, body.input as Record<string, JsonValue>, { id: body.id }, context.timestamp);
  executor.add({ run, ref, team, idempotency_key: body.idempotency_key, expands_task: body.expands_task });
  if (body.execute) executor.feed(run.id, { type: "start" });
  return { id: run.id, created: true };
}

export const CreateManyBody = Type.Object(
  { workflows: Type.Array(CreateBody, { minItems: 1, maxItems: WORKFLOW_LIMITS.createBatch }) },
  { additionalProperties: false },
);
export type CreateManyBody = Static<typeof CreateManyBody>;

/** One create of a workflows.create_many, in the order given. */
export type CreateManyOutcome = ({ readonly ok: true } & Created) | ({ readonly ok: false } & CreateRefusal);

/**
 * Many creates in one entry, each taken or refused on its own exactly as workflows.create would
 * take it (found by its key, definition_not_found, limit_exceeded), in the order given, so a key
 * named twice finds the run its first use made. A refused one changes nothing; the others' runs,
 * and the tasks their first steps submit, are all in this entry.
 */
export const createManyCommand: CommandSpec<WorkflowsState, typeof CreateManyBody, CreateManyOutcome[]> = {
  kind: "workflows.create_many",
  schema: CreateManyBody,
  check: (body) => {
    for (const [index, run] of body.workflows.entries()) {
      const problem = createCommand.check?.(run) ?? null;
      if (problem !== null) return `workflows[${index}]: ${problem}`;
      if (run.expands_task !== null) return `workflows[${index}]: a bulk create expands no task`;
    }
    return new Set(body.workflows.map((run) => run.id)).size === body.workflows.length
      ? null
      : "a bulk names each run id once";
  },
  apply(state, body, context) {
    const executor = new Executor(state, context);
    const outcomes = body.workflows.map((run): CreateManyOutcome => {
      const outcome = createOne(state, run, context, executor);
      return "code" in outcome ? { ok: false, ...outcome } : { ok: true, ...outcome };
    });
    return accept(outcomes, executor.rows());
  },
  entryType: () => "workflows_created",
  logView: (body) => ({
    data: {
      workflows: body.workflows.length,
      names: [
        ...new Set(
          body.workflows.map(
            (run) =>
              run.ref?.name ??
              (isRecord(run.definition) ? ((run.definition["name"] as JsonValue) ?? null) : null),
          ),
        ),
      ].slice(0, 16),
    },
  }),
};

// ---- execute, cancel, event ----

const IdBody = Type.Object({ id: Uuid }, { additionalProperties: false });

/** The refusal an ignored start, cancel or event turns into, or null when it should be answered as ignored. */
function refusalOf(ignored: Ignored, id: string): Applied<never> | null {
  if (ignored.code === "run_ended") return refuse("workflow_ended", ignored.message);
  if (ignored.code === "invalid_event" && ignored.message.startsWith("no workflow"))
    return refuse("workflow_not_found", `no workflow ${id}`);
  return null;
}

export const executeCommand: CommandSpec<WorkflowsState, typeof IdBody, Created> = {
  kind: "workflows.execute",
  schema: IdBody,
  apply(state, body, context): Applied<Created> {
    if (state.get(body.id) === undefined) return refuse("workflow_not_found", `no workflow ${body.id}`);
    const executor = new Executor(state, context);
    const ignored = executor.feed(body.id, { type: "start" });
    if (ignored !== null) {
      if (ignored.code === "already_started") return refuse("workflow_started", ignored.message);
      return refusalOf(ignored, body.id) ?? refuse("workflow_started", ignored.message);
    }
    return accept({ id: body.id, created: false }, executor.rows());
  },
  entryType: () => "workflow_started",
  logView: (body) => ({ data: { id: body.id } }),
};

export const CancelBody = Type.Object(
  { id: Uuid, reason: Type.String({ maxLength: 500 }) },
  { additionalProperties: false },
);

export const cancelWorkflowCommand: CommandSpec<WorkflowsState, typeof CancelBody, Created> = {
  kind: "workflows.cancel",
  schema: CancelBody,
  apply(state, body, context): Applied<Created> {
    const record = state.get(body.id);
    if (record === undefined) return refuse("workflow_not_found", `no workflow ${body.id}`);
    if (WORKFLOW_TERMINAL.has(record.run.status))
      return refuse("workflow_ended", `workflow ${body.id} already ended ${record.run.status}`);
    const executor = new Executor(state, context);
    const ignored = executor.feed(body.id, { type: "cancel", reason: body.reason || "cancelled" });
    if (ignored !== null) return refusalOf(ignored, body.id) ?? refuse("workflow_ended", ignored.message);
    return accept({ id: body.id, created: false }, executor.rows());
  },
  audit: (body) => ({ action: "workflow.cancel", target: body.id, detail: body.reason }),
  entryType: () => "workflow_cancelled",
  logView: (body) => ({ data: { id: body.id, reason: body.reason } }),
};

export const EventBody = Type.Object(
  { id: Uuid, name: Name, data: Type.Unknown() },
  { additionalProperties: false },
);

export interface Delivered {
  readonly applied: boolean;
  readonly ignored: Ignored | null;
}

export const eventCommand: CommandSpec<WorkflowsState, typeof EventBody, Delivered> = {
  kind: "workflows.event",
  schema: EventBody,
  check: (body) => inputProblem({ data: body.data }),
  apply(state, body, context): Applied<Delivered> {
    if (state.get(body.id) === undefined) return refuse("workflow_not_found", `no workflow ${body.id}`);
    const executor = new Executor(state, context);
    const ignored = executor.feed(body.id, {
      type: "event",
      name: body.name,
      data: (body.data ?? null) as JsonValue,
    });
    if (ignored !== null) {
      const refusal = refusalOf(ignored, body.id);
      if (refusal !== null) return refusal;
    }
    return accept({ applied: ignored === null, ignored }, executor.rows());
  },
  entryType: () => "workflow_event",
  logView: (body) => ({ data: { id: body.id, name: body.name } }),
};

// ---- trigger ----

export const TriggerBody = Type.Object(
  {
    id: Uuid,
    name: Name,
    data: Type.Record(Type.String(), Type.Unknown()),
    team: Type.Union([Team, Type.Null()]),
  },
  { additionalProperties: false },
);

export interface Triggered {
  readonly started: readonly { readonly id: string; readonly name: string; readonly version: number }[];
}

export const triggerCommand: CommandSpec<WorkflowsState, typeof TriggerBody, Triggered> = {
  kind: "workflows.trigger",
  schema: TriggerBody,
  check: (body) => inputProblem(body.data),
  apply(state, body, context): Applied<Triggered> {
    const executor = new Executor(state, context);
    const started: { id: string; name: string; version: number }[] = [];
    const names = [...state.definitions.keys()].sort();
    for (const name of names) {
      const registered = state.definition(name, null)!;
      const definition = registered.definition;
      if (definition.trigger?.event !== body.name) continue;
      if (state.liveCount >= RUN_LIMITS.liveRuns) break;
      const id = derivedUuid(body.id, `${definition.name}@${definition.version}`);
      if (state.get(id) !== undefined) {
        // The same event again (the same idempotency key): the runs it started, not new ones.
        started.push({ id, name: definition.name, version: definition.version });
        continue;
      }
      const run = create(definition, body.data as Record<string, JsonValue>, { id }, context.timestamp);
      executor.add({
        run,
        ref: `${definition.name}@${definition.version}`,
        team: body.team ?? definition.teams[0]!,
        idempotency_key: null,
        expands_task: null,
      });
      executor.feed(id, { type: "start" });
      started.push({ id, name: definition.name, version: definition.version });
    }
    return accept({ started }, executor.rows());
  },
  entryType: () => "workflow_trigger",
  logView: (body) => ({ data: { id: body.id, name: body.name } }),
};

// ---- fire ----

export const FireBody = Type.Object(
  {
    timers: Type.Array(
      Type.Object(
        { workflow_id: Uuid, timer: Type.String({ minLength: 1, maxLength: 400 }) },
        { additionalProperties: false },
      ),
      {
        minItems: 1,
        maxItems: RUN_LIMITS.fireBatch,
      },
    ),
  },
  { additionalProperties: false },
);

export const fireCommand: CommandSpec<WorkflowsState, typeof FireBody, number> = {
  kind: "workflows.fire",
  schema: FireBody,
  apply(state, body, context): Applied<number> {
    const executor = new Executor(state, context);
    let fired = 0;
    for (const { workflow_id, timer } of body.timers) {
      if (executor.feed(workflow_id, { type: "timer_fired", timer }) === null) fired++;
    }
    return accept(fired, executor.rows());
  },
  entryType: () => "workflow_timers",
  logView: (body) => ({ data: { timers: body.timers.length } }),
};

// ---- approvals ----

export const OpenApprovalBody = Type.Object(
  { approval_id: Type.String({ minLength: 1, maxLength: 400 }) },
  { additionalProperties: false },
);

/** The entry type of the decision an approval step opens (reserved: only this command opens one). */
export const APPROVAL_ENTRY_TYPE = "juno.workflow_approval";

export const openApprovalCommand: CommandSpec<WorkflowsState, typeof OpenApprovalBody, number | null> = {
  kind: "workflows.open_approval",
  schema: OpenApprovalBody,
  apply(state, body, context): Applied<number | null> {
    const approval = state.approvals.get(body.approval_id);
    if (approval === undefined || approval.decision !== null) return accept(null);
    const opened = context.invoke!(openCommand, {
      entry_type: APPROVAL_ENTRY_TYPE,
      data: {
        workflow_id: approval.workflow_id,
        step: approval.step,
        index: approval.index,
        team: approval.team,
        data: approval.data,
      },
      approval: { voters: [...approval.voters], quorum: approval.quorum },
    });
    if (!opened.ok) return refuse(opened.code, opened.message);
    state.approvals.set(body.approval_id, { ...approval, decision: opened.value.index });
    state.byDecision.set(opened.value.index, body.approval_id);
    state.unopened.delete(body.approval_id);
    state.version++;
    return accept(opened.value.index);
  },
  entryType: () => "workflow_approval",
  logView: (body) => ({ data: { approval_id: body.approval_id } }),
};

// ---- configure ----

export const ConfigureBody = Type.Object(
  { settings: WorkflowSettingsSchema },
  { additionalProperties: false },
);

export const configureWorkflowsCommand: CommandSpec<WorkflowsState, typeof ConfigureBody, null> = {
  kind: "workflows.configure",
  schema: ConfigureBody,
  apply(state, body, context): Applied<null> {
    state.configure(canonicalSettings(body.settings));
    // A raised limit lets waiting steps go at once.
    const executor = new Executor(state, context);
    executor.releaseAll();
    return accept(null, executor.rows());
  },
  entryType: () => "workflow_settings",
  logView: (body) => ({ data: body.settings }),
};

export const WORKFLOW_COMMANDS = [
  defineCommand,
  createCommand,
  createManyCommand,
  executeCommand,
  cancelWorkflowCommand,
  eventCommand,
  triggerCommand,
  fireCommand,
  openApprovalCommand,
  configureWorkflowsCommand,
] as const;
