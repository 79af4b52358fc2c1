// Proves that the message codec is lossless and strict: every message and batch round-trips
// exactly, the layout is the documented one, and random, truncated or bit-flipped frames either
// decode to messages that re-encode to the very same bytes or throw CodecError, never anything else.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RaftLog } from "../../src/raft/index.js";
import type { PeerMessage as Message } from "../../src/transport/peer-message.js";
import {
  CodecError,
  DEFAULT_CODEC_LIMITS,
  decodeBatch,
  decodeMessage,
  encodeBatch,
  encodeMessage,
} from "../../src/transport/index.js";
import { batchArb, messageArb, SEED } from "./arbitraries.js";

/** Decodes, returning the CodecError instead of throwing it; any other exception fails the test. */
function tryDecodeBatch(bytes: Uint8Array): Message[] | CodecError {
  try {
    return decodeBatch(bytes);
  } catch (error) {
    if (error instanceof CodecError) return error;
    throw error;
  }
}

/** How often expectStrict() saw each outcome, so the fuzz tests can show they exercise both. */
const outcomes = { refused: 0, decoded: 0 };

/** A frame is acceptable iff it is refused with CodecError or is the canonical encoding of what it decodes to. */
function expectStrict(bytes: Uint8Array): void {
  const result = tryDecodeBatch(bytes);
  if (result instanceof CodecError) {
    outcomes.refused++;
    return;
  }
  outcomes.decoded++;
  expect(encodeBatch(result)).toEqual(bytes);
}

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof CodecError) return error.code;
    throw error;
  }
  return "no error";
}

