/**
 * The tasks module's leader loop. It reads the committed state and proposes; it never changes the
 * state itself:
 *
 * - release: the tasks of an agent the registry says is failed, or no longer has, go back to the
 *   queue (TASK_MIGRATION_TIMEOUT is the bound on how long that may take; a tick is far shorter);
 * - expire: attempts past their start-to-close timeout, assigned tasks nobody took within the
 *   pickup timeout, and tasks not started within schedule_to_start_ms;
 * - dispatch: when the agents changed, a backoff ran out or a breaker's cool-down ended, the
 *   queue is offered to the agents again (submissions and completions dispatch by themselves);
 * - configure: the settings this leader was started with, when the committed ones differ.
 *
 * One proposal of each kind is in flight at a time, so a slow commit never piles them up.
 */

import { agentsState } from "../agents/module.js";
import type { BeatRelay, RunningAttempt } from "../agents/heartbeats.js";
import type { TimerHandle } from "../runtime/clock.js";
import type { Controller, ControllerContext, Running } from "../runtime/controllers.js";
import { command, type Command } from "../control/index.js";
import type { AgentsState } from "../agents/state.js";
import type { TasksState } from "./state.js";
import { configureCommand, dispatchCommand, expireCommand, releaseCommand } from "./commands.js";
import { tasksState } from "./module.js";
import { canonical, sameSettings, type TaskSettings } from "./settings.js";
import { TASK_LIMITS, type Task } from "./task.js";

export interface TasksControllerOptions {
  readonly settings: TaskSettings;
  /** Where beats listing running attempts arrive on the leader (null: leases are not renewed by beats). */
  readonly beats: Pick<BeatRelay, "onRunning"> | null;
  /** A running attempt its agent's beats stop listing lapses after this long (FAILURE_DETECTION_TIMEOUT). */
  readonly leaseMs: number;
  /** How often the loop looks (it is cheap when nothing is due). */
  readonly tickMs: number;
  /** A queue with waiting tasks is offered again at least this often (aging, cool-downs). */
  readonly redispatchMs: number;
}

export function tasksController(options: TasksControllerOptions): Controller {
  return { name: "tasks.leader", start: (context) => new TasksLoop(context, options) };
}

type Kind = "release" | "expire" | "dispatch" | "configure";

/**
 * Leases of running attempts, in the leader's memory only: every beat that lists an attempt
 * renews it. Only agents whose beats list what they run are held to it (an agent that never says
 * has only its own liveness and the timeouts). A new leader counts every lease from its own start,
 * so a leader change never lapses one.
 */
class Leases {
  private readonly renewed = new Map<string, number>();
  private readonly reporting = new Set<string>();

  constructor(private readonly sinceMs: number) {}

  renew(agentId: string, running: readonly RunningAttempt[], nowMs: number): void {
    this.reporting.add(agentId);
    for (const [id, attempt] of running) this.renewed.set(leaseKey(id, attempt), nowMs);
  }

  /** When the lease of `task`'s attempt was last renewed, or null when it is not held to one. */
  renewedAt(task: Task): number | null {
    if (task.agentId === null || !this.reporting.has(task.agentId)) return null;
    const at = this.renewed.get(leaseKey(task.id, task.attempt));
    return Math.max(at ?? 0, task.startedAtMs ?? 0, this.sinceMs);
  }

  /** Forgets leases of attempts no longer running. */
  prune(tasks: TasksState): void {
    for (const key of this.renewed.keys()) {
      const [id, attempt] = key.split("#");
      const task = tasks.get(id!);
      if (task === undefined || task.status !== "running" || String(task.attempt) !== attempt)
        this.renewed.delete(key);
    }
  }
}

function leaseKey(id: string, attempt: number): string {
  return `${id}#${attempt}`;
}

class TasksLoop implements Running {
  private timer: TimerHandle | null = null;
  private stopped = false;
  private readonly inFlight = new Set<Kind>();
  private agentsVersion = -1;
  private lastDispatchMs = 0;
  private lastPruneMs = 0;
  private readonly leases: Leases;
  private readonly stopListening: () => void;

