/**
 * The executor: runs the engine inside one entry. It feeds a run an event, carries out the
 * effects the engine asks for (submits and cancels tasks through the tasks module's commands,
 * starts and cancels sub-workflows, records approvals and timers, tells a parent its child ended)
 * and feeds the runs those effects touch, until nothing is left to do. Everything happens in the
 * entry being applied: a step's end and its successors' tasks are one change, on every replica.
 *
 * Rules it adds to the engine's:
 * - A task the tasks module refuses (its team's queue is full, the cluster holds too many) fails
 *   its step at once with the refusal's code: a workflow never waits on a task that does not exist.
 * - A team at its step limit (WORKFLOW_TEAM_STEP_LIMIT) keeps the step's task back until one of
 *   the team's workflow tasks ends; the step shows as running, its task as not yet submitted.
 * - A delegated step's task goes to the delegate team's agents with the `coordinator` skill.
 * - A sub-workflow of a name nobody registered fails its step (code workflow_not_found).
 */

import { assert } from "../raft/assert.js";
import type { ApplyContext, JsonValue, RowChange } from "../control/index.js";
import { cancelCommand, submitCommand, type SubmitBody } from "../tasks/commands.js";
import { tasksState } from "../tasks/module.js";
import { TERMINAL } from "../tasks/task.js";
import { advance, create } from "./engine.js";
import { derivedUuid } from "./ids.js";
import type { Advanced, WorkflowEffect, WorkflowEvent, WorkflowRun, Ignored } from "./run.js";
import { WORKFLOW_TERMINAL } from "./run.js";
import { RUN_LIMITS, type RunRecord, type WorkflowsState } from "./state.js";
import { workflowTableRow } from "./views.js";

/** The skill a delegated step's task asks of the delegate team's agents. */
export const COORDINATOR_SKILL = "coordinator";

type SubmitEffect = Extract<WorkflowEffect, { type: "submit_task" }>;

/** A new run to create in this entry. */
export interface NewRun {
  readonly run: WorkflowRun;
  readonly ref: string | null;
  readonly team: string;
  readonly idempotency_key: string | null;
  readonly expands_task: string | null;
}

/** One entry's work on the workflows: build one per command, then `rows()` for its changes. */
export class Executor {
  private readonly queue: { readonly id: string; readonly event: WorkflowEvent }[] = [];
  private readonly touched = new Set<string>();
  private draining = false;

  constructor(
    private readonly state: WorkflowsState,
    private readonly context: ApplyContext,
  ) {}

  /** Records a new run (status created); `start` then runs it. */
  add(created: NewRun): RunRecord {
    const record: RunRecord = { ...created, revision: 1, seq: ++this.state.seq };
    this.state.put(record);
    this.touched.add(record.run.id);
    return record;
  }

  /** Feeds `event` to run `id` and everything that follows from it; says why it changed nothing, if it did not. */
  feed(id: string, event: WorkflowEvent): Ignored | null {
    const ignored = this.step(id, event);
    this.drain();
    return ignored;
  }

  /** The rows this entry changed: every touched run's, and the evicted runs' deletions. */
  rows(): RowChange[] {
    const changes: RowChange[] = [];
    for (const id of this.touched) {
      const record = this.state.get(id);
      if (record !== undefined)
        changes.push({ table: "cross_team_workflows", op: "upsert", row: workflowTableRow(record) });
    }
    for (const id of this.state.evicted)
      changes.push({ table: "cross_team_workflows", op: "delete", key: { id } });
    this.state.evicted = [];
    return changes;
  }

  /** A workflow task ended: its slot is free, and its run hears how it went. */
  taskEnded(taskId: string, workflowId: string, event: WorkflowEvent | null): void {
    const team = this.state.active.get(taskId);
    if (team !== undefined) {
      this.state.active.delete(taskId);
      this.state.teamActive.set(team, (this.state.teamActive.get(team) ?? 1) - 1);
      this.release(team);
    }
    const expansion = this.state.expansions.get(taskId);
    if (expansion !== undefined && event !== null && event.type !== "task_succeeded") {
      this.step(expansion, { type: "cancel", reason: `the task it expands ended ${event.type.slice(5)}` });
    }
    if (event !== null && this.state.get(workflowId) !== undefined) this.step(workflowId, event);
    this.drain();
  }

  /** Submits waiting steps of every team whose limit now allows (the settings changed). */
  releaseAll(): void {
    for (const team of [...this.state.deferred.keys()].sort()) this.release(team);
    this.drain();
  }

