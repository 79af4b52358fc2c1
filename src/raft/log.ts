/** The in-memory replicated log: a compacted prefix, retained entries, and the stable/commit/apply marks. */

import { assert } from "./assert.js";
import type { Entry } from "./types.js";

/**
 * Holds entries after `baseIndex` (the last compacted index) in memory. The caller keeps a
 * durable copy; this structure knows which suffix has not been handed out for persisting yet.
 *
 * Invariant: baseIndex <= applied <= committed <= lastIndex().
 * Invariant: baseIndex <= stabled <= lastIndex().
 */
export class RaftLog {
  /** Index of the last entry folded into the snapshot (0 when nothing is compacted). */
  baseIndex: number;
  /** Term of the entry at baseIndex. */
  baseTerm: number;
  /** Entries baseIndex+1 .. lastIndex(), in order. */
  private entries: Entry[];
  /** Highest index known to be on stable storage. */
  stabled: number;
  /** Highest index known to be committed. */
  committed: number;
  /** Highest index handed to the application (in a Ready that was advanced). */
  applied: number;

  constructor(baseIndex: number, baseTerm: number, entries: Entry[], committed: number, applied: number) {
    this.baseIndex = baseIndex;
    this.baseTerm = baseTerm;
    this.entries = entries;
    this.stabled = baseIndex + entries.length;
    this.committed = committed;
    this.applied = applied;
    for (let i = 0; i < entries.length; i++) {
      assert(entries[i]!.index === baseIndex + 1 + i, "restored entries are not contiguous");
    }
    this.checkInvariants();
  }

  /** The index of the first retained entry (baseIndex + 1, even when the log is empty). */
  firstIndex(): number {
    return this.baseIndex + 1;
  }

  /** The index of the last entry, or baseIndex when none are retained. */
  lastIndex(): number {
    return this.baseIndex + this.entries.length;
  }

  /** The term of the last entry (or of the snapshot). */
  lastTerm(): number {
    const last = this.entries[this.entries.length - 1];
    return last === undefined ? this.baseTerm : last.term;
  }

  /** The term at `index`, or undefined if it is compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.baseIndex) return this.baseTerm;
    if (index < this.baseIndex) return undefined;
    return this.entries[index - this.baseIndex - 1]?.term;
  }

  /** The entry at `index`, or undefined when it is not retained. */
  entry(index: number): Entry | undefined {
    if (index <= this.baseIndex) return undefined;
    return this.entries[index - this.baseIndex - 1];
  }

  /** Whether the log holds an entry at `index` with `term` (the AppendEntries consistency check). */
  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Whether a candidate's last entry (term, index) is at least as up to date as ours (5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries in [low, high) whose encoded data adds up to at most `maxBytes`, always at least one
   * when any are available, so a single large entry still makes progress.
   */
  slice(low: number, high: number, maxBytes: number): Entry[] {
    assert(low > this.baseIndex, () => `slice(${low}) reaches into the compacted log at ${this.baseIndex}`);
    const end = Math.min(high, this.lastIndex() + 1);
    let count = 0;
    let bytes = 0;
    for (let index = low; index < end; index++) {
      const entry = this.entries[index - this.baseIndex - 1]!;
      bytes += entry.data.length;
      if (count > 0 && bytes > maxBytes) break;
      count++;
    }
    // One copy of exactly the right size: pushing entry by entry regrows the array several times,
    // which on the replication path cost about three times the result's size in garbage.
    const first = low - this.baseIndex - 1;
    return this.entries.slice(first, first + count);
  }

  /** Appends entries that directly follow the last one (the leader's own proposals). */
  append(entry: Entry): void {
    assert(entry.index === this.lastIndex() + 1, "append leaves a gap");
    assert(entry.term >= this.lastTerm(), "append goes back in term");
    this.entries.push(entry);
  }

