// A clock whose time moves only when a test says so: timers run in due order when advance() passes
// their time, so waits on TTLs, max-ages and backoffs take no real time and never race.

import type { TimerHandle } from "../../src/transport/timers.js";
import type { DiscoveryClock } from "../../src/discovery/index.js";

interface PendingTimer {
  readonly handle: TimerHandle;
  readonly dueAt: number;
  readonly sequence: number;
  readonly callback: () => void;
}

/** A DiscoveryClock driven by the test. */
export class ManualClock implements DiscoveryClock {
  private time: number;
  private sequence = 0;
  private readonly timers = new Map<TimerHandle, PendingTimer>();

  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const handle = {};
    this.timers.set(handle, {
      handle,
      dueAt: this.time + Math.max(0, delayMs),
      sequence: this.sequence++,
      callback,
    });
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle);
  }

  /** The delays from now of the timers not yet run, shortest first. */
  pendingDelays(): number[] {
    return [...this.timers.values()].map((timer) => timer.dueAt - this.time).sort((a, b) => a - b);
  }

  /** Moves time forward by `delayMs`, running every timer that falls due on the way, in order. */
  advance(delayMs: number): void {
    const target = this.time + delayMs;
    for (let ran = 0; ran < 100_000; ran++) {
      const next = [...this.timers.values()]
        .filter((timer) => timer.dueAt <= target)
        .sort((a, b) => a.dueAt - b.dueAt || a.sequence - b.sequence)[0];
      if (next === undefined) break;
      this.timers.delete(next.handle);
      this.time = next.dueAt;
      next.callback();
    }
    this.time = target;
  }
}
