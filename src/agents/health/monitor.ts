/**
 * The leader's view of every agent's health: one AgentHealth per agent, keyed by agent id in a Map
 * (ids come from outside). Beats and check results go to their agent; a tick visits every agent and
 * returns the transitions that time alone caused. Only transitions leave this object, which is how
 * 10,000 agents beating every second write a handful of entries instead of 10,000 a second.
 *
 * Ticks are O(agents) and allocate nothing when nothing changes: each agent knows the earliest time a
 * tick could change it, kept in one flat array, so passing an agent with nothing due is one comparison
 * of two numbers in a row of numbers. Pure: time arrives as arguments.
 */

import { assert } from "../../raft/assert.js";
import {
  resolveHealthSettings,
  DEFAULT_HEALTH_SETTINGS,
  type HealthOverrides,
  type HealthSettings,
} from "./settings.js";
import { AgentHealth, type HealthReport } from "./status.js";
import type { BeatLoad, CheckResult, HealthStatus, Transition } from "./types.js";

/** A transition of one agent. */
export interface AgentTransition extends Transition {
  readonly agentId: string;
}

/** How large the monitor may grow and what agents are judged by unless told otherwise. */
export interface MonitorOptions {
  /** Adding more agents than this is refused; the registry bounds agents per cluster below it. */
  readonly maxAgents: number;
  /** Settings for agents added without overrides. */
  readonly defaults: HealthSettings;
}

/** Ten times the 10,000 agents the design is measured with: a safety net, not the cluster's limit. */
export const DEFAULT_MONITOR_OPTIONS: MonitorOptions = {
  maxAgents: 100_000,
  defaults: DEFAULT_HEALTH_SETTINGS,
};

/** What a tick returns when nothing changed: shared, so the quiet path allocates nothing. */
const NO_TRANSITIONS: readonly AgentTransition[] = Object.freeze([]);

interface Entry {
  readonly id: string;
  readonly health: AgentHealth;
  // Invariant: order[index] === this entry.
  index: number;
}

/** Health of many agents, for the leader. */
export class HealthMonitor {
  private readonly options: MonitorOptions;
  private readonly entries = new Map<string, Entry>();
  // The same entries in a dense array: removal swaps the last entry into the hole.
  private readonly order: Entry[] = [];
  // Invariant: wakeAtMs[i] === order[i].health.nextWakeMs(), refreshed after every input. A tick scans
  // this flat array (80 kB for 10,000 agents, read in order) and touches only the agents that are due,
  // instead of chasing two pointers per agent through the heap.
  private wakeAtMs = new Float64Array(64);

  constructor(options: Partial<MonitorOptions> = {}) {
    this.options = { ...DEFAULT_MONITOR_OPTIONS, ...options };
    if (!(Number.isInteger(this.options.maxAgents) && this.options.maxAgents >= 1)) {
      throw new RangeError("monitor maxAgents must be a positive integer");
    }
  }

  /**
   * Starts watching agent `id` with `initialStatus` (healthy for a new registration; the log's status
   * for a new leader) and a grace until `graceUntilMs`: nothing turns suspect or failed before it.
   * `carried.sinceMs` is when the agent entered that status (default: graceUntilMs - failureTimeoutMs,
   * the time of adding under the usual grace). An agent never heard from is failed at the grace end.
   */
  add(
    id: string,
    settings: HealthOverrides,
    initialStatus: HealthStatus,
    graceUntilMs: number,
    carried: { readonly sinceMs?: number; readonly reason?: string } = {},
  ): void {
    assert(!this.entries.has(id), () => `agent ${id} is already monitored`);
    if (this.entries.size >= this.options.maxAgents) {
      throw new RangeError(`the health monitor holds its maximum of ${this.options.maxAgents} agents`);
    }
    // Agents without overrides share one settings object: 10,000 copies of the same numbers help nobody.
    const resolved =
      Object.keys(settings).length === 0
        ? this.options.defaults
        : resolveHealthSettings(settings, this.options.defaults);
    const health = new AgentHealth(resolved, {
      status: initialStatus,
      sinceMs: carried.sinceMs ?? graceUntilMs - resolved.failureTimeoutMs,
      graceUntilMs,
      ...(carried.reason === undefined ? {} : { reason: carried.reason }),
    });
    const entry: Entry = { id, health, index: this.order.length };
    this.entries.set(id, entry);
    this.order.push(entry);
    if (entry.index >= this.wakeAtMs.length) {
      const grown = new Float64Array(Math.min(this.options.maxAgents, this.wakeAtMs.length * 2));
      grown.set(this.wakeAtMs);
      this.wakeAtMs = grown;
    }
    this.refreshWake(entry);
  }

