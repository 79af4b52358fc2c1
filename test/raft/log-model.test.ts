// Proves the in-memory log and the in-flight window against simple reference models, over random
// operation sequences (fast-check): the log keeps exactly the entries a leader's appends imply,
// never loses a committed entry, and its marks stay ordered; the window frees exactly what an
// acknowledgement covers.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AssertionError, Inflights, RaftLog, type Entry } from "../../src/raft/index.js";

type LogOp =
  | { kind: "leader_append"; term: number; count: number }
  | { kind: "follower_append"; prevBack: number; terms: number[] }
  | { kind: "commit"; back: number }
  | { kind: "apply"; back: number }
  | { kind: "compact"; back: number }
  | { kind: "stable" };

const logOp: fc.Arbitrary<LogOp> = fc.oneof(
  fc.record({
    kind: fc.constant("leader_append" as const),
    term: fc.integer({ min: 0, max: 3 }),
    count: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({
    kind: fc.constant("follower_append" as const),
    prevBack: fc.integer({ min: 0, max: 6 }),
    terms: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 5 }),
  }),
  fc.record({ kind: fc.constant("commit" as const), back: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ kind: fc.constant("apply" as const), back: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ kind: fc.constant("compact" as const), back: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ kind: fc.constant("stable" as const) }),
);

/** A fixed seed keeps CI deterministic; many runs keep it searching widely. */
const PROPERTY_RUNS = { seed: 20261124, numRuns: 3000 };

let nextData = 1;
function entry(index: number, term: number): Entry {
  return { index, term, type: "normal", data: new Uint8Array([nextData++ & 0xff]) };
}

