/**
 * The workflow engine: a pure function from (run, one event, the entry's time) to (new run,
 * effects). It never calls out and never reads a clock or a random generator; the runtime
 * executes the effects (submit a task, start a sub-workflow, set a timer, ...) in the same
 * entry and turns what later happens to them into events. The same events give the same run on
 * every replica. Every function is total: an event that does not fit the run (an unknown step,
 * a stale task, an ended run) changes nothing and says why.
 *
 * The rules, where the issue leaves them open:
 *
 * - Readiness. A pending step is decided by its trigger rule and threshold (trigger.ts) as soon
 *   as enough of its dependencies ended: it becomes ready, or is skipped. Skips propagate the
 *   same way (a skipped dependency is "not good" for all_success, good for none_failed).
 * - Handled failures. A step that failed (or whose task was cancelled outside the workflow) is
 *   *handled* once one of the steps that depend on it becomes ready: its trigger rule accepted
 *   the outcome (all_done, one_failed, a quorum or `any` join that needed fewer inputs, ...).
 *   It is *unhandled* once every step that depends on it has been skipped, or at once when
 *   nothing depends on it. A run fails if and only if some failure is unhandled, or it times out.
 * - on_failure. `fail_fast` (the default) fails the run the moment a failure becomes unhandled:
 *   running units are cancelled (their tasks, sub-workflows and decisions too), ready and
 *   pending steps are skipped, timers cleared. `continue` lets every step that can still run
 *   finish, then fails the run if some failure is unhandled.
 * - max_running_steps bounds units in `running`: tasks and sub-workflows, counting each item of
 *   a for_each step. Event, timer and approval steps wait without a slot. Ready units start by
 *   priority (higher first), then topological order, then item index.
 * - for_each fans out when the step becomes ready: one unit per item (at most 1,000), with
 *   `{{item}}` and `{{index}}`. It succeeds when every item succeeded (output: the items'
 *   outputs in order) and fails at the first item that fails: running items are cancelled and
 *   the others skipped. An empty list succeeds at once with [].
 * - Retries. A task step's `retry` goes to its task (the tasks module retries with backoff and
 *   fencing); the engine hears only the task's last outcome. A workflow step's `retry` is the
 *   engine's: a failed sub-workflow (or a timed-out one) starts again after the backoff, with a
 *   new attempt number in its idempotency key. Cancelled sub-workflows are not retried.
 * - Timeouts. A task step's timeout_ms goes to its task; event, approval and workflow steps get
 *   a timer and fail when it fires. The workflow's timeout_ms fails the run, however
 *   on_failure is set, and is cleared when compensation starts.
 * - Compensation. When the run fails, the compensation steps of the forward steps that
 *   succeeded run one at a time, in reverse order of the steps' completion. A compensation step
 *   that fails does not stop the others. The run ends `failed` after the last one. A for_each
 *   step is compensated once, as a whole, and only if it succeeded.
 * - Cancel. `cancel` stops every unit (forward or compensating), skips the rest, runs no
 *   compensation, and ends the run `cancelled`.
 * - Events. The first event of each name is kept on the run; every event step waiting for that
 *   name takes its data as output, now or when it is reached. Later events of the same name,
 *   and names no step waits for, are ignored (and said so).
 */

import { assert } from "../raft/assert.js";
import type { JsonValue } from "../control/index.js";
import { isRecord } from "../control/index.js";
import { backoffDelayMs } from "../faults/retry.js";
import type { BackoffPolicy, StepDefinition, WorkflowDefinition } from "./definition.js";
import { derivedUuid, utf8Length } from "./ids.js";
import { WORKFLOW_LIMITS } from "./limits.js";
import {
  STEP_TERMINAL,
  WORKFLOW_TERMINAL,
  type Advanced,
  type ChildState,
  type Ignored,
  type ParentRef,
  type ReceivedEvent,
  type RunFailure,
  type RunPhase,
  type RunTimer,
  type StepError,
  type StepState,
  type StepStatus,
  type TimerPurpose,
  type UnitRef,
  type UnitState,
  type WorkflowEffect,
  type WorkflowEvent,
  type WorkflowRun,
  type WorkflowStatus,
} from "./run.js";
import { resolveTemplates, walkPath, type Resolved, type TemplateScope } from "./template.js";
import { countsAsGood, decideCounts } from "./trigger.js";

/** The ids a run is created with: its own (a UUID from the leader), and its parent if it is a sub-workflow. */
export interface RunIds {
  readonly id: string;
  readonly parent?: ParentRef | null;
  /** The depth the parent's start_workflow effect gave (0 for a top-level run). */
  readonly depth?: number;
}

/** A new run in status `created`: nothing runs until it gets a `start` event. */
export function create(
  definition: WorkflowDefinition,
  input: { readonly [key: string]: JsonValue },
  ids: RunIds,
  now: number,
): WorkflowRun {
  assert(ids.id.length > 0, "a run needs an id");
  return {
    id: ids.id,
    definition,
    status: "created",
    phase: "forward",
    // fromEntries keeps keys such as "__proto__" as plain data.
    input: Object.fromEntries([...Object.entries(definition.input), ...Object.entries(input)]),
    parent: ids.parent ?? null,
    depth: ids.depth ?? 0,
    created_at: now,
    started_at: null,
    ended_at: null,
    deadline_at: null,
    steps: definition.steps.map((step) => ({ ...EMPTY_UNIT, id: step.id, completed: null, children: null })),
    timers: [],
    events: [],
    compensation: [],
    failure: null,
    output: null,
    sequence: 0,
  };
}

