/** The words the health module speaks: statuses, the signals that move them, and transitions. */

/**
 * An agent's health as the leader judges it. ("deregistered" is the registry's, not a health status:
 * a deregistered agent is removed from the monitor.)
 */
export type HealthStatus = "healthy" | "degraded" | "suspect" | "failed";

/** Every health status, best first. */
export const HEALTH_STATUSES: readonly HealthStatus[] = ["healthy", "degraded", "suspect", "failed"];

/** What a heartbeat says about the agent's load. */
export interface BeatLoad {
  /** Tasks the agent is running now, if it says. */
  readonly activeTasks?: number;
  /** Tasks it can run at once. */
  readonly capacity: number;
  /** The agent says it is struggling (more than merely full). */
  readonly overloaded?: boolean;
}

/** The outcome of one active check (HTTP or TCP) of an agent. */
export interface CheckResult {
  /** The agent answered as alive: a 2xx (or an overloaded 429/503), or a TCP connection was accepted. */
  readonly ok: boolean;
  /** How long the check took. */
  readonly latencyMs: number;
  /** It answered, but slower than the check's slow threshold. */
  readonly slow: boolean;
  /** It answered, but says it is overloaded (429, 503 or an `x-juno-overloaded` header). */
  readonly overloaded?: boolean;
  /** A short human-readable account: the HTTP status, the error code, the timeout. */
  readonly detail: string;
}

/** A change of an agent's status: the only thing about health that is replicated. */
export interface Transition {
  readonly from: HealthStatus;
  readonly to: HealthStatus;
  /** Why, in a sentence an operator can act on. */
  readonly reason: string;
  /** When the leader decided it (the `nowMs` of the input that caused it). */
  readonly atMs: number;
}
