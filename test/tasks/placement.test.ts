// Proves placement: only eligible agents are chosen (healthy, not draining, breaker admitting,
// with the skills, team and labels asked for and a free slot), the reason when none is, each
// strategy's choice (and that it does not depend on the order agents arrive in), and that
// consistent hashing moves only about 1/n of the keys when an agent joins.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { emptyMemory, place, type PlacementAgent, type PlacementLoad } from "../../src/tasks/placement.js";
import type { Requirements } from "../../src/tasks/task.js";

function agent(id: string, overrides: Partial<PlacementAgent> = {}): PlacementAgent {
  return {
    id,
    team: "build",
    skills: ["compile"],
    labels: [["zone", "a"]],
    capacity: 4,
    weight: null,
    status: "healthy",
    draining: false,
    ...overrides,
  };
}

function loadOf(active: Record<string, number> = {}, open: string[] = []): PlacementLoad {
  const counts = new Map(Object.entries(active));
  return { active: (id) => counts.get(id) ?? 0, admits: (id) => !open.includes(id) };
}

/** expect.stringMatching, typed (vitest types it as any). */
const stringMatching = (pattern: RegExp): unknown => expect.stringMatching(pattern) as unknown;

const anyTask: Requirements = { skills: [], team: null, labels: [] };
const compile: Requirements = { skills: ["compile"], team: null, labels: [] };

describe("eligibility", () => {
  it("skips agents that are not healthy, draining, breaker-open, full, or missing a skill, team or label", () => {
    const agents = [
      agent("a-suspect", { status: "suspect" }),
      agent("b-degraded", { status: "degraded" }),
      agent("c-draining", { draining: true }),
      agent("d-open"),
      agent("e-full", { capacity: 2 }),
      agent("f-no-skill", { skills: ["lint"] }),
      agent("g-other-team", { team: "infra" }),
      agent("h-other-zone", { labels: [["zone", "b"]] }),
      agent("z-good"),
    ];
    const request = {
      requirements: { skills: ["compile"], team: "build", labels: [["zone", "a"]] as [string, string][] },
      strategy: "least_connections" as const,
      affinityKey: null,
    };
    const placed = place(request, agents, loadOf({ "e-full": 2 }, ["d-open"]), emptyMemory());
    expect(placed).toEqual({ ok: true, agentId: "z-good" });
  });

  it("says why nothing fits", () => {
    const request = (requirements: Requirements) => ({
      requirements,
      strategy: "least_connections" as const,
      affinityKey: null,
    });
    expect(place(request({ ...compile, skills: ["gpu"] }), [agent("a")], loadOf(), emptyMemory())).toEqual({
      ok: false,
      reason: "no agent has skills gpu",
    });
    expect(
      place(request(compile), [agent("a", { status: "failed" })], loadOf(), emptyMemory()),
    ).toMatchObject({
      ok: false,
      reason: stringMatching(/no healthy agent/),
    });
    expect(place(request(compile), [agent("a")], loadOf({}, ["a"]), emptyMemory())).toMatchObject({
      reason: stringMatching(/circuit breaker open/),
    });
    expect(
      place(request(compile), [agent("a", { capacity: 1 })], loadOf({ a: 1 }), emptyMemory()),
    ).toMatchObject({
      reason: stringMatching(/at capacity/),
    });
  });

  it("never places on an ineligible agent, whatever the agents and loads (property)", () => {
    const agentArb = fc.record({
      id: fc.uuid(),
      status: fc.constantFrom<PlacementAgent["status"]>("healthy", "degraded", "suspect", "failed"),
      draining: fc.boolean(),
      capacity: fc.integer({ min: 1, max: 4 }),
      active: fc.integer({ min: 0, max: 5 }),
      open: fc.boolean(),
      hasSkill: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(agentArb, { selector: (a) => a.id, maxLength: 12 }),
        fc.constantFrom("least_connections", "round_robin", "weighted_round_robin", "consistent_hash"),
        (specs, strategy) => {
          const agents = specs.map((s) =>
            agent(s.id, {
              status: s.status,
              draining: s.draining,
              capacity: s.capacity,
              skills: s.hasSkill ? ["compile"] : [],
            }),
          );
          const load = loadOf(
            Object.fromEntries(specs.map((s) => [s.id, s.active])),
            specs.filter((s) => s.open).map((s) => s.id),
          );
          const placed = place(
            { requirements: compile, strategy, affinityKey: "key" },
            agents,
            load,
            emptyMemory(),
          );
          const eligible = specs.filter(
            (s) => s.status === "healthy" && !s.draining && !s.open && s.hasSkill && s.active < s.capacity,
          );
          if (eligible.length === 0) return !placed.ok;
          return placed.ok && eligible.some((s) => s.id === placed.agentId);
        },
      ),
    );
  });
});

describe("strategies", () => {
  const three = [agent("a"), agent("b"), agent("c")];
  const request = (
    strategy: "least_connections" | "round_robin" | "weighted_round_robin" | "consistent_hash",
    affinityKey: string | null = null,
  ) => ({
    requirements: anyTask,
    strategy,
    affinityKey,
  });

  it("least_connections takes the lowest share of capacity in use, ties to the smallest id", () => {
    const agents = [agent("a", { capacity: 10 }), agent("b", { capacity: 2 }), agent("c", { capacity: 4 })];
    expect(place(request("least_connections"), agents, loadOf({ a: 5, b: 1, c: 1 }), emptyMemory())).toEqual({
      ok: true,
      agentId: "c",
    });
    expect(place(request("least_connections"), three, loadOf(), emptyMemory())).toEqual({
      ok: true,
      agentId: "a",
    });
  });

  it("round_robin goes through the agents by id, whatever order they come in", () => {
    const memory = emptyMemory();
    const order = [agent("c"), agent("a"), agent("b")];
    const chosen = Array.from({ length: 6 }, () => {
      const placed = place(request("round_robin"), order, loadOf(), memory);
      return placed.ok ? placed.agentId : null;
    });
    expect(chosen).toEqual(["a", "b", "c", "a", "b", "c"]);
  });

  it("weighted_round_robin shares by weight without bursts", () => {
    const memory = emptyMemory();
    const agents = [agent("a", { weight: 5 }), agent("b", { weight: 1 }), agent("c", { weight: 1 })];
    const chosen = Array.from({ length: 7 }, () => {
      const placed = place(request("weighted_round_robin"), agents, loadOf(), memory);
      return placed.ok ? placed.agentId : null;
    });
    expect(chosen.filter((id) => id === "a")).toHaveLength(5);
    expect(chosen.join("")).not.toContain("aaaaa");
  });

  it("consistent_hash keeps a key on its agent, and moves about 1/n of keys when an agent joins", () => {
    const agents = Array.from({ length: 9 }, (_, i) => agent(`agent-${i}`));
    const keys = Array.from({ length: 5_000 }, (_, i) => `key-${i}`);
    const where = (pool: PlacementAgent[]) =>
      keys.map((key) => {
        const placed = place(request("consistent_hash", key), pool, loadOf(), emptyMemory());
        return placed.ok ? placed.agentId : null;
      });
    const before = where(agents);
    expect(where([...agents].reverse())).toEqual(before);
    const after = where([...agents, agent("agent-new")]);
    const moved = after.filter((id, i) => id !== before[i]);
    // Every moved key went to the new agent, and about 1/10 of them moved.
    expect(moved.every((id) => id === "agent-new")).toBe(true);
    expect(moved.length / keys.length).toBeGreaterThan(0.07);
    expect(moved.length / keys.length).toBeLessThan(0.13);
  });
});
