// Proves the Raft core safe and live with a store whose database goes away (the store_outages
// profile), and that a seed replays exactly. The fixed seeds of every other profile are
// simulator-seeds-*.test.ts.

import { describe, expect, it } from "vitest";
import { runSimulation } from "./simulation.js";

import { explain } from "./simulator-seeds.js";

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
