/**
 * The tasks module's commands. Bodies are internal shapes (routes turn the API's bodies into them
 * at the edge), every one bounded; apply is pure: ids come from the proposer, time from the
 * leader's stamp, agents from the committed registry (read, never written).
 *
 *   tasks.submit     accept a task (idempotent by key) and place what can be placed
 *   tasks.submit_many  many submissions at once, each accepted or refused on its own
 *   tasks.dispatch   place queued tasks (the leader asks when agents or time changed things)
 *   tasks.start      an agent took delivery of its assigned tasks
 *   tasks.complete   an attempt succeeded (refused unless it is the current attempt)
 *   tasks.fail       an attempt failed: retry with backoff, fail, or dead-letter
 *   tasks.report     several completions and failures of one agent at once
 *   tasks.cancel     stop a task; its agent hears on its next poll or beat
 *   tasks.expire     attempts the leader saw time out (start-to-close, pickup, schedule-to-start, lease) or a push agent refuse
 *   tasks.release    an agent failed or left: its tasks go back to the queue
 *   tasks.configure  the settings apply depends on
 */

import Type, { type Static } from "typebox";
import { agentsState } from "../agents/module.js";
import type { AgentsState } from "../agents/state.js";
import {
  accept,
  refuse,
  type ApplyContext,
  type Applied,
  type CommandSpec,
  type RowChange,
} from "../control/index.js";
import { onFailure, onProbeGone, onSuccess } from "../faults/breaker.js";
import { backoffDelayMs } from "../faults/retry.js";
import { dispatch } from "./dispatch.js";
import { canTake, MAX_MOVES, type Move } from "./rebalance.js";
import { canonical, TaskSettingsSchema } from "./settings.js";
import type { TasksState } from "./state.js";
import {
  HOLDING,
  PREVIOUS_AGENTS,
  StrategySchema,
  TASK_LIMITS,
  TERMINAL,
  type Task,
  type TaskError,
} from "./task.js";
import { taskTableRow } from "./views.js";

const Uuid = Type.String({ minLength: 36, maxLength: 36, pattern: "^[0-9a-f-]{36}$" });
const Name = Type.String({ minLength: 1, maxLength: 100, pattern: "^[A-Za-z0-9][A-Za-z0-9._:/-]*$" });

export const SubmitBody = Type.Object(
  {
    id: Uuid,
    task_type: Type.String({ minLength: 1, maxLength: 50 }),
    priority: Type.Integer({ minimum: 0, maximum: 9 }),
    data: Type.Unknown(),
    team: Type.String({ minLength: 1, maxLength: 100 }),
    requirements: Type.Object(
      {
        skills: Type.Array(Name, { maxItems: 64, uniqueItems: true }),
        team: Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Null()]),
        labels: Type.Array(Type.Tuple([Name, Type.String({ maxLength: 255 })]), { maxItems: 32 }),
      },
      { additionalProperties: false },
    ),
    affinity_key: Type.Union([Type.String({ minLength: 1, maxLength: 255 }), Type.Null()]),
    strategy: StrategySchema,
    idempotency_key: Type.Union([Type.String({ minLength: 1, maxLength: 255 }), Type.Null()]),
    timeout_ms: Type.Union([Type.Integer({ minimum: 1, maximum: 7 * 86_400_000 }), Type.Null()]),
    schedule_to_start_ms: Type.Union([Type.Integer({ minimum: 1, maximum: 7 * 86_400_000 }), Type.Null()]),
    max_attempts: Type.Union([Type.Integer({ minimum: 1, maximum: TASK_LIMITS.maxAttempts }), Type.Null()]),
    backoff: Type.Object(
      {
        initial_ms: Type.Integer({ minimum: 0, maximum: 86_400_000 }),
        multiplier: Type.Number({ minimum: 1, maximum: 100 }),
        max_ms: Type.Integer({ minimum: 0, maximum: 86_400_000 }),
        jitter: Type.Number({ minimum: 0, maximum: 1 }),
      },
      { additionalProperties: false },
    ),
    workflow_id: Type.Union([Uuid, Type.Null()]),
  },
  { additionalProperties: false },
);
export type SubmitBody = Static<typeof SubmitBody>;

const Attempt = Type.Integer({ minimum: 1, maximum: 1_000_000 });

