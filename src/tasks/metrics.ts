/** The tasks module's Prometheus metrics, read from this node's replica when scraped. */

import { Gauge, type Registry } from "prom-client";
import type { ModulePerformance } from "../runtime/domain-module.js";
import { breakerState } from "../faults/breaker.js";
import { counterReading } from "../server/metrics.js";
import { below, round } from "../server/performance.js";
import type { NodeView } from "../runtime/view.js";
import { tasksState } from "./module.js";
import { TASK_STATUSES } from "./task.js";

export function registerTaskMetrics(registry: Registry, view: NodeView): void {
  const tasks = () => view.state(tasksState);
  new Gauge({
    name: "juno_tasks",
    help: "Tasks kept, by status.",
    labelNames: ["status"],
    registers: [registry],
    collect() {
      const state = tasks();
      for (const status of TASK_STATUSES) this.set({ status }, state.count(status));
    },
  });
  new Gauge({
    name: "juno_task_queue_depth",
    help: "Queued tasks by base priority.",
    labelNames: ["priority"],
    registers: [registry],
    collect() {
      tasks()
        .queue.depthByPriority()
        .forEach((depth, priority) => this.set({ priority: String(priority) }, depth));
    },
  });
  new Gauge({
    name: "juno_task_queue_oldest_seconds",
    help: "How long the longest-waiting queued task has waited.",
    registers: [registry],
    collect() {
      const oldest = tasks().queue.oldest();
      this.set(oldest === null ? 0 : Math.max(0, Date.now() - oldest.enqueuedAtMs) / 1000);
    },
  });
  new Gauge({
    name: "juno_task_assignment_latency_seconds",
    help: "Submit-to-assigned latency of recent placements.",
    labelNames: ["quantile"],
    registers: [registry],
    collect() {
      const stats = tasks().stats;
      for (const quantile of [0.5, 0.99]) {
        const ms = stats.latencyPercentileMs(quantile);
        if (ms !== null) this.set({ quantile: String(quantile) }, ms / 1000);
      }
    },
  });
  new Gauge({
    name: "juno_task_queue_depth_by_team",
    help: "Queued tasks by the team that submitted them.",
    labelNames: ["team"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [team, depth] of tasks().queue.depthByTeam()) this.set({ team }, depth);
    },
  });
  new Gauge({
    name: "juno_tasks_running_by_team",
    help: "Tasks holding an agent's slot (assigned or running), by team.",
    labelNames: ["team"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [team, running] of tasks().runningByTeam()) this.set({ team }, running);
    },
  });
  // Per agent, only those holding a task or with a breaker not closed, as GET /tasks/metrics
  // lists them: an idle, healthy agent adds no series, so 10,000 agents do not mean 10,000 more.
  new Gauge({
    name: "juno_agent_tasks_active",
    help: "Tasks an agent holds (assigned or running), for agents holding any.",
    labelNames: ["agent_id"],
    registers: [registry],
    collect() {
      this.reset();
      const state = tasks();
      for (const agentId of state.holders()) this.set({ agent_id: agentId }, state.active(agentId));
    },
  });
  new Gauge({
    name: "juno_task_breaker_state",
    help: "1 for each agent whose task breaker is not closed, labelled with its state (open or half_open).",
    labelNames: ["agent_id", "state"],
    registers: [registry],
    collect() {
      this.reset();
      const state = tasks();
      const settings = state.breakerSettings;
      const now = Date.now();
      for (const [agentId, breaker] of state.breakers) {
        const current = breakerState(breaker, settings, now);
        if (current !== "closed") this.set({ agent_id: agentId, state: current }, 1);
      }
    },
  });
  new Gauge({
    name: "juno_task_breakers_open",
    help: "Agents whose task breaker is open or half-open.",
    registers: [registry],
    collect() {
      let open = 0;
      for (const breaker of tasks().breakers.values()) if (breaker.openedAtMs !== null) open++;
      this.set(open);
    },
  });
  const counter = (name: string, help: string, read: () => number): void =>
    counterReading(registry, name, help, read);
  counter("juno_tasks_assigned_total", "Placements applied on this node.", () => tasks().stats.assigned);
  counter("juno_tasks_started_total", "Attempts started, applied on this node.", () => tasks().stats.started);
  counter(
    "juno_tasks_started_by_report_total",
    "Attempts a report's take started (a busy agent's next work), applied on this node.",
    () => tasks().stats.startedByReport,
  );
  counter("juno_tasks_completed_total", "Completions applied on this node.", () => tasks().stats.completed);
  counter(
    "juno_tasks_retried_total",
    "Attempts that ended and queued their task again.",
    () => tasks().stats.retried,
  );
  counter("juno_tasks_dead_lettered_total", "Tasks out of attempts.", () => tasks().stats.deadLettered);
}

/** The seed's targets for task distribution. */
const ALLOCATION_MS = 10;
const TASKS_PER_HOUR = 10_000;

/** The tasks module's part of /metrics/performance. */
export function taskPerformance(view: NodeView): ModulePerformance {
  const state = view.state(tasksState);
  const p50 = round(state.stats.latencyPercentileMs(0.5));
  const p99 = round(state.stats.latencyPercentileMs(0.99));
  const perHour = state.stats.completedLastMinute(Date.now()) * 60;
  const oldest = state.queue.oldest();
  return {
    figures: {
      task_allocation_ms: {
        value: p99,
        unit: "ms",
        target: `< ${ALLOCATION_MS} ms`,
        meets: below(p99, ALLOCATION_MS),
        about:
          "99th percentile of submit-to-assigned latency of recent placements (a task that waited for a free agent counts its wait)",
        detail: { p50, p99 },
      },
      task_throughput_per_hour: {
        value: perHour,
        unit: "tasks/h",
        target: `>= ${TASKS_PER_HOUR.toLocaleString("en")} per hour`,
        meets: perHour >= TASKS_PER_HOUR ? true : null,
        about:
          "completions in the last minute, times 60: the present load, not the capacity (npm run bench measures that)",
        detail: { oldest_queued_ms: oldest === null ? null : Math.max(0, Date.now() - oldest.enqueuedAtMs) },
      },
    },
    counts: Object.fromEntries(TASK_STATUSES.map((status) => [status, state.count(status)])),
  };
}
