/**
 * A circuit breaker per agent for task placement, as replicated state: it opens after
 * `threshold` consecutive failures of the agent's attempts (failures, lapsed leases, delivery
 * errors), lets one probe task through after a cool-down (half-open), and closes when the probe
 * succeeds. Transitions are pure functions of the breaker and the entry's time, so every replica
 * holds the same breaker and placement agrees everywhere.
 */

export type BreakerState = "closed" | "open" | "half_open";

/** One agent's breaker. */
export interface Breaker {
  readonly consecutiveFailures: number;
  /** When it opened (null: closed). */
  readonly openedAtMs: number | null;
  /** The task sent as the probe while half-open (null: none yet). */
  readonly probeTaskId: string | null;
}

export interface BreakerSettings {
  /** Consecutive failures that open it (CIRCUIT_BREAKER_THRESHOLD). */
  readonly threshold: number;
  /** How long it stays open before one probe may pass. */
  readonly coolDownMs: number;
}

export const CLOSED: Breaker = Object.freeze({ consecutiveFailures: 0, openedAtMs: null, probeTaskId: null });

/** The state a breaker is in at `nowMs`. */
export function breakerState(breaker: Breaker, settings: BreakerSettings, nowMs: number): BreakerState {
  if (breaker.openedAtMs === null) return "closed";
  return nowMs - breaker.openedAtMs >= settings.coolDownMs ? "half_open" : "open";
}

/** Whether a new task may be placed on the agent at `nowMs`. */
export function admits(breaker: Breaker, settings: BreakerSettings, nowMs: number): boolean {
  const state = breakerState(breaker, settings, nowMs);
  return state === "closed" || (state === "half_open" && breaker.probeTaskId === null);
}

/** A task was placed on the agent: while half-open, it is the probe. */
export function onPlaced(
  breaker: Breaker,
  settings: BreakerSettings,
  taskId: string,
  nowMs: number,
): Breaker {
  if (breakerState(breaker, settings, nowMs) !== "half_open") return breaker;
  return { ...breaker, probeTaskId: taskId };
}

/** One of the agent's attempts succeeded: closed again. */
export function onSuccess(breaker: Breaker): Breaker {
  return breaker.consecutiveFailures === 0 && breaker.openedAtMs === null ? breaker : CLOSED;
}

/** One of the agent's attempts failed: counts towards opening, or reopens a half-open breaker. */
export function onFailure(breaker: Breaker, settings: BreakerSettings, nowMs: number): Breaker {
  const failures = breaker.consecutiveFailures + 1;
  if (breaker.openedAtMs !== null) {
    // A failed probe (or any failure while open) starts the cool-down again.
    return breakerState(breaker, settings, nowMs) === "half_open"
      ? { consecutiveFailures: failures, openedAtMs: nowMs, probeTaskId: null }
      : { ...breaker, consecutiveFailures: failures };
  }
  if (failures >= settings.threshold)
    return { consecutiveFailures: failures, openedAtMs: nowMs, probeTaskId: null };
  return { ...breaker, consecutiveFailures: failures };
}

/** The probe ended without a verdict (cancelled, migrated): another may go. */
export function onProbeGone(breaker: Breaker, taskId: string): Breaker {
  return breaker.probeTaskId === taskId ? { ...breaker, probeTaskId: null } : breaker;
}
