/** Reconnection delays: exponential growth with a cap, and jitter so that peers do not retry in lockstep. */

/** How reconnection delays grow. */
export interface BackoffOptions {
  /** The delay before the first retry after a failure. */
  readonly initialDelayMs: number;
  /** No delay is longer than this, jitter included. */
  readonly maxDelayMs: number;
  /** Each further failure multiplies the delay by this. */
  readonly multiplier: number;
  /** The fraction of each delay that is random, in [0, 1]: 0.5 waits between half and all of it. */
  readonly jitter: number;
}

/** Retry quickly at first (a restarting peer is back within a second) and at most every 5 s. */
export const DEFAULT_BACKOFF: BackoffOptions = {
  initialDelayMs: 50,
  maxDelayMs: 5_000,
  multiplier: 2,
  jitter: 0.5,
};

/** Fills in defaults and refuses settings that would make a delay negative, zero forever or unbounded. */
export function resolveBackoff(options: Partial<BackoffOptions> = {}): BackoffOptions {
  const resolved = { ...DEFAULT_BACKOFF, ...options };
  if (!(resolved.initialDelayMs > 0)) throw new RangeError("backoff initialDelayMs must be positive");
  if (!(resolved.maxDelayMs >= resolved.initialDelayMs)) {
    throw new RangeError("backoff maxDelayMs must be at least initialDelayMs");
  }
  if (!(resolved.multiplier >= 1)) throw new RangeError("backoff multiplier must be at least 1");
  if (!(resolved.jitter >= 0 && resolved.jitter <= 1))
    throw new RangeError("backoff jitter must be in [0, 1]");
  return resolved;
}

/**
 * The delay before retry number `attempt` (0 for the first retry after a failure). `random`
 * returns a number in [0, 1); it is injected so tests can pin the jitter.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions, random: () => number): number {
  const exponent = Math.min(Math.max(attempt, 0), 64);
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * options.multiplier ** exponent);
  const delay = ceiling * (1 - options.jitter) + ceiling * options.jitter * random();
  return Math.min(options.maxDelayMs, Math.max(0, delay));
}
