/** Tunables of the Raft core, their defaults and their validation. */

import type { Random } from "./random.js";
import type { NodeId } from "./types.js";

/**
 * Deliberately broken behaviour, used only by tests to show that the simulator's checkers find
 * real bugs. Never set in production.
 */
export interface InjectedBugs {
  /** Commit any entry replicated on a majority, even from an older term (breaks figure 8). */
  readonly commitOldTermByCount?: boolean;
  /** Grant votes without the "candidate's log is at least as up to date" check (breaks 5.4.1). */
  readonly voteWithoutLogCheck?: boolean;
  /** Answer ReadIndex at once, without confirming leadership with a quorum. */
  readonly readWithoutQuorum?: boolean;
}

/** What a node is configured with. Times are in ticks; the caller decides how long a tick is. */
export interface RaftOptions {
  readonly id: NodeId;
  /** Source of randomness for election timeouts. */
  readonly random: Random;
  /** Ticks without a leader before a follower campaigns (randomized in [n, 2n)). */
  readonly electionTicks?: number;
  /** Ticks between leader heartbeats; must be less than electionTicks. */
  readonly heartbeatTicks?: number;
  /** Run a pre-vote round before raising the term. */
  readonly preVote?: boolean;
  /** A leader that has not heard from a quorum for an election timeout steps down. */
  readonly checkQuorum?: boolean;
  /** Upper bound of entry data per AppendEntries message. */
  readonly maxMessageBytes?: number;
  /** In-flight AppendEntries per follower in replicate state. */
  readonly maxInflightMessages?: number;
  /** In-flight entry bytes per follower (0: unbounded). */
  readonly maxInflightBytes?: number;
  /** Bytes of uncommitted entries a leader accepts before refusing proposals. */
  readonly maxUncommittedBytes?: number;
  /** Largest accepted proposal. */
  readonly maxEntryBytes?: number;
  /** Upper bound of committed entry bytes handed out per Ready. */
  readonly maxCommittedBytesPerReady?: number;
  /** Bytes per InstallSnapshot chunk. */
  readonly snapshotChunkBytes?: number;
  /** Applied entries since the last snapshot after which snapshotDue() says to take one (RAFT_LOG_COMPACTION_THRESHOLD). */
  readonly compactionThresholdEntries?: number;
  /** Entries kept behind a snapshot so slightly lagging followers need no snapshot. */
  readonly snapshotTrailingEntries?: number;
  /** Reads queued at a leader (waiting for quorum or its first commit) before refusing more. */
  readonly maxPendingReads?: number;
  /** For tests only. */
  readonly bugs?: InjectedBugs;
}

/** Options with every default filled in. */
export type ResolvedOptions = Required<Omit<RaftOptions, "bugs">> & { readonly bugs: InjectedBugs };

const MiB = 1024 * 1024;

/** Fills in defaults and refuses inconsistent settings with a clear message. */
export function resolveOptions(options: RaftOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    id: options.id,
    random: options.random,
    electionTicks: options.electionTicks ?? 10,
    heartbeatTicks: options.heartbeatTicks ?? 1,
    preVote: options.preVote ?? true,
    checkQuorum: options.checkQuorum ?? true,
    maxMessageBytes: options.maxMessageBytes ?? 1 * MiB,
    maxInflightMessages: options.maxInflightMessages ?? 256,
    maxInflightBytes: options.maxInflightBytes ?? 32 * MiB,
    maxUncommittedBytes: options.maxUncommittedBytes ?? 64 * MiB,
    maxEntryBytes: options.maxEntryBytes ?? 1 * MiB,
    maxCommittedBytesPerReady: options.maxCommittedBytesPerReady ?? 16 * MiB,
    snapshotChunkBytes: options.snapshotChunkBytes ?? 1 * MiB,
    compactionThresholdEntries: options.compactionThresholdEntries ?? 10_000,
    snapshotTrailingEntries: options.snapshotTrailingEntries ?? 1000,
    maxPendingReads: options.maxPendingReads ?? 10_000,
    bugs: options.bugs ?? {},
  };
  if (resolved.id.length === 0) throw new RangeError("node id must not be empty");
  if (!(resolved.heartbeatTicks >= 1)) throw new RangeError("heartbeatTicks must be at least 1");
  if (!(resolved.electionTicks > resolved.heartbeatTicks)) {
    throw new RangeError("electionTicks must be greater than heartbeatTicks");
  }
  for (const key of [
    "maxMessageBytes",
    "maxInflightMessages",
    "maxUncommittedBytes",
    "maxEntryBytes",
    "maxCommittedBytesPerReady",
    "snapshotChunkBytes",
    "maxPendingReads",
    "compactionThresholdEntries",
  ] as const) {
    if (!(resolved[key] >= 1)) throw new RangeError(`${key} must be at least 1`);
  }
  if (resolved.maxInflightBytes < 0) throw new RangeError("maxInflightBytes must not be negative");
  if (resolved.snapshotTrailingEntries < 0)
    throw new RangeError("snapshotTrailingEntries must not be negative");
  return resolved;
}
