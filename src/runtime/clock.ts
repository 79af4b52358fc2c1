/**
 * Time and turn scheduling for the node, injected: the production clock is Node's timers and
 * setImmediate; the simulator's is its event queue, so the very same loop runs under simulated
 * time. Nothing in src/runtime reads Date.now() or sets a timer except through a Clock.
 */

import { NODE_TIMERS, type TimerHandle, type Timers } from "../transport/timers.js";

export type { TimerHandle } from "../transport/timers.js";

/** What the node needs of time: the transport's timers, a wall clock and end-of-turn scheduling. */
export interface Clock extends Timers {
  /** Wall-clock milliseconds since the epoch (a leader stamps it into the entries it writes). */
  now(): number;
  /** Calls `run` after the current event-loop turn: everything that arrived in the turn is handled together. */
  defer(run: () => void): void;
}

/** Node's clock: Date.now, timers that do not keep the process alive, setImmediate. */
export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (run, delayMs): TimerHandle => NODE_TIMERS.setTimeout(run, delayMs),
  clearTimeout: (handle) => NODE_TIMERS.clearTimeout(handle),
  defer(run) {
    setImmediate(run);
  },
};

/** Returns a function that schedules `run` once per turn on `clock`, however often it is called before then. */
export function oncePerTurnOn(clock: Clock, run: () => void): () => void {
  let scheduled = false;
  return () => {
    if (scheduled) return;
    scheduled = true;
    clock.defer(() => {
      scheduled = false;
      run();
    });
  };
}
