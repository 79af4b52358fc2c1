/**
 * RowArena: rows as bytes in large off-heap slabs. Keeping a million rows as JavaScript objects
 * makes every major garbage collection walk and move them: pauses of hundreds of milliseconds on
 * a state of that size. Bytes in an ArrayBuffer are neither walked nor moved, so the collector's
 * work stays small however many rows the state holds.
 *
 * A row is stored as [u32 length][u32 key length][key bytes][value bytes], 8-byte aligned, and
 * known by a reference that fits a small integer: (slab * SLAB_BYTES + offset) / 8. A row larger
 * than a slab gets an array of its own (a negative reference). Space freed by replaced and
 * deleted rows is reclaimed by moving the live rows out of mostly empty slabs, a few at a time.
 */

import { assert } from "../raft/assert.js";

/** Bytes per slab. */
export const SLAB_BYTES = 1 << 20;
const HEADER_BYTES = 8;
/** A slab whose live bytes fall below this share is emptied, its rows moved to the current slab. */
const RECLAIM_BELOW = 0.25;
/** Empty slabs kept allocated for reuse. */
const KEPT_SPARE_SLABS = 4;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
/** Rows moved per change at most, so reclaiming never holds up an apply. */
const MOVES_PER_CHANGE = 8;

interface Slab {
  bytes: Uint8Array;
  /** Bytes of rows still referenced. */
  live: number;
  /** Where the next row goes (only the current slab grows). */
  end: number;
}

/** What the arena asks of the table that owns its rows, when it moves one. */
export interface ArenaOwner {
  /** The reference `key` points at now, if any. */
  refOf(key: Uint8Array): number | undefined;
  /** `key`'s row now lives at `ref`. */
  repoint(key: Uint8Array, ref: number): void;
}

/** Off-heap storage of encoded rows. */
export class RowArena {
  private readonly slabs: Slab[] = [];
  private readonly spare: number[] = [];
  private readonly large: (Uint8Array | undefined)[] = [];
  private readonly freeLarge: number[] = [];
  private current = -1;
  /** Slabs being emptied, and where in each the scan has got to. */
  private readonly reclaiming: { slab: number; offset: number }[] = [];

  constructor(private readonly owner: ArenaOwner) {}

  /** Stores a row; returns its reference. */
  put(key: Uint8Array, value: Uint8Array): number {
    const length = HEADER_BYTES + key.length + value.length;
    if (length > SLAB_BYTES) return this.putLarge(key, value);
    const slabIndex = this.slabWithRoom(length);
    const slab = this.slabs[slabIndex]!;
    const offset = slab.end;
    writeRecord(slab.bytes, offset, key, value);
    return this.placed(slabIndex, offset, length);
  }

  /**
   * Stores a row given as text (its key's and its value's), encoded as UTF-8 straight into the
   * slab: no bytes are made on the way, as encode-then-put makes two arrays per row.
   */
  putText(key: string, value: string): number {
    // UTF-8 takes at most three bytes per UTF-16 unit: room for that much, then the row's own length.
    const most = HEADER_BYTES + 3 * (key.length + value.length);
    if (most > SLAB_BYTES) return this.put(encoder.encode(key), encoder.encode(value));
    const slabIndex = this.slabWithRoom(most);
    const slab = this.slabs[slabIndex]!;
    const offset = slab.end;
    const bytes = slab.bytes;
    const keyStart = offset + HEADER_BYTES;
    const keyLength = encoder.encodeInto(key, bytes.subarray(keyStart, keyStart + 3 * key.length)).written;
    const valueStart = keyStart + keyLength;
    const valueLength = encoder.encodeInto(value, bytes.subarray(valueStart, offset + most)).written;
    const length = HEADER_BYTES + keyLength + valueLength;
    writeHeader(bytes, offset, length, keyLength);
    return this.placed(slabIndex, offset, length);
  }

  /** A row of `length` bytes was written at `offset` in the slab: the slab takes it; its reference. */
  private placed(slabIndex: number, offset: number, length: number): number {
    const slab = this.slabs[slabIndex]!;
    slab.end = align(offset + length);
    slab.live += length;
    return (slabIndex * SLAB_BYTES + offset) / 8;
  }

  /** The key and value bytes of a row (views into the arena: copy them to keep them). */
  read(ref: number): { key: Uint8Array; value: Uint8Array } {
    const { bytes, offset } = this.locate(ref);
    const length = readU32(bytes, offset);
    const keyLength = readU32(bytes, offset + 4);
    const keyStart = offset + HEADER_BYTES;
    return {
      key: bytes.subarray(keyStart, keyStart + keyLength),
      value: bytes.subarray(keyStart + keyLength, offset + length),
    };
  }

  /** Forgets a row; its space is reclaimed later. Then moves a few rows out of emptying slabs. */
  free(ref: number): void {
    this.release(ref);
    this.reclaimSome();
  }

