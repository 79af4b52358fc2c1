/**
 * The worker inside an Agent: once a handler is registered (`agent.handle(taskType, handler)`),
 * it takes the tasks assigned to the agent and runs each with the handler of its task type, at
 * most `capacity` at once, then reports the attempt complete (with the handler's result) or
 * failed (with its error). A pull agent's tasks come from one loop that long-polls for them
 * (reading starts at `run()`); a push agent's come from juno's leader through the push listener
 * (push.ts), which hands them to `takePush()`, and the worker never polls.
 *
 * Rules, each for a reason:
 * - A poll asks for as many tasks as there are free slots, so the handlers running never exceed
 *   the capacity even when a cancelled handler is slow to notice its signal. With no free slot
 *   it does not poll (max_tasks cannot be 0); it checks the agent's running tasks in GET
 *   /tasks/status instead, so cancellations still arrive.
 * - Every poll lists the attempts running here; those no longer current come back in
 *   `cancelled`, and their handlers' signals abort. The server does not end a held poll for a
 *   cancellation, so while anything runs a poll waits at most `busyPollWaitMs`.
 * - A poll is not safe to repeat. When it fails other than by a refusal (a lost answer:
 *   outcome_unknown), the tasks it may have started are looked up in GET /tasks/status (for a few
 *   rounds, since the start may commit late) and run like delivered ones. An attempt this worker
 *   ran is never run again.
 * - A poll that hears 404 agent_not_found asks the Agent to register again and waits for it.
 * - A report is retried with backoff until it lands, is refused as stale (the attempt is no
 *   longer this agent's: nothing is left to do), or REPORT_ROUNDS_MAX rounds have passed. The
 *   attempt keeps its slot meanwhile, as the server still counts it.
 * - Reports travel together: those of attempts that finish close together share one POST
 *   /tasks/report (reporter.ts), one request in flight at a time, and each is still settled, retried
 *   and given up on by itself, as the rule above says. On a juno without that route they go
 *   through /tasks/{id}/complete and /fail, one request each, for the life of the agent.
 * - A busy pull agent takes its next work with its reports (`take`, reporter.ts): as many tasks as
 *   will be free once the batch's reports land, less what the poll in flight may hand out. While
 *   such a batch is out no poll starts, so that its tasks and a poll's never pass the capacity
 *   together; when it comes back empty, the poll loop takes over (a long-poll for what comes
 *   next). A batch that may have started tasks this worker never heard of (sent twice, or lost)
 *   makes the loop look for them, as after a lost poll answer.
 * - Beats list the attempts held here too, and those their answer says are no longer current
 *   (`cancel()`) are revoked like a poll's `cancelled`: for a push agent the beats are the only news.
 * - A push is taken whole or refused whole (partial acceptance is not in the API): refused while
 *   the worker is not running (not started, or stopping: juno places the tasks elsewhere), or when
 *   the live attempts here plus the new ones would pass the capacity. An attempt pushed again (a
 *   new leader re-sends what it cannot know was taken) is acknowledged and not run twice.
 * - A handler whose attempt was revoked (cancelled, moved, timed out) is not reported: the server
 *   would refuse it. A handler aborted by stop() that then throws is not reported either: it was
 *   interrupted, not failed, and deregistration hands the task on without charging the agent.
 */

import { isAgentNotFound, type JunoClient } from "./client.js";
import { hasErrorCode, isRecord, JunoApiError } from "./errors.js";
import { Reporter, type AttemptReport, type HandlerOutcome } from "./reporter.js";
import { backoffDelayMs, retryPolicy, type RetryPolicy } from "./retry-policy.js";
import { sleeperOn, type Sleep, type Timers } from "./timers.js";
import {
  FINISHED_WORKFLOW_STATUSES,
  type CancelledAttempt,
  type DeliveryMode,
  type RunningAttempt,
  type TaskDelivery,
  type TaskView,
  type WorkflowDefinitionInput,
} from "./types.js";

/** Runs one task; resolves with its result (any JSON, or undefined for none) or throws to fail it. */
export type TaskHandler = (task: TaskDelivery, context: TaskContext) => unknown;

/** What a handler is given besides the task. */
export interface TaskContext {
  /** Aborts when the attempt is cancelled or moved, runs past its timeout_ms, or the agent stops. */
  readonly signal: AbortSignal;
  /** The agent's id under which the attempt runs. */
  readonly agentId: string;
  readonly id: string;
  readonly attempt: number;
  readonly taskType: string;
  readonly data: unknown;
  /**
   * For a delegated task (a coordinator taking a step delegated to its team): runs `definition`
   * as a sub-workflow that expands this task, waits for it to end, and resolves with its output;
   * throws a NonRetryableError when it failed or was cancelled. Its idempotency key is this
   * task's id, so an attempt retried on another coordinator finds the run the first one started.
   * The signal ends the wait; juno cancels the sub-workflow itself when the task is cancelled.
   */
  expand(definition: WorkflowDefinitionInput, input?: Readonly<Record<string, unknown>>): Promise<unknown>;
}

