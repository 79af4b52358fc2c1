/**
 * The versioned command envelope: how a command travels inside a log entry. An entry's bytes are
 * the UTF-8 JSON text of an envelope written by the leader; consensus_log.data keeps exactly that
 * text, so a restarted node rebuilds byte-identical entries.
 *
 *   v1: {"v":1,"kind":"decisions.vote","ts":1733040000000,"origin":"n2/5f3a9c/17","body":{...}}
 *   v1: {"v":1,"kind":"tasks.cancel","ts":...,"actor":{"id":"...","name":"ops","role":"admin","agent_id":null},"body":{...}}
 *
 * `ts` is the leader's clock when it accepted the command (apply never reads a clock). `origin`
 * is present on proposals a follower forwarded: it names the waiting request, so that follower
 * can answer its client when it applies the entry. `actor` is present on commands proposed on
 * behalf of an API caller that the audit log records (who cancelled a task): it travels with the
 * command, so every replica records the same actor. Both are optional, so entries without them
 * (all of them, before actors existed) read as before. Entries written before the envelope was
 * versioned ({"command":{...},"timestamp":...}) still decode; see CommandSpec.legacy.
 */

import { isRecord } from "./json.js";

/** The envelope version this build writes. */
export const ENVELOPE_VERSION = 1;

/** The API caller a command was proposed for, as the entry records it. */
export interface Actor {
  /** The token's id ("api-token" for JUNO_API_TOKEN, "file:<name>", a UUID, or "anonymous"). */
  readonly id: string;
  readonly name: string;
  /** admin, operator, reader or agent (text here: the kernel does not interpret it). */
  readonly role: string;
  /** The agent an agent token is bound to, else null. */
  readonly agent_id: string | null;
}

/** Longest actor id, name or agent id an envelope accepts (token ids and names are far shorter). */
export const MAX_ACTOR_FIELD_LENGTH = 128;

/** A command as written into the log. */
export interface Envelope {
  readonly kind: string;
  /** When the leader accepted it, milliseconds since the epoch. */
  readonly ts: number;
  /** The forwarding request this entry answers, or null. */
  readonly origin: string | null;
  /** Who the command was proposed for, or null (controllers, and commands nobody audits). */
  readonly actor: Actor | null;
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
export function envelopeText(
  kind: string,
  ts: number,
  origin: string | null,
  body: unknown,
  actor: Actor | null = null,
): string {
  let text = `{"v":${ENVELOPE_VERSION},"kind":${JSON.stringify(kind)},"ts":${ts}`;
  if (origin !== null) text += `,"origin":${JSON.stringify(origin)}`;
  if (actor !== null) text += `,"actor":${actorText(actor)}`;
  return `${text},"body":${JSON.stringify(body) ?? "null"}}`;
}

/** Encodes an envelope as entry bytes. */
export function encodeEnvelope(
  kind: string,
  ts: number,
  origin: string | null,
  body: unknown,
  actor: Actor | null = null,
): Uint8Array {
  return encoder.encode(envelopeText(kind, ts, origin, body, actor));
}

/** An actor's JSON text, its keys in a fixed order (whatever order the object was built in). */
export function actorText(actor: Actor): string {
  return JSON.stringify({ id: actor.id, name: actor.name, role: actor.role, agent_id: actor.agent_id });
}

/** `value` as an actor, or null when it is not one (wrong types, a field too long). */
export function parseActor(value: unknown): Actor | null {
  if (!isRecord(value)) return null;
  const { id, name, role, agent_id } = value;
  const fine = (text: unknown): text is string =>
    typeof text === "string" && text.length > 0 && text.length <= MAX_ACTOR_FIELD_LENGTH;
  if (!fine(id) || !fine(name) || !fine(role)) return null;
  if (agent_id !== null && !fine(agent_id)) return null;
  return { id, name, role, agent_id };
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
  const { kind, ts, origin, actor, body } = value;
  if (typeof kind !== "string") throw new EnvelopeError("an envelope has no kind");
  if (typeof ts !== "number" || !Number.isFinite(ts)) throw new EnvelopeError("an envelope has no timestamp");
  if (origin !== undefined && typeof origin !== "string")
    throw new EnvelopeError("an envelope's origin is not text");
  const parsedActor = actor === undefined ? null : parseActor(actor);
  if (actor !== undefined && parsedActor === null)
    throw new EnvelopeError("an envelope's actor is malformed");
  return { kind, ts, origin: origin ?? null, actor: parsedActor, body };
}

/** The form before versioning: {"command":{"kind":...,...},"timestamp":...}. */
function parseLegacy(value: Record<string, unknown>): Envelope {
  const { command, timestamp } = value;
  if (!isRecord(command) || typeof command["kind"] !== "string")
    throw new EnvelopeError("a log entry has no command");
  if (typeof timestamp !== "number") throw new EnvelopeError("a log entry has no timestamp");
  return { kind: command["kind"], ts: timestamp, origin: null, actor: null, body: null, legacy: command };
}
