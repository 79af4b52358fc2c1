// Proves a Table's cursors are consistent: whatever sets and deletes interleave with reading a
// cursor in slices, it yields exactly the rows present when it opened, in insertion order, and
// several cursors opened at different moments each see their own moment.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Table, concatCursors, listCursor, type Cursor } from "../../src/control/index.js";

type Op =
  | { kind: "set"; key: number; value: number }
  | { kind: "hold"; key: number; value: number }
  | { kind: "delete"; key: number }
  | { kind: "read"; max: number }
  | { kind: "open" };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), key: fc.integer({ min: 0, max: 30 }), value: fc.integer() }),
  // A row held as an object (setHeld) must read, and be captured, exactly as one set as text.
  fc.record({
    kind: fc.constant("hold" as const),
    key: fc.integer({ min: 0, max: 30 }),
    value: fc.integer(),
  }),
  fc.record({ kind: fc.constant("delete" as const), key: fc.integer({ min: 0, max: 30 }) }),
  fc.record({ kind: fc.constant("read" as const), max: fc.integer({ min: 1, max: 7 }) }),
  fc.record({ kind: fc.constant("open" as const) }),
);

describe("Table cursors", () => {
  it("yield exactly the rows present when they opened, whatever changes meanwhile (as values, as text or bytes)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer()), { maxLength: 30 }),
        fc.array(op, { maxLength: 200 }),
        (initial, ops) => {
          const table = new Table<number, number>();
          for (const [key, value] of initial) table.set(key, value);
          const open: {
            expected: [number, number][];
            got: [number, number][];
            cursor: Cursor<[number, number]>;
          }[] = [];
          // Row cursors hand bytes that are views valid until the next change: decoded at once.
          const rowReaders: { expected: string[]; got: string[]; cursor: Cursor<string | Uint8Array> }[] = [];
          const decoder = new TextDecoder();
          const readRows = (reader: (typeof rowReaders)[number], max: number): void => {
            for (const row of reader.cursor.next(max))
              reader.got.push(typeof row === "string" ? row : decoder.decode(row));
          };
          const openCursor = (): void => {
            open.push({
              expected: [...table.entries()],
              got: [],
              cursor: table.cursor((key, value) => [key, value] as [number, number]),
            });
            rowReaders.push({
              expected: [...table.values()].map((value) => JSON.stringify(value)),
              got: [],
              cursor: table.rowCursor(),
            });
          };
          openCursor();
          for (const step of ops) {
            if (step.kind === "set") table.set(step.key, step.value);
            else if (step.kind === "hold") table.setHeld(step.key, step.value);
            else if (step.kind === "delete") table.delete(step.key);
            else if (step.kind === "open") openCursor();
            else {
              for (const reader of open) reader.got.push(...reader.cursor.next(step.max));
              for (const reader of rowReaders) readRows(reader, step.max);
            }
          }
          for (const reader of open) {
            while (!reader.cursor.done) reader.got.push(...reader.cursor.next(5));
            expect(reader.got).toEqual(reader.expected);
          }
          for (const reader of rowReaders) {
            while (!reader.cursor.done) readRows(reader, 5);
            expect(reader.got).toEqual(reader.expected);
          }
          for (const [key, value] of table.entries()) expect(table.text(key)).toBe(JSON.stringify(value));
        },
      ),
      { seed: 20261201, numRuns: 500 },
    );
  });

  it("a closed cursor keeps nothing: later changes save no old values", () => {
    const table = new Table<string, number>();
    table.set("a", 1);
    const cursor = table.cursor((key, value) => `${key}=${value}`);
    cursor.close();
    table.set("a", 2);
    expect([...table.values()]).toEqual([2]);
    expect(cursor.next(1)).toEqual([]);
    expect(cursor.done).toBe(true);
  });

  it("concatenated cursors read one after another", () => {
    const cursor = concatCursors([listCursor([1, 2]), listCursor<number>([]), listCursor([3])]);
    expect(cursor.next(2)).toEqual([1, 2]);
    expect(cursor.next(5)).toEqual([3]);
    expect(cursor.done).toBe(true);
  });
});

describe("Table rows as text", () => {
  it("read back exactly what was set, any Unicode in keys and values, across slab boundaries", () => {
    // Rows are encoded as UTF-8 straight into the arena's slabs (room reserved for the worst
    // case, three bytes per UTF-16 unit): multi-byte and astral characters, lone surrogates
    // (which JSON escapes) and rows near a slab's size must all come back as they went in.
    const text = fc.string({ unit: "binary", maxLength: 40 });
    const value = fc.oneof(
      fc.record({ name: text, n: fc.integer() }),
      fc.string({ unit: "grapheme", maxLength: 200 }),
      fc.integer({ min: 100_000, max: 400_000 }).map((n) => "é".repeat(n)),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(text, value), { maxLength: 60 }), (rows) => {
        const table = new Table<string, unknown>();
        const model = new Map<string, unknown>();
        for (const [key, row] of rows) {
          table.set(key, row);
          model.set(key, row);
        }
        expect([...table.keys()]).toEqual([...model.keys()]);
        for (const [key, row] of model) {
          expect(table.get(key)).toEqual(row);
          expect(table.text(key)).toBe(JSON.stringify(row));
        }
      }),
      { numRuns: 60 },
    );
  });
});
