/** The timer functions the transport uses, injectable so tests can control time. */

/** An opaque handle for a scheduled callback. */
export type TimerHandle = object;

/** Schedules and cancels callbacks; the default is Node's own timers. */
export interface Timers {
  /** Calls `callback` once after `delayMs`. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a callback that has not run yet; unknown or finished handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/**
 * Node's timers, unreferenced: a pending reconnect or handshake deadline alone should not keep a
 * process alive that has nothing else to do (open sockets and the server do that).
 */
export const NODE_TIMERS: Timers = {
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    handle.unref();
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
