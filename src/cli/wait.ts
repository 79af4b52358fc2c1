/**
 * Waiting by polling, for the commands that wait for something the API does not stream (a task's
 * end, a learner's promotion, a leader): read, and read again every interval, until the reading
 * says it is there or the wait runs out. The clock and the sleep are injectable, so tests wait
 * by the reading, not by the clock.
 */

/** How a command polls: how often, and the clock and sleep it waits on (tests shorten them). */
export interface WaitOptions {
  /** Between two readings; default 500 ms. */
  readonly intervalMs?: number;
  readonly sleep?: (delayMs: number) => Promise<void>;
  readonly now?: () => number;
}

const DEFAULT_INTERVAL_MS = 500;

/**
 * Calls `read` until it answers something other than undefined, every intervalMs; null when
 * `waitMs` passed first. `read` runs at least once, at once.
 */
export async function pollUntil<T>(
  read: () => Promise<T | undefined>,
  waitMs: number,
  options: WaitOptions = {},
): Promise<T | null> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((delayMs) => new Promise<void>((resolve) => setTimeout(resolve, delayMs)));
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const deadlineMs = now() + waitMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    const leftMs = deadlineMs - now();
    if (leftMs <= 0) return null;
    await sleep(Math.min(intervalMs, leftMs));
  }
}