describe("round trips", () => {
  it("decode(encode(message)) equals the message, and re-encodes to the same bytes", () => {
    fc.assert(
      fc.property(messageArb, (message) => {
        const bytes = encodeMessage(message);
        const decoded = decodeMessage(bytes);
        expect(decoded).toEqual(message);
        expect(encodeMessage(decoded)).toEqual(bytes);
      }),
      { seed: SEED, numRuns: 2_000 },
    );
  });

  it("batches round-trip in order", () => {
    fc.assert(
      fc.property(batchArb, (messages) => {
        expect(decodeBatch(encodeBatch(messages))).toEqual(messages);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it("decoded entry bytes are plain Uint8Array views of the frame, which the log copies on append", () => {
    const message: Message = {
      type: "append",
      from: "a",
      to: "b",
      term: 2,
      prevIndex: 9,
      prevTerm: 2,
      commit: 9,
      entries: [{ index: 10, term: 2, type: "normal", data: new Uint8Array([1, 2, 3]) }],
    };
    const frame = Buffer.from(encodeMessage(message));
    const decoded = decodeMessage(frame);
    if (decoded.type !== "append") throw new Error("wrong type");
    const data = decoded.entries[0]!.data;
    expect(Object.getPrototypeOf(data)).toBe(Uint8Array.prototype);
    // A view of the frame (no buffer per entry); the log copies what it appends into its slabs.
    const log = new RaftLog(9, 2, [], 9, 9);
    log.appendAfter(9, decoded.entries);
    frame.fill(0);
    expect([...log.entry(10)!.data]).toEqual([1, 2, 3]);
  });
});

describe("layout", () => {
  it("a heartbeat is tag, two length-prefixed ids and three varints", () => {
    const bytes = encodeMessage({ type: "heartbeat", from: "a", to: "b", term: 5, commit: 300, readSeq: 1 });
    expect([...bytes]).toEqual([7, 1, 0x61, 1, 0x62, 5, 0xac, 0x02, 1]);
  });

  it("numbers up to Number.MAX_SAFE_INTEGER take at most 8 bytes", () => {
    const max = Number.MAX_SAFE_INTEGER;
    const bytes = encodeMessage({ type: "read_index", from: "a", to: "b", term: max, context: 2 ** 32 });
    expect(bytes.length).toBe(5 + 8 + 5);
    expect(decodeMessage(bytes)).toEqual({
      type: "read_index",
      from: "a",
      to: "b",
      term: max,
      context: 2 ** 32,
    });
  });

  it("consecutive entries of the message's term cost two bytes plus their data", () => {
    const entries = Array.from({ length: 64 }, (_, i) => ({
      index: 1_000_001 + i,
      term: 7,
      type: "normal" as const,
      data: new Uint8Array(64),
    }));
    const message: Message = {
      type: "append",
      from: "a",
      to: "b",
      term: 7,
      prevIndex: 1_000_000,
      prevTerm: 7,
      commit: 999_999,
      entries,
    };
    const header = 1 + 2 + 2 + 1 + 3 + 1 + 3 + 1;
    expect(encodeMessage(message).length).toBe(header + 64 * (2 + 64));
  });

  it("entries that jump carry their index and term explicitly", () => {
    const message: Message = {
      type: "append",
      from: "a",
      to: "b",
      term: 9,
      prevIndex: 5,
      prevTerm: 4,
      commit: 0,
      entries: [
        { index: 6, term: 4, type: "config", data: new Uint8Array([9]) },
        { index: 8, term: 4, type: "normal", data: new Uint8Array() },
      ],
    };
    const bytes = encodeMessage(message);
    // ... count, then flags (config | explicit term) term 4, data [9]; flags (explicit index) index 8, no data.
    expect([...bytes.subarray(9)]).toEqual([2, 0b101, 4, 1, 9, 0b010, 8, 0]);
    expect(decodeMessage(bytes)).toEqual(message);
  });
});

describe("strict decoding", () => {
  const valid = encodeMessage({ type: "heartbeat", from: "a", to: "b", term: 5, commit: 3, readSeq: 1 });
  const batch = (body: number[]): Uint8Array => new Uint8Array([1, ...body]);

  it("refuses unknown tags, including 0", () => {
    expect(codeOf(() => decodeMessage(new Uint8Array([0, 1, 0x61, 1, 0x62, 5])))).toBe("unknown_tag");
    expect(codeOf(() => decodeMessage(new Uint8Array([17, 1, 0x61, 1, 0x62, 5])))).toBe("unknown_tag");
  });

  it("refuses overlong, oversized and endless varints", () => {
    expect(codeOf(() => decodeMessage(new Uint8Array([7, 1, 0x61, 1, 0x62, 0x85, 0x00, 3, 1])))).toBe(
      "non_canonical",
    );
    const beyondSafe = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10];
    expect(codeOf(() => decodeMessage(new Uint8Array([7, 1, 0x61, 1, 0x62, ...beyondSafe, 3, 1])))).toBe(
      "out_of_range",
    );
    const nineBytes = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
    expect(codeOf(() => decodeMessage(new Uint8Array([7, 1, 0x61, 1, 0x62, ...nineBytes, 3, 1])))).toBe(
      "invalid_varint",
    );
  });

  it("refuses booleans other than 0 and 1", () => {
    expect(codeOf(() => decodeMessage(new Uint8Array([3, 1, 0x61, 1, 0x62, 5, 2])))).toBe("invalid_boolean");
  });

  it("refuses empty ids, invalid UTF-8 and ids over the limit", () => {
    expect(codeOf(() => decodeMessage(new Uint8Array([11, 0, 1, 0x62, 5])))).toBe("out_of_range");
    expect(codeOf(() => decodeMessage(new Uint8Array([11, 2, 0xc3, 0x28, 1, 0x62, 5])))).toBe("invalid_utf8");
    expect(codeOf(() => decodeMessage(new Uint8Array([11, 2, 0xed, 0xa0, 1, 0x62, 5])))).toBe("invalid_utf8");
    const long = [0x80, 0x02, ...new Array<number>(256).fill(0x61)];
    expect(codeOf(() => decodeMessage(new Uint8Array([11, ...long, 1, 0x62, 5])))).toBe("too_large");
  });

  it("keeps a leading byte order mark, so the id re-encodes identically", () => {
    const bom = encodeMessage({ type: "timeout_now", from: "\uFEFFa", to: "b", term: 1 });
    expect(decodeMessage(bom).from).toBe("\uFEFFa");
  });

  it("refuses trailing bytes after a message or a batch", () => {
    expect(codeOf(() => decodeMessage(new Uint8Array([...valid, 0])))).toBe("trailing_bytes");
    expect(codeOf(() => decodeBatch(batch([...valid, 0])))).toBe("trailing_bytes");
  });

  it("refuses empty batches and counts that the frame cannot hold, without allocating for them", () => {
    expect(codeOf(() => decodeBatch(new Uint8Array([0])))).toBe("out_of_range");
    expect(codeOf(() => decodeBatch(new Uint8Array([2, ...valid])))).toBe("truncated");
    const hugeCount = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f];
    expect(codeOf(() => decodeBatch(new Uint8Array([...hugeCount, ...valid])))).toBe("too_large");
    const entries = [5, 1, 0x61, 1, 0x62, 1, 0, 0, 0, 0xff, 0xff, 0x03, 0, 0];
    expect(codeOf(() => decodeMessage(new Uint8Array(entries)))).toBe("truncated");
  });

  it("refuses byte arrays longer than the frame or the limit", () => {
    const chunk = [9, 1, 0x61, 1, 0x62, 1, 1, 1, 0, 0, 4, 0];
    expect(codeOf(() => decodeMessage(new Uint8Array([...chunk, 4, 1, 2])))).toBe("truncated");
    const limits = { ...DEFAULT_CODEC_LIMITS, maxBytesFieldLength: 2 };
    expect(codeOf(() => decodeMessage(new Uint8Array([...chunk, 3, 1, 2, 3]), limits))).toBe("too_large");
  });

  it("refuses unknown entry flags and explicit values that equal the implied ones", () => {
    const append = [5, 1, 0x61, 1, 0x62, 1, 0, 1, 0, 1];
    expect(codeOf(() => decodeMessage(new Uint8Array([...append, 0b1000, 0])))).toBe("invalid_flags");
    expect(codeOf(() => decodeMessage(new Uint8Array([...append, 0b010, 1, 0])))).toBe("non_canonical");
    expect(codeOf(() => decodeMessage(new Uint8Array([...append, 0b100, 1, 0])))).toBe("non_canonical");
  });

  it("refuses an implied entry index beyond Number.MAX_SAFE_INTEGER", () => {
    const maxSafe = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f];
    const append = [5, 1, 0x61, 1, 0x62, 1, ...maxSafe, 0, 0, 1, 0, 0];
    expect(codeOf(() => decodeMessage(new Uint8Array(append)))).toBe("out_of_range");
  });

  it("refuses memberships over the limit", () => {
    const limits = { ...DEFAULT_CODEC_LIMITS, maxMembershipNodes: 2 };
    const snapshot = (voters: number[], learners: number[]): Uint8Array =>
      new Uint8Array([9, 1, 0x61, 1, 0x62, 1, 1, 1, ...voters, ...learners, 0, 0, 0]);
    expect(decodeMessage(snapshot([1, 1, 0x61], [1, 1, 0x62]), limits).type).toBe("snapshot");
    expect(codeOf(() => decodeMessage(snapshot([2, 1, 0x61, 1, 0x63], [1, 1, 0x62]), limits))).toBe(
      "too_large",
    );
  });
});

describe("encoding refuses values without an encoding", () => {
  const base = { type: "heartbeat" as const, from: "a", to: "b", term: 1, commit: 1, readSeq: 1 };

  it.each<[string, Message]>([
    ["a negative number", { ...base, term: -1 }],
    ["a fraction", { ...base, commit: 1.5 }],
    ["a number beyond MAX_SAFE_INTEGER", { ...base, readSeq: 2 ** 53 }],
    ["NaN", { ...base, term: Number.NaN }],
    ["an empty id", { ...base, from: "" }],
    ["an id with a lone surrogate", { ...base, to: "b\uD800" }],
    ["an id over 255 bytes", { ...base, from: "x".repeat(256) }],
    ["an unknown type", { ...base, type: "gossip" } as unknown as Message],
  ])("%s", (_, message) => {
    expect(codeOf(() => encodeMessage(message))).toBe("invalid_value");
  });

  it("an unknown entry type", () => {
    const message = {
      type: "append",
      from: "a",
      to: "b",
      term: 1,
      prevIndex: 0,
      prevTerm: 0,
      commit: 0,
      entries: [{ index: 1, term: 1, type: "weird", data: new Uint8Array() }],
    } as unknown as Message;
    expect(codeOf(() => encodeMessage(message))).toBe("invalid_value");
  });
});

describe("fuzzing (fixed seed)", () => {
  it("random bytes decode canonically or throw CodecError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => expectStrict(bytes)),
      { seed: SEED, numRuns: 20_000 },
    );
  });

  it("random bytes behind a valid tag and ids decode canonically or throw CodecError", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 13 }), fc.uint8Array({ maxLength: 100 }), (tag, tail) =>
        expectStrict(new Uint8Array([1, tag, 1, 0x61, 1, 0x62, ...tail])),
      ),
      { seed: SEED, numRuns: 20_000 },
    );
  });

  it("every strict prefix of a valid batch is refused as truncated", () => {
    fc.assert(
      fc.property(batchArb, (messages) => {
        const bytes = encodeBatch(messages);
        for (let length = 0; length < bytes.length; length++) {
          expect(codeOf(() => decodeBatch(bytes.subarray(0, length)))).toBe("truncated");
        }
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  it("bit-flipped batches decode canonically or throw CodecError, and both happen", () => {
    outcomes.refused = 0;
    outcomes.decoded = 0;
    fc.assert(
      fc.property(batchArb, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), (messages, flips) => {
        const bytes = encodeBatch(messages).slice();
        for (const flip of flips) {
          const bit = flip % (bytes.length * 8);
          bytes[bit >> 3]! ^= 1 << (bit & 7);
        }
        expectStrict(bytes);
      }),
      { seed: SEED, numRuns: 5_000 },
    );
    expect(outcomes.refused).toBeGreaterThan(500);
    expect(outcomes.decoded).toBeGreaterThan(500);
  });

  it("batches with bytes inserted, removed or overwritten decode canonically or throw CodecError", () => {
    fc.assert(
      fc.property(
        batchArb,
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 2 }),
        (messages, at, value, kind) => {
          const bytes = [...encodeBatch(messages)];
          const position = at % bytes.length;
          if (kind === 0) bytes.splice(position, 0, value);
          else if (kind === 1) bytes.splice(position, 1);
          else bytes[position] = value;
          expectStrict(new Uint8Array(bytes));
        },
      ),
      { seed: SEED, numRuns: 5_000 },
    );
  });
});
