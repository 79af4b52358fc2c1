// Proves three properties of the health state machine over random schedules: (a) an agent beating on
// schedule, with jitter under a quarter of its interval and of its acceptable pause, is never anything
// but healthy, however ticks interleave with its beats; (b) an agent that stops beating is failed at
// the first tick at or after max(last beat + failureTimeoutMs, grace end), so no later than one tick
// interval after it, and never failed before it nor suspect before the grace ends; (c) flapping checks
// do not flap the status: runs shorter than the thresholds change it at most once in all, and every
// change to healthy or failed ends a full run of successBeforePassing passes or failuresBeforeCritical
// fails.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AgentHealth,
  resolveHealthSettings,
  type CheckResult,
  type HealthSettings,
  type HealthStatus,
} from "../../../src/agents/health/index.js";
import { FAIL, IDLE, PASS, SLOW } from "./helpers.js";

/** One input to the state machine, at a time. */
type Step =
  { readonly atMs: number; readonly kind: "beat" } | { readonly atMs: number; readonly kind: "tick" };

/** Beats and ticks merged in time order; at equal times `beatFirst` decides. */
function merge(beats: readonly number[], ticks: readonly number[], beatFirst: boolean): Step[] {
  const steps: (Step & { order: number })[] = [
    ...beats.map((atMs) => ({ atMs, kind: "beat" as const, order: beatFirst ? 0 : 1 })),
    ...ticks.map((atMs) => ({ atMs, kind: "tick" as const, order: beatFirst ? 1 : 0 })),
  ];
  return steps.sort((a, b) => a.atMs - b.atMs || a.order - b.order);
}

/** Beat k (from 0) at (k + 1) * interval plus its jitter, in [-jitterMs, jitterMs]. */
function scheduledBeats(intervalMs: number, jitterMs: number, jitters: readonly number[]): number[] {
  return jitters.map((unit, k) => (k + 1) * intervalMs + Math.round(unit * jitterMs));
}

// Unbiased: fast-check's bias toward edge values would leave the middle (a large jitter with a small
// pause) almost untried.
const schedule = fc.record({
  intervalMs: fc.noBias(fc.integer({ min: 100, max: 5_000 })),
  timeoutIntervals: fc.integer({ min: 2, max: 20 }),
  acceptablePauseMs: fc.oneof(fc.constant(0), fc.noBias(fc.integer({ min: 0, max: 5_000 }))),
  jitterShare: fc.noBias(fc.integer({ min: 0, max: 999 })).map((permille) => permille / 1_000),
  // Mostly exact beats with the odd extreme one, the worst case for a detector that learns the rhythm.
  jitters: fc.array(
    fc.oneof(
      { arbitrary: fc.constant(0), weight: 4 },
      { arbitrary: fc.constantFrom(-1, 1), weight: 1 },
      { arbitrary: fc.double({ min: -1, max: 1, noNaN: true }), weight: 1 },
    ),
    { maxLength: 150, size: "max" },
  ),
  beatFirst: fc.boolean(),
});

/** One generated schedule. */
type Schedule = typeof schedule extends fc.Arbitrary<infer Value> ? Value : never;

/** The settings of a schedule, and the largest jitter it may have under property (a). */
function settingsOf(s: Schedule): { settings: HealthSettings; jitterMs: number } {
  const settings = resolveHealthSettings({
    heartbeatIntervalMs: s.intervalMs,
    failureTimeoutMs: s.intervalMs * s.timeoutIntervals,
    phi: { acceptablePauseMs: s.acceptablePauseMs },
  });
  // Intervals stay within interval +- 2 jitter; staying under suspicion needs 4 jitter < pause + 5.2 sd,
  // and the deviation is at least 50 ms: a quarter of (pause + 250 ms) is a safe bound.
  const boundMs = Math.min(s.intervalMs / 4, (s.acceptablePauseMs + 250) / 4);
  return { settings, jitterMs: Math.floor(s.jitterShare * boundMs) };
}

