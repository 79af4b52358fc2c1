/** A value that views follow: set it, and every component reading it through useStore renders again. */

import { useEffect, useState } from "preact/hooks";

/** One observable value. */
export class Store<T> {
  private readonly listeners = new Set<(value: T) => void>();

  constructor(private value: T) {}

  get(): T {
    return this.value;
  }

  set(value: T): void {
    if (Object.is(value, this.value)) return;
    this.value = value;
    for (const listener of this.listeners) listener(value);
  }

  /** Calls `listener` with every new value; returns the unsubscribe function. */
  subscribe(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The store's value, rendering again whenever it changes. */
export function useStore<T>(store: Store<T>): T {
  const [value, setValue] = useState<{ current: T }>({ current: store.get() });
  useEffect(() => {
    const update = (next: T): void => setValue({ current: next });
    update(store.get());
    return store.subscribe(update);
  }, [store]);
  return value.current;
}
