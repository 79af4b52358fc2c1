/**
 * When a failed attempt runs again: exponential backoff with jitter, computed from replicated
 * data only (the task id and attempt seed the jitter), so every replica agrees on the same time.
 */

import { fnv1a } from "../control/hash.js";

/** A task's backoff policy (the API's `backoff`). */
export interface Backoff {
  readonly initialMs: number;
  readonly multiplier: number;
  readonly maxMs: number;
  /** The share of each delay that is randomised: 0 none, 1 "full jitter". */
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1_000, multiplier: 2, maxMs: 60_000, jitter: 0.2 };

/** The delay before attempt `attempt + 1` after attempt `attempt` (1-based) failed. */
export function backoffDelayMs(backoff: Backoff, attempt: number, seed: string): number {
  const exponent = Math.max(0, attempt - 1);
  // The growth overflows to Infinity after enough attempts (attempts are not bounded: a pickup
  // expiry adds one without using up max_attempts), and 0 * Infinity is NaN: the delay is then
  // maxMs, or 0 for a policy that starts at 0, never NaN.
  const grown = backoff.initialMs * Math.pow(backoff.multiplier, exponent);
  const base =
    backoff.initialMs <= 0 ? 0 : Number.isFinite(grown) ? Math.min(backoff.maxMs, grown) : backoff.maxMs;
  const jitter = Math.min(1, Math.max(0, backoff.jitter));
  // The randomised share is taken off the delay, never added, so maxMs stays a bound.
  const random = unitHash(`${seed}#${attempt}`);
  return Math.max(0, Math.round(base * (1 - jitter * random)));
}

/** A number in [0, 1) from a string (FNV-1a), the same on every replica. */
export function unitHash(text: string): number {
  return fnv1a(text) / 0x1_0000_0000;
}
