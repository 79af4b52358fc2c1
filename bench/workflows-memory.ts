/**
 * `npm run bench:workflows-memory`: what a node's replicated state costs in memory with 100,000
 * live workflows, each waiting on an event step, measured in one process through the production
 * kernel's apply (the commands, state, indexes and engine a node keeps; no network, HTTP or
 * SQLite around it, as bench/tasks-memory.ts). Each run is a 3-step pipeline over two teams: an
 * event step ("approved") it waits on, then two task steps not yet reached; it is created with
 * `execute: true`, a small input and an idempotency key, as a client's POST /workflows sends.
 *
 * Two ways of starting them are measured one after the other, each in a fresh state:
 * - inline: the definition sent whole with every run (each run holds its own normalised copy);
 * - registered: the definition registered once (POST /workflows/definitions), runs by name.
 *
 * For each: the heap (plus buffers) after a full GC, before and after, per live workflow; the
 * resident memory; and the snapshot the node would write of that state (the node's own
 * SnapshotWriter through writeSnapshot), read back with restoreSnapshot and checked to hold the
 * same live runs.
 *
 * Environment: BENCH_MEMORY_WORKFLOWS (default 100,000).
 */

import { agentsState } from "../src/agents/index.js";
import {
  ControlState,
  ModuleRegistry,
  encodeEnvelope,
  restoreSnapshot,
  writeSnapshot,
  type CommandSpec,
} from "../src/control/index.js";
import { decisionsState } from "../src/decisions/index.js";
import { tasksState } from "../src/tasks/index.js";
import { createCommand, defineCommand, workflowsState } from "../src/workflows/index.js";
import type { Static, TSchema } from "typebox";

const WORKFLOWS = Number(process.env["BENCH_MEMORY_WORKFLOWS"] ?? 100_000);
if (!(Number.isInteger(WORKFLOWS) && WORKFLOWS > 0)) {
  console.error(`BENCH_MEMORY_WORKFLOWS must be a positive integer, not "${WORKFLOWS}"`);
  process.exit(2);
}
/** The per-node target. */
const TARGET_MB = 1024;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error("run with node --expose-gc (npm run bench:workflows-memory does)");
  process.exit(2);
}

const definition = {
  name: "approval-then-work",
  description: "Waits for an approval event, then two teams' tasks.",
  teams: ["alpha", "beta"],
  pattern: "pipeline",
  steps: [
    { id: "approved", type: "event", team: "alpha", event: "approved", timeout_ms: 86_400_000 },
    {
      id: "build",
      team: "alpha",
      task_type: "build",
      skills: ["build"],
      input: { ticket: "{{input.ticket}}", by: "{{steps.approved.output.by}}" },
    },
    {
      id: "deploy",
      team: "beta",
      task_type: "deploy",
      skills: ["deploy"],
      input: { artifact: "{{steps.build.output.artifact}}" },
    },
  ],
};

