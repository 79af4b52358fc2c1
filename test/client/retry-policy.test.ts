// Proves the client's retry decisions apart from any I/O: full-jitter backoff stays under a cap
// that doubles up to maxMs, Retry-After is honoured up to its bound, and a request that is not
// safe to repeat is retried only after refusals that prove it never touched the log.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_RETRY_POLICY,
  REFUSED_BEFORE_APPLYING_CODES,
  backoffDelayMs,
  judgeAttempt,
  parseRetryAfterMs,
  retryDelayMs,
} from "../../src/client/index.js";
import { retryPolicy } from "../../src/client/retry-policy.js";

const policy = retryPolicy({ maxAttempts: 10, initialMs: 100, maxMs: 1_000, retryAfterMaxMs: 5_000 });

describe("backoff", () => {
  it("draws below a cap that doubles from initialMs and stops at maxMs", () => {
    const highest = (): number => 0.999_999;
    expect([1, 2, 3, 4, 5, 6].map((retry) => backoffDelayMs(retry, policy, highest))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
    expect(backoffDelayMs(3, policy, () => 0)).toBe(0);
  });

  it("never leaves [0, min(maxMs, initialMs * 2^(retry-1))) for any draw", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retry, draw) => {
          const delayMs = backoffDelayMs(retry, policy, () => draw);
          const capMs = Math.min(policy.maxMs, policy.initialMs * 2 ** (retry - 1));
          return delayMs >= 0 && delayMs <= capMs && Number.isInteger(delayMs);
        },
      ),
    );
  });

  it("refuses a generator outside [0, 1)", () => {
    expect(() => backoffDelayMs(1, policy, () => 1)).toThrow(RangeError);
    expect(() => backoffDelayMs(1, policy, () => Number.NaN)).toThrow(RangeError);
  });

  it("waits at least the server's Retry-After, cut to retryAfterMaxMs", () => {
    expect(retryDelayMs(1, policy, () => 0.5, 2_000)).toBe(2_000);
    expect(retryDelayMs(1, policy, () => 0.5, 3_600_000)).toBe(5_000);
    expect(retryDelayMs(4, policy, () => 0.999_999, 10)).toBe(799);
    expect(retryDelayMs(1, policy, () => 0.5, null)).toBe(50);
  });

  it("refuses policies out of bounds", () => {
    expect(() => retryPolicy({ maxAttempts: 0 })).toThrow(RangeError);
    expect(() => retryPolicy({ maxAttempts: 1_000 })).toThrow(RangeError);
    expect(() => retryPolicy({ initialMs: 500, maxMs: 100 })).toThrow(RangeError);
    expect(retryPolicy()).toEqual(DEFAULT_RETRY_POLICY);
  });
});

describe("Retry-After", () => {
  it("reads delta-seconds and HTTP dates; ignores what it cannot read", () => {
    const nowMs = Date.parse("2025-01-01T00:00:00Z");
    expect(parseRetryAfterMs("1", nowMs)).toBe(1_000);
    expect(parseRetryAfterMs(" 30 ", nowMs)).toBe(30_000);
    expect(parseRetryAfterMs("Wed, 01 Jan 2025 00:00:05 GMT", nowMs)).toBe(5_000);
    expect(parseRetryAfterMs("Tue, 31 Dec 2024 00:00:00 GMT", nowMs)).toBe(0);
    expect(parseRetryAfterMs(null, nowMs)).toBeNull();
    expect(parseRetryAfterMs("soon", nowMs)).toBeNull();
    expect(parseRetryAfterMs("-1", nowMs)).toBeNull();
  });
});

describe("judging an attempt", () => {
  it("retries everything a request safe to repeat can meet on the way", () => {
    for (const status of [502, 503, 504]) {
      expect(judgeAttempt({ kind: "answered", status, code: null }, true)).toBe("retry");
    }
    expect(judgeAttempt({ kind: "answered", status: 503, code: "outcome_unknown" }, true)).toBe("retry");
    expect(judgeAttempt({ kind: "lost" }, true)).toBe("retry");
    expect(judgeAttempt({ kind: "not_sent" }, true)).toBe("retry");
  });

  it("retries a request not safe to repeat only when it provably did not apply", () => {
    for (const code of REFUSED_BEFORE_APPLYING_CODES) {
      expect(judgeAttempt({ kind: "answered", status: 503, code }, false), code).toBe("retry");
    }
    expect(judgeAttempt({ kind: "answered", status: 429, code: "uncommitted_limit" }, false)).toBe("retry");
    expect(judgeAttempt({ kind: "not_sent" }, false)).toBe("retry");
    expect(judgeAttempt({ kind: "lost" }, false)).toBe("outcome_unknown");
    for (const code of ["outcome_unknown", "shutting_down", "timeout"]) {
      expect(judgeAttempt({ kind: "answered", status: 503, code }, false), code).toBe("outcome_unknown");
    }
    expect(judgeAttempt({ kind: "answered", status: 502, code: null }, false)).toBe("outcome_unknown");
  });

  it("never retries a refusal of the request itself", () => {
    for (const [status, code] of [
      [400, "invalid_request"],
      [401, "unauthorized"],
      [404, "agent_not_found"],
      [409, "conflict"],
      [413, "too_large"],
      [422, "limit_exceeded"],
      [500, "internal"],
    ] as const) {
      expect(judgeAttempt({ kind: "answered", status, code }, true), code).toBe("fail");
    }
  });
});
