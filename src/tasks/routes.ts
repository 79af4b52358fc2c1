/**
 * The tasks API: submit, read, list and count, cancel, poll (a long-poll any node holds),
 * complete and fail (fenced by attempt), and metrics. Writes go through any node.
 */

import { timeOrderedUuid } from "../util/ids.js";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import Type, { type Static } from "typebox";
import { agentsState } from "../agents/module.js";
import { breakerState } from "../faults/breaker.js";
import { DEFAULT_BACKOFF } from "../faults/retry.js";
import type { NodeApi } from "../runtime/domain-module.js";
import { actorOf, agentFrom } from "../server/authorization.js";
import { ApiError } from "../server/errors.js";
import { checkCommand, isUuid, readConsistently } from "../server/route-helpers.js";
import { CONSENSUS_ERRORS, Consistency, responses } from "../server/schemas.js";
import {
  cancelCommand,
  completeCommand,
  dispatchCommand,
  rebalanceCommand,
  reportCommand,
  failCommand,
  startCommand,
  submitCommand,
  submitManyCommand,
  type SubmitBody,
} from "./commands.js";
import { taskAgents, taskIdParam } from "./agent-scope.js";
import { cursorOf, cursorText, pageOf } from "./paging.js";
import { tasksState } from "./module.js";
import { planRebalance } from "./rebalance.js";
import type { TasksState } from "./state.js";
import { revokedOf } from "./revoked.js";
import { requirementClass, StrategySchema, TASK_LIMITS, TASK_STATUSES, type Task } from "./task.js";
import { delivery, TaskStatusSchema, TaskView, taskView } from "./views.js";

const tags = ["tasks"];

/** Longest a poll may wait. */
export const MAX_POLL_WAIT_MS = 30_000;
/** Polls one node holds at once; beyond it, polls answer 503 overloaded (the SDK polls another node). */
export const MAX_WAITING_POLLS = 10_000;

const Name = Type.String({ minLength: 1, maxLength: 100, pattern: "^[A-Za-z0-9][A-Za-z0-9._:/-]*$" });
// Strict at the edge (the command's schema stays as it was, so old log entries apply the same):
// a workflow_id lands in UUID columns of the PostgreSQL store.
const Uuid = Type.String({
  minLength: 36,
  maxLength: 36,
  pattern: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
});

const DistributeBody = Type.Object(
  {
    task_type: Type.String({ minLength: 1, maxLength: 50 }),
    priority: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 9, description: "0-9, higher first; default 5" }),
    ),
    data: Type.Optional(Type.Unknown()),
    team: Type.String({ minLength: 1, maxLength: 100, description: "the team asking" }),
    requirements: Type.Optional(
      Type.Object(
        {
          skills: Type.Optional(Type.Array(Name, { maxItems: 64, uniqueItems: true })),
          team: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: "the agent's team" })),
          labels: Type.Optional(Type.Record(Name, Type.String({ maxLength: 255 }), { maxProperties: 32 })),
        },
        { additionalProperties: false },
      ),
    ),
    affinity_key: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    strategy: Type.Optional(StrategySchema),
    idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    timeout_ms: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 7 * 86_400_000,
        description: "start to close, per attempt: a longer attempt ends and is retried",
      }),
    ),
    schedule_to_start_ms: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 7 * 86_400_000,
        description:
          "how long each attempt may wait to start, counted from when it was scheduled (submitted, queued again, or its backoff over); past it the task fails, not retried",
      }),
    ),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: TASK_LIMITS.maxAttempts })),
    backoff: Type.Optional(
      Type.Object(
        {
          initial_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000 })),
          multiplier: Type.Optional(Type.Number({ minimum: 1, maximum: 100 })),
          max_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000 })),
          jitter: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    workflow_id: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);
type DistributeBody = Static<typeof DistributeBody>;

const TaskAnswer = Type.Object({ task: TaskView });

const DistributeManyBody = Type.Object(
  { tasks: Type.Array(DistributeBody, { minItems: 1, maxItems: TASK_LIMITS.submitBatch }) },
  { additionalProperties: false },
);

const DistributeManyAnswer = Type.Object({
  results: Type.Array(
    Type.Object({
      ok: Type.Boolean(),
      created: Type.Optional(
        Type.Boolean({ description: "false: found by its idempotency_key, submitted before" }),
      ),
      task: Type.Optional(TaskView),
      error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
    }),
  ),
});
const IdParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);

