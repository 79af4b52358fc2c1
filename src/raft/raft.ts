/**
 * The Raft state machine: messages and ticks go in, a Ready (what to persist, send and apply)
 * comes out. Pure and synchronous; the caller does all I/O. Reading starts at `step`.
 */

import { assert } from "./assert.js";
import { RaftLog } from "./log.js";
import {
  EMPTY_MEMBERSHIP,
  applyChange,
  decodeChange,
  encodeChange,
  isMember,
  isVoter,
  quorumSize,
  validateChange,
} from "./membership.js";
import { resolveOptions, type RaftOptions, type ResolvedOptions } from "./options.js";
import { Progress } from "./progress.js";
import type {
  AppendRequest,
  AppendResponse,
  ConfigChange,
  Entry,
  EntryType,
  HardState,
  Heartbeat,
  HeartbeatResponse,
  Membership,
  Message,
  NodeId,
  ProposeResult,
  RaftError,
  RaftErrorCode,
  ReadFailure,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SnapshotChunk,
  SnapshotResponse,
  SoftState,
  VoteRequest,
} from "./types.js";

/** What a node restarts from: everything the caller persisted from earlier Readys. */
export interface PersistedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, in order (earlier ones are ignored). */
  readonly entries: readonly Entry[];
  /** The highest index the application has applied (at least the snapshot's index). */
  readonly applied: number;
}

/** How a node starts: from persisted state, as a founding member of a new cluster, or empty to join one. */
export type StartState =
  | { readonly kind: "restart"; readonly state: PersistedState }
  | { readonly kind: "bootstrap"; readonly voters: readonly NodeId[] }
  | { readonly kind: "join" };

/** One follower's replication state, as shown on status pages. */
export interface ProgressStatus {
  readonly id: NodeId;
  readonly voter: boolean;
  readonly match: number;
  readonly next: number;
  readonly state: Progress["state"];
  readonly recentActive: boolean;
  readonly ticksSinceContact: number;
}

/** A node's state at a glance. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leaderId: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly membership: Membership;
  readonly leadTransferee: NodeId | null;
  /** Only on the leader. */
  readonly progress: readonly ProgressStatus[];
}

/** A read waiting for the leader's quorum confirmation. */
interface PendingRead {
  readonly seq: number;
  readonly context: number;
  /** The node that asked: this node for its own clients, or a follower. */
  readonly from: NodeId;
  readonly index: number;
}

/** A snapshot arriving from the leader in chunks. */
interface IncomingSnapshot {
  readonly index: number;
  readonly term: number;
  readonly membership: Membership;
  readonly totalBytes: number;
  /** Allocated whole on the first chunk and filled in place, so no large copy is ever made at the end. */
  readonly bytes: Uint8Array;
  received: number;
}

/** A config entry retained in the log: membership takes effect when the entry is appended. */
interface ConfigPoint {
  readonly entry: Entry;
  readonly membership: Membership;
}

/** What the last Ready handed out, to be acknowledged by advance(). */
interface Outstanding {
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly appliedTo: number;
  readonly hardState: HardState;
  readonly softState: SoftState;
}

const EMPTY_DATA = new Uint8Array(0);

/**
 * One Raft peer.
 *
 * Membership follows the Raft thesis (4.1): one server changes at a time, a configuration takes
 * effect as soon as its entry is in the log (committed or not), a leader proposes the next change
 * only once the previous one is committed and it has committed an entry of its own term.
 *
 * Invariant: at most one leader per term is ever observed by this node.
 * Invariant: term and commit never decrease; applied <= committed <= last index.
 */
export class RaftNode {
  readonly id: NodeId;
  private readonly options: ResolvedOptions;

  term = 0;
  vote: NodeId | null = null;
  role: Role = "follower";
  leaderId: NodeId | null = null;
  /** The leader observed in the current term, kept after it steps down, to assert election safety. */
  private termLeader: NodeId | null = null;
  readonly log: RaftLog;

  /** Membership in force: the latest config entry in the log, else the snapshot's. */
  membership: Membership = EMPTY_MEMBERSHIP;
  /** Membership as of the log's base index. */
  private baseMembership: Membership = EMPTY_MEMBERSHIP;
  /** Config entries after the base index, in log order. */
  private configPoints: ConfigPoint[] = [];
  /** The latest snapshot this node holds (taken locally or received), for lagging followers. */
  private snapshot: Snapshot | null = null;
  private incomingSnapshot: IncomingSnapshot | null = null;

  private progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  leadTransferee: NodeId | null = null;
  /** Index of the leader's first entry of its term (its no-op). */
  private termStartIndex = 0;
  private uncommittedBytes = 0;

  private readSeq = 0;
  private pendingReads: PendingRead[] = [];
  /** Reads that arrived before this leader committed an entry of its term. */
  private readsAwaitingCommit: { context: number; from: NodeId }[] = [];
  private readHeartbeatPending = false;

  private messages: Message[] = [];
  private readStates: ReadState[] = [];
  private readFailures: ReadFailure[] = [];
  private snapshotToPersist: Snapshot | null = null;
  private appendsPending = false;
  private prevHardState: HardState;
  private prevSoftState: SoftState;
  private outstanding: Outstanding | null = null;
  /** Scratch space for quorumMatch, reused so the per-proposal path allocates nothing. */
  private readonly matchScratch: number[] = [];

