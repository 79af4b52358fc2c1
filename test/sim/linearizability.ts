/**
 * A linearizability checker for the simulator's key-value history. Every applied write has a
 * log index, and a correct Raft orders writes by index consistently with real time, so each
 * operation gets a rank: a write its index, a read the index of the write it saw plus one half.
 * The history is linearizable exactly when no operation that finished before another began has
 * a higher rank than it. That is checked per key (linearizability is local) in O(n log n).
 */

import { SimViolation } from "./checkers.js";

/** One client operation as the client saw it. */
export interface HistoryOp {
  readonly id: number;
  readonly client: number;
  readonly kind: "write" | "read";
  readonly key: string;
  /** For a write the id it wrote; for a read the id it saw (0: nothing written yet). */
  writeId: number;
  readonly invokeMs: number;
  /** Null while pending or when the outcome stayed unknown. */
  completeMs: number | null;
  outcome: "pending" | "ok" | "fail" | "unknown";
  /** For an acknowledged write, the index it was acknowledged at. */
  ackIndex?: number;
}

interface Ranked {
  readonly op: HistoryOp;
  readonly rank: number;
  readonly completeMs: number;
}

/**
 * Throws SimViolation unless the history is linearizable. `appliedIndexOf` maps a write id to the
 * index where it was applied, for every write that took effect.
 */
export function checkLinearizable(
  history: readonly HistoryOp[],
  appliedIndexOf: ReadonlyMap<number, number>,
): number {
  const byKey = new Map<string, Ranked[]>();
  let checked = 0;
  for (const op of history) {
    const ranked = rank(op, appliedIndexOf);
    if (ranked === null) continue;
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(ranked);
    checked++;
  }
  for (const [key, ops] of byKey) checkKey(key, ops);
  return checked;
}

function rank(op: HistoryOp, appliedIndexOf: ReadonlyMap<number, number>): Ranked | null {
  if (op.kind === "write") {
    const index = appliedIndexOf.get(op.writeId);
    if (op.outcome === "fail" && index !== undefined) {
      throw new SimViolation(
        "linearizability",
        `write ${op.writeId} was reported failed but applied at ${index}`,
      );
    }
    if (op.outcome === "ok") {
      if (index === undefined || index !== op.ackIndex) {
        throw new SimViolation(
          "no acknowledged write lost",
          `write ${op.writeId} acknowledged at ${op.ackIndex} but applied at ${index ?? "no index"}`,
        );
      }
      return { op, rank: index, completeMs: op.completeMs! };
    }
    // Unknown outcome: it counts if it took effect, and may have taken effect any time after it began.
    if (index === undefined) return null;
    return { op, rank: index, completeMs: Number.POSITIVE_INFINITY };
  }
  if (op.outcome !== "ok") return null;
  if (op.writeId === 0) return { op, rank: 0.5, completeMs: op.completeMs! };
  const seen = appliedIndexOf.get(op.writeId);
  if (seen === undefined) {
    throw new SimViolation(
      "linearizability",
      `read of ${op.key} saw write ${op.writeId}, which never took effect`,
    );
  }
  return { op, rank: seen + 0.5, completeMs: op.completeMs! };
}

function checkKey(key: string, ops: Ranked[]): void {
  const byComplete = [...ops].sort((a, b) => a.completeMs - b.completeMs);
  const byInvoke = [...ops].sort((a, b) => a.op.invokeMs - b.op.invokeMs);
  let finished = 0;
  let highest: Ranked | null = null;
  for (const later of byInvoke) {
    while (finished < byComplete.length && byComplete[finished]!.completeMs < later.op.invokeMs) {
      const done = byComplete[finished]!;
      if (highest === null || done.rank > highest.rank) highest = done;
      finished++;
    }
    if (highest !== null && highest.rank > later.rank) {
      throw new SimViolation(
        "linearizability",
        `on key ${key}: ${describe(highest)} finished before ${describe(later)} began, yet is ordered after it`,
      );
    }
  }
}

function describe(ranked: Ranked): string {
  const op = ranked.op;
  const what = op.kind === "write" ? `write ${op.writeId}` : `read seeing ${op.writeId}`;
  const end = op.completeMs === null ? "?" : op.completeMs.toFixed(1);
  return `op ${op.id} (client ${op.client} ${what}, rank ${ranked.rank}, ${op.invokeMs.toFixed(1)}-${end} ms)`;
}