const StatusQuery = Type.Object(
  {
    status: Type.Optional(TaskStatusSchema),
    team: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    agent_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    task_type: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
    workflow_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    consistency: Consistency,
  },
  { additionalProperties: false },
);

const RunningTask = Type.Object(
  { id: Uuid, attempt: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false },
);

const PollBody = Type.Object(
  {
    agent_id: Type.String({ minLength: 1, maxLength: 64 }),
    max_tasks: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: TASK_LIMITS.pollTasks,
        description: "default 1; 0 takes no task and waits only for news of the attempts in `running`",
      }),
    ),
    wait_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_POLL_WAIT_MS })),
    running: Type.Optional(
      Type.Array(RunningTask, {
        maxItems: 10_000,
        description: "attempts the agent is running: any no longer current comes back in `cancelled`",
      }),
    ),
  },
  { additionalProperties: false },
);

const Delivery = Type.Object({
  id: Type.String(),
  attempt: Type.Integer(),
  task_type: Type.String(),
  priority: Type.Integer(),
  team: Type.String(),
  data: Type.Unknown(),
  timeout_ms: Type.Union([Type.Integer(), Type.Null()]),
  max_attempts: Type.Integer(),
  workflow_id: Type.Union([Type.String(), Type.Null()]),
});

const PollAnswer = Type.Object({
  tasks: Type.Array(Delivery),
  cancelled: Type.Array(Type.Object({ id: Type.String(), attempt: Type.Integer(), reason: Type.String() })),
});

const CompleteRequest = Type.Object(
  {
    agent_id: Type.String({ minLength: 1, maxLength: 64 }),
    attempt: Type.Integer({ minimum: 1 }),
    result: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);

const FailRequest = Type.Object(
  {
    agent_id: Type.String({ minLength: 1, maxLength: 64 }),
    attempt: Type.Integer({ minimum: 1 }),
    error: Type.String({ maxLength: TASK_LIMITS.errorLength }),
    retryable: Type.Optional(Type.Boolean({ description: "default true" })),
  },
  { additionalProperties: false },
);

const ReportRequest = Type.Object(
  {
    agent_id: Type.String({ minLength: 1, maxLength: 64 }),
    completed: Type.Optional(
      Type.Array(
        Type.Object(
          {
            id: Type.String({ minLength: 36, maxLength: 36, pattern: "^[0-9a-fA-F-]{36}$" }),
            attempt: Type.Integer({ minimum: 1 }),
            result: Type.Optional(Type.Unknown()),
          },
          { additionalProperties: false },
        ),
        { maxItems: TASK_LIMITS.reportBatch },
      ),
    ),
    failed: Type.Optional(
      Type.Array(
        Type.Object(
          {
            id: Type.String({ minLength: 36, maxLength: 36, pattern: "^[0-9a-fA-F-]{36}$" }),
            attempt: Type.Integer({ minimum: 1 }),
            error: Type.String({ maxLength: TASK_LIMITS.errorLength }),
            retryable: Type.Optional(Type.Boolean({ description: "default true" })),
          },
          { additionalProperties: false },
        ),
        { maxItems: TASK_LIMITS.reportBatch },
      ),
    ),
    take: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: TASK_LIMITS.pollTasks,
        description:
          "default 0; also start up to this many of the agent's assigned tasks in the same entry (they come back in `tasks`, as a poll's would): a busy pull agent reports and takes its next work in one request",
      }),
    ),
  },
  { additionalProperties: false },
);

const ReportAnswer = Type.Object({
  tasks: Type.Array(Delivery, { description: "the tasks `take` started, each now running" }),
  results: Type.Array(
    Type.Object({
      id: Type.String(),
      attempt: Type.Integer(),
      ok: Type.Boolean(),
      status: Type.Optional(TaskStatusSchema),
      error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
    }),
  ),
});

const Counts = Type.Record(Type.String(), Type.Integer());

const RebalanceRequest = Type.Optional(
  Type.Object(
    {
      strategy: Type.Optional(StrategySchema),
      dry_run: Type.Optional(Type.Boolean()),
      move_running: Type.Optional(Type.Boolean({ description: "move running tasks too (default false)" })),
    },
    { additionalProperties: false },
  ),
);