  private release(ref: number): void {
    if (ref < 0) {
      this.large[-ref - 1] = undefined;
      this.freeLarge.push(-ref - 1);
      return;
    }
    const slabIndex = Math.floor((ref * 8) / SLAB_BYTES);
    const slab = this.slabs[slabIndex]!;
    const offset = ref * 8 - slabIndex * SLAB_BYTES;
    slab.live -= readU32(slab.bytes, offset);
    assert(slab.live >= 0, "an arena slab freed more than it held");
    if (slabIndex !== this.current && slab.live < SLAB_BYTES * RECLAIM_BELOW && !this.isReclaiming(slabIndex))
      this.reclaiming.push({ slab: slabIndex, offset: 0 });
  }

  /** Bytes held in slabs (live or not yet reclaimed) and in large rows. */
  get heldBytes(): number {
    let bytes = 0;
    for (const slab of this.slabs) bytes += slab.bytes.length;
    for (const row of this.large) bytes += row?.length ?? 0;
    return bytes;
  }

  private slabWithRoom(length: number): number {
    const current = this.slabs[this.current];
    if (current !== undefined && current.end + length <= SLAB_BYTES) return this.current;
    const reused = this.spare.pop();
    if (reused !== undefined) {
      const slab = this.slabs[reused]!;
      if (slab.bytes.length === 0) slab.bytes = new Uint8Array(SLAB_BYTES);
      this.current = reused;
      return reused;
    }
    this.slabs.push({ bytes: new Uint8Array(SLAB_BYTES), live: 0, end: 0 });
    this.current = this.slabs.length - 1;
    return this.current;
  }

  private putLarge(key: Uint8Array, value: Uint8Array): number {
    const bytes = new Uint8Array(HEADER_BYTES + key.length + value.length);
    writeRecord(bytes, 0, key, value);
    const at = this.freeLarge.pop() ?? this.large.length;
    this.large[at] = bytes;
    return -(at + 1);
  }

  private locate(ref: number): { bytes: Uint8Array; offset: number } {
    if (ref < 0) {
      const bytes = this.large[-ref - 1];
      assert(bytes !== undefined, "a freed large row was read");
      return { bytes, offset: 0 };
    }
    const slabIndex = Math.floor((ref * 8) / SLAB_BYTES);
    return { bytes: this.slabs[slabIndex]!.bytes, offset: ref * 8 - slabIndex * SLAB_BYTES };
  }

  private isReclaiming(slab: number): boolean {
    return this.reclaiming.some((job) => job.slab === slab);
  }

  /** Moves up to MOVES_PER_CHANGE rows out of the slab being emptied; a slab left empty is reused. */
  private reclaimSome(): void {
    let moves = MOVES_PER_CHANGE;
    while (moves > 0 && this.reclaiming.length > 0) {
      const job = this.reclaiming[0]!;
      const slab = this.slabs[job.slab]!;
      if (slab.live === 0 || job.offset >= slab.end) {
        this.reclaiming.shift();
        if (slab.live === 0) {
          slab.end = 0;
          // A few empty slabs are kept for reuse; the memory of the others goes back.
          if (this.spare.length >= KEPT_SPARE_SLABS) slab.bytes = EMPTY;
          this.spare.push(job.slab);
        }
        continue;
      }
      const length = readU32(slab.bytes, job.offset);
      const ref = (job.slab * SLAB_BYTES + job.offset) / 8;
      const keyLength = readU32(slab.bytes, job.offset + 4);
      const keyStart = job.offset + HEADER_BYTES;
      const key = slab.bytes.subarray(keyStart, keyStart + keyLength);
      if (this.owner.refOf(key) === ref) {
        // Still current: copy it into the current slab (never this one) and re-point its key.
        const value = slab.bytes.subarray(keyStart + keyLength, job.offset + length);
        const moved = this.put(key.slice(), value.slice());
        this.owner.repoint(key, moved);
        this.release(ref);
        moves--;
      }
      job.offset = align(job.offset + length);
    }
  }
}

function writeRecord(bytes: Uint8Array, offset: number, key: Uint8Array, value: Uint8Array): void {
  writeHeader(bytes, offset, HEADER_BYTES + key.length + value.length, key.length);
  bytes.set(key, offset + HEADER_BYTES);
  bytes.set(value, offset + HEADER_BYTES + key.length);
}

/** A row's header: its whole length, then its key's. */
function writeHeader(bytes: Uint8Array, offset: number, length: number, keyLength: number): void {
  writeU32(bytes, offset, length);
  writeU32(bytes, offset + 4, keyLength);
}

function align(offset: number): number {
  return (offset + 7) & ~7;
}

function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value & 0xff;
  bytes[offset + 1] = (value >>> 8) & 0xff;
  bytes[offset + 2] = (value >>> 16) & 0xff;
  bytes[offset + 3] = (value >>> 24) & 0xff;
}

function readU32(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>>
    0
  );
}
