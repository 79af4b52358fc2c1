// Proves the off-heap row arena keeps every row a table holds, byte for byte, through random
// sets, replacements and deletes of rows of every size (large ones included), while it moves live
// rows out of emptied slabs; and that the space of dead rows is reclaimed, not kept forever.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SLAB_BYTES } from "../../src/control/arena.js";
import { Table } from "../../src/control/index.js";

describe("the row arena under a Table", () => {
  it("holds exactly the rows a plain Map would, through random changes", () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("set" as const),
        key: fc.integer({ min: 0, max: 300 }),
        size: fc.oneof(fc.integer({ min: 0, max: 3_000 }), fc.constant(SLAB_BYTES + 10)),
      }),
      fc.record({ kind: fc.constant("delete" as const), key: fc.integer({ min: 0, max: 300 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 1_500 }), (ops) => {
        const table = new Table<number, string>();
        const model = new Map<number, string>();
        let n = 0;
        for (const step of ops) {
          if (step.kind === "set") {
            const row = `${n++}:${"x".repeat(step.size)}`;
            table.set(step.key, row);
            model.set(step.key, row);
          } else {
            expect(table.delete(step.key)).toBe(model.delete(step.key));
          }
        }
        expect([...table.entries()]).toEqual([...model.entries()]);
      }),
      { seed: 20261203, numRuns: 60 },
    );
  });

  it("reclaims the space of dead rows", () => {
    const table = new Table<number, string>();
    const row = "y".repeat(500);
    for (let i = 0; i < 20_000; i++) table.set(i, row);
    const full = table.heldBytes;
    // Replace every row many times over: the held space must not grow with the churn.
    for (let round = 0; round < 10; round++) for (let i = 0; i < 20_000; i++) table.set(i, `${round}${row}`);
    expect(table.heldBytes).toBeLessThan(full * 3);
    // Delete nine rows in ten and keep changing the rest: most slabs empty and are reused.
    for (let i = 0; i < 20_000; i++) if (i % 10 !== 0) table.delete(i);
    for (let round = 0; round < 30; round++)
      for (let i = 0; i < 20_000; i += 10) table.set(i, `${round}${row}`);
    expect(table.size).toBe(2_000);
    expect(table.get(10)).toBe(`29${row}`);
    // What stays: the slabs in use and a few empty ones kept for reuse.
    expect(table.heldBytes).toBeLessThan(full * 0.75);
  });
});
