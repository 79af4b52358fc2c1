/**
 * The bounded queue of encoded messages waiting for one peer's connection.
 *
 * Raft tolerates lost messages (it retries on its own ticks) but not a node that runs out of
 * memory because one peer is down, so the queue is bounded by message count and by bytes. When a
 * new message does not fit, the oldest ordinary messages make room: newer heartbeats and appends
 * supersede older ones. Snapshot chunks are never evicted for them, because a lost chunk restarts
 * the transfer from that offset and snapshots are the expensive thing to resend; if the room can
 * only come from snapshot chunks, the new message is dropped instead. Every drop is counted.
 */

/** One queued message: its encoded bytes and the order it was queued in. */
interface QueuedMessage {
  readonly bytes: Uint8Array;
  readonly sequence: number;
}

/** What happened to a message offered to the queue. */
export interface EnqueueResult {
  /** Whether the offered message is now queued. */
  readonly accepted: boolean;
  /** Older messages removed to make room for it. */
  readonly evictedMessages: number;
  readonly evictedBytes: number;
}

/**
 * Two FIFOs (snapshot chunks and everything else) whose items carry a sequence number, so the
 * oldest ordinary message can be evicted in O(1) while batches still leave in queue order.
 *
 * Invariants: messages <= maxMessages, bytes <= maxBytes, bytes === the sum of queued lengths.
 */
export class SendQueue {
  private readonly ordinary = new Fifo<QueuedMessage>();
  private readonly snapshots = new Fifo<QueuedMessage>();
  private ordinaryBytes = 0;
  private snapshotBytes = 0;
  private nextSequence = 0;

  constructor(
    readonly maxMessages: number,
    readonly maxBytes: number,
  ) {
    if (!(Number.isSafeInteger(maxMessages) && maxMessages >= 1))
      throw new RangeError("maxMessages must be >= 1");
    if (!(Number.isSafeInteger(maxBytes) && maxBytes >= 1)) throw new RangeError("maxBytes must be >= 1");
  }

  /** Messages queued. */
  get messages(): number {
    return this.ordinary.length + this.snapshots.length;
  }

  /** Encoded bytes queued. */
  get bytes(): number {
    return this.ordinaryBytes + this.snapshotBytes;
  }

  /** Offers a message; it is queued unless the room for it could only come from snapshot chunks. */
  push(bytes: Uint8Array, isSnapshot: boolean): EnqueueResult {
    const size = bytes.length;
    const fitsBesideSnapshots =
      this.snapshots.length + 1 <= this.maxMessages && this.snapshotBytes + size <= this.maxBytes;
    if (!fitsBesideSnapshots) return { accepted: false, evictedMessages: 0, evictedBytes: 0 };
    let evictedMessages = 0;
    let evictedBytes = 0;
    while (this.messages + 1 > this.maxMessages || this.bytes + size > this.maxBytes) {
      const oldest = this.ordinary.shift()!;
      this.ordinaryBytes -= oldest.bytes.length;
      evictedMessages++;
      evictedBytes += oldest.bytes.length;
    }
    const item = { bytes, sequence: this.nextSequence++ };
    if (isSnapshot) {
      this.snapshots.push(item);
      this.snapshotBytes += size;
    } else {
      this.ordinary.push(item);
      this.ordinaryBytes += size;
    }
    return { accepted: true, evictedMessages, evictedBytes };
  }

  /**
   * Removes and returns the oldest messages, in queue order, up to `maxCount` messages and
   * `maxBytes` bytes, but always at least one when the queue is not empty.
   */
  takeBatch(maxCount: number, maxBytes: number): Uint8Array[] {
    const batch: Uint8Array[] = [];
    let bytes = 0;
    while (batch.length < maxCount) {
      const ordinary = this.ordinary.peek();
      const snapshot = this.snapshots.peek();
      const fromSnapshots =
        snapshot !== undefined && (ordinary === undefined || snapshot.sequence < ordinary.sequence);
      const next = fromSnapshots ? snapshot : ordinary;
      if (next === undefined) break;
      if (batch.length > 0 && bytes + next.bytes.length > maxBytes) break;
      if (fromSnapshots) {
        this.snapshots.shift();
        this.snapshotBytes -= next.bytes.length;
      } else {
        this.ordinary.shift();
        this.ordinaryBytes -= next.bytes.length;
      }
      batch.push(next.bytes);
      bytes += next.bytes.length;
    }
    return batch;
  }

  /** Empties the queue and returns how many messages were in it. */
  clear(): number {
    const messages = this.messages;
    this.ordinary.clear();
    this.snapshots.clear();
    this.ordinaryBytes = 0;
    this.snapshotBytes = 0;
    return messages;
  }
}

/** A FIFO with O(1) amortised shift: an array and a read position, compacted when half is consumed. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
