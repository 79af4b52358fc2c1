/** The per-agent health settings, their defaults and why, and the checks that keep them sane. */

import type { HysteresisThresholds } from "./hysteresis.js";
import { DEFAULT_PHI_OPTIONS, resolvePhiOptions, type PhiOptions } from "./phi.js";

/** How one agent's health is judged. Every field can be overridden per agent. */
export interface HealthSettings extends HysteresisThresholds {
  /** The heartbeat interval the agent was told; the detector expects it until it has measured enough. */
  readonly heartbeatIntervalMs: number;
  /** An agent unheard for this long is failed (FAILURE_DETECTION_TIMEOUT). */
  readonly failureTimeoutMs: number;
  /**
   * A beat reporting more than this many active tasks per unit of capacity counts as overloaded; null
   * turns the gauge off. Full (active tasks equal to capacity) is never overloaded: placement simply
   * offers a full agent nothing more.
   */
  readonly overloadedAboveLoad: number | null;
  /** How late beats are judged. */
  readonly phi: PhiOptions;
}

/** Overrides for some of the settings; `phi` may itself be partial. */
export type HealthOverrides = Partial<Omit<HealthSettings, "phi">> & { readonly phi?: Partial<PhiOptions> };

/**
 * Defaults, and why. Agents beat every second (DESIGN: 10,000 agents beating every second) and are
 * failed after 15 s unheard, FAILURE_DETECTION_TIMEOUT's default.
 *
 * Consul's own defaults for both thresholds are 0, meaning one result flips a check. Here a status
 * change is a replicated entry, and `failed` migrates the agent's tasks, so both directions are damped:
 * three failed checks in a row (about 30 s at HEALTH_CHECK_INTERVAL's 10 s) before an agent that still
 * beats is failed, because one failure is usually a blip (a pause, a full accept queue) and two can be
 * a quick restart; two good signals in a row before it is healthy again, because one good answer after
 * failures may be luck, and a second costs only one more interval. Recovery (2) is quicker than
 * condemnation (3) on purpose: wrongly withholding work from a good agent is cheaper to undo than
 * migrating its tasks, but a recovered agent should get work back soon.
 *
 * The load gauge is off: only the agent knows whether being busy hurts it, so it says so explicitly.
 */
export const DEFAULT_HEALTH_SETTINGS: HealthSettings = {
  heartbeatIntervalMs: 1_000,
  failureTimeoutMs: 15_000,
  successBeforePassing: 2,
  failuresBeforeCritical: 3,
  overloadedAboveLoad: null,
  phi: DEFAULT_PHI_OPTIONS,
};

/** The largest run length accepted for either threshold. */
export const MAX_THRESHOLD_RUN = 100;

/** The longest heartbeat interval accepted: ten minutes. */
export const MAX_HEARTBEAT_INTERVAL_MS = 600_000;

/** The longest failure timeout accepted: an hour, FAILURE_DETECTION_TIMEOUT's own bound. */
export const MAX_FAILURE_TIMEOUT_MS = 3_600_000;

/** Fills in `overrides` over `base` and refuses settings that would fail live agents or never fail any. */
export function resolveHealthSettings(
  overrides: HealthOverrides = {},
  base: HealthSettings = DEFAULT_HEALTH_SETTINGS,
): HealthSettings {
  const { phi, ...rest } = overrides;
  const resolved: HealthSettings = { ...base, ...rest, phi: resolvePhiOptions({ ...base.phi, ...phi }) };
  const { heartbeatIntervalMs, failureTimeoutMs, overloadedAboveLoad } = resolved;
  if (!(heartbeatIntervalMs >= 1 && heartbeatIntervalMs <= MAX_HEARTBEAT_INTERVAL_MS)) {
    throw new RangeError(`health heartbeatIntervalMs must be in [1, ${MAX_HEARTBEAT_INTERVAL_MS}]`);
  }
  // One lost beat must never be a failure, so the timeout spans at least two intervals.
  if (!(failureTimeoutMs >= 2 * heartbeatIntervalMs && failureTimeoutMs <= MAX_FAILURE_TIMEOUT_MS)) {
    throw new RangeError(
      `health failureTimeoutMs must be in [2 * heartbeatIntervalMs, ${MAX_FAILURE_TIMEOUT_MS}]`,
    );
  }
  for (const key of ["successBeforePassing", "failuresBeforeCritical"] as const) {
    const run = resolved[key];
    if (!(Number.isInteger(run) && run >= 1 && run <= MAX_THRESHOLD_RUN)) {
      throw new RangeError(`health ${key} must be an integer in [1, ${MAX_THRESHOLD_RUN}]`);
    }
  }
  if (overloadedAboveLoad !== null && !(overloadedAboveLoad >= 1 && Number.isFinite(overloadedAboveLoad))) {
    throw new RangeError("health overloadedAboveLoad must be null or a finite number of at least 1");
  }
  return resolved;
}