  /**
   * Appends a leader's entries after the matching prefix at `prevIndex`, cutting off our own
   * conflicting suffix. Returns the index of the last entry the leader sent, which now matches.
   */
  appendAfter(prevIndex: number, incoming: readonly Entry[]): number {
    let i = 0;
    while (i < incoming.length) {
      const entry = incoming[i]!;
      const ours = this.term(entry.index);
      if (ours === undefined && entry.index <= this.baseIndex) {
        // Already folded into our snapshot, hence committed and identical.
        i++;
        continue;
      }
      if (ours !== entry.term) break;
      i++;
    }
    if (i < incoming.length) {
      const first = incoming[i]!;
      assert(
        first.index > this.committed,
        () => `conflict at ${first.index} would overwrite committed index ${this.committed}`,
      );
      this.truncateFrom(first.index);
      for (; i < incoming.length; i++) this.append(incoming[i]!);
    }
    return prevIndex + incoming.length;
  }

  /** Drops entries at and after `index`. */
  truncateFrom(index: number): void {
    assert(index > this.committed, "truncating committed entries");
    assert(index > this.baseIndex, "truncating compacted entries");
    // Every follower append passes through here, almost always with nothing to cut: assigning an
    // unchanged length still goes through the slow length setter, so only assign when it shrinks.
    const kept = index - this.baseIndex - 1;
    if (kept < this.entries.length) this.entries.length = kept;
    if (this.stabled >= index) this.stabled = index - 1;
  }

  /** Entries not yet handed out for persisting. */
  unstableEntries(): Entry[] {
    if (this.stabled >= this.lastIndex()) return [];
    return this.entries.slice(this.stabled - this.baseIndex);
  }

  /** Marks entries up to `index` durable, if the entry there still has `term`. */
  stableTo(index: number, term: number): void {
    if (index > this.stabled && this.term(index) === term) this.stabled = index;
  }

  /** Raises the commit mark; it never goes down. */
  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex(), () => `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  /** Committed entries not yet handed to the application, bounded by `maxBytes` (at least one). */
  nextCommitted(maxBytes: number): Entry[] {
    if (this.applied >= this.committed) return [];
    return this.slice(this.applied + 1, this.committed + 1, maxBytes);
  }

  /** Records that entries up to `index` were handed to the application. */
  appliedTo(index: number): void {
    assert(index <= this.committed, () => `applied ${index} beyond commit ${this.committed}`);
    if (index > this.applied) this.applied = index;
  }

  /** Folds entries up to `index` into a snapshot the caller has taken. */
  compactTo(index: number): void {
    if (index <= this.baseIndex) return;
    assert(index <= this.applied, "compacting entries that are not applied");
    assert(index <= this.stabled, "compacting entries that are not persisted");
    const term = this.term(index);
    assert(term !== undefined, "compaction point not in the log");
    this.entries.splice(0, index - this.baseIndex);
    this.baseIndex = index;
    this.baseTerm = term;
    this.checkInvariants();
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  restoreSnapshot(index: number, term: number): void {
    this.entries = [];
    this.baseIndex = index;
    this.baseTerm = term;
    this.committed = index;
    this.applied = index;
    this.stabled = index;
  }

  /**
   * The largest index at or below `index` whose term is at most `term`, or the base index.
   * Used on both sides of the fast log back-off.
   */
  findConflictByTerm(index: number, term: number): number {
    let at = Math.min(index, this.lastIndex());
    while (at > this.baseIndex) {
      const t = this.term(at);
      if (t !== undefined && t <= term) break;
      at--;
    }
    return at;
  }

  /** Asserts the ordering of the marks. */
  checkInvariants(): void {
    assert(
      this.baseIndex <= this.applied && this.applied <= this.committed && this.committed <= this.lastIndex(),
      () =>
        `log marks out of order: base ${this.baseIndex} applied ${this.applied} committed ${this.committed} last ${this.lastIndex()}`,
    );
    assert(this.stabled >= this.baseIndex && this.stabled <= this.lastIndex(), "stable mark out of range");
  }
}
