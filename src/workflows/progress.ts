/**
 * A run's progress as GET /workflows/{id} shows it: counts by status, the share of forward
 * steps that ended, and the same per team. Compensation steps are counted apart, since a run
 * that never fails never runs them.
 */

import { STEP_STATUSES, STEP_TERMINAL, type StepStatus, type WorkflowRun } from "./run.js";

/** Progress of one team's steps. */
export interface TeamProgress {
  readonly team: string;
  readonly total: number;
  readonly done: number;
  readonly running: number;
  readonly percent: number;
}

/** Progress of a run. */
export interface WorkflowProgress {
  /** Forward steps (a for_each step counts once). */
  readonly total: number;
  /** Forward steps that ended (succeeded, failed, cancelled or skipped). */
  readonly done: number;
  /** done / total, in whole percent (rounded down, so 100 means every step ended). */
  readonly percent: number;
  readonly by_status: Readonly<Record<StepStatus, number>>;
  /** Per team, sorted by team name. */
  readonly teams: readonly TeamProgress[];
  /** Compensation steps: how many there are, and how many ran or are running. */
  readonly compensation: { readonly total: number; readonly started: number };
}

/** The progress of a run, from its steps alone. */
export function progressOf(run: WorkflowRun): WorkflowProgress {
  const byStatus = Object.fromEntries(STEP_STATUSES.map((status) => [status, 0])) as Record<
    StepStatus,
    number
  >;
  const teams = new Map<string, { total: number; done: number; running: number }>();
  let total = 0;
  let done = 0;
  let compensationTotal = 0;
  let compensationStarted = 0;
  run.definition.steps.forEach((step, i) => {
    const status = run.steps[i]!.status;
    if (step.compensates !== null) {
      compensationTotal++;
      if (status !== "pending" && status !== "skipped") compensationStarted++;
      return;
    }
    total++;
    byStatus[status]++;
    const team = teams.get(step.team) ?? { total: 0, done: 0, running: 0 };
    teams.set(step.team, team);
    team.total++;
    if (STEP_TERMINAL.has(status)) {
      done++;
      team.done++;
    }
    if (status === "running" || status === "waiting") team.running++;
  });
  return {
    total,
    done,
    percent: percent(done, total),
    by_status: byStatus,
    teams: [...teams]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([team, counts]) => ({ team, ...counts, percent: percent(counts.done, counts.total) })),
    compensation: { total: compensationTotal, started: compensationStarted },
  };
}

function percent(done: number, total: number): number {
  return total === 0 ? 100 : Math.floor((100 * done) / total);
}
