// Proves the simulator's checkers are not vacuous: each deliberately broken variant of Raft is
// caught, by the checker that guards the property it breaks, within a bounded number of seeds,
// while the correct build passes the very seed that exposed the bug.

import { describe, expect, it } from "vitest";
import { BUGS, type BugName } from "./bugs.js";
import { runSimulation } from "./simulation.js";

const SEED_BOUND = 100;

const EXPECTED: Record<BugName, string[]> = {
  "commit-old-term": [
    "leader completeness",
    "committed entries never change",
    "state machine safety",
    "core assertion",
  ],
  "vote-without-log-check": [
    "leader completeness",
    "committed entries never change",
    "state machine safety",
    "core assertion",
  ],
  "forget-vote": ["one vote per term", "election safety"],
  "read-without-quorum": ["linearizability"],
  "send-before-persist": ["acknowledged means durable", "leader completeness", "no acknowledged write lost"],
};

describe("simulator: broken variants are caught", () => {
  for (const name of Object.keys(BUGS) as BugName[]) {
    it(`${name} is caught within ${SEED_BOUND} seeds`, () => {
      let found: { seed: number; property: string; message: string } | null = null;
      for (let seed = 1; seed <= SEED_BOUND && found === null; seed++) {
        const result = runSimulation({ seed, ...BUGS[name] });
        if (result.violation !== null)
          found = { seed, property: result.violation.property, message: result.violation.message };
      }
      expect(found, `${name} went unnoticed for ${SEED_BOUND} seeds`).not.toBeNull();
      console.log(`${name}: caught at seed ${found!.seed}: ${found!.message}`);
      expect(EXPECTED[name]).toContain(found!.property);
      const {
        raftBugs: _raftBugs,
        hostBugs: _hostBugs,
        ...withoutBug
      } = BUGS[name] as Record<string, unknown>;
      expect(runSimulation({ seed: found!.seed, ...withoutBug }).violation).toBeNull();
    });
  }
});