/** A new run, started: the steps without dependencies are ready or running. */
export function start(
  definition: WorkflowDefinition,
  input: { readonly [key: string]: JsonValue },
  ids: RunIds,
  now: number,
): { readonly run: WorkflowRun; readonly effects: readonly WorkflowEffect[] } {
  const { run, effects } = advance(create(definition, input, ids, now), { type: "start" }, now);
  return { run, effects };
}

/** The run after one event at time `now` (the entry's leader-stamped time), and its effects. */
export function advance(run: WorkflowRun, event: WorkflowEvent, now: number): Advanced {
  if (WORKFLOW_TERMINAL.has(run.status)) {
    return ignore(run, "run_ended", `workflow ${run.id} already ended ${run.status}`);
  }
  const machine = new Machine(run, now);
  const ignored = machine.apply(event);
  if (ignored !== null) return { run, effects: [], ignored };
  return { run: machine.build(), effects: machine.effects, ignored: null };
}

/** The unit whose current task is `taskId`, if any (for runtimes that know only the task). */
export function unitOfTask(run: WorkflowRun, taskId: string): { step: string; index: number | null } | null {
  for (const step of run.steps) {
    if (step.task_id === taskId) return { step: step.id, index: null };
    for (const child of step.children ?? [])
      if (child.task_id === taskId) return { step: step.id, index: child.index };
  }
  return null;
}

/** The key that names a unit in idempotency keys and timers: the step id, or `step[index]`. */
export function unitKey(step: string, index: number | null): string {
  return index === null ? step : `${step}[${index}]`;
}

function ignore(run: WorkflowRun, code: Ignored["code"], message: string): Advanced {
  return { run, effects: [], ignored: { code, message } };
}

const EMPTY_UNIT: UnitState = {
  status: "pending",
  attempts: 0,
  task_attempts: null,
  task_id: null,
  workflow_id: null,
  approval_id: null,
  output: null,
  error: null,
  missing: [],
  ready_at: null,
  started_at: null,
  ended_at: null,
};

/** What the engine derives once per definition (definitions are immutable, so a WeakMap caches it). */
interface Compiled {
  readonly position: ReadonlyMap<string, number>;
  /** Positions of forward steps, in topological order. */
  readonly order: readonly number[];
  readonly deps: readonly (readonly number[])[];
  readonly dependents: readonly (readonly number[])[];
  /** Positions of event steps, by event name. */
  readonly byEvent: ReadonlyMap<string, readonly number[]>;
}

const compiledDefinitions = new WeakMap<WorkflowDefinition, Compiled>();

function compile(definition: WorkflowDefinition): Compiled {
  const cached = compiledDefinitions.get(definition);
  if (cached !== undefined) return cached;
  const position = new Map(definition.steps.map((step, i) => [step.id, i]));
  const at = (id: string): number => position.get(id)!;
  const byEvent = new Map<string, number[]>();
  definition.steps.forEach((step, i) => {
    if (step.type === "event") byEvent.set(step.event, [...(byEvent.get(step.event) ?? []), i]);
  });
  const compiled: Compiled = {
    position,
    order: definition.order.map(at),
    deps: definition.steps.map((step) => step.depends_on.map(at)),
    dependents: definition.steps.map((step) => step.dependents.map(at)),
    byEvent,
  };
  compiledDefinitions.set(definition, compiled);
  return compiled;
}

/** A located unit: a step's position, and the item's index for a for_each step. */
interface Unit {
  readonly pos: number;
  readonly index: number | null;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One event's worth of work on a copy of the run (the input run is never written). */
class Machine {
  readonly effects: WorkflowEffect[] = [];
  private readonly definition: WorkflowDefinition;
  private readonly compiled: Compiled;
  private readonly run: WorkflowRun;
  private readonly steps: StepState[];
  private timers: RunTimer[];
  private readonly events: ReceivedEvent[];
  private compensation: string[];
  private status: WorkflowStatus;
  private phase: RunPhase;
  private failure: RunFailure | null;
  private output: JsonValue | null;
  private sequence: number;
  private startedAt: number | null;
  private endedAt: number | null;
  private deadlineAt: number | null;
  /** Whether the last settle pass changed a status (settle repeats until it does not). */
  private changed = false;
  /** Whether a unit ended synchronously in this pass (the pass stops so the next decides again). */
  private endedNow = false;
  /**
   * Pending steps whose inputs changed since they were last decided (dependents of steps that
   * ended, and the roots at start): only these are decided again, so an event costs its
   * neighbourhood, not a pass over every step's inputs.
   */
  private readonly undecided: Uint8Array;
  private anyUndecided = false;

  constructor(
    run: WorkflowRun,
    private readonly now: number,
  ) {
    this.run = run;
    this.definition = run.definition;
    this.compiled = compile(run.definition);
    this.steps = [...run.steps];
    this.timers = [...run.timers];
    this.events = [...run.events];
    this.compensation = [...run.compensation];
    this.status = run.status;
    this.phase = run.phase;
    this.failure = run.failure;
    this.output = run.output;
    this.sequence = run.sequence;
    this.startedAt = run.started_at;
    this.endedAt = run.ended_at;
    this.deadlineAt = run.deadline_at;
    this.undecided = new Uint8Array(run.steps.length);
  }

