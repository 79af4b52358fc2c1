/**
 * The tasks module: the replicated tasks (queue, assignments, breakers, settings; the seed's
 * distributed_tasks table), the leader's loop that releases, expires and re-dispatches, and the
 * /tasks routes.
 */

import type { BeatRelay } from "../agents/heartbeats.js";
import { DEFAULT_HEALTH_SETTINGS } from "../agents/health/settings.js";
import type { Controller } from "../runtime/controllers.js";
import type { DomainModule } from "../runtime/domain-module.js";
import { completeIgnoringAttempts, dispatchOntoFailedAgents } from "./commands.js";
import { tasksController } from "./controller.js";
import { registerTaskMetrics, taskPerformance } from "./metrics.js";
import { tasksState } from "./module.js";
import { DEFAULT_PUSH_OPTIONS, pushController, type PushOptions } from "./push.js";
import { revokedOf } from "./revoked.js";
import { taskRoutes } from "./routes.js";
import { DEFAULT_TASK_SETTINGS, type TaskSettings } from "./settings.js";
import type { TasksState } from "./state.js";

export { tasksState } from "./module.js";
export * from "./commands.js";
export { scheduleToStartLapsed } from "./controller.js";
export * from "./settings.js";
export * from "./state.js";
export * from "./task.js";

export interface TasksOptions {
  /** The settings this node proposes when it leads (they are replicated; the leader's win). */
  readonly settings?: Partial<TaskSettings>;
  /** How often the leader's loop looks for lost agents, timeouts and work to dispatch. */
  readonly tickMs?: number;
  /** A queue with waiting tasks is offered to the agents again at least this often. */
  readonly redispatchMs?: number;
  /** Where beats listing running attempts arrive on the leader (the agents module's relay). */
  readonly beats?: Pick<BeatRelay, "onRunning" | "judgeRunning"> | null;
  /** How the leader pushes tasks to agents registered for push delivery. */
  readonly push?: Partial<PushOptions>;
  /** A running attempt its agent's beats stop listing lapses after this long. */
  readonly leaseMs?: number;
  /** Deliberately broken behaviour (the simulator's broken variants). */
  readonly bugs?: TaskBugs;
}

export interface TaskBugs {
  /** Count a completion from any attempt, current or not. */
  readonly acceptStaleAttempts?: boolean;
  /** Place a queued task on an agent the committed registry calls failed (on each dispatch). */
  readonly placeOnFailedAgents?: boolean;
}

export type TasksModule = DomainModule<TasksState>;

export function createTasksModule(options: TasksOptions = {}): TasksModule {
  const settings: TaskSettings = { ...DEFAULT_TASK_SETTINGS, ...options.settings };
  const broken = [
    ...(options.bugs?.acceptStaleAttempts === true ? [completeIgnoringAttempts] : []),
    ...(options.bugs?.placeOnFailedAgents === true ? [dispatchOntoFailedAgents] : []),
  ];
  const commands = tasksState.commands.map(
    (spec) => broken.find((replacement) => replacement.kind === spec.kind) ?? spec,
  );
  const beats = options.beats ?? null;
  // On every node: a beat listing running attempts hears which of them are no longer its own.
  const beatNews: Controller = {
    name: "tasks.beat-news",
    start: (context) => ({
      stop:
        beats?.judgeRunning((agentId, running) =>
          revokedOf(
            context.view.state(tasksState),
            agentId,
            running.map(([id, attempt]) => ({ id, attempt })),
          ),
        ) ?? (() => undefined),
    }),
  };
  return {
    ...tasksState,
    commands,
    routes: taskRoutes(),
    metrics: registerTaskMetrics,
    performance: taskPerformance,
    services: [beatNews],
    controllers: [
      pushController({
        ...DEFAULT_PUSH_OPTIONS,
        breakerThreshold: settings.breakerThreshold,
        ...options.push,
      }),
      tasksController({
        settings,
        tickMs: options.tickMs ?? 250,
        redispatchMs: options.redispatchMs ?? 1_000,
        beats,
        leaseMs: options.leaseMs ?? DEFAULT_HEALTH_SETTINGS.failureTimeoutMs,
      }),
    ],
  };
}
