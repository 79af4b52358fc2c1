/** How the API and the seed's cross_team_workflows table show workflow runs. */

import Type from "typebox";
import type { Row } from "../control/index.js";
import { isoTime } from "../server/route-helpers.js";
import type { TasksState } from "../tasks/state.js";
import { progressOf } from "./progress.js";
import { STEP_STATUSES, WORKFLOW_STATUSES, type UnitState, type WorkflowRun } from "./run.js";
import type { OpenApproval, RunRecord, WorkflowsState } from "./state.js";

const Time = Type.String({ format: "date-time" });
const NullableTime = Type.Union([Time, Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);

export const WorkflowStatusSchema = Type.Union(WORKFLOW_STATUSES.map((status) => Type.Literal(status)));
export const StepStatusSchema = Type.Union(STEP_STATUSES.map((status) => Type.Literal(status)));

const StepError = Type.Union([
  Type.Object({ code: Type.String(), message: Type.String(), retryable: Type.Boolean() }),
  Type.Null(),
]);

const UnitView = {
  status: StepStatusSchema,
  attempts: Type.Integer({ description: "tasks or sub-workflows started for it" }),
  task_id: NullableString,
  task_status: Type.Union([Type.String(), Type.Null()], {
    description: "the task's own status, or not_submitted while its team is at its step limit",
  }),
  task_attempts: Type.Union([Type.Integer(), Type.Null()]),
  agent_id: Type.Union([Type.String(), Type.Null()], {
    description: "the agent holding or last holding its task",
  }),
  workflow_id: Type.Union([Type.String(), Type.Null()], { description: "its sub-workflow" }),
  approval: Type.Union([
    Type.Object({
      decision: Type.Union([Type.Integer(), Type.Null()], {
        description: "vote on it at POST /consensus/vote with proposal = decision",
      }),
      voters: Type.Array(Type.String()),
      quorum: Type.Integer(),
    }),
    Type.Null(),
  ]),
  output: Type.Unknown(),
  error: StepError,
  missing: Type.Array(Type.String(), { description: "template references that resolved to nothing" }),
  ready_at: NullableTime,
  started_at: NullableTime,
  ended_at: NullableTime,
};

export const StepView = Type.Object({
  id: Type.String(),
  type: Type.String(),
  team: Type.String(),
  task_type: NullableString,
  depends_on: Type.Array(Type.String()),
  when: Type.String(),
  compensates: NullableString,
  delegate_to: NullableString,
  ...UnitView,
  items: Type.Union([
    Type.Array(Type.Object({ index: Type.Integer(), item: Type.Unknown(), ...UnitView })),
    Type.Null(),
  ]),
});

const Progress = Type.Object({
  total: Type.Integer(),
  done: Type.Integer(),
  percent: Type.Integer(),
  by_status: Type.Record(Type.String(), Type.Integer()),
  teams: Type.Array(
    Type.Object({
      team: Type.String(),
      total: Type.Integer(),
      done: Type.Integer(),
      running: Type.Integer(),
      percent: Type.Integer(),
    }),
  ),
  compensation: Type.Object({ total: Type.Integer(), started: Type.Integer() }),
});

/** A run as the list shows it. */
export const WorkflowSummary = Type.Object({
  id: Type.String({ format: "uuid" }),
  name: Type.String(),
  version: Type.Integer(),
  status: WorkflowStatusSchema,
  team: Type.String(),
  teams: Type.Array(Type.String()),
  parent_id: NullableString,
  revision: Type.Integer({ description: "grows with every change of the run" }),
  progress: Progress,
  created_at: Time,
  started_at: NullableTime,
  ended_at: NullableTime,
});

/** A run, whole. */
export const WorkflowView = Type.Object({
  ...WorkflowSummary.properties,
  description: Type.String(),
  registered: Type.Boolean({ description: "whether it runs a registered definition" }),
  idempotency_key: NullableString,
  expands_task: NullableString,
  parent: Type.Union([
    Type.Object({
      workflow_id: Type.String(),
      step: Type.String(),
      index: Type.Union([Type.Integer(), Type.Null()]),
    }),
    Type.Null(),
  ]),
  input: Type.Record(Type.String(), Type.Unknown()),
  output: Type.Unknown(),
  failure: Type.Union([
    Type.Object({ code: Type.String(), step: NullableString, message: Type.String() }),
    Type.Null(),
  ]),
  deadline_at: NullableTime,
  phase: Type.String({ description: "forward, compensating or ended" }),
  compensation: Type.Array(Type.String(), { description: "compensation steps still to run, next first" }),
  events: Type.Array(Type.Object({ name: Type.String(), data: Type.Unknown(), at: Time })),
  timers: Type.Array(
    Type.Object({ id: Type.String(), at: Time, purpose: Type.String(), step: NullableString }),
  ),
  steps: Type.Array(StepView),
});

function time(ms: number | null): string | null {
  return ms === null ? null : isoTime(ms);
}

export function workflowSummary(record: RunRecord) {
  const run = record.run;
  return {
    id: run.id,
    name: run.definition.name,
    version: run.definition.version,
    status: run.status,
    team: record.team,
    teams: [...run.definition.teams],
    parent_id: run.parent?.workflow_id ?? null,
    revision: record.revision,
    progress: progressOf(run),
    created_at: isoTime(run.created_at),
    started_at: time(run.started_at),
    ended_at: time(run.ended_at),
  };
}

/** The API view of a run; the tasks state fills in each task's agent and status. */
export function workflowView(record: RunRecord, workflows: WorkflowsState, tasks: TasksState | null) {
  const run = record.run;
  const deferred = new Set<string>();
  for (const waiting of workflows.deferred.values())
    for (const task of waiting) if (task.workflow_id === run.id) deferred.add(task.task_id);
  const unit = (state: UnitState) => {
    const task = state.task_id === null ? undefined : tasks?.get(state.task_id);
    const approval: OpenApproval | undefined =
      state.approval_id === null ? undefined : workflows.approvals.get(state.approval_id);
    return {
      status: state.status,
      attempts: state.attempts,
      task_id: state.task_id,
      task_status:
        state.task_id === null
          ? null
          : deferred.has(state.task_id)
            ? "not_submitted"
            : (task?.status ?? null),
      task_attempts: state.task_attempts ?? (task === undefined ? null : task.attempt),
      agent_id: task === undefined ? null : (task.agentId ?? task.previousAgents.at(-1) ?? null),
      workflow_id: state.workflow_id,
      approval:
        approval === undefined
          ? null
          : { decision: approval.decision, voters: [...approval.voters], quorum: approval.quorum },
      output: state.output,
      error: state.error === null ? null : { ...state.error },
      missing: [...state.missing],
      ready_at: time(state.ready_at),
      started_at: time(state.started_at),
      ended_at: time(state.ended_at),
    };
  };
  return {
    ...workflowSummary(record),
    description: run.definition.description,
    registered: record.ref !== null,
    idempotency_key: record.idempotency_key,
    expands_task: record.expands_task,
    parent: run.parent === null ? null : { ...run.parent },
    input: run.input,
    output: run.output,
    failure: run.failure === null ? null : { ...run.failure },
    deadline_at: time(run.deadline_at),
    phase: run.phase,
    compensation: [...run.compensation],
    events: run.events.map((event) => ({ name: event.name, data: event.data, at: isoTime(event.at) })),
    timers: run.timers.map((timer) => ({
      id: timer.id,
      at: isoTime(timer.at),
      purpose: timer.purpose,
      step: timer.step,
    })),
    steps: run.steps.map((state, i) => {
      const step = run.definition.steps[i]!;
      return {
        id: step.id,
        type: step.type,
        team: step.team,
        task_type: step.type === "task" ? step.task_type : null,
        depends_on: [...step.depends_on],
        when: step.when,
        compensates: step.compensates,
        delegate_to: step.delegate_to,
        ...unit(state),
        items:
          state.children === null
            ? null
            : state.children.map((child) => ({ index: child.index, item: child.item, ...unit(child) })),
      };
    }),
  };
}

/** The seed's cross_team_workflows row of a run (teams and JSON as text, times in ms since the epoch). */
export function workflowTableRow(record: RunRecord): Row {
  const run: WorkflowRun = record.run;
  return {
    id: run.id,
    name: run.definition.name,
    teams: JSON.stringify(run.definition.teams),
    status: run.status,
    dependencies: JSON.stringify(
      Object.fromEntries(run.definition.steps.map((step) => [step.id, step.depends_on])),
    ),
    progress: JSON.stringify(progressOf(run)),
    created_at: run.created_at,
    version: run.definition.version,
    team: record.team,
    parent_id: run.parent?.workflow_id ?? null,
    started_at: run.started_at,
    ended_at: run.ended_at,
  };
}