  constructor(options: RaftOptions, start: StartState) {
    this.options = resolveOptions(options);
    this.id = this.options.id;
    this.prevSoftState = { leaderId: null, role: "follower" };
    switch (start.kind) {
      case "restart": {
        const { hardState, snapshot, entries, applied } = start.state;
        const baseIndex = snapshot?.index ?? 0;
        const kept = entries.filter((entry) => entry.index > baseIndex);
        const commit = Math.max(hardState.commit, baseIndex);
        this.log = new RaftLog(baseIndex, snapshot?.term ?? 0, kept, commit, Math.max(applied, baseIndex));
        this.term = hardState.term;
        this.vote = hardState.vote;
        this.snapshot = snapshot;
        this.baseMembership = snapshot?.membership ?? EMPTY_MEMBERSHIP;
        this.prevHardState = { term: hardState.term, vote: hardState.vote, commit };
        break;
      }
      case "bootstrap": {
        assert(start.voters.includes(this.id), "a bootstrapping node must be one of the voters");
        // The founding membership is a committed entry at index 1, term 1 on every founder, so
        // nodes that join later learn the whole membership history from the log itself.
        const voters = [...new Set(start.voters)].sort();
        const entry: Entry = {
          index: 1,
          term: 1,
          type: "config",
          data: encodeChange({ type: "bootstrap", voters }),
        };
        this.log = new RaftLog(0, 0, [entry], 1, 0);
        this.log.stabled = 0;
        this.term = 1;
        this.prevHardState = { term: 0, vote: null, commit: 0 };
        break;
      }
      case "join":
        this.log = new RaftLog(0, 0, [], 0, 0);
        this.prevHardState = { term: 0, vote: null, commit: 0 };
        break;
    }
    this.rebuildConfigPoints();
    this.resetElectionTimer();
  }

  // ---------------------------------------------------------------- inputs

  /** Advances logical time by one tick. */
  tick(): void {
    this.assertIdle();
    if (this.role === "leader") this.tickLeader();
    else this.tickElection();
  }

  /** Feeds one message from a peer. Stale, misaddressed or unknown-sender messages are dropped. */
  step(m: Message): void {
    this.assertIdle();
    if (m.to !== this.id || m.from === this.id) return;
    if (m.term > this.term) {
      if (!this.stepHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.stepLowerTerm(m);
      return;
    }
    if (m.type === "vote" || m.type === "pre_vote") {
      this.handleVoteRequest(m);
      return;
    }
    if (this.isForeignLeaderMessage(m)) return;
    switch (this.role) {
      case "leader":
        this.stepLeader(m);
        return;
      case "candidate":
      case "pre_candidate":
        this.stepCandidate(m);
        return;
      case "follower":
        this.stepFollower(m);
        return;
    }
  }

  /** Appends `data` to the log if this node leads. The entry is committed once it applies at the returned index and term. */
  propose(data: Uint8Array): ProposeResult {
    this.assertIdle();
    const refusal = this.checkProposal(data.length);
    if (refusal !== null) return refusal;
    return this.appendEntry("normal", data);
  }

  /** Proposes a membership change (add a learner, promote a learner, remove a node). */
  proposeConfigChange(change: ConfigChange): ProposeResult {
    this.assertIdle();
    const data = encodeChange(change);
    const refusal = this.checkProposal(data.length);
    if (refusal !== null) return refusal;
    const invalid = validateChange(this.membership, change);
    if (invalid !== null) return this.error("invalid_config_change", invalid);
    if (!this.canChangeConfig()) {
      return this.error("config_change_pending", "the previous membership change is not committed yet");
    }
    return this.appendEntry("config", data);
  }

  /** Asks for a linearizable read; the answer comes back in a later Ready's readStates or readFailures. */
  readIndex(context: number): void {
    this.assertIdle();
    if (this.role === "leader") {
      this.leaderReadIndex(context, this.id);
    } else if (this.leaderId !== null) {
      this.send({ from: this.id, type: "read_index", to: this.leaderId, term: this.term, context });
    } else {
      this.readFailures.push({ context, reason: "no_leader" });
    }
  }

  /** Hands leadership to `target` once it has caught up (TimeoutNow). */
  transferLeadership(target: NodeId): { ok: true } | RaftError {
    this.assertIdle();
    if (this.role !== "leader") return this.error("not_leader", "only the leader can transfer leadership");
    if (target === this.id) return { ok: true };
    if (!isVoter(this.membership, target)) {
      return this.error("invalid_transfer_target", `node ${target} is not a voter`);
    }
    this.leadTransferee = target;
    this.electionElapsed = 0;
    const pr = this.progress.get(target)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(target);
    else this.appendsPending = true;
    return { ok: true };
  }

  /**
   * Records that the application took a snapshot of its state as of `index` (at most the applied
   * index), and folds the log into it, keeping a tail of recent entries. Returns the new first
   * index of the log: the caller may delete stored entries below it.
   */
  takeSnapshot(index: number, data: Uint8Array): number {
    this.assertIdle();
    assert(index <= this.log.applied, () => `snapshot at ${index} beyond applied ${this.log.applied}`);
    if (this.snapshot !== null && index <= this.snapshot.index) return this.log.firstIndex();
    const term = this.log.term(index);
    assert(term !== undefined, () => `snapshot index ${index} is not in the log`);
    this.snapshot = { index, term, membership: this.membershipAt(index), data };
    const compactTo = Math.max(this.log.baseIndex, index - this.options.snapshotTrailingEntries);
    this.compactLog(compactTo);
    return this.log.firstIndex();
  }

  // ---------------------------------------------------------------- outputs

  /** Whether a Ready has anything in it. */
  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    return (
      this.messages.length > 0 ||
      this.appendsPending ||
      this.readHeartbeatPending ||
      this.log.stabled < this.log.lastIndex() ||
      this.log.committed > this.log.applied ||
      this.snapshotToPersist !== null ||
      this.readStates.length > 0 ||
      this.readFailures.length > 0 ||
      this.hardStateChanged() ||
      this.softStateChanged()
    );
  }

