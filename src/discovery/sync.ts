/**
 * From provider snapshots to registry changes, with blip protection. A pure state machine: each
 * snapshot, with the registry's agents of that source and the time, goes in; a plan (agents to
 * upsert, keys to remove) comes out; the caller proposes the plan as commands.
 *
 * - An added or changed agent is upserted at once.
 * - An agent missing from snapshots is removed only once it has been missing continuously for
 *   `removeAfterMs` AND from at least `removeAfterMisses` snapshots in a row. An empty snapshot
 *   right after a full one is a miss like any other, so a provider blip does not empty the
 *   registry before the grace is over.
 * - An error removes nothing (the caller does not call the sync for it), and a snapshot's
 *   unreadable key prefixes protect the agents under them.
 * - An agent that is unchanged produces nothing, so a steady provider causes no writes.
 *
 * A plan is recomputed from the registry each time: an upsert or removal that did not commit is
 * planned again by the next snapshot, and one that did is not.
 */

import { MAX_AGENTS_PER_PROVIDER } from "./limits.js";
import { COMPLETE_SNAPSHOT, type DiscoveredAgent, type SnapshotDetails } from "./types.js";

/** An agent of one source as the registry holds it. */
export interface RegisteredAgent {
  readonly key: string;
  readonly name: string;
  readonly endpoint: string;
  readonly team: string;
  readonly skills: readonly string[];
  readonly capacity: number;
  readonly weight: number | null;
  readonly labels: ReadonlyMap<string, string>;
  /** The provider's health as last recorded; when given, a change of it is a change of the agent. */
  readonly healthy?: boolean | null;
}

/** What to do to the registry. */
export interface SyncPlan {
  /** Agents to register or update, in snapshot order. */
  readonly upserts: DiscoveredAgent[];
  /** Keys of agents to remove, in registry order. */
  readonly removals: string[];
}

/** How long an agent may be missing before it goes. */
export interface DiscoverySyncOptions {
  /** An agent goes only after being missing this long without a break. Default 30 s. */
  readonly removeAfterMs?: number;
  /** ... and from at least this many snapshots in a row. Default 3. */
  readonly removeAfterMisses?: number;
}

/** The defaults: 30 s and 3 snapshots. */
export const DEFAULT_REMOVE_AFTER_MS = 30_000;
export const DEFAULT_REMOVE_AFTER_MISSES = 3;

/** Since when, and in how many snapshots in a row, an agent has been missing. */
export interface Absence {
  /** The time of the first snapshot it was missing from. */
  readonly since: number;
  /** Snapshots in a row it was missing from. */
  readonly misses: number;
}

/** Plans registry changes from snapshots of one provider. */
export class DiscoverySync {
  readonly removeAfterMs: number;
  readonly removeAfterMisses: number;
  /** Registered agents that are missing from snapshots. Invariant: every key is in the registry as last seen. */
  private readonly absences = new Map<string, Absence>();

  constructor(options: DiscoverySyncOptions = {}) {
    this.removeAfterMs = options.removeAfterMs ?? DEFAULT_REMOVE_AFTER_MS;
    this.removeAfterMisses = options.removeAfterMisses ?? DEFAULT_REMOVE_AFTER_MISSES;
    if (!(this.removeAfterMs >= 0 && Number.isFinite(this.removeAfterMs)))
      throw new RangeError("removeAfterMs must be a finite number of at least 0");
    if (!(Number.isInteger(this.removeAfterMisses) && this.removeAfterMisses >= 1))
      throw new RangeError("removeAfterMisses must be an integer of at least 1");
  }

  /**
   * The plan for one snapshot. `registered` is the registry's current agents of this provider's
   * source; `now` is the time the snapshot arrived (milliseconds, any monotonic-enough clock). A
   * key listed twice in the snapshot counts once, the first time.
   */
  plan(
    snapshot: readonly DiscoveredAgent[],
    registered: Iterable<RegisteredAgent>,
    now: number,
    details: SnapshotDetails = COMPLETE_SNAPSHOT,
  ): SyncPlan {
    const present = new Map<string, DiscoveredAgent>();
    for (const agent of snapshot) {
      if (present.size >= MAX_AGENTS_PER_PROVIDER) break;
      if (!present.has(agent.key)) present.set(agent.key, agent);
    }
    const known = new Map<string, RegisteredAgent>();
    for (const agent of registered) known.set(agent.key, agent);

    const upserts: DiscoveredAgent[] = [];
    for (const agent of present.values()) {
      this.absences.delete(agent.key);
      const current = known.get(agent.key);
      if (current === undefined || !sameAgent(agent, current)) upserts.push(agent);
    }

    const removals: string[] = [];
    for (const key of known.keys()) {
      if (present.has(key)) continue;
      // An unreadable part of the source says nothing about its agents: their absence is not counted.
      if (isUnreadable(key, details)) continue;
      const before = this.absences.get(key);
      const absence: Absence =
        before === undefined ? { since: now, misses: 1 } : { ...before, misses: before.misses + 1 };
      this.absences.set(key, absence);
      if (now - absence.since >= this.removeAfterMs && absence.misses >= this.removeAfterMisses)
        removals.push(key);
    }
    // Agents the registry no longer holds need no counting (bounds the map by the registry).
    for (const key of this.absences.keys()) {
      if (!known.has(key)) this.absences.delete(key);
    }
    return { upserts, removals };
  }

  /** How long `key` has been missing, undefined when it is not. */
  absence(key: string): Absence | undefined {
    return this.absences.get(key);
  }

  /** Forgets every absence (a new leader starts counting afresh: a full grace for every agent). */
  reset(): void {
    this.absences.clear();
  }
}

/** Whether `key` falls under one of the snapshot's unreadable prefixes. */
export function isUnreadable(key: string, details: SnapshotDetails): boolean {
  return details.unreadable.some((prefix) => key.startsWith(prefix));
}

/** Whether the registry's agent already says what the discovered one says. */
export function sameAgent(discovered: DiscoveredAgent, registered: RegisteredAgent): boolean {
  return (
    discovered.name === registered.name &&
    discovered.endpoint === registered.endpoint &&
    discovered.team === registered.team &&
    discovered.capacity === registered.capacity &&
    discovered.weight === registered.weight &&
    sameSet(discovered.skills, registered.skills) &&
    sameMap(discovered.labels, registered.labels) &&
    (registered.healthy === undefined || registered.healthy === discovered.healthy)
  );
}

/** Skills are a set: order and repeats do not matter. */
function sameSet(left: readonly string[], right: readonly string[]): boolean {
  const leftSet = new Set(left);
  const rightSet = new Set(right);
  if (leftSet.size !== rightSet.size) return false;
  for (const item of leftSet) if (!rightSet.has(item)) return false;
  return true;
}

function sameMap(left: ReadonlyMap<string, string>, right: ReadonlyMap<string, string>): boolean {
  if (left.size !== right.size) return false;
  for (const [key, value] of left) if (right.get(key) !== value) return false;
  return true;
}
