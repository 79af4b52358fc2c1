// Proves the Raft core safe and live under faults: a fixed set of simulator seeds (every fault
// profile, three- to seven-node clusters) must pass every checker, and a seed must replay exactly.

import { describe, expect, it } from "vitest";
import { runSimulation, type SimResult } from "./simulation.js";

// 300 here; `npm run sim -- --seeds 10000` explores further.
const SEEDS = 300;
const CHUNK = 50;

function explain(result: SimResult): string {
  return [
    `seed ${result.seed} failed: ${result.violation?.message}`,
    `config: ${result.config}`,
    ...result.trace.slice(-60),
    `replay: npm run sim -- --seed ${result.seed}`,
  ].join("\n");
}

describe("simulator: fixed seeds", () => {
  for (let from = 1; from <= SEEDS; from += CHUNK) {
    const to = Math.min(SEEDS, from + CHUNK - 1);
    it(`seeds ${from}-${to} keep every safety property and make progress once faults stop`, async () => {
      let faults = 0;
      let operations = 0;
      for (let seed = from; seed <= to; seed++) {
        // A seed runs synchronously; yielding between seeds lets the worker answer vitest's RPC
        // (a worker that holds its loop for a minute is taken for dead).
        await new Promise<void>((resolve) => setImmediate(resolve));
        const result = runSimulation({ seed });
        if (!result.ok) expect.fail(explain(result));
        faults += Object.values(result.stats.faults).reduce((a, b) => a + b, 0);
        operations += result.stats.operationsChecked;
        expect(result.stats.writesAcknowledged).toBeGreaterThan(0);
      }
      console.log(
        `seeds ${from}-${to}: ${to - from + 1} seeds, ${faults} faults injected, ${operations} operations checked`,
      );
    });
  }
});

describe("simulator: a store whose database goes away (the PostgreSQL store)", () => {
  it("seeds 1-16 with store outages keep every safety property and make progress once faults stop", async () => {
    let outages = 0;
    for (let seed = 1; seed <= 16; seed++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const result = runSimulation({ seed, profile: "store_outages" });
      if (!result.ok) expect.fail(`${explain(result)} --profile store_outages`);
      outages +=
        (result.stats.faults["store_outage"] ?? 0) + (result.stats.faults["shared_store_outage"] ?? 0);
      expect(result.stats.writesAcknowledged).toBeGreaterThan(0);
    }
    expect(outages).toBeGreaterThan(16);
  });
});

describe("simulator: determinism", () => {
  it("replays a seed exactly: same trace, same counts", () => {
    const first = runSimulation({ seed: 4242 });
    const second = runSimulation({ seed: 4242 });
    expect(second.trace).toEqual(first.trace);
    expect(second.stats).toEqual(first.stats);
  });

  it("different seeds explore different histories", () => {
    expect(runSimulation({ seed: 1 }).stats).not.toEqual(runSimulation({ seed: 2 }).stats);
  });
});