  /** Collects what to persist, send and apply. See the Ready type for the order the caller must follow. */
  ready(): Ready {
    this.assertIdle();
    this.flushSends();
    const hardState = this.hardState();
    const softState: SoftState = { leaderId: this.leaderId, role: this.role };
    const committedEntries = this.log.nextCommitted(this.options.maxCommittedBytesPerReady);
    const lastCommitted = lastOf(committedEntries);
    const ready: Ready = {
      softState: this.softStateChanged() ? softState : null,
      hardState: this.hardStateChanged() ? hardState : null,
      snapshot: this.snapshotToPersist,
      entries: this.log.unstableEntries(),
      ...this.splitMessages(),
      committedEntries,
      readStates: this.readStates,
      readFailures: this.readFailures,
      mustSync:
        this.snapshotToPersist !== null ||
        this.log.stabled < this.log.lastIndex() ||
        hardState.term !== this.prevHardState.term ||
        hardState.vote !== this.prevHardState.vote,
    };
    this.outstanding = {
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      appliedTo: lastCommitted === undefined ? this.log.applied : lastCommitted.index,
      hardState,
      softState,
    };
    this.messages = [];
    this.readStates = [];
    this.readFailures = [];
    this.snapshotToPersist = null;
    return ready;
  }

  /** Acknowledges the last Ready: its entries are durable, its committed entries applied. */
  advance(): void {
    const done = this.outstanding;
    assert(done !== null, "advance() without ready()");
    this.outstanding = null;
    this.log.stableTo(done.lastIndex, done.lastTerm);
    this.log.appliedTo(done.appliedTo);
    this.prevHardState = done.hardState;
    this.prevSoftState = done.softState;
    this.log.checkInvariants();
    // Our own entries count towards a commit from the moment they are durable, and not before.
    const self = this.role === "leader" ? this.progress.get(this.id) : undefined;
    if (
      self !== undefined &&
      this.log.term(done.lastIndex) === done.lastTerm &&
      self.maybeUpdate(done.lastIndex)
    )
      this.maybeCommit();
  }

  /** The node's state at a glance. */
  status(): RaftStatus {
    const progress: ProgressStatus[] = [];
    if (this.role === "leader") {
      for (const [id, pr] of this.progress) {
        progress.push({
          id,
          voter: isVoter(this.membership, id),
          match: pr.match,
          next: pr.next,
          state: pr.state,
          recentActive: pr.recentActive,
          ticksSinceContact: id === this.id ? 0 : pr.ticksSinceContact,
        });
      }
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leaderId: this.leaderId,
      commitIndex: this.log.committed,
      appliedIndex: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      membership: this.membership,
      leadTransferee: this.leadTransferee,
      progress,
    };
  }

  /**
   * Whether the log has grown past the compaction threshold since the last snapshot: the
   * application should then take one at its applied index (takeSnapshot).
   */
  snapshotDue(): boolean {
    const taken = this.snapshot?.index ?? 0;
    return this.log.applied - taken >= this.options.compactionThresholdEntries;
  }

  /** The snapshot this node holds, if any. */
  currentSnapshot(): Snapshot | null {
    return this.snapshot;
  }

  /** The hard state as it is now (for callers that persist it outside Ready). */
  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  // ---------------------------------------------------------------- term handling

  /**
   * A leader's message in our term from a node that is not a member, while we know another
   * leader of the term: it cannot be a legitimate leader, so it is dropped. From a member the
   * same message would mean two leaders in one term, a broken invariant that stops the node.
   */
  private isForeignLeaderMessage(m: Message): boolean {
    if (m.type !== "append" && m.type !== "heartbeat" && m.type !== "snapshot") return false;
    return this.termLeader !== null && this.termLeader !== m.from && !isMember(this.membership, m.from);
  }

  /** A message from a later term. Returns whether to go on processing it. */
  private stepHigherTerm(m: Message): boolean {
    if (m.type === "vote" || m.type === "pre_vote") {
      // Leader lease (check-quorum): while we hear from a leader, nobody else can be elected.
      const inLease =
        this.options.checkQuorum &&
        this.leaderId !== null &&
        this.electionElapsed < this.options.electionTicks;
      if (inLease && !m.transfer) return false;
    }
    // A pre-vote does not raise our term; neither does a granted pre-vote answer, which carries
    // the term the candidate is about to campaign in.
    if (m.type === "pre_vote") return true;
    if (m.type === "pre_vote_resp" && !m.reject) return true;
    const leader = m.type === "append" || m.type === "heartbeat" || m.type === "snapshot" ? m.from : null;
    this.becomeFollower(m.term, leader);
    return true;
  }

  /** A message from an earlier term: answered only where the answer unsticks its sender. */
  private stepLowerTerm(m: Message): void {
    if (
      (this.options.checkQuorum || this.options.preVote) &&
      (m.type === "append" || m.type === "heartbeat")
    ) {
      // A leader cut off by a partition may never see a higher term otherwise; with pre-vote
      // nobody raises terms without winning, so tell it.
      this.send({
        from: this.id,
        type: "append_resp",
        to: m.from,
        term: this.term,
        reject: true,
        index: 0,
        hintIndex: 0,
        hintTerm: 0,
      });
    } else if (m.type === "pre_vote") {
      this.send({ from: this.id, type: "pre_vote_resp", to: m.from, term: this.term, reject: true });
    }
  }

