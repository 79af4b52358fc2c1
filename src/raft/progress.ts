/** The leader's view of each follower: how far it matches, what is in flight, how to send next. */

import { assert } from "./assert.js";

/**
 * A bounded window of in-flight AppendEntries, by count and by bytes. Each slot remembers the
 * last index a message carried; an acknowledgement frees every slot at or below its index.
 */
export class Inflights {
  private readonly lastIndexes: number[];
  private readonly sizes: number[];
  private start = 0;
  /** Messages in flight. */
  count = 0;
  /** Bytes in flight. */
  bytes = 0;

  constructor(
    readonly maxCount: number,
    readonly maxBytes: number,
  ) {
    assert(maxCount > 0, "inflight window must hold at least one message");
    this.lastIndexes = new Array<number>(maxCount).fill(0);
    this.sizes = new Array<number>(maxCount).fill(0);
  }

  /** Whether another message may be sent. */
  full(): boolean {
    return this.count >= this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  /** Records a message carrying entries up to `lastIndex` with `size` bytes of data. */
  add(lastIndex: number, size: number): void {
    assert(this.count < this.maxCount, "inflight window overflow");
    const slot = (this.start + this.count) % this.maxCount;
    this.lastIndexes[slot] = lastIndex;
    this.sizes[slot] = size;
    this.count++;
    this.bytes += size;
  }

  /** Frees every message whose last index is at or below `index`. */
  freeTo(index: number): void {
    while (this.count > 0 && this.lastIndexes[this.start]! <= index) {
      this.bytes -= this.sizes[this.start]!;
      this.start = (this.start + 1) % this.maxCount;
      this.count--;
    }
    if (this.count === 0) {
      this.start = 0;
      this.bytes = 0;
    }
  }

  /** Forgets everything in flight (on a state change). */
  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytes = 0;
  }
}

/** How the leader sends to a follower: one probe at a time, a pipeline, or a snapshot. */
export type ProgressState = "probe" | "replicate" | "snapshot";

/**
 * Replication progress of one follower (or learner).
 *
 * Invariant: match < next.
 */
export class Progress {
  /** Highest index known to be replicated on the follower. */
  match = 0;
  /** Next index to send. */
  next: number;
  state: ProgressState = "probe";
  /** In probe state: a probe is out, wait for its answer (or a heartbeat answer). */
  probeSent = false;
  /** In snapshot state: the snapshot index being sent, and how many bytes the follower holds. */
  pendingSnapshot = 0;
  snapshotOffset = 0;
  /** In snapshot state: no chunk was acknowledged since the last heartbeat answer. */
  snapshotStale = false;
  /** Match as of the previous heartbeat answer: a lagging follower whose match stops moving is stuck. */
  matchAtLastHeartbeat = 0;
  /** Whether the follower was heard from in the current check-quorum period. */
  recentActive = false;
  /** The commit index last sent to it, so a commit advance can be forwarded without new entries. */
  sentCommit = 0;
  /** Highest read sequence the follower echoed in this term (ReadIndex confirmation). */
  readSeqAcked = 0;
  /** Ticks since the last message from the follower, for status pages. */
  ticksSinceContact = 0;
  readonly inflights: Inflights;

  constructor(next: number, maxInflightCount: number, maxInflightBytes: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflightCount, maxInflightBytes);
  }

  /** Starts probing from match + 1. */
  becomeProbe(): void {
    if (this.state === "snapshot") {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
    } else {
      this.next = this.match + 1;
    }
    this.state = "probe";
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotOffset = 0;
    this.inflights.reset();
  }

  /** Starts pipelining from match + 1. */
  becomeReplicate(): void {
    this.state = "replicate";
    this.next = this.match + 1;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  /** Starts sending the snapshot at `index`. */
  becomeSnapshot(index: number): void {
    this.state = "snapshot";
    this.pendingSnapshot = index;
    this.snapshotOffset = 0;
    this.probeSent = false;
    this.inflights.reset();
  }

  /** Whether nothing more should be sent right now. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  /** Records a successful append up to `index`; returns whether it told us anything new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * Handles a rejected append of `rejected` (its prevIndex). `hint` is where to probe next.
   * Returns false when the rejection is stale (already superseded) and must be ignored.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === "replicate") {
      // A rejection at or below match is a duplicate or reordered old message.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe state only the answer to the outstanding probe (next - 1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }
}
