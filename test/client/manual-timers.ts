/**
 * Timers driven by hand: nothing fires until a test advances the clock, so tests of beats,
 * timeouts and backoff never sleep and never race.
 */

import type { Timers } from "../../src/client/index.js";

/** One pending timer. */
export interface PendingTimer {
  readonly id: number;
  readonly delayMs: number;
  readonly atMs: number;
}

interface Entry extends PendingTimer {
  readonly callback: () => void;
}

/** A clock that moves only when told to. */
export class ManualTimers implements Timers {
  /** Invariant: never decreases. */
  nowMs = 0;
  private nextId = 1;
  private readonly entries: Entry[] = [];
  private readonly watchers: {
    match: (timer: PendingTimer) => boolean;
    resolve: (timer: PendingTimer) => void;
  }[] = [];

  setTimeout(callback: () => void, delayMs: number): unknown {
    const entry: Entry = { id: this.nextId++, delayMs, atMs: this.nowMs + delayMs, callback };
    this.entries.push(entry);
    for (const watcher of [...this.watchers]) {
      if (!watcher.match(entry)) continue;
      this.watchers.splice(this.watchers.indexOf(watcher), 1);
      watcher.resolve(entry);
    }
    return entry.id;
  }

  clearTimeout(handle: unknown): void {
    const at = this.entries.findIndex((entry) => entry.id === handle);
    if (at >= 0) this.entries.splice(at, 1);
  }

  /** The timers not yet fired or cleared, earliest first. */
  pending(): readonly PendingTimer[] {
    return [...this.entries].sort((a, b) => a.atMs - b.atMs);
  }

  /** A timer that matches, as soon as one is pending (now, or when it is set). */
  waitForTimer(match: (timer: PendingTimer) => boolean): Promise<PendingTimer> {
    const found = this.pending().find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => this.watchers.push({ match, resolve }));
  }

  /** Moves the clock `ms` ahead, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const untilMs = this.nowMs + ms;
    for (let fired = 0; fired < 10_000; fired++) {
      const next = this.pending()[0];
      if (next === undefined || next.atMs > untilMs) break;
      this.clearTimeout(next.id);
      this.nowMs = next.atMs;
      (next as Entry).callback();
    }
    this.nowMs = untilMs;
  }

  /** Fires the timer with `id` now, whatever its time. */
  fire(id: number): void {
    const entry = this.entries.find((candidate) => candidate.id === id);
    if (entry === undefined) throw new Error(`no pending timer ${id}`);
    this.clearTimeout(id);
    this.nowMs = Math.max(this.nowMs, entry.atMs);
    entry.callback();
  }
}
