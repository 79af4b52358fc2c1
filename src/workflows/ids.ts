/**
 * Deterministic ids for what a run creates (tasks, sub-workflows): a UUID derived from the run's
 * id and the idempotency key, so every replica that applies the same entry names the same task
 * without a random generator, and a retried proposal names it again.
 */

import { createHash } from "node:crypto";
import { uuidText } from "../util/ids.js";

/** Bytes of `text` in UTF-8 (what JSON bounds are measured in). */
export function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/**
 * A UUID (version 8, RFC 9562's custom layout) derived from `namespace` and `key`: the first
 * 122 bits of SHA-256 over both. The same inputs give the same id on every replica.
 */
export function derivedUuid(namespace: string, key: string): string {
  const bytes = createHash("sha256").update(`${namespace}\u0000${key}`, "utf8").digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return uuidText(bytes);
}