/**
 * Thrown by a handler for a failure another attempt cannot fix: the task fails at once instead
 * of being retried. Any thrown object with `retryable: false` is treated the same, so errors
 * from another copy of the SDK count too.
 */
export class NonRetryableError extends Error {
  override name = "NonRetryableError";
  readonly retryable = false;
}

/** Why a handler's signal aborted, as `context.signal.reason`. */
export class TaskAbortedError extends Error {
  override name = "TaskAbortedError";

  constructor(
    /** cancelled: the attempt is no longer this agent's; timeout: timeout_ms passed; shutdown: stop(). */
    readonly kind: "cancelled" | "timeout" | "shutdown",
    message: string,
  ) {
    super(message);
  }
}

/**
 * What happened to an attempt: started, or how it ended as far as this agent knows.
 * completed/failed: the report landed. cancelled: the server said the attempt is no longer this
 * agent's. stale: a report was refused for that reason. interrupted: stop() cut it short and left
 * it to the server. unreported: the report could not be delivered.
 */
export type TaskOutcome =
  "started" | "completed" | "failed" | "cancelled" | "stale" | "interrupted" | "unreported";

/** The `task` event of an Agent. */
export interface TaskEvent {
  readonly id: string;
  readonly attempt: number;
  readonly taskType: string;
  readonly outcome: TaskOutcome;
  /** The handler's error, or the reason the attempt ended without a report; null otherwise. */
  readonly detail: string | null;
}

/** How the worker polls and drains (part of AgentOptions). */
export interface WorkerOptions {
  /** How long a poll may wait on the server while nothing runs here; default 20 s, 0.1..30 s. */
  readonly pollWaitMs?: number;
  /**
   * How long a poll may wait while tasks run here, and how often running tasks are checked with
   * no free slot: the bound on how late a cancellation arrives. Default 5 s, 0.1..30 s.
   */
  readonly busyPollWaitMs?: number;
  /** How long stop() waits for running handlers before it aborts their signals; default 30 s. */
  readonly drainTimeoutMs?: number;
  /** Backoff between failed polls; they are retried until stop(). */
  readonly pollRetry?: { readonly initialMs?: number; readonly maxMs?: number };
}

/** What the worker needs of its Agent. */
export interface WorkerHost {
  readonly client: JunoClient;
  /** pull: the worker polls. push: tasks arrive through takePush() and the worker never polls. */
  readonly delivery: DeliveryMode;
  /** Invariant: a whole number >= 1. */
  readonly capacity: number;
  readonly timers: Timers;
  readonly random: () => number;
  /** Resolves with the agent's id once it is registered, or with null once `signal` fires or it never will be. */
  registered(signal: AbortSignal): Promise<string | null>;
  /** The server no longer knows `id`: register again. */
  lost(id: string): void;
  emitTask(event: TaskEvent): void;
  emitError(error: unknown, during: "poll" | "report"): void;
}

/** The longest a poll may wait, the server's bound, and the shortest this worker lets one wait. */
export const POLL_WAIT_MAX_MS = 30_000;
export const POLL_WAIT_MIN_MS = 100;
/** The most tasks one poll may ask for, the server's bound. */
export const POLL_TASKS_MAX = 100;
/** The most running attempts one poll lists, the server's bound. */
export const RUNNING_LIST_MAX = 10_000;
/** The largest result kept, in bytes of JSON, and the longest error message: the server's bounds. */
export const RESULT_BYTES_MAX = 64 * 1024;
export const ERROR_LENGTH_MAX = 2_000;

const DEFAULT_POLL_WAIT_MS = 20_000;
const DEFAULT_BUSY_POLL_WAIT_MS = 5_000;
const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
const DEFAULT_POLL_RETRY = { initialMs: 200, maxMs: 10_000 };
/** Rounds of a report (each one a client call with its own retries and failover), then backoff. */
const REPORT_ROUNDS_MAX = 10;
const REPORT_RETRY: RetryPolicy = retryPolicy({ initialMs: 500, maxMs: 30_000 });
/** Polls after a lost poll answer that first look for tasks it may have started. */
const RECONCILE_ROUNDS = 3;
/** Pages of running tasks read in one check (500 each); beyond it, nothing is inferred. */
const RUNNING_PAGES_MAX = 20;
const RUNNING_PAGE_LIMIT = 500;
/** How long stop() waits for aborted handlers, and then for their reports, before it gives up on them. */
const ABORT_GRACE_MS = 2_000;
/** Attempts remembered as run here, so a late listing never runs one again. */
const ENDED_MAX = 10_000;

