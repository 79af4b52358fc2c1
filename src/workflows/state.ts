/**
 * The workflows module's replicated state: every run (live, and the most recent ended ones), the
 * registered definitions by name and version, the approvals runs wait on, the timers they set,
 * the steps each team runs and the ones waiting for a team's slot, and the settings.
 *
 * Runs are immutable JSON values (the engine returns a new one for every change), so a snapshot
 * captures them by reference and reads them a slice at a time while later entries replace them.
 *
 * Invariants (asserted where they change):
 * - a run's timers are in the timer index, and nothing else is;
 * - an approval is open iff its run is live and its unit waits on it;
 * - teamActive[t] is the number of workflow tasks of team t submitted and not yet ended;
 * - a task id is in `deferred` iff the engine started its unit and the team had no free slot.
 */

import Type, { type Static } from "typebox";
import { assert } from "../raft/assert.js";
import type { JsonValue } from "../control/index.js";
import type { WorkflowDefinition } from "./definition.js";
import {
  WORKFLOW_TERMINAL,
  type RunTimer,
  type WorkflowEffect,
  type WorkflowRun,
  type WorkflowStatus,
} from "./run.js";

/** Bounds on how many runs the cluster holds. */
export const RUN_LIMITS = {
  /** Runs not yet ended, in the whole cluster. */
  liveRuns: 500_000,
  /** Ended runs kept (the oldest go first past it). */
  retainedRuns: 100_000,
  /** Versions one definition name may have. */
  versions: 1_000,
  /** Registered definition names. */
  definitions: 10_000,
  /** Timers one fire entry takes. */
  fireBatch: 500,
} as const;

export const WorkflowSettingsSchema = Type.Object(
  {
    /** Most workflow steps one team runs at once across every run, as [team, limit] (others: the default). */
    teamStepLimits: Type.Array(
      Type.Tuple([Type.String({ minLength: 1, maxLength: 100 }), Type.Integer({ minimum: 1 })]),
      { maxItems: 1_000 },
    ),
    /** The limit of a team that has none of its own (null: no limit). */
    defaultTeamStepLimit: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    /** Ended runs kept; past it the oldest go. */
    retainedRuns: Type.Integer({ minimum: 0, maximum: RUN_LIMITS.retainedRuns }),
  },
  { additionalProperties: false },
);
export type WorkflowSettings = Static<typeof WorkflowSettingsSchema>;

export const DEFAULT_WORKFLOW_SETTINGS: WorkflowSettings = Object.freeze({
  teamStepLimits: [],
  defaultTeamStepLimit: null,
  retainedRuns: RUN_LIMITS.retainedRuns,
});

/** Settings with teams sorted, as proposed and compared. */
export function canonicalSettings(settings: WorkflowSettings): WorkflowSettings {
  const teamStepLimits = [...settings.teamStepLimits].sort((x, y) =>
    x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0,
  );
  return { ...settings, teamStepLimits };
}

/** A registered definition. */
export interface RegisteredDefinition {
  readonly definition: WorkflowDefinition;
  readonly registered_at: number;
}

/** A run with what the module keeps beside the engine's state. */
export interface RunRecord {
  readonly run: WorkflowRun;
  /** `name@version` when it runs a registered definition (snapshots store the definition once). */
  readonly ref: string | null;
  /** The team that owns it: whoever created it, or the team a parent's step named. */
  readonly team: string;
  readonly idempotency_key: string | null;
  /** The task this run expands (a delegated step's coordinator started it for the task). */
  readonly expands_task: string | null;
  /** Bumped on every change (watchers compare it). */
  readonly revision: number;
  /** The order it was created in (list order and eviction order). */
  readonly seq: number;
}

/** An approval a run waits on: the decision is opened by its own entry (one decision per entry). */
export interface OpenApproval {
  readonly approval_id: string;
  readonly workflow_id: string;
  readonly step: string;
  readonly index: number | null;
  readonly team: string;
  readonly voters: readonly string[];
  readonly quorum: number;
  readonly data: JsonValue;
  /** The decision's index once opened (null: the leader has yet to open it). */
  readonly decision: number | null;
}

