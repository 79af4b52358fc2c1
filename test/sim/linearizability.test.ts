// Proves the history checker accepts linearizable histories and rejects stale, future and
// misreported results, so a green simulation means what it says.

import { describe, expect, it } from "vitest";
import { SimViolation } from "./checkers.js";
import { checkLinearizable, type HistoryOp } from "./linearizability.js";

let nextId = 1;
function write(
  writeId: number,
  invokeMs: number,
  completeMs: number | null,
  outcome: HistoryOp["outcome"],
  ackIndex?: number,
): HistoryOp {
  return {
    id: nextId++,
    client: 1,
    kind: "write",
    key: "k",
    writeId,
    invokeMs,
    completeMs,
    outcome,
    ...(ackIndex === undefined ? {} : { ackIndex }),
  };
}
function read(sawWriteId: number, invokeMs: number, completeMs: number): HistoryOp {
  return {
    id: nextId++,
    client: 2,
    kind: "read",
    key: "k",
    writeId: sawWriteId,
    invokeMs,
    completeMs,
    outcome: "ok",
  };
}
function violation(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof SimViolation) return error.property;
    throw error;
  }
  return "none";
}

describe("linearizability checker", () => {
  const applied = new Map([
    [1, 10],
    [2, 11],
  ]);

  it("accepts a sequential history", () => {
    const history = [write(1, 0, 5, "ok", 10), read(1, 6, 7), write(2, 8, 9, "ok", 11), read(2, 10, 11)];
    expect(checkLinearizable(history, applied)).toBe(4);
  });

  it("accepts a read concurrent with a write seeing either value", () => {
    expect(
      violation(() =>
        checkLinearizable([write(1, 0, 5, "ok", 10), write(2, 6, 20, "ok", 11), read(1, 7, 8)], applied),
      ),
    ).toBe("none");
    expect(
      violation(() =>
        checkLinearizable([write(1, 0, 5, "ok", 10), write(2, 6, 20, "ok", 11), read(2, 7, 8)], applied),
      ),
    ).toBe("none");
  });

  it("rejects a stale read after a completed write", () => {
    expect(
      violation(() =>
        checkLinearizable([write(1, 0, 5, "ok", 10), write(2, 6, 9, "ok", 11), read(1, 10, 12)], applied),
      ),
    ).toBe("linearizability");
  });

  it("rejects a read of the future", () => {
    expect(
      violation(() =>
        checkLinearizable([write(1, 0, 5, "ok", 10), read(2, 6, 7), write(2, 8, 9, "ok", 11)], applied),
      ),
    ).toBe("linearizability");
  });

  it("rejects reads going back in time", () => {
    expect(
      violation(() =>
        checkLinearizable(
          [write(1, 0, 1, "ok", 10), write(2, 2, 30, "ok", 11), read(2, 3, 4), read(1, 5, 6)],
          applied,
        ),
      ),
    ).toBe("linearizability");
  });

  it("lets a write of unknown outcome take effect any time after it began", () => {
    expect(
      violation(() =>
        checkLinearizable(
          [write(1, 0, 1, "ok", 10), write(2, 2, null, "unknown"), read(2, 50, 51), read(2, 60, 61)],
          applied,
        ),
      ),
    ).toBe("none");
  });

  it("rejects a write reported failed that took effect", () => {
    expect(violation(() => checkLinearizable([write(2, 0, 1, "fail")], applied))).toBe("linearizability");
  });

  it("rejects an acknowledged write that was lost or moved", () => {
    expect(violation(() => checkLinearizable([write(3, 0, 1, "ok", 12)], applied))).toBe(
      "no acknowledged write lost",
    );
    expect(violation(() => checkLinearizable([write(2, 0, 1, "ok", 12)], applied))).toBe(
      "no acknowledged write lost",
    );
  });

  it("rejects a read of a value nobody wrote", () => {
    expect(violation(() => checkLinearizable([read(7, 0, 1)], applied))).toBe("linearizability");
  });
});