/**
 * Why a push was refused: not_ready (the worker has not started: no handler yet, or the agent
 * not started), draining (it is stopping), over_capacity (taking every new task would pass it).
 */
export type PushRefusal = "not_ready" | "draining" | "over_capacity";

/** What takePush() came to: every task taken (`accepted` of them, repeats included), or none. */
export type PushVerdict =
  | { readonly ok: true; readonly accepted: number; readonly fresh: number }
  | { readonly ok: false; readonly refusal: PushRefusal; readonly message: string };

/** One attempt this worker holds. */
interface Execution {
  /** `${id}#${attempt}`. */
  readonly key: string;
  readonly task: TaskDelivery;
  /** The registration it was delivered under; reports go in its name. */
  readonly agentId: string;
  readonly controller: AbortController;
  /** waiting: delivered, no slot yet. running: the handler runs. reporting: the report is under way. */
  phase: "waiting" | "running" | "reporting";
  /** Why the attempt is no longer this agent's, once the server said so. */
  revoked: string | null;
  /** Set when stop() aborted the handler. */
  interrupted: boolean;
}

/** Polls, runs handlers within the capacity, reports, and drains on stop. */
export class Worker {
  private readonly handlers = new Map<string, TaskHandler>();
  /** Invariant: slots in use (running + reporting) <= capacity. In delivery order. */
  private readonly executions = new Map<string, Execution>();
  /** Attempts run here to their end, oldest first; bounded by ENDED_MAX. */
  private readonly ended = new Set<string>();
  private readonly pollWaitMs: number;
  private readonly busyPollWaitMs: number;
  private readonly drainTimeoutMs: number;
  private readonly pollRetry: RetryPolicy;
  private readonly sleep: Sleep;
  /** Fires when stop() begins: ends the poll in flight and every wait of the loop. */
  private readonly halt = new AbortController();
  /** Fires when stop() gives up on reports. */
  private readonly reportHalt = new AbortController();
  /** Where the reports go: batched, or one by one on an older juno. */
  private readonly reporter: Reporter;
  private state: "idle" | "running" | "stopping" | "stopped" = "idle";
  private loop: Promise<void> = Promise.resolve();
  private nap: { readonly handle: unknown; readonly resolve: () => void; readonly onChange: boolean } | null =
    null;
  private reconcileRounds = 0;
  private pollFailures = 0;
  /** The registration the loop polls under (reports of an older one take nothing). */
  private agentId: string | null = null;
  /** The tasks the poll in flight may hand out (its max_tasks); 0 with none in flight. */
  private pollReserve = 0;
  /** Whether a report batch that takes tasks is out (no poll starts meanwhile). */
  private takeInFlight = false;
  /** While no slot is free: the timer after which the running attempts are checked, and whether it fired. */
  private checkHandle: unknown = null;
  private checkDue = false;
  /** Called whenever an attempt ends here, for stop() to wait on. */
  private onSettle: (() => void) | null = null;
  /** Set by hurry(): stop() aborts the running handlers without waiting for them. */
  private hurryRequested = false;
  private hurried: (() => void) | null = null;

  constructor(
    private readonly host: WorkerHost,
    options: WorkerOptions = {},
  ) {
    // A poll waits at least POLL_WAIT_MIN_MS, so an idle loop can never spin.
    this.pollWaitMs = checkWhole(
      "pollWaitMs",
      options.pollWaitMs ?? DEFAULT_POLL_WAIT_MS,
      POLL_WAIT_MIN_MS,
      POLL_WAIT_MAX_MS,
    );
    this.busyPollWaitMs = checkWhole(
      "busyPollWaitMs",
      options.busyPollWaitMs ?? DEFAULT_BUSY_POLL_WAIT_MS,
      POLL_WAIT_MIN_MS,
      POLL_WAIT_MAX_MS,
    );
    this.drainTimeoutMs = checkWhole(
      "drainTimeoutMs",
      options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
      0,
      3_600_000,
    );
    this.pollRetry = retryPolicy({ ...DEFAULT_POLL_RETRY, ...options.pollRetry });
    this.sleep = sleeperOn(host.timers);
    this.reporter = new Reporter({
      client: host.client,
      timers: host.timers,
      signal: this.reportHalt.signal,
      ...(host.delivery === "pull"
        ? {
            taker: {
              takeFor: (agentId, count) => this.takeFor(agentId, count),
              taken: (agentId, tasks, unsure) => this.taken(agentId, tasks, unsure),
            },
          }
        : {}),
    });
  }

