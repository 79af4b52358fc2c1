/** The data types of the Raft core: entries, messages, persisted state and the Ready contract. */

/** A node's identity in the cluster; stable for the node's whole life. */
export type NodeId = string;

/** What an entry carries: application data, or a change of cluster membership. */
export type EntryType = "normal" | "config";

/** One slot of the replicated log. Entries are immutable once created. */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  /** Opaque application bytes; for `config` entries an encoded ConfigChange. Empty for no-ops. */
  readonly data: Uint8Array;
}

/** Cluster membership: voters decide, learners only receive the log. The two sets are disjoint. */
export interface Membership {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** One membership change; exactly one node moves per change (single-server changes). */
export type ConfigChange =
  | { readonly type: "bootstrap"; readonly voters: readonly NodeId[] }
  | { readonly type: "add_learner"; readonly node: NodeId; readonly context?: string }
  | { readonly type: "promote"; readonly node: NodeId }
  | { readonly type: "remove"; readonly node: NodeId };

/** State that must be on stable storage before any message of the same Ready is sent. */
export interface HardState {
  readonly term: number;
  /** The candidate this node voted for in `term`, or null. */
  readonly vote: NodeId | null;
  readonly commit: number;
}

/** A snapshot: the application state as of `index`, and the membership in force there. */
export interface Snapshot {
  readonly index: number;
  readonly term: number;
  readonly membership: Membership;
  readonly data: Uint8Array;
}

/** The role a node plays in its current term. */
export type Role = "follower" | "pre_candidate" | "candidate" | "leader";

/** Volatile state a caller may want to observe (it is never persisted). */
export interface SoftState {
  readonly leaderId: NodeId | null;
  readonly role: Role;
}

/** A linearizable read is safe once the state machine has applied `index`. */
export interface ReadState {
  readonly context: number;
  readonly index: number;
}

/** A read the core could not serve (no leader, leader changed, not yet ready). */
export interface ReadFailure {
  readonly context: number;
  readonly reason: "no_leader" | "not_leader" | "dropped";
}

/** Fields every message carries. */
interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** RequestVote (and its pre-vote twin, which carries the term the sender would campaign in). */
export interface VoteRequest extends MessageBase {
  readonly type: "vote" | "pre_vote";
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /** Set when the campaign follows a TimeoutNow: voters drop their leader lease for it. */
  readonly transfer: boolean;
}

/** The answer to a vote or pre-vote request. */
export interface VoteResponse extends MessageBase {
  readonly type: "vote_resp" | "pre_vote_resp";
  readonly reject: boolean;
}

/** AppendEntries. */
export interface AppendRequest extends MessageBase {
  readonly type: "append";
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * The answer to AppendEntries. On success `index` is the last index now known to match the
 * leader. On rejection `index` is the rejected prevIndex and the hint names the follower's
 * last index whose term is at most the leader's prevTerm, so the leader can skip a whole term.
 */
export interface AppendResponse extends MessageBase {
  readonly type: "append_resp";
  readonly reject: boolean;
  readonly index: number;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/** Leader liveness and commit propagation; `readSeq` confirms leadership for ReadIndex. */
export interface Heartbeat extends MessageBase {
  readonly type: "heartbeat";
  readonly commit: number;
  readonly readSeq: number;
}

/** The answer to a heartbeat, echoing its read sequence number. */
export interface HeartbeatResponse extends MessageBase {
  readonly type: "heartbeat_resp";
  readonly readSeq: number;
}

/** One chunk of InstallSnapshot. Chunks are sent in order; `offset` is the chunk's first byte. */
export interface SnapshotChunk extends MessageBase {
  readonly type: "snapshot";
  readonly index: number;
  readonly snapshotTerm: number;
  readonly membership: Membership;
  readonly totalBytes: number;
  readonly offset: number;
  readonly chunk: Uint8Array;
}

/** Acknowledges snapshot bytes: `received` bytes of snapshot `index` are held by the follower. */
export interface SnapshotResponse extends MessageBase {
  readonly type: "snapshot_resp";
  readonly index: number;
  readonly received: number;
}

/** Leadership transfer: the receiver campaigns at once. */
export interface TimeoutNow extends MessageBase {
  readonly type: "timeout_now";
}

/** A follower asks the leader for a read index on behalf of its own client. */
export interface ReadIndexRequest extends MessageBase {
  readonly type: "read_index";
  readonly context: number;
}

/** The leader's answer: `index` is safe to read at, unless `reject`. */
export interface ReadIndexResponse extends MessageBase {
  readonly type: "read_index_resp";
  readonly context: number;
  readonly index: number;
  readonly reject: boolean;
}

/** Every message nodes exchange. */
export type Message =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | SnapshotChunk
  | SnapshotResponse
  | TimeoutNow
  | ReadIndexRequest
  | ReadIndexResponse;

/** The kinds of message, for exhaustive switches and wire encodings. */
export type MessageType = Message["type"];

/**
 * What the node asks its caller to do. The caller must, in this order:
 *  1. persist `snapshot` (if any), then `entries` (replacing any stored entries at or after
 *     `entries[0].index`), then `hardState` (if any), durably (fsync) when `mustSync`; the
 *     first `early` messages may be sent before or while doing so;
 *  2. only then send the rest of `messages`;
 *  3. apply `committedEntries` in order (after loading `snapshot` into the state machine),
 *     and serve `readStates` once the applied index reaches theirs;
 *  4. call `advance()`, which is when a leader counts its own new entries as durable.
 * Between `ready()` and `advance()` the caller must not call step, tick, propose or read.
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  /** Everything to send; all but the first `early` only once step 1's writes are durable. */
  readonly messages: readonly Message[];
  /**
   * How many of `messages`, from the start, may leave before step 1's writes are durable: a
   * leader's appends, heartbeats and snapshot chunks, so that its fsync and its followers' run in
   * parallel (Raft thesis 10.2.1). The leader counts its own entries only once advance() is called.
   */
  readonly early: number;
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  readonly readFailures: readonly ReadFailure[];
  /**
   * Whether step 1 needs an fsync: true when there are entries or a snapshot to persist or the
   * term or vote changed. A commit index alone may be written without one; if it is lost in a
   * crash the node learns it again from the leader.
   */
  readonly mustSync: boolean;
}

/** Why the core refused a request. Stable codes, handed to clients as they are. */
export type RaftErrorCode =
  | "not_leader"
  | "entry_too_large"
  | "uncommitted_limit"
  | "leadership_transfer_in_progress"
  | "config_change_pending"
  | "invalid_config_change"
  | "invalid_transfer_target";

/** A typed refusal instead of an exception from deep inside. */
export interface RaftError {
  readonly ok: false;
  readonly code: RaftErrorCode;
  readonly message: string;
  /** The leader this node knows of, so a caller can redirect. */
  readonly leaderId: NodeId | null;
}

/** Where a proposal landed in the log. It is committed once an entry with this index and term applies. */
export interface ProposalAccepted {
  readonly ok: true;
  readonly index: number;
  readonly term: number;
}

/** The answer to a proposal. */
export type ProposeResult = ProposalAccepted | RaftError;
