/**
 * Safety checkers that watch every node during a simulation: election safety, log matching,
 * leader completeness, state-machine safety (through a hash chain over applied entries), and
 * committed entries never changing. The first violation stops the run.
 */

import type { Entry, HardState, NodeId, RaftNode } from "../../src/raft/index.js";
import type { PeerMessage } from "../../src/transport/peer-message.js";

/** What a checker may ask of a node's disk. */
export interface DurableView {
  /** The hard state on disk. */
  readonly hardState: () => HardState;
  /** The term of the entry at `index` on disk (or folded into the snapshot on disk). */
  readonly termOnDisk: (index: number) => number | undefined;
}

/** Thrown when an invariant of Raft or of the client history does not hold. */
export class SimViolation extends Error {
  override name = "SimViolation";
  constructor(
    readonly property: string,
    message: string,
  ) {
    super(`${property}: ${message}`);
  }
}

const decoder = new TextDecoder();

/** A readable identity of an entry: its term, type and data. */
export function fingerprint(entry: Entry): string {
  return `${entry.term}|${entry.type}|${decoder.decode(entry.data)}`;
}

/** Watches nodes and throws SimViolation on the first broken invariant. */
export class SafetyChecker {
  /** The leader of each term, as nodes announce it. */
  private readonly leaders = new Map<number, NodeId>();
  /** Fingerprints of entries some node knew to be committed, by index. */
  private readonly committed: (string | undefined)[] = [];
  private maxCommitted = 0;
  /** The state-machine hash after applying each index, as the first node to apply it computed it. */
  private readonly appliedHash: (number | undefined)[] = [];
  /** Applied entries' fingerprints, by index (for the no-lost-write check). */
  readonly appliedEntries: (string | undefined)[] = [];
  /** The vote each node made durable in each term, as "node@term" -> candidate. */
  private readonly durableVotes = new Map<string, NodeId>();
  /** The last hard state each node made durable. */
  private readonly durableHardStates = new Map<NodeId, HardState>();
  /** Counters for the run summary. */
  readonly stats = {
    durableAckChecks: 0,
    hardStateChecks: 0,
    leaderChecks: 0,
    commitChecks: 0,
    applyChecks: 0,
    logMatchingChecks: 0,
    snapshotChecks: 0,
  };

  /**
   * Durable hard state: a node's term and commit never go back, and it never votes for two
   * candidates in one term (Figure 2's votedFor), across crashes and restarts.
   */
  onHardStatePersisted(nodeId: NodeId, hardState: HardState): void {
    this.stats.hardStateChecks++;
    const previous = this.durableHardStates.get(nodeId);
    if (previous !== undefined && (hardState.term < previous.term || hardState.commit < previous.commit)) {
      throw new SimViolation(
        "durable state",
        `${nodeId} persisted term ${hardState.term} commit ${hardState.commit} after term ${previous.term} commit ${previous.commit}`,
      );
    }
    this.durableHardStates.set(nodeId, hardState);
    if (hardState.vote === null) return;
    const key = `${nodeId}@${hardState.term}`;
    const earlier = this.durableVotes.get(key);
    if (earlier !== undefined && earlier !== hardState.vote) {
      throw new SimViolation(
        "one vote per term",
        `${nodeId} voted for ${earlier} and then for ${hardState.vote} in term ${hardState.term}`,
      );
    }
    this.durableVotes.set(key, hardState.vote);
  }

  /**
   * Acknowledged means durable (Figure 2: persistent state is updated on stable storage before
   * responding to RPCs): an append acknowledgement covers only entries on the sender's disk, and
   * a granted vote is on its disk before the candidate hears of it.
   */
  onMessageSent(message: PeerMessage, disk: DurableView): void {
    this.stats.durableAckChecks++;
    if (message.type === "append_resp" && !message.reject && message.index > 0) {
      const term = disk.termOnDisk(message.index);
      if (term === undefined) {
        throw new SimViolation(
          "acknowledged means durable",
          `${message.from} acknowledged index ${message.index} before it was on disk`,
        );
      }
    }
    if (message.type === "vote_resp" && !message.reject) {
      const durable = disk.hardState();
      if (durable.term !== message.term || durable.vote !== message.to) {
        throw new SimViolation(
          "acknowledged means durable",
          `${message.from} granted its vote to ${message.to} in term ${message.term} before persisting it`,
        );
      }
    }
  }

