/**
 * Table: a keyed collection of rows that can hand out cursors consistent as of the moment they
 * were opened, while the table keeps changing. That is what lets a node take a snapshot of a
 * million rows a slice at a time instead of stopping the world: opening a cursor copies only the
 * key list, and the first change to a key while a cursor is open saves the old row for it (copy
 * on write, per key).
 *
 * Rows live as JSON text in an off-heap arena (arena.ts), not as objects, so a large state costs
 * the garbage collector next to nothing. `get` decodes a fresh copy each time: a row read is a
 * value, and a change is always a `set` of a new row. A row that changes often and that its
 * owner holds as an object anyway (a task still running) can be put with `setHeld` instead: the
 * table keeps the object and makes its text only when a cursor reads it.
 */

import { RowArena } from "./arena.js";
import type { Cursor } from "./module.js";

const ABSENT: unique symbol = Symbol("absent");
/**
 * The index entry of a row held as an object (setHeld), not as text in the arena. Arena
 * references are whole numbers (negative for large rows), so a fraction is never one.
 */
const HELD = 0.5;
const decoder = new TextDecoder();

/** What one open cursor holds: the keys that existed when it opened, and rows changed since (as JSON text). */
interface Capture<K> {
  readonly keys: readonly K[];
  readonly saved: Map<K, string | typeof ABSENT>;
  position: number;
  open: boolean;
}

/** A key a table can hold: a number or a string. */
export type TableKey = number | string;

/** A map of rows (JSON values) with consistent cursors. */
export class Table<K extends TableKey, V> {
  /** Each row's arena reference, or HELD. */
  private readonly index = new Map<K, number>();
  /** Rows put with setHeld, as the objects they were put as. */
  private readonly held = new Map<K, V>();
  private readonly captures: Capture<K>[] = [];
  private readonly arena = new RowArena({
    refOf: (key) => this.index.get(decodeKey<K>(key)),
    repoint: (key, ref) => this.index.set(decodeKey<K>(key), ref),
  });

  /** A copy of the row under `key`. */
  get(key: K): V | undefined {
    const text = this.text(key);
    return text === undefined ? undefined : (JSON.parse(text) as V);
  }

  /** The row under `key` as the JSON text it is stored as. */
  text(key: K): string | undefined {
    const ref = this.index.get(key);
    if (ref === undefined) return undefined;
    if (ref === HELD) return JSON.stringify(this.held.get(key));
    return decoder.decode(this.arena.read(ref).value);
  }

  /** Whether a row is under `key`. */
  has(key: K): boolean {
    return this.index.has(key);
  }

  /** How many rows the table holds. */
  get size(): number {
    return this.index.size;
  }

  /** The keys, in insertion order (the order entries applied them: equal on every replica). */
  keys(): IterableIterator<K> {
    return this.index.keys();
  }

  /** Copies of the rows, in insertion order. */
  *values(): IterableIterator<V> {
    for (const key of this.index.keys()) yield this.get(key)!;
  }

  /** Keys and copies of the rows, in insertion order. */
  *entries(): IterableIterator<[K, V]> {
    for (const key of this.index.keys()) yield [key, this.get(key)!];
  }

  /** Puts `row` under `key`, replacing any row there. */
  set(key: K, row: V): void {
    this.setText(key, JSON.stringify(row));
  }

  /** Puts a row given as JSON text (already checked to be a valid row) under `key`. */
  setText(key: K, text: string): void {
    this.preserve(key);
    const previous = this.index.get(key);
    // A replaced row keeps its place in the insertion order, as a Map entry does.
    this.index.set(key, this.arena.putText(JSON.stringify(key), text));
    this.release(key, previous);
  }

  /**
   * Puts `row` under `key` as the object itself: no text is made until a cursor reads it (its
   * text is then JSON.stringify(row), as set() would have stored). The caller never changes
   * `row` afterwards; a frozen object is best.
   */
  setHeld(key: K, row: V): void {
    this.preserve(key);
    const previous = this.index.get(key);
    this.index.set(key, HELD);
    this.release(key, previous);
    this.held.set(key, row);
  }

  /** Lets go of what a replaced row took (its arena space, or its held object). */
  private release(key: K, previous: number | undefined): void {
    if (previous === HELD) this.held.delete(key);
    else if (previous !== undefined) this.arena.free(previous);
  }

  /** Removes the row under `key`; whether there was one. */
  delete(key: K): boolean {
    const ref = this.index.get(key);
    if (ref === undefined) return false;
    this.preserve(key);
    this.index.delete(key);
    this.release(key, ref);
    return true;
  }

  /** Bytes the rows take in the arena (including space not reclaimed yet). */
  get heldBytes(): number {
    return this.arena.heldBytes;
  }

  /**
   * A cursor over the rows as they are now, mapped by `view`. Later changes do not show in it.
   * Close it when done: until then the table keeps the old text of every row that changes.
   */
  cursor<T>(view: (key: K, row: V) => T): Cursor<T> {
    return this.textCursor((key, text) => view(key, JSON.parse(text) as V));
  }

  /** A cursor like cursor(), handing each row's JSON text instead of a decoded copy. */
  textCursor<T = string>(view: (key: K, text: string) => T = (_key, text) => text as T): Cursor<T> {
    return this.capturedCursor((key) => {
      const text = this.text(key);
      return text === undefined ? undefined : view(key, text);
    }, view);
  }

  /**
   * A cursor handing each row as its JSON text, or as the UTF-8 bytes of that text where the row
   * lives in the arena: a view, valid only until the table next changes (copy it at once). A
   * snapshot copies rows straight from the arena this way, making no string per row.
   */
  rowCursor(): Cursor<string | Uint8Array> {
    return this.capturedCursor(
      (key) => {
        const ref = this.index.get(key);
        if (ref === undefined) return undefined;
        return ref === HELD ? JSON.stringify(this.held.get(key)) : this.arena.read(ref).value;
      },
      (_key, text) => text,
    );
  }

  /** A cursor over the keys as they are now: `read` for rows unchanged since, `saved` for the old text of changed ones. */
  private capturedCursor<T>(read: (key: K) => T | undefined, saved: (key: K, text: string) => T): Cursor<T> {
    const capture: Capture<K> = { keys: [...this.index.keys()], saved: new Map(), position: 0, open: true };
    this.captures.push(capture);
    const captures = this.captures;
    return {
      next(max: number): T[] {
        const out: T[] = [];
        if (!capture.open) return out;
        const end = Math.min(capture.keys.length, capture.position + max);
        for (; capture.position < end; capture.position++) {
          const key = capture.keys[capture.position]!;
          const old = capture.saved.size === 0 ? undefined : capture.saved.get(key);
          if (old === ABSENT) throw new Error("a row present when a cursor opened vanished from it");
          const row = old === undefined ? read(key) : saved(key, old);
          if (row === undefined) throw new Error("a row present when a cursor opened vanished from it");
          out.push(row);
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

  /** Saves the row under `key` for every open cursor that has not saved it yet. */
  private preserve(key: K): void {
    if (this.captures.length === 0) return;
    let text: string | typeof ABSENT | null = null;
    for (const capture of this.captures) {
      if (capture.saved.has(key) || capture.position >= capture.keys.length) continue;
      // Rows that did not exist when the cursor opened are never read from it; ABSENT marks them.
      text ??= this.text(key) ?? ABSENT;
      capture.saved.set(key, text);
    }
  }
}

function decodeKey<K extends TableKey>(bytes: Uint8Array): K {
  // Only setText wrote these bytes: JSON.stringify of a K.
  return JSON.parse(decoder.decode(bytes)) as K;
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
