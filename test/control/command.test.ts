// Proves that every log entry survives the trip through a consensus_log row byte for byte, so a
// node restarted from its store holds exactly the entries its peers hold.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CONFIG_ENTRY_TYPE,
  NOOP_ENTRY_TYPE,
  VOTE_ENTRY_TYPE,
  encodeEnvelope,
  entryOf,
  recordOf,
  type Command,
  type Envelope,
  type JsonValue,
} from "../../src/control/index.js";
import { encodeChange, type Entry } from "../../src/raft/index.js";

const json: fc.Arbitrary<JsonValue> = fc.jsonValue() as fc.Arbitrary<JsonValue>;

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    kind: fc.constant("propose" as const),
    entryType: fc.string({ minLength: 1, maxLength: 50 }),
    data: json,
  }),
  fc.record({
    kind: fc.constant("propose" as const),
    entryType: fc.string({ minLength: 1, maxLength: 50 }),
    data: json,
    approval: fc.record({
      voters: fc.uniqueArray(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 5 }),
      quorum: fc.integer({ min: 1, max: 5 }),
    }),
  }),
  fc.record({
    kind: fc.constant("vote" as const),
    proposal: fc.integer({ min: 1 }),
    voter: fc.string({ minLength: 1 }),
    vote: fc.constantFrom("approve" as const, "reject" as const),
  }),
);

describe("log entries and consensus_log rows", () => {
  it("a command entry round-trips byte for byte", () => {
    fc.assert(
      fc.property(
        command,
        fc.integer({ min: 0, max: 2 ** 45 }),
        fc.integer({ min: 1 }),
        fc.integer({ min: 1 }),
        (c, timestamp, index, term) => {
          const envelope: Envelope = { command: c, timestamp };
          const entry: Entry = { index, term, type: "normal", data: encodeEnvelope(envelope) };
          const record = recordOf(entry);
          expect(record.timestamp).toBe(timestamp);
          expect(record.entryType).toBe(c.kind === "propose" ? c.entryType : VOTE_ENTRY_TYPE);
          const back = entryOf(record);
          expect(back).toEqual(entry);
          expect(Buffer.from(back.data).equals(Buffer.from(entry.data))).toBe(true);
        },
      ),
      { seed: 20261124, numRuns: 1000 },
    );
  });

  it("no-ops and membership changes round-trip too", () => {
    const noop: Entry = { index: 2, term: 2, type: "normal", data: new Uint8Array(0) };
    expect(recordOf(noop).entryType).toBe(NOOP_ENTRY_TYPE);
    expect(entryOf(recordOf(noop))).toEqual(noop);
    const config: Entry = {
      index: 1,
      term: 1,
      type: "config",
      data: encodeChange({ type: "bootstrap", voters: ["a", "b"] }),
    };
    expect(recordOf(config).entryType).toBe(CONFIG_ENTRY_TYPE);
    expect(recordOf(config).timestamp).toBeNull();
    expect(entryOf(recordOf(config))).toEqual(config);
  });

  it("equal envelopes encode to equal bytes, whatever order the caller built them in", () => {
    const a: Envelope = { command: { kind: "vote", proposal: 3, voter: "x", vote: "approve" }, timestamp: 5 };
    const b = {
      timestamp: 5,
      command: { vote: "approve", voter: "x", proposal: 3, kind: "vote" },
    } as Envelope;
    expect(encodeEnvelope(b)).toEqual(encodeEnvelope(a));
  });
});
