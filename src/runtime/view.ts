/**
 * NodeView: the read-only face of a node, which the HTTP routes, metrics, controllers and
 * services use instead of reaching into Raft or the state. Reading the state through it is
 * reading local memory; routes that need linearizable reads ask for a read barrier first.
 */

import type { ModuleRegistry, StateModule } from "../control/index.js";
import type { Membership, NodeId, RaftStatus, Role } from "../raft/index.js";
import type { AnyDomainModule } from "./domain-module.js";
import type { ConsensusStats } from "./performance.js";
import type { CommittedRecord } from "./storage.js";

/** Counters and gauges for metrics. */
export interface NodeCounters {
  proposals: number;
  proposalsFailed: number;
  proposalsForwarded: number;
  readies: number;
  appliedEntries: number;
  leaderChanges: number;
  elections: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  /** Size of the last snapshot taken or installed. */
  lastSnapshotBytes: number;
  /** Wall time the last snapshot took to write (or to read and install), across all its slices. */
  lastSnapshotMs: number;
  lastApplyMs: number;
}

/** What anyone outside the loop may read of a node. */
export interface NodeView {
  readonly id: NodeId;
  /** Wall-clock milliseconds per Raft tick. */
  readonly tickMs: number;
  /** Every module the node runs. */
  readonly registry: ModuleRegistry<AnyDomainModule>;
  isLeader(): boolean;
  leaderId(): NodeId | null;
  /** Raft's view: role, term, indexes, membership, each follower's progress (on the leader). */
  status(): RaftStatus;
  /** The membership in force (cheap: no progress report). */
  membership(): Membership;
  role(): Role;
  term(): number;
  /** The local state of `module` (do not change it: only applied commands do). */
  state<S>(module: StateModule<S>): S;
  appliedIndex(): number;
  commitIndex(): number;
  /** The hash chain over every applied entry: equal on every replica at the same index. */
  stateHash(): number;
  counters(): Readonly<NodeCounters>;
  /** What this node measured of consensus: write latency, applied rate, elections, lag in ms. */
  consensus(): ConsensusStats;
  /** Committed log rows from the store. */
  readLog(from: number, to: number, limit: number): Promise<CommittedRecord[]>;
  /** The first index still in the log (older ones are in the snapshot), or null. */
  firstLogIndex(): Promise<number | null>;
  /** Whether the store can write right now (false while PostgreSQL is unreachable). */
  storageAvailable(): boolean;
  /** Calls `listener` after every handled Ready; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}
