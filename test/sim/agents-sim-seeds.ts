// The agents scenario's fixed seeds, in three files (agents-sim-seeds-1..3.test.ts) so that the
// suite's two workers share them: juno nodes crashing and cut off, agents crashing and pausing
// while they work on tasks, never mark an agent on schedule suspect or failed, detect crashed
// agents in time, recover everyone once the faults stop, and end every accepted task succeeded
// exactly once (tasks-workload.ts) and every workflow succeeded with its steps in dependency
// order, each once (workflows-workload.ts). 105 seeds here (the suite keeps within its time
// budget); `npm run sim -- --agents --seeds 1000` explores further.

import { expect, it } from "vitest";
import { runAgentSimulation, type AgentSimResult } from "./agents-sim.js";

export function explain(result: AgentSimResult): string {
  return [
    `seed ${result.seed} failed: ${result.violation?.message}`,
    ...result.trace.slice(-60),
    `replay: npm run sim -- --agents --seed ${result.seed}`,
  ].join("\n");
}

/** One test over seeds `from` through `to`. */
export function agentSeeds(from: number, to: number): void {
  it(`seeds ${from}-${to}: no false positive, crashed agents detected, everyone recovers, every task once, every workflow in order to its end`, async () => {
    let detections = 0;
    let placements = 0;
    let transitions = 0;
    let tasks = 0;
    let workflows = 0;
    for (let seed = from; seed <= to; seed++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const result = runAgentSimulation({ seed });
      if (!result.ok) expect.fail(explain(result));
      detections += result.stats.detectionsChecked;
      placements += result.stats.placementsChecked;
      transitions += result.stats.transitions;
      tasks += result.stats.tasksCompleted;
      workflows += result.stats.workflowsAccepted;
      expect(result.stats.beatsTaken).toBeGreaterThan(0);
    }
    // The checkers had something to check.
    expect(detections).toBeGreaterThan(0);
    expect(placements).toBeGreaterThan(0);
    expect(transitions).toBeGreaterThan(0);
    expect(tasks).toBeGreaterThan(0);
    expect(workflows).toBeGreaterThan(0);
  });
}
