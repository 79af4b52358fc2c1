// Proves the replicated retry backoff (backoffDelayMs): without jitter it starts at initialMs and
// grows by the multiplier per attempt until maxMs caps it; jitter only ever takes off up to its
// share of the delay (never adds, so maxMs stays a bound); the delay is a pure function of the
// policy, the attempt and the task id, by the documented formula (FNV-1a of "<id>#<attempt>"), so
// every replica computes the same; and with jitter the delays of different tasks spread out over
// the whole jitter range instead of all retrying at once. It stays a finite number in [0, maxMs]
// at any attempt number, a policy starting at 0 included (it was NaN once the growth overflowed).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffDelayMs, DEFAULT_BACKOFF, type Backoff } from "../../src/faults/retry.js";

/** A 32-bit FNV-1a of UTF-16 code units, written out here so the test does not trust the module's. */
function referenceFnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Number((BigInt(hash) * 0x01000193n) & 0xffffffffn);
  }
  return hash;
}

/** The undelayed delay of an attempt: initialMs grown by the multiplier, capped at maxMs. */
function baseOf(backoff: Backoff, attempt: number): number {
  return Math.min(backoff.maxMs, backoff.initialMs * backoff.multiplier ** Math.max(0, attempt - 1));
}

const backoffArbitrary: fc.Arbitrary<Backoff> = fc.record({
  initialMs: fc.integer({ min: 0, max: 86_400_000 }),
  multiplier: fc.oneof(fc.integer({ min: 1, max: 10 }), fc.double({ min: 1, max: 100, noNaN: true })),
  maxMs: fc.integer({ min: 0, max: 86_400_000 }),
  jitter: fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
});
const attemptArbitrary = fc.integer({ min: 1, max: 100 });
const seedArbitrary = fc.uuid();

describe("backoffDelayMs without jitter", () => {
  it("is initialMs at the first attempt, then multiplies by the multiplier per attempt until maxMs", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 86_400_000 }),
        seedArbitrary,
        (initialMs, multiplier, maxMs, seed) => {
          const backoff: Backoff = { initialMs, multiplier, maxMs, jitter: 0 };
          const delays = Array.from({ length: 40 }, (_, index) => backoffDelayMs(backoff, index + 1, seed));
          expect(delays[0]).toBe(Math.min(initialMs, maxMs));
          for (let index = 1; index < delays.length; index += 1) {
            // Integer multipliers keep this exact: each delay is the last one times the multiplier,
            // cut to maxMs, and once at maxMs it stays there.
            expect(delays[index]).toBe(Math.min(maxMs, delays[index - 1]! * multiplier));
          }
        },
      ),
      { seed: 0x5eed_0001, numRuns: 300 },
    );
  });

  it("is min(maxMs, initialMs * multiplier^(attempt-1)), rounded, for any multiplier; attempt 0 counts as 1", () => {
    fc.assert(
      fc.property(backoffArbitrary, attemptArbitrary, seedArbitrary, (policy, attempt, seed) => {
        const backoff = { ...policy, jitter: 0 };
        expect(backoffDelayMs(backoff, attempt, seed)).toBe(Math.round(baseOf(backoff, attempt)));
        expect(backoffDelayMs(backoff, 0, seed)).toBe(backoffDelayMs(backoff, 1, seed));
      }),
      { seed: 0x5eed_0002, numRuns: 500 },
    );
  });

  it("stays a finite whole number of ms in [0, maxMs] at any attempt number, even from initialMs 0", () => {
    // A task's attempt has no upper bound (pickup expiries and moves add attempts without using
    // up max_attempts), and the API lets initial_ms be 0 with a multiplier above 1. Then
    // multiplier^(attempt-1) overflows to Infinity, 0 * Infinity is NaN, and NaN gets past
    // Math.min, Math.round and Math.max: the task's notBeforeMs becomes NaN (see gaps.test.ts).
    expect(backoffDelayMs({ initialMs: 0, multiplier: 100, maxMs: 1_000, jitter: 0 }, 156, "t")).toBe(0);
    fc.assert(
      fc.property(
        backoffArbitrary,
        fc.integer({ min: 1, max: 2 ** 31 }),
        seedArbitrary,
        (backoff, attempt, seed) => {
          const delay = backoffDelayMs(backoff, attempt, seed);
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(backoff.maxMs);
        },
      ),
      { seed: 0x5eed_0008, numRuns: 500 },
    );
  });

  it("follows the default policy: 1 s, 2 s, 4 s ... capped at 60 s, before jitter", () => {
    const exact = { ...DEFAULT_BACKOFF, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map((attempt) => backoffDelayMs(exact, attempt, "t"))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000,
    ]);
  });
});