  /** Grants or refuses a vote or pre-vote (5.2, 5.4.1). */
  private handleVoteRequest(m: VoteRequest): void {
    const responseType = m.type === "vote" ? "vote_resp" : "pre_vote_resp";
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.leaderId === null) ||
      (m.type === "pre_vote" && m.term > this.term);
    const upToDate =
      this.options.bugs.voteWithoutLogCheck || this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
    if (canVote && upToDate) {
      this.send({ from: this.id, type: responseType, to: m.from, term: m.term, reject: false });
      if (m.type === "vote") {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ from: this.id, type: responseType, to: m.from, term: this.term, reject: true });
    }
  }

  // ---------------------------------------------------------------- role transitions

  private becomeFollower(term: number, leaderId: NodeId | null): void {
    assert(term >= this.term, "term went backwards");
    const wasLeader = this.role === "leader";
    if (term > this.term) {
      this.term = term;
      this.vote = null;
      this.termLeader = null;
    }
    this.leaderId = null;
    this.role = "follower";
    this.reset();
    if (leaderId !== null) this.observeLeader(leaderId);
    if (wasLeader) this.failPendingReads("not_leader");
  }

  private becomePreCandidate(): void {
    assert(this.role !== "leader", "a leader cannot pre-campaign");
    this.role = "pre_candidate";
    this.leaderId = null;
    this.votes.clear();
    this.electionElapsed = 0;
    this.resetElectionTimer();
  }

  private becomeCandidate(): void {
    assert(this.role !== "leader", "a leader cannot campaign");
    this.term += 1;
    this.vote = this.id;
    this.termLeader = null;
    this.role = "candidate";
    this.leaderId = null;
    this.reset();
  }

  private becomeLeader(): void {
    assert(this.role === "candidate", "only a candidate becomes leader");
    this.role = "leader";
    this.reset();
    this.observeLeader(this.id);
    this.syncProgress(false);
    // Followers answer a probe at our last index; their hints walk us back to where logs agree.
    this.termStartIndex = this.log.lastIndex() + 1;
    this.uncommittedBytes = 0;
    this.appendEntry("normal", EMPTY_DATA);
  }

  /** Clears per-term volatile state. */
  private reset(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetElectionTimer();
    this.votes.clear();
    this.leadTransferee = null;
    this.progress.clear();
    this.readHeartbeatPending = false;
    this.appendsPending = false;
  }

  private resetElectionTimer(): void {
    const base = this.options.electionTicks;
    this.randomizedElectionTimeout = base + this.options.random.int(base);
  }

  /** Records the leader of the current term; two different leaders in one term would be a safety bug. */
  private observeLeader(id: NodeId): void {
    assert(
      this.termLeader === null || this.termLeader === id,
      () => `two leaders in term ${this.term}: ${this.termLeader} and ${id}`,
    );
    this.termLeader = id;
    this.leaderId = id;
  }

  private promotable(): boolean {
    return isVoter(this.membership, this.id);
  }

  // ---------------------------------------------------------------- elections

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign(this.options.preVote ? "pre_vote" : "vote", false);
    }
  }

  /** Starts a pre-vote or a real election (5.2). */
  private campaign(kind: "pre_vote" | "vote", transfer: boolean): void {
    if (!this.promotable()) return;
    let voteTerm: number;
    if (kind === "pre_vote") {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    this.votes.set(this.id, true);
    if (this.tallyVotes() === "won") {
      this.winVote(kind);
      return;
    }
    for (const voter of this.membership.voters) {
      if (voter === this.id) continue;
      this.send({
        from: this.id,
        type: kind,
        to: voter,
        term: voteTerm,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
        transfer,
      });
    }
  }

  private winVote(kind: "pre_vote" | "vote"): void {
    if (kind === "pre_vote") this.campaign("vote", false);
    else this.becomeLeader();
  }

  private tallyVotes(): "won" | "lost" | "pending" {
    let granted = 0;
    let rejected = 0;
    for (const voter of this.membership.voters) {
      const vote = this.votes.get(voter);
      if (vote === true) granted++;
      else if (vote === false) rejected++;
    }
    const quorum = quorumSize(this.membership);
    if (granted >= quorum) return "won";
    if (rejected > this.membership.voters.length - quorum) return "lost";
    return "pending";
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        // A leader of our term exists: follow it and handle its message as a follower would.
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case "vote_resp":
      case "pre_vote_resp": {
        const expected = this.role === "pre_candidate" ? "pre_vote_resp" : "vote_resp";
        if (m.type !== expected || !isVoter(this.membership, m.from)) return;
        // A granted pre-vote carries the term we would campaign in; older grants are stale.
        if (m.type === "pre_vote_resp" && !m.reject && m.term !== this.term + 1) return;
        this.votes.set(m.from, !m.reject);
        const result = this.tallyVotes();
        if (result === "won") this.winVote(this.role === "pre_candidate" ? "pre_vote" : "vote");
        else if (result === "lost") this.becomeFollower(this.term, null);
        return;
      }
      case "read_index":
        this.answerReadFailure(m.context, m.from, "not_leader");
        return;
      case "vote":
      case "pre_vote":
      case "append_resp":
      case "heartbeat_resp":
      case "snapshot_resp":
      case "timeout_now":
      case "read_index_resp":
        return;
    }
  }

  // ---------------------------------------------------------------- follower

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "append":
        this.electionElapsed = 0;
        this.observeLeader(m.from);
        this.handleAppend(m);
        return;
      case "heartbeat":
        this.electionElapsed = 0;
        this.observeLeader(m.from);
        this.handleHeartbeat(m);
        return;
      case "snapshot":
        this.electionElapsed = 0;
        this.observeLeader(m.from);
        this.handleSnapshotChunk(m);
        return;
      case "timeout_now":
        // Leadership transfer: campaign now, skipping pre-vote, and tell voters to ignore their lease.
        // Only our leader may ask: the campaign bypasses every lease, so a TimeoutNow from anyone
        // else (a non-member, another follower) would depose a healthy leader. The leader sends it
        // only after we acknowledged its entries in this term, so we know it as leader.
        if (m.from === this.leaderId && this.promotable()) this.campaign("vote", true);
        return;
      case "read_index_resp":
        if (m.reject) this.readFailures.push({ context: m.context, reason: "not_leader" });
        else this.readStates.push({ context: m.context, index: m.index });
        return;
      case "read_index":
        this.answerReadFailure(m.context, m.from, "not_leader");
        return;
      case "vote":
      case "pre_vote":
      case "vote_resp":
      case "pre_vote_resp":
      case "append_resp":
      case "heartbeat_resp":
      case "snapshot_resp":
        return;
    }
  }

  /** AppendEntries receiver (5.3): consistency check, conflict repair, commit. */
  private handleAppend(m: AppendRequest): void {
    if (m.prevIndex < this.log.committed) {
      this.sendAppendResponse(m.from, false, this.log.committed, 0, 0);
      return;
    }
    if (this.log.matchTerm(m.prevIndex, m.prevTerm)) {
      const lastNew = this.log.appendAfter(m.prevIndex, m.entries);
      this.afterLogChanged(m.entries);
      this.log.commitTo(Math.min(m.commit, lastNew));
      this.sendAppendResponse(m.from, false, lastNew, 0, 0);
      return;
    }
    // Fast back-off: point the leader at our last entry whose term is at most its prevTerm, so
    // it skips every index of a term we do not share in one round trip.
    const hintIndex = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    const hintTerm = this.log.term(hintIndex) ?? 0;
    this.sendAppendResponse(m.from, true, m.prevIndex, hintIndex, hintTerm);
  }

  private sendAppendResponse(
    to: NodeId,
    reject: boolean,
    index: number,
    hintIndex: number,
    hintTerm: number,
  ): void {
    this.send({
      from: this.id,
      type: "append_resp",
      to,
      term: this.term,
      reject,
      index,
      hintIndex,
      hintTerm,
    });
  }

  private handleHeartbeat(m: Heartbeat): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ from: this.id, type: "heartbeat_resp", to: m.from, term: this.term, readSeq: m.readSeq });
  }

  /** InstallSnapshot receiver: gathers chunks in order, resumes where it left off, installs when complete. */
  private handleSnapshotChunk(m: SnapshotChunk): void {
    if (m.index <= this.log.committed) {
      this.incomingSnapshot = null;
      this.sendAppendResponse(m.from, false, this.log.committed, 0, 0);
      return;
    }
    let incoming = this.incomingSnapshot;
    if (incoming === null || incoming.index !== m.index || incoming.term !== m.snapshotTerm) {
      // A snapshot larger than one byte array can hold cannot be taken in: ignore it.
      if (m.totalBytes > MAX_SNAPSHOT_BYTES || m.chunk.length > m.totalBytes) return;
      incoming = {
        index: m.index,
        term: m.snapshotTerm,
        membership: m.membership,
        totalBytes: m.totalBytes,
        bytes: new Uint8Array(m.totalBytes),
        received: 0,
      };
      this.incomingSnapshot = incoming;
    }
    // Chunks are taken strictly in order; anything else only tells the leader where we are.
    const accepted = m.offset === incoming.received && m.offset + m.chunk.length <= incoming.totalBytes;
    if (accepted) {
      incoming.bytes.set(m.chunk, m.offset);
      incoming.received += m.chunk.length;
    }
    if (!accepted || incoming.received < incoming.totalBytes) {
      // Out of order, duplicate or not complete yet: tell the leader how much we hold, so it
      // resumes from there.
      this.send({
        from: this.id,
        type: "snapshot_resp",
        to: m.from,
        term: this.term,
        index: incoming.index,
        received: incoming.received,
      });
      return;
    }
    this.incomingSnapshot = null;
    const snapshot: Snapshot = {
      index: incoming.index,
      term: incoming.term,
      membership: incoming.membership,
      data: incoming.bytes,
    };
    this.installSnapshot(snapshot);
    // Only the snapshot's index is known to match the leader, even if our log goes further.
    this.sendAppendResponse(m.from, false, Math.max(snapshot.index, this.log.committed), 0, 0);
  }

  /** Replaces our log with a leader's snapshot, unless our log already covers it. */
  private installSnapshot(snapshot: Snapshot): void {
    if (snapshot.index <= this.log.committed) return;
    if (this.log.matchTerm(snapshot.index, snapshot.term)) {
      // Our log has the snapshot's last entry, so everything before it matches: just commit.
      this.log.commitTo(snapshot.index);
      return;
    }
    this.log.restoreSnapshot(snapshot.index, snapshot.term);
    this.snapshot = snapshot;
    this.snapshotToPersist = snapshot;
    this.baseMembership = snapshot.membership;
    this.configPoints = [];
    this.setMembership(snapshot.membership);
  }

  // ---------------------------------------------------------------- leader

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    for (const pr of this.progress.values()) pr.ticksSinceContact++;
    if (this.electionElapsed >= this.options.electionTicks) {
      this.electionElapsed = 0;
      if (this.options.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, null);
        return;
      }
      // A transfer that did not finish within an election timeout is abandoned.
      this.leadTransferee = null;
    }
    if (this.heartbeatElapsed >= this.options.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  /** Whether a quorum of voters was heard from since the last check; resets the marks. */
  private quorumActive(): boolean {
    let active = 0;
    for (const voter of this.membership.voters) {
      const pr = this.progress.get(voter);
      if (voter === this.id || pr?.recentActive === true) active++;
    }
    for (const [id, pr] of this.progress) pr.recentActive = id === this.id;
    return active >= quorumSize(this.membership);
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        assert(false, () => `two leaders in term ${this.term}: ${this.id} and ${m.from}`);
        return;
      case "read_index":
        this.leaderReadIndex(m.context, m.from);
        return;
      case "append_resp":
      case "heartbeat_resp":
      case "snapshot_resp": {
        const pr = this.progress.get(m.from);
        if (pr === undefined) return;
        pr.recentActive = true;
        pr.ticksSinceContact = 0;
        if (m.type === "append_resp") this.handleAppendResponse(m, pr);
        else if (m.type === "heartbeat_resp") this.handleHeartbeatResponse(m, pr);
        else this.handleSnapshotResponse(m, pr);
        return;
      }
      case "vote":
      case "pre_vote":
      case "vote_resp":
      case "pre_vote_resp":
      case "timeout_now":
      case "read_index_resp":
        return;
    }
  }

  private handleAppendResponse(m: AppendResponse, pr: Progress): void {
    assert(m.index <= this.log.lastIndex(), () => `${m.from} acknowledged ${m.index} beyond our last index`);
    if (m.reject) {
      const nextProbe = m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm) : m.hintIndex;
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.appendsPending = true;
      }
      return;
    }
    if (pr.maybeUpdate(m.index)) {
      if (pr.state === "probe") pr.becomeReplicate();
      else if (pr.state === "snapshot" && pr.match >= pr.pendingSnapshot) {
        pr.becomeProbe();
        pr.becomeReplicate();
      } else if (pr.state === "replicate") pr.inflights.freeTo(m.index);
      this.maybeCommit();
      if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
    }
    this.appendsPending = true;
  }

  private handleHeartbeatResponse(m: HeartbeatResponse, pr: Progress): void {
    if (pr.state === "snapshot") {
      // Resend the chunk the follower waits for if nothing moved for a whole heartbeat interval.
      if (pr.snapshotStale) this.sendSnapshotChunk(m.from, pr);
      pr.snapshotStale = true;
    } else if (pr.match < this.log.lastIndex()) {
      pr.probeSent = false;
      // Appends sent optimistically in replicate state may all have been lost (say the follower
      // crashed or was cut off); nothing would resend them, whether or not they filled the
      // window. A lagging follower whose match did not move over a whole heartbeat interval is
      // in exactly that state: fall back to probing, which repairs its log or starts a snapshot.
      if (pr.state === "replicate" && pr.match === pr.matchAtLastHeartbeat) pr.becomeProbe();
      pr.matchAtLastHeartbeat = pr.match;
      this.appendsPending = true;
    }
    if (m.readSeq > pr.readSeqAcked) {
      pr.readSeqAcked = m.readSeq;
      this.releaseReads();
    }
  }

  private handleSnapshotResponse(m: SnapshotResponse, pr: Progress): void {
    if (pr.state !== "snapshot" || m.index !== pr.pendingSnapshot) return;
    if (this.snapshot === null || this.snapshot.index !== pr.pendingSnapshot) {
      // We took a newer snapshot meanwhile: start over with it.
      pr.becomeProbe();
      this.appendsPending = true;
      return;
    }
    const received = Math.min(m.received, this.snapshot.data.length);
    if (received > pr.snapshotOffset) pr.snapshotStale = false;
    pr.snapshotOffset = received;
    if (pr.snapshotOffset < this.snapshot.data.length) this.sendSnapshotChunk(m.from, pr);
  }

  /** Advances the commit index to the highest index a quorum holds, if it is from our term (5.4.2). */
  private maybeCommit(): void {
    const voters = this.membership.voters;
    if (voters.length === 0) return;
    const quorumIndex = this.quorumMatch(voters);
    if (quorumIndex <= this.log.committed) return;
    if (!this.options.bugs.commitOldTermByCount && this.log.term(quorumIndex) !== this.term) return;
    const before = this.log.committed;
    this.log.commitTo(quorumIndex);
    this.afterLeaderCommit(before);
  }

  /**
   * The highest index a quorum of `voters` holds: the quorum-th largest match. This runs on every
   * proposal, so it sorts into reused scratch space (an insertion sort, voter sets being small)
   * instead of allocating a mapped and sorted array each time.
   */
  private quorumMatch(voters: readonly NodeId[]): number {
    const matches = this.matchScratch;
    for (let count = 0; count < voters.length; count++) {
      const match = this.progress.get(voters[count]!)?.match ?? 0;
      let at = count;
      while (at > 0 && matches[at - 1]! < match) {
        matches[at] = matches[at - 1]!;
        at--;
      }
      matches[at] = match;
    }
    // Slots past voters.length hold stale values from a larger membership; the quorum never reaches them.
    return matches[quorumSize(this.membership) - 1]!;
  }

  private afterLeaderCommit(before: number): void {
    this.appendsPending = true;
    for (let index = Math.max(before + 1, this.termStartIndex); index <= this.log.committed; index++) {
      this.uncommittedBytes -= this.log.dataLength(index);
    }
    if (this.uncommittedBytes < 0) this.uncommittedBytes = 0;
    if (before < this.termStartIndex && this.log.committed >= this.termStartIndex) {
      const waiting = this.readsAwaitingCommit;
      this.readsAwaitingCommit = [];
      for (const read of waiting) this.leaderReadIndex(read.context, read.from);
    }
    if (!isVoter(this.membership, this.id) && this.lastConfigIndex() <= this.log.committed) {
      this.stepDownAfterRemoval();
    }
  }

  /** The leader's own removal is committed: hand over to the most caught-up voter and step down. */
  private stepDownAfterRemoval(): void {
    let best: NodeId | null = null;
    let bestMatch = -1;
    for (const voter of this.membership.voters) {
      const match = this.progress.get(voter)?.match ?? 0;
      if (match > bestMatch) {
        best = voter;
        bestMatch = match;
      }
    }
    if (best !== null && bestMatch === this.log.lastIndex()) {
      this.flushSends();
      this.sendTimeoutNow(best);
    }
    this.becomeFollower(this.term, null);
  }

  private checkProposal(bytes: number): RaftError | null {
    if (this.role !== "leader") return this.error("not_leader", "this node is not the leader");
    if (this.leadTransferee !== null) {
      return this.error("leadership_transfer_in_progress", "leadership is being transferred");
    }
    if (bytes > this.options.maxEntryBytes) {
      return this.error(
        "entry_too_large",
        `entry of ${bytes} bytes exceeds the limit of ${this.options.maxEntryBytes}`,
      );
    }
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.options.maxUncommittedBytes) {
      return this.error("uncommitted_limit", "too many uncommitted bytes; retry once the cluster catches up");
    }
    return null;
  }

  private appendEntry(type: EntryType, data: Uint8Array): ProposeResult {
    assert(this.role === "leader", "only a leader appends its own entries");
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, type, data };
    this.log.append(entry);
    this.uncommittedBytes += data.length;
    if (type === "config") this.afterLogChanged([entry]);
    this.appendsPending = true;
    // The leader's own match moves only when advance() says the entry is durable (Raft thesis
    // 10.2.1): its appends may leave before its own write, and an entry on the leader's page
    // cache alone must never count towards a commit. A config entry can change the quorum.
    if (type === "config") this.maybeCommit();
    return { ok: true, index: entry.index, term: entry.term };
  }

  private canChangeConfig(): boolean {
    return this.log.committed >= this.termStartIndex && this.lastConfigIndex() <= this.log.committed;
  }

  /** Sends whatever each follower is owed: new entries, or a commit index it has not seen. */
  private flushSends(): void {
    if (this.readHeartbeatPending) {
      this.readHeartbeatPending = false;
      if (this.role === "leader") this.broadcastHeartbeat();
    }
    if (!this.appendsPending) return;
    this.appendsPending = false;
    if (this.role !== "leader") return;
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      while (this.maybeSendAppend(id, pr)) {
        // Keep filling the pipeline until it is full or the follower has everything.
      }
    }
  }

  /** Sends one AppendEntries (or starts a snapshot) to `to` if it is owed one; returns whether it sent. */
  private maybeSendAppend(to: NodeId, pr: Progress): boolean {
    if (pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) {
      this.startSnapshot(to, pr);
      return false;
    }
    const lastIndex = this.log.lastIndex();
    const entries =
      pr.next <= lastIndex ? this.log.slice(pr.next, lastIndex + 1, this.options.maxMessageBytes) : [];
    const needsProbe = pr.state === "probe" && pr.match < prevIndex;
    if (entries.length === 0 && pr.sentCommit >= this.log.committed && !needsProbe) return false;
    const commit = this.log.committed;
    this.send({ from: this.id, type: "append", to, term: this.term, prevIndex, prevTerm, entries, commit });
    pr.sentCommit = commit;
    const last = lastOf(entries);
    if (pr.state === "replicate") {
      if (last !== undefined) {
        let bytes = 0;
        for (const entry of entries) bytes += entry.data.length;
        pr.next = last.index + 1;
        pr.inflights.add(last.index, bytes);
      }
      return last !== undefined;
    }
    pr.probeSent = true;
    return false;
  }

  private startSnapshot(to: NodeId, pr: Progress): void {
    const snapshot = this.snapshot;
    assert(snapshot !== null, "the log is compacted but there is no snapshot");
    pr.becomeSnapshot(snapshot.index);
    this.sendSnapshotChunk(to, pr);
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const snapshot = this.snapshot;
    if (snapshot === null || snapshot.index !== pr.pendingSnapshot) {
      pr.becomeProbe();
      this.appendsPending = true;
      return;
    }
    const offset = pr.snapshotOffset;
    const chunk = snapshot.data.subarray(offset, offset + this.options.snapshotChunkBytes);
    this.send({
      from: this.id,
      type: "snapshot",
      to,
      term: this.term,
      index: snapshot.index,
      snapshotTerm: snapshot.term,
      membership: snapshot.membership,
      totalBytes: snapshot.data.length,
      offset,
      chunk,
    });
  }

  private broadcastHeartbeat(): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send({
        from: this.id,
        type: "heartbeat",
        to: id,
        term: this.term,
        commit: Math.min(pr.match, this.log.committed),
        readSeq: this.readSeq,
      });
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ from: this.id, type: "timeout_now", to, term: this.term });
  }

  // ---------------------------------------------------------------- ReadIndex

  /** Registers a read at the current commit index, released once a quorum confirms our leadership. */
  private leaderReadIndex(context: number, from: NodeId): void {
    if (this.options.bugs.readWithoutQuorum) {
      this.answerRead({ seq: 0, context, from, index: this.log.committed });
      return;
    }
    if (this.pendingReads.length + this.readsAwaitingCommit.length >= this.options.maxPendingReads) {
      this.answerReadFailure(context, from, "dropped");
      return;
    }
    // A new leader's commit index may lag what was committed before it; wait for its own entry.
    if (this.log.committed < this.termStartIndex) {
      this.readsAwaitingCommit.push({ context, from });
      return;
    }
    if (this.membership.voters.length === 1 && isVoter(this.membership, this.id)) {
      this.answerRead({ seq: 0, context, from, index: this.log.committed });
      return;
    }
    this.readSeq++;
    this.pendingReads.push({ seq: this.readSeq, context, from, index: this.log.committed });
    this.readHeartbeatPending = true;
  }

  /** Releases reads whose heartbeat round a quorum has answered. */
  private releaseReads(): void {
    const acked = this.membership.voters.map((id) =>
      id === this.id ? this.readSeq : (this.progress.get(id)?.readSeqAcked ?? 0),
    );
    acked.sort((a, b) => b - a);
    const confirmed = acked[quorumSize(this.membership) - 1] ?? 0;
    let released = 0;
    while (released < this.pendingReads.length && this.pendingReads[released]!.seq <= confirmed) {
      this.answerRead(this.pendingReads[released]!);
      released++;
    }
    if (released > 0) this.pendingReads.splice(0, released);
  }

  private answerRead(read: PendingRead): void {
    if (read.from === this.id) this.readStates.push({ context: read.context, index: read.index });
    else {
      this.send({
        from: this.id,
        type: "read_index_resp",
        to: read.from,
        term: this.term,
        context: read.context,
        index: read.index,
        reject: false,
      });
    }
  }

  private answerReadFailure(context: number, from: NodeId, reason: ReadFailure["reason"]): void {
    if (from === this.id) this.readFailures.push({ context, reason });
    else
      this.send({
        from: this.id,
        type: "read_index_resp",
        to: from,
        term: this.term,
        context,
        index: 0,
        reject: true,
      });
  }

  private failPendingReads(reason: ReadFailure["reason"]): void {
    for (const read of this.pendingReads) this.answerReadFailure(read.context, read.from, reason);
    for (const read of this.readsAwaitingCommit) this.answerReadFailure(read.context, read.from, reason);
    this.pendingReads = [];
    this.readsAwaitingCommit = [];
  }

  // ---------------------------------------------------------------- membership

  /** Recomputes membership from the log after entries were appended or cut off. */
  private afterLogChanged(appended: readonly Entry[]): void {
    let changed = false;
    // Config entries cut off by a conflicting append no longer count.
    while (this.configPoints.length > 0) {
      const last = this.configPoints[this.configPoints.length - 1]!;
      // Entries with the same index and term are the same entry (Log Matching).
      if (this.log.term(last.entry.index) === last.entry.term) break;
      this.configPoints.pop();
      changed = true;
    }
    const lastConfig = this.lastConfigIndex();
    for (const entry of appended) {
      if (entry.type !== "config" || entry.index <= lastConfig || this.log.term(entry.index) !== entry.term)
        continue;
      const previous = this.configPoints[this.configPoints.length - 1]?.membership ?? this.baseMembership;
      this.configPoints.push({ entry, membership: applyChange(previous, decodeChange(entry.data)) });
      changed = true;
    }
    if (changed) {
      this.setMembership(this.configPoints[this.configPoints.length - 1]?.membership ?? this.baseMembership);
    }
  }

  private rebuildConfigPoints(): void {
    this.configPoints = [];
    let membership = this.baseMembership;
    for (let index = this.log.firstIndex(); index <= this.log.lastIndex(); index++) {
      if (this.log.typeAt(index) !== "config") continue;
      const entry = this.log.entry(index)!;
      membership = applyChange(membership, decodeChange(entry.data));
      this.configPoints.push({ entry, membership });
    }
    this.setMembership(membership);
  }

  private lastConfigIndex(): number {
    return lastOf(this.configPoints)?.entry.index ?? this.log.baseIndex;
  }

  /**
   * The membership in force at `index` (at least the log's base index): with `index` the commit
   * index, the membership no leader can undo.
   */
  membershipAt(index: number): Membership {
    let membership = this.baseMembership;
    for (const point of this.configPoints) {
      if (point.entry.index > index) break;
      membership = point.membership;
    }
    return membership;
  }

  private setMembership(membership: Membership): void {
    this.membership = membership;
    if (this.role === "leader") this.syncProgress(true);
    if (this.leadTransferee !== null && !isVoter(membership, this.leadTransferee)) this.leadTransferee = null;
  }

  /**
   * Gives every member a progress entry and drops those of removed nodes. Members added while we
   * lead count as recently active, so a new node does not cost us check-quorum before it answers.
   */
  private syncProgress(newMembersActive: boolean): void {
    const members = [...this.membership.voters, ...this.membership.learners];
    for (const id of members) {
      if (this.progress.has(id)) continue;
      const pr = new Progress(
        this.log.lastIndex() + 1,
        this.options.maxInflightMessages,
        this.options.maxInflightBytes,
      );
      pr.recentActive = newMembersActive || id === this.id;
      if (id === this.id) {
        // Only what is on our disk counts; the rest joins once advance() says it is durable.
        pr.match = Math.min(this.log.stabled, this.log.lastIndex());
        pr.becomeReplicate();
      }
      this.progress.set(id, pr);
    }
    for (const id of [...this.progress.keys()]) {
      if (!isMember(this.membership, id) && id !== this.id) this.progress.delete(id);
    }
    // The leader tracks itself even while being removed, so its own appends advance its match.
    if (!this.progress.has(this.id)) {
      const self = new Progress(
        this.log.lastIndex() + 1,
        this.options.maxInflightMessages,
        this.options.maxInflightBytes,
      );
      self.match = Math.min(this.log.stabled, this.log.lastIndex());
      this.progress.set(this.id, self);
    }
  }

  private compactLog(index: number): void {
    if (index <= this.log.baseIndex) return;
    this.baseMembership = this.membershipAt(index);
    this.configPoints = this.configPoints.filter((point) => point.entry.index > index);
    this.log.compactTo(index);
  }

  // ---------------------------------------------------------------- helpers

  /**
   * Queues a message. Callers build it whole, `from` included: copying it with a spread to stamp
   * the sender on made every message a slow object and cost a quarter of the time per message.
   */
  private send(message: Message): void {
    assert(message.from === this.id, "a node sends only its own messages");
    this.messages.push(message);
  }

  /**
   * Orders this Ready's messages so that those a leader may send before its writes are durable
   * come first (appends, heartbeats and snapshot chunks: they promise nothing about our disk, and
   * our own entries count towards a commit only once durable), and says how many there are.
   */
  private splitMessages(): { messages: Message[]; early: number } {
    if (this.role !== "leader" || this.messages.length === 0) return { messages: this.messages, early: 0 };
    const early: Message[] = [];
    const late: Message[] = [];
    for (const message of this.messages) {
      const mayPrecede =
        message.type === "append" || message.type === "heartbeat" || message.type === "snapshot";
      (mayPrecede ? early : late).push(message);
    }
    return { messages: late.length === 0 ? early : [...early, ...late], early: early.length };
  }

  private error(code: RaftErrorCode, message: string): RaftError {
    return { ok: false, code, message, leaderId: this.leaderId };
  }

  private hardStateChanged(): boolean {
    const prev = this.prevHardState;
    return prev.term !== this.term || prev.vote !== this.vote || prev.commit !== this.log.committed;
  }

  private softStateChanged(): boolean {
    return this.prevSoftState.leaderId !== this.leaderId || this.prevSoftState.role !== this.role;
  }

  private assertIdle(): void {
    assert(this.outstanding === null, "step, tick, propose and read must wait for advance()");
  }
}

/**
 * The last element, or undefined when there is none. Hot paths use it on arrays that are often
 * empty: reading `items[-1]` is not an element access but a named-property lookup up the
 * prototype chain, several times slower.
 */
function lastOf<T>(items: readonly T[]): T | undefined {
  return items.length > 0 ? items[items.length - 1] : undefined;
}

/** The largest snapshot a node accepts: what one byte array can hold. */
const MAX_SNAPSHOT_BYTES = 2 ** 32 - 1;
