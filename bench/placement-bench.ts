/**
 * `npm run bench:placement`: placement alone, as apply runs it, with 10,000 agents. Each point
 * applies tasks.submit entries through the kernel (the same path every replica takes) and times
 * each one: placement over the agents with the task's skill, the queue, the breaker and the rows.
 * Strategies are measured one after the other; the figures are per submitted task. Completions
 * free the slots again so the agents never fill up.
 */

import { agentsState, registerCommand, type Registration } from "../src/agents/index.js";
import { ControlState, ModuleRegistry } from "../src/control/index.js";
import { completeCommand, submitCommand, tasksState, type SubmitBody } from "../src/tasks/index.js";
import { LogBuilder } from "../test/support/log-builder.js";

const AGENTS = 10_000;
const TASKS = 20_000;
const STRATEGIES = ["least_connections", "round_robin", "weighted_round_robin", "consistent_hash"] as const;

let ids = 0;
const uuid = (): string => `00000000-0000-4000-8000-${(++ids).toString(16).padStart(12, "0")}`;

function registration(i: number): Registration {
  return {
    id: uuid(),
    name: `agent-${i}`,
    endpoint: `http://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:9000`,
    team: `team-${i % 20}`,
    // Every agent has "common"; one in ten has "rare" too.
    skills: i % 10 === 0 ? ["common", "rare"] : ["common"],
    capacity: 8,
    weight: 1 + (i % 4),
    labels: [["zone", `z${i % 3}`]],
    metadata: null,
    health_check: { type: "none", url: null, success_before_passing: null, failures_before_critical: null },
    agent_card_url: null,
    source: "custom",
    source_key: null,
  };
}

function submission(i: number, strategy: (typeof STRATEGIES)[number]): SubmitBody {
  return {
    id: uuid(),
    task_type: "bench",
    priority: i % 10,
    data: { i },
    team: `team-${i % 7}`,
    requirements: { skills: [i % 4 === 0 ? "rare" : "common"], team: null, labels: [] },
    affinity_key: strategy === "consistent_hash" ? `key-${i % 5_000}` : null,
    strategy,
    idempotency_key: null,
    timeout_ms: null,
    schedule_to_start_ms: null,
    max_attempts: null,
    backoff: { initial_ms: 1_000, multiplier: 2, max_ms: 60_000, jitter: 0.2 },
    workflow_id: null,
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

const registry = new ModuleRegistry([agentsState, tasksState]);
const state = new ControlState(registry);
const log = new LogBuilder();
const apply = (entry: ReturnType<LogBuilder["add"]>) =>
  state.apply({ ...entry, index: state.appliedIndex + 1 });
for (let i = 0; i < AGENTS; i++) apply(log.add(registerCommand, registration(i)));
console.log(
  `placement benchmark: ${AGENTS} agents, ${TASKS} submissions per strategy, through apply (Node ${process.version})`,
);
console.log(" strategy                 p50 ms   p99 ms   max ms   per s");
for (const strategy of STRATEGIES) {
  const times: number[] = [];
  const started = performance.now();
  for (let i = 0; i < TASKS; i++) {
    const body = submission(i, strategy);
    const entry = log.add(submitCommand, body);
    const t = performance.now();
    apply(entry);
    times.push(performance.now() - t);
    // Finish it at once so the agents keep free slots.
    const task = state.of(tasksState).get(body.id)!;
    if (task.agentId !== null)
      apply(
        log.add(completeCommand, {
          id: task.id,
          agent_id: task.agentId,
          attempt: task.attempt,
          result: null,
        }),
      );
  }
  const elapsed = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  console.log(
    ` ${strategy.padEnd(22)} ${percentile(times, 0.5).toFixed(3).padStart(8)} ${percentile(times, 0.99).toFixed(3).padStart(8)} ${times.at(-1)!.toFixed(2).padStart(8)} ${Math.round(
      TASKS / elapsed,
    )
      .toString()
      .padStart(7)}`,
  );
}
