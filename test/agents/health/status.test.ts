// Proves one agent's health state machine, transition by transition: healthy -> suspect when phi
// reaches suspectPhi, suspect -> failed at failureTimeoutMs of silence, failed or suspect -> degraded on
// the next beat and -> healthy after successBeforePassing good beats; checks degrade at once, fail only
// after failuresBeforeCritical in a row and clear only after successBeforePassing passes; slow and
// overloaded answers and overloaded beats degrade but never fail; full is not overloaded; the grace
// period holds off suspect and failed, and keeps a status carried over from the log until evidence;
// transitions are returned only on change, with a reason; and the report is bounded.

import { describe, expect, it } from "vitest";
import {
  AgentHealth,
  CHECK_HISTORY_LENGTH,
  DEFAULT_HEALTH_SETTINGS,
  MAX_CHECK_DETAIL_LENGTH,
  resolveHealthSettings,
  type HealthOverrides,
  type HealthStart,
  type HealthStatus,
} from "../../../src/agents/health/index.js";
import { BUSY, FAIL, IDLE, PASS, SLOW } from "./helpers.js";

/**
 * An agent judged by the defaults (1 s beats, 15 s timeout, 2 to pass, 3 to fail) unless overridden,
 * added at 0 with a grace of 1 s, so that its first beat at 0 is on time and later timing is its own.
 */
function agent(start: Partial<HealthStart> = {}, overrides: HealthOverrides = {}): AgentHealth {
  return new AgentHealth(resolveHealthSettings(overrides), {
    status: "healthy",
    sinceMs: 0,
    graceUntilMs: 1_000,
    ...start,
  });
}

/** Beats every second from `fromMs` to `toMs` inclusive, asserting that none changes the status. */
function beatOnTime(health: AgentHealth, fromMs: number, toMs: number): void {
  for (let atMs = fromMs; atMs <= toMs; atMs += 1_000) {
    expect(health.beat(atMs, IDLE), `beat at ${atMs}`).toBeNull();
    expect(health.tick(atMs + 500), `tick at ${atMs + 500}`).toBeNull();
  }
}

/** from -> to of a transition, for compact expectations. */
function move(transition: { from: HealthStatus; to: HealthStatus } | null): string | null {
  return transition === null ? null : `${transition.from}->${transition.to}`;
}

