// The simulator's fixed seeds (every fault profile, three- to seven-node clusters), in two files
// (simulator-seeds-1..2.test.ts) so that the suite's two workers share them: each seed must pass
// every checker and make progress once faults stop. `npm run sim -- --seeds 10000` explores further.

import { expect, it } from "vitest";
import { runSimulation, type SimResult } from "./simulation.js";

const CHUNK = 50;

export function explain(result: SimResult): string {
  return [
    `seed ${result.seed} failed: ${result.violation?.message}`,
    `config: ${result.config}`,
    ...result.trace.slice(-60),
    `replay: npm run sim -- --seed ${result.seed}`,
  ].join("\n");
}

/** Tests over seeds `first` through `last`, CHUNK seeds each. */
export function simulatorSeeds(first: number, last: number): void {
  for (let from = first; from <= last; from += CHUNK) {
    const to = Math.min(last, from + CHUNK - 1);
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
}
