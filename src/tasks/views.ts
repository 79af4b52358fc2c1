/** How the API and the seed's distributed_tasks table show tasks. */

import Type from "typebox";
import type { Row } from "../control/index.js";
import { isoTime } from "../server/route-helpers.js";
import { TaskStatusSchema, type Task } from "./task.js";

const Time = Type.String({ format: "date-time" });
const NullableTime = Type.Union([Time, Type.Null()]);

export { TaskStatusSchema };

/** A task as the API shows it. */
export const TaskView = Type.Object({
  id: Type.String({ format: "uuid" }),
  task_type: Type.String(),
  priority: Type.Integer(),
  status: TaskStatusSchema,
  team: Type.String(),
  data: Type.Unknown(),
  requirements: Type.Object({
    skills: Type.Array(Type.String()),
    team: Type.Union([Type.String(), Type.Null()]),
    labels: Type.Record(Type.String(), Type.String()),
  }),
  strategy: Type.String(),
  affinity_key: Type.Union([Type.String(), Type.Null()]),
  idempotency_key: Type.Union([Type.String(), Type.Null()]),
  workflow_id: Type.Union([Type.String(), Type.Null()]),
  attempt: Type.Integer(),
  max_attempts: Type.Integer(),
  assigned_agent: Type.Union([Type.String(), Type.Null()]),
  previous_agents: Type.Array(Type.String()),
  timeout_ms: Type.Union([Type.Integer(), Type.Null()]),
  schedule_to_start_ms: Type.Union([Type.Integer(), Type.Null()]),
  created_at: Time,
  assigned_at: NullableTime,
  started_at: NullableTime,
  completed_at: NullableTime,
  /** When a retried task may be placed again (null: now). */
  not_before: NullableTime,
  /** Why a queued task is waiting (null when it is not, or nothing is known yet). */
  waiting_reason: Type.Union([Type.String(), Type.Null()]),
  result: Type.Unknown(),
  error: Type.Union([
    Type.Object({ message: Type.String(), retryable: Type.Boolean(), cause: Type.String() }),
    Type.Null(),
  ]),
});

/** The API view of `task`; `waiting` says why a queued task waits. */
export function taskView(task: Task, waiting: string | null = null) {
  return {
    id: task.id,
    task_type: task.taskType,
    priority: task.priority,
    status: task.status,
    team: task.team,
    data: task.data,
    requirements: {
      skills: [...task.requirements.skills],
      team: task.requirements.team,
      // fromEntries defines own properties: a label named __proto__ is a label like any other.
      labels: Object.fromEntries(task.requirements.labels),
    },
    strategy: task.strategy,
    affinity_key: task.affinityKey,
    idempotency_key: task.idempotencyKey,
    workflow_id: task.workflowId,
    attempt: task.attempt,
    max_attempts: task.maxAttempts,
    assigned_agent: task.agentId,
    previous_agents: [...task.previousAgents],
    timeout_ms: task.timeoutMs,
    schedule_to_start_ms: task.scheduleToStartMs,
    created_at: isoTime(task.createdAtMs),
    assigned_at: task.assignedAtMs === null ? null : isoTime(task.assignedAtMs),
    started_at: task.startedAtMs === null ? null : isoTime(task.startedAtMs),
    completed_at: task.completedAtMs === null ? null : isoTime(task.completedAtMs),
    not_before: task.notBeforeMs === 0 || task.status !== "queued" ? null : isoTime(task.notBeforeMs),
    waiting_reason: task.status === "queued" ? waiting : null,
    result: task.result,
    error: task.error === null ? null : { ...task.error },
  };
}

/** The seed's distributed_tasks row of `task` (times in ms since the epoch, data as JSON text). */
export function taskTableRow(task: Task): Row {
  return {
    id: task.id,
    workflow_id: task.workflowId,
    assigned_agent: task.agentId,
    task_type: task.taskType,
    priority: task.priority,
    status: task.status,
    data: JSON.stringify(task.data),
    created_at: task.createdAtMs,
    assigned_at: task.assignedAtMs,
    completed_at: task.completedAtMs,
    team: task.team,
    attempt: task.attempt,
    result: task.result === null ? null : JSON.stringify(task.result),
    error: task.error === null ? null : JSON.stringify(task.error),
  };
}

/** A task as it is delivered (pushed, or in a poll's answer). */
export function delivery(task: Task) {
  return {
    id: task.id,
    attempt: task.attempt,
    task_type: task.taskType,
    priority: task.priority,
    team: task.team,
    data: task.data,
    timeout_ms: task.timeoutMs,
    max_attempts: task.maxAttempts,
    workflow_id: task.workflowId,
  };
}
