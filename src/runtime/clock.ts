/**
 * Time and turn scheduling for the node, injected: the production clock is Node's timers and
 * setImmediate; the simulator's is its event queue, so the very same loop runs under simulated
 * time. Nothing in src/runtime reads Date.now() or sets a timer except through a Clock.
 */

/** An opaque handle for a scheduled callback. */
export type TimerHandle = object;

/** What the node needs of time. */
export interface Clock {
  /** Wall-clock milliseconds since the epoch (a leader stamps it into the entries it writes). */
  now(): number;
  /** Calls `run` once after `delayMs`. */
  setTimeout(run: () => void, delayMs: number): TimerHandle;
  /** Cancels a callback that has not run yet; unknown or finished handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
  /** Calls `run` after the current event-loop turn: everything that arrived in the turn is handled together. */
  defer(run: () => void): void;
}

/** Node's clock: Date.now, timers that do not keep the process alive, setImmediate. */
export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout(run, delayMs) {
    const handle = setTimeout(run, delayMs);
    handle.unref();
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
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