describe("health properties", () => {
  it("(a) never suspects or fails an agent beating on schedule with bounded jitter", () => {
    fc.assert(
      fc.property(
        schedule,
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 300, size: "max" }),
        (s, tickUnits) => {
          const { settings, jitterMs } = settingsOf(s);
          const health = new AgentHealth(settings, {
            status: "healthy",
            sinceMs: 0,
            graceUntilMs: settings.failureTimeoutMs,
          });
          const beats = scheduledBeats(s.intervalMs, jitterMs, s.jitters);
          const endMs = (beats.length + 1) * s.intervalMs - jitterMs;
          const ticks = tickUnits.map((unit) => Math.floor(unit * endMs));
          for (const step of merge(beats, ticks, s.beatFirst)) {
            const transition = step.kind === "beat" ? health.beat(step.atMs, IDLE) : health.tick(step.atMs);
            if (transition !== null)
              expect.fail(`${step.kind} at ${step.atMs}: ${JSON.stringify(transition)}`);
          }
          expect(health.currentStatus()).toBe("healthy");
        },
      ),
      { seed: 1_2024, numRuns: 300 },
    );
  });

  it("(b) fails a silent agent at the first tick after its lease ends, never before, and never within the grace", () => {
    fc.assert(
      fc.property(
        schedule,
        fc.double({ min: 0.01, max: 2, noNaN: true }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        fc.double({ min: 0, max: 2, noNaN: true }),
        (s, tickShare, phaseShare, graceShare) => {
          const { settings, jitterMs } = settingsOf(s);
          // Ticks from a hundredth of the beat interval to two intervals apart.
          const tickIntervalMs = Math.max(1, Math.round(tickShare * s.intervalMs));
          const beats = scheduledBeats(s.intervalMs, jitterMs, s.jitters);
          const lastBeatMs = beats.at(-1);
          // The grace ends after the first beat (or anywhere, if there is none), up to two timeouts on.
          const graceFromMs = beats[0] === undefined ? 0 : beats[0] + 1;
          const graceUntilMs = Math.round(graceFromMs + graceShare * settings.failureTimeoutMs);
          const health = new AgentHealth(settings, { status: "healthy", sinceMs: 0, graceUntilMs });
          const deadlineMs = Math.max(
            lastBeatMs === undefined ? -Infinity : lastBeatMs + settings.failureTimeoutMs,
            graceUntilMs,
          );
          const ticks: number[] = [];
          for (let atMs = Math.floor(phaseShare * tickIntervalMs); atMs < deadlineMs + 2 * tickIntervalMs;) {
            ticks.push(atMs);
            atMs += tickIntervalMs;
          }
          let status: HealthStatus = "healthy";
          for (const step of merge(beats, ticks, s.beatFirst)) {
            const transition = step.kind === "beat" ? health.beat(step.atMs, IDLE) : health.tick(step.atMs);
            if (transition !== null) status = transition.to;
            // Plain comparisons in the loop (thousands of steps a run); expect() only on a violation.
            const wrong =
              status !== health.currentStatus() ||
              (step.atMs < graceUntilMs && status !== "healthy" && status !== "degraded") ||
              (step.atMs < deadlineMs && status === "failed") ||
              (step.kind === "tick" && step.atMs >= deadlineMs && status !== "failed");
            if (wrong) {
              const at = `${step.kind} at ${step.atMs}, deadline ${deadlineMs}, grace ${graceUntilMs}`;
              expect.fail(`${at}: status ${status} (machine says ${health.currentStatus()})`);
            }
          }
          expect(status).toBe("failed");
        },
      ),
      { seed: 2_2024, numRuns: 200 },
    );
  });

  /** A healthy agent beating every second from 0, with checks between its beats from 1.1 s on. */
  function checkedAgent(successBeforePassing: number, failuresBeforeCritical: number) {
    const health = new AgentHealth(resolveHealthSettings({ successBeforePassing, failuresBeforeCritical }), {
      status: "healthy",
      sinceMs: 0,
      graceUntilMs: 1_000,
    });
    health.beat(0, IDLE);
    let atMs = 0;
    const changes: { to: HealthStatus; index: number }[] = [];
    return {
      changes,
      /** Beats, ticks and checks `result` half a second later; records any change. */
      feed(result: CheckResult, index: number): void {
        atMs += 1_000;
        for (const transition of [
          health.beat(atMs, IDLE),
          health.tick(atMs + 100),
          health.check(atMs + 500, result),
        ]) {
          if (transition !== null) changes.push({ to: transition.to, index });
        }
      },
    };
  }

  const thresholds = fc.record({
    successBeforePassing: fc.integer({ min: 1, max: 5 }),
    failuresBeforeCritical: fc.integer({ min: 1, max: 5 }),
  });

  it("(c) changes status at most once when no run of checks reaches its threshold", () => {
    const runs = fc.array(fc.record({ kind: fc.constantFrom("pass", "fail", "warn"), length: fc.nat(4) }), {
      maxLength: 60,
    });
    fc.assert(
      fc.property(thresholds, runs, ({ successBeforePassing, failuresBeforeCritical }, runList) => {
        const agent = checkedAgent(successBeforePassing, failuresBeforeCritical);
        // Adjacent runs of one kind are one run: the cap applies to their total.
        let index = 0;
        let currentKind = "";
        let currentLength = 0;
        for (const run of runList) {
          const limit =
            run.kind === "pass"
              ? successBeforePassing
              : run.kind === "fail"
                ? failuresBeforeCritical
                : Infinity;
          const sameRun = run.kind === currentKind;
          const length = Math.min(run.length + 1, limit - 1 - (sameRun ? currentLength : 0));
          // An empty run would join its neighbours into one: skip it.
          if (length <= 0) continue;
          const result = run.kind === "pass" ? PASS : run.kind === "fail" ? FAIL : SLOW;
          for (let i = 0; i < length; i += 1) agent.feed(result, index++);
          currentLength = (sameRun ? currentLength : 0) + length;
          currentKind = run.kind;
        }
        expect(agent.changes.length).toBeLessThanOrEqual(1);
        for (const change of agent.changes) expect(change.to).toBe("degraded");
      }),
      { seed: 3_2024, numRuns: 300 },
    );
  });

  it("(c) alternating ok and failed checks settle at degraded after one change", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5 }),
        fc.integer({ min: 2, max: 5 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 200 }),
        (successBeforePassing, failuresBeforeCritical, failFirst, count) => {
          const agent = checkedAgent(successBeforePassing, failuresBeforeCritical);
          for (let i = 0; i < count; i += 1) agent.feed((i % 2 === 0) === failFirst ? FAIL : PASS, i);
          expect(agent.changes.map((change) => change.to)).toEqual(
            failFirst || count > 1 ? ["degraded"] : [],
          );
        },
      ),
      { seed: 4_2024, numRuns: 200 },
    );
  });

  it("(c) moves to healthy or failed only at the end of a full run, and otherwise only to degraded", () => {
    const results = fc.array(fc.constantFrom(PASS, FAIL, SLOW), { maxLength: 120 });
    fc.assert(
      fc.property(thresholds, results, ({ successBeforePassing, failuresBeforeCritical }, sequence) => {
        const agent = checkedAgent(successBeforePassing, failuresBeforeCritical);
        let passes = 0;
        let fails = 0;
        let completedRuns = 0;
        sequence.forEach((result, index) => {
          passes = result === PASS ? passes + 1 : 0;
          fails = result === FAIL ? fails + 1 : 0;
          if (passes === successBeforePassing || fails === failuresBeforeCritical) completedRuns += 1;
          const before = agent.changes.length;
          agent.feed(result, index);
          for (const change of agent.changes.slice(before)) {
            if (change.to === "healthy") expect(passes).toBe(successBeforePassing);
            else if (change.to === "failed") expect(fails).toBe(failuresBeforeCritical);
            else expect(change.to).toBe("degraded");
          }
        });
        expect(agent.changes.length).toBeLessThanOrEqual(1 + 2 * completedRuns);
      }),
      { seed: 5_2024, numRuns: 300 },
    );
  });
});