export const StartBody = Type.Object(
  {
    agent_id: Uuid,
    tasks: Type.Array(Type.Object({ id: Uuid, attempt: Attempt }, { additionalProperties: false }), {
      minItems: 1,
      maxItems: TASK_LIMITS.batch,
    }),
  },
  { additionalProperties: false },
);

export const CompleteBody = Type.Object(
  { id: Uuid, agent_id: Uuid, attempt: Attempt, result: Type.Unknown() },
  { additionalProperties: false },
);

export const FailBody = Type.Object(
  {
    id: Uuid,
    agent_id: Uuid,
    attempt: Attempt,
    error: Type.String({ maxLength: TASK_LIMITS.errorLength }),
    retryable: Type.Boolean(),
  },
  { additionalProperties: false },
);

const ReportItem = Type.Object(
  { id: Uuid, attempt: Attempt, result: Type.Unknown() },
  { additionalProperties: false },
);
const FailItem = Type.Object(
  {
    id: Uuid,
    attempt: Attempt,
    error: Type.String({ maxLength: TASK_LIMITS.errorLength }),
    retryable: Type.Boolean(),
  },
  { additionalProperties: false },
);

export const ReportBody = Type.Object(
  {
    agent_id: Uuid,
    completed: Type.Array(ReportItem, { maxItems: TASK_LIMITS.reportBatch }),
    failed: Type.Array(FailItem, { maxItems: TASK_LIMITS.reportBatch }),
    /** Also start up to this many of the agent's assigned tasks (a pull agent's next work) in the same entry. */
    take: Type.Optional(Type.Integer({ minimum: 0, maximum: TASK_LIMITS.pollTasks })),
  },
  { additionalProperties: false },
);

export const CancelBody = Type.Object(
  { id: Uuid, reason: Type.String({ maxLength: 500 }) },
  { additionalProperties: false },
);

export const ExpireBody = Type.Object(
  {
    expirations: Type.Array(
      Type.Object(
        {
          id: Uuid,
          attempt: Type.Integer({ minimum: 0 }),
          cause: Type.Union([
            Type.Literal("timeout"),
            Type.Literal("pickup"),
            Type.Literal("schedule_to_start"),
            Type.Literal("lease"),
            Type.Literal("delivery"),
          ]),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: TASK_LIMITS.batch },
    ),
  },
  { additionalProperties: false },
);

export const ReleaseBody = Type.Object(
  { agent_id: Uuid, reason: Type.String({ maxLength: 500 }) },
  { additionalProperties: false },
);

export const DispatchBody = Type.Object({}, { additionalProperties: false });

export const RebalanceBody = Type.Object(
  {
    moves: Type.Array(
      Type.Object(
        { id: Uuid, attempt: Type.Integer({ minimum: 1 }), from: Uuid, to: Uuid },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_MOVES },
    ),
  },
  { additionalProperties: false },
);

/** What submit answers: the task as it is after the entry, and whether this entry created it. */
export interface Submitted {
  readonly task: Task;
  readonly created: boolean;
}

function agentsOf(context: ApplyContext): AgentsState | null {
  return context.read?.(agentsState) ?? null;
}

/** The changes to the projected table for tasks that changed in this entry. */
function rowsOf(state: TasksState, ids: Iterable<string>): RowChange[] {
  const changes: RowChange[] = [];
  for (const id of state.drainEvicted())
    changes.push({ table: "distributed_tasks", op: "delete", key: { id } });
  for (const id of ids) {
    const task = state.get(id);
    if (task !== undefined)
      changes.push({ table: "distributed_tasks", op: "upsert", row: taskTableRow(task) });
    else changes.push({ table: "distributed_tasks", op: "delete", key: { id } });
  }
  return changes;
}

/** Runs dispatch and returns the ids it changed alongside `touched`. */
function dispatchAfter(state: TasksState, context: ApplyContext, touched: string[]): string[] {
  for (const task of dispatch(state, agentsOf(context), context.timestamp)) touched.push(task.id);
  return touched;
}

function dataBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value ?? null), "utf8");
}

