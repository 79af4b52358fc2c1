/**
 * One task as the replicated state holds it, its statuses, its bounds, and its row schema
 * (checked when a snapshot is restored). Times are milliseconds since the epoch, always taken
 * from the leader's stamp on the entry that made the change.
 */

import Type, { type Static } from "typebox";
import type { JsonValue } from "../control/index.js";
import type { Backoff } from "../faults/retry.js";
import type { Strategy } from "../agents/balancer.js";

/** The strategies a task may ask placement for. */
export const StrategySchema = Type.Union([
  Type.Literal("round_robin"),
  Type.Literal("weighted_round_robin"),
  Type.Literal("least_connections"),
  Type.Literal("consistent_hash"),
]);

/** Task statuses (fixed API names). */
export const TASK_STATUSES = [
  "queued",
  "assigned",
  "running",
  "succeeded",
  "failed",
  "cancelled",
  "dead_lettered",
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const TaskStatusSchema = Type.Union([
  Type.Literal("queued"),
  Type.Literal("assigned"),
  Type.Literal("running"),
  Type.Literal("succeeded"),
  Type.Literal("failed"),
  Type.Literal("cancelled"),
  Type.Literal("dead_lettered"),
]);

/** Statuses a task ends in; it never leaves one. */
export const TERMINAL: ReadonlySet<TaskStatus> = new Set([
  "succeeded",
  "failed",
  "cancelled",
  "dead_lettered",
]);
/** Statuses in which a task holds a slot on its agent. */
export const HOLDING: ReadonlySet<TaskStatus> = new Set(["assigned", "running"]);

/** Bounds on everything a task carries and on how many there are. */
export const TASK_LIMITS = {
  /** Encoded `data`, `result` each, in bytes of JSON. */
  dataBytes: 64 * 1024,
  errorLength: 2_000,
  /** Tasks not yet finished, in the whole cluster. */
  liveTasks: 1_000_000,
  /** Finished tasks kept (the oldest go first past it). */
  retainedTasks: 1_000_000,
  maxAttempts: 100,
  /** Tasks placed by one dispatch entry. */
  dispatchBatch: 1_000,
  /** Queued tasks one dispatch looks at before it stops. */
  dispatchLook: 2_000,
  /** Ids in one start, expire or release entry. */
  batch: 1_000,
  /** Tasks one poll, or one report's take, starts. */
  pollTasks: 100,
  /** Reports in one tasks.report entry, and their results' bytes of JSON together. */
  reportBatch: 256,
  reportBytes: 512 * 1024,
  /** Tasks in one tasks.submit_many entry, and their data's bytes of JSON together. */
  submitBatch: 500,
  submitBatchBytes: 768 * 1024,
} as const;

/** What a task asks of the agent that takes it. */
export interface Requirements {
  readonly skills: readonly string[];
  /** The agent's team (null: any). */
  readonly team: string | null;
  readonly labels: readonly (readonly [string, string])[];
}

/** Why the last attempt ended without success. */
export interface TaskError {
  readonly message: string;
  readonly retryable: boolean;
  /** Where it came from: the agent, a lapsed lease, a timeout, a lost agent, a refused push. */
  readonly cause: "agent" | "timeout" | "agent_lost" | "schedule_to_start" | "delivery";
}

export interface Task {
  readonly id: string;
  readonly taskType: string;
  readonly priority: number;
  readonly data: JsonValue;
  /** The team that asked for it (fair sharing and bulkheads are by this team). */
  readonly team: string;
  readonly requirements: Requirements;
  readonly affinityKey: string | null;
  readonly strategy: Strategy;
  readonly idempotencyKey: string | null;
  /** Start to close, per attempt (null: none). */
  readonly timeoutMs: number | null;
  /** Submission to first start (null: none). */
  readonly scheduleToStartMs: number | null;
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  readonly workflowId: string | null;
  readonly status: TaskStatus;
  /** The current attempt (0 before the first placement); the fencing token of completions. */
  readonly attempt: number;
  /** The agent holding the current attempt (null while queued or finished). */
  readonly agentId: string | null;
  /** Submission order across the cluster (FIFO within a team and level). */
  readonly seq: number;
  readonly createdAtMs: number;
  /** When it last joined the queue (aging counts from here). */
  readonly enqueuedAtMs: number;
  /** A retried task waits until then (0: no wait). */
  readonly notBeforeMs: number;
  readonly assignedAtMs: number | null;
  readonly startedAtMs: number | null;
  readonly completedAtMs: number | null;
  readonly result: JsonValue | null;
  readonly error: TaskError | null;
  /** The agents that held earlier attempts, oldest first (bounded). */
  readonly previousAgents: readonly string[];
  /** Attempts its agents took (started); `maxAttempts` bounds these, not placements. */
  readonly startedAttempts: number;
}

/** Most earlier agents remembered on a task. */
export const PREVIOUS_AGENTS = 16;

const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);
const Time = Type.Integer({ minimum: 0 });

