// Proves agents' health and tasks hold under faults: fixed seeds of the agents scenario (juno
// nodes crashing and cut off, agents crashing and pausing while they work on tasks) never mark an
// agent on schedule suspect or failed, detect crashed agents in time, recover everyone once the
// faults stop, and end every accepted task succeeded exactly once (tasks-workload.ts) and every
// workflow succeeded with its steps in dependency order, each once (workflows-workload.ts); a broken
// variant (a new leader without its grace period) is caught; a seed replays exactly.

import { describe, expect, it } from "vitest";
import { runAgentSimulation, type AgentSimResult } from "./agents-sim.js";

// 150 here; `npm run sim -- --agents --seeds 1000` explores further.
const SEEDS = 150;
const CHUNK = 50;

function explain(result: AgentSimResult): string {
  return [
    `seed ${result.seed} failed: ${result.violation?.message}`,
    ...result.trace.slice(-60),
    `replay: npm run sim -- --agents --seed ${result.seed}`,
  ].join("\n");
}

describe("agents simulation: fixed seeds", () => {
  for (let from = 1; from <= SEEDS; from += CHUNK) {
    const to = Math.min(SEEDS, from + CHUNK - 1);
    it(`seeds ${from}-${to}: no false positive, crashed agents detected, everyone recovers, every task once, every workflow in order to its end`, async () => {
      let detections = 0;
      let transitions = 0;
      let tasks = 0;
      let workflows = 0;
      for (let seed = from; seed <= to; seed++) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        const result = runAgentSimulation({ seed });
        if (!result.ok) expect.fail(explain(result));
        detections += result.stats.detectionsChecked;
        transitions += result.stats.transitions;
        tasks += result.stats.tasksCompleted;
        workflows += result.stats.workflowsAccepted;
        expect(result.stats.beatsTaken).toBeGreaterThan(0);
      }
      // The checkers had something to check.
      expect(detections).toBeGreaterThan(0);
      expect(transitions).toBeGreaterThan(0);
      expect(tasks).toBeGreaterThan(0);
      expect(workflows).toBeGreaterThan(0);
    });
  }
});

describe("agents simulation: the checkers bite", () => {
  it("a new leader that grants no grace period is caught as a false positive within 50 seeds", () => {
    let caught: AgentSimResult | null = null;
    for (let seed = 1; seed <= 50 && caught === null; seed++) {
      const result = runAgentSimulation({ seed, bugs: { skipLeaderGrace: true } });
      if (!result.ok) caught = result;
    }
    expect(caught?.violation?.property).toBe("agent false positive");
  });

  it("a tasks module that counts a stale attempt's completion is caught within 50 seeds", async () => {
    let caught: AgentSimResult | null = null;
    for (let seed = 1; seed <= 50 && caught === null; seed++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const result = runAgentSimulation({ seed, taskBugs: { acceptStaleAttempts: true } });
      if (!result.ok) caught = result;
    }
    expect(caught?.violation?.property).toMatch(/^task (stale completion|counted twice)$/);
  });

  it("a workflows module that carries out a step's effect twice is caught within 20 seeds", async () => {
    let caught: AgentSimResult | null = null;
    for (let seed = 1; seed <= 20 && caught === null; seed++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const result = runAgentSimulation({ seed, workflowBugs: { submitTwice: true } });
      if (!result.ok) caught = result;
    }
    expect(caught?.violation?.property).toBe("workflow step counted twice");
  });

  it("replays a seed exactly", () => {
    const first = runAgentSimulation({ seed: 77 });
    const second = runAgentSimulation({ seed: 77 });
    expect(second.trace).toEqual(first.trace);
    expect(second.stats).toEqual(first.stats);
  });
});
