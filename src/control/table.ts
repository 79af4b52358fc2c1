/**
 * Table: a keyed collection of immutable rows that can hand out cursors consistent as of the
 * moment they were opened, while the table keeps changing. That is what lets a node take a
 * snapshot of a million rows a slice at a time instead of stopping the world: opening a cursor
 * copies only the key list, and the first change to a key while a cursor is open saves the old
 * value for it (copy on write, per key).
 *
 * Invariant: rows are never mutated in place; a change replaces the row (set) or removes it.
 */

import { assert } from "../raft/assert.js";
import type { Cursor } from "./module.js";

const ABSENT: unique symbol = Symbol("absent");

/** What one open cursor holds: the keys that existed when it opened, and values changed since. */
interface Capture<K, V> {
  readonly keys: readonly K[];
  readonly saved: Map<K, V | typeof ABSENT>;
  position: number;
  open: boolean;
}

/** A map of immutable rows with consistent cursors. */
export class Table<K, V> {
  private readonly rows = new Map<K, V>();
  private readonly captures: Capture<K, V>[] = [];

  /** The row under `key`. */
  get(key: K): V | undefined {
    return this.rows.get(key);
  }

  /** Whether a row is under `key`. */
  has(key: K): boolean {
    return this.rows.has(key);
  }

  /** How many rows the table holds. */
  get size(): number {
    return this.rows.size;
  }

  /** The rows, in insertion order (the order entries applied them: equal on every replica). */
  values(): IterableIterator<V> {
    return this.rows.values();
  }

  /** Keys and rows, in insertion order. */
  entries(): IterableIterator<[K, V]> {
    return this.rows.entries();
  }

  /** Puts `row` under `key`, replacing any row there. */
  set(key: K, row: V): void {
    this.preserve(key);
    this.rows.set(key, row);
  }

  /** Removes the row under `key`; whether there was one. */
  delete(key: K): boolean {
    if (!this.rows.has(key)) return false;
    this.preserve(key);
    return this.rows.delete(key);
  }

  /**
   * A cursor over the rows as they are now, mapped by `view`. Later changes do not show in it.
   * Close it when done: until then the table keeps the old value of every row that changes.
   */
  cursor<T>(view: (key: K, row: V) => T): Cursor<T> {
    const capture: Capture<K, V> = { keys: [...this.rows.keys()], saved: new Map(), position: 0, open: true };
    this.captures.push(capture);
    const rows = this.rows;
    const captures = this.captures;
    return {
      next(max: number): T[] {
        const out: T[] = [];
        if (!capture.open) return out;
        const end = Math.min(capture.keys.length, capture.position + max);
        for (; capture.position < end; capture.position++) {
          const key = capture.keys[capture.position]!;
          const saved = capture.saved.size === 0 ? undefined : capture.saved.get(key);
          const row = saved === undefined ? rows.get(key) : saved;
          assert(row !== undefined && row !== ABSENT, "a row present when a cursor opened vanished from it");
          out.push(view(key, row));
        }
        if (capture.position === capture.keys.length) this.close();
        return out;
      },
      get done(): boolean {
        return !capture.open || capture.position === capture.keys.length;
      },
      close(): void {
        if (!capture.open) return;
        capture.open = false;
        const at = captures.indexOf(capture);
        if (at >= 0) captures.splice(at, 1);
      },
    };
  }

  /** Saves the value under `key` for every open cursor that has not passed it and has not saved it yet. */
  private preserve(key: K): void {
    for (const capture of this.captures) {
      if (capture.saved.has(key)) continue;
      // Rows the cursor already handed out, or that did not exist when it opened, need nothing.
      if (capture.position >= capture.keys.length) continue;
      capture.saved.set(key, this.rows.has(key) ? this.rows.get(key)! : ABSENT);
    }
  }
}

/** A cursor over a fixed list (for sections small enough to copy whole). */
export function listCursor<T>(items: readonly T[]): Cursor<T> {
  let position = 0;
  return {
    next(max: number): T[] {
      const out = items.slice(position, position + max);
      position += out.length;
      return out;
    },
    get done(): boolean {
      return position >= items.length;
    },
    close(): void {
      position = items.length;
    },
  };
}

/** One cursor reading `cursors` in turn. */
export function concatCursors<T>(cursors: readonly Cursor<T>[]): Cursor<T> {
  let at = 0;
  return {
    next(max: number): T[] {
      const out: T[] = [];
      while (out.length < max && at < cursors.length) {
        const cursor = cursors[at]!;
        out.push(...cursor.next(max - out.length));
        if (cursor.done) at++;
      }
      return out;
    },
    get done(): boolean {
      return at >= cursors.length || cursors.slice(at).every((cursor) => cursor.done);
    },
    close(): void {
      for (const cursor of cursors) cursor.close();
      at = cursors.length;
    },
  };
}
