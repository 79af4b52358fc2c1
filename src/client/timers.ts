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

/** What linkAbort can abort: an AbortController, or an AbortHandle. */
export interface Abortable {
  abort(reason?: unknown): void;
}

/**
 * A request's own abort switch, lighter than an AbortController (whose AbortSignal, an
 * EventTarget, costs an agent's process several per cent of its CPU when it makes one per
 * request). It has the part of AbortSignal that undici reads (`aborted`, `reason`, abort
 * listeners); `signal()` makes a real AbortSignal that follows it, for APIs that need one (fetch).
 */
export class AbortHandle implements Abortable {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] = [];

  addEventListener(_type: "abort", listener: () => void): void {
    if (this.aborted) return;
    this.listeners.push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const at = this.listeners.indexOf(listener);
    if (at >= 0) this.listeners.splice(at, 1);
  }

  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason ?? new DOMException("This operation was aborted", "AbortError");
    for (const listener of this.listeners.splice(0)) listener();
  }

  /** An AbortSignal that fires when this handle does. */
  signal(): AbortSignal {
    const controller = new AbortController();
    if (this.aborted) controller.abort(this.reason);
    else this.addEventListener("abort", () => controller.abort(this.reason));
    return controller.signal;
  }
}

/** The controllers linked to each parent signal, aborted together when it aborts. */
const linked = new WeakMap<AbortSignal, Set<Abortable>>();

/**
 * Aborts `controller` (with the parent's reason) when `parent` aborts, until the function it
 * returns unlinks them; call that when the guarded work is over. A parent gets one listener however
 * many controllers are linked to it at once: an agent's one stop signal guards a call per running
 * task. AbortSignal.any() would do the same but, on Node 20, keeps about 40 bytes per call for as
 * long as the parent lives (nodejs/node#55351): a few hundred MB a day for a busy agent.
 */
export function linkAbort(parent: AbortSignal, controller: Abortable): () => void {
  if (parent.aborted) {
    controller.abort(parent.reason);
    return () => {};
  }
  let controllers = linked.get(parent);
  if (controllers === undefined) {
    const created = new Set<Abortable>();
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
