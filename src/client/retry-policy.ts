/**
 * When the client tries again, and how long it waits first: a pure decision from what one attempt
 * came to and whether the request is safe to repeat. The transport (http.ts) does the I/O.
 */

/** How often and how patiently a request is retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included; at least 1. */
  readonly maxAttempts: number;
  /** The cap of the first backoff; each retry doubles it. */
  readonly initialMs: number;
  /** The largest cap any backoff reaches. */
  readonly maxMs: number;
  /** The longest a server's Retry-After is honoured; a larger one is cut to this. */
  readonly retryAfterMaxMs: number;
}

/**
 * Six attempts ride out a leader election (one to three seconds) with room to spare, and a
 * Retry-After of juno's usual one second is honoured on each.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 6,
  initialMs: 100,
  maxMs: 3_000,
  retryAfterMaxMs: 30_000,
};

/** More attempts than this is a configuration mistake that would hold a caller for minutes. */
export const MAX_ATTEMPTS_LIMIT = 100;

/** The longest wait any setting may ask for, an hour. */
const DELAY_LIMIT_MS = 3_600_000;

/** The policy with defaults filled in; throws RangeError on a policy that is out of bounds. */
export function retryPolicy(partial: Partial<RetryPolicy> = {}): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY, ...partial };
  checkWhole("maxAttempts", policy.maxAttempts, 1, MAX_ATTEMPTS_LIMIT);
  checkWhole("initialMs", policy.initialMs, 0, DELAY_LIMIT_MS);
  checkWhole("maxMs", policy.maxMs, policy.initialMs, DELAY_LIMIT_MS);
  checkWhole("retryAfterMaxMs", policy.retryAfterMaxMs, 0, DELAY_LIMIT_MS);
  return policy;
}

/**
 * The wait before retry number `retry` (1 for the first retry): "full jitter", a uniform draw
 * below a cap that doubles from initialMs up to maxMs. Drawing from zero spreads clients that
 * failed together, so they do not come back together.
 */
export function backoffDelayMs(retry: number, policy: RetryPolicy, random: () => number): number {
  const capMs = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(retry - 1, 30));
  const draw = random();
  // A generator outside [0, 1) is a programming error; a NaN wait would fire at once forever.
  if (!(draw >= 0 && draw < 1)) throw new RangeError(`random() returned ${draw}, expected [0, 1)`);
  return Math.floor(draw * capMs);
}

/** The wait before a retry: the backoff, but never less than the server's (capped) Retry-After. */
export function retryDelayMs(
  retry: number,
  policy: RetryPolicy,
  random: () => number,
  retryAfterMs: number | null,
): number {
  const backoffMs = backoffDelayMs(retry, policy, random);
  if (retryAfterMs === null) return backoffMs;
  return Math.max(backoffMs, Math.min(retryAfterMs, policy.retryAfterMaxMs));
}

/**
 * A Retry-After header in milliseconds: delta-seconds ("1") or an HTTP date, which is read
 * against `nowMs`. Null when absent or unreadable, so a broken header never stalls a client.
 */
export function parseRetryAfterMs(header: string | null, nowMs: number): number | null {
  if (header === null) return null;
  const text = header.trim();
  if (/^[0-9]{1,9}$/.test(text)) return Number(text) * 1000;
  // Date.parse reads nearly anything ("-1" is a year); an HTTP date (IMF-fixdate, or the obsolete
  // RFC 850 form) ends in GMT. The rare asctime form is not read, and so waits only the backoff.
  if (!text.endsWith("GMT")) return null;
  const atMs = Date.parse(text);
  return Number.isNaN(atMs) ? null : Math.max(0, atMs - nowMs);
}

/**
 * The refusals juno sends before a request touches the log (no leader to propose to, a full
 * queue, a leader that lost its slot), so repeating them can never apply a request twice.
 * shutting_down is not here: a stopping node fails proposals that may still commit.
 */
export const REFUSED_BEFORE_APPLYING_CODES: ReadonlySet<string> = new Set([
  "no_leader",
  "not_leader",
  "overloaded",
  "leadership_transfer_in_progress",
  "proposal_dropped",
  "uncommitted_limit",
  "too_many_requests",
]);

/** What one attempt came to, as far as retrying cares. */
export type AttemptOutcome =
  /** The server answered with an error status; `code` is its error code, or null without the shape. */
  | { readonly kind: "answered"; readonly status: number; readonly code: string | null }
  /** The request never left: the connection was refused, the name did not resolve. */
  | { readonly kind: "not_sent" }
  /** The request may have reached the server, but no whole answer came back (reset, timeout). */
  | { readonly kind: "lost" };

/** What to do after an attempt failed: try again, report an unknown outcome, or report the error. */
export type Verdict = "retry" | "outcome_unknown" | "fail";

/**
 * The decision after a failed attempt. Gateway errors (502, 503, 504) and lost answers are
 * retried only for a request that is safe to repeat; for another one the outcome is unknown,
 * and the caller must hear so rather than risk applying it twice.
 */
export function judgeAttempt(outcome: AttemptOutcome, idempotent: boolean): Verdict {
  switch (outcome.kind) {
    case "not_sent":
      return "retry";
    case "lost":
      return idempotent ? "retry" : "outcome_unknown";
    case "answered": {
      const { status, code } = outcome;
      if (code !== null && REFUSED_BEFORE_APPLYING_CODES.has(code)) return "retry";
      if (status === 429) return "retry";
      if (status === 502 || status === 503 || status === 504) return idempotent ? "retry" : "outcome_unknown";
      return "fail";
    }
  }
}

/** Throws RangeError unless `value` is a whole number in [min, max]. */
function checkWhole(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`retry.${name} must be a whole number in ${min}..${max}, got ${value}`);
  }
}