  /** Election safety: at most one leader per term. Leader completeness: it holds every committed entry. */
  onBecameLeader(node: RaftNode): void {
    const existing = this.leaders.get(node.term);
    if (existing !== undefined && existing !== node.id) {
      throw new SimViolation(
        "election safety",
        `term ${node.term} has two leaders: ${existing} and ${node.id}`,
      );
    }
    this.leaders.set(node.term, node.id);
    this.stats.leaderChecks++;
    const log = node.log;
    if (this.maxCommitted > log.lastIndex()) {
      throw new SimViolation(
        "leader completeness",
        `${node.id} leads term ${node.term} with last index ${log.lastIndex()} but ${this.maxCommitted} is committed`,
      );
    }
    for (let index = log.firstIndex(); index <= this.maxCommitted; index++) {
      const expected = this.committed[index];
      const entry = log.entry(index);
      if (expected !== undefined && (entry === undefined || fingerprint(entry) !== expected)) {
        throw new SimViolation(
          "leader completeness",
          `${node.id} leads term ${node.term} without committed entry ${index} (${expected}); it has ${entry === undefined ? "nothing" : fingerprint(entry)}`,
        );
      }
    }
  }

  /** Committed entries never change: records what `node` now knows to be committed and compares. */
  onCommitAdvanced(node: RaftNode, previousCommit: number): void {
    const log = node.log;
    const from = Math.max(previousCommit, log.baseIndex) + 1;
    for (let index = from; index <= log.committed; index++) {
      const entry = log.entry(index);
      if (entry === undefined) continue;
      const print = fingerprint(entry);
      const known = this.committed[index];
      this.stats.commitChecks++;
      if (known === undefined) this.committed[index] = print;
      else if (known !== print) {
        throw new SimViolation(
          "committed entries never change",
          `${node.id} has ${print} committed at ${index}, another node had ${known}`,
        );
      }
    }
    if (log.committed > this.maxCommitted) this.maxCommitted = log.committed;
  }

  /** State-machine safety: every node applies the same entry at each index (and so reaches the same hash). */
  onApplied(nodeId: NodeId, entry: Entry, hashAfter: number): void {
    this.stats.applyChecks++;
    const known = this.appliedHash[entry.index];
    if (known === undefined) {
      this.appliedHash[entry.index] = hashAfter;
      this.appliedEntries[entry.index] = fingerprint(entry);
    } else if (known !== hashAfter) {
      throw new SimViolation(
        "state machine safety",
        `${nodeId} applied ${fingerprint(entry)} at ${entry.index}, diverging from ${this.appliedEntries[entry.index]}`,
      );
    }
  }

  /** A snapshot installed from the leader must carry the state every node had at its index. */
  onSnapshotInstalled(nodeId: NodeId, index: number, hash: number): void {
    this.stats.snapshotChecks++;
    const known = this.appliedHash[index];
    if (known === undefined) this.appliedHash[index] = hash;
    else if (known !== hash) {
      throw new SimViolation(
        "state machine safety",
        `${nodeId} installed a snapshot at ${index} with a different state`,
      );
    }
  }

  /** Log matching: if two logs agree on the term at an index, they agree on every entry up to it. */
  checkLogMatching(nodes: readonly RaftNode[]): void {
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) this.checkPair(nodes[i]!, nodes[j]!);
    }
  }

  private checkPair(a: RaftNode, b: RaftNode): void {
    this.stats.logMatchingChecks++;
    const low = Math.max(a.log.firstIndex(), b.log.firstIndex());
    let high = Math.min(a.log.lastIndex(), b.log.lastIndex());
    while (high >= low && a.log.term(high) !== b.log.term(high)) high--;
    for (let index = low; index <= high; index++) {
      const x = a.log.entry(index)!;
      const y = b.log.entry(index)!;
      if (x.term !== y.term || x.type !== y.type || !sameBytes(x.data, y.data)) {
        throw new SimViolation(
          "log matching",
          `${a.id} and ${b.id} agree at ${high} but differ at ${index}: ${fingerprint(x)} vs ${fingerprint(y)}`,
        );
      }
    }
  }

  /** The highest index any node knew to be committed. */
  get highestCommitted(): number {
    return this.maxCommitted;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