const RebalanceAnswer = Type.Object({
  dry_run: Type.Boolean(),
  placed: Type.Integer({ description: "queued tasks placed by this call" }),
  queued: Type.Integer({ description: "tasks still queued" }),
  moves: Type.Array(
    Type.Object({
      task_id: Type.String(),
      attempt: Type.Integer({ description: "the attempt that was moved (the new one is the next)" }),
      from: Type.String(),
      to: Type.String(),
    }),
  ),
});

const MetricsAnswer = Type.Object({
  counts: Counts,
  queue: Type.Object({
    depth: Type.Integer(),
    by_priority: Counts,
    by_team: Counts,
    oldest_waiting_ms: Type.Union([Type.Number(), Type.Null()]),
    oldest_task_id: Type.Union([Type.String(), Type.Null()]),
  }),
  running_by_team: Counts,
  assignment_latency_ms: Type.Object({
    p50: Type.Union([Type.Number(), Type.Null()]),
    p99: Type.Union([Type.Number(), Type.Null()]),
    samples: Type.Integer({ description: "recent placements the percentiles are over (at most 4,096)" }),
  }),
  completed_last_minute: Type.Integer(),
  totals: Type.Object(
    {
      assigned: Type.Integer(),
      started: Type.Integer({ description: "attempts started: by a poll, a push, or a report's take" }),
      started_by_report: Type.Integer({ description: "of those, the ones a report's take started" }),
      completed: Type.Integer(),
      retried: Type.Integer(),
      dead_lettered: Type.Integer(),
    },
    { description: "since this node started or last restored a snapshot" },
  ),
  agents: Type.Array(
    Type.Object({
      id: Type.String(),
      active: Type.Integer(),
      capacity: Type.Union([Type.Integer(), Type.Null()]),
      breaker: Type.Union([Type.Literal("closed"), Type.Literal("open"), Type.Literal("half_open")]),
      consecutive_failures: Type.Integer(),
    }),
  ),
});