describe("agent health: beats", () => {
  it("stays healthy while beating on time, and reports no transition", () => {
    const health = agent();
    beatOnTime(health, 0, 60_000);
    expect(health.currentStatus()).toBe("healthy");
  });

  it("turns suspect exactly when phi reaches suspectPhi, then failed at failureTimeoutMs", () => {
    const health = agent();
    beatOnTime(health, 0, 10_000);
    const { suspectAtMs, leaseEndsAtMs } = health.status(10_000);
    expect(suspectAtMs).toBeCloseTo(10_000 + 1_000 + 2_000 + 522.6, 0);
    expect(leaseEndsAtMs).toBe(25_000);
    expect(health.tick(suspectAtMs - 1)).toBeNull();
    const suspect = health.tick(suspectAtMs);
    expect(suspect).toMatchObject({ from: "healthy", to: "suspect", atMs: suspectAtMs });
    expect(suspect?.reason).toMatch(/^heartbeats late: phi 8\.0 after 3523 ms of silence/);
    expect(health.status(suspectAtMs).phi).toBeGreaterThanOrEqual(8 - 1e-9);
    expect(health.tick(24_999)).toBeNull();
    const failed = health.tick(25_000);
    expect(failed).toMatchObject({ from: "suspect", to: "failed", atMs: 25_000 });
    expect(failed?.reason).toBe("no heartbeat for 15000 ms (failure timeout 15000 ms)");
    expect(health.tick(1e9)).toBeNull();
    expect(health.nextWakeMs()).toBe(Infinity);
  });

  it("brings a failed agent that beats again to degraded, and to healthy after 2 more on-time beats", () => {
    const health = agent();
    beatOnTime(health, 0, 10_000);
    health.tick(30_000);
    expect(health.currentStatus()).toBe("failed");
    const resumed = health.beat(40_000, IDLE);
    expect(move(resumed)).toBe("failed->degraded");
    expect(resumed?.reason).toBe(
      "heartbeats resumed after 30000 ms of silence; healthy after 2 good beats in a row",
    );
    expect(health.beat(41_000, IDLE)).toBeNull();
    const healthy = health.beat(42_000, IDLE);
    expect(move(healthy)).toBe("degraded->healthy");
    expect(healthy?.reason).toBe("heartbeats on time and checks passing");
  });

  it("brings a suspect agent that beats again to degraded, then healthy the same way", () => {
    const health = agent();
    beatOnTime(health, 0, 10_000);
    expect(move(health.tick(14_000))).toBe("healthy->suspect");
    expect(move(health.beat(14_500, IDLE))).toBe("suspect->degraded");
    expect(health.beat(15_500, IDLE)).toBeNull();
    expect(move(health.beat(16_500, IDLE))).toBe("degraded->healthy");
  });

  it("judges a late beat the same whether or not a tick saw the silence first", () => {
    const health = agent();
    beatOnTime(health, 0, 10_000);
    // No tick between: the beat itself finds the agent late and reports the net change.
    expect(move(health.beat(20_000, IDLE))).toBe("healthy->degraded");
    const failedFirst = agent();
    beatOnTime(failedFirst, 0, 10_000);
    expect(move(failedFirst.beat(30_000, IDLE))).toBe("healthy->degraded");
  });

  it("degrades on an overloaded beat, not on a full one, and clears after 2 good beats", () => {
    const health = agent();
    beatOnTime(health, 0, 3_000);
    expect(health.beat(4_000, { activeTasks: 4, capacity: 4 })).toBeNull();
    expect(health.beat(5_000, { activeTasks: 9, capacity: 4 })).toBeNull();
    const overloaded = health.beat(6_000, { activeTasks: 4, capacity: 4, overloaded: true });
    expect(move(overloaded)).toBe("healthy->degraded");
    expect(overloaded?.reason).toBe("reports overloaded; healthy after 2 good beats in a row");
    expect(health.beat(7_000, { activeTasks: 4, capacity: 4, overloaded: false })).toBeNull();
    expect(move(health.beat(8_000, IDLE))).toBe("degraded->healthy");
  });

  it("degrades when the load gauge is set and the agent runs more than that many tasks per unit of capacity", () => {
    const health = agent({}, { overloadedAboveLoad: 1.5 });
    expect(health.beat(0, { activeTasks: 6, capacity: 4 })).toBeNull();
    const over = health.beat(1_000, { activeTasks: 7, capacity: 4 });
    expect(move(over)).toBe("healthy->degraded");
    expect(over?.reason).toMatch(/^running 7 tasks on capacity 4, above 1.5x/);
  });

  it("goes straight from healthy to failed when the failure timeout comes before phi would suspect", () => {
    // 3 s beats, 6 s timeout: suspect would be at 3 + 2 + 5.2 * 0.3 = 6.57 s, after the lease ends.
    const health = agent({}, { heartbeatIntervalMs: 3_000, failureTimeoutMs: 6_000 });
    expect(health.beat(0, IDLE)).toBeNull();
    expect(health.tick(5_999)).toBeNull();
    expect(move(health.tick(6_000))).toBe("healthy->failed");
  });
});