  /** A decision an approval step waits on was decided. */
  decided(decision: number, approved: boolean, votes: JsonValue): void {
    const approvalId = this.state.byDecision.get(decision);
    if (approvalId === undefined) return;
    const approval = this.state.approvals.get(approvalId)!;
    this.closeApproval(approvalId);
    this.step(approval.workflow_id, {
      type: "approval_decided",
      step: approval.step,
      index: approval.index,
      approval_id: approvalId,
      approved,
      output: { approved, decision, votes },
    });
    this.drain();
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift())
        this.step(next.id, next.event);
    } finally {
      this.draining = false;
    }
  }

  private later(id: string, event: WorkflowEvent): void {
    this.queue.push({ id, event });
  }

  private step(id: string, event: WorkflowEvent): Ignored | null {
    const record = this.state.get(id);
    if (record === undefined) return { code: "invalid_event", message: `no workflow ${id}` };
    const advanced: Advanced = advance(record.run, event, this.context.timestamp);
    if (advanced.ignored !== null) return advanced.ignored;
    const updated: RunRecord = { ...record, run: advanced.run, revision: record.revision + 1 };
    this.state.put(updated);
    this.touched.add(id);
    for (const effect of advanced.effects) this.execute(updated, effect);
    return null;
  }

  private execute(record: RunRecord, effect: WorkflowEffect): void {
    const id = record.run.id;
    switch (effect.type) {
      case "submit_task":
        return this.submitOrDefer(id, effect);
      case "cancel_task":
        return this.cancelTask(effect.task_id);
      case "start_workflow":
        return this.startChild(record, effect);
      case "cancel_workflow":
        return this.later(effect.workflow_id, { type: "cancel", reason: "its parent step was stopped" });
      case "open_approval": {
        this.state.approvals.set(effect.approval_id, {
          approval_id: effect.approval_id,
          workflow_id: id,
          step: effect.step,
          index: effect.index,
          team: effect.team,
          voters: effect.voters,
          quorum: effect.quorum,
          data: effect.data,
          decision: null,
        });
        this.state.unopened.add(effect.approval_id);
        return;
      }
      case "cancel_approval":
        return this.closeApproval(effect.approval_id);
      case "set_timer":
        return this.state.timers.add(id, effect.timer);
      case "clear_timer":
        return this.state.timers.remove(effect.timer);
      case "workflow_finished":
        return this.finished(record, effect);
    }
  }

  private finished(record: RunRecord, effect: Extract<WorkflowEffect, { type: "workflow_finished" }>): void {
    // The engine's finish already cleared the run's timers and cancelled its approvals (effects).
    if (effect.parent !== null) {
      this.later(effect.parent.workflow_id, {
        type: "workflow_ended",
        step: effect.parent.step,
        index: effect.parent.index,
        workflow_id: record.run.id,
        status: effect.status,
        output: effect.status === "succeeded" ? effect.output : failureOutput(effect.failure),
      });
    }
  }

  private closeApproval(approvalId: string): void {
    const approval = this.state.approvals.get(approvalId);
    if (approval === undefined) return;
    this.state.approvals.delete(approvalId);
    this.state.unopened.delete(approvalId);
    if (approval.decision !== null) this.state.byDecision.delete(approval.decision);
  }

  private submitOrDefer(workflowId: string, effect: SubmitEffect): void {
    const asking = effect.delegated_from ?? effect.team;
    const limit = this.state.stepLimit(asking);
    if (limit !== null && (this.state.teamActive.get(asking) ?? 0) >= limit) {
      const waiting = this.state.deferred.get(asking) ?? [];
      waiting.push({ ...effect, workflow_id: workflowId });
      this.state.deferred.set(asking, waiting);
      return;
    }
    this.submit(workflowId, effect);
  }

  /** Submits the next steps waiting for `team`'s slots, as far as its limit allows. */
  private release(team: string): void {
    const waiting = this.state.deferred.get(team);
    if (waiting === undefined) return;
    const limit = this.state.stepLimit(team);
    while (waiting.length > 0 && (limit === null || (this.state.teamActive.get(team) ?? 0) < limit)) {
      const next = waiting.shift()!;
      const run = this.state.get(next.workflow_id);
      if (run === undefined || WORKFLOW_TERMINAL.has(run.run.status)) continue;
      this.submit(next.workflow_id, next);
    }
    if (waiting.length === 0) this.state.deferred.delete(team);
  }

  private submit(workflowId: string, effect: SubmitEffect): void {
    const invoke = this.context.invoke;
    assert(invoke !== undefined, "the workflows module runs only where commands can be invoked");
    const asking = effect.delegated_from ?? effect.team;
    const body: SubmitBody = {
      id: effect.task_id,
      task_type: effect.task_type,
      priority: effect.priority,
      data: effect.input,
      team: asking,
      requirements: {
        skills:
          effect.delegated_from === null || effect.skills.includes(COORDINATOR_SKILL)
            ? [...effect.skills]
            : [...effect.skills, COORDINATOR_SKILL],
        team: effect.team,
        labels: [],
      },
      affinity_key: null,
      strategy: "least_connections",
      idempotency_key: effect.idempotency_key,
      timeout_ms: effect.timeout_ms === null ? null : Math.min(effect.timeout_ms, 7 * 86_400_000),
      schedule_to_start_ms: null,
      max_attempts: effect.max_attempts,
      backoff: { ...effect.backoff },
      workflow_id: workflowId,
    };
    const unit = { step: effect.step, index: effect.index, task_id: effect.task_id };
    if (this.state.bugs.submitTwice === true)
      invoke(submitCommand, {
        ...body,
        id: derivedUuid(body.id, "twice"),
        idempotency_key: `${body.idempotency_key}:twice`,
      });
    const outcome = invoke(submitCommand, body);
    if (!outcome.ok) {
      this.later(workflowId, {
        type: "task_failed",
        ...unit,
        error: `${outcome.code}: ${outcome.message}`,
        retryable: false,
      });
      return;
    }
    const task = outcome.value.task;
    if (TERMINAL.has(task.status)) {
      // Only a key submitted before (a snapshot from before this run knew it) can answer a finished task.
      this.later(
        workflowId,
        endedEvent(unit, task.status, task.result, task.error?.message ?? null, task.attempt),
      );
      return;
    }
    this.state.active.set(task.id, asking);
    this.state.teamActive.set(asking, (this.state.teamActive.get(asking) ?? 0) + 1);
  }

  private cancelTask(taskId: string): void {
    for (const [team, waiting] of this.state.deferred) {
      const at = waiting.findIndex((task) => task.task_id === taskId);
      if (at < 0) continue;
      waiting.splice(at, 1);
      if (waiting.length === 0) this.state.deferred.delete(team);
      return;
    }
    const tasks = this.context.read?.(tasksState);
    const task = tasks?.get(taskId);
    if (task === undefined || TERMINAL.has(task.status)) return;
    // Refused only if the task already ended, which was just ruled out; its end comes back as a notice.
    this.context.invoke!(cancelCommand, { id: taskId, reason: "its workflow step was stopped" });
  }

  private startChild(parent: RunRecord, effect: Extract<WorkflowEffect, { type: "start_workflow" }>): void {
    const unit = { step: effect.step, index: effect.index, workflow_id: effect.workflow_id };
    const failed = (code: string, message: string): void =>
      this.later(parent.run.id, {
        type: "workflow_ended",
        ...unit,
        status: "failed",
        output: { error: { code, message } },
      });
    if (this.state.get(effect.workflow_id) !== undefined) return;
    const registered = this.state.definition(effect.name, effect.version);
    if (registered === undefined) {
      const which = effect.version === null ? effect.name : `${effect.name} version ${effect.version}`;
      return failed("workflow_not_found", `no workflow definition ${which} is registered`);
    }
    if (this.state.liveCount >= RUN_LIMITS.liveRuns)
      return failed("limit_exceeded", `the cluster holds ${RUN_LIMITS.liveRuns} live workflows, its limit`);
    const definition = registered.definition;
    const run = create(
      definition,
      effect.input,
      { id: effect.workflow_id, parent: effect.parent, depth: effect.depth },
      this.context.timestamp,
    );
    this.add({
      run,
      ref: `${definition.name}@${definition.version}`,
      team: effect.team,
      idempotency_key: null,
      expands_task: null,
    });
    this.later(run.id, { type: "start" });
  }
}

/** The event a workflow task's end means for its unit. */
export function endedEvent(
  unit: { readonly step: string; readonly index: number | null; readonly task_id: string },
  status: string,
  result: JsonValue | null,
  error: string | null,
  attempts: number,
): WorkflowEvent {
  if (status === "succeeded") return { type: "task_succeeded", ...unit, output: result, attempts };
  if (status === "cancelled")
    return { type: "task_cancelled", ...unit, reason: error ?? "cancelled", attempts };
  return { type: "task_failed", ...unit, error: error ?? status, retryable: false, attempts };
}

function failureOutput(
  failure: { readonly code: string; readonly step: string | null; readonly message: string } | null,
): JsonValue {
  return failure === null
    ? null
    : { error: { code: failure.code, step: failure.step, message: failure.message } };
}
