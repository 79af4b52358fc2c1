/**
 * The timers the client and the agent wait with. Everything that waits takes them as a parameter,
 * so tests drive time by hand instead of sleeping.
 */

/** A pair of functions like the global setTimeout and clearTimeout. */
export interface Timers {
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The global timers. */
export const SYSTEM_TIMERS: Timers = {
  setTimeout: (callback, delayMs) => globalThis.setTimeout(callback, delayMs),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

/** Waits `delayMs`; rejects with the signal's reason once `signal` fires. */
export type Sleep = (delayMs: number, signal?: AbortSignal) => Promise<void>;

/** A Sleep on `timers` that ends early when its signal fires. */
export function sleeperOn(timers: Timers): Sleep {
  return (delayMs, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(abortReason(signal));
        return;
      }
      const onAbort = (): void => {
        timers.clearTimeout(handle);
        reject(abortReason(signal));
      };
      const handle = timers.setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, delayMs);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
}

/** A signal that fires when `parent` does or `delayMs` has passed, whichever comes first. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Whether it fired because the time ran out (rather than the parent). */
  expired(): boolean;
  /** Clears the timer and lets go of the parent; call when the guarded work is over. */
  dispose(): void;
}

/** A deadline `delayMs` from now on `timers`, linked to `parent` when one is given. */
export function deadline(delayMs: number, timers: Timers, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  let expired = false;
  const onParentAbort = (): void => controller.abort(parent?.reason);
  const handle = timers.setTimeout(() => {
    expired = true;
    controller.abort(new Error(`deadline of ${delayMs} ms passed`));
  }, delayMs);
  if (parent?.aborted === true) onParentAbort();
  else parent?.addEventListener("abort", onParentAbort, { once: true });
  return {
    signal: controller.signal,
    expired: () => expired,
    dispose() {
      timers.clearTimeout(handle);
      parent?.removeEventListener("abort", onParentAbort);
    },
  };
}

/** The reason a signal fired, as an Error. */
function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error("aborted");
}