describe("agent health: active checks", () => {
  it("degrades at the first failure and fails at the third in a row", () => {
    const health = agent();
    health.beat(0, IDLE);
    const first = health.check(1_100, FAIL);
    expect(move(first)).toBe("healthy->degraded");
    expect(first?.reason).toBe("check failed (1 of 3 before failed): HTTP 500");
    expect(health.check(1_200, FAIL)).toBeNull();
    const third = health.check(1_300, FAIL);
    expect(move(third)).toBe("degraded->failed");
    expect(third?.reason).toBe("3 checks failed in a row: HTTP 500");
  });

  it("restarts the run of failures after a pass, a slow answer or an overloaded one", () => {
    for (const interruption of [PASS, SLOW, BUSY]) {
      const health = agent();
      health.beat(0, IDLE);
      health.check(1_100, FAIL);
      health.check(1_200, FAIL);
      health.check(1_300, interruption);
      health.check(1_400, FAIL);
      expect(health.check(1_500, FAIL)).toBeNull();
      expect(health.currentStatus()).toBe("degraded");
      expect(move(health.check(1_600, FAIL))).toBe("degraded->failed");
    }
  });

  it("needs 2 passing checks in a row to be healthy again; beats in between do not count", () => {
    const health = agent();
    health.beat(0, IDLE);
    health.check(1_100, FAIL);
    expect(health.check(1_200, PASS)).toBeNull();
    expect(health.beat(2_000, IDLE)).toBeNull();
    expect(health.beat(3_000, IDLE)).toBeNull();
    expect(health.currentStatus()).toBe("degraded");
    expect(move(health.check(3_100, PASS))).toBe("degraded->healthy");
  });

  it("brings an agent failed by its checks to degraded at its first pass and healthy after the second", () => {
    const health = agent();
    health.beat(0, IDLE);
    for (const atMs of [1_100, 1_200, 1_300]) health.check(atMs, FAIL);
    expect(health.currentStatus()).toBe("failed");
    // Beats alone do not clear failed checks.
    expect(health.beat(2_000, IDLE)).toBeNull();
    const lifted = health.check(2_100, PASS);
    expect(move(lifted)).toBe("failed->degraded");
    expect(lifted?.reason).toBe("checks recovering: 1 of 2 passes");
    expect(move(health.check(2_200, PASS))).toBe("degraded->healthy");
  });

  it("degrades on slow and overloaded answers however many, and never fails on them", () => {
    for (const [result, reason] of [
      [SLOW, "check slow (3000 ms): HTTP 200"],
      [BUSY, "check says overloaded: HTTP 429"],
    ] as const) {
      const health = agent();
      health.beat(0, IDLE);
      const first = health.check(1_100, result);
      expect(move(first)).toBe("healthy->degraded");
      expect(first?.reason).toBe(reason);
      for (let i = 1; i < 20; i += 1) expect(health.check(1_100 + i, result)).toBeNull();
      expect(health.check(1_200, PASS)).toBeNull();
      expect(move(health.check(1_300, PASS))).toBe("degraded->healthy");
    }
  });

  it("reports suspect over degraded, and failed over both", () => {
    const health = agent();
    beatOnTime(health, 0, 5_000);
    health.check(5_100, FAIL);
    expect(move(health.tick(9_000))).toBe("degraded->suspect");
    expect(health.check(9_100, FAIL)).toBeNull();
    expect(move(health.check(9_200, FAIL))).toBe("suspect->failed");
  });
});

describe("agent health: grace", () => {
  it("fails an agent never heard from at the grace end, not before", () => {
    const health = agent({ graceUntilMs: 15_000 });
    expect(health.nextWakeMs()).toBe(15_000);
    expect(health.tick(14_999)).toBeNull();
    const failed = health.tick(15_000);
    expect(move(failed)).toBe("healthy->failed");
    expect(failed?.reason).toBe("no heartbeat by the end of the grace period");
  });

  it("pushes both liveness deadlines to at least the grace end", () => {
    const health = agent({ graceUntilMs: 10_000 });
    health.beat(1_000, IDLE);
    expect(health.status(1_000)).toMatchObject({ suspectAtMs: 10_000, leaseEndsAtMs: 16_000 });
    expect(health.tick(9_999)).toBeNull();
    expect(move(health.tick(10_000))).toBe("healthy->suspect");
    expect(move(health.tick(16_000))).toBe("suspect->failed");
  });

  it("holds critical checks at degraded until the grace ends, then fails at the first tick", () => {
    const health = agent({ graceUntilMs: 20_000 });
    beatOnTime(health, 0, 2_000);
    expect(move(health.check(2_100, FAIL))).toBe("healthy->degraded");
    health.check(2_200, FAIL);
    expect(health.check(2_300, FAIL)).toBeNull();
    expect(health.status(2_300).reason).toBe("check failed (1 of 3 before failed): HTTP 500");
    beatOnTime(health, 3_000, 18_000);
    expect(health.nextWakeMs()).toBe(20_000);
    const failed = health.tick(20_000);
    expect(move(failed)).toBe("degraded->failed");
    expect(failed?.reason).toBe("3 checks failed in a row: HTTP 500");
  });

  it("keeps a status carried over from the log until evidence or the grace end", () => {
    for (const status of ["degraded", "suspect", "failed"] as const) {
      const health = agent({ status, graceUntilMs: 15_000, reason: "from the log" });
      for (let atMs = 0; atMs < 15_000; atMs += 100) expect(health.tick(atMs)).toBeNull();
      expect(health.status(0)).toMatchObject({ status, reason: "from the log" });
    }
    // Unheard through the grace: a suspect agent is failed at its end, a failed one stays failed.
    expect(move(agent({ status: "suspect", graceUntilMs: 15_000 }).tick(15_000))).toBe("suspect->failed");
    expect(agent({ status: "failed", graceUntilMs: 15_000 }).tick(15_000)).toBeNull();
    expect(move(agent({ status: "degraded", graceUntilMs: 15_000 }).tick(15_000))).toBe("degraded->failed");
  });

  it("recovers a carried-over status by the same hysteresis: degraded at the first beat, healthy after 2 more", () => {
    for (const status of ["suspect", "failed"] as const) {
      const health = agent({ status, graceUntilMs: 15_000 });
      expect(move(health.beat(3_000, IDLE))).toBe(`${status}->degraded`);
      expect(health.beat(4_000, IDLE)).toBeNull();
      expect(move(health.beat(5_000, IDLE))).toBe("degraded->healthy");
    }
    const degraded = agent({ status: "degraded", graceUntilMs: 15_000 });
    expect(degraded.beat(3_000, IDLE)).toBeNull();
    expect(move(degraded.beat(4_000, IDLE))).toBe("degraded->healthy");
  });

  it("a grant extends the grace and never shortens it", () => {
    const health = agent();
    health.beat(0, IDLE);
    health.grant(30_000);
    health.grant(5_000);
    expect(health.leaseEndsAtMs()).toBe(30_000);
    expect(health.tick(29_999)).toBeNull();
    expect(move(health.tick(30_000))).toBe("healthy->failed");
  });

  it("keeps an agent that is already suspect suspect through a new grant", () => {
    const health = agent();
    beatOnTime(health, 0, 5_000);
    health.tick(9_000);
    health.grant(40_000);
    expect(health.tick(39_999)).toBeNull();
    expect(health.currentStatus()).toBe("suspect");
    expect(move(health.tick(40_000))).toBe("suspect->failed");
  });
});