  build(): WorkflowRun {
    return {
      ...this.run,
      status: this.status,
      phase: this.phase,
      started_at: this.startedAt,
      ended_at: this.endedAt,
      deadline_at: this.deadlineAt,
      steps: this.steps,
      timers: this.timers,
      events: this.events,
      compensation: this.compensation,
      failure: this.failure,
      output: this.output,
      sequence: this.sequence,
    };
  }

  /** Applies one event; null when applied, else why it changed nothing. */
  apply(event: WorkflowEvent): Ignored | null {
    if (event.type === "start") return this.onStart();
    if (event.type === "event") return this.onEvent(event.name, event.data);
    if (event.type === "cancel") return this.onCancel();
    if (this.status === "created")
      return { code: "not_started", message: `workflow ${this.run.id} has not started` };
    switch (event.type) {
      case "task_succeeded":
      case "task_failed":
      case "task_cancelled":
        return this.onTask(event);
      case "workflow_ended":
        return this.onWorkflowEnded(event);
      case "approval_decided":
        return this.onApproval(event);
      case "timer_fired":
        return this.onTimer(event.timer);
      case "timeout": {
        const timer = this.timers.find((t) => t.purpose === "workflow_timeout");
        if (timer === undefined)
          return { code: "no_timeout", message: "the run has no workflow timeout pending" };
        return this.onTimer(timer.id);
      }
      default:
        // Unreachable for typed callers; a runtime that hands over garbage still gets an answer.
        return {
          code: "invalid_event",
          message: `unknown event type ${JSON.stringify((event as { type?: unknown }).type)}`,
        };
    }
  }

  // ---- events ----

  private onStart(): Ignored | null {
    if (this.status !== "created")
      return { code: "already_started", message: `workflow ${this.run.id} is ${this.status}` };
    this.status = "running";
    this.startedAt = this.now;
    for (const pos of this.compiled.order) {
      if (this.compiled.deps[pos]!.length === 0) this.markUndecided(pos);
    }
    const timeout = this.definition.timeout_ms;
    if (timeout !== null) {
      this.deadlineAt = this.now + timeout;
      this.setTimer(`${this.run.id}:timeout`, this.deadlineAt, "workflow_timeout", null);
    }
    this.settle();
    return null;
  }

  private onEvent(name: string, data: JsonValue): Ignored | null {
    const waiting = this.compiled.byEvent.get(name);
    if (waiting === undefined) return { code: "unknown_event", message: `no step waits for event "${name}"` };
    if (this.events.some((received) => received.name === name)) {
      return {
        code: "duplicate_event",
        message: `event "${name}" was already received; the first one counts`,
      };
    }
    this.events.push({ name, data, at: this.now });
    if (this.status === "created") return null;
    for (const pos of waiting) {
      if (this.steps[pos]!.status === "waiting") this.succeed({ pos, index: null }, data);
    }
    this.settle();
    return null;
  }

  private onCancel(): Ignored | null {
    this.finish("cancelled");
    return null;
  }

  private onTask(
    event: Extract<WorkflowEvent, { type: "task_succeeded" | "task_failed" | "task_cancelled" }>,
  ): Ignored | null {
    const found = this.locate(event);
    if ("code" in found) return found;
    const unit = this.unit(found);
    const where = describe(event.step, found.index);
    if (unit.task_id !== event.task_id) {
      return { code: "stale_task", message: `${where} is not waiting on task ${event.task_id}` };
    }
    if (unit.status !== "running") return { code: "not_active", message: `${where} is ${unit.status}` };
    if (event.attempts !== undefined) this.patch(found, { task_attempts: event.attempts });
    if (event.type === "task_succeeded") {
      this.succeed(found, event.output);
    } else if (event.type === "task_failed") {
      this.end(found, "failed", { code: "task_failed", message: event.error, retryable: event.retryable });
    } else {
      const reason = event.reason === undefined ? "" : `: ${event.reason}`;
      this.end(found, "cancelled", {
        code: "task_cancelled",
        message: `its task was cancelled${reason}`,
        retryable: false,
      });
    }
    this.settle();
    return null;
  }

  private onWorkflowEnded(event: Extract<WorkflowEvent, { type: "workflow_ended" }>): Ignored | null {
    const found = this.locate(event);
    if ("code" in found) return found;
    const unit = this.unit(found);
    const where = describe(event.step, found.index);
    if (unit.workflow_id !== event.workflow_id) {
      return { code: "stale_workflow", message: `${where} is not waiting on workflow ${event.workflow_id}` };
    }
    if (unit.status !== "running") return { code: "not_active", message: `${where} is ${unit.status}` };
    if (event.status === "succeeded") {
      this.succeed(found, event.output);
    } else if (event.status === "cancelled") {
      this.end(found, "cancelled", {
        code: "workflow_cancelled",
        message: `sub-workflow ${event.workflow_id} was cancelled`,
        retryable: false,
      });
    } else {
      this.attemptFailed(found, {
        code: "workflow_failed",
        message: `sub-workflow ${event.workflow_id} failed`,
        retryable: true,
      });
    }
    this.settle();
    return null;
  }

  private onApproval(event: Extract<WorkflowEvent, { type: "approval_decided" }>): Ignored | null {
    const found = this.locate(event);
    if ("code" in found) return found;
    const unit = this.unit(found);
    const where = describe(event.step, found.index);
    if (unit.approval_id !== event.approval_id) {
      return { code: "stale_approval", message: `${where} is not waiting on decision ${event.approval_id}` };
    }
    if (unit.status !== "waiting") return { code: "not_active", message: `${where} is ${unit.status}` };
    if (event.approved) {
      this.succeed(found, event.output ?? { approved: true });
    } else {
      this.end(found, "failed", {
        code: "approval_rejected",
        message: "the approval was rejected",
        retryable: false,
      });
    }
    this.settle();
    return null;
  }