describe("RaftLog against a model", () => {
  it("holds exactly the entries the appends imply, and never changes a committed one", () => {
    fc.assert(
      fc.property(fc.array(logOp, { maxLength: 60 }), (ops) => {
        const log = new RaftLog(0, 0, [], 0, 0);
        // The model: every entry by index (index 0 unused), plus the committed prefix as first seen.
        let model: Entry[] = [];
        const committed = new Map<number, Entry>();
        let term = 1;
        for (const op of ops) {
          switch (op.kind) {
            case "leader_append": {
              term = Math.max(term, log.lastTerm()) + op.term;
              for (let i = 0; i < op.count; i++) {
                const e = entry(log.lastIndex() + 1, term);
                log.append(e);
                model[e.index] = e;
              }
              break;
            }
            case "follower_append": {
              const prevIndex = Math.max(log.committed, log.lastIndex() - op.prevBack);
              const prevTerm = log.term(prevIndex);
              if (prevTerm === undefined) break;
              // A leader's entries after prevIndex: terms never go back, and never below prevTerm.
              let t = Math.max(prevTerm, log.term(log.committed) ?? 0);
              const incoming = op.terms.map((bump, i) => {
                t += bump;
                const existing = model[prevIndex + 1 + i];
                // Reuse an existing identical entry sometimes, as a retransmission would.
                return existing !== undefined && existing.term === t ? existing : entry(prevIndex + 1 + i, t);
              });
              const lastNew = log.appendAfter(prevIndex, incoming);
              expect(lastNew).toBe(prevIndex + incoming.length);
              // Model: a conflict truncates the rest; matching entries are kept.
              for (const e of incoming) {
                const ours = model[e.index];
                if (ours === undefined || ours.term !== e.term) {
                  model = model.slice(0, e.index);
                  model[e.index] = e;
                }
              }
              break;
            }
            case "commit": {
              const target = Math.max(log.committed, log.lastIndex() - op.back);
              log.commitTo(target);
              for (let i = 1; i <= log.committed; i++)
                if (!committed.has(i) && model[i] !== undefined) committed.set(i, model[i]!);
              break;
            }
            case "apply":
              log.appliedTo(Math.max(log.applied, log.committed - op.back));
              break;
            case "compact":
              // The driver compacts only what is applied and persisted (advance() marks both).
              log.compactTo(Math.max(log.baseIndex, Math.min(log.applied, log.stabled) - op.back));
              break;
            case "stable":
              log.stableTo(log.lastIndex(), log.lastTerm());
              break;
          }
          log.checkInvariants();
          expect(log.lastIndex()).toBe(model.length - 1 < 0 ? 0 : Math.max(model.length - 1, log.baseIndex));
          // The log copies entries in; what it hands out equals, byte for byte, what went in.
          for (let i = log.firstIndex(); i <= log.lastIndex(); i++) expect(log.entry(i)).toEqual(model[i]);
          for (const [index, e] of committed) if (index > log.baseIndex) expect(log.entry(index)).toEqual(e);
          // Everything not yet stable is handed out for persisting, in order.
          const unstable = log.unstableEntries();
          expect(unstable.map((e) => e.index)).toEqual(
            Array.from({ length: log.lastIndex() - log.stabled }, (_, i) => log.stabled + 1 + i),
          );
        }
      }),
      PROPERTY_RUNS,
    );
  });

  it("keeps every byte it handed out as it was, through truncation, new appends and compaction", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            cut: fc.integer({ min: 0, max: 8 }),
            sizes: fc.array(
              fc.oneof(
                { weight: 9, arbitrary: fc.integer({ min: 0, max: 600 }) },
                { weight: 1, arbitrary: fc.constant(300_000) },
              ),
              {
                minLength: 1,
                maxLength: 12,
              },
            ),
            compact: fc.boolean(),
          }),
          { maxLength: 40 },
        ),
        (rounds) => {
          const log = new RaftLog(0, 0, [], 0, 0);
          const handedOut: { entry: Entry; copy: Uint8Array }[] = [];
          let term = 1;
          let fillByte = 1;
          for (const round of rounds) {
            // Cut uncommitted entries, as a new leader's conflicting append does, then append.
            const cutAt = Math.max(log.committed + 1, log.lastIndex() + 1 - round.cut);
            if (cutAt <= log.lastIndex()) log.truncateFrom(cutAt);
            term++;
            for (const size of round.sizes) {
              const data = new Uint8Array(size).fill(fillByte++ & 0xff);
              log.append({ index: log.lastIndex() + 1, term, type: "normal", data });
            }
            for (const e of log.unstableEntries()) handedOut.push({ entry: e, copy: e.data.slice() });
            log.stableTo(log.lastIndex(), log.lastTerm());
            log.commitTo(log.lastIndex() - 2 > log.committed ? log.lastIndex() - 2 : log.committed);
            log.appliedTo(log.committed);
            if (round.compact) log.compactTo(Math.max(log.baseIndex, log.applied - 1));
            for (const { entry, copy } of handedOut) {
              const same = Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.length).equals(
                copy,
              );
              if (!same) expect.fail(`entry ${entry.index}'s bytes changed after they were handed out`);
            }
          }
        },
      ),
      { seed: 20261203, numRuns: 100 },
    );
  });

  it("hands out a recent entry as one object, so what the store decoded is there for apply", () => {
    const log = new RaftLog(0, 0, [], 0, 0);
    for (let i = 1; i <= 3; i++) log.append(entry(i, 1));
    const persisted = log.unstableEntries();
    log.stableTo(3, 1);
    log.commitTo(2);
    const applied = log.nextCommitted(1 << 20);
    expect(applied).toHaveLength(2);
    applied.forEach((e, i) => expect(e).toBe(persisted[i]));
    // A cut-off entry's object is never handed out for the entry that replaced it.
    log.truncateFrom(3);
    log.append(entry(3, 2));
    expect(log.entry(3)).not.toBe(persisted[2]);
    expect(log.entry(3)?.term).toBe(2);
  });

  it("refuses to overwrite a committed entry", () => {
    const log = new RaftLog(0, 0, [entry(1, 1), entry(2, 1)], 2, 0);
    expect(() => log.appendAfter(1, [entry(2, 2)])).toThrow(AssertionError);
  });

  it("slices by bytes but always returns at least one entry", () => {
    const big: Entry = { index: 1, term: 1, type: "normal", data: new Uint8Array(100) };
    const log = new RaftLog(0, 0, [big, entry(2, 1)], 0, 0);
    expect(log.slice(1, 3, 10).map((e) => e.index)).toEqual([1]);
    expect(log.slice(1, 3, 1000).map((e) => e.index)).toEqual([1, 2]);
  });
});

describe("Inflights against a model", () => {
  it("frees exactly the messages an acknowledgement covers and bounds count and bytes", () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("add" as const),
        size: fc.integer({ min: 0, max: 50 }),
        step: fc.integer({ min: 1, max: 3 }),
      }),
      fc.record({ kind: fc.constant("free" as const), back: fc.integer({ min: 0, max: 8 }) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 120 }),
        fc.array(op, { maxLength: 80 }),
        (maxCount, maxBytes, ops) => {
          const window = new Inflights(maxCount, maxBytes);
          let model: { last: number; size: number }[] = [];
          let last = 0;
          for (const o of ops) {
            if (o.kind === "add") {
              if (window.full()) continue;
              last += o.step;
              window.add(last, o.size);
              model.push({ last, size: o.size });
            } else {
              const to = last - o.back;
              window.freeTo(to);
              model = model.filter((m) => m.last > to);
            }
            expect(window.count).toBe(model.length);
            expect(window.bytes).toBe(model.reduce((sum, m) => sum + m.size, 0));
            expect(window.full()).toBe(
              model.length >= maxCount || (maxBytes > 0 && window.bytes >= maxBytes),
            );
          }
        },
      ),
      PROPERTY_RUNS,
    );
  });
});