describe("agent health: report and settings", () => {
  it("reports phi, the last beat, the runs, and at most the last 5 checks, oldest first", () => {
    const health = agent();
    beatOnTime(health, 0, 5_000);
    for (let i = 0; i < 8; i += 1) {
      health.check(5_100 + i, { ...PASS, detail: `check ${i}` });
    }
    health.check(5_200, { ...FAIL, detail: "x".repeat(10_000) });
    const report = health.status(6_000);
    expect(report.lastChecks).toHaveLength(CHECK_HISTORY_LENGTH);
    expect(report.lastChecks.map((check) => check.detail.slice(0, 7))).toEqual([
      "check 4",
      "check 5",
      "check 6",
      "check 7",
      "x".repeat(7),
    ]);
    expect(report.lastChecks.at(-1)?.detail).toHaveLength(MAX_CHECK_DETAIL_LENGTH);
    expect(report.lastChecks.at(-1)?.atMs).toBe(5_200);
    expect(report).toMatchObject({
      status: "degraded",
      sinceMs: 5_200,
      lastBeatMs: 5_000,
      consecutiveFailures: 1,
      consecutiveSuccesses: 0,
      beats: { level: "passing", consecutiveSuccesses: 6 },
      checks: { level: "warning", consecutiveFailures: 1 },
    });
    expect(report.phi).toBeGreaterThan(0);
    expect(report.phi).toBeLessThan(1);
  });

  it("makes ticks before the next deadline free: nothing is due until nextWakeMs", () => {
    const health = agent();
    health.beat(0, IDLE);
    expect(health.nextWakeMs()).toBe(health.status(0).suspectAtMs);
  });

  it("refuses settings that would fail live agents or never fail any", () => {
    for (const bad of [
      { heartbeatIntervalMs: 0 },
      { heartbeatIntervalMs: 1_000, failureTimeoutMs: 1_999 },
      { failureTimeoutMs: 3_600_001 },
      { successBeforePassing: 0 },
      { failuresBeforeCritical: 0 },
      { failuresBeforeCritical: 2.5 },
      { successBeforePassing: 101 },
      { overloadedAboveLoad: 0.5 },
      { overloadedAboveLoad: Infinity },
      { phi: { suspectPhi: -1 } },
    ]) {
      expect(() => resolveHealthSettings(bad), JSON.stringify(bad)).toThrow(RangeError);
    }
    expect(resolveHealthSettings()).toEqual(DEFAULT_HEALTH_SETTINGS);
    expect(resolveHealthSettings({ phi: { suspectPhi: 12 } }).phi).toMatchObject({
      suspectPhi: 12,
      windowSize: 100,
    });
  });
});
