/**
 * Trigger rules and joins: when every input a step waits on has been decided, whether it runs
 * or is skipped. Each rule names the upstream outcomes it counts as good; the step runs as soon
 * as `threshold` of its dependencies ended good, and is skipped as soon as that can no longer
 * happen (good + still pending < threshold). With the default threshold (every dependency, or
 * one for the one_* rules) these are Airflow's rules:
 *
 *   all_success  good: succeeded                    (skip once any failed, was cancelled or skipped)
 *   none_failed  good: succeeded, skipped           (skip once any failed or was cancelled)
 *   all_done     good: any end                      (never skipped: runs once all ended)
 *   one_success  good: succeeded                    (runs at the first success; skip when none can)
 *   one_failed   good: failed, cancelled            (runs at the first failure; skip when none can)
 *
 * A join changes the threshold: `all` every dependency, `any` one, `{quorum: n}` n.
 */

import type { TriggerRule } from "./definition.js";
import { STEP_TERMINAL, type StepStatus } from "./run.js";

/** What a pending step's inputs say: run it, skip it, or wait for more of them. */
export type TriggerDecision = "ready" | "skip" | "wait";

/** Whether an ended upstream step counts towards the rule. */
export function countsAsGood(rule: TriggerRule, status: StepStatus): boolean {
  switch (rule) {
    case "all_success":
    case "one_success":
      return status === "succeeded";
    case "none_failed":
      return status === "succeeded" || status === "skipped";
    case "all_done":
      return STEP_TERMINAL.has(status);
    case "one_failed":
      return status === "failed" || status === "cancelled";
  }
}

/** The decision for a step with `rule` and `threshold`, given its dependencies' statuses. */
export function decideTrigger(
  rule: TriggerRule,
  threshold: number,
  upstream: readonly StepStatus[],
): TriggerDecision {
  let good = 0;
  let pending = 0;
  for (const status of upstream) {
    if (!STEP_TERMINAL.has(status)) pending++;
    else if (countsAsGood(rule, status)) good++;
  }
  return decideCounts(threshold, good, pending);
}

/** The decision from counts: `good` dependencies ended well, `pending` have not ended. */
export function decideCounts(threshold: number, good: number, pending: number): TriggerDecision {
  if (good >= threshold) return "ready";
  if (good + pending < threshold) return "skip";
  return "wait";
}