/** A task as a snapshot row. */
export const TaskRow = Type.Object(
  {
    id: Text(36),
    taskType: Text(50),
    priority: Type.Integer({ minimum: 0, maximum: 9 }),
    data: Type.Unknown(),
    team: Text(100),
    requirements: Type.Object(
      {
        skills: Type.Array(Text(100), { maxItems: 64 }),
        team: Nullable(Text(100)),
        labels: Type.Array(Type.Tuple([Text(100), Type.String({ maxLength: 255 })]), { maxItems: 32 }),
      },
      { additionalProperties: false },
    ),
    affinityKey: Nullable(Text(255)),
    strategy: StrategySchema,
    idempotencyKey: Nullable(Text(255)),
    timeoutMs: Nullable(Type.Integer({ minimum: 1 })),
    scheduleToStartMs: Nullable(Type.Integer({ minimum: 1 })),
    maxAttempts: Type.Integer({ minimum: 1, maximum: TASK_LIMITS.maxAttempts }),
    backoff: Type.Object(
      {
        initialMs: Type.Integer({ minimum: 0 }),
        multiplier: Type.Number({ minimum: 1 }),
        maxMs: Type.Integer({ minimum: 0 }),
        jitter: Type.Number({ minimum: 0, maximum: 1 }),
      },
      { additionalProperties: false },
    ),
    workflowId: Nullable(Text(36)),
    status: TaskStatusSchema,
    attempt: Type.Integer({ minimum: 0 }),
    agentId: Nullable(Text(36)),
    seq: Type.Integer({ minimum: 1 }),
    createdAtMs: Time,
    enqueuedAtMs: Time,
    notBeforeMs: Time,
    assignedAtMs: Nullable(Time),
    startedAtMs: Nullable(Time),
    completedAtMs: Nullable(Time),
    result: Type.Unknown(),
    error: Nullable(
      Type.Object(
        {
          message: Type.String({ maxLength: TASK_LIMITS.errorLength }),
          retryable: Type.Boolean(),
          cause: Type.Union([
            Type.Literal("agent"),
            Type.Literal("timeout"),
            Type.Literal("agent_lost"),
            Type.Literal("schedule_to_start"),
            Type.Literal("delivery"),
          ]),
        },
        { additionalProperties: false },
      ),
    ),
    previousAgents: Type.Array(Text(36), { maxItems: PREVIOUS_AGENTS }),
    startedAttempts: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type TaskRowShape = Static<typeof TaskRow>;

/** Requirement classes already worked out, by requirements object (a task's lasts its lifetime). */
const classes = new WeakMap<Requirements, string>();

/** The requirement class of a task: tasks of one class are eligible for the same agents. */
export function requirementClass(requirements: Requirements): string {
  let cls = classes.get(requirements);
  if (cls === undefined) {
    cls = JSON.stringify([requirements.skills, requirements.team, requirements.labels]);
    classes.set(requirements, cls);
  }
  return cls;
}
