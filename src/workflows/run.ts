/**
 * A workflow run as the engine holds it, and the events it takes and the effects it asks for.
 * Everything here is plain, immutable JSON data (no Maps, no classes), so a run can be stored in
 * a snapshot, replicated and compared; ids are values, never object keys.
 */

import type { JsonValue } from "../control/index.js";
import type { BackoffPolicy, WorkflowDefinition } from "./definition.js";

/** Workflow statuses (fixed API names). */
export const WORKFLOW_STATUSES = ["created", "running", "succeeded", "failed", "cancelled"] as const;
export type WorkflowStatus = (typeof WORKFLOW_STATUSES)[number];
/** Statuses a run ends in; it never leaves one. */
export const WORKFLOW_TERMINAL: ReadonlySet<WorkflowStatus> = new Set(["succeeded", "failed", "cancelled"]);

/** Step statuses (fixed API names): the workflow's, plus pending, ready, waiting and skipped. */
export const STEP_STATUSES = [
  "pending",
  "ready",
  "waiting",
  "running",
  "succeeded",
  "failed",
  "cancelled",
  "skipped",
] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];
/** Statuses a step ends in. */
export const STEP_TERMINAL: ReadonlySet<StepStatus> = new Set([
  "succeeded",
  "failed",
  "cancelled",
  "skipped",
]);

/** Why a step did not succeed. */
export interface StepError {
  /** task_failed, task_cancelled, workflow_failed, workflow_cancelled, approval_rejected, step_timeout, item_failed, for_each_not_list, for_each_too_large, input_too_large, invalid_input, workflow_too_deep. */
  readonly code: string;
  readonly message: string;
  /** What the task's last failure said (false for everything but task failures). */
  readonly retryable: boolean;
}

/** One thing that runs: a step, or one item of a for_each step. */
export interface UnitState {
  readonly status: StepStatus;
  /** Tasks or sub-workflows started for it (tasks retry inside the tasks module: see `task_attempts`). */
  readonly attempts: number;
  /** The attempts the tasks module reported for the current task, if it said. */
  readonly task_attempts: number | null;
  /** The current task (task steps), derived from the run id and the idempotency key. */
  readonly task_id: string | null;
  /** The current sub-workflow run (workflow steps). */
  readonly workflow_id: string | null;
  /** The open decision (approval steps): its idempotency key. */
  readonly approval_id: string | null;
  readonly output: JsonValue | null;
  readonly error: StepError | null;
  /** Template references in its input that did not resolve (they became null). */
  readonly missing: readonly string[];
  readonly ready_at: number | null;
  readonly started_at: number | null;
  readonly ended_at: number | null;
}

/** One item of a for_each step. */
export interface ChildState extends UnitState {
  readonly index: number;
  readonly item: JsonValue;
}

/** One step of a run, in the definition's order. */
export interface StepState extends UnitState {
  readonly id: string;
  /** Its place in the order steps succeeded (1, 2, ...), which compensation runs backwards. */
  readonly completed: number | null;
  /** For a for_each step that started: its items. */
  readonly children: readonly ChildState[] | null;
}

/** What an open timer is for. */
export type TimerPurpose = "workflow_timeout" | "timer" | "step_timeout" | "retry";

/** A timer the run waits on; the runtime fires it (timer_fired) at or after `at`. */
export interface RunTimer {
  readonly id: string;
  readonly at: number;
  readonly purpose: TimerPurpose;
  readonly step: string | null;
  readonly index: number | null;
}

/** An event the run received (the first of each name; event steps take their data from it). */
export interface ReceivedEvent {
  readonly name: string;
  readonly data: JsonValue;
  readonly at: number;
}

/** Why a run failed. */
export interface RunFailure {
  readonly code: "step_failed" | "workflow_timeout";
  /** The failed step whose failure nothing handled (null for a timeout). */
  readonly step: string | null;
  readonly message: string;
}

/** The run that started this one as a sub-workflow step. */
export interface ParentRef {
  readonly workflow_id: string;
  readonly step: string;
  readonly index: number | null;
}

/** Where the run is: running steps forward, running compensation steps, or over. */
export type RunPhase = "forward" | "compensating" | "ended";

/** A workflow run. Invariant: `steps[i].id === definition.steps[i].id`. */
export interface WorkflowRun {
  readonly id: string;
  readonly definition: WorkflowDefinition;
  readonly status: WorkflowStatus;
  readonly phase: RunPhase;
  /** The definition's default input with the start input laid over it. */
  readonly input: { readonly [key: string]: JsonValue };
  readonly parent: ParentRef | null;
  /** How deep it nests: 0 for a run nobody started as a step. */
  readonly depth: number;
  readonly created_at: number;
  readonly started_at: number | null;
  readonly ended_at: number | null;
  /** When the workflow timeout fails it (null: no timeout, or not started). */
  readonly deadline_at: number | null;
  readonly steps: readonly StepState[];
  readonly timers: readonly RunTimer[];
  readonly events: readonly ReceivedEvent[];
  /** Compensation steps still to run, next first. */
  readonly compensation: readonly string[];
  readonly failure: RunFailure | null;
  readonly output: JsonValue | null;
  /** Steps that have succeeded so far (the last `completed` number given). */
  readonly sequence: number;
}