  /** Attempts holding a slot: handlers running and reports under way. */
  get activeCount(): number {
    let count = 0;
    for (const execution of this.executions.values()) if (execution.phase !== "waiting") count++;
    return count;
  }

  /** Whether any handler is registered. */
  get hasHandlers(): boolean {
    return this.handlers.size > 0;
  }

  /** Registers the handler of `taskType`; a type has one handler. */
  handle(taskType: string, handler: TaskHandler): void {
    if (typeof taskType !== "string" || taskType.length === 0 || taskType.length > 50) {
      throw new RangeError(`a task type is 1..50 characters, got ${JSON.stringify(taskType)}`);
    }
    if (typeof handler !== "function") throw new TypeError("a handler is a function");
    if (this.handlers.has(taskType))
      throw new Error(`task type ${JSON.stringify(taskType)} already has a handler`);
    this.handlers.set(taskType, handler);
  }

  /** Starts taking tasks (for a pull agent, the poll loop); once. */
  start(): void {
    if (this.state !== "idle") return;
    this.state = "running";
    if (this.host.delivery === "push") return;
    this.loop = this.run().catch((error: unknown) => {
      // Only a bug of ours lands here; report it rather than leave a rejected promise behind.
      this.host.emitError(error, "poll");
    });
  }

  /**
   * Stops polling, waits up to drainTimeoutMs for the handlers running (and their reports), then
   * aborts their signals and waits a short grace before giving up on them. Tasks delivered but
   * not yet started are left to the server, which hands them on once the agent deregisters.
   */
  async stop(): Promise<void> {
    if (this.state === "stopping" || this.state === "stopped") return;
    const wasRunning = this.state === "running";
    this.state = "stopping";
    this.halt.abort(new Error("the agent is stopping"));
    this.wakeNap(true);
    this.stopCheckTimer();
    await this.loop;
    if (wasRunning) await this.drain();
    this.state = "stopped";
  }

  /**
   * Takes the tasks juno's leader pushed to `agentId` (already checked to be the agent's id), or
   * refuses them all. Taken ones wait for startWaiting(), which the caller calls once it has
   * answered: juno hears the answer before any handler runs.
   */
  takePush(agentId: string, tasks: readonly TaskDelivery[]): PushVerdict {
    assert(this.host.delivery === "push", "takePush is for push delivery");
    const refused = this.pushRefusal();
    if (refused !== null) return { ok: false, ...refused };
    const fresh = new Map<string, TaskDelivery>();
    for (const task of tasks) {
      const key = keyOf(task);
      if (!this.executions.has(key) && !this.ended.has(key)) fresh.set(key, task);
    }
    const live = this.liveCount();
    if (live + fresh.size > this.host.capacity) {
      return {
        ok: false,
        refusal: "over_capacity",
        message: `${live} attempts run here and ${fresh.size} more would pass the capacity of ${this.host.capacity}`,
      };
    }
    for (const [key, task] of fresh) this.hold(key, agentId, task);
    return { ok: true, accepted: tasks.length, fresh: fresh.size };
  }

  /** Why a push would be refused now whatever it carries, or null while the worker takes pushes. */
  pushRefusal(): { readonly refusal: PushRefusal; readonly message: string } | null {
    if (this.state === "idle") return { refusal: "not_ready", message: "the agent runs no task handler yet" };
    if (this.state !== "running") return { refusal: "draining", message: "the agent is stopping" };
    return null;
  }

  /** The server says these attempts are no longer this agent's (a beat's answer): abort their handlers. */
  cancel(cancelled: readonly CancelledAttempt[]): void {
    for (const attempt of cancelled) this.revoke(keyOf(attempt), attempt.reason);
  }

  /** Ends stop()'s wait for running handlers now: their signals abort (a second SIGTERM). */
  hurry(): void {
    this.hurryRequested = true;
    this.hurried?.();
  }

  /** The loop: wait to be registered, look for lost tasks when due, then poll or check. */
  private async run(): Promise<void> {
    while (this.state === "running") {
      const agentId = await this.host.registered(this.halt.signal);
      if (agentId === null || this.state !== "running") return;
      this.agentId = agentId;
      if (this.reconcileRounds > 0) await this.checkRunning(agentId, true);
      if (this.takeInFlight) {
        // A report is taking the next work: its answer (or a freed slot) wakes the loop.
        await this.napFor(this.busyPollWaitMs, true);
        continue;
      }
      if (this.freeSlots() > 0) {
        await this.poll(agentId);
        continue;
      }
      // No free slot: no poll (it would hand out a task); check the running ones for cancellations
      // every busyPollWaitMs while that lasts (slots freed and taken again by reports in between
      // do not put it off).
      this.checkHandle ??= this.host.timers.setTimeout(() => {
        this.checkHandle = null;
        this.checkDue = true;
        this.wakeNap(false);
      }, this.busyPollWaitMs);
      await this.napFor(this.busyPollWaitMs, true);
      if (this.checkDue && this.state === "running" && this.freeSlots() === 0) {
        this.checkDue = false;
        await this.checkRunning(agentId, false);
      }
    }
  }

