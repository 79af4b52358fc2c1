/**
 * The workflows API: definitions (register, list, read), runs (create, start, cancel, read,
 * list, count), events (to one run, or to the definitions that start on a name), and a live
 * stream of one run's changes as server-sent events. Bodies are JSON, or YAML with
 * `content-type: application/yaml`. Writes go through any node.
 */

import { timeOrderedUuid } from "../util/ids.js";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import Type, { type Static } from "typebox";
import { Compile } from "typebox/compile";
import { parse as parseYaml } from "yaml";
import { isRecord } from "../control/index.js";
import type { NodeApi } from "../runtime/domain-module.js";
import { actorOf } from "../server/authorization.js";
import { ApiError } from "../server/errors.js";
import {
  checkCommand,
  isUuid,
  isoTime,
  readConsistently,
  startEventStream,
} from "../server/route-helpers.js";
import { CONSENSUS_ERRORS, Consistency, responses } from "../server/schemas.js";
import { taskAgents } from "../tasks/agent-scope.js";
import { tasksState } from "../tasks/module.js";
import {
  cancelWorkflowCommand,
  createCommand,
  createManyCommand,
  defineCommand,
  eventCommand,
  executeCommand,
  triggerCommand,
  type CreateBody,
} from "./commands.js";
import { validateDefinition, type DefinitionError } from "./definition.js";
import { derivedUuid } from "./ids.js";
import { WORKFLOW_LIMITS } from "./limits.js";
import { workflowsState } from "./module.js";
import { WORKFLOW_STATUSES, WORKFLOW_TERMINAL, type WorkflowStatus } from "./run.js";
import type { RunRecord, WorkflowsState } from "./state.js";
import {
  WorkflowStatusSchema,
  WorkflowSummary,
  WorkflowView,
  workflowSummary,
  workflowView,
} from "./views.js";

const tags = ["workflows"];
/** Bodies may hold a definition of up to WORKFLOW_LIMITS.definitionBytes, plus room for the input. */
const BODY_LIMIT = 2 * WORKFLOW_LIMITS.definitionBytes;
/** Streams one node holds open at once. */
export const MAX_WATCHERS = 1_000;

const Team = Type.String({ minLength: 1, maxLength: 100 });
const IdParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);

const CreateRequest = Type.Object(
  {
    definition: Type.Optional(
      Type.Unknown({ description: "a whole definition (or send the definition itself as the body)" }),
    ),
    workflow: Type.Optional(
      Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 100 }),
          version: Type.Optional(Type.Integer({ minimum: 1, description: "default: the latest registered" })),
        },
        { additionalProperties: false, description: "start a registered definition by name" },
      ),
    ),
    input: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    execute: Type.Optional(Type.Boolean({ description: "start at once (default false: status created)" })),
    team: Type.Optional(Team),
    idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    expands_task: Type.Optional(
      Type.String({
        format: "uuid",
        description: "the delegated task this run expands: it is cancelled if the task ends otherwise",
      }),
    ),
  },
  { additionalProperties: false },
);
type CreateRequest = Static<typeof CreateRequest>;

const CreateQuery = Type.Object(
  {
    execute: Type.Optional(Type.Boolean()),
    team: Type.Optional(Team),
    idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  },
  {
    additionalProperties: false,
    description: "for a body that is a bare definition (YAML): what a create request would say",
  },
);

const WorkflowAnswer = Type.Object({ workflow: WorkflowView });

/** One run of a bulk create: a create request, but never one that expands a task (an agent's own call). */
const BulkCreateItem = Type.Object(
  {
    definition: CreateRequest.properties.definition,
    workflow: CreateRequest.properties.workflow,
    input: CreateRequest.properties.input,
    execute: CreateRequest.properties.execute,
    team: CreateRequest.properties.team,
    idempotency_key: CreateRequest.properties.idempotency_key,
  },
  { additionalProperties: false },
);
type BulkCreateItem = Static<typeof BulkCreateItem>;

const BulkCreateBody = Type.Object(
  { workflows: Type.Array(BulkCreateItem, { minItems: 1, maxItems: WORKFLOW_LIMITS.createBatch }) },
  { additionalProperties: false },
);