/** A unit in an event or effect: a step, and the item for a for_each step. */
export interface UnitRef {
  readonly step: string;
  /** The item's index for a for_each step's items, else null (events may leave it out). */
  readonly index?: number | null;
}

/** What happens to a run: the runtime turns replicated facts into these. */
export type WorkflowEvent =
  | { readonly type: "start" }
  | (UnitRef & {
      readonly type: "task_succeeded";
      readonly task_id: string;
      readonly output: JsonValue;
      readonly attempts?: number;
    })
  | (UnitRef & {
      readonly type: "task_failed";
      readonly task_id: string;
      readonly error: string;
      readonly retryable: boolean;
      readonly attempts?: number;
    })
  | (UnitRef & {
      readonly type: "task_cancelled";
      readonly task_id: string;
      readonly reason?: string;
      readonly attempts?: number;
    })
  | { readonly type: "event"; readonly name: string; readonly data: JsonValue }
  | { readonly type: "timer_fired"; readonly timer: string }
  | (UnitRef & {
      readonly type: "workflow_ended";
      readonly workflow_id: string;
      readonly status: "succeeded" | "failed" | "cancelled";
      readonly output: JsonValue;
    })
  | (UnitRef & {
      readonly type: "approval_decided";
      readonly approval_id: string;
      readonly approved: boolean;
      readonly output?: JsonValue;
    })
  | { readonly type: "cancel"; readonly reason?: string }
  | { readonly type: "timeout" };

/** What the runtime must do for a run: data, executed in the same entry that produced it. */
export type WorkflowEffect =
  | {
      readonly type: "submit_task";
      readonly step: string;
      readonly index: number | null;
      readonly task_id: string;
      /** `${workflowId}:${unitKey}:${attempt}`, unitKey the step id or `step[index]`. */
      readonly idempotency_key: string;
      readonly task_type: string;
      /** The team whose agents take it (delegate_to when set). */
      readonly team: string;
      /** The step's own team when the task is delegated to another team's coordinator. */
      readonly delegated_from: string | null;
      readonly skills: readonly string[];
      readonly input: JsonValue;
      readonly priority: number;
      readonly timeout_ms: number | null;
      readonly max_attempts: number | null;
      readonly backoff: BackoffPolicy;
    }
  | {
      readonly type: "cancel_task";
      readonly step: string;
      readonly index: number | null;
      readonly task_id: string;
    }
  | {
      readonly type: "start_workflow";
      readonly step: string;
      readonly index: number | null;
      readonly workflow_id: string;
      readonly idempotency_key: string;
      readonly name: string;
      readonly version: number | null;
      /** The team that owns the sub-workflow (the step's team unless the step names one). */
      readonly team: string;
      readonly input: { readonly [key: string]: JsonValue };
      readonly priority: number;
      /** The sub-workflow's depth: start it with this and `parent`. */
      readonly depth: number;
      readonly parent: ParentRef;
    }
  | {
      readonly type: "cancel_workflow";
      readonly step: string;
      readonly index: number | null;
      readonly workflow_id: string;
    }
  | {
      readonly type: "open_approval";
      readonly step: string;
      readonly index: number | null;
      readonly approval_id: string;
      readonly team: string;
      readonly voters: readonly string[];
      readonly quorum: number;
      readonly data: JsonValue;
    }
  | {
      readonly type: "cancel_approval";
      readonly step: string;
      readonly index: number | null;
      readonly approval_id: string;
    }
  | { readonly type: "set_timer"; readonly timer: RunTimer }
  | { readonly type: "clear_timer"; readonly timer: string }
  | {
      readonly type: "workflow_finished";
      readonly status: "succeeded" | "failed" | "cancelled";
      readonly output: JsonValue | null;
      readonly failure: RunFailure | null;
      readonly parent: ParentRef | null;
    };

/** Why an event changed nothing. */
export interface Ignored {
  readonly code:
    | "run_ended"
    | "invalid_event"
    | "not_started"
    | "already_started"
    | "unknown_step"
    | "unknown_item"
    | "not_active"
    | "stale_task"
    | "stale_workflow"
    | "stale_approval"
    | "unknown_timer"
    | "timer_not_due"
    | "unknown_event"
    | "duplicate_event"
    | "no_timeout";
  readonly message: string;
}

/** A run after an event, what it asks the runtime to do, and (when nothing changed) why. */
export interface Advanced {
  readonly run: WorkflowRun;
  readonly effects: readonly WorkflowEffect[];
  /** Null when the event was applied; otherwise the run is the same object and there are no effects. */
  readonly ignored: Ignored | null;
}
