/** The in-memory replicated log: a compacted prefix, retained entries, and the stable/commit/apply marks. */

import { assert } from "./assert.js";
import type { Entry, EntryType } from "./types.js";

/** Bytes per slab of entry data. */
const SLAB_BYTES = 1 << 20;
/** Data larger than this gets an array of its own rather than a share of a slab. */
const OWN_ARRAY_ABOVE = SLAB_BYTES / 4;
const EMPTY = new Uint8Array(0);
const TYPES: readonly EntryType[] = ["normal", "config"];
/** Entries most recently pushed, kept as the objects first handed out (a power of two). */
const RECENT = 8192;

/**
 * The retained entries, stored by column rather than as objects: terms, types and where each
 * entry's data lies, in typed arrays, and the data itself copied into 1 MiB slabs. A log of
 * 200,000 entries kept as objects was 600,000 heap objects and 200,000 array buffers, which every
 * major garbage collection had to walk and the sweeper to free (pauses of 100 ms and more on a
 * busy node); stored like this it is a handful of arrays whatever its length. An Entry object is
 * made when one is asked for, its data a view into a slab.
 *
 * The most recent entries are handed out as the same objects each time (the store persisting an
 * entry and the kernel applying it then see one object: the envelope decoded for the first is
 * kept for the second, by its bytes, instead of being parsed and checked again).
 *
 * Bytes once written into a slab never change: a truncated entry's bytes stay where they are
 * (views handed out earlier, to the store or to a message being sent, stay valid), and a slab is
 * only let go, never reused, once compaction has passed every entry in it.
 */
class EntryColumns {
  private capacity = 0;
  /** Array position of the first retained entry; the arrays are shifted down now and then. */
  private head = 0;
  count = 0;
  private terms = new Float64Array(0);
  private types = new Uint8Array(0);
  /** Slab number of each entry's data (-1 for empty data). */
  private slabOf = new Int32Array(0);
  private offsets = new Int32Array(0);
  private lengths = new Int32Array(0);
  /** Slabs still referenced, oldest first; slab number n is slabs[n - firstSlab]. */
  private slabs: Uint8Array[] = [];
  /** The highest index ever written into each slab. */
  private slabLast: number[] = [];
  private firstSlab = 0;
  /** The shared slab being filled (-1: none yet), and where in it the next entry's data goes. */
  private fillSlab = -1;
  private fill = 0;
  /** The objects of recent entries, by index modulo RECENT. */
  private readonly recent = new Array<Entry | undefined>(RECENT);

  term(at: number): number {
    return this.terms[this.head + at]!;
  }

  type(at: number): EntryType {
    return TYPES[this.types[this.head + at]!]!;
  }

  dataLength(at: number): number {
    return this.lengths[this.head + at]!;
  }

  /** The entry at position `at` (0 is the first retained one, `index` its index), as an object. */
  entry(at: number, index: number): Entry {
    const p = this.head + at;
    const cached = this.recent[index & (RECENT - 1)];
    // Same index and term: the same entry (a cut-off one at this index had another term).
    if (cached !== undefined && cached.index === index && cached.term === this.terms[p]) return cached;
    return this.make(p, index);
  }

  private make(p: number, index: number): Entry {
    const slab = this.slabOf[p]!;
    const offset = this.offsets[p]!;
    return {
      index,
      term: this.terms[p]!,
      type: TYPES[this.types[p]!]!,
      data: slab < 0 ? EMPTY : this.slabs[slab - this.firstSlab]!.subarray(offset, offset + this.lengths[p]!),
    };
  }

  /** Adds `entry` after the last retained one, copying its data. */
  push(entry: Entry): void {
    if (this.head + this.count === this.capacity) this.makeRoom();
    const p = this.head + this.count;
    this.terms[p] = entry.term;
    this.types[p] = entry.type === "config" ? 1 : 0;
    const length = entry.data.length;
    this.lengths[p] = length;
    if (length === 0) {
      this.slabOf[p] = -1;
      this.offsets[p] = 0;
    } else if (length > OWN_ARRAY_ABOVE) {
      this.slabs.push(entry.data.slice());
      this.slabLast.push(entry.index);
      this.slabOf[p] = this.firstSlab + this.slabs.length - 1;
      this.offsets[p] = 0;
    } else {
      if (this.fillSlab < 0 || this.fill + length > SLAB_BYTES) {
        this.slabs.push(new Uint8Array(SLAB_BYTES));
        this.slabLast.push(entry.index);
        this.fillSlab = this.firstSlab + this.slabs.length - 1;
        this.fill = 0;
      }
      const at = this.fillSlab - this.firstSlab;
      this.slabs[at]!.set(entry.data, this.fill);
      if (entry.index > this.slabLast[at]!) this.slabLast[at] = entry.index;
      this.slabOf[p] = this.fillSlab;
      this.offsets[p] = this.fill;
      this.fill += length;
    }
    this.count++;
    this.recent[entry.index & (RECENT - 1)] = this.make(p, entry.index);
  }

  /** Keeps the first `kept` entries (their data stays where it is). */
  truncate(kept: number): void {
    if (kept < this.count) this.count = kept;
  }