  /** One poll: take what it hands out, abort what it cancels; back off after a failure. */
  private async poll(agentId: string): Promise<void> {
    const waitMs = this.hasLive() ? Math.min(this.pollWaitMs, this.busyPollWaitMs) : this.pollWaitMs;
    const maxTasks = Math.min(this.freeSlots(), POLL_TASKS_MAX);
    this.pollReserve = maxTasks;
    // The poll lists the running attempts and hears of cancellations: no check is due meanwhile.
    this.stopCheckTimer();
    try {
      const answer = await this.host.client
        .pollTasks(
          {
            agent_id: agentId,
            max_tasks: maxTasks,
            wait_ms: waitMs,
            running: this.runningList(),
          },
          { signal: this.halt.signal },
        )
        .finally(() => (this.pollReserve = 0));
      this.pollFailures = 0;
      for (const cancelled of answer.cancelled) this.revoke(keyOf(cancelled), cancelled.reason);
      for (const task of answer.tasks) this.deliver(agentId, task);
    } catch (error) {
      if (this.state !== "running") return;
      if (isAgentNotFound(error)) {
        this.host.lost(agentId);
        return;
      }
      // Only a refusal (4xx) proves the poll started nothing; after anything else, look.
      if (!isClientError(error)) this.reconcileRounds = RECONCILE_ROUNDS;
      this.host.emitError(error, "poll");
      this.pollFailures++;
      await this.napFor(backoffDelayMs(this.pollFailures, this.pollRetry, this.host.random), false);
    }
  }

  /**
   * How many tasks a report batch of `count` attempts of `agentId` may take: the slots free once
   * they land, less what the poll in flight may hand out; none unless this worker polls under
   * that registration and is running.
   */
  private takeFor(agentId: string, count: number): number {
    if (this.state !== "running" || agentId !== this.agentId) return 0;
    const free = this.host.capacity - this.executions.size + count - this.pollReserve;
    const take = Math.min(Math.max(0, free), POLL_TASKS_MAX);
    if (take > 0) this.takeInFlight = true;
    return take;
  }

  /** A taking batch came back (or failed): run what it started; look for more if it may have started others. */
  private taken(agentId: string, tasks: readonly TaskDelivery[], unsure: boolean): void {
    this.takeInFlight = false;
    if (unsure) this.reconcileRounds = RECONCILE_ROUNDS;
    // Stopping: they are left to the server, which hands them on once the agent deregisters.
    if (this.state === "running") for (const task of tasks) this.deliver(agentId, task);
    this.wakeNap(false);
  }

  /**
   * Reads the attempts the server has running on this agent. Those running here that it no
   * longer lists are revoked; with `adopt`, those it lists that this worker never had (a lost
   * poll answer started them) are taken as delivered. A listing cut short infers nothing.
   */
  private async checkRunning(agentId: string, adopt: boolean): Promise<void> {
    let listed: readonly TaskView[] | null;
    try {
      listed = await this.listRunning(agentId);
    } catch (error) {
      if (this.state === "running") this.host.emitError(error, "poll");
      return;
    }
    if (adopt) this.reconcileRounds--;
    if (listed === null || this.state !== "running") return;
    const current = new Set(listed.map(keyOf));
    for (const execution of [...this.executions.values()]) {
      if (execution.phase !== "reporting" && !current.has(execution.key)) {
        this.revoke(execution.key, "the attempt is no longer running on this agent");
      }
    }
    if (!adopt) return;
    for (const task of listed) {
      if (task.assigned_agent === agentId && task.status === "running")
        this.deliver(agentId, deliveryOf(task));
    }
  }

  /** Every running task of the agent, or null when there are more than RUNNING_PAGES_MAX pages. */
  private async listRunning(agentId: string): Promise<readonly TaskView[] | null> {
    const tasks: TaskView[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < RUNNING_PAGES_MAX; page++) {
      const answer = await this.host.client.taskStatus(
        {
          agent_id: agentId,
          status: "running",
          limit: RUNNING_PAGE_LIMIT,
          ...(cursor === undefined ? {} : { cursor }),
        },
        { signal: this.halt.signal },
      );
      tasks.push(...answer.tasks);
      if (answer.next_cursor === null) return tasks;
      cursor = answer.next_cursor;
    }
    return null;
  }

