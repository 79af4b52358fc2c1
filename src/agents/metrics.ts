/** The agents module's Prometheus metrics, read from this node's replica when scraped. */

import { Gauge, type Registry } from "prom-client";
import type { ModulePerformance } from "../runtime/domain-module.js";
import type { NodeView } from "../runtime/view.js";
import { HEALTH_STATUSES } from "./health/types.js";
import { agentsState } from "./module.js";
import { countAgents } from "./views.js";

export function registerAgentMetrics(registry: Registry, view: NodeView): void {
  const agents = () => view.state(agentsState);
  new Gauge({
    name: "juno_agents",
    help: "Registered agents by team and status.",
    labelNames: ["team", "status"],
    registers: [registry],
    collect() {
      this.reset();
      // Every status of every team is reported, zeros too, so an alert on `failed > 0` resolves.
      for (const [team, byStatus] of countAgents(agents().all(), HEALTH_STATUSES).byTeam)
        for (const status of HEALTH_STATUSES) this.set({ team, status }, byStatus.get(status) ?? 0);
    },
  });
  new Gauge({
    name: "juno_agents_draining",
    help: "Agents that asked to be drained, by team.",
    labelNames: ["team"],
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const agent of agents().all())
        counts.set(agent.team, (counts.get(agent.team) ?? 0) + (agent.draining ? 1 : 0));
      for (const [team, count] of counts) this.set({ team }, count);
    },
  });
}

/** The seed's target: an agent cluster of 50+ agents. */
const AGENTS = 50;

/** The agents module's part of /metrics/performance. */
export function agentPerformance(view: NodeView): ModulePerformance {
  const counts = countAgents(view.state(agentsState).all(), HEALTH_STATUSES).byStatus;
  const live = (counts.get("healthy") ?? 0) + (counts.get("degraded") ?? 0);
  return {
    figures: {
      agent_cluster_size: {
        value: live,
        unit: "agents",
        target: `>= ${AGENTS} agents`,
        meets: live >= AGENTS ? true : null,
        about:
          "healthy and degraded agents registered now: the present fleet, not the capacity (npm run bench:agents runs 10,000)",
      },
    },
    counts: Object.fromEntries(counts),
  };
}
