/**
 * `npm run sim -- --seeds N` runs N seeds (from --from, default 1); `npm run sim -- --seed S`
 * replays one seed exactly and prints its trace on failure (or always with --trace).
 * Options: --nodes N, --profile default|crashy|churn|figure8|store_outages (else the seed picks one),
 * --bug NAME (run a deliberately broken variant: see bugs.ts), --trace (print the whole trace).
 * --agents runs the agents scenario instead (agents-sim.ts); with it, --bug no-leader-grace or stale-attempts runs
 * its broken variant.
 */

import { parseArgs } from "node:util";
import { BUGS, type BugName } from "./bugs.js";
import { runAgentSimulation } from "./agents-sim.js";
import { runSimulation, type SimProfile, type SimResult } from "./simulation.js";

const { values } = parseArgs({
  options: {
    seeds: { type: "string" },
    seed: { type: "string" },
    from: { type: "string", default: "1" },
    nodes: { type: "string" },
    bug: { type: "string" },
    profile: { type: "string" },
    trace: { type: "boolean", default: false },
    agents: { type: "boolean", default: false },
  },
});

if (values.agents) runAgentsScenario();

const bug = values.bug as BugName | undefined;
if (bug !== undefined && !(bug in BUGS)) {
  console.error(`unknown --bug ${bug}; one of: ${Object.keys(BUGS).join(", ")}`);
  process.exit(2);
}
const nodes = values.nodes === undefined ? undefined : Number(values.nodes);
const profiles: SimProfile[] = ["default", "crashy", "churn", "figure8", "store_outages"];
const profile = values.profile as SimProfile | undefined;
if (profile !== undefined && !profiles.includes(profile)) {
  console.error(`unknown --profile ${profile}; one of: ${profiles.join(", ")}`);
  process.exit(2);
}

function runOne(seed: number, trace: boolean): SimResult {
  return runSimulation({
    seed,
    ...(nodes === undefined ? {} : { nodes }),
    ...(profile === undefined ? {} : { profile }),
    ...(bug === undefined ? {} : BUGS[bug]),
    ...(trace ? { onTrace: (line: string) => console.log(line) } : {}),
  });
}

function printFailure(result: SimResult): void {
  console.log(`\nseed ${result.seed} FAILED: ${result.violation?.message}`);
  console.log(`config: ${result.config}`);
  console.log("trace (most recent last):");
  for (const line of result.trace.slice(-400)) console.log(`  ${line}`);
  console.log(
    `\nreplay: npm run sim -- --seed ${result.seed}${bug ? ` --bug ${bug}` : ""}${nodes ? ` --nodes ${nodes}` : ""}`,
  );
}

if (values.seed !== undefined) {
  const result = runOne(Number(values.seed), values.trace);
  if (!result.ok) printFailure(result);
  console.log(`seed ${result.seed}: ${result.ok ? "ok" : "FAILED"}  ${result.config}`);
  console.log(JSON.stringify(result.stats));
  process.exit(result.ok ? 0 : 1);
}

const count = Number(values.seeds ?? "100");
const from = Number(values.from);
const totals = {
  seeds: 0,
  failed: 0,
  faults: 0,
  operations: 0,
  writes: 0,
  reads: 0,
  elections: 0,
  messages: 0,
};
const started = Date.now();
for (let seed = from; seed < from + count; seed++) {
  const result = runOne(seed, false);
  totals.seeds++;
  totals.faults += Object.values(result.stats.faults).reduce((a, b) => a + b, 0);
  totals.operations += result.stats.operationsChecked;
  totals.writes += result.stats.writesAcknowledged;
  totals.reads += result.stats.readsOk;
  totals.elections += result.stats.leaderElections;
  totals.messages += result.stats.messages.delivered;
  if (!result.ok) {
    totals.failed++;
    printFailure(result);
    if (bug === undefined) break;
  }
  if (totals.seeds % 100 === 0)
    console.log(
      `... ${totals.seeds} seeds, ${totals.failed} failed, ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
}
console.log(
  `${totals.seeds} seeds, ${totals.failed} failed; ${totals.faults} faults injected, ${totals.operations} client operations checked ` +
    `(${totals.writes} acknowledged writes, ${totals.reads} reads), ${totals.elections} vote requests, ${totals.messages} messages delivered, ` +
    `${((Date.now() - started) / 1000).toFixed(1)} s`,
);
process.exit(totals.failed === 0 ? 0 : 1);

/** `--agents`: seeds of the agents scenario; exits with its verdict. */
function runAgentsScenario(): never {
  const variants: Record<string, object> = {
    "no-leader-grace": { bugs: { skipLeaderGrace: true } },
    "stale-attempts": { taskBugs: { acceptStaleAttempts: true } },
    "place-on-failed": { taskBugs: { placeOnFailedAgents: true } },
  };
  const broken = values.bug !== undefined;
  if (broken && !Object.hasOwn(variants, values.bug!)) {
    console.error(`with --agents, --bug is one of ${Object.keys(variants).join(", ")}`);
    process.exit(2);
  }
  const bugs = broken ? variants[values.bug!]! : {};
  const trace = values.trace ? { onTrace: (line: string) => console.log(line) } : {};
  const seeds =
    values.seed !== undefined
      ? [Number(values.seed)]
      : Array.from({ length: Number(values.seeds ?? "100") }, (_, i) => Number(values.from) + i);
  const started = Date.now();
  let failed = 0;
  let detections = 0;
  let transitions = 0;
  for (const seed of seeds) {
    const result = runAgentSimulation({ seed, ...bugs, ...(seeds.length === 1 ? trace : {}) });
    detections += result.stats.detectionsChecked;
    transitions += result.stats.transitions;
    if (!result.ok) {
      failed++;
      console.log(`\nseed ${seed} FAILED: ${result.violation?.message}`);
      for (const line of result.trace.slice(-200)) console.log(`  ${line}`);
      console.log(`\nreplay: npm run sim -- --agents --seed ${seed}${broken ? ` --bug ${values.bug}` : ""}`);
      if (!broken) break;
    }
  }
  console.log(
    `agents scenario: ${seeds.length} seeds, ${failed} failed; ${transitions} transitions replicated, ` +
      `${detections} detections checked against the deadline, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  process.exit(failed === 0 ? 0 : 1);
}
