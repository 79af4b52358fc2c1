/**
 * The settings apply depends on (bulkheads, fairness, aging, breakers, retention). They are
 * replicated, not read from each node's configuration: the leader proposes its configured
 * settings when they differ from the committed ones, so replicas configured differently during a
 * rolling change still apply every entry alike.
 */

import Type, { type Static } from "typebox";
import { TASK_LIMITS } from "./task.js";

export const TaskSettingsSchema = Type.Object(
  {
    /** A task waiting this long moves up one priority level (null: no aging). */
    agingMs: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    /** Weights of teams in fair sharing, as [team, weight] pairs (others weigh 1). */
    teamWeights: Type.Array(
      Type.Tuple([
        Type.String({ minLength: 1, maxLength: 100 }),
        Type.Number({ exclusiveMinimum: 0, maximum: 1_000 }),
      ]),
      { maxItems: 1_000 },
    ),
    /** Most queued tasks of one team (a full queue answers 429). */
    teamQueueLimit: Type.Integer({ minimum: 1 }),
    /** Most running tasks of one team at once. */
    teamRunningLimit: Type.Integer({ minimum: 1 }),
    /** Consecutive failures that open an agent's breaker (CIRCUIT_BREAKER_THRESHOLD). */
    breakerThreshold: Type.Integer({ minimum: 1, maximum: 1_000 }),
    breakerCoolDownMs: Type.Integer({ minimum: 1 }),
    /** Attempts of a task that names none (RECOVERY_RETRY_ATTEMPTS). */
    defaultMaxAttempts: Type.Integer({ minimum: 1, maximum: TASK_LIMITS.maxAttempts }),
    /** An assigned task its agent has not taken within this long goes to another agent. */
    pickupTimeoutMs: Type.Integer({ minimum: 1 }),
    /** Finished tasks kept; past it the oldest go. */
    retainedTasks: Type.Integer({ minimum: 0, maximum: TASK_LIMITS.retainedTasks }),
  },
  { additionalProperties: false },
);
export type TaskSettings = Static<typeof TaskSettingsSchema>;

export const DEFAULT_TASK_SETTINGS: TaskSettings = Object.freeze({
  agingMs: 60_000,
  teamWeights: [],
  teamQueueLimit: 100_000,
  teamRunningLimit: 100_000,
  breakerThreshold: 5,
  breakerCoolDownMs: 30_000,
  defaultMaxAttempts: 3,
  pickupTimeoutMs: 30_000,
  retainedTasks: TASK_LIMITS.retainedTasks,
});

/** Whether two settings are the same (teams' weights in any order). */
export function sameSettings(a: TaskSettings, b: TaskSettings): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Settings with team weights sorted by team, as proposed and compared. */
export function canonical(settings: TaskSettings): TaskSettings {
  const teamWeights = [...settings.teamWeights].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  return { ...settings, teamWeights };
}