  /** Takes a delivered attempt, once: it waits for a slot, or starts at once. */
  private deliver(agentId: string, task: TaskDelivery): void {
    const key = keyOf(task);
    if (this.executions.has(key) || this.ended.has(key)) return;
    this.hold(key, agentId, task);
    this.startWaiting();
  }

  /** Holds a new attempt as waiting for a slot. */
  private hold(key: string, agentId: string, task: TaskDelivery): void {
    assert(!this.executions.has(key) && !this.ended.has(key), `attempt ${key} is held once`);
    this.executions.set(key, {
      key,
      task,
      agentId,
      controller: new AbortController(),
      phase: "waiting",
      revoked: null,
      interrupted: false,
    });
  }

  /** Starts waiting attempts, oldest first, while slots are free and the worker is not stopping. */
  startWaiting(): void {
    if (this.state !== "running") return;
    let inUse = this.activeCount;
    for (const execution of this.executions.values()) {
      if (inUse >= this.host.capacity) return;
      if (execution.phase !== "waiting") continue;
      execution.phase = "running";
      inUse++;
      this.emit(execution, "started", null);
      this.execute(execution).catch((error: unknown) => this.host.emitError(error, "report"));
    }
  }

  /** Runs the handler, reports what it came to, and frees the slot. */
  private async execute(execution: Execution): Promise<void> {
    try {
      const outcome = await this.runHandler(execution);
      execution.phase = "reporting";
      await this.report(execution, outcome);
    } finally {
      this.forget(execution);
    }
  }

  /** The handler's outcome; a missing handler, a throw or a result that is not JSON fail it. */
  private async runHandler(execution: Execution): Promise<HandlerOutcome> {
    const { task, controller } = execution;
    const handler = this.handlers.get(task.task_type);
    if (handler === undefined) {
      const known = [...this.handlers.keys()].map((type) => JSON.stringify(type)).join(", ");
      return {
        ok: false,
        message: `no handler for task type ${JSON.stringify(task.task_type)} on this agent (it handles ${known})`,
        retryable: false,
      };
    }
    const timer =
      task.timeout_ms === null
        ? null
        : this.host.timers.setTimeout(
            () =>
              controller.abort(new TaskAbortedError("timeout", `the attempt ran past ${task.timeout_ms} ms`)),
            task.timeout_ms,
          );
    const context: TaskContext = {
      signal: controller.signal,
      agentId: execution.agentId,
      id: task.id,
      attempt: task.attempt,
      taskType: task.task_type,
      data: task.data,
      expand: (definition, input) =>
        expandTask(this.host.client, task.id, controller.signal, definition, input ?? {}),
    };
    try {
      return resultOutcome(await Promise.resolve().then(() => handler(task, context)));
    } catch (error) {
      return { ok: false, message: messageOf(error), retryable: isRetryable(error) };
    } finally {
      if (timer !== null) this.host.timers.clearTimeout(timer);
    }
  }

  /** Reports the outcome until it lands or there is no point; emits what it came to. */
  private async report(execution: Execution, first: HandlerOutcome): Promise<void> {
    let report = reportOf(execution, first);
    if (execution.revoked !== null) {
      this.emit(execution, "cancelled", execution.revoked);
      return;
    }
    if (execution.interrupted && !first.ok) {
      this.emit(execution, "interrupted", first.message);
      return;
    }
    for (let round = 1; round <= REPORT_ROUNDS_MAX; round++) {
      if (execution.revoked !== null) {
        this.emit(execution, "cancelled", execution.revoked);
        return;
      }
      const { outcome } = report;
      try {
        await this.reporter.send(report);
        this.emit(execution, outcome.ok ? "completed" : "failed", outcome.ok ? null : outcome.message);
        return;
      } catch (error) {
        if (hasErrorCode(error, "stale_attempt") || hasErrorCode(error, "task_not_found")) {
          this.emit(execution, "stale", error.message);
          return;
        }
        if (this.reportHalt.signal.aborted) break;
        this.host.emitError(error, "report");
        if (isRefusal(error)) {
          // A refused result is a failure of the task; a refused failure cannot be fixed by retrying.
          if (!outcome.ok) break;
          report = reportOf(execution, {
            ok: false,
            message: cut(`the server refused the result: ${error.message}`),
            retryable: false,
          });
          continue;
        }
        try {
          await this.sleep(backoffDelayMs(round, REPORT_RETRY, this.host.random), this.reportHalt.signal);
        } catch {
          break;
        }
      }
    }
    this.emit(execution, "unreported", report.outcome.ok ? null : report.outcome.message);
  }