export const submitCommand: CommandSpec<TasksState, typeof SubmitBody, Submitted> = {
  kind: "tasks.submit",
  schema: SubmitBody,
  check: (body) => {
    if (dataBytes(body.data) > TASK_LIMITS.dataBytes)
      return `data is over ${TASK_LIMITS.dataBytes} bytes of JSON`;
    if (body.strategy === "consistent_hash" && body.affinity_key === null)
      return "strategy consistent_hash needs an affinity_key";
    return null;
  },
  apply(state, body, context): Applied<Submitted> {
    const outcome = submitOne(state, body, context.timestamp);
    if ("code" in outcome) return refuse(outcome.code, outcome.message);
    if (!outcome.created) return accept(outcome);
    const touched = dispatchAfter(state, context, [outcome.task.id]);
    return accept({ task: state.get(outcome.task.id)!, created: true }, rowsOf(state, touched));
  },
  entryType: () => "task_submitted",
  logView: (body) => ({
    data: { id: body.id, task_type: body.task_type, team: body.team, priority: body.priority },
  }),
};

/** Why one submission was refused (the same codes a single submit is refused with). */
interface SubmitRefusal {
  readonly code: "conflict" | "limit_exceeded" | "queue_full";
  readonly message: string;
}

/** Accepts one submission into the queue (no placement): the task, or the task its key names. */
function submitOne(state: TasksState, body: SubmitBody, nowMs: number): Submitted | SubmitRefusal {
  if (body.idempotency_key !== null) {
    const known = state.byKey(body.team, body.idempotency_key);
    if (known !== undefined) return { task: known, created: false };
  }
  if (state.get(body.id) !== undefined) return { code: "conflict", message: `task id ${body.id} is taken` };
  if (state.liveCount >= TASK_LIMITS.liveTasks)
    return {
      code: "limit_exceeded",
      message: `the cluster holds ${TASK_LIMITS.liveTasks} unfinished tasks, its limit`,
    };
  if (state.queue.sizeOf(body.team) >= state.settings.teamQueueLimit)
    return {
      code: "queue_full",
      message: `team ${body.team} has ${state.settings.teamQueueLimit} tasks queued, its limit`,
    };
  const task = newTask(state, body, nowMs);
  state.put(task);
  return { task, created: true };
}

export const SubmitManyBody = Type.Object(
  { tasks: Type.Array(SubmitBody, { minItems: 1, maxItems: TASK_LIMITS.submitBatch }) },
  { additionalProperties: false },
);
export type SubmitManyBody = Static<typeof SubmitManyBody>;

/** One submission of a tasks.submit_many, in the order given. */
export type SubmitManyOutcome =
  | { readonly ok: true; readonly task: Task; readonly created: boolean }
  | ({ readonly ok: false } & SubmitRefusal);

/**
 * Many submissions in one entry. Each is taken or refused on its own, exactly as tasks.submit
 * would take it (found by its key, queue_full, limit_exceeded), in the order given, so a key
 * named twice finds the task its first use made; then the whole batch is placed at once, highest
 * priority first, so a bulk never places its low-priority tasks ahead of its urgent ones. A team's
 * queue limit counts the batch's own tasks queued before that placement.
 */
export const submitManyCommand: CommandSpec<TasksState, typeof SubmitManyBody, SubmitManyOutcome[]> = {
  kind: "tasks.submit_many",
  schema: SubmitManyBody,
  check: (body) => {
    let bytes = 0;
    for (const [index, task] of body.tasks.entries()) {
      const problem = submitCommand.check?.(task) ?? null;
      if (problem !== null) return `tasks[${index}]: ${problem}`;
      bytes += dataBytes(task.data);
    }
    if (bytes > TASK_LIMITS.submitBatchBytes)
      return `the tasks' data are over ${TASK_LIMITS.submitBatchBytes} bytes of JSON together`;
    return new Set(body.tasks.map((task) => task.id)).size === body.tasks.length
      ? null
      : "a bulk names each task id once";
  },
  apply(state, body, context) {
    const outcomes: SubmitManyOutcome[] = [];
    const touched: string[] = [];
    for (const item of body.tasks) {
      const outcome = submitOne(state, item, context.timestamp);
      if ("code" in outcome) outcomes.push({ ok: false, code: outcome.code, message: outcome.message });
      else {
        if (outcome.created) touched.push(outcome.task.id);
        outcomes.push({ ok: true, ...outcome });
      }
    }
    if (touched.length === 0) return accept(outcomes);
    const changed = dispatchAfter(state, context, touched);
    // The tasks as the placement left them (found ones too: one may have been placed meanwhile).
    const final = outcomes.map((outcome) =>
      outcome.ok ? { ...outcome, task: state.get(outcome.task.id) ?? outcome.task } : outcome,
    );
    return accept(final, rowsOf(state, changed));
  },
  entryType: () => "tasks_submitted",
  logView: (body) => ({
    data: {
      tasks: body.tasks.length,
      teams: [...new Set(body.tasks.map((task) => task.team))].slice(0, 16),
    },
  }),
};