/** Registers the routes on `scope` (prefixed /api/v3). */
export function taskRoutes() {
  return (scope: FastifyInstance, node: NodeApi): void => {
    const app = scope.withTypeProvider<TypeBoxTypeProvider>();
    const state = (): TasksState => node.view.state(tasksState);
    let waitingPolls = 0;
    // Agent tokens report only in their own agent's name, on tasks it holds or held (src/tasks/
    // agent-scope.ts); a task it held before is fenced in apply like any stale report (409).
    const ownTask = agentFrom.all(agentFrom.body("agent_id"), taskAgents(node, taskIdParam("id"), true));
    const ownReports = agentFrom.all(agentFrom.body("agent_id"), taskAgents(node, reportedTasks, true));

    app.post(
      "/tasks/distribute",
      {
        schema: {
          summary: "Submit a task (idempotent by idempotency_key)",
          description:
            "201 with the task, queued or already assigned; 200 with the same task when its team submitted the same `idempotency_key` before. A task no agent can take waits queued, with the reason in `waiting_reason`.",
          tags,
          body: DistributeBody,
          response: responses({ 200: TaskAnswer, 201: TaskAnswer }, [413, 422, 429, ...CONSENSUS_ERRORS]),
        },
      },
      async (request, reply) => {
        const body = toSubmit(request.body);
        checkCommand(node, submitCommand.kind, body);
        const committed = await node.propose(submitCommand, body);
        const { task, created } = committed.value;
        return reply.code(created ? 201 : 200).send({ task: view(state(), task) });
      },
    );

    app.post(
      "/tasks/distribute/bulk",
      {
        schema: {
          summary: "Submit many tasks in one request and one log entry",
          description: `1 to ${TASK_LIMITS.submitBatch} tasks, each as /tasks/distribute takes it, their data at most ${TASK_LIMITS.submitBatchBytes} bytes of JSON together. Each is answered on its own in \`results\`, in the order given: \`ok\` with the task and whether this request \`created\` it (false: its team submitted the same \`idempotency_key\` before, or earlier in this bulk), or the error it met (queue_full, limit_exceeded). The batch is queued together and then placed highest priority first. A body that does not validate is a 400 (naming the task, as tasks[3], where it can) and changes nothing.`,
          tags,
          body: DistributeManyBody,
          response: responses({ 200: DistributeManyAnswer }, [413, 422, ...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        const body = { tasks: request.body.tasks.map(toSubmit) };
        checkCommand(node, submitManyCommand.kind, body);
        const committed = await node.propose(submitManyCommand, body);
        const current = state();
        return {
          results: committed.value.map((outcome) =>
            outcome.ok
              ? { ok: true, created: outcome.created, task: view(current, outcome.task) }
              : { ok: false, error: { code: outcome.code, message: outcome.message } },
          ),
        };
      },
    );

    app.get(
      "/tasks/status",
      {
        // An agent lists its own tasks (the SDK's worker does, after a lost poll answer).
        config: { agent: agentFrom.query("agent_id") },
        schema: {
          summary: "Counts by status, and a filtered page of tasks",
          description:
            "Filters combine. Pages are in submission order; pass `next_cursor` back as `cursor` (it keeps its place when the task it names finishes or is evicted meanwhile).",
          tags,
          querystring: StatusQuery,
          response: responses(
            {
              200: Type.Object({
                counts: Counts,
                total: Type.Integer(),
                tasks: Type.Array(TaskView),
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
        const current = state();
        const matches = (task: Task): boolean =>
          (query.status === undefined || task.status === query.status) &&
          (query.team === undefined || task.team === query.team) &&
          (query.agent_id === undefined || task.agentId === query.agent_id) &&
          (query.task_type === undefined || task.taskType === query.task_type) &&
          (query.workflow_id === undefined || task.workflowId === query.workflow_id);
        const limit = query.limit ?? 100;
        const cursor = query.cursor === undefined ? null : cursorOf(current, query.cursor);
        const page = pageOf(current, query.status, matches, cursor, limit + 1);
        const more = page.length > limit;
        const tasks = page.slice(0, limit);
        return {
          counts: Object.fromEntries(TASK_STATUSES.map((status) => [status, current.count(status)])),
          total: current.size,
          tasks: tasks.map((task) => view(current, task)),
          next_cursor: more ? cursorText(tasks.at(-1)!) : null,
        };
      },
    );

    app.get(
      "/tasks/metrics",
      {
        schema: {
          summary:
            "Queue depth, the oldest waiting task, running tasks by team, and each agent's load and breaker",
          tags,
          querystring: Type.Object({ consistency: Consistency }, { additionalProperties: false }),
          response: responses({ 200: MetricsAnswer }, [...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        await readConsistently(node, request.query.consistency);
        return metricsOf(node, state());
      },
    );

    app.get(
      "/tasks/:id",
      {
        config: { agent: taskAgents(node, taskIdParam("id"), true) },
        schema: {
          summary: "One task",
          tags,
          params: IdParams,
          querystring: Type.Object({ consistency: Consistency }, { additionalProperties: false }),
          response: responses({ 200: TaskAnswer }, [404, ...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        await readConsistently(node, request.query.consistency);
        const current = state();
        const task = current.get(request.params.id);
        if (task === undefined) throw new ApiError("task_not_found", `no task ${request.params.id}`);
        return { task: view(current, task) };
      },
    );

    app.delete(
      "/tasks/:id",
      {
        schema: {
          summary: "Cancel a task",
          description:
            "A running task's agent hears of it on its next poll or heartbeat (in `cancelled`), and its report of that attempt is refused (409).",
          tags,
          params: IdParams,
          response: responses({ 200: TaskAnswer }, [404, 409, ...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        const id = request.params.id;
        if (!isUuid(id)) throw new ApiError("task_not_found", `no task ${id}`);
        const committed = await node.propose(
          cancelCommand,
          { id, reason: "cancelled through the API" },
          { actor: actorOf(request) },
        );
        return { task: view(state(), committed.value) };
      },
    );

    app.post(
      "/tasks/poll",
      {
        config: { agent: agentFrom.body("agent_id") },
        schema: {
          summary: "Take the tasks assigned to an agent (a long-poll)",
          description:
            "Answers at once with the agent's assigned tasks (each now running, with its attempt number), or waits up to `wait_ms` for one. Any node holds the poll. Attempts in `running` that are no longer current come back in `cancelled`; running attempts of this agent missing from `running` (a lost answer, a restarted process) are delivered again under the same attempt.",
          tags,
          body: PollBody,
          response: responses({ 200: PollAnswer }, [404, 429, ...CONSENSUS_ERRORS]),
        },
      },
      async (request, reply) => {
        const body = request.body;
        const agentId = body.agent_id;
        if (!isUuid(agentId)) throw new ApiError("agent_not_found", `no agent ${agentId}`);
        if (node.view.state(agentsState).get(agentId) === undefined) {
          // A registration this node has not applied yet is not a missing agent.
          await node.readBarrier();
          if (node.view.state(agentsState).get(agentId) === undefined)
            throw new ApiError("agent_not_found", `no agent ${agentId}`);
        }
        const maxTasks = body.max_tasks ?? 1;
        let cancelled = revokedOf(state(), agentId, body.running ?? []);
        // Running attempts the agent does not list were lost on the way (an answer that never
        // arrived, a restarted process): they are delivered again, under the same attempt.
        const lost = body.running === undefined ? [] : lostBy(state(), agentId, body.running, maxTasks);
        if (lost.length > 0) return { tasks: lost.map(delivery), cancelled };
        let offered = state().assignedTo(agentId, maxTasks);
        if (offered.length === 0 && cancelled.length === 0 && maxTasks > 0) {
          // Nothing here yet: this node may be behind the commit that assigned one.
          await node.readBarrier();
          offered = state().assignedTo(agentId, maxTasks);
        }
        if (offered.length === 0 && cancelled.length === 0 && (body.wait_ms ?? 0) > 0) {
          if (waitingPolls >= MAX_WAITING_POLLS)
            throw new ApiError("overloaded", "this node holds too many polls; poll another node or later");
          waitingPolls++;
          try {
            const running = body.running ?? [];
            await waitFor(
              node,
              () =>
                (maxTasks > 0 && hasAssigned(state(), agentId)) ||
                revokedOf(state(), agentId, running).length > 0,
              body.wait_ms ?? 0,
              reply.raw,
            );
          } finally {
            waitingPolls--;
          }
          offered = state().assignedTo(agentId, maxTasks);
          cancelled = revokedOf(state(), agentId, body.running ?? []);
        }
        if (offered.length === 0) return { tasks: [], cancelled };
        const committed = await node.propose(startCommand, {
          agent_id: agentId,
          tasks: offered.map((task) => ({ id: task.id, attempt: task.attempt })),
        });
        const started = new Set(committed.value);
        return {
          tasks: offered.filter((task) => started.has(task.id)).map(delivery),
          cancelled,
        };
      },
    );

    app.post(
      "/tasks/rebalance",
      {
        schema: {
          summary: "Offer the queue to the agents again and even out load",
          description:
            "Places what queued tasks can be placed now, then moves tasks from the most loaded agents (by share of capacity in use) to eligible agents with more room: assigned tasks not yet taken, and with `move_running` running ones too (their agents hear on their next poll). Each move is a new attempt. `dry_run` reports the moves without making them. Load is measured by `strategy`: least_connections (the default) by share of capacity, round_robin by count, weighted_round_robin by share of weight; consistent_hash sends each task with an affinity key to the agent its key now hashes to and balances the rest as least_connections. Queued tasks are placed by their own strategies.",
          tags,
          body: RebalanceRequest,
          response: responses({ 200: RebalanceAnswer }, [...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        const body = request.body ?? {};
        const dryRun = body.dry_run ?? false;
        let placed = 0;
        if (!dryRun) placed = (await node.propose(dispatchCommand, {})).value;
        else await node.readBarrier();
        const plan = planRebalance(
          state(),
          node.view.state(agentsState),
          Date.now(),
          body.move_running ?? false,
          body.strategy ?? "least_connections",
        );
        let moves = plan;
        if (!dryRun && plan.length > 0) {
          const committed = await node.propose(rebalanceCommand, {
            moves: plan.map(({ id, attempt, from, to }) => ({ id, attempt, from, to })),
          });
          moves = committed.value;
        }
        return {
          dry_run: dryRun,
          placed,
          queued: state().queue.size,
          moves: moves.map((move) => ({
            task_id: move.id,
            attempt: move.attempt,
            from: move.from,
            to: move.to,
          })),
        };
      },
    );

    app.post(
      "/tasks/:id/complete",
      {
        config: { agent: ownTask },
        schema: {
          summary: "Report an attempt done",
          description:
            "Refused with 409 (stale_attempt), changing nothing, unless `attempt` is the task's current attempt and `agent_id` holds it.",
          tags,
          params: IdParams,
          body: CompleteRequest,
          response: responses({ 200: TaskAnswer }, [404, 409, 413, ...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        const id = request.params.id;
        if (!isUuid(id)) throw new ApiError("task_not_found", `no task ${id}`);
        const body = {
          id,
          agent_id: request.body.agent_id,
          attempt: request.body.attempt,
          result: request.body.result ?? null,
        };
        if (!isUuid(body.agent_id))
          throw new ApiError("stale_attempt", `agent ${body.agent_id} holds no attempt of task ${id}`);
        checkCommand(node, completeCommand.kind, body);
        const committed = await node.propose(completeCommand, body);
        return { task: view(state(), committed.value) };
      },
    );

    app.post(
      "/tasks/report",
      {
        config: { agent: ownReports },
        schema: {
          summary: "Report several attempts of one agent done or failed at once",
          description: `Up to ${TASK_LIMITS.reportBatch} completions and failures in one request and one log entry; each is fenced and answered on its own in \`results\` (in the order given, completed first), exactly as /tasks/{id}/complete and /fail would answer it: \`ok\` with the task's status, or the error (stale_attempt, task_not_found). A task named twice, or none at all, is a 400 and changes nothing. With \`take\`, the same entry then starts up to that many of the tasks assigned to the agent (the slots the reports freed go to queued work first), oldest first, and \`tasks\` delivers them as a poll would: a busy pull agent reports and takes its next work in one request. A push agent's take starts nothing.`,
          tags,
          body: ReportRequest,
          response: responses({ 200: ReportAnswer }, [...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        const { agent_id } = request.body;
        const completed = (request.body.completed ?? []).map(({ id, attempt, result }) => ({
          id,
          attempt,
          result: result ?? null,
        }));
        const failed = (request.body.failed ?? []).map(({ id, attempt, error, retryable }) => ({
          id,
          attempt,
          error,
          retryable: retryable ?? true,
        }));
        if (!isUuid(agent_id)) {
          const refusal = {
            code: "stale_attempt",
            message: `agent ${agent_id} holds no attempt of any task`,
          };
          return {
            tasks: [],
            results: [...completed, ...failed].map(({ id, attempt }) => ({
              id,
              attempt,
              ok: false,
              error: refusal,
            })),
          };
        }
        const take = request.body.take ?? 0;
        const body = take === 0 ? { agent_id, completed, failed } : { agent_id, completed, failed, take };
        checkCommand(node, reportCommand.kind, body);
        const committed = await node.propose(reportCommand, body);
        return {
          tasks: committed.value.started.map(delivery),
          results: committed.value.results.map((outcome) =>
            outcome.ok
              ? { id: outcome.id, attempt: outcome.attempt, ok: true, status: outcome.task.status }
              : {
                  id: outcome.id,
                  attempt: outcome.attempt,
                  ok: false,
                  error: { code: outcome.code, message: outcome.message },
                },
          ),
        };
      },
    );

    app.post(
      "/tasks/:id/fail",
      {
        config: { agent: ownTask },
        schema: {
          summary: "Report an attempt failed",
          description:
            "A retryable failure queues the next attempt after its backoff while attempts remain, then dead-letters the task; a failure that is not retryable fails it. 409 (stale_attempt) for an attempt that is not current.",
          tags,
          params: IdParams,
          body: FailRequest,
          response: responses({ 200: TaskAnswer }, [404, 409, ...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        const id = request.params.id;
        if (!isUuid(id)) throw new ApiError("task_not_found", `no task ${id}`);
        const { agent_id, attempt, error, retryable } = request.body;
        if (!isUuid(agent_id))
          throw new ApiError("stale_attempt", `agent ${agent_id} holds no attempt of task ${id}`);
        const committed = await node.propose(failCommand, {
          id,
          agent_id,
          attempt,
          error,
          retryable: retryable ?? true,
        });
        return { task: view(state(), committed.value) };
      },
    );
  };
}

/** The tasks a report names, completed and failed. */
function reportedTasks(request: FastifyRequest): readonly string[] {
  const body = request.body as Static<typeof ReportRequest>;
  return [...(body.completed ?? []), ...(body.failed ?? [])].map((report) => report.id);
}

function view(state: TasksState, task: Task) {
  return taskView(
    task,
    task.status === "queued" ? (state.waiting.get(requirementClass(task.requirements)) ?? null) : null,
  );
}

function toSubmit(body: DistributeBody): SubmitBody {
  const requirements = body.requirements ?? {};
  return {
    id: timeOrderedUuid(),
    task_type: body.task_type,
    priority: body.priority ?? 5,
    data: body.data ?? null,
    team: body.team,
    requirements: {
      skills: requirements.skills ?? [],
      team: requirements.team ?? null,
      labels: Object.entries(requirements.labels ?? {}),
    },
    affinity_key: body.affinity_key ?? null,
    strategy: body.strategy ?? (body.affinity_key === undefined ? "least_connections" : "consistent_hash"),
    idempotency_key: body.idempotency_key ?? null,
    timeout_ms: body.timeout_ms ?? null,
    schedule_to_start_ms: body.schedule_to_start_ms ?? null,
    max_attempts: body.max_attempts ?? null,
    backoff: {
      initial_ms: body.backoff?.initial_ms ?? DEFAULT_BACKOFF.initialMs,
      multiplier: body.backoff?.multiplier ?? DEFAULT_BACKOFF.multiplier,
      max_ms: body.backoff?.max_ms ?? DEFAULT_BACKOFF.maxMs,
      jitter: body.backoff?.jitter ?? DEFAULT_BACKOFF.jitter,
    },
    workflow_id: body.workflow_id ?? null,
  };
}

/** Attempts `agentId` holds as running that it does not say it runs. */
function lostBy(
  state: TasksState,
  agentId: string,
  running: readonly { id: string; attempt: number }[],
  max: number,
): Task[] {
  const listed = new Set(running.map(({ id, attempt }) => `${id}#${attempt}`));
  const lost: Task[] = [];
  for (const id of state.heldBy(agentId)) {
    const task = state.get(id);
    if (task?.status === "running" && !listed.has(`${id}#${task.attempt}`)) lost.push(task);
  }
  return lost.sort((a, b) => a.seq - b.seq).slice(0, max);
}

function hasAssigned(state: TasksState, agentId: string): boolean {
  for (const id of state.heldBy(agentId)) if (state.get(id)?.status === "assigned") return true;
  return false;
}

/** Resolves when `ready()` holds after a change, after `waitMs`, or when the client goes away (the response closes). */
function waitFor(
  node: NodeApi,
  ready: () => boolean,
  waitMs: number,
  raw: NodeJS.EventEmitter,
): Promise<void> {
  return new Promise((resolve) => {
    if (ready()) return resolve();
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      unsubscribe();
      raw.off("close", finish);
      resolve();
    };
    const timer = setTimeout(finish, waitMs);
    const unsubscribe = node.view.onChange(() => {
      if (ready()) finish();
    });
    raw.once("close", finish);
  });
}

function metricsOf(node: NodeApi, state: TasksState): Static<typeof MetricsAnswer> {
  const now = Date.now();
  const oldest = state.queue.oldest();
  const agents = node.view.state(agentsState);
  const settings = state.breakerSettings;
  const ids = new Set<string>([...state.holders(), ...state.breakers.keys()]);
  return {
    counts: Object.fromEntries(TASK_STATUSES.map((status) => [status, state.count(status)])),
    queue: {
      depth: state.queue.size,
      by_priority: Object.fromEntries(
        state.queue.depthByPriority().map((depth, priority) => [String(priority), depth]),
      ),
      by_team: Object.fromEntries(state.queue.depthByTeam()),
      oldest_waiting_ms: oldest === null ? null : Math.max(0, now - oldest.enqueuedAtMs),
      oldest_task_id: oldest?.id ?? null,
    },
    running_by_team: Object.fromEntries(state.runningByTeam()),
    assignment_latency_ms: {
      p50: state.stats.latencyPercentileMs(0.5),
      p99: state.stats.latencyPercentileMs(0.99),
      samples: Math.min(state.stats.assigned, 4_096),
    },
    completed_last_minute: state.stats.completedLastMinute(now),
    totals: {
      assigned: state.stats.assigned,
      started: state.stats.started,
      started_by_report: state.stats.startedByReport,
      completed: state.stats.completed,
      retried: state.stats.retried,
      dead_lettered: state.stats.deadLettered,
    },
    agents: [...ids].sort().map((id) => {
      const breaker = state.breaker(id);
      return {
        id,
        active: state.active(id),
        capacity: agents.get(id)?.capacity ?? null,
        breaker: breakerState(breaker, settings, now),
        consecutive_failures: breaker.consecutiveFailures,
      };
    }),
  };
}
