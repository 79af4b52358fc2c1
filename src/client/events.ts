/**
 * A small typed event emitter, so the SDK needs nothing from node:events and runs wherever fetch
 * does. A listener that throws cannot stop the emitter's owner: the error is handed to `onListenerError`.
 */

/** A listener of one event. */
export type Listener<T> = (payload: T) => void;

/** The most listeners one event may have; more is a leak (a listener added per beat, say). */
export const LISTENERS_MAX = 100;

/** Listeners by event name, for an event map `M` of name to payload. */
export class TypedEvents<M> {
  private readonly listeners = new Map<keyof M, Listener<never>[]>();

  constructor(private readonly onListenerError: (error: unknown, event: keyof M) => void) {}

  /** Adds `listener` to `event`. */
  on<K extends keyof M>(event: K, listener: Listener<M[K]>): void {
    const list = this.listeners.get(event) ?? [];
    if (list.length >= LISTENERS_MAX) {
      throw new RangeError(`more than ${LISTENERS_MAX} listeners of ${String(event)}`);
    }
    list.push(listener);
    this.listeners.set(event, list);
  }

  /** Removes `listener` from `event`, if it is there. */
  off<K extends keyof M>(event: K, listener: Listener<M[K]>): void {
    const list = this.listeners.get(event);
    if (list === undefined) return;
    const at = list.indexOf(listener);
    if (at >= 0) list.splice(at, 1);
  }

  /** Calls every listener of `event` with `payload`, in the order they were added. */
  emit<K extends keyof M>(event: K, payload: M[K]): void {
    // A copy, so a listener that removes itself does not make the next one skipped.
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        (listener as Listener<M[K]>)(payload);
      } catch (error) {
        this.onListenerError(error, event);
      }
    }
  }
}