function newTask(state: TasksState, body: SubmitBody, nowMs: number): Task {
  const sortedLabels = [...body.requirements.labels].sort(
    (a, b) => compare(a[0], b[0]) || compare(a[1], b[1]),
  );
  return {
    id: body.id,
    taskType: body.task_type,
    priority: body.priority,
    data: (body.data ?? null) as Task["data"],
    team: body.team,
    requirements: {
      skills: [...body.requirements.skills].sort(compare),
      team: body.requirements.team,
      labels: sortedLabels,
    },
    affinityKey: body.affinity_key,
    strategy: body.strategy,
    idempotencyKey: body.idempotency_key,
    timeoutMs: body.timeout_ms,
    scheduleToStartMs: body.schedule_to_start_ms,
    maxAttempts: body.max_attempts ?? state.settings.defaultMaxAttempts,
    backoff: {
      initialMs: body.backoff.initial_ms,
      multiplier: body.backoff.multiplier,
      maxMs: body.backoff.max_ms,
      jitter: body.backoff.jitter,
    },
    workflowId: body.workflow_id,
    status: "queued",
    attempt: 0,
    agentId: null,
    seq: ++state.seq,
    createdAtMs: nowMs,
    enqueuedAtMs: nowMs,
    notBeforeMs: 0,
    assignedAtMs: null,
    startedAtMs: null,
    completedAtMs: null,
    result: null,
    error: null,
    previousAgents: [],
    startedAttempts: 0,
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export const dispatchCommand: CommandSpec<TasksState, typeof DispatchBody, number> = {
  kind: "tasks.dispatch",
  schema: DispatchBody,
  apply(state, _body, context) {
    const touched = dispatchAfter(state, context, []);
    return accept(touched.length, rowsOf(state, touched));
  },
  entryType: () => "tasks_dispatched",
  logView: () => ({ data: {} }),
};

/**
 * A deliberately broken tasks.dispatch for the simulator's broken variant
 * (bugs.placeOnFailedAgents): before placing as usual, it hands the first queued task to an agent
 * the committed registry calls failed, past placement and its assertion. Its checker must catch it.
 */
export const dispatchOntoFailedAgents: CommandSpec<TasksState, typeof DispatchBody, number> = {
  ...dispatchCommand,
  apply(state, body, context) {
    const failed = [...(agentsOf(context)?.all() ?? [])].find((agent) => agent.status === "failed");
    const queued = [...state.liveTasks()].find((task) => task.status === "queued");
    if (failed === undefined || queued === undefined) return dispatchCommand.apply(state, body, context);
    state.put({
      ...queued,
      status: "assigned",
      attempt: queued.attempt + 1,
      agentId: failed.id,
      assignedAtMs: context.timestamp,
      startedAtMs: null,
    });
    const touched = dispatchAfter(state, context, [queued.id]);
    return accept(touched.length, rowsOf(state, touched));
  },
};

export const startCommand: CommandSpec<TasksState, typeof StartBody, string[]> = {
  kind: "tasks.start",
  schema: StartBody,
  apply(state, body, context) {
    const started: string[] = [];
    for (const { id, attempt } of body.tasks) {
      const task = state.get(id);
      if (task === undefined || task.status !== "assigned" || task.agentId !== body.agent_id) continue;
      if (task.attempt !== attempt) continue;
      startAttempt(state, task, context.timestamp);
      started.push(id);
    }
    return accept(started, rowsOf(state, started));
  },
  entryType: () => "tasks_started",
  logView: (body) => ({ data: { agent_id: body.agent_id, tasks: body.tasks.length } }),
};

/** An assigned task's attempt starts running on its agent at `nowMs`; the task as it is now. */
function startAttempt(state: TasksState, task: Task, nowMs: number): Task {
  const running: Task = {
    ...task,
    status: "running",
    startedAtMs: nowMs,
    startedAttempts: task.startedAttempts + 1,
  };
  state.put(running);
  return state.get(task.id)!;
}

/** Why an attempt-fenced report is refused, or null when `task` is current for it. */
function staleness(
  task: Task | undefined,
  id: string,
  agentId: string,
  attempt: number,
): Applied<never> | null {
  if (task === undefined) return refuse("task_not_found", `no task ${id}`);
  if (!HOLDING.has(task.status) || task.agentId !== agentId || task.attempt !== attempt) {
    const now =
      TERMINAL.has(task.status) || task.agentId === null
        ? `it is ${task.status}`
        : `attempt ${task.attempt} is held by agent ${task.agentId}`;
    return refuse(
      "stale_attempt",
      `attempt ${attempt} of task ${id} by agent ${agentId} is not current: ${now}`,
    );
  }
  return null;
}

/** An attempt-fenced report applied in place: refused (nothing changed), or the task now. */
type Reported = { readonly refused: Applied<never> } | { readonly task: Task; readonly changed: boolean };

function completeOne(state: TasksState, body: Static<typeof CompleteBody>, timestamp: number): Reported {
  const task = state.get(body.id);
  // The same report again (its answer was lost) is answered like the first, changing nothing.
  if (
    task?.status === "succeeded" &&
    task.attempt === body.attempt &&
    task.previousAgents.at(-1) === body.agent_id
  )
    return { task, changed: false };
  const stale = staleness(task, body.id, body.agent_id, body.attempt);
  if (stale !== null) return { refused: stale };
  state.put({
    ...task!,
    status: "succeeded",
    agentId: null,
    completedAtMs: timestamp,
    startedAtMs: task!.startedAtMs ?? timestamp,
    result: (body.result ?? null) as Task["result"],
    error: null,
    previousAgents: remember(task!),
  });
  state.setBreaker(body.agent_id, onSuccess(state.breaker(body.agent_id)));
  return { task: state.get(body.id)!, changed: true };
}

function failOne(state: TasksState, body: Static<typeof FailBody>, timestamp: number): Reported {
  const task = state.get(body.id);
  // The same failure again (its answer was lost), while nothing has happened to the task since,
  // is answered like the first, changing nothing.
  if (
    task !== undefined &&
    task.agentId === null &&
    task.attempt === body.attempt &&
    task.previousAgents.at(-1) === body.agent_id &&
    task.error?.cause === "agent" &&
    task.error.message === body.error
  )
    return { task, changed: false };
  const stale = staleness(task, body.id, body.agent_id, body.attempt);
  if (stale !== null) return { refused: stale };
  const error: TaskError = { message: body.error, retryable: body.retryable, cause: "agent" };
  // An agent that reports a failure ran the attempt, whether or not it said it started.
  const ran = task!.status === "assigned" ? { ...task!, startedAttempts: task!.startedAttempts + 1 } : task!;
  endAttempt(state, ran, error, timestamp, true);
  return { task: state.get(body.id)!, changed: true };
}

/** Answers one report as its own command: refused, or the task after dispatch used the slot. */
function answerOne(state: TasksState, context: ApplyContext, id: string, reported: Reported): Applied<Task> {
  if ("refused" in reported) return reported.refused;
  if (!reported.changed) return accept(reported.task);
  const touched = dispatchAfter(state, context, [id]);
  return accept(state.get(id)!, rowsOf(state, touched));
}

export const completeCommand: CommandSpec<TasksState, typeof CompleteBody, Task> = {
  kind: "tasks.complete",
  schema: CompleteBody,
  check: (body) =>
    dataBytes(body.result) > TASK_LIMITS.dataBytes
      ? `result is over ${TASK_LIMITS.dataBytes} bytes of JSON`
      : null,
  apply: (state, body, context) =>
    answerOne(state, context, body.id, completeOne(state, body, context.timestamp)),
  entryType: () => "task_completed",
  logView: (body) => ({ data: { id: body.id, agent_id: body.agent_id, attempt: body.attempt } }),
};

/**
 * A deliberately broken tasks.complete for the simulator's broken variant (bugs.acceptStaleAttempts):
 * it completes whatever attempt reports, current or not. Its checkers must catch it.
 */
export const completeIgnoringAttempts: CommandSpec<TasksState, typeof CompleteBody, Task> = {
  ...completeCommand,
  apply(state, body, context) {
    const task = state.get(body.id);
    if (task === undefined) return refuse("task_not_found", `no task ${body.id}`);
    if (TERMINAL.has(task.status)) return accept(task);
    if (task.status === "queued") return completeCommand.apply(state, body, context);
    return completeCommand.apply(state, { ...body, agent_id: task.agentId!, attempt: task.attempt }, context);
  },
};

export const failCommand: CommandSpec<TasksState, typeof FailBody, Task> = {
  kind: "tasks.fail",
  schema: FailBody,
  apply: (state, body, context) =>
    answerOne(state, context, body.id, failOne(state, body, context.timestamp)),
  entryType: () => "task_failed",
  logView: (body) => ({
    data: { id: body.id, agent_id: body.agent_id, attempt: body.attempt, retryable: body.retryable },
  }),
};

/** One report's outcome in a tasks.report entry. */
export type ReportOutcome =
  | { readonly id: string; readonly attempt: number; readonly ok: true; readonly task: Task }
  | {
      readonly id: string;
      readonly attempt: number;
      readonly ok: false;
      readonly code: string;
      readonly message: string;
    };

/** What a tasks.report entry came to: each report's outcome, in order, and the tasks its `take` started. */
export interface ReportApplied {
  readonly results: readonly ReportOutcome[];
  readonly started: readonly Task[];
}

/**
 * Starts up to `take` of the tasks assigned to `agentId`, oldest first, as tasks.start does; none
 * for a push agent (the leader pushes its tasks) or one this node does not know.
 */
function takeAssigned(state: TasksState, context: ApplyContext, agentId: string, take: number): Task[] {
  if (take === 0 || state.active(agentId) === 0) return [];
  const agent = agentsOf(context)?.get(agentId);
  if (agent === undefined || agent.delivery.mode !== "pull") return [];
  const started = state.assignedTo(agentId, take).map((task) => startAttempt(state, task, context.timestamp));
  state.stats.startedByReport += started.length;
  return started;
}

/**
 * tasks.report: many completions and failures of one agent's attempts in one entry (the SDK sends
 * what finished meanwhile together). Each is fenced and answered on its own, exactly as
 * tasks.complete and tasks.fail would; the freed slots are offered once, at the end. With `take`,
 * a pull agent's report also starts up to that many of the tasks then assigned to it (those the
 * freed slots were just given, as a poll's tasks.start would), so that an agent kept busy reports
 * and takes its next work in one request and one entry instead of two of each.
 */
export const reportCommand: CommandSpec<TasksState, typeof ReportBody, ReportApplied> = {
  kind: "tasks.report",
  schema: ReportBody,
  check: (body) => {
    const count = body.completed.length + body.failed.length;
    if (count === 0) return "a report names at least one attempt";
    if (count > TASK_LIMITS.reportBatch) return `a report names at most ${TASK_LIMITS.reportBatch} attempts`;
    const ids = new Set([...body.completed, ...body.failed].map((item) => item.id));
    if (ids.size !== count) return "a report names each task once";
    let bytes = 0;
    for (const item of body.completed) {
      const size = dataBytes(item.result);
      if (size > TASK_LIMITS.dataBytes)
        return `the result of task ${item.id} is over ${TASK_LIMITS.dataBytes} bytes of JSON`;
      bytes += size;
    }
    return bytes > TASK_LIMITS.reportBytes
      ? `the results are over ${TASK_LIMITS.reportBytes} bytes of JSON together`
      : null;
  },
  apply(state, body, context) {
    const outcomes: ReportOutcome[] = [];
    const touched: string[] = [];
    const record = (id: string, attempt: number, reported: Reported): void => {
      if ("refused" in reported) {
        const refusal = reported.refused.outcome as { code: string; message: string };
        outcomes.push({ id, attempt, ok: false, code: refusal.code, message: refusal.message });
        return;
      }
      if (reported.changed) touched.push(id);
      outcomes.push({ id, attempt, ok: true, task: reported.task });
    };
    for (const item of body.completed)
      record(
        item.id,
        item.attempt,
        completeOne(state, { ...item, agent_id: body.agent_id }, context.timestamp),
      );
    for (const item of body.failed)
      record(item.id, item.attempt, failOne(state, { ...item, agent_id: body.agent_id }, context.timestamp));
    const changed = touched.length === 0 ? touched : dispatchAfter(state, context, touched);
    const started = takeAssigned(state, context, body.agent_id, body.take ?? 0);
    for (const task of started) changed.push(task.id);
    if (changed.length === 0) return accept({ results: outcomes, started });
    // The tasks as they ended up (a freed slot may have been given to one of them again).
    const results = outcomes.map((outcome) =>
      outcome.ok ? { ...outcome, task: state.get(outcome.id)! } : outcome,
    );
    return accept({ results, started }, rowsOf(state, changed));
  },
  entryType: () => "tasks_reported",
  logView: (body) => ({
    data: { agent_id: body.agent_id, completed: body.completed.length, failed: body.failed.length },
  }),
};

/**
 * Ends the current attempt of `task` without success: back to the queue after its backoff while
 * attempts remain and the error is retryable, else failed (not retryable) or dead-lettered (out
 * of attempts). `countsAgainstAgent` feeds the agent's breaker.
 */
function endAttempt(
  state: TasksState,
  task: Task,
  error: TaskError,
  nowMs: number,
  countsAgainstAgent: boolean,
): void {
  const agentId = task.agentId;
  if (agentId !== null) {
    const breaker = state.breaker(agentId);
    const settings = state.breakerSettings;
    state.setBreaker(
      agentId,
      countsAgainstAgent ? onFailure(breaker, settings, nowMs) : onProbeGone(breaker, task.id),
    );
  }
  const base = { ...task, agentId: null, error, previousAgents: remember(task) };
  if (!error.retryable) {
    state.put({ ...base, status: "failed", completedAtMs: nowMs });
    return;
  }
  // Only attempts that ran count: one its agent never took (lost, stopped before it polled) does not.
  if (task.startedAttempts >= task.maxAttempts) {
    state.put({ ...base, status: "dead_lettered", completedAtMs: nowMs });
    return;
  }
  // Lost agents hand their tasks on at once; a failure waits its backoff.
  const delayMs =
    error.cause === "agent_lost" || error.cause === "delivery"
      ? 0
      : backoffDelayMs(task.backoff, task.attempt, task.id);
  state.put({
    ...base,
    status: "queued",
    enqueuedAtMs: nowMs,
    notBeforeMs: delayMs === 0 ? 0 : nowMs + delayMs,
    assignedAtMs: null,
    startedAtMs: null,
  });
}

function remember(task: Task): string[] {
  if (task.agentId === null) return [...task.previousAgents];
  return [...task.previousAgents, task.agentId].slice(-PREVIOUS_AGENTS);
}

export const cancelCommand: CommandSpec<TasksState, typeof CancelBody, Task> = {
  kind: "tasks.cancel",
  schema: CancelBody,
  apply(state, body, context) {
    const task = state.get(body.id);
    if (task === undefined) return refuse("task_not_found", `no task ${body.id}`);
    if (TERMINAL.has(task.status))
      return refuse("task_finished", `task ${body.id} is already ${task.status}`);
    if (task.agentId !== null)
      state.setBreaker(task.agentId, onProbeGone(state.breaker(task.agentId), task.id));
    state.put({
      ...task,
      status: "cancelled",
      agentId: null,
      completedAtMs: context.timestamp,
      error: { message: body.reason || "cancelled", retryable: false, cause: "agent" },
      previousAgents: remember(task),
    });
    const touched = dispatchAfter(state, context, [body.id]);
    return accept(state.get(body.id)!, rowsOf(state, touched));
  },
  audit: (body) => ({ action: "task.cancel", target: body.id, detail: body.reason }),
  entryType: () => "task_cancelled",
  logView: (body) => ({ data: { id: body.id, reason: body.reason } }),
};

export const expireCommand: CommandSpec<TasksState, typeof ExpireBody, string[]> = {
  kind: "tasks.expire",
  schema: ExpireBody,
  apply(state, body, context) {
    const expired: string[] = [];
    for (const { id, attempt, cause } of body.expirations) {
      const task = state.get(id);
      if (task === undefined || TERMINAL.has(task.status) || task.attempt !== attempt) continue;
      if (cause === "schedule_to_start") {
        if (task.startedAtMs !== null || task.status === "running") continue;
        if (task.agentId !== null)
          state.setBreaker(task.agentId, onProbeGone(state.breaker(task.agentId), id));
        const error: TaskError = {
          message: "not started within schedule_to_start_ms",
          retryable: false,
          cause,
        };
        state.put({
          ...task,
          status: "failed",
          agentId: null,
          error,
          completedAtMs: context.timestamp,
          previousAgents: remember(task),
        });
      } else {
        if (!HOLDING.has(task.status)) continue;
        if ((cause === "pickup" || cause === "delivery") && task.status !== "assigned") continue;
        if ((cause === "timeout" || cause === "lease") && task.status !== "running") continue;
        const message =
          cause === "timeout"
            ? "attempt ran past timeout_ms"
            : cause === "lease"
              ? "its agent's beats stopped listing the attempt (lease lapsed)"
              : cause === "delivery"
                ? "its agent did not accept the pushed delivery"
                : "the agent did not take the task in time";
        // A lapsed lease means the agent lost the attempt (or is being lost), and a refused push
        // never ran: either moves on at once, like a lost agent's, instead of waiting out a
        // failure's backoff (the agent's breaker stops a loop between a task and a bad agent).
        const lostCause = cause === "lease" ? "agent_lost" : cause === "delivery" ? "delivery" : "timeout";
        endAttempt(state, task, { message, retryable: true, cause: lostCause }, context.timestamp, true);
      }
      expired.push(id);
    }
    const touched = dispatchAfter(state, context, expired);
    return accept(expired, rowsOf(state, touched));
  },
  entryType: () => "tasks_expired",
  logView: (body) => ({ data: { expirations: body.expirations.length } }),
};

export const releaseCommand: CommandSpec<TasksState, typeof ReleaseBody, string[]> = {
  kind: "tasks.release",
  schema: ReleaseBody,
  apply(state, body, context) {
    const released = [...state.heldBy(body.agent_id)];
    for (const id of released) {
      const task = state.get(id)!;
      const error: TaskError = {
        message: body.reason || "its agent was lost",
        retryable: true,
        cause: "agent_lost",
      };
      endAttempt(state, task, error, context.timestamp, false);
    }
    state.breakers.delete(body.agent_id);
    const touched = dispatchAfter(state, context, released);
    return accept(released, rowsOf(state, touched));
  },
  entryType: () => "tasks_released",
  logView: (body) => ({ data: { agent_id: body.agent_id, reason: body.reason } }),
};

export const rebalanceCommand: CommandSpec<TasksState, typeof RebalanceBody, Move[]> = {
  kind: "tasks.rebalance",
  schema: RebalanceBody,
  apply(state, body, context) {
    const agents = agentsOf(context);
    const done: Move[] = [];
    for (const move of body.moves) {
      const task = state.get(move.id);
      if (task === undefined || !HOLDING.has(task.status) || task.attempt !== move.attempt) continue;
      if (task.agentId !== move.from || agents === null) continue;
      if (!canTake(state, agents, task, move.to, context.timestamp)) continue;
      state.setBreaker(move.from, onProbeGone(state.breaker(move.from), task.id));
      state.put({
        ...task,
        status: "assigned",
        attempt: task.attempt + 1,
        agentId: move.to,
        // A running attempt moved is scheduled anew (its schedule_to_start window starts now); an
        // assigned one not yet taken keeps waiting out the window it had.
        enqueuedAtMs: task.status === "running" ? context.timestamp : task.enqueuedAtMs,
        assignedAtMs: context.timestamp,
        startedAtMs: null,
        previousAgents: remember(task),
      });
      done.push(move);
    }
    const touched = dispatchAfter(
      state,
      context,
      done.map((move) => move.id),
    );
    return accept(done, rowsOf(state, touched));
  },
  entryType: () => "tasks_rebalanced",
  logView: (body) => ({ data: { moves: body.moves.length } }),
};

export const configureCommand: CommandSpec<TasksState, typeof TaskSettingsSchema, null> = {
  kind: "tasks.configure",
  schema: TaskSettingsSchema,
  check: (body) =>
    new Set(body.teamWeights.map(([team]) => team)).size !== body.teamWeights.length
      ? "a team appears twice in teamWeights"
      : null,
  apply(state, body, context) {
    state.configure(canonical(body));
    const touched = dispatchAfter(state, context, []);
    return accept(null, rowsOf(state, touched));
  },
  entryType: () => "tasks_configured",
  logView: (body) => ({ data: body }),
};

export const TASK_COMMANDS = [
  submitCommand,
  submitManyCommand,
  dispatchCommand,
  startCommand,
  completeCommand,
  failCommand,
  reportCommand,
  cancelCommand,
  expireCommand,
  releaseCommand,
  rebalanceCommand,
  configureCommand,
] as const;
