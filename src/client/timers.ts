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

/** The controllers linked to each parent signal, aborted together when it aborts. */
const linked = new WeakMap<AbortSignal, Set<AbortController>>();

/**
 * Aborts `controller` (with the parent's reason) when `parent` aborts, until the function it
 * returns unlinks them; call that when the guarded work is over. A parent gets one listener however
 * many controllers are linked to it at once: an agent's one stop signal guards a call per running
 * task. AbortSignal.any() would do the same but, on Node 20, keeps about 40 bytes per call for as
 * long as the parent lives (nodejs/node#55351): a few hundred MB a day for a busy agent.
 */
export function linkAbort(parent: AbortSignal, controller: AbortController): () => void {
  if (parent.aborted) {
    controller.abort(parent.reason);
    return () => {};
  }
  let controllers = linked.get(parent);
  if (controllers === undefined) {
    const created = new Set<AbortController>();
    controllers = created;
    linked.set(parent, created);
    parent.addEventListener(
      "abort",
      () => {
        linked.delete(parent);
        for (const each of created) each.abort(parent.reason);
        created.clear();
      },
      { once: true },
    );
  }
  const set = controllers;
  set.add(controller);
  return () => {
    set.delete(controller);
  };
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
  const handle = timers.setTimeout(() => {
    expired = true;
    controller.abort(new Error(`deadline of ${delayMs} ms passed`));
  }, delayMs);
  const unlink = parent === undefined ? () => {} : linkAbort(parent, controller);
  return {
    signal: controller.signal,
    expired: () => expired,
    dispose() {
      timers.clearTimeout(handle);
      unlink();
    },
  };
}

/** The reason a signal fired, as an Error. */
function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error("aborted");
}