  /** Stops watching agent `id` (deregistered); false if it was not watched. */
  remove(id: string): boolean {
    const entry = this.entries.get(id);
    if (entry === undefined) return false;
    this.entries.delete(id);
    const last = this.order.pop();
    assert(last !== undefined, "the order array holds every entry");
    if (last !== entry) {
      last.index = entry.index;
      this.order[entry.index] = last;
      this.refreshWake(last);
    }
    return true;
  }

  /** Whether agent `id` is watched. */
  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** How many agents are watched. */
  get size(): number {
    return this.entries.size;
  }

  /** A heartbeat from agent `id` received at `atMs`; null if nothing changed or the agent is unknown. */
  beat(id: string, atMs: number, load: BeatLoad): AgentTransition | null {
    const entry = this.entries.get(id);
    if (entry === undefined) return null;
    const transition = entry.health.beat(atMs, load);
    this.refreshWake(entry);
    return withAgent(id, transition);
  }

  /** An active check's result for agent `id`, received at `atMs`; null if nothing changed or unknown. */
  checkResult(id: string, atMs: number, result: CheckResult): AgentTransition | null {
    const entry = this.entries.get(id);
    if (entry === undefined) return null;
    const transition = entry.health.check(atMs, result);
    this.refreshWake(entry);
    return withAgent(id, transition);
  }

  /** Advances every agent to `nowMs`; returns the transitions, in no particular order. */
  tick(nowMs: number): readonly AgentTransition[] {
    let transitions: AgentTransition[] | null = null;
    const wakeAtMs = this.wakeAtMs;
    const count = this.order.length;
    for (let index = 0; index < count; index += 1) {
      if (nowMs < (wakeAtMs[index] ?? Infinity)) continue;
      const entry = this.order[index];
      assert(entry !== undefined, "the wake array is as long as the order array");
      const transition = entry.health.tick(nowMs);
      this.refreshWake(entry);
      if (transition !== null) (transitions ??= []).push({ ...transition, agentId: entry.id });
    }
    return transitions ?? NO_TRANSITIONS;
  }

  /** Extends agent `id`'s grace to `untilMs`; false if unknown. */
  grant(id: string, untilMs: number): boolean {
    const entry = this.entries.get(id);
    if (entry === undefined) return false;
    entry.health.grant(untilMs);
    this.refreshWake(entry);
    return true;
  }

  /** A new leader's grace: every agent gets one full failureTimeoutMs of observation from `nowMs`. */
  grantAll(nowMs: number): void {
    for (const entry of this.order) {
      entry.health.grant(nowMs + entry.health.settings.failureTimeoutMs);
      this.refreshWake(entry);
    }
  }

  /** When agent `id`'s lease ends (last beat + failureTimeoutMs, or its grace end if later); null if unknown. */
  leaseEndsAt(id: string): number | null {
    return this.entries.get(id)?.health.leaseEndsAtMs() ?? null;
  }

  /** Agent `id`'s status; null if unknown. */
  statusOf(id: string): HealthStatus | null {
    return this.entries.get(id)?.health.currentStatus() ?? null;
  }

  /** Agent `id`'s full health report at `nowMs`; null if unknown. */
  snapshot(id: string, nowMs: number): HealthReport | null {
    return this.entries.get(id)?.health.status(nowMs) ?? null;
  }

  /** The ids of every watched agent. */
  ids(): IterableIterator<string> {
    return this.entries.keys();
  }

  private refreshWake(entry: Entry): void {
    this.wakeAtMs[entry.index] = entry.health.nextWakeMs();
  }
}

function withAgent(agentId: string, transition: Transition | null): AgentTransition | null {
  return transition === null ? null : { ...transition, agentId };
}
