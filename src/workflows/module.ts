/**
 * The workflows module's replicated half: commands, snapshot section, the seed's
 * cross_team_workflows table, what it hears of the other modules (a workflow task ended, an
 * approval was decided) and its error codes.
 */

import Type, { type Static } from "typebox";
import { Compile } from "typebox/compile";
import {
  SnapshotError,
  concatCursors,
  listCursor,
  type ApplyContext,
  type Cursor,
  type JsonValue,
  type Notice,
  type RowChange,
  type SectionRestorer,
  type StateModule,
  type StateSection,
} from "../control/index.js";
import { DECISION_DECIDED, type DecisionDecided } from "../decisions/state.js";
import { TASK_ENDED, type TaskEnded } from "../tasks/state.js";
import { WORKFLOW_COMMANDS } from "./commands.js";
import type { WorkflowDefinition } from "./definition.js";
import { unitOfTask } from "./engine.js";
import { endedEvent, Executor } from "./executor.js";
import { STEP_STATUSES, WORKFLOW_STATUSES, WORKFLOW_TERMINAL, type WorkflowRun } from "./run.js";
import {
  WorkflowSettingsSchema,
  WorkflowsState,
  type DeferredTask,
  type OpenApproval,
  type RunRecord,
} from "./state.js";
import { workflowTableRow } from "./views.js";

const Str = Type.String();
const NullableStr = Type.Union([Type.String(), Type.Null()]);
const NullableInt = Type.Union([Type.Integer(), Type.Null()]);

