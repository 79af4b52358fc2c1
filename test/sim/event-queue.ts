/** A deterministic timer queue for simulated time: earliest first, ties in insertion order. */

interface Event {
  readonly time: number;
  readonly seq: number;
  readonly run: () => void;
}

/** A binary min-heap of events keyed by (time, insertion sequence). */
export class EventQueue {
  private heap: Event[] = [];
  private seq = 0;
  /** Current simulated time in milliseconds. */
  now = 0;

  /** Schedules `run` at `delayMs` from now (never in the past). */
  after(delayMs: number, run: () => void): void {
    this.push({ time: this.now + Math.max(0, delayMs), seq: this.seq++, run });
  }

  /** Number of scheduled events. */
  get size(): number {
    return this.heap.length;
  }

  /** Runs the earliest event; returns false when none is due at or before `untilMs`. */
  runNext(untilMs: number): boolean {
    const top = this.heap[0];
    if (top === undefined || top.time > untilMs) return false;
    this.pop();
    this.now = top.time;
    top.run();
    return true;
  }

  private less(a: Event, b: Event): boolean {
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }

  private push(event: Event): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && this.less(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && this.less(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === i) break;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  }
}