  /** The server says the attempt is no longer this agent's: abort its handler, or drop it unstarted. */
  private revoke(key: string, reason: string): void {
    const execution = this.executions.get(key);
    if (execution === undefined || execution.revoked !== null) return;
    execution.revoked = reason;
    if (execution.phase === "waiting") {
      this.emit(execution, "cancelled", reason);
      this.forget(execution);
      return;
    }
    execution.controller.abort(new TaskAbortedError("cancelled", reason));
  }

  /** Stop's wait: handlers, then aborted handlers, then reports, each bounded. */
  private async drain(): Promise<void> {
    for (const execution of [...this.executions.values()]) {
      if (execution.phase !== "waiting") continue;
      execution.interrupted = true;
      this.emit(execution, "interrupted", "the agent stopped before the task started");
      this.forget(execution);
    }
    const hurried = new Promise<void>((resolve) => {
      this.hurried = resolve;
      if (this.hurryRequested) resolve();
    });
    if (await this.settled(this.drainTimeoutMs, hurried)) return;
    for (const execution of this.executions.values()) {
      if (execution.phase !== "running") continue;
      execution.interrupted = true;
      execution.controller.abort(new TaskAbortedError("shutdown", "the agent is stopping"));
    }
    if (await this.settled(ABORT_GRACE_MS, null)) return;
    this.reportHalt.abort(new Error("the agent stopped before the report landed"));
    await this.settled(ABORT_GRACE_MS, null);
  }

  /** Whether every attempt here ended within `delayMs` (or before `early` resolved). */
  private settled(delayMs: number, early: Promise<void> | null): Promise<boolean> {
    return new Promise((resolve) => {
      let handle: unknown = null;
      const finish = (value: boolean): void => {
        this.onSettle = null;
        if (handle !== null) this.host.timers.clearTimeout(handle);
        resolve(value);
      };
      if (this.executions.size === 0) {
        resolve(true);
        return;
      }
      this.onSettle = () => {
        if (this.executions.size === 0) finish(true);
      };
      handle = this.host.timers.setTimeout(() => finish(this.executions.size === 0), delayMs);
      void early?.then(() => finish(this.executions.size === 0));
    });
  }

  /** Drops an attempt that is over here, remembers it as run, and lets the next one start. */
  private forget(execution: Execution): void {
    if (this.executions.get(execution.key) !== execution) return;
    this.executions.delete(execution.key);
    this.ended.add(execution.key);
    if (this.ended.size > ENDED_MAX) {
      const oldest = this.ended.values().next();
      if (oldest.done !== true) this.ended.delete(oldest.value);
    }
    this.startWaiting();
    this.wakeNap(false);
    this.onSettle?.();
  }

  /** Slots neither running, reporting nor promised to a delivered attempt. */
  private freeSlots(): number {
    return Math.max(0, this.host.capacity - this.executions.size);
  }

  /** Whether an attempt runs here that the server has not revoked: its cancellation matters. */
  private hasLive(): boolean {
    for (const execution of this.executions.values()) if (execution.revoked === null) return true;
    return false;
  }

  /**
   * Attempts held here that the server has not revoked: what it counts against the capacity. A
   * revoked handler slow to notice its signal keeps its slot, so what is pushed meanwhile waits.
   */
  private liveCount(): number {
    let count = 0;
    for (const execution of this.executions.values()) if (execution.revoked === null) count++;
    return count;
  }

  /** The attempts held here (running, waiting for a slot, or reporting), for polls and beats. */
  runningList(): RunningAttempt[] {
    const running: RunningAttempt[] = [];
    for (const execution of this.executions.values()) {
      if (running.length >= RUNNING_LIST_MAX) break;
      if (execution.revoked === null)
        running.push({ id: execution.task.id, attempt: execution.task.attempt });
    }
    return running;
  }

  /** Waits `delayMs`; stop() ends the wait, and so does a freed slot when `onChange`. */
  private napFor(delayMs: number, onChange: boolean): Promise<void> {
    return new Promise((resolve) => {
      if (this.state !== "running") {
        resolve();
        return;
      }
      const handle = this.host.timers.setTimeout(() => {
        this.nap = null;
        resolve();
      }, delayMs);
      this.nap = { handle, resolve, onChange };
    });
  }

  private stopCheckTimer(): void {
    if (this.checkHandle !== null) this.host.timers.clearTimeout(this.checkHandle);
    this.checkHandle = null;
    this.checkDue = false;
  }

  /** Ends the nap: any nap when stopping, one that waits for a slot otherwise. */
  private wakeNap(stopping: boolean): void {
    const nap = this.nap;
    if (nap === null || (!stopping && !nap.onChange)) return;
    this.nap = null;
    this.host.timers.clearTimeout(nap.handle);
    nap.resolve();
  }

