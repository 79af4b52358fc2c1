/** Hooks the views share: data fetched again when what it depends on changes, and a ticking clock. */

import { useEffect, useRef, useState } from "preact/hooks";

/** What a fetch gave: the newest data (kept while a refetch fails), and the last error. */
export interface Fetched<T> {
  readonly data: T | null;
  readonly error: string | null;
}

/**
 * Runs `load` now and again whenever `key` changes, one at a time and at most once per
 * `minIntervalMs`: a stream of changes turns into a few requests, the last one always made.
 * Nothing runs while `enabled` is false (before the page knows its cluster).
 */
export function useFetched<T>(
  load: () => Promise<T>,
  key: string,
  minIntervalMs = 1_000,
  enabled = true,
): Fetched<T> {
  const [state, setState] = useState<Fetched<T>>({ data: null, error: null });
  const latest = useRef(load);
  latest.current = load;
  const control = useRef({
    running: false,
    again: false,
    lastStartMs: 0,
    timer: undefined as ReturnType<typeof setTimeout> | undefined,
    alive: true,
  });

  useEffect(() => {
    const c = control.current;
    c.alive = true;
    return () => {
      c.alive = false;
      clearTimeout(c.timer);
    };
  }, []);

  useEffect(() => {
    if (!enabled) return;
    const c = control.current;
    const run = async (): Promise<void> => {
      if (!c.alive) return;
      if (c.running) {
        c.again = true;
        return;
      }
      const waitMs = c.lastStartMs + minIntervalMs - Date.now();
      if (waitMs > 0) {
        clearTimeout(c.timer);
        c.timer = setTimeout(() => void run(), waitMs);
        return;
      }
      c.running = true;
      c.lastStartMs = Date.now();
      try {
        const data = await latest.current();
        if (c.alive) setState({ data, error: null });
      } catch (error) {
        if (c.alive) setState((previous) => ({ data: previous.data, error: errorText(error) }));
      } finally {
        c.running = false;
        if (c.again) {
          c.again = false;
          void run();
        }
      }
    };
    void run();
  }, [key, minIntervalMs, enabled]);
  return state;
}

/** Now, in milliseconds, rendering again every `everyMs`. */
export function useNow(everyMs = 1_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** A counter that goes up every `everyMs`, for polling through useFetched's key. */
export function useTick(everyMs: number): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((value) => value + 1), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return tick;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
