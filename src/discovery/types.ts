/**
 * What every discovery provider hands to its caller: agents as an outside system (DNS, Consul,
 * Kubernetes, A2A agent cards) describes them, full snapshots of them, and read failures. The
 * caller, a leader-only controller, turns snapshots into registry commands through DiscoverySync.
 */

import type { Clock } from "../runtime/clock.js";

/** Where an agent was discovered. */
export type DiscoverySource = "dns" | "consul" | "kubernetes" | "agent_card";

/** One agent as an outside system describes it. */
export interface DiscoveredAgent {
  /**
   * Stable within its source: "dns:<srv name>/<target>:<port>",
   * "consul:<service name>/<node>/<service id>", "kubernetes:<namespace>/<service>/<ip>:<port>",
   * "agent_card:<card url>".
   */
  readonly key: string;
  readonly source: DiscoverySource;
  /** At most MAX_AGENT_NAME_LENGTH (100) characters. */
  readonly name: string;
  /** An http(s) URL of at most MAX_ENDPOINT_LENGTH (255) characters. */
  readonly endpoint: string;
  readonly team: string;
  /** Distinct, at most MAX_SKILLS of them. */
  readonly skills: readonly string[];
  /** An integer of at least 1; 1 when the source says nothing. */
  readonly capacity: number;
  /** The source's relative weight (0 to MAX_WEIGHT), null when it has none. */
  readonly weight: number | null;
  readonly labels: ReadonlyMap<string, string>;
  /** The provider's own view of health (Consul checks passing, Kubernetes `ready` condition), null when it has none. */
  readonly healthy: boolean | null;
}

/**
 * What a snapshot could not see. A provider that reads its source in parts (one Kubernetes Service,
 * one Consul service, one agent card at a time) still reports the parts it could read; the keys of
 * the parts it could not are covered here, so that a failed part never counts as its agents being
 * gone.
 */
export interface SnapshotDetails {
  /**
   * Key prefixes (a whole key is a prefix of itself) of the agents this snapshot knows nothing
   * about. DiscoverySync neither counts such agents missing nor removes them. Matching is by
   * prefix, so it may protect more agents than needed, never fewer.
   */
  readonly unreadable: readonly string[];
}

/** Snapshot details of a provider that read everything. */
export const COMPLETE_SNAPSHOT: SnapshotDetails = { unreadable: [] };

/** Where a provider sends what it finds. */
export interface ProviderHandlers {
  /**
   * The full current set, each time it changes or is re-read, and again at least every
   * `republishIntervalMs` while the provider's view is fresh (so that an agent that went away is
   * seen missing from several snapshots, as DiscoverySync requires before removing it).
   */
  onSnapshot(agents: readonly DiscoveredAgent[], details: SnapshotDetails): void;
  /** A failed read: the caller keeps the last good set (an error never removes agents). */
  onError(error: Error): void;
  /** An entry of the source that was skipped because it cannot be an agent (a bad port, an endpoint too long). */
  onInvalid?(problem: InvalidEntry): void;
}

/** An entry of a source that could not become an agent, and why. */
export interface InvalidEntry {
  readonly source: DiscoverySource;
  /** The key the agent would have had, or the best description of the entry there is. */
  readonly key: string;
  readonly reason: string;
}

/** A provider that is running; stop() resolves once nothing of it runs any more and no handler will be called again. */
export interface RunningProvider {
  stop(): Promise<void>;
}

/** A source of agents. */
export interface DiscoveryProvider {
  readonly source: DiscoverySource;
  start(handlers: ProviderHandlers): RunningProvider;
}

/** The time a provider needs: a wall clock for rate limits and timers for its waits, injected so tests control them. */
export type DiscoveryClock = Pick<Clock, "now" | "setTimeout" | "clearTimeout">;

/** A number in [0, 1); injected so tests can pin the jitter of retries. */
export type RandomSource = () => number;