  private onTimer(id: string): Ignored | null {
    const timer = this.timers.find((t) => t.id === id);
    if (timer === undefined) return { code: "unknown_timer", message: `the run has no timer ${id}` };
    if (this.now < timer.at) return { code: "timer_not_due", message: `timer ${id} is due at ${timer.at}` };
    this.timers = this.timers.filter((t) => t.id !== id);
    if (timer.purpose === "workflow_timeout") {
      assert(this.phase === "forward", "the workflow timeout outlived the forward phase");
      this.beginFailing({
        code: "workflow_timeout",
        step: null,
        message: `the workflow did not finish within ${this.definition.timeout_ms} ms`,
      });
    } else {
      const unit = this.locate({ step: timer.step!, index: timer.index });
      assert(!("code" in unit), () => `timer ${id} names no unit`);
      this.onUnitTimer(unit, timer.purpose);
    }
    this.settle();
    return null;
  }

  private onUnitTimer(unit: Unit, purpose: Exclude<TimerPurpose, "workflow_timeout">): void {
    const state = this.unit(unit);
    const step = this.definition.steps[unit.pos]!;
    switch (purpose) {
      case "timer":
        assert(state.status === "waiting", "a timer step's timer fired while it was not waiting");
        this.succeed(unit, { fired_at: this.now });
        return;
      case "retry":
        assert(state.status === "waiting", "a retry timer fired for a unit that was not waiting");
        this.patch(unit, { status: "ready" });
        return;
      case "step_timeout": {
        const error: StepError = {
          code: "step_timeout",
          message: `the step did not finish within ${step.timeout_ms} ms`,
          retryable: true,
        };
        this.cancelWork(unit);
        if (step.type === "workflow") this.attemptFailed(unit, error);
        else this.end(unit, "failed", error);
        return;
      }
    }
  }

  // ---- settling: readiness, slots, failure, completion ----

  /** Moves the run as far as it goes without another event. */
  private settle(): void {
    const bound = 16 * (this.steps.length + 10) + 10 * WORKFLOW_LIMITS.forEachItems;
    for (let pass = 0; ; pass++) {
      assert(pass < bound, "the engine did not settle");
      this.changed = false;
      if (this.phase === "forward") this.settleForward();
      if (this.phase === "compensating") this.settleCompensation();
      if (!this.changed) return;
    }
  }

  /**
   * One forward pass: decide, check for an unhandled failure, then activate and start what is
   * ready. A unit that ends synchronously (an event already received, a bad for_each list, an
   * oversized input) ends the pass, so the next one decides again before anything else
   * starts: under fail_fast nothing is started after a failure that will stop the run.
   */
  private settleForward(): void {
    this.decidePending();
    if (this.definition.on_failure === "fail_fast") {
      const unhandled = this.unhandledFailure();
      if (unhandled !== null) {
        this.beginFailing(this.stepFailure(unhandled));
        return;
      }
    }
    this.endedNow = false;
    this.activateReady();
    if (this.endedNow) return;
    this.fillSlots();
    if (this.endedNow) return;
    if (this.forwardEnded()) {
      const unhandled = this.unhandledFailure();
      if (unhandled === null) this.finish("succeeded");
      else this.beginFailing(this.stepFailure(unhandled));
    }
  }

  /**
   * Decides the pending forward steps whose inputs changed, in topological order, so a
   * decision (a skip) is seen by its dependents in the same pass.
   */
  private decidePending(): void {
    if (!this.anyUndecided) return;
    this.anyUndecided = false;
    for (const pos of this.compiled.order) {
      if (this.undecided[pos] === 0) continue;
      this.undecided[pos] = 0;
      if (this.steps[pos]!.status !== "pending") continue;
      const step = this.definition.steps[pos]!;
      let good = 0;
      let pending = 0;
      for (const dep of this.compiled.deps[pos]!) {
        const status = this.steps[dep]!.status;
        if (!STEP_TERMINAL.has(status)) pending++;
        else if (countsAsGood(step.when, status)) good++;
      }
      const decision = decideCounts(step.threshold, good, pending);
      if (decision === "ready") this.patch({ pos, index: null }, { status: "ready", ready_at: this.now });
      else if (decision === "skip")
        this.patch({ pos, index: null }, { status: "skipped", ended_at: this.now });
    }
  }

  private markUndecided(pos: number): void {
    this.undecided[pos] = 1;
    this.anyUndecided = true;
  }

  /** Whether every forward step has ended (checked from the end of the order, where open steps usually are). */
  private forwardEnded(): boolean {
    const order = this.compiled.order;
    for (let i = order.length - 1; i >= 0; i--)
      if (!STEP_TERMINAL.has(this.steps[order[i]!]!.status)) return false;
    return true;
  }

  /** Activates ready steps that need no slot (fan-outs, events, timers, approvals), until one ends at once. */
  private activateReady(): void {
    for (const pos of this.compiled.order) {
      if (this.steps[pos]!.status !== "ready" || !needsActivation(this.definition.steps[pos]!)) continue;
      this.activate(pos);
      if (this.endedNow) return;
    }
  }

