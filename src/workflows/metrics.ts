/** The workflows module's Prometheus metrics, read from this node's replica when scraped. */

import { Gauge, type Registry } from "prom-client";
import type { ModulePerformance } from "../runtime/domain-module.js";
import type { NodeView } from "../runtime/view.js";
import { workflowsState } from "./module.js";
import { WORKFLOW_STATUSES } from "./run.js";

export function registerWorkflowMetrics(registry: Registry, view: NodeView): void {
  const workflows = () => view.state(workflowsState);
  new Gauge({
    name: "juno_workflows",
    help: "Workflow runs kept, by status.",
    labelNames: ["status"],
    registers: [registry],
    collect() {
      const state = workflows();
      for (const status of WORKFLOW_STATUSES) this.set({ status }, state.count(status));
    },
  });
  new Gauge({
    name: "juno_workflow_steps_running",
    help: "Workflow tasks submitted and not yet ended, by the team that runs them.",
    labelNames: ["team"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [team, count] of workflows().teamActive) if (count > 0) this.set({ team }, count);
    },
  });
  new Gauge({
    name: "juno_workflow_steps_waiting_for_slots",
    help: "Workflow steps held back by their team's step limit, by team.",
    labelNames: ["team"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [team, waiting] of workflows().deferred) this.set({ team }, waiting.length);
    },
  });
  new Gauge({
    name: "juno_workflow_timers",
    help: "Timers the live runs wait on (timer steps, timeouts, retries).",
    registers: [registry],
    collect() {
      this.set(workflows().timers.size);
    },
  });
  new Gauge({
    name: "juno_workflow_approvals_open",
    help: "Approval steps waiting for their votes.",
    registers: [registry],
    collect() {
      this.set(workflows().approvals.size);
    },
  });
}

/** The seed's targets: 100+ concurrent workflows orchestrated, 500+ simultaneous. */
const CONCURRENT_WORKFLOWS = 500;

/** The workflows module's part of /metrics/performance. */
export function workflowPerformance(view: NodeView): ModulePerformance {
  const state = view.state(workflowsState);
  const running = state.count("running");
  return {
    figures: {
      concurrent_workflows: {
        value: running,
        unit: "runs",
        target: `>= ${CONCURRENT_WORKFLOWS} simultaneous`,
        meets: running >= CONCURRENT_WORKFLOWS ? true : null,
        about:
          "workflow runs running now: the present load, not the capacity (npm run bench:workflows runs 500 at once)",
      },
    },
    counts: Object.fromEntries(WORKFLOW_STATUSES.map((status) => [status, state.count(status)])),
  };
}