  constructor(
    private readonly context: ControllerContext,
    private readonly options: TasksControllerOptions,
  ) {
    this.leases = new Leases(context.clock.now());
    this.stopListening =
      options.beats?.onRunning((agentId, running) =>
        this.leases.renew(agentId, running, context.clock.now()),
      ) ?? (() => undefined);
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    this.stopListening();
    if (this.timer !== null) this.context.clock.clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.context.clock.setTimeout(() => {
      this.tick();
      this.schedule(this.options.tickMs);
    }, delayMs);
  }

  private propose(kind: Kind, proposal: Command): void {
    if (this.inFlight.has(kind)) return;
    this.inFlight.add(kind);
    this.context.submit(proposal, (result) => {
      this.inFlight.delete(kind);
      if (!result.ok) this.context.log.debug({ kind, err: result.error }, "tasks proposal not committed");
    });
  }

  private tick(): void {
    const view = this.context.view;
    if (!view.isLeader()) return;
    const now = this.context.clock.now();
    const tasks = view.state(tasksState);
    const agents = view.state(agentsState);
    const wanted = canonical(this.options.settings);
    if (!sameSettings(tasks.settings, wanted)) this.propose("configure", command(configureCommand, wanted));
    this.release(tasks, agents);
    this.expire(tasks, now);
    if (now - this.lastPruneMs >= this.options.leaseMs) {
      this.lastPruneMs = now;
      this.leases.prune(tasks);
    }
    const agentsMoved = agents.version !== this.agentsVersion;
    this.agentsVersion = agents.version;
    if (tasks.queue.size > 0 && (agentsMoved || now - this.lastDispatchMs >= this.options.redispatchMs)) {
      this.lastDispatchMs = now;
      this.propose("dispatch", command(dispatchCommand, {}));
    }
  }

  private release(tasks: TasksState, agents: AgentsState): void {
    for (const agentId of tasks.holders()) {
      const agent = agents.get(agentId);
      if (agent !== undefined && agent.status !== "failed") continue;
      const reason =
        agent === undefined ? "its agent deregistered" : `its agent failed: ${agent.statusReason}`;
      this.propose("release", command(releaseCommand, { agent_id: agentId, reason: reason.slice(0, 500) }));
      return;
    }
  }

  private expire(tasks: TasksState, now: number): void {
    const expirations: {
      id: string;
      attempt: number;
      cause: "timeout" | "pickup" | "schedule_to_start" | "lease";
    }[] = [];
    const pickupMs = tasks.settings.pickupTimeoutMs;
    for (const task of tasks.timed()) {
      if (expirations.length >= TASK_LIMITS.batch) break;
      if (scheduleToStartLapsed(task, now)) {
        expirations.push({ id: task.id, attempt: task.attempt, cause: "schedule_to_start" });
        continue;
      }
      if (task.status === "running" && task.timeoutMs !== null && now - task.startedAtMs! >= task.timeoutMs)
        expirations.push({ id: task.id, attempt: task.attempt, cause: "timeout" });
      else if (
        task.status === "running" &&
        now - (this.leases.renewedAt(task) ?? now) >= this.options.leaseMs
      )
        expirations.push({ id: task.id, attempt: task.attempt, cause: "lease" });
      else if (task.status === "assigned" && now - task.assignedAtMs! >= pickupMs)
        expirations.push({ id: task.id, attempt: task.attempt, cause: "pickup" });
    }
    if (expirations.length > 0) this.propose("expire", command(expireCommand, { expirations }));
  }
}

/**
 * Whether `task`'s current attempt has waited past its schedule_to_start_ms without starting.
 * The window is per attempt, as Temporal's is: it counts from when the attempt was scheduled
 * (scheduledAtMs), so a retry, or a task moved off a lost agent, gets a window of its own
 * instead of inheriting the first attempt's, long gone.
 */
export function scheduleToStartLapsed(task: Task, nowMs: number): boolean {
  if (task.scheduleToStartMs === null || task.startedAtMs !== null || task.status === "running") return false;
  return nowMs - scheduledAtMs(task) >= task.scheduleToStartMs;
}

/**
 * When the current attempt was scheduled: when the task last joined the queue (submitted, or
 * queued again after an attempt ended, or moved while it ran) or, for a retry that waits out its
 * backoff, when the backoff ends.
 */
export function scheduledAtMs(task: Task): number {
  return Math.max(task.enqueuedAtMs, task.notBeforeMs);
}