const BulkCreateAnswer = Type.Object({
  results: Type.Array(
    Type.Object({
      ok: Type.Boolean(),
      created: Type.Optional(
        Type.Boolean({ description: "false: found by its idempotency_key, created before" }),
      ),
      id: Type.Optional(
        Type.String({ description: "the run's id (its view is left out once it was evicted)" }),
      ),
      workflow: Type.Optional(WorkflowView),
      error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
    }),
  ),
});

const ListQuery = Type.Object(
  {
    status: Type.Optional(WorkflowStatusSchema),
    team: Type.Optional(Team),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    parent_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    consistency: Consistency,
  },
  { additionalProperties: false },
);

const Counts = Type.Record(Type.String(), Type.Integer());

const StatusAnswer = Type.Object({
  counts: Counts,
  total: Type.Integer(),
  live: Type.Integer(),
  by_team: Type.Record(Type.String(), Counts),
  definitions: Type.Integer(),
  timers: Type.Integer({ description: "timers the live runs wait on" }),
  approvals: Type.Integer({ description: "approval steps waiting for votes" }),
  steps_waiting_for_team_slots: Counts,
});

const EventRequest = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100 }), data: Type.Optional(Type.Unknown()) },
  { additionalProperties: false },
);

const TriggerRequest = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    data: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: "the started runs' input" }),
    ),
    team: Type.Optional(Team),
    idempotency_key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description: "the same key again answers the runs it started, starting none",
      }),
    ),
  },
  { additionalProperties: false },
);

const DefinitionSummary = Type.Object({
  name: Type.String(),
  version: Type.Integer(),
  teams: Type.Array(Type.String()),
  steps: Type.Integer(),
  trigger: Type.Union([Type.String(), Type.Null()]),
  registered_at: Type.String({ format: "date-time" }),
});

/** Parses YAML bodies for this scope; JSON stays with fastify's own parser. */
function acceptYaml(app: FastifyInstance): void {
  app.addContentTypeParser(
    ["application/yaml", "application/x-yaml", "text/yaml"],
    { parseAs: "string", bodyLimit: BODY_LIMIT },
    (_request, body, done) => {
      try {
        done(null, parseYaml(body as string, { schema: "core", uniqueKeys: true, maxAliasCount: 100 }));
      } catch (error) {
        const message = error instanceof Error ? error.message.split("\n")[0]! : String(error);
        done(
          new ApiError("invalid_definition", `not valid YAML: ${message}`, {
            errors: [{ code: "invalid_syntax", path: "", message }],
          }),
          undefined,
        );
      }
    },
  );
}

/** Refuses a definition that does not validate, with every problem found and where. */
function checkDefinition(definition: unknown): void {
  const result = validateDefinition(definition);
  if (!result.ok) throw definitionError(result.errors);
}

/** The 422 for a definition's problems; in a bulk, named as its `index`th run, pointers under it. */
function definitionError(errors: readonly DefinitionError[], index: number | null = null): ApiError {
  const first = errors[0]!;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
  const where = index === null ? "" : `workflows[${index}]: `;
  const under = index === null ? "" : `/workflows/${index}/definition`;
  return new ApiError("invalid_definition", `${where}${first.message}${more}`, {
    errors: errors.map((error) => ({ ...error, path: `${under}${error.path}` })),
  });
}

/**
 * The workflows.create command for one create request that has been checked; `defaults` fill in
 * what the request leaves out (POST /workflows takes them from its query).
 */
function createCommandOf(
  body: CreateRequest,
  defaults: { team?: string; execute?: boolean; idempotency_key?: string } = {},
): CreateBody {
  return {
    id: timeOrderedUuid(),
    team: body.team ?? defaults.team ?? null,
    definition: body.definition ?? null,
    ref:
      body.workflow === undefined
        ? null
        : { name: body.workflow.name, version: body.workflow.version ?? null },
    input: body.input ?? {},
    execute: body.execute ?? defaults.execute ?? false,
    idempotency_key: body.idempotency_key ?? defaults.idempotency_key ?? null,
    expands_task: body.expands_task ?? null,
  };
}

/** The create command of the `index`th run of a bulk, or the 400/422 naming it. */
function bulkRun(item: BulkCreateItem, index: number): CreateBody {
  if ((item.definition === undefined) === (item.workflow === undefined))
    throw new ApiError(
      "validation_failed",
      `workflows[${index}]: give a definition or the name of a registered workflow, not both or neither`,
    );
  if (item.definition !== undefined) {
    const result = validateDefinition(item.definition);
    if (!result.ok) throw definitionError(result.errors, index);
  }
  return createCommandOf(item);
}

