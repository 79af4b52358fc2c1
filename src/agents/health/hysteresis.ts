/**
 * Hysteresis for one stream of signals, written once and used for every kind (heartbeats, active
 * checks), in the manner of Consul's `success_before_passing` and `failures_before_critical`: a single
 * bad signal is noticed at once, but only a run of failures condemns and only a run of successes
 * clears, so a flapping source settles in the middle instead of flapping the agent's status.
 */

import { assert } from "../../raft/assert.js";

/** One signal: good, answering but impaired (slow, overloaded, late), or failing. */
export type Signal = "pass" | "warn" | "fail";

/** Where a stream stands: all good, impaired, or failed enough times in a row to condemn. */
export type SignalLevel = "passing" | "warning" | "critical";

/** The two run lengths that move a stream between levels. */
export interface HysteresisThresholds {
  /** Consecutive passes that bring a warning or critical stream back to passing (at least 1). */
  readonly successBeforePassing: number;
  /** Consecutive fails that make a stream critical (at least 1). */
  readonly failuresBeforeCritical: number;
}

// The counters saturate here: a count this long means "very many", and stays an exact integer.
const COUNT_LIMIT = 1_000_000_000;

/**
 * A stream's level and run counters. The rules, exactly:
 * - pass: successes + 1, failures = 0; passing once successes >= successBeforePassing, otherwise a
 *   critical stream becomes warning (it answers again) and a warning one stays warning;
 * - warn: successes = 0, failures = 0 (it answered); a passing or critical stream becomes warning;
 * - fail: failures + 1, successes = 0; critical once failures >= failuresBeforeCritical, otherwise
 *   warning (a critical stream stays critical).
 * So passing -> warning on the first bad signal, warning -> critical only after a full run of fails,
 * critical -> warning on the first sign of life, and back to passing only after a full run of passes.
 */
export class SignalTrack {
  private readonly thresholds: HysteresisThresholds;
  private currentLevel: SignalLevel;
  private successes = 0;
  private failures = 0;

  constructor(thresholds: HysteresisThresholds, level: SignalLevel = "passing") {
    assert(thresholds.successBeforePassing >= 1, "successBeforePassing must be at least 1");
    assert(thresholds.failuresBeforeCritical >= 1, "failuresBeforeCritical must be at least 1");
    this.thresholds = thresholds;
    this.currentLevel = level;
  }

  /** Takes one signal and returns the level after it. */
  observe(signal: Signal): SignalLevel {
    switch (signal) {
      case "pass":
        this.successes = Math.min(COUNT_LIMIT, this.successes + 1);
        this.failures = 0;
        if (this.successes >= this.thresholds.successBeforePassing) this.currentLevel = "passing";
        else if (this.currentLevel === "critical") this.currentLevel = "warning";
        break;
      case "warn":
        this.successes = 0;
        this.failures = 0;
        this.currentLevel = "warning";
        break;
      case "fail":
        this.failures = Math.min(COUNT_LIMIT, this.failures + 1);
        this.successes = 0;
        if (this.failures >= this.thresholds.failuresBeforeCritical) this.currentLevel = "critical";
        else if (this.currentLevel !== "critical") this.currentLevel = "warning";
        break;
    }
    return this.currentLevel;
  }

  /** The current level. */
  level(): SignalLevel {
    return this.currentLevel;
  }

  /** Passes in a row, up to now. */
  consecutiveSuccesses(): number {
    return this.successes;
  }

  /** Fails in a row, up to now. */
  consecutiveFailures(): number {
    return this.failures;
  }
}
