/**
 * `npm run bench:tasks-memory`: what a node's replicated state costs in memory with 1,000,000
 * finished tasks retained (the retention bound's default), measured in one process through the
 * production kernel's apply: the same commands, state, indexes and row texts a node keeps, with
 * no network, HTTP or SQLite around it (those are bounded: SQLite's page cache, the log kept
 * since the last snapshot). Each task is submitted with a 64-character string as data and an
 * idempotency key, as the SDK sends, placed on one of 50 agents at once, and reported complete
 * through tasks.report in batches. The heap is measured after a full GC before and after.
 *
 * The end-to-end figure (`npm run bench:tasks -- --million`, a million tasks through real nodes
 * and agents) takes over an hour on two cores; this one takes a minute or two.
 *
 * Environment: BENCH_MEMORY_TASKS (default 1,000,000).
 */

import { agentsState, registerCommand, type Registration } from "../src/agents/index.js";
import { ControlState, ModuleRegistry, encodeEnvelope, type CommandSpec } from "../src/control/index.js";
import { reportCommand, submitCommand, tasksState, type SubmitBody } from "../src/tasks/index.js";
import type { Static, TSchema } from "typebox";
import { agentRegistration } from "../test/support/fixtures.js";

const TASKS = Number(process.env["BENCH_MEMORY_TASKS"] ?? 1_000_000);
const AGENTS = 50;
const CAPACITY = 256;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error("run with node --expose-gc (npm run bench:tasks-memory does)");
  process.exit(2);
}

function uuid(n: number, space: number): string {
  const hex = n.toString(16).padStart(12, "0");
  return `${space.toString(16).padStart(8, "0")}-0000-4000-8000-${hex}`;
}

function registration(i: number): Registration {
  return agentRegistration({
    id: uuid(i, 1),
    name: `agent-${i}`,
    endpoint: `http://10.0.0.${i}:9000`,
    team: "bench",
    skills: ["bench"],
    capacity: CAPACITY,
  });
}

function submission(n: number): SubmitBody {
  return {
    id: uuid(n, 2),
    task_type: "bench",
    priority: n % 10,
    data: "x".repeat(64),
    team: `team-${n % 8}`,
    requirements: { skills: ["bench"], team: null, labels: [] },
    affinity_key: null,
    strategy: "least_connections",
    idempotency_key: `key-${n}`,
    timeout_ms: null,
    schedule_to_start_ms: null,
    max_attempts: null,
    backoff: { initial_ms: 1000, multiplier: 2, max_ms: 60_000, jitter: 0.2 },
    workflow_id: null,
  };
}

/** The JS heap plus memory held outside it (the row arena's buffers), and the resident set. */
function heapMb(): { heap: number; rss: number } {
  gc!();
  gc!();
  const usage = process.memoryUsage();
  return { heap: (usage.heapUsed + usage.external) / 2 ** 20, rss: usage.rss / 2 ** 20 };
}

const registry = new ModuleRegistry([agentsState, tasksState]);
const state = new ControlState(registry);
let index = 0;
/** Applies the next entry, stamped a millisecond after the one before (entries are not kept). */
function apply<S, T extends TSchema, R>(spec: CommandSpec<S, T, R>, body: Static<T>): void {
  index++;
  state.apply({ index, term: 1, type: "normal", data: encodeEnvelope(spec.kind, 1_000 + index, null, body) });
}
for (let i = 1; i <= AGENTS; i++) apply(registerCommand, registration(i));
const before = heapMb();
const started = performance.now();
let submitted = 0;
while (submitted < TASKS) {
  // Fill every slot, then report them all complete, agent by agent.
  const round = Math.min(AGENTS * CAPACITY, TASKS - submitted);
  for (let i = 0; i < round; i++) apply(submitCommand, submission(++submitted));
  const tasks = state.of(tasksState);
  for (let a = 1; a <= AGENTS; a++) {
    const agentId = uuid(a, 1);
    const held = [...tasks.heldBy(agentId)].map((id) => tasks.get(id)!);
    for (let at = 0; at < held.length; at += 256) {
      const completed = held
        .slice(at, at + 256)
        .map((task) => ({ id: task.id, attempt: task.attempt, result: null }));
      apply(reportCommand, { agent_id: agentId, completed, failed: [] });
    }
  }
  if (submitted % 100_000 < round) console.log(`  ${submitted.toLocaleString("en-US")} tasks completed`);
}
const seconds = (performance.now() - started) / 1000;
const after = heapMb();
const tasks = state.of(tasksState);
const perTask = ((after.heap - before.heap) * 2 ** 20) / tasks.size;
console.log();
console.log(
  `finished tasks retained                 ${tasks.size.toLocaleString("en-US")} (succeeded ${tasks.count("succeeded").toLocaleString("en-US")}, live ${tasks.liveCount})`,
);
console.log(
  `heap + buffers for them                     ${(after.heap - before.heap).toFixed(0)} MB (${perTask.toFixed(0)} bytes per task)`,
);
console.log(`heap + buffers / resident after       ${after.heap.toFixed(0)} MB / ${after.rss.toFixed(0)} MB`);
console.log(
  `applied in                              ${seconds.toFixed(1)} s (${Math.round(TASKS / seconds).toLocaleString("en-US")} tasks/s through apply, one core)`,
);
console.log(
  JSON.stringify({
    benchmark: "juno-tasks-memory",
    tasks: tasks.size,
    heapMb: Math.round(after.heap - before.heap),
    bytesPerTask: Math.round(perTask),
    rssMb: Math.round(after.rss),
    applySeconds: Number(seconds.toFixed(1)),
  }),
);
