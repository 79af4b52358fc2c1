/**
 * The state hash: a 32-bit FNV-1a chain over every applied entry (index, term, type, bytes). Two
 * replicas that applied the same log have the same hash at every index, so comparing it (the
 * status API shows it, the simulator checks it) finds a diverged replica, as etcd's hashkv does.
 */

import type { Entry } from "../raft/types.js";

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Extends the hash chain `previous` with one more applied entry. */
export function chainHash(previous: number, entry: Entry): number {
  let hash = (previous ^ FNV_OFFSET) >>> 0;
  hash = mixWord(hash, entry.index);
  hash = mixWord(hash, entry.term);
  hash = mixWord(hash, entry.type === "config" ? 1 : 0);
  const data = entry.data;
  for (let i = 0; i < data.length; i++) hash = Math.imul(hash ^ data[i]!, FNV_PRIME) >>> 0;
  return hash;
}

/** Mixes the low 32 bits of `value` into `hash`, a byte at a time. */
function mixWord(hash: number, value: number): number {
  let h = hash;
  h = Math.imul(h ^ (value & 0xff), FNV_PRIME) >>> 0;
  h = Math.imul(h ^ ((value >>> 8) & 0xff), FNV_PRIME) >>> 0;
  h = Math.imul(h ^ ((value >>> 16) & 0xff), FNV_PRIME) >>> 0;
  return Math.imul(h ^ ((value >>> 24) & 0xff), FNV_PRIME) >>> 0;
}

/** The hash as 8 hex digits, as the API and snapshots write it. */
export function hashText(hash: number): string {
  return hash.toString(16).padStart(8, "0");
}

/** 32-bit FNV-1a of a string's UTF-16 code units: the same on every replica and every run. */
export function fnv1a(text: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), FNV_PRIME);
  return hash >>> 0;
}

/** murmur3's 32-bit finaliser: spreads every input bit over the output (nearby keys scatter). */
export function finalize32(value: number): number {
  let hash = value;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
