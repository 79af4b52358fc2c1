// Proves the phi-accrual detector: phi is finite, non-negative and never falls as silence grows; it
// crosses suspectPhi exactly at the suspect time the detector precomputes; the expected interval is
// used until minSamples intervals are known; the deviation floors and acceptable pause apply; the window
// holds at most windowSize intervals and its running sums stay exact; the silence before a recovery is
// kept out of the history; and bad options are refused.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_PHI_OPTIONS,
  PhiAccrualDetector,
  phiOf,
  resolvePhiOptions,
  standardScoreForPhi,
} from "../../../src/agents/health/index.js";

/** A detector fed beats every `intervalMs` from 0, `beats` beats in all; returns it. */
function regular(intervalMs: number, beats: number, options = DEFAULT_PHI_OPTIONS): PhiAccrualDetector {
  const detector = new PhiAccrualDetector(intervalMs, options);
  for (let i = 0; i < beats; i += 1) detector.record(i * intervalMs);
  return detector;
}

describe("phi", () => {
  it("grows with silence, from about 0 at the beat, and stays finite however long the silence", () => {
    const detector = regular(1_000, 20);
    const last = 19_000;
    expect(detector.phi(last)).toBeLessThan(1e-6);
    let previous = -1;
    for (let elapsed = 0; elapsed <= 60_000; elapsed += 250) {
      const phi = detector.phi(last + elapsed);
      expect(phi).toBeGreaterThanOrEqual(previous);
      previous = phi;
    }
    expect(previous).toBeGreaterThan(100);
    for (const far of [1e9, 1e15, Number.MAX_VALUE]) expect(Number.isFinite(detector.phi(far))).toBe(true);
  });

  it("is finite, non-negative and non-decreasing in elapsed time for any statistics", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e7, noNaN: true }),
        fc.double({ min: 0, max: 1e7, noNaN: true }),
        fc.double({ min: 1, max: 1e6, noNaN: true }),
        fc.double({ min: 1e-3, max: 1e6, noNaN: true }),
        (a, b, meanMs, deviationMs) => {
          const [early, late] = a <= b ? [a, b] : [b, a];
          const phiEarly = phiOf(early, meanMs, deviationMs);
          const phiLate = phiOf(late, meanMs, deviationMs);
          expect(Number.isFinite(phiLate)).toBe(true);
          expect(phiEarly).toBeGreaterThanOrEqual(0);
          expect(phiLate).toBeGreaterThanOrEqual(phiEarly);
        },
      ),
      { seed: 4242, numRuns: 500 },
    );
  });

  it("inverts exactly: the standard score for a phi gives back that phi", () => {
    for (const phi of [0.01, 0.5, 1, 3, 8, 12, 50, 300]) {
      expect(phiOf(standardScoreForPhi(phi) * 100 + 1_000, 1_000, 100)).toBeCloseTo(phi, 9);
    }
    // Akka's logistic approximation: phi 1 near one deviation and a bit, phi 8 a little over five.
    expect(standardScoreForPhi(1)).toBeCloseTo(1.282, 3);
    expect(standardScoreForPhi(8)).toBeCloseTo(5.226, 3);
  });

  it("reaches suspectPhi exactly at suspectAtMs, not a millisecond before", () => {
    const detector = regular(1_000, 30);
    const suspectAt = detector.suspectAtMs();
    // mean 1000 + pause 2000 + 5.226 * the 100 ms floor (10 % of the mean).
    expect(suspectAt).toBeCloseTo(29_000 + 1_000 + 2_000 + 522.6, 0);
    expect(detector.phi(suspectAt - 1)).toBeLessThan(DEFAULT_PHI_OPTIONS.suspectPhi);
    expect(detector.phi(suspectAt)).toBeCloseTo(DEFAULT_PHI_OPTIONS.suspectPhi, 9);
    expect(detector.phi(suspectAt + 1)).toBeGreaterThan(DEFAULT_PHI_OPTIONS.suspectPhi);
  });

  it("has nothing to judge before the first beat", () => {
    const detector = new PhiAccrualDetector(1_000);
    expect(detector.phi(1e12)).toBe(0);
    expect(detector.suspectAtMs()).toBe(Infinity);
    expect(detector.lastBeatMs()).toBeNull();
  });

  it("uses the expected interval until minSamples intervals are known", () => {
    const detector = new PhiAccrualDetector(1_000);
    detector.record(0);
    detector.record(200);
    detector.record(400);
    expect(detector.sampleCount()).toBe(2);
    expect(detector.meanMs()).toBe(1_000);
    expect(detector.standardDeviationMs()).toBe(100);
    detector.record(600);
    expect(detector.sampleCount()).toBe(3);
    expect(detector.meanMs()).toBe(200);
  });

  it("never takes the deviation below 50 ms or 10 % of the mean", () => {
    expect(regular(200, 50).standardDeviationMs()).toBe(50);
    expect(regular(5_000, 50).standardDeviationMs()).toBe(500);
    const detector = new PhiAccrualDetector(1_000);
    for (const atMs of [0, 800, 2_000, 2_800, 4_000, 4_800, 6_000]) detector.record(atMs);
    // Intervals alternate 800 and 1200: the measured deviation (200) is above both floors.
    expect(detector.standardDeviationMs()).toBeCloseTo(200, 6);
  });

  it("adds the acceptable pause to the mean", () => {
    const without = regular(1_000, 10, resolvePhiOptions({ acceptablePauseMs: 0 }));
    const withPause = regular(1_000, 10, resolvePhiOptions({ acceptablePauseMs: 3_000 }));
    expect(withPause.suspectAtMs() - without.suspectAtMs()).toBeCloseTo(3_000, 6);
  });

  it("holds at most windowSize intervals: the old rhythm is forgotten", () => {
    const options = resolvePhiOptions({ windowSize: 100 });
    const detector = new PhiAccrualDetector(1_000, options);
    let atMs = 0;
    detector.record(atMs);
    for (let i = 0; i < 100; i += 1) detector.record((atMs += 1_000));
    expect(detector.meanMs()).toBe(1_000);
    for (let i = 0; i < 100; i += 1) detector.record((atMs += 500));
    expect(detector.sampleCount()).toBe(100);
    expect(detector.meanMs()).toBe(500);
    expect(detector.standardDeviationMs()).toBe(50);
  });

  it("keeps its running statistics equal to the window's, through many wraps", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 40 }),
        fc.array(fc.double({ min: 1, max: 4_000, noNaN: true }), { minLength: 1, maxLength: 400 }),
        (windowSize, intervals) => {
          const options = resolvePhiOptions({ windowSize, acceptablePauseMs: 1e9, minSamples: 1 });
          const detector = new PhiAccrualDetector(1_000, options);
          let atMs = 0;
          detector.record(atMs);
          for (const interval of intervals) detector.record((atMs += interval));
          const window = intervals.slice(-windowSize);
          const mean = window.reduce((sum, value) => sum + value, 0) / window.length;
          const variance = window.reduce((sum, value) => sum + (value - mean) ** 2, 0) / window.length;
          const floor = Math.max(50, 0.1 * mean);
          expect(detector.meanMs()).toBeCloseTo(mean, 6);
          expect(detector.standardDeviationMs()).toBeCloseTo(Math.max(Math.sqrt(variance), floor), 4);
        },
      ),
      { seed: 7, numRuns: 200 },
    );
  });

  it("keeps the silence before a recovery out of the history", () => {
    const detector = regular(1_000, 10);
    const suspectAt = detector.suspectAtMs();
    const before = { count: detector.sampleCount(), mean: detector.meanMs() };
    detector.record(suspectAt + 20_000);
    expect(detector.sampleCount()).toBe(before.count);
    expect(detector.meanMs()).toBe(before.mean);
    expect(detector.lastBeatMs()).toBe(suspectAt + 20_000);
    // The next, on-time interval counts again.
    detector.record(suspectAt + 21_000);
    expect(detector.sampleCount()).toBe(before.count + 1);
  });

  it("ignores a beat older than the last one (the clock stepped back)", () => {
    const detector = regular(1_000, 5);
    detector.record(2_500);
    expect(detector.lastBeatMs()).toBe(4_000);
    expect(detector.sampleCount()).toBe(4);
  });

  it("forgets the rhythm on reset, keeping the last beat", () => {
    const detector = regular(1_000, 20);
    detector.reset(5_000);
    expect(detector.sampleCount()).toBe(0);
    expect(detector.meanMs()).toBe(5_000);
    expect(detector.lastBeatMs()).toBe(19_000);
  });

  it("refuses options that make phi meaningless or the window unbounded", () => {
    for (const bad of [
      { windowSize: 0 },
      { windowSize: 10_001 },
      { windowSize: 1.5 },
      { minSamples: 0 },
      { windowSize: 10, minSamples: 11 },
      { minStandardDeviationMs: 0 },
      { minStandardDeviationRatio: -1 },
      { acceptablePauseMs: -1 },
      { acceptablePauseMs: Infinity },
      { suspectPhi: 0 },
      { suspectPhi: 301 },
      { suspectPhi: Number.NaN },
    ]) {
      expect(() => resolvePhiOptions(bad), JSON.stringify(bad)).toThrow(RangeError);
    }
    expect(() => new PhiAccrualDetector(0)).toThrow(RangeError);
    expect(resolvePhiOptions()).toEqual(DEFAULT_PHI_OPTIONS);
  });
});