  /**
   * Drops the first `dropped` entries, and lets go of the slabs whose entries were all at or
   * below `base` (no retained entry can point into one: its index would be at most `base`).
   */
  dropFirst(dropped: number, base: number): void {
    this.head += dropped;
    this.count -= dropped;
    while (this.slabs.length > 0 && this.slabLast[0]! <= base && this.firstSlab !== this.fillSlab) {
      this.slabs.shift();
      this.slabLast.shift();
      this.firstSlab++;
    }
    if (this.count === 0) this.head = 0;
  }

  /** Drops everything (a snapshot replaced the log). */
  clear(): void {
    this.head = 0;
    this.count = 0;
    this.firstSlab += this.slabs.length;
    this.slabs = [];
    this.slabLast = [];
    this.fillSlab = -1;
    this.fill = 0;
    this.recent.fill(undefined);
  }

  /** Shifts the entries to the front when much of the arrays is spent, else doubles them. */
  private makeRoom(): void {
    if (this.head > 0 && this.head >= this.capacity / 2) {
      const end = this.head + this.count;
      for (const column of [this.terms, this.types, this.slabOf, this.offsets, this.lengths])
        column.copyWithin(0, this.head, end);
      this.head = 0;
      return;
    }
    const capacity = Math.max(1024, this.capacity * 2);
    const grow = <T extends Float64Array | Uint8Array | Int32Array>(from: T, make: (n: number) => T): T => {
      const to = make(capacity);
      to.set(from.subarray(this.head, this.head + this.count));
      return to;
    };
    this.terms = grow(this.terms, (n) => new Float64Array(n));
    this.types = grow(this.types, (n) => new Uint8Array(n));
    this.slabOf = grow(this.slabOf, (n) => new Int32Array(n));
    this.offsets = grow(this.offsets, (n) => new Int32Array(n));
    this.lengths = grow(this.lengths, (n) => new Int32Array(n));
    this.head = 0;
    this.capacity = capacity;
  }
}

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
  private readonly entries = new EntryColumns();
  /** Highest index known to be on stable storage. */
  stabled: number;
  /** Highest index known to be committed. */
  committed: number;
  /** Highest index handed to the application (in a Ready that was advanced). */
  applied: number;

  constructor(baseIndex: number, baseTerm: number, entries: Entry[], committed: number, applied: number) {
    this.baseIndex = baseIndex;
    this.baseTerm = baseTerm;
    for (let i = 0; i < entries.length; i++) {
      assert(entries[i]!.index === baseIndex + 1 + i, "restored entries are not contiguous");
      this.entries.push(entries[i]!);
    }
    this.stabled = baseIndex + entries.length;
    this.committed = committed;
    this.applied = applied;
    this.checkInvariants();
  }

  /** The index of the first retained entry (baseIndex + 1, even when the log is empty). */
  firstIndex(): number {
    return this.baseIndex + 1;
  }

  /** The index of the last entry, or baseIndex when none are retained. */
  lastIndex(): number {
    return this.baseIndex + this.entries.count;
  }

  /** The term of the last entry (or of the snapshot). */
  lastTerm(): number {
    const count = this.entries.count;
    return count === 0 ? this.baseTerm : this.entries.term(count - 1);
  }

  /** The term at `index`, or undefined if it is compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.baseIndex) return this.baseTerm;
    if (index < this.baseIndex || index > this.lastIndex()) return undefined;
    return this.entries.term(index - this.baseIndex - 1);
  }

  /** The entry at `index`, or undefined when it is not retained. */
  entry(index: number): Entry | undefined {
    if (index <= this.baseIndex || index > this.lastIndex()) return undefined;
    return this.entries.entry(index - this.baseIndex - 1, index);
  }

  /** The type of the entry at `index`, which must be retained. */
  typeAt(index: number): Entry["type"] {
    assert(index > this.baseIndex && index <= this.lastIndex(), () => `no entry ${index} retained`);
    return this.entries.type(index - this.baseIndex - 1);
  }

  /** The length of the data of the entry at `index`, or 0 when it is not retained. */
  dataLength(index: number): number {
    if (index <= this.baseIndex || index > this.lastIndex()) return 0;
    return this.entries.dataLength(index - this.baseIndex - 1);
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
    const first = low - this.baseIndex - 1;
    for (let index = low; index < end; index++) {
      bytes += this.entries.dataLength(index - this.baseIndex - 1);
      if (count > 0 && bytes > maxBytes) break;
      count++;
    }
    return this.materialize(first, count);
  }

  /** `count` entries from position `first`, as objects, in an array made at its final size. */
  private materialize(first: number, count: number): Entry[] {
    const out = new Array<Entry>(count);
    for (let i = 0; i < count; i++) out[i] = this.entries.entry(first + i, this.baseIndex + 1 + first + i);
    return out;
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
    this.entries.truncate(index - this.baseIndex - 1);
    if (this.stabled >= index) this.stabled = index - 1;
  }

  /** Entries not yet handed out for persisting. */
  unstableEntries(): Entry[] {
    if (this.stabled >= this.lastIndex()) return [];
    const first = this.stabled - this.baseIndex;
    return this.materialize(first, this.entries.count - first);
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
    this.entries.dropFirst(index - this.baseIndex, index);
    this.baseIndex = index;
    this.baseTerm = term;
    this.checkInvariants();
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  restoreSnapshot(index: number, term: number): void {
    this.entries.clear();
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
