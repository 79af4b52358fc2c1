/**
 * The versioned command envelope: how a command travels inside a log entry. An entry's bytes are
 * the UTF-8 JSON text of an envelope written by the leader; consensus_log.data keeps exactly that
 * text, so a restarted node rebuilds byte-identical entries.
 *
 *   v1: {"v":1,"kind":"decisions.vote","ts":1733040000000,"origin":"n2/5f3a9c/17","body":{...}}
 *
 * `ts` is the leader's clock when it accepted the command (apply never reads a clock). `origin`
 * is present on proposals a follower forwarded: it names the waiting request, so that follower
 * can answer its client when it applies the entry. Entries written before the envelope was
 * versioned ({"command":{...},"timestamp":...}) still decode; see CommandSpec.legacy.
 */

import { isRecord } from "./json.js";

/** The envelope version this build writes. */
export const ENVELOPE_VERSION = 1;

/** A command as written into the log. */
export interface Envelope {
  readonly kind: string;
  /** When the leader accepted it, milliseconds since the epoch. */
  readonly ts: number;
  /** The forwarding request this entry answers, or null. */
  readonly origin: string | null;
  readonly body: unknown;
  /** Set on entries written before the envelope was versioned: their command object as written. */
  readonly legacy?: Record<string, unknown>;
}

/** Why entry bytes are not an envelope this build understands. */
export class EnvelopeError extends Error {
  override name = "EnvelopeError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The envelope's JSON text. Key order is fixed, so equal envelopes encode equally. */
export function envelopeText(kind: string, ts: number, origin: string | null, body: unknown): string {
  const head = `{"v":${ENVELOPE_VERSION},"kind":${JSON.stringify(kind)},"ts":${ts}`;
  const tail = `,"body":${JSON.stringify(body) ?? "null"}}`;
  return origin === null ? head + tail : `${head},"origin":${JSON.stringify(origin)}${tail}`;
}

/** Encodes an envelope as entry bytes. */
export function encodeEnvelope(kind: string, ts: number, origin: string | null, body: unknown): Uint8Array {
  return encoder.encode(envelopeText(kind, ts, origin, body));
}

/** Decodes entry bytes; throws EnvelopeError when they are not an envelope. */
export function decodeEnvelope(data: Uint8Array): Envelope {
  return parseEnvelopeText(decoder.decode(data));
}

/** Parses an envelope's JSON text (v1, or the unversioned form that preceded it). */
export function parseEnvelopeText(text: string): Envelope {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new EnvelopeError("a log entry is not JSON");
  }
  if (!isRecord(value)) throw new EnvelopeError("a log entry is not an envelope object");
  if (value["v"] === undefined) return parseLegacy(value);
  if (value["v"] !== ENVELOPE_VERSION) {
    throw new EnvelopeError(`envelope version ${JSON.stringify(value["v"])} is not known to this build`);
  }
  const { kind, ts, origin, body } = value;
  if (typeof kind !== "string") throw new EnvelopeError("an envelope has no kind");
  if (typeof ts !== "number" || !Number.isFinite(ts)) throw new EnvelopeError("an envelope has no timestamp");
  if (origin !== undefined && typeof origin !== "string")
    throw new EnvelopeError("an envelope's origin is not text");
  return { kind, ts, origin: origin ?? null, body };
}

/** The form before versioning: {"command":{"kind":...,...},"timestamp":...}. */
function parseLegacy(value: Record<string, unknown>): Envelope {
  const { command, timestamp } = value;
  if (!isRecord(command) || typeof command["kind"] !== "string")
    throw new EnvelopeError("a log entry has no command");
  if (typeof timestamp !== "number") throw new EnvelopeError("a log entry has no timestamp");
  return { kind: command["kind"], ts: timestamp, origin: null, body: null, legacy: command };
}
