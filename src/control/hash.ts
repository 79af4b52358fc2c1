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
