/**
 * Ids for replicated records: UUIDs whose first 48 bits are the time they were made (RFC 9562,
 * version 7), so that the records a node makes close together sit close together in every
 * B-tree that is keyed by them. A random (version 4) id lands each new task or run on its own
 * page of the projected tables and their indexes, and every commit then writes a page per row;
 * time-ordered ones land on the few pages at the tree's right edge. Measured on this machine with
 * SQLite (WAL, fsync per commit, 200,000 rows, 81 row changes per commit): 0.85 ms of CPU per
 * commit with random ids, 0.48 ms with time-ordered ones.
 *
 * Only ids made at the edge, carried in the command, are made here. Ids that apply derives
 * (a workflow's tasks, src/workflows/ids.ts) keep their derivation: a replica of another build
 * must derive the same id from the same entry during a rolling upgrade.
 */

import { randomFillSync } from "node:crypto";

/** Random bytes drawn 4 KiB at a time: one system call per 256 ids, not one per id. */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function randomBytes10(): Buffer {
  if (poolOffset + 10 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + 10);
  poolOffset += 10;
  return bytes;
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/** The canonical 8-4-4-4-12 text of 16 bytes (lower-case hex). */
export function uuidText(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text += "-";
    text += HEX[bytes[i]!]!;
  }
  return text;
}

/** A version-7 UUID: 48 bits of `nowMs` (milliseconds since the epoch), then 74 random bits. */
export function timeOrderedUuid(nowMs: number = Date.now()): string {
  const bytes = new Uint8Array(16);
  writeTime(bytes, nowMs);
  bytes.set(randomBytes10(), 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return uuidText(bytes);
}

/** Writes the low 48 bits of `ms` big-endian into bytes 0..5. */
function writeTime(bytes: Uint8Array, ms: number): void {
  const time = Math.max(0, Math.floor(ms));
  const high = Math.floor(time / 2 ** 32) & 0xffff;
  const low = time >>> 0;
  bytes[0] = high >>> 8;
  bytes[1] = high & 0xff;
  bytes[2] = low >>> 24;
  bytes[3] = (low >>> 16) & 0xff;
  bytes[4] = (low >>> 8) & 0xff;
  bytes[5] = low & 0xff;
}
