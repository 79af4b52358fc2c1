// Proves the agents scenario's checkers bite: broken variants (a new leader without its grace
// period, a tasks module counting a stale attempt, a workflows module repeating a step's effect)
// are caught, and a seed replays exactly. The fixed seeds are agents-sim-seeds-*.test.ts.

import { describe, expect, it } from "vitest";
import { runAgentSimulation, type AgentSimResult } from "./agents-sim.js";

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

  it("a tasks module that places a task on a failed agent is caught within 20 seeds", async () => {
    let caught: AgentSimResult | null = null;
    for (let seed = 1; seed <= 20 && caught === null; seed++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const result = runAgentSimulation({ seed, taskBugs: { placeOnFailedAgents: true } });
      if (!result.ok) caught = result;
    }
    expect(caught?.violation?.property).toBe("task placed on a failed agent");
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