  /**
   * The first forward step (in topological order) whose failure nothing handles: it failed or
   * was cancelled, and every step depending on it was skipped (or none does). A failure is
   * handled as soon as a dependent becomes ready, and undecided while a dependent is pending.
   */
  private unhandledFailure(): number | null {
    for (const pos of this.compiled.order) {
      const status = this.steps[pos]!.status;
      if (status !== "failed" && status !== "cancelled") continue;
      if (this.compiled.dependents[pos]!.every((dep) => this.steps[dep]!.status === "skipped")) return pos;
    }
    return null;
  }

  private stepFailure(pos: number): RunFailure {
    const state = this.steps[pos]!;
    const why = state.error === null ? state.status : state.error.message;
    return { code: "step_failed", step: state.id, message: `step "${state.id}" ${state.status}: ${why}` };
  }

  /** Starts ready task and workflow units while running ones are under max_running_steps. */
  private fillSlots(): void {
    const limit = this.definition.max_running_steps ?? Number.POSITIVE_INFINITY;
    let running = this.runningUnits();
    if (running >= limit) return;
    const candidates: Unit[] = [];
    for (const pos of this.compiled.order) {
      const state = this.steps[pos]!;
      if (state.children === null) {
        if (state.status === "ready") candidates.push({ pos, index: null });
      } else if (state.status === "running") {
        for (const child of state.children)
          if (child.status === "ready") candidates.push({ pos, index: child.index });
      }
    }
    // A stable sort keeps topological order, then item order, within a priority.
    candidates.sort(
      (a, b) => this.definition.steps[b.pos]!.priority - this.definition.steps[a.pos]!.priority,
    );
    for (const candidate of candidates) {
      if (running >= limit) return;
      this.startUnit(candidate);
      if (this.endedNow) return;
      if (this.unit(candidate).status === "running") running++;
    }
  }

  /** Units holding a slot: running tasks and sub-workflows (a for_each step counts its items). */
  private runningUnits(): number {
    let running = 0;
    for (const state of this.steps) {
      if (state.children === null) {
        if (state.status === "running") running++;
      } else {
        for (const child of state.children) if (child.status === "running") running++;
      }
    }
    return running;
  }

  /** The run failed: stop the forward steps, then compensate what succeeded, latest first. */
  private beginFailing(failure: RunFailure): void {
    assert(this.phase === "forward", "a run fails once");
    this.failure = failure;
    for (const pos of this.compiled.order) this.stopStep(pos);
    this.clearAllTimers();
    this.compensation = this.compiled.order
      .filter(
        (pos) => this.steps[pos]!.status === "succeeded" && this.definition.steps[pos]!.compensate !== null,
      )
      .sort((a, b) => this.steps[b]!.completed! - this.steps[a]!.completed!)
      .map((pos) => this.definition.steps[pos]!.compensate!);
    this.phase = "compensating";
    this.changed = true;
  }

  /** Runs compensation steps one at a time; the run ends failed after the last. */
  private settleCompensation(): void {
    for (let guard = 0; guard <= 2 * this.steps.length + 2; guard++) {
      const active = this.activeCompensation();
      if (active !== null) {
        if (this.steps[active]!.status !== "ready") return;
        this.startUnit({ pos: active, index: null });
        continue;
      }
      const next = this.compensation[0];
      if (next === undefined) {
        this.finish("failed");
        return;
      }
      this.compensation = this.compensation.slice(1);
      this.becomeReady(this.compiled.position.get(next)!);
    }
    assert(false, "compensation did not settle");
  }

  /** The compensation step that has started and not ended, if any (there is at most one). */
  private activeCompensation(): number | null {
    for (let pos = 0; pos < this.steps.length; pos++) {
      if (this.definition.steps[pos]!.compensates === null) continue;
      const status = this.steps[pos]!.status;
      if (status === "ready" || status === "waiting" || status === "running") return pos;
    }
    return null;
  }

  /** Ends the run: whatever has not ended is stopped, timers cleared, the runtime told. */
  private finish(status: "succeeded" | "failed" | "cancelled"): void {
    for (let pos = 0; pos < this.steps.length; pos++) {
      assert(
        status === "cancelled" ||
          this.definition.steps[pos]!.compensates !== null ||
          STEP_TERMINAL.has(this.steps[pos]!.status),
        "a run ended with a forward step still active",
      );
      this.stopStep(pos);
    }
    this.clearAllTimers();
    this.compensation = [];
    this.output = status === "succeeded" ? this.runOutput() : null;
    this.status = status;
    this.phase = "ended";
    this.endedAt = this.now;
    this.changed = true;
    this.effects.push({
      type: "workflow_finished",
      status,
      output: this.output,
      failure: this.failure,
      parent: this.run.parent,
    });
  }

  /** The definition's output template, or the outputs of the steps nothing depends on, by id. */
  private runOutput(): JsonValue {
    if (this.definition.output !== null) {
      return resolveTemplates(this.definition.output, this.scope({ pos: -1, index: null })).value;
    }
    const leaves = this.compiled.order.filter(
      (pos) => this.compiled.dependents[pos]!.length === 0 && this.steps[pos]!.status === "succeeded",
    );
    return Object.fromEntries(leaves.map((pos) => [this.steps[pos]!.id, this.steps[pos]!.output]));
  }

  // ---- units: ready, start, succeed, fail, stop ----

  /** A compensation step's turn: ready, and activated at once (it needs no slot). */
  private becomeReady(pos: number): void {
    this.patch({ pos, index: null }, { status: "ready", ready_at: this.now });
    if (needsActivation(this.definition.steps[pos]!)) this.activate(pos);
  }