/** A submit_task effect waiting for its team's slot. */
export type DeferredTask = Extract<WorkflowEffect, { type: "submit_task" }> & {
  readonly workflow_id: string;
};

/** Timers of every live run, in the order they fall due. */
export class TimerIndex {
  private readonly entries: { at: number; id: string; run: string }[] = [];
  private readonly byId = new Map<string, { at: number; run: string }>();

  get size(): number {
    return this.entries.length;
  }

  add(run: string, timer: RunTimer): void {
    this.remove(timer.id);
    const entry = { at: timer.at, id: timer.id, run };
    this.entries.splice(this.position(entry.at, entry.id), 0, entry);
    this.byId.set(timer.id, { at: timer.at, run });
  }

  remove(id: string): void {
    const known = this.byId.get(id);
    if (known === undefined) return;
    const at = this.position(known.at, id);
    assert(this.entries[at]?.id === id, () => `timer ${id} is not where the index says`);
    this.entries.splice(at, 1);
    this.byId.delete(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Up to `max` timers due at `now`, earliest first. */
  due(now: number, max: number): { readonly run: string; readonly id: string; readonly at: number }[] {
    const out: { run: string; id: string; at: number }[] = [];
    for (const entry of this.entries) {
      if (entry.at > now || out.length >= max) break;
      out.push(entry);
    }
    return out;
  }

  /** When the next timer falls due, or null. */
  next(): number | null {
    return this.entries[0]?.at ?? null;
  }

  /** Where (at, id) goes in the order (binary search). */
  private position(at: number, id: string): number {
    let low = 0;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const entry = this.entries[middle]!;
      if (entry.at < at || (entry.at === at && entry.id < id)) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** Deliberately broken behaviour, for the simulator to prove its checkers catch it. */
export interface WorkflowBugs {
  /** Submit every step's task twice (under two ids): a step's effect happens twice. */
  readonly submitTwice?: boolean;
}

export class WorkflowsState {
  /** Broken behaviour to run (never set in production). */
  bugs: WorkflowBugs = {};
  readonly runs = new Map<string, RunRecord>();
  /** Registered definitions: name -> version -> definition. */
  readonly definitions = new Map<string, Map<number, RegisteredDefinition>>();
  /** Run ids by `team\0idempotency_key`. */
  readonly byKey = new Map<string, string>();
  readonly approvals = new Map<string, OpenApproval>();
  /** Approvals by the decision that stands for them. */
  readonly byDecision = new Map<number, string>();
  /** Approvals the leader has yet to open as decisions, in the order they were asked for. */
  readonly unopened = new Set<string>();
  readonly timers = new TimerIndex();
  /** Workflow tasks submitted and not yet ended: task id -> team. */
  readonly active = new Map<string, string>();
  readonly teamActive = new Map<string, number>();
  /** Steps waiting for their team's slot, per team, in the order they became ready. */
  readonly deferred = new Map<string, DeferredTask[]>();
  /** Runs that expand a task: task id -> run id. */
  readonly expansions = new Map<string, string>();
  private readonly counts = new Map<WorkflowStatus, number>();
  /** Ended runs in the order they ended (the oldest are evicted first). */
  private readonly ended: string[] = [];
  private endedHead = 0;
  /** Ids evicted since the last drain (their projected rows go too). */
  evicted: string[] = [];
  /**
   * Definitions given whole with a run, one copy per distinct text, with the runs holding it:
   * a thousand runs of the same inline definition share one object, as runs of a registered one
   * do. A cache of values, never read by apply's decisions.
   */
  private readonly inline = new Map<string, { definition: WorkflowDefinition; runs: number }>();
  settings: WorkflowSettings = DEFAULT_WORKFLOW_SETTINGS;
  /** The last creation sequence handed out. */
  seq = 0;
  /** Bumped on every change. */
  version = 0;

  get liveCount(): number {
    return this.runs.size - (this.ended.length - this.endedHead);
  }

  count(status: WorkflowStatus): number {
    return this.counts.get(status) ?? 0;
  }

  get(id: string): RunRecord | undefined {
    return this.runs.get(id);
  }

  /** The definition registered as `name` at `version` (null: the latest). */
  definition(name: string, version: number | null): RegisteredDefinition | undefined {
    const versions = this.definitions.get(name);
    if (versions === undefined) return undefined;
    if (version !== null) return versions.get(version);
    let latest: number | null = null;
    for (const known of versions.keys()) if (latest === null || known > latest) latest = known;
    return latest === null ? undefined : versions.get(latest);
  }

  addDefinition(registered: RegisteredDefinition): void {
    const { name, version } = registered.definition;
    let versions = this.definitions.get(name);
    if (versions === undefined)
      this.definitions.set(name, (versions = new Map<number, RegisteredDefinition>()));
    versions.set(version, registered);
    this.version++;
  }

  /** The shared copy of an inline definition equal to `definition`, or `definition` (put() shares it). */
  shared(definition: WorkflowDefinition): WorkflowDefinition {
    return this.inline.get(JSON.stringify(definition))?.definition ?? definition;
  }

  /** Adds or replaces a run's record, keeping counts, timers and retention true. */
  put(record: RunRecord): void {
    const previous = this.runs.get(record.run.id);
    if (previous !== undefined) {
      assert(
        !WORKFLOW_TERMINAL.has(previous.run.status),
        () => `run ${record.run.id} changed after it ended`,
      );
      this.counts.set(previous.run.status, this.count(previous.run.status) - 1);
    } else if (record.idempotency_key !== null) {
      this.byKey.set(keyOf(record.team, record.idempotency_key), record.run.id);
    }
    this.counts.set(record.run.status, this.count(record.run.status) + 1);
    this.runs.set(record.run.id, record);
    if (previous === undefined && record.ref === null) this.holdInline(record.run.definition, 1);
    if (record.expands_task !== null && previous === undefined)
      this.expansions.set(record.expands_task, record.run.id);
    if (WORKFLOW_TERMINAL.has(record.run.status)) {
      if (record.expands_task !== null) this.expansions.delete(record.expands_task);
      this.ended.push(record.run.id);
      this.evict();
    }
    this.version++;
  }

  private holdInline(definition: WorkflowDefinition, change: number): void {
    const key = JSON.stringify(definition);
    const entry = this.inline.get(key);
    if (entry === undefined) {
      if (change > 0) this.inline.set(key, { definition, runs: change });
      return;
    }
    entry.runs += change;
    if (entry.runs <= 0) this.inline.delete(key);
  }

  byIdempotency(team: string, key: string): RunRecord | undefined {
    const id = this.byKey.get(keyOf(team, key));
    return id === undefined ? undefined : this.runs.get(id);
  }

  /** The step limit of `team` (null: none). */
  stepLimit(team: string): number | null {
    for (const [name, limit] of this.settings.teamStepLimits) if (name === team) return limit;
    return this.settings.defaultTeamStepLimit;
  }

  /** Ended runs in the order they ended, oldest first (restore rebuilds eviction order from it). */
  endedOrder(): readonly string[] {
    return this.ended.slice(this.endedHead);
  }

  configure(settings: WorkflowSettings): void {
    this.settings = canonicalSettings(settings);
    this.evict();
    this.version++;
  }

  /** Past the retention limit, the oldest ended runs go (their rows and keys with them). */
  private evict(): void {
    while (this.ended.length - this.endedHead > this.settings.retainedRuns) {
      const id = this.ended[this.endedHead++]!;
      const record = this.runs.get(id);
      if (record === undefined) continue;
      this.runs.delete(id);
      if (record.ref === null) this.holdInline(record.run.definition, -1);
      this.counts.set(record.run.status, this.count(record.run.status) - 1);
      if (record.idempotency_key !== null) this.byKey.delete(keyOf(record.team, record.idempotency_key));
      this.evicted.push(id);
    }
    if (this.endedHead > 1024 && this.endedHead * 2 > this.ended.length) {
      this.ended.splice(0, this.endedHead);
      this.endedHead = 0;
    }
  }
}

function keyOf(team: string, key: string): string {
  return `${team}\u0000${key}`;
}
