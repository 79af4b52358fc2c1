// Proves that the frame reader returns exactly the payloads that were framed, however the stream
// splits or merges them, refuses an oversized frame as soon as its header arrives, and honours a
// frame limit changed between two frames (how a connection opens up after its handshake).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CodecError, encodeFrame, FrameReader } from "../../src/transport/index.js";
import { SEED } from "./arbitraries.js";

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Feeds `chunks` one by one and collects every payload the reader yields. */
function readAll(reader: FrameReader, chunks: readonly Uint8Array[]): Uint8Array[] {
  const payloads: Uint8Array[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let payload = reader.next(); payload !== null; payload = reader.next())
      payloads.push(payload.slice());
  }
  return payloads;
}

/** Cuts `bytes` at the given positions (taken modulo the length). */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const positions = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const position of [...positions, bytes.length]) {
    chunks.push(bytes.subarray(start, position));
    start = position;
  }
  return chunks;
}

const payloadsArb = fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 8 });

describe("FrameReader", () => {
  it("returns the payloads of arbitrarily split streams, in order", () => {
    fc.assert(
      fc.property(payloadsArb, fc.array(fc.nat(), { maxLength: 20 }), (payloads, cuts) => {
        const stream = concat(payloads.map((payload) => encodeFrame(payload)));
        const read = readAll(new FrameReader(1024), split(stream, cuts));
        expect(read).toEqual(payloads.map((payload) => new Uint8Array(payload)));
      }),
      { seed: SEED, numRuns: 1_000 },
    );
  });

  it("handles one byte at a time and everything coalesced into one chunk", () => {
    const payloads = [
      new Uint8Array([1, 2, 3]),
      new Uint8Array(0),
      new Uint8Array(500).fill(7),
      new Uint8Array([9]),
    ];
    const stream = concat(payloads.map((payload) => encodeFrame(payload)));
    const bytewise = Array.from(stream, (byte) => new Uint8Array([byte]));
    expect(readAll(new FrameReader(1024), bytewise)).toEqual(payloads);
    expect(readAll(new FrameReader(1024), [stream])).toEqual(payloads);
  });

  it("returns a payload that lies within one chunk as a view, without copying", () => {
    const stream = concat([encodeFrame(new Uint8Array([1, 2])), encodeFrame(new Uint8Array([3, 4, 5]))]);
    const reader = new FrameReader(1024);
    reader.push(stream);
    const first = reader.next()!;
    const second = reader.next()!;
    expect(first.buffer).toBe(stream.buffer);
    expect(second.buffer).toBe(stream.buffer);
    expect([...second]).toEqual([3, 4, 5]);
    expect(reader.next()).toBeNull();
    expect(reader.bufferedBytes).toBe(0);
  });

  it("assembles a large frame from many small chunks", () => {
    const payload = new Uint8Array(4 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const stream = encodeFrame(payload);
    const reader = new FrameReader(8 * 1024 * 1024);
    const read: Uint8Array[] = [];
    for (let offset = 0; offset < stream.length; offset += 1000) {
      reader.push(stream.subarray(offset, offset + 1000));
      const next = reader.next();
      if (next !== null) read.push(next);
    }
    expect(read.length).toBe(1);
    expect(Buffer.from(read[0]!).equals(Buffer.from(payload))).toBe(true);
  });

  it("refuses a frame over the limit as soon as its header is in, before buffering its payload", () => {
    const reader = new FrameReader(100);
    reader.push(new Uint8Array([0, 0, 0, 101]));
    expect(() => reader.next()).toThrow(CodecError);
    const exactly = new FrameReader(100);
    exactly.push(encodeFrame(new Uint8Array(100)));
    expect(exactly.next()?.length).toBe(100);
  });

  it("applies a limit changed between two frames to the next header", () => {
    const stream = concat([encodeFrame(new Uint8Array(10)), encodeFrame(new Uint8Array(5000))]);
    const reader = new FrameReader(16);
    reader.push(stream);
    expect(reader.next()?.length).toBe(10);
    reader.maxFrameBytes = 8192;
    expect(reader.next()?.length).toBe(5000);

    const strict = new FrameReader(16);
    strict.push(stream);
    expect(strict.next()?.length).toBe(10);
    expect(() => strict.next()).toThrow(CodecError);
  });
});