describe("backoffDelayMs with jitter", () => {
  it("stays a whole number of ms in [base * (1 - jitter), base], so never above maxMs", () => {
    fc.assert(
      fc.property(backoffArbitrary, attemptArbitrary, seedArbitrary, (backoff, attempt, seed) => {
        const delay = backoffDelayMs(backoff, attempt, seed);
        const base = baseOf(backoff, attempt);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(Math.round(base * (1 - backoff.jitter)));
        expect(delay).toBeLessThanOrEqual(Math.round(base));
        expect(delay).toBeLessThanOrEqual(backoff.maxMs);
        expect(delay).toBeGreaterThanOrEqual(0);
      }),
      { seed: 0x5eed_0003, numRuns: 1_000 },
    );
  });

  it("is the same for the same policy, attempt and task id, by the documented formula", () => {
    fc.assert(
      fc.property(
        backoffArbitrary,
        attemptArbitrary,
        fc.oneof(seedArbitrary, fc.string({ minLength: 1, maxLength: 40 })),
        (backoff, attempt, seed) => {
          const first = backoffDelayMs(backoff, attempt, seed);
          // Another replica, later, after other tasks' delays were computed: the same answer.
          backoffDelayMs(backoff, attempt + 1, `${seed}x`);
          expect(backoffDelayMs({ ...backoff }, attempt, `${seed}`)).toBe(first);
          const random = referenceFnv1a(`${seed}#${attempt}`) / 2 ** 32;
          const expected = Math.round(baseOf(backoff, attempt) * (1 - backoff.jitter * random));
          expect(first).toBe(Math.max(0, expected));
        },
      ),
      { seed: 0x5eed_0004, numRuns: 1_000 },
    );
  });

  it("spreads different task ids over the whole jitter range, uniformly", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(seedArbitrary, { minLength: 500, maxLength: 500 }),
        fc.double({ min: 0.2, max: 1, noNaN: true }),
        attemptArbitrary,
        (seeds, jitter, attempt) => {
          const backoff: Backoff = { initialMs: 60_000, multiplier: 1, maxMs: 60_000, jitter };
          const delays = seeds.map((seed) => backoffDelayMs(backoff, attempt, seed));
          // Where each delay falls in the jitter range: 0 at base, 1 at base * (1 - jitter).
          const taken = delays.map((delay) => (60_000 - delay) / (60_000 * jitter));
          // The range spans at least 12,000 ms values: 500 ids collide on only a few of them.
          expect(new Set(delays).size).toBeGreaterThanOrEqual(480);
          const mean = taken.reduce((sum, each) => sum + each, 0) / taken.length;
          expect(Math.abs(mean - 0.5)).toBeLessThanOrEqual(0.07);
          // Every tenth of the range is used (each expects 50 of the 500).
          const deciles = new Array<number>(10).fill(0);
          for (const each of taken) deciles[Math.min(9, Math.floor(each * 10))]! += 1;
          expect(Math.min(...deciles)).toBeGreaterThanOrEqual(25);
        },
      ),
      { seed: 0x5eed_0005, numRuns: 20 },
    );
  });

  it("differs across attempts of one task, so a task's retries do not all jitter alike", () => {
    fc.assert(
      fc.property(seedArbitrary, (seed) => {
        const backoff: Backoff = { initialMs: 60_000, multiplier: 1, maxMs: 60_000, jitter: 1 };
        const delays = Array.from({ length: 20 }, (_, index) => backoffDelayMs(backoff, index + 1, seed));
        expect(new Set(delays).size).toBeGreaterThanOrEqual(15);
      }),
      { seed: 0x5eed_0006, numRuns: 200 },
    );
  });

  it("ignores the task id when jitter is 0", () => {
    fc.assert(
      fc.property(
        backoffArbitrary,
        attemptArbitrary,
        seedArbitrary,
        seedArbitrary,
        (policy, attempt, a, b) => {
          const backoff = { ...policy, jitter: 0 };
          expect(backoffDelayMs(backoff, attempt, a)).toBe(backoffDelayMs(backoff, attempt, b));
        },
      ),
      { seed: 0x5eed_0007, numRuns: 300 },
    );
  });
});
