// Proves the per-peer queue's policy: it never exceeds its message or byte bound, makes room by
// evicting the oldest ordinary messages, never evicts snapshot chunks for them (dropping the new
// message instead), accounts for every message, and hands out batches in queue order.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SendQueue } from "../../src/transport/send-queue.js";
import { SEED } from "./arbitraries.js";

/** A message of `size` bytes whose first byte names it. */
const message = (id: number, size = 10): Uint8Array => new Uint8Array(size).fill(id);

describe("SendQueue", () => {
  it("evicts the oldest ordinary message when the count bound is reached", () => {
    const queue = new SendQueue(3, 1_000);
    for (let id = 1; id <= 5; id++) queue.push(message(id), false);
    expect(queue.messages).toBe(3);
    expect(queue.takeBatch(10, 1_000).map((bytes) => bytes[0])).toEqual([3, 4, 5]);
  });

  it("evicts by bytes as well as by count", () => {
    const queue = new SendQueue(100, 25);
    queue.push(message(1), false);
    queue.push(message(2), false);
    const result = queue.push(message(3), false);
    expect(result).toEqual({ accepted: true, evictedMessages: 1, evictedBytes: 10 });
    expect(queue.bytes).toBe(20);
  });

  it("keeps snapshot chunks and evicts the ordinary messages around them", () => {
    const queue = new SendQueue(3, 1_000);
    queue.push(message(1), false);
    queue.push(message(2), true);
    queue.push(message(3), false);
    queue.push(message(4), false);
    queue.push(message(5), false);
    expect(queue.takeBatch(10, 1_000).map((bytes) => bytes[0])).toEqual([2, 4, 5]);
  });

  it("drops the new message when only snapshot chunks could make room", () => {
    const queue = new SendQueue(2, 1_000);
    queue.push(message(1), true);
    queue.push(message(2), true);
    expect(queue.push(message(3), false)).toEqual({ accepted: false, evictedMessages: 0, evictedBytes: 0 });
    expect(queue.push(message(4), true).accepted).toBe(false);
    expect(queue.takeBatch(10, 1_000).map((bytes) => bytes[0])).toEqual([1, 2]);
  });

  it("takes batches in queue order, bounded by count and bytes but at least one message", () => {
    const queue = new SendQueue(100, 10_000);
    queue.push(message(1, 50), false);
    queue.push(message(2, 50), true);
    queue.push(message(3, 50), false);
    queue.push(message(4, 500), false);
    expect(queue.takeBatch(2, 10_000).map((bytes) => bytes[0])).toEqual([1, 2]);
    expect(queue.takeBatch(10, 100).map((bytes) => bytes[0])).toEqual([3]);
    expect(queue.takeBatch(10, 100).map((bytes) => bytes[0])).toEqual([4]);
    expect(queue.messages).toBe(0);
    expect(queue.bytes).toBe(0);
  });

  it("stays within its bounds and accounts for every message, whatever arrives", () => {
    const operation = fc.oneof(
      fc.record({ push: fc.integer({ min: 1, max: 60 }), snapshot: fc.boolean() }),
      fc.record({ take: fc.integer({ min: 1, max: 5 }) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 300 }), (operations) => {
        const queue = new SendQueue(8, 200);
        let accepted = 0;
        let evicted = 0;
        let refused = 0;
        let taken = 0;
        for (const op of operations) {
          if ("push" in op) {
            const result = queue.push(new Uint8Array(op.push), op.snapshot);
            if (result.accepted) accepted++;
            else refused++;
            evicted += result.evictedMessages;
          } else {
            taken += queue.takeBatch(op.take, 1_000).length;
          }
          expect(queue.messages).toBeLessThanOrEqual(8);
          expect(queue.bytes).toBeLessThanOrEqual(200);
        }
        expect(accepted + refused).toBe(operations.filter((op) => "push" in op).length);
        expect(accepted - evicted - taken).toBe(queue.messages);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});
