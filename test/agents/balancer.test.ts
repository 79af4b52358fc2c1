// Proves the balancing strategies: round robin takes turns, weighted round robin serves in
// proportion to weight without bursts, least connections takes the least loaded per unit of
// capacity, and consistent hashing keeps a key on one agent and moves few keys when agents come.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BalancerMemory, choose, type Candidate } from "../../src/agents/balancer.js";

const agent = (id: string, capacity = 1, weight: number | null = null, active = 0): Candidate => ({
  id,
  capacity,
  weight,
  active,
});

describe("balancer", () => {
  it("round robin takes each in turn", () => {
    const memory = new BalancerMemory();
    const candidates = [agent("a"), agent("b"), agent("c")];
    const picks = Array.from({ length: 6 }, () => choose("round_robin", candidates, memory, null)!.id);
    expect(picks).toEqual(["a", "b", "c", "a", "b", "c"]);
  });

  it("weighted round robin serves in proportion to weight, interleaved (no bursts)", () => {
    const memory = new BalancerMemory();
    const candidates = [agent("a", 1, 5), agent("b", 1, 1), agent("c", 1, 1)];
    const picks = Array.from(
      { length: 7 },
      () => choose("weighted_round_robin", candidates, memory, null)!.id,
    );
    expect(picks.filter((p) => p === "a")).toHaveLength(5);
    expect(picks.filter((p) => p === "b")).toHaveLength(1);
    // nginx's smooth sequence for 5/1/1: a a b a c a a.
    expect(picks).toEqual(["a", "a", "b", "a", "c", "a", "a"]);
  });

  it("weighted round robin falls back to capacity, and forgets agents that left", () => {
    const memory = new BalancerMemory();
    const picks = Array.from(
      { length: 4 },
      () => choose("weighted_round_robin", [agent("a", 3), agent("b", 1)], memory, null)!.id,
    );
    expect(picks.filter((p) => p === "a")).toHaveLength(3);
    choose("weighted_round_robin", [agent("a", 3)], memory, null);
    expect([...memory.current.keys()]).toEqual(["a"]);
  });

  it("least connections picks the lowest load per unit of capacity", () => {
    const candidates = [agent("a", 4, null, 3), agent("b", 1, null, 0), agent("c", 10, null, 5)];
    expect(choose("least_connections", candidates, new BalancerMemory(), null)!.id).toBe("b");
    const busy = [agent("a", 4, null, 3), agent("b", 1, null, 1), agent("c", 10, null, 5)];
    expect(choose("least_connections", busy, new BalancerMemory(), null)!.id).toBe("c");
  });

  it("no candidates: null", () => {
    expect(choose("round_robin", [], new BalancerMemory(), null)).toBeNull();
  });

  it("consistent hashing: a key stays put; adding an agent moves only keys to it, about 1/(n+1) of them", () => {
    const before = Array.from({ length: 8 }, (_, i) => agent(`agent-${i}`));
    const after = [...before, agent("agent-new")];
    const keys = Array.from({ length: 4000 }, (_, i) => `user-${i}`);
    let moved = 0;
    for (const key of keys) {
      const first = choose("consistent_hash", before, new BalancerMemory(), key)!.id;
      expect(choose("consistent_hash", before, new BalancerMemory(), key)!.id).toBe(first);
      const second = choose("consistent_hash", after, new BalancerMemory(), key)!.id;
      if (second !== first) {
        moved++;
        expect(second).toBe("agent-new");
      }
    }
    expect(moved / keys.length).toBeGreaterThan(0.05);
    expect(moved / keys.length).toBeLessThan(0.2);
  });

  it("consistent hashing: removing an agent moves only the keys it held", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }), fc.string(), (count, key) => {
        const all = Array.from({ length: count }, (_, i) => agent(`a${i}`));
        const owner = choose("consistent_hash", all, new BalancerMemory(), key)!.id;
        const without = all.filter((c) => c.id !== `a${count - 1}`);
        const next = choose("consistent_hash", without, new BalancerMemory(), key)!.id;
        return owner === `a${count - 1}` || next === owner;
      }),
    );
  });
});