  private emit(execution: Execution, outcome: TaskOutcome, detail: string | null): void {
    const { id, attempt, task_type } = execution.task;
    this.host.emitTask({ id, attempt, taskType: task_type, outcome, detail });
  }
}

/** context.expand: the sub-workflow that expands task `taskId`, followed to its end; its output. */
async function expandTask(
  client: JunoClient,
  taskId: string,
  signal: AbortSignal,
  definition: WorkflowDefinitionInput,
  input: Readonly<Record<string, unknown>>,
): Promise<unknown> {
  const { workflow } = await client.createWorkflow(
    { definition, input, execute: true, expands_task: taskId, idempotency_key: `expand:${taskId}` },
    { signal },
  );
  const final = FINISHED_WORKFLOW_STATUSES.includes(workflow.status)
    ? workflow
    : await client.watchWorkflow(workflow.id, () => undefined, { signal });
  if (final.status === "succeeded") return final.output;
  const why = final.failure === null ? "" : `: ${final.failure.message}`;
  throw new NonRetryableError(`the sub-workflow ${final.id} expanding this task ${final.status}${why}`);
}

/** The delivery a running task's view stands for, for an attempt adopted after a lost poll answer. */
function deliveryOf(task: TaskView): TaskDelivery {
  return {
    id: task.id,
    attempt: task.attempt,
    task_type: task.task_type,
    priority: task.priority,
    team: task.team,
    data: task.data,
    timeout_ms: task.timeout_ms,
    workflow_id: task.workflow_id,
    max_attempts: task.max_attempts,
  };
}

/** The report of an attempt's outcome, sent again in each round until it is settled. */
function reportOf(execution: Execution, outcome: HandlerOutcome): AttemptReport {
  const { id, attempt } = execution.task;
  return { agentId: execution.agentId, id, attempt, outcome, mayHaveLanded: false };
}

function keyOf(attempt: { readonly id: string; readonly attempt: number }): string {
  return `${attempt.id}#${attempt.attempt}`;
}

/** A handler's result as an outcome: refused (not retryable) when it is not JSON or too large. */
function resultOutcome(result: unknown): HandlerOutcome {
  if (result === undefined) return { ok: true, result, resultBytes: 0 };
  let text: string | undefined;
  try {
    text = JSON.stringify(result);
  } catch (error) {
    return {
      ok: false,
      message: cut(`the handler's result is not JSON: ${messageOf(error)}`),
      retryable: false,
    };
  }
  if (text === undefined) {
    return {
      ok: false,
      message: "the handler's result is not JSON (a function or a symbol)",
      retryable: false,
    };
  }
  const bytes = new TextEncoder().encode(text).byteLength;
  if (bytes > RESULT_BYTES_MAX) {
    return {
      ok: false,
      message: `the handler's result is ${bytes} bytes of JSON; at most ${RESULT_BYTES_MAX} are kept`,
      retryable: false,
    };
  }
  return { ok: true, result, resultBytes: bytes };
}

/** A thrown value as a failure message: "Name: message" unless the name says nothing. */
export function messageOf(error: unknown): string {
  let text: string;
  if (error instanceof Error) {
    const plain = error.name === "Error" || error.name === "NonRetryableError" || error.name === "";
    text = plain ? error.message : `${error.name}: ${error.message}`;
  } else if (typeof error === "string") {
    text = error;
  } else {
    try {
      text = JSON.stringify(error) ?? String(error);
    } catch {
      text = String(error);
    }
  }
  return cut(text.trim() === "" ? "the handler failed without a message" : text);
}

/** Whether another attempt may help: unless the error is a NonRetryableError or says `retryable: false`. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof NonRetryableError) return false;
  return !(isRecord(error) && error["retryable"] === false);
}

/** Whether the server answered the request with a refusal (4xx), so it changed nothing. */
function isClientError(error: unknown): boolean {
  return error instanceof JunoApiError && error.status >= 400 && error.status < 500;
}

/** A refusal of the report itself (bad input, too large): retrying the same report cannot help. */
function isRefusal(error: unknown): error is JunoApiError {
  return (
    error instanceof JunoApiError && (error.status === 400 || error.status === 413 || error.status === 422)
  );
}

function cut(text: string): string {
  return text.length > ERROR_LENGTH_MAX ? `${text.slice(0, ERROR_LENGTH_MAX - 3)}...` : text;
}

/** A broken invariant of this worker: a bug, so it throws rather than carry on. */
function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`juno SDK worker: ${message}`);
}

function checkWhole(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be a whole number in ${min}..${max}, got ${value}`);
  }
  return value;
}
