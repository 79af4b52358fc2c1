/**
 * The workflows module: definitions (parse, validate, normalise, register by name and version),
 * runs driven by the pure engine inside the entries that move them (the seed's
 * cross_team_workflows table), the leader's loop that fires timers and opens approvals, and the
 * /workflows routes.
 */

import type { DomainModule } from "../runtime/domain-module.js";
import { workflowsController } from "./controller.js";
import { registerWorkflowMetrics, workflowPerformance } from "./metrics.js";
import { workflowsState } from "./module.js";
import { workflowRoutes } from "./routes.js";
import {
  DEFAULT_WORKFLOW_SETTINGS,
  type WorkflowBugs,
  type WorkflowSettings,
  type WorkflowsState,
} from "./state.js";

export * from "./commands.js";
export * from "./definition.js";
export * from "./engine.js";
export * from "./executor.js";
export * from "./ids.js";
export * from "./iso-time.js";
export * from "./limits.js";
export * from "./progress.js";
export * from "./run.js";
export * from "./schema.js";
export * from "./state.js";
export * from "./template.js";
export * from "./trigger.js";
export * from "./views.js";
export { workflowsState } from "./module.js";

export interface WorkflowsOptions {
  /** The settings this node proposes when it leads (they are replicated; the leader's win). */
  readonly settings?: Partial<WorkflowSettings>;
  /** The longest the leader's loop sleeps when no timer is due. */
  readonly tickMs?: number;
  /** Deliberately broken behaviour (the simulator's broken variants). */
  readonly bugs?: WorkflowBugs;
}

export type WorkflowsModule = DomainModule<WorkflowsState>;

export function createWorkflowsModule(options: WorkflowsOptions = {}): WorkflowsModule {
  const settings: WorkflowSettings = { ...DEFAULT_WORKFLOW_SETTINGS, ...options.settings };
  const bugs = options.bugs;
  const section =
    bugs === undefined
      ? workflowsState.section
      : {
          ...workflowsState.section,
          empty: () => Object.assign(workflowsState.section.empty(), { bugs }),
          restore: () => {
            const restorer = workflowsState.section.restore();
            return {
              add: (row: unknown, text: string) => restorer.add(row, text),
              finish: () => Object.assign(restorer.finish(), { bugs }),
            };
          },
        };
  return {
    ...workflowsState,
    section,
    routes: workflowRoutes(),
    metrics: registerWorkflowMetrics,
    performance: workflowPerformance,
    controllers: [workflowsController({ settings, tickMs: options.tickMs ?? 250 })],
  };
}