  /** A ready step that needs no slot: fan out, or wait for its event, time or decision. */
  private activate(pos: number): void {
    const step = this.definition.steps[pos]!;
    const unit: Unit = { pos, index: null };
    if (step.for_each !== null) {
      this.expand(pos, step.for_each);
      return;
    }
    switch (step.type) {
      case "task":
      case "workflow":
        assert(false, "tasks and sub-workflows start in a slot");
        return;
      case "event": {
        this.patch(unit, { status: "waiting", attempts: 1, started_at: this.now });
        const received = this.events.find((event) => event.name === step.event);
        if (received !== undefined) this.succeed(unit, received.data);
        else this.setStepTimeout(unit, step, 1);
        return;
      }
      case "timer": {
        const at = step.at ?? this.now + step.duration_ms!;
        this.patch(unit, { status: "waiting", attempts: 1, started_at: this.now });
        if (at <= this.now) this.succeed(unit, { fired_at: this.now });
        else this.setTimer(`${this.run.id}:${step.id}:timer`, at, "timer", unit);
        return;
      }
      case "approval": {
        const resolved = this.resolve(step.input, unit);
        const approvalId = `${this.run.id}:${step.id}:1`;
        this.patch(unit, {
          status: "waiting",
          attempts: 1,
          approval_id: approvalId,
          started_at: this.now,
          missing: resolved.missing,
        });
        this.effects.push({
          type: "open_approval",
          step: step.id,
          index: null,
          approval_id: approvalId,
          team: step.team,
          voters: step.voters,
          quorum: step.quorum,
          data: resolved.value,
        });
        this.setStepTimeout(unit, step, 1);
        return;
      }
    }
  }

  /** A for_each step fans out to one ready unit per item of its list. */
  private expand(pos: number, source: JsonValue): void {
    const unit: Unit = { pos, index: null };
    const resolved = this.resolve(source, unit);
    const items = resolved.value;
    this.patch(unit, { missing: resolved.missing });
    if (!Array.isArray(items)) {
      const message = `for_each gave ${items === null ? "nothing" : typeof items}, not a list`;
      this.end(unit, "failed", { code: "for_each_not_list", message, retryable: false });
      return;
    }
    if (items.length > WORKFLOW_LIMITS.forEachItems) {
      const message = `for_each gave ${items.length} items; the limit is ${WORKFLOW_LIMITS.forEachItems}`;
      this.end(unit, "failed", { code: "for_each_too_large", message, retryable: false });
      return;
    }
    if (items.length === 0) {
      this.patch(unit, { children: [], started_at: this.now });
      this.succeed(unit, []);
      return;
    }
    const children: ChildState[] = items.map((item, index) => ({
      ...EMPTY_UNIT,
      index,
      item,
      status: "ready",
      ready_at: this.now,
    }));
    this.patch(unit, { status: "running", started_at: this.now, children });
  }

  /** Starts a ready task or workflow unit: its input resolved, a task submitted or a sub-workflow started. */
  private startUnit(unit: Unit): void {
    const step = this.definition.steps[unit.pos]!;
    const state = this.unit(unit);
    assert(state.status === "ready", "only a ready unit starts");
    assert(step.type === "task" || step.type === "workflow", "only tasks and sub-workflows take a slot");
    const resolved = this.resolve(step.input, unit);
    this.patch(unit, { missing: resolved.missing });
    const bytes = utf8Length(JSON.stringify(resolved.value));
    if (bytes > WORKFLOW_LIMITS.inputBytes) {
      const message = `its input is ${bytes} bytes of JSON; the limit is ${WORKFLOW_LIMITS.inputBytes}`;
      this.end(unit, "failed", { code: "input_too_large", message, retryable: false });
      return;
    }
    const attempt = state.attempts + 1;
    const key = `${this.run.id}:${unitKey(step.id, unit.index)}:${attempt}`;
    const started = {
      status: "running" as const,
      attempts: attempt,
      started_at: state.started_at ?? this.now,
    };
    if (step.type === "task") {
      const taskId = derivedUuid(this.run.id, key);
      this.patch(unit, { ...started, task_id: taskId, task_attempts: null });
      this.effects.push({
        type: "submit_task",
        step: step.id,
        index: unit.index,
        task_id: taskId,
        idempotency_key: key,
        task_type: step.task_type,
        team: step.delegate_to ?? step.team,
        delegated_from: step.delegate_to === null ? null : step.team,
        skills: step.skills,
        input: resolved.value,
        priority: step.priority,
        timeout_ms: step.timeout_ms,
        max_attempts: step.retry.max_attempts,
        backoff: step.retry.backoff,
      });
      return;
    }
    if (!isRecord(resolved.value)) {
      this.end(unit, "failed", {
        code: "invalid_input",
        message: "a sub-workflow's input must be an object",
        retryable: false,
      });
      return;
    }
    if (this.run.depth + 1 > WORKFLOW_LIMITS.depth) {
      const message = `sub-workflows nest at most ${WORKFLOW_LIMITS.depth} deep`;
      this.end(unit, "failed", { code: "workflow_too_deep", message, retryable: false });
      return;
    }
    const workflowId = derivedUuid(this.run.id, key);
    this.patch(unit, { ...started, workflow_id: workflowId });
    this.effects.push({
      type: "start_workflow",
      step: step.id,
      index: unit.index,
      workflow_id: workflowId,
      idempotency_key: key,
      name: step.workflow.name,
      version: step.workflow.version,
      team: step.workflow.team ?? step.team,
      input: resolved.value,
      priority: step.priority,
      depth: this.run.depth + 1,
      parent: { workflow_id: this.run.id, step: step.id, index: unit.index },
    });
    this.setStepTimeout(unit, step, attempt);
  }

