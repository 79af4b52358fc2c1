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
import type { TimerHandle } from "../runtime/clock.js";
import type { Controller, ControllerContext, Running } from "../runtime/controllers.js";
import { command, type Command } from "../control/index.js";
import type { AgentsState } from "../agents/state.js";
import type { TasksState } from "./state.js";
import { configureCommand, dispatchCommand, expireCommand, releaseCommand } from "./commands.js";
import { tasksState } from "./module.js";
import { canonical, sameSettings, type TaskSettings } from "./settings.js";
import { TASK_LIMITS } from "./task.js";

export interface TasksControllerOptions {
  readonly settings: TaskSettings;
  /** How often the loop looks (it is cheap when nothing is due). */
  readonly tickMs: number;
  /** A queue with waiting tasks is offered again at least this often (aging, cool-downs). */
  readonly redispatchMs: number;
}

export function tasksController(options: TasksControllerOptions): Controller {
  return { name: "tasks.leader", start: (context) => new TasksLoop(context, options) };
}

type Kind = "release" | "expire" | "dispatch" | "configure";

class TasksLoop implements Running {
  private timer: TimerHandle | null = null;
  private stopped = false;
  private readonly inFlight = new Set<Kind>();
  private agentsVersion = -1;
  private lastDispatchMs = 0;

  constructor(
    private readonly context: ControllerContext,
    private readonly options: TasksControllerOptions,
  ) {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
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
    const expirations: { id: string; attempt: number; cause: "timeout" | "pickup" | "schedule_to_start" }[] =
      [];
    const pickupMs = tasks.settings.pickupTimeoutMs;
    for (const task of tasks.liveTasks()) {
      if (expirations.length >= TASK_LIMITS.batch) break;
      if (task.scheduleToStartMs !== null && task.startedAtMs === null && task.status !== "running") {
        if (now - task.createdAtMs >= task.scheduleToStartMs) {
          expirations.push({ id: task.id, attempt: task.attempt, cause: "schedule_to_start" });
          continue;
        }
      }
      if (task.status === "running" && task.timeoutMs !== null && now - task.startedAtMs! >= task.timeoutMs)
        expirations.push({ id: task.id, attempt: task.attempt, cause: "timeout" });
      else if (task.status === "assigned" && now - task.assignedAtMs! >= pickupMs)
        expirations.push({ id: task.id, attempt: task.attempt, cause: "pickup" });
    }
    if (expirations.length > 0) this.propose("expire", command(expireCommand, { expirations }));
  }
}
