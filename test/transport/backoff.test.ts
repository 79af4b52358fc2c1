// Proves that reconnection delays grow exponentially from the initial delay, never exceed the cap
// (jitter included), spread over the configured jitter range, and that bad settings are refused.

import { describe, expect, it } from "vitest";
import { backoffDelayMs, DEFAULT_BACKOFF, resolveBackoff } from "../../src/transport/index.js";

describe("backoff", () => {
  const options = resolveBackoff({ initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2, jitter: 0.5 });

  it("doubles from the initial delay up to the cap", () => {
    const highest = (attempt: number): number => backoffDelayMs(attempt, options, () => 0.999_999);
    expect([0, 1, 2, 3, 4, 5, 100].map((attempt) => Math.round(highest(attempt)))).toEqual([
      100, 200, 400, 800, 1_000, 1_000, 1_000,
    ]);
  });

  it("waits between half and all of the delay with jitter 0.5", () => {
    expect(backoffDelayMs(2, options, () => 0)).toBe(200);
    expect(backoffDelayMs(2, options, () => 0.5)).toBe(300);
    expect(backoffDelayMs(9, options, () => 0)).toBe(500);
  });

  it("is exact without jitter and never exceeds the cap", () => {
    const exact = resolveBackoff({ initialDelayMs: 10, maxDelayMs: 1_000, jitter: 0 });
    expect(backoffDelayMs(3, exact, () => 0.7)).toBe(80);
    const full = resolveBackoff({ jitter: 1 });
    for (let attempt = 0; attempt < 80; attempt++) {
      expect(backoffDelayMs(attempt, full, () => 0.999_999_9)).toBeLessThanOrEqual(
        DEFAULT_BACKOFF.maxDelayMs,
      );
    }
  });

  it("refuses settings that make no sense", () => {
    expect(() => resolveBackoff({ initialDelayMs: 0 })).toThrow(RangeError);
    expect(() => resolveBackoff({ initialDelayMs: 10, maxDelayMs: 5 })).toThrow(RangeError);
    expect(() => resolveBackoff({ multiplier: 0.5 })).toThrow(RangeError);
    expect(() => resolveBackoff({ jitter: 2 })).toThrow(RangeError);
  });
});