  /** A unit succeeded; a for_each step succeeds with its last item. */
  private succeed(unit: Unit, output: JsonValue): void {
    this.clearUnitTimers(unit);
    this.patch(unit, { status: "succeeded", output, ended_at: this.now });
    if (unit.index === null) {
      this.markCompleted(unit.pos);
      return;
    }
    const parent = this.steps[unit.pos]!;
    if (parent.children!.every((child) => child.status === "succeeded")) {
      const outputs = parent.children!.map((child) => child.output);
      this.patch(
        { pos: unit.pos, index: null },
        { status: "succeeded", output: outputs, ended_at: this.now },
      );
      this.markCompleted(unit.pos);
    }
  }

  private markCompleted(pos: number): void {
    if (this.definition.steps[pos]!.compensates !== null) return;
    this.sequence++;
    this.patch({ pos, index: null }, { completed: this.sequence });
  }

  /** A unit failed or was cancelled from outside; a for_each step fails with its first such item. */
  private end(unit: Unit, status: "failed" | "cancelled", error: StepError): void {
    this.endedNow = true;
    this.clearUnitTimers(unit);
    this.patch(unit, { status, error, ended_at: this.now });
    if (unit.index === null) return;
    const parent = this.steps[unit.pos]!;
    for (const child of parent.children!) this.stopUnit({ pos: unit.pos, index: child.index });
    const message = `item ${unit.index} ${status}: ${error.message}`;
    this.patch(
      { pos: unit.pos, index: null },
      {
        status: "failed",
        error: { code: "item_failed", message, retryable: error.retryable },
        ended_at: this.now,
      },
    );
  }

  /** A sub-workflow attempt failed: start another after the backoff, or fail the unit. */
  private attemptFailed(unit: Unit, error: StepError): void {
    const step = this.definition.steps[unit.pos]!;
    const state = this.unit(unit);
    const maxAttempts = step.retry.max_attempts ?? 1;
    if (state.attempts >= maxAttempts) {
      this.end(unit, "failed", error);
      return;
    }
    this.clearUnitTimers(unit);
    const delayMs = backoffDelayMs(
      toBackoff(step.retry.backoff),
      state.attempts,
      `${this.run.id}:${unitKey(step.id, unit.index)}`,
    );
    this.patch(unit, { error, workflow_id: null });
    if (delayMs <= 0) {
      this.patch(unit, { status: "ready" });
    } else {
      this.patch(unit, { status: "waiting" });
      this.setTimer(
        `${this.run.id}:${unitKey(step.id, unit.index)}:retry:${state.attempts}`,
        this.now + delayMs,
        "retry",
        unit,
      );
    }
  }

  /** Stops a step the engine no longer wants: active units cancelled, the rest skipped. */
  private stopStep(pos: number): void {
    const state = this.steps[pos]!;
    if (STEP_TERMINAL.has(state.status)) return;
    if (state.children === null) {
      this.stopUnit({ pos, index: null });
      return;
    }
    for (const child of state.children) this.stopUnit({ pos, index: child.index });
    this.patch({ pos, index: null }, { status: "cancelled", ended_at: this.now });
  }

  /** Stops one unit: what runs is cancelled (and told), what has not started is skipped. */
  private stopUnit(unit: Unit): void {
    const state = this.unit(unit);
    if (STEP_TERMINAL.has(state.status)) return;
    if (state.status === "pending" || state.status === "ready") {
      this.patch(unit, { status: "skipped", ended_at: this.now });
      return;
    }
    this.cancelWork(unit);
    this.clearUnitTimers(unit);
    this.patch(unit, { status: "cancelled", ended_at: this.now });
  }

  /** Tells the runtime to stop what a unit has outside the run: its task, sub-workflow or decision. */
  private cancelWork(unit: Unit): void {
    const state = this.unit(unit);
    const step = this.steps[unit.pos]!.id;
    if (state.status === "running" && state.task_id !== null) {
      this.effects.push({ type: "cancel_task", step, index: unit.index, task_id: state.task_id });
    } else if (state.status === "running" && state.workflow_id !== null) {
      this.effects.push({ type: "cancel_workflow", step, index: unit.index, workflow_id: state.workflow_id });
    } else if (state.status === "waiting" && state.approval_id !== null) {
      this.effects.push({ type: "cancel_approval", step, index: unit.index, approval_id: state.approval_id });
    }
  }

  // ---- timers ----

  private setStepTimeout(unit: Unit, step: StepDefinition, attempt: number): void {
    if (step.timeout_ms === null) return;
    const id = `${this.run.id}:${unitKey(step.id, unit.index)}:timeout:${attempt}`;
    this.setTimer(id, this.now + step.timeout_ms, "step_timeout", unit);
  }

  private setTimer(id: string, at: number, purpose: TimerPurpose, unit: Unit | null): void {
    assert(!this.timers.some((timer) => timer.id === id), () => `timer ${id} is set twice`);
    const timer: RunTimer = {
      id,
      at,
      purpose,
      step: unit === null ? null : this.steps[unit.pos]!.id,
      index: unit === null ? null : unit.index,
    };
    this.timers.push(timer);
    this.effects.push({ type: "set_timer", timer });
  }

