// Proves that the ids made at the edge are version-7 UUIDs whose text sorts by the time they were
// made (what keeps new rows together in the tables keyed by them), and never repeat.

import { describe, expect, it } from "vitest";
import { timeOrderedUuid } from "../../src/util/ids.js";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("timeOrderedUuid", () => {
  it("is a version-7 UUID carrying its millisecond time in the first 48 bits", () => {
    for (const ms of [0, 1, 1_764_000_000_000, 2 ** 48 - 1]) {
      const id = timeOrderedUuid(ms);
      expect(id).toMatch(V7);
      expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(ms);
    }
  });

  it("sorts by time as text, and does not repeat within a millisecond", () => {
    const ids = Array.from({ length: 3_000 }, (_, i) =>
      timeOrderedUuid(1_764_000_000_000 + Math.floor(i / 1_000)),
    );
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1_000; i < ids.length; i += 1_000) expect(ids[i - 1]! < ids[i]!).toBe(true);
    expect(ids.slice(0, 1_000).every((id) => id < ids[1_000]!)).toBe(true);
  });
});
