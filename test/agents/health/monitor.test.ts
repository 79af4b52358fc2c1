// Proves the monitor of many agents: beats and check results reach their own agent and come back as
// transitions naming it; a tick returns every agent's time-driven transitions and, when nothing
// changed, the same shared empty list (nothing allocated); agents are added, overridden, bounded and
// removed (the rest are still ticked); leases end at the last beat plus the agent's own timeout or at
// its grace end; and a new leader's grace gives each agent its own full failureTimeoutMs.

import { describe, expect, it } from "vitest";
import { AssertionError } from "../../../src/raft/assert.js";
import { HealthMonitor, resolveHealthSettings } from "../../../src/agents/health/index.js";
import { FAIL, IDLE } from "./helpers.js";

/** A monitor with agents "a", "b" and "c" added at 0 with a 1 s grace, each beating at 0. */
function threeAgents(): HealthMonitor {
  const monitor = new HealthMonitor();
  for (const id of ["a", "b", "c"]) {
    monitor.add(id, {}, "healthy", 1_000);
    monitor.beat(id, 0, IDLE);
  }
  return monitor;
}

describe("health monitor", () => {
  it("routes beats and checks to their agent and names it in the transition", () => {
    const monitor = threeAgents();
    expect(monitor.checkResult("b", 2_000, FAIL)).toMatchObject({
      agentId: "b",
      from: "healthy",
      to: "degraded",
      atMs: 2_000,
    });
    expect(monitor.statusOf("a")).toBe("healthy");
    expect(monitor.beat("b", 1_000, { capacity: 1, overloaded: true })).toBeNull();
    expect(monitor.beat("a", 1_000, { capacity: 1, overloaded: true })).toMatchObject({ agentId: "a" });
  });

  it("ignores beats and checks of agents it does not watch", () => {
    const monitor = threeAgents();
    expect(monitor.beat("__proto__", 1, IDLE)).toBeNull();
    expect(monitor.checkResult("constructor", 1, FAIL)).toBeNull();
    expect(monitor.leaseEndsAt("toString")).toBeNull();
    expect(monitor.snapshot("nobody", 0)).toBeNull();
    expect(monitor.statusOf("nobody")).toBeNull();
    expect(monitor.grant("nobody", 1)).toBe(false);
  });

  it("returns every agent's transitions from a tick, and one shared empty list when nothing changed", () => {
    const monitor = threeAgents();
    const quiet = monitor.tick(1_000);
    expect(quiet).toEqual([]);
    expect(monitor.tick(2_000)).toBe(quiet);
    expect(Object.isFrozen(quiet)).toBe(true);
    for (let atMs = 1_000; atMs <= 15_000; atMs += 1_000) monitor.beat("c", atMs, IDLE);
    const transitions = monitor.tick(15_000);
    expect(transitions.map((t) => `${t.agentId}:${t.from}->${t.to}`).sort()).toEqual([
      "a:healthy->failed",
      "b:healthy->failed",
    ]);
    expect(monitor.tick(15_000)).toBe(quiet);
  });

  it("reports lease ends: the last beat plus the agent's own timeout, or its grace end if later", () => {
    const monitor = new HealthMonitor();
    monitor.add("new", {}, "healthy", 15_000);
    expect(monitor.leaseEndsAt("new")).toBe(15_000);
    monitor.beat("new", 1_000, IDLE);
    expect(monitor.leaseEndsAt("new")).toBe(16_000);
    monitor.add("patient", { failureTimeoutMs: 60_000 }, "healthy", 1_000);
    monitor.beat("patient", 500, IDLE);
    expect(monitor.leaseEndsAt("patient")).toBe(60_500);
  });

  it("judges each agent by its own overrides", () => {
    const monitor = new HealthMonitor();
    monitor.add("strict", { failuresBeforeCritical: 1 }, "healthy", 10);
    monitor.add("lenient", {}, "healthy", 10);
    monitor.beat("strict", 0, IDLE);
    monitor.beat("lenient", 0, IDLE);
    expect(monitor.checkResult("strict", 100, FAIL)?.to).toBe("failed");
    expect(monitor.checkResult("lenient", 100, FAIL)?.to).toBe("degraded");
    expect(() => monitor.add("bad", { failureTimeoutMs: 10 }, "healthy", 0)).toThrow(RangeError);
  });

  it("starts from the defaults it was given", () => {
    const monitor = new HealthMonitor({ defaults: resolveHealthSettings({ failureTimeoutMs: 5_000 }) });
    monitor.add("a", {}, "healthy", 0);
    monitor.beat("a", 0, IDLE);
    expect(monitor.leaseEndsAt("a")).toBe(5_000);
  });

  it("grants a new leader's grace of each agent's own failure timeout", () => {
    const monitor = new HealthMonitor();
    monitor.add("short", {}, "healthy", 0);
    monitor.add("long", { failureTimeoutMs: 40_000 }, "suspect", 0);
    monitor.grantAll(100_000);
    expect(monitor.leaseEndsAt("short")).toBe(115_000);
    expect(monitor.leaseEndsAt("long")).toBe(140_000);
    expect(monitor.tick(114_999)).toEqual([]);
    expect(monitor.tick(115_000).map((t) => t.agentId)).toEqual(["short"]);
    expect(monitor.tick(140_000).map((t) => `${t.agentId}:${t.from}->${t.to}`)).toEqual([
      "long:suspect->failed",
    ]);
  });

  it("keeps a carried-over status, its time and its reason", () => {
    const monitor = new HealthMonitor();
    monitor.add("a", {}, "degraded", 20_000, { sinceMs: 3_000, reason: "slow checks" });
    expect(monitor.snapshot("a", 5_000)).toMatchObject({
      status: "degraded",
      sinceMs: 3_000,
      reason: "slow checks",
    });
    monitor.add("b", {}, "healthy", 20_000);
    expect(monitor.snapshot("b", 5_000)?.sinceMs).toBe(5_000);
  });

  it("removes agents, keeps ticking the others, and refuses a second add of the same id", () => {
    const monitor = threeAgents();
    expect(monitor.remove("a")).toBe(true);
    expect(monitor.remove("a")).toBe(false);
    expect(monitor.size).toBe(2);
    expect([...monitor.ids()].sort()).toEqual(["b", "c"]);
    expect(
      monitor
        .tick(20_000)
        .map((t) => t.agentId)
        .sort(),
    ).toEqual(["b", "c"]);
    expect(() => monitor.add("b", {}, "healthy", 0)).toThrow(AssertionError);
    monitor.add("a", {}, "healthy", 30_000);
    expect(monitor.has("a")).toBe(true);
    expect(monitor.tick(30_000).map((t) => t.agentId)).toEqual(["a"]);
  });

  it("refuses agents beyond its bound", () => {
    const monitor = new HealthMonitor({ maxAgents: 2 });
    monitor.add("a", {}, "healthy", 0);
    monitor.add("b", {}, "healthy", 0);
    expect(() => monitor.add("c", {}, "healthy", 0)).toThrow(RangeError);
    monitor.remove("a");
    monitor.add("c", {}, "healthy", 0);
    expect(() => new HealthMonitor({ maxAgents: 0 })).toThrow(RangeError);
  });
});