/** A body that is itself a definition (it has steps) or a create request around one. */
function asRequest(body: unknown): CreateRequest {
  if (isRecord(body) && Array.isArray(body["steps"])) return { definition: body };
  if (!isRecord(body))
    throw new ApiError("validation_failed", "the body must be an object: a definition or a create request");
  return body;
}

export function workflowRoutes() {
  return (scope: FastifyInstance, node: NodeApi): void => {
    acceptYaml(scope);
    const app = scope.withTypeProvider<TypeBoxTypeProvider>();
    const state = (): WorkflowsState => node.view.state(workflowsState);
    const view = (record: RunRecord) => workflowView(record, state(), node.view.state(tasksState));
    const find = (id: string): RunRecord => {
      const record = isUuid(id) ? state().get(id) : undefined;
      if (record === undefined) throw new ApiError("workflow_not_found", `no workflow ${id}`);
      return record;
    };
    let watchers = 0;
    // An agent token may run the sub-workflow that expands a task of its own (the SDK's
    // context.expand), and follow it; nothing else about workflows.
    const expandedTask = (request: FastifyRequest): readonly string[] | null => {
      const id = (request.params as { id?: unknown }).id;
      const record = typeof id === "string" && isUuid(id) ? state().get(id) : undefined;
      return record?.expands_task == null ? null : [record.expands_task];
    };
    const ownExpansion = taskAgents(node, expandedTask, true);

    app.post(
      "/workflows",
      {
        bodyLimit: BODY_LIMIT,
        config: {
          agent: taskAgents(node, (request) => {
            const task = isRecord(request.body) ? request.body["expands_task"] : undefined;
            return typeof task === "string" ? [task] : null;
          }),
        },
        schema: {
          summary: "Create a workflow run (idempotent by idempotency_key)",
          description:
            "The body is a create request, or a definition itself (YAML with `content-type: application/yaml`, or JSON). 201 with the run, `created` or (with `execute: true` or `?execute=true`) running; 200 with the same run when its team sent the same `idempotency_key` before. A definition that does not validate answers 422 `invalid_definition` with every problem and its JSON pointer in `errors`.",
          tags,
          querystring: CreateQuery,
          body: Type.Unknown(),
          response: responses({ 200: WorkflowAnswer, 201: WorkflowAnswer }, [
            404,
            409,
            413,
            415,
            422,
            429,
            ...CONSENSUS_ERRORS,
          ]),
        },
      },
      async (request, reply) => {
        const body = asRequest(request.body);
        checkShape(body);
        if (body.definition !== undefined && body.workflow !== undefined)
          throw new ApiError("validation_failed", "give either definition or workflow, not both");
        if (body.definition === undefined && body.workflow === undefined)
          throw new ApiError("validation_failed", "give a definition, or the name of a registered workflow");
        if (body.definition !== undefined) checkDefinition(body.definition);
        const command = createCommandOf(body, request.query);
        checkCommand(node, createCommand.kind, command);
        const committed = await node.propose(createCommand, command);
        const record = find(committed.value.id);
        return reply.code(committed.value.created ? 201 : 200).send({ workflow: view(record) });
      },
    );

    app.post(
      "/workflows/bulk",
      {
        bodyLimit: WORKFLOW_LIMITS.createBatchBytes,
        schema: {
          summary: "Create many workflow runs in one request and one log entry",
          description: `1 to ${WORKFLOW_LIMITS.createBatch} create requests (JSON, at most ${WORKFLOW_LIMITS.createBatchBytes} bytes together), each as POST /workflows takes one. Each is answered on its own in \`results\`, in the order given: \`ok\` with the run and whether this request \`created\` it (false: its team sent the same \`idempotency_key\` before, or earlier in this bulk), or the error it met (definition_not_found, limit_exceeded). The runs started with \`execute: true\` submit their first tasks in the same entry. A body that does not validate (a definition with problems: 422 invalid_definition with every problem's pointer under /workflows/{i}) changes nothing.`,
          tags,
          body: BulkCreateBody,
          response: responses({ 200: BulkCreateAnswer }, [413, 422, ...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        const body = { workflows: request.body.workflows.map((item, index) => bulkRun(item, index)) };
        checkCommand(node, createManyCommand.kind, body);
        const committed = await node.propose(createManyCommand, body);
        return {
          results: committed.value.map((outcome) => {
            if (!outcome.ok) return { ok: false, error: { code: outcome.code, message: outcome.message } };
            const record = state().get(outcome.id);
            // A run ended and evicted meanwhile is answered without its view.
            const answered = { ok: true, created: outcome.created, id: outcome.id };
            return record === undefined ? answered : { ...answered, workflow: view(record) };
          }),
        };
      },
    );

    app.get(
      "/workflows",
      {
        schema: {
          summary: "List workflow runs",
          description: "Newest first; filters combine. Pass `next_cursor` back as `cursor`.",
          tags,
          querystring: ListQuery,
          response: responses(
            {
              200: Type.Object({
                workflows: Type.Array(WorkflowSummary),
                next_cursor: Type.Union([Type.String(), Type.Null()]),
              }),
            },
            [...CONSENSUS_ERRORS],
          ),
        },
      },
      async (request) => {
        const query = request.query;
        await readConsistently(node, query.consistency);
        const limit = query.limit ?? 100;
        const after = query.cursor === undefined ? Number.POSITIVE_INFINITY : Number(query.cursor);
        if (!Number.isInteger(after) && after !== Number.POSITIVE_INFINITY)
          throw new ApiError("validation_failed", "cursor is not one this API handed out");
        const matches = [...state().runs.values()]
          .filter(
            (record) =>
              record.seq < after &&
              (query.status === undefined || record.run.status === query.status) &&
              (query.team === undefined ||
                record.team === query.team ||
                record.run.definition.teams.includes(query.team)) &&
              (query.name === undefined || record.run.definition.name === query.name) &&
              (query.parent_id === undefined || record.run.parent?.workflow_id === query.parent_id),
          )
          .sort((a, b) => b.seq - a.seq);
        const page = matches.slice(0, limit);
        return {
          workflows: page.map(workflowSummary),
          next_cursor: matches.length > limit ? String(page.at(-1)!.seq) : null,
        };
      },
    );

    app.get(
      "/workflows/status",
      {
        schema: {
          summary: "Counts of workflow runs by status and team",
          tags,
          querystring: Type.Object({ consistency: Consistency }, { additionalProperties: false }),
          response: responses({ 200: StatusAnswer }, [...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        await readConsistently(node, request.query.consistency);
        const current = state();
        const counts = Object.fromEntries(
          WORKFLOW_STATUSES.map((status) => [status, current.count(status)]),
        ) as Record<WorkflowStatus, number>;
        const byTeam: Record<string, Record<string, number>> = {};
        for (const record of current.runs.values()) {
          const team = (byTeam[record.team] ??= Object.fromEntries(
            WORKFLOW_STATUSES.map((status) => [status, 0]),
          ));
          team[record.run.status] = (team[record.run.status] ?? 0) + 1;
        }
        let definitions = 0;
        for (const versions of current.definitions.values()) definitions += versions.size;
        return {
          counts,
          total: current.runs.size,
          live: current.liveCount,
          by_team: byTeam,
          definitions,
          timers: current.timers.size,
          approvals: current.approvals.size,
          steps_waiting_for_team_slots: Object.fromEntries(
            [...current.deferred].map(([team, waiting]) => [team, waiting.length]),
          ),
        };
      },
    );

    app.post(
      "/workflows/definitions",
      {
        bodyLimit: BODY_LIMIT,
        schema: {
          summary: "Register a workflow definition by name and version",
          description:
            "The body is the definition (JSON or YAML), or `{definition}`. Without a `version` it gets the next one. 201 when registered; 200 when the same name and version is registered with the same definition; 409 `version_exists` when with another.",
          tags,
          body: Type.Unknown(),
          response: responses(
            {
              200: Type.Object({ name: Type.String(), version: Type.Integer() }),
              201: Type.Object({ name: Type.String(), version: Type.Integer() }),
            },
            [409, 413, 415, 422, 429, ...CONSENSUS_ERRORS],
          ),
        },
      },
      async (request, reply) => {
        const raw = request.body;
        const definition =
          isRecord(raw) && raw["definition"] !== undefined && raw["steps"] === undefined
            ? raw["definition"]
            : raw;
        checkDefinition(definition);
        const body = { definition };
        checkCommand(node, defineCommand.kind, body);
        const committed = await node.propose(defineCommand, body);
        const { name, version, created } = committed.value;
        return reply.code(created ? 201 : 200).send({ name, version });
      },
    );

    app.get(
      "/workflows/definitions",
      {
        schema: {
          summary: "Registered workflow definitions, every version",
          tags,
          querystring: Type.Object(
            { name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })), consistency: Consistency },
            { additionalProperties: false },
          ),
          response: responses({ 200: Type.Object({ definitions: Type.Array(DefinitionSummary) }) }, [
            ...CONSENSUS_ERRORS,
          ]),
        },
      },
      async (request) => {
        await readConsistently(node, request.query.consistency);
        const out: Static<typeof DefinitionSummary>[] = [];
        for (const [name, versions] of [...state().definitions].sort(([a], [b]) => (a < b ? -1 : 1))) {
          if (request.query.name !== undefined && name !== request.query.name) continue;
          for (const [version, registered] of [...versions].sort(([a], [b]) => a - b)) {
            const definition = registered.definition;
            out.push({
              name,
              version,
              teams: [...definition.teams],
              steps: definition.steps.length,
              trigger: definition.trigger?.event ?? null,
              registered_at: isoTime(registered.registered_at),
            });
          }
        }
        return { definitions: out };
      },
    );

    app.get(
      "/workflows/definitions/:name",
      {
        schema: {
          summary: "One registered definition (the latest version unless `version` is given), normalised",
          tags,
          params: Type.Object(
            { name: Type.String({ minLength: 1, maxLength: 100 }) },
            { additionalProperties: false },
          ),
          querystring: Type.Object(
            { version: Type.Optional(Type.Integer({ minimum: 1 })), consistency: Consistency },
            { additionalProperties: false },
          ),
          response: responses(
            { 200: Type.Object({ definition: Type.Unknown(), registered_at: Type.String() }) },
            [404, ...CONSENSUS_ERRORS],
          ),
        },
      },
      async (request) => {
        await readConsistently(node, request.query.consistency);
        const registered = state().definition(request.params.name, request.query.version ?? null);
        if (registered === undefined)
          throw new ApiError(
            "definition_not_found",
            `no workflow definition ${request.params.name} is registered`,
          );
        return { definition: registered.definition, registered_at: isoTime(registered.registered_at) };
      },
    );

    app.post(
      "/workflows/events",
      {
        schema: {
          summary: "A named event for the registered definitions that start on it",
          description:
            "Starts one run of the latest version of every registered definition whose `trigger.event` is `name`, with `data` as input.",
          tags,
          body: TriggerRequest,
          response: responses(
            {
              200: Type.Object({
                started: Type.Array(
                  Type.Object({ id: Type.String(), name: Type.String(), version: Type.Integer() }),
                ),
              }),
            },
            [...CONSENSUS_ERRORS],
          ),
        },
      },
      async (request) => {
        const key = request.body.idempotency_key;
        const body = {
          id:
            key === undefined
              ? timeOrderedUuid()
              : derivedUuid("workflows.trigger", `${request.body.team ?? ""}\u0000${key}`),
          name: request.body.name,
          data: request.body.data ?? {},
          team: request.body.team ?? null,
        };
        checkCommand(node, triggerCommand.kind, body);
        const committed = await node.propose(triggerCommand, body);
        return { started: [...committed.value.started] };
      },
    );

    app.get(
      "/workflows/:id",
      {
        config: { agent: ownExpansion },
        schema: {
          summary: "One workflow run: status, steps with their tasks, agents, timings and outputs, progress",
          tags,
          params: IdParams,
          querystring: Type.Object({ consistency: Consistency }, { additionalProperties: false }),
          response: responses({ 200: WorkflowAnswer }, [404, ...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        await readConsistently(node, request.query.consistency);
        return { workflow: view(find(request.params.id)) };
      },
    );

    app.post(
      "/workflows/:id/execute",
      {
        schema: {
          summary: "Start a created workflow run",
          tags,
          params: IdParams,
          response: responses({ 200: WorkflowAnswer }, [404, 409, ...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        const id = find(request.params.id).run.id;
        await node.propose(executeCommand, { id });
        return { workflow: view(find(id)) };
      },
    );

    app.delete(
      "/workflows/:id",
      {
        schema: {
          summary: "Cancel a workflow run",
          description:
            "Running tasks are cancelled, pending steps skipped, sub-workflows cancelled; no compensation runs. 409 `workflow_ended` if it already ended.",
          tags,
          params: IdParams,
          querystring: Type.Object(
            { reason: Type.Optional(Type.String({ maxLength: 500 })) },
            { additionalProperties: false },
          ),
          response: responses({ 200: WorkflowAnswer }, [404, 409, ...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        const id = find(request.params.id).run.id;
        await node.propose(
          cancelWorkflowCommand,
          { id, reason: request.query.reason ?? "cancelled through the API" },
          { actor: actorOf(request) },
        );
        return { workflow: view(find(id)) };
      },
    );

    app.post(
      "/workflows/:id/events",
      {
        schema: {
          summary: "Send a named event to a workflow run",
          description:
            "Every event step waiting for `name` takes `data` as its output, now or when it is reached. The first event of a name counts; `applied: false` says why one changed nothing (a later duplicate, a name no step waits for).",
          tags,
          params: IdParams,
          body: EventRequest,
          response: responses(
            {
              202: Type.Object({
                applied: Type.Boolean(),
                ignored: Type.Union([
                  Type.Object({ code: Type.String(), message: Type.String() }),
                  Type.Null(),
                ]),
                workflow: WorkflowView,
              }),
            },
            [404, 409, ...CONSENSUS_ERRORS],
          ),
        },
      },
      async (request, reply) => {
        const id = find(request.params.id).run.id;
        const body = { id, name: request.body.name, data: request.body.data ?? null };
        checkCommand(node, eventCommand.kind, body);
        const committed = await node.propose(eventCommand, body);
        const { applied, ignored } = committed.value;
        return reply
          .code(202)
          .send({ applied, ignored: ignored === null ? null : { ...ignored }, workflow: view(find(id)) });
      },
    );

    app.get(
      "/workflows/:id/watch",
      {
        config: { agent: ownExpansion },
        schema: {
          summary: "Follow a workflow run as server-sent events",
          description:
            "`text/event-stream`: a `workflow` event with the whole run at once and after every change it sees (with `id:` its revision), then `end` once the run has ended. Reconnect to any node; it starts with the run as that node has it.",
          tags,
          params: IdParams,
          produces: ["text/event-stream"],
          response: responses(
            { 200: Type.String({ description: "a text/event-stream of `workflow` events, then `end`" }) },
            [404, 429],
          ),
        },
      },
      (request, reply) => watch(request, reply, request.params.id),
    );

    const watch = (request: FastifyRequest, reply: FastifyReply, id: string): void => {
      const first = find(id);
      if (watchers >= MAX_WATCHERS)
        throw new ApiError("too_many_requests", `this node already streams ${MAX_WATCHERS} watchers`);
      watchers++;
      const raw = startEventStream(reply);
      let sent = -1;
      let closed = false;
      const send = (): void => {
        if (closed) return;
        const record = state().get(first.run.id);
        if (record === undefined) return finish();
        if (record.revision === sent) return;
        sent = record.revision;
        raw.write(`event: workflow\nid: ${record.revision}\ndata: ${JSON.stringify(view(record))}\n\n`);
        if (WORKFLOW_TERMINAL.has(record.run.status)) finish();
      };
      const keepAlive = setInterval(() => {
        if (!closed) raw.write(": keep-alive\n\n");
      }, 15_000);
      keepAlive.unref();
      const unsubscribe = node.view.onChange(send);
      const finish = (): void => {
        if (closed) return;
        raw.write("event: end\ndata: {}\n\n");
        cleanup();
        raw.end();
      };
      const cleanup = (): void => {
        if (closed) return;
        closed = true;
        watchers--;
        clearInterval(keepAlive);
        unsubscribe();
      };
      request.raw.on("close", cleanup);
      send();
    };
  };
}

const createCheck = Compile(CreateRequest);

/** The body is a create request (a bare definition was wrapped already): the schema's first complaint, else nothing. */
function checkShape(body: CreateRequest): void {
  for (const error of createCheck.Errors(body)) {
    const where = error.instancePath === "" ? "the body" : error.instancePath.slice(1).replaceAll("/", ".");
    throw new ApiError("validation_failed", `${where} ${error.message}`);
  }
}