function uuid(n: number, space: number): string {
  return `${space.toString(16).padStart(8, "0")}-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}

/** The JS heap used plus memory held outside it, the heap V8 holds, and the resident set, in MB, after a full GC. */
function memoryMb(): { heap: number; committed: number; rss: number } {
  gc!();
  gc!();
  const usage = process.memoryUsage();
  return {
    heap: (usage.heapUsed + usage.external) / 2 ** 20,
    committed: usage.heapTotal / 2 ** 20,
    rss: usage.rss / 2 ** 20,
  };
}

const registry = new ModuleRegistry([agentsState, decisionsState, tasksState, workflowsState]);

/** What one way of starting the runs measured. */
interface Measured {
  readonly live: number;
  readonly waiting: number;
  readonly heapMb: number;
  readonly bytesPerWorkflow: number;
  readonly rssMb: number;
  /** The heap V8 holds from the system (used or not) after them. */
  readonly heapCommittedMb: number;
  /** Resident memory before the runs were created (the process, the modules, what came before). */
  readonly rssBeforeMb: number;
  readonly applySeconds: number;
  readonly snapshotMb: number;
  readonly snapshotBytesPerWorkflow: number;
  readonly writeSeconds: number;
  readonly restoreSeconds: number;
}

/** Creates WORKFLOWS runs in a fresh state, inline or by the registered name, and measures it. */
function measure(registered: boolean): Measured {
  const before = memoryMb();
  let state: ControlState | null = new ControlState(registry);
  let index = 0;
  /** Applies the next entry, stamped a millisecond after the one before (entries are not kept). */
  const apply = <S, T extends TSchema, R>(spec: CommandSpec<S, T, R>, body: Static<T>): void => {
    index++;
    const applied = state!.apply({
      index,
      term: 1,
      type: "normal",
      data: encodeEnvelope(spec.kind, 1_000 + index, null, body),
    });
    if (applied.outcome.kind !== "ok") throw new Error(`entry ${index}: ${JSON.stringify(applied.outcome)}`);
  };
  if (registered) apply(defineCommand, { definition });
  const started = performance.now();
  for (let i = 1; i <= WORKFLOWS; i++) {
    apply(createCommand, {
      id: uuid(i, registered ? 2 : 1),
      team: null,
      definition: registered ? null : definition,
      ref: registered ? { name: definition.name, version: null } : null,
      input: { ticket: `T-${i}`, requested_by: `user-${i % 1000}` },
      execute: true,
      idempotency_key: `start-${i}`,
      expands_task: null,
    });
  }
  const applySeconds = (performance.now() - started) / 1000;
  const after = memoryMb();
  const workflows = state.of(workflowsState);
  let waiting = 0;
  for (const record of workflows.runs.values()) if (record.run.steps[0]!.status === "waiting") waiting++;
  const live = workflows.liveCount;
  if (live !== WORKFLOWS || waiting !== WORKFLOWS)
    throw new Error(`${live} live runs, ${waiting} waiting on their event, not ${WORKFLOWS}`);

  const writeStarted = performance.now();
  let snapshot: Uint8Array | null = writeSnapshot(state);
  const writeSeconds = (performance.now() - writeStarted) / 1000;
  const snapshotBytes = snapshot.length;
  const hash = state.hash;
  state = null;
  const restoreStarted = performance.now();
  const restored = restoreSnapshot(registry, snapshot);
  const restoreSeconds = (performance.now() - restoreStarted) / 1000;
  snapshot = null;
  if (restored.of(workflowsState).liveCount !== WORKFLOWS || restored.hash !== hash)
    throw new Error("the restored snapshot does not hold the same state");
  const heapMb = after.heap - before.heap;
  return {
    live,
    waiting,
    heapMb,
    bytesPerWorkflow: (heapMb * 2 ** 20) / live,
    rssMb: after.rss,
    rssBeforeMb: before.rss,
    heapCommittedMb: after.committed,
    applySeconds,
    snapshotMb: snapshotBytes / 2 ** 20,
    snapshotBytesPerWorkflow: snapshotBytes / live,
    writeSeconds,
    restoreSeconds,
  };
}

const results = { inline: measure(false), registered: measure(true) };

const whole = (n: number): string => Math.round(n).toLocaleString("en-US");
/** One table row: the figure, then each way's value. */
function row(label: string, inline: string, registered: string, beside = ""): void {
  console.log(`${label.padEnd(40)}${inline.padStart(14)}${registered.padStart(14)}   ${beside}`);
}

const { inline, registered } = results;
console.log(
  `juno workflows memory: ${whole(WORKFLOWS)} live 3-step workflows waiting on an event step, in one node's ` +
    `state, through the kernel's apply (${process.version}); a node adds HTTP, SQLite and the log since its last snapshot.`,
);
console.log("");
row("", "inline", "registered", "target");
row("live workflows waiting on their event", whole(inline.waiting), whole(registered.waiting));
row("heap + buffers for them, MB", whole(inline.heapMb), whole(registered.heapMb));
row("bytes per live workflow", whole(inline.bytesPerWorkflow), whole(registered.bytesPerWorkflow));
row(
  "resident memory of the process, MB",
  whole(inline.rssMb),
  whole(registered.rssMb),
  `< ${whole(TARGET_MB)} per node (${inline.rssMb < TARGET_MB && registered.rssMb < TARGET_MB ? "met" : "MISSED"}); ` +
    "the registered run is measured after the inline one in the same process",
);
row("  resident before they were created, MB", whole(inline.rssBeforeMb), whole(registered.rssBeforeMb));
row(
  "  heap V8 holds after, MB",
  whole(inline.heapCommittedMb),
  whole(registered.heapCommittedMb),
  "used or not: what resident memory follows",
);
row("snapshot size, MB", inline.snapshotMb.toFixed(1), registered.snapshotMb.toFixed(1));
row(
  "snapshot bytes per live workflow",
  whole(inline.snapshotBytesPerWorkflow),
  whole(registered.snapshotBytesPerWorkflow),
);
row(
  "snapshot write / restore, s",
  `${inline.writeSeconds.toFixed(1)} / ${inline.restoreSeconds.toFixed(1)}`,
  `${registered.writeSeconds.toFixed(1)} / ${registered.restoreSeconds.toFixed(1)}`,
  "in one go here; a node writes and reads it in slices between Readys",
);
row(
  "created in, s (workflows/s through apply)",
  `${inline.applySeconds.toFixed(1)} (${whole(WORKFLOWS / inline.applySeconds)})`,
  `${registered.applySeconds.toFixed(1)} (${whole(WORKFLOWS / registered.applySeconds)})`,
  "one core",
);
console.log(
  JSON.stringify(
    { benchmark: "juno-workflows-memory", workflows: WORKFLOWS, ...results },
    (_key, value: unknown) => (typeof value === "number" ? Math.round(value * 100) / 100 : value),
  ),
);