  private clearUnitTimers(unit: Unit): void {
    const step = this.steps[unit.pos]!.id;
    const mine = (timer: RunTimer): boolean => timer.step === step && timer.index === unit.index;
    if (!this.timers.some(mine)) return;
    for (const timer of this.timers)
      if (mine(timer)) this.effects.push({ type: "clear_timer", timer: timer.id });
    this.timers = this.timers.filter((timer) => !mine(timer));
  }

  private clearAllTimers(): void {
    for (const timer of this.timers) this.effects.push({ type: "clear_timer", timer: timer.id });
    this.timers = [];
  }

  // ---- state access ----

  /** Finds the unit an event names, or says why it names none. */
  private locate(ref: UnitRef): Unit | Ignored {
    const pos = this.compiled.position.get(ref.step);
    if (pos === undefined) return { code: "unknown_step", message: `the workflow has no step "${ref.step}"` };
    const index = ref.index ?? null;
    const state = this.steps[pos]!;
    if (this.definition.steps[pos]!.for_each === null) {
      if (index === null) return { pos, index };
      return { code: "unknown_item", message: `step "${ref.step}" has no items` };
    }
    if (index === null)
      return { code: "unknown_item", message: `step "${ref.step}" runs per item: name the index` };
    if (state.children === null || !Number.isInteger(index) || index < 0 || index >= state.children.length) {
      return { code: "unknown_item", message: `step "${ref.step}" has no item ${index}` };
    }
    return { pos, index };
  }

  private unit(unit: Unit): UnitState {
    const state = this.steps[unit.pos]!;
    return unit.index === null ? state : state.children![unit.index]!;
  }

  /** Writes a copy of a unit with `changes` (the run's objects are never written). */
  private patch(unit: Unit, changes: Partial<Mutable<StepState>>): void {
    const state = this.steps[unit.pos]!;
    if (changes.status !== undefined && changes.status !== this.unit(unit).status) {
      assertTransition(this.unit(unit).status, changes.status);
      this.changed = true;
      if (unit.index === null && STEP_TERMINAL.has(changes.status)) {
        for (const dependent of this.compiled.dependents[unit.pos]!) this.markUndecided(dependent);
      }
    }
    if (unit.index === null) {
      this.steps[unit.pos] = { ...state, ...changes };
      return;
    }
    const children = [...state.children!];
    children[unit.index] = { ...children[unit.index]!, ...changes };
    this.steps[unit.pos] = { ...state, children };
  }

  private resolve(template: JsonValue, unit: Unit): Resolved {
    return resolveTemplates(template, this.scope(unit));
  }

  /** What templates in a unit's input see: the run's input, its steps, and the unit's item. */
  private scope(unit: Unit): TemplateScope {
    const child =
      unit.index === null || unit.pos < 0 ? null : (this.steps[unit.pos]!.children?.[unit.index] ?? null);
    return {
      lookup: (reference) => {
        const path = reference.path;
        switch (reference.root) {
          case "input":
            return walkPath(this.run.input, path);
          case "item":
            return child === null ? undefined : walkPath(child.item, path);
          case "index":
            return child === null || path.length > 0 ? undefined : child.index;
          case "workflow":
            return path.length !== 1 ? undefined : workflowField(this.run, path[0]!);
          case "steps":
            return this.stepValue(path);
          default:
            return undefined;
        }
      },
    };
  }

  private stepValue(path: readonly string[]): JsonValue | undefined {
    const [id, field, ...rest] = path;
    const pos = id === undefined ? undefined : this.compiled.position.get(id);
    if (pos === undefined) return undefined;
    const state = this.steps[pos]!;
    if (field === "status") return rest.length === 0 ? state.status : undefined;
    if (field !== "output" || state.status !== "succeeded") return undefined;
    return walkPath(state.output ?? undefined, rest);
  }
}

/** Whether a ready step acts without a slot: fan-outs, and steps that wait for something outside. */
function needsActivation(step: StepDefinition): boolean {
  return step.for_each !== null || (step.type !== "task" && step.type !== "workflow");
}

function workflowField(run: WorkflowRun, field: string): JsonValue | undefined {
  if (field === "id") return run.id;
  if (field === "name") return run.definition.name;
  if (field === "version") return run.definition.version;
  return undefined;
}

function describe(step: string, index: number | null): string {
  return index === null ? `step "${step}"` : `item ${index} of step "${step}"`;
}

function toBackoff(policy: BackoffPolicy): {
  initialMs: number;
  multiplier: number;
  maxMs: number;
  jitter: number;
} {
  return {
    initialMs: policy.initial_ms,
    multiplier: policy.multiplier,
    maxMs: policy.max_ms,
    jitter: policy.jitter,
  };
}

/** The transitions a unit may make; anything else is a bug in the engine. */
const TRANSITIONS: Readonly<Record<StepStatus, readonly StepStatus[]>> = {
  pending: ["ready", "skipped"],
  ready: ["waiting", "running", "succeeded", "failed", "skipped"],
  waiting: ["ready", "succeeded", "failed", "cancelled"],
  running: ["succeeded", "failed", "cancelled", "ready", "waiting"],
  succeeded: [],
  failed: [],
  cancelled: [],
  skipped: [],
};

function assertTransition(from: StepStatus, to: StepStatus): void {
  assert(TRANSITIONS[from].includes(to), () => `a unit cannot go from ${from} to ${to}`);
}
