/** Shared pieces of the health tests: timers the test fires by hand, and ready-made signals. */

import type { TimerHandle, Timers } from "../../../src/transport/timers.js";
import type { BeatLoad, CheckResult } from "../../../src/agents/health/index.js";

/** A scheduled callback of ManualTimers. */
export interface ManualTimer {
  readonly callback: () => void;
  readonly delayMs: number;
  cancelled: boolean;
  ran: boolean;
}

/** Timers that never fire by themselves: the test runs each callback when it chooses. */
export class ManualTimers implements Timers {
  readonly scheduled: ManualTimer[] = [];

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer: ManualTimer = { callback, delayMs, cancelled: false, ran: false };
    this.scheduled.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as ManualTimer).cancelled = true;
  }

  /** The callbacks still waiting, optionally only those with the given delay. */
  pending(delayMs?: number): ManualTimer[] {
    return this.scheduled.filter(
      (timer) => !timer.cancelled && !timer.ran && (delayMs === undefined || timer.delayMs === delayMs),
    );
  }

  /** Runs every waiting callback with the given delay (those they schedule wait for the next call). */
  fire(delayMs: number): number {
    const due = this.pending(delayMs);
    for (const timer of due) {
      timer.ran = true;
      timer.callback();
    }
    return due.length;
  }
}

/** A beat from an idle agent. */
export const IDLE: BeatLoad = { activeTasks: 0, capacity: 4 };

/** A passing check. */
export const PASS: CheckResult = { ok: true, latencyMs: 4, slow: false, detail: "HTTP 200" };
/** A failing check. */
export const FAIL: CheckResult = { ok: false, latencyMs: 4, slow: false, detail: "HTTP 500" };
/** A check that passed, slowly. */
export const SLOW: CheckResult = { ok: true, latencyMs: 3_000, slow: true, detail: "HTTP 200" };
/** A check whose answer says the agent is overloaded. */
export const BUSY: CheckResult = {
  ok: true,
  latencyMs: 4,
  slow: false,
  overloaded: true,
  detail: "HTTP 429",
};

/** Waits until `condition` holds, polling each event-loop turn (no fixed sleeps), up to `turns` turns. */
export async function eventually(condition: () => boolean, what: string, turns = 10_000): Promise<void> {
  for (let turn = 0; turn < turns; turn += 1) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`timed out waiting for ${what}`);
}