const MetaRow = Type.Object(
  {
    meta: Type.Object(
      {
        seq: Type.Integer({ minimum: 0 }),
        settings: WorkflowSettingsSchema,
        approvals: Type.Array(
          Type.Object(
            {
              approval_id: Str,
              workflow_id: Str,
              step: Str,
              index: NullableInt,
              team: Str,
              voters: Type.Array(Str),
              quorum: Type.Integer({ minimum: 1 }),
              data: Type.Unknown(),
              decision: NullableInt,
            },
            { additionalProperties: false },
          ),
        ),
        unopened: Type.Array(Str),
        active: Type.Array(Type.Tuple([Str, Str])),
        deferred: Type.Array(
          Type.Tuple([
            Str,
            Type.Array(Type.Object({ type: Type.Literal("submit_task"), task_id: Str, workflow_id: Str })),
          ]),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

const DefinitionShape = Type.Object({
  name: Str,
  version: Type.Integer({ minimum: 1 }),
  teams: Type.Array(Str, { minItems: 1 }),
  steps: Type.Array(Type.Object({ id: Str, type: Str, team: Str }), { minItems: 1 }),
  order: Type.Array(Str),
});

const DefinitionRow = Type.Object(
  {
    definition: Type.Object(
      { definition: DefinitionShape, registered_at: Type.Integer() },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

const RunShape = Type.Object({
  id: Str,
  status: Type.Union(WORKFLOW_STATUSES.map((s) => Type.Literal(s))),
  phase: Type.Union([Type.Literal("forward"), Type.Literal("compensating"), Type.Literal("ended")]),
  input: Type.Record(Type.String(), Type.Unknown()),
  depth: Type.Integer({ minimum: 0 }),
  created_at: Type.Integer(),
  steps: Type.Array(Type.Object({ id: Str, status: Type.Union(STEP_STATUSES.map((s) => Type.Literal(s))) })),
  timers: Type.Array(Type.Object({ id: Str, at: Type.Integer(), purpose: Str })),
  events: Type.Array(Type.Unknown()),
  compensation: Type.Array(Str),
  sequence: Type.Integer({ minimum: 0 }),
});

const RunRow = Type.Object(
  {
    record: Type.Object(
      {
        run: RunShape,
        ref: NullableStr,
        definition: Type.Union([DefinitionShape, Type.Null()]),
        team: Str,
        idempotency_key: NullableStr,
        expands_task: NullableStr,
        revision: Type.Integer({ minimum: 1 }),
        seq: Type.Integer({ minimum: 1 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
type RunRow = Static<typeof RunRow>;

const metaCheck = Compile(MetaRow);
const definitionCheck = Compile(DefinitionRow);
const runCheck = Compile(RunRow);

function invalid(row: number, message: string): SnapshotError {
  return new SnapshotError("invalid_row", `section workflows, row ${row}: ${message}`);
}

function runRow(record: RunRecord): string {
  const { definition, ...run } = record.run;
  const row: RunRow = {
    record: {
      run: run as unknown as RunRow["record"]["run"],
      ref: record.ref,
      definition: record.ref === null ? (definition as unknown as RunRow["record"]["definition"]) : null,
      team: record.team,
      idempotency_key: record.idempotency_key,
      expands_task: record.expands_task,
      revision: record.revision,
      seq: record.seq,
    },
  };
  return JSON.stringify(row);
}

function rows(state: WorkflowsState): Cursor<string> {
  const meta = JSON.stringify({
    meta: {
      seq: state.seq,
      settings: state.settings,
      approvals: [...state.approvals.values()],
      unopened: [...state.unopened],
      active: [...state.active],
      deferred: [...state.deferred].map(([team, waiting]) => [team, [...waiting]]),
    },
  });
  const definitions: string[] = [];
  for (const versions of state.definitions.values())
    for (const registered of versions.values()) definitions.push(JSON.stringify({ definition: registered }));
  // Runs are immutable values: capturing the records now keeps the snapshot as of this moment.
  const live: RunRecord[] = [];
  for (const record of state.runs.values()) if (!WORKFLOW_TERMINAL.has(record.run.status)) live.push(record);
  const ended = state
    .endedOrder()
    .map((id) => state.get(id))
    .filter((record) => record !== undefined);
  const records = [...live, ...ended];
  let position = 0;
  const runs: Cursor<string> = {
    next(max) {
      const out: string[] = [];
      while (out.length < max && position < records.length) out.push(runRow(records[position++]!));
      return out;
    },
    get done() {
      return position >= records.length;
    },
    close() {
      position = records.length;
    },
  };
  return concatCursors([listCursor([meta, ...definitions]), runs]);
}

function restorer(): SectionRestorer<WorkflowsState> {
  const state = new WorkflowsState();
  let count = 0;
  let meta: Static<typeof MetaRow>["meta"] | null = null;
  return {
    add(row: unknown): void {
      count++;
      if (count === 1) {
        if (!metaCheck.Check(row)) throw invalid(count, "the first row must be the section's meta row");
        meta = row.meta;
        state.seq = meta.seq;
        state.configure(meta.settings);
        return;
      }
      if (definitionCheck.Check(row)) {
        const registered = row.definition as unknown as {
          definition: WorkflowDefinition;
          registered_at: number;
        };
        if (state.definition(registered.definition.name, registered.definition.version) !== undefined)
          throw invalid(
            count,
            `definition ${registered.definition.name}@${registered.definition.version} appears twice`,
          );
        state.addDefinition(registered);
        return;
      }
      if (!runCheck.Check(row)) throw invalid(count, "neither a definition nor a run row");
      const saved = row.record;
      let definition: WorkflowDefinition | undefined;
      if (saved.ref !== null) {
        const at = saved.ref.lastIndexOf("@");
        definition = state.definition(saved.ref.slice(0, at), Number(saved.ref.slice(at + 1)))?.definition;
        if (definition === undefined)
          throw invalid(count, `run ${saved.run.id} runs ${saved.ref}, which is not in the section`);
      } else {
        if (saved.definition === null) throw invalid(count, `run ${saved.run.id} has no definition`);
        definition = state.shared(saved.definition as unknown as WorkflowDefinition);
      }
      const run = { ...(saved.run as unknown as Omit<WorkflowRun, "definition">), definition } as WorkflowRun;
      if (
        run.steps.length !== definition.steps.length ||
        run.steps.some((step, i) => step.id !== definition.steps[i]!.id)
      )
        throw invalid(count, `run ${run.id}'s steps are not its definition's`);
      if (state.get(run.id) !== undefined) throw invalid(count, `run ${run.id} appears twice`);
      const record: RunRecord = { ...saved, run };
      state.put(record);
      if (!WORKFLOW_TERMINAL.has(run.status)) for (const timer of run.timers) state.timers.add(run.id, timer);
    },
    finish(): WorkflowsState {
      if (meta === null) throw invalid(0, "the section has no meta row");
      for (const approval of meta.approvals as OpenApproval[]) {
        state.approvals.set(approval.approval_id, approval);
        if (approval.decision !== null) state.byDecision.set(approval.decision, approval.approval_id);
      }
      for (const id of meta.unopened) state.unopened.add(id);
      for (const [task, team] of meta.active) {
        state.active.set(task, team);
        state.teamActive.set(team, (state.teamActive.get(team) ?? 0) + 1);
      }
      for (const [team, waiting] of meta.deferred)
        state.deferred.set(team, waiting as unknown as DeferredTask[]);
      state.evicted = [];
      return state;
    },
  };
}

/** Snapshot section "workflows", version 1: a meta row, the registered definitions, then the runs. */
export const workflowsSection: StateSection<WorkflowsState> = {
  version: 1,
  empty: () => new WorkflowsState(),
  rows,
  restore: restorer,
};

function onNotice(state: WorkflowsState, notice: Notice, context: ApplyContext): readonly RowChange[] {
  if (notice.topic === TASK_ENDED) {
    const ended = notice.data as TaskEnded;
    const known = state.active.has(ended.task_id) || state.expansions.has(ended.task_id);
    const record = state.get(ended.workflow_id);
    const unit = record === undefined ? null : unitOfTask(record.run, ended.task_id);
    if (!known && unit === null) return [];
    const executor = new Executor(state, context);
    const event =
      unit === null
        ? null
        : endedEvent(
            { ...unit, task_id: ended.task_id },
            ended.status,
            ended.result,
            ended.error,
            ended.attempts,
          );
    executor.taskEnded(ended.task_id, ended.workflow_id, event);
    return executor.rows();
  }
  if (notice.topic === DECISION_DECIDED) {
    const decided = notice.data as DecisionDecided;
    if (!state.byDecision.has(decided.index)) return [];
    const executor = new Executor(state, context);
    const votes = Object.fromEntries(decided.votes) as JsonValue;
    executor.decided(decided.index, decided.status === "approved", votes);
    return executor.rows();
  }
  return [];
}

/** Workflows: definitions, runs and what they wait on. */
export const workflowsState: StateModule<WorkflowsState> = {
  name: "workflows",
  commands: [...WORKFLOW_COMMANDS],
  section: workflowsSection,
  onNotice,
  errors: {
    workflow_not_found: 404,
    definition_not_found: 404,
    workflow_started: 409,
    workflow_ended: 409,
    version_exists: 409,
    invalid_definition: 422,
  },
  projection: {
    tables: [
      {
        name: "cross_team_workflows",
        columns: [
          "id",
          "name",
          "teams",
          "status",
          "dependencies",
          "progress",
          "created_at",
          "version",
          "team",
          "parent_id",
          "started_at",
          "ended_at",
        ],
        key: ["id"],
        ddl: {
          // The seed's columns first (teams and JSON as text, times in ms since the epoch), then juno's.
          sqlite: `CREATE TABLE IF NOT EXISTS cross_team_workflows (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            teams TEXT NOT NULL,
            status TEXT NOT NULL,
            dependencies TEXT,
            progress TEXT,
            created_at INTEGER NOT NULL,
            version INTEGER NOT NULL,
            team TEXT NOT NULL,
            parent_id TEXT,
            started_at INTEGER,
            ended_at INTEGER
          )`,
          // The seed's table exists (the store's first migration); the engine adds its columns.
          postgres: `ALTER TABLE cross_team_workflows
            ADD COLUMN IF NOT EXISTS version INTEGER NOT NULL DEFAULT 1,
            ADD COLUMN IF NOT EXISTS team VARCHAR(100) NOT NULL DEFAULT '',
            ADD COLUMN IF NOT EXISTS parent_id UUID,
            ADD COLUMN IF NOT EXISTS started_at TIMESTAMPTZ,
            ADD COLUMN IF NOT EXISTS ended_at TIMESTAMPTZ;
          CREATE INDEX IF NOT EXISTS cross_team_workflows_status ON cross_team_workflows (status)`,
        },
      },
    ],
    rows: (state) => {
      const records = [...state.runs.values()];
      return listCursor(
        records.map((record) => ({ table: "cross_team_workflows", row: workflowTableRow(record) })),
      );
    },
  },
};
