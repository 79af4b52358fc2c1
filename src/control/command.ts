/**
 * The commands juno replicates, and their exact encoding in log entries. An entry's bytes are the
 * UTF-8 JSON text of an envelope written by the leader; the same text is what the store keeps in
 * consensus_log.data, so a restarted node rebuilds byte-identical entries.
 */

import { assert } from "../raft/assert.js";
import type { Entry } from "../raft/types.js";

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A decision that needs votes before it counts. */
export interface ApprovalRule {
  readonly voters: readonly string[];
  readonly quorum: number;
}

/** One replicated command. */
export type Command =
  | {
      readonly kind: "propose";
      readonly entryType: string;
      readonly data: JsonValue;
      readonly approval?: ApprovalRule;
    }
  | {
      readonly kind: "vote";
      readonly proposal: number;
      readonly voter: string;
      readonly vote: "approve" | "reject";
    }
  | {
      /** A node announces where it can be reached (a new leader does, so followers can forward to it). */
      readonly kind: "member";
      readonly id: string;
      readonly raftAddress: string | null;
      readonly httpAddress: string | null;
    };

/** A command as written into the log: what, and when the leader accepted it (ms since the epoch). */
export interface Envelope {
  readonly command: Command;
  readonly timestamp: number;
}

/** Entry types juno writes itself; user entry types may not start with these prefixes. */
export const RESERVED_ENTRY_TYPE_PREFIXES = ["raft.", "consensus.", "juno."] as const;

/** The entry_type recorded for a member's address announcement. */
export const MEMBER_ENTRY_TYPE = "juno.member";
/** The entry_type recorded for a vote. */
export const VOTE_ENTRY_TYPE = "consensus.vote";
/** The entry_type recorded for a leader's no-op. */
export const NOOP_ENTRY_TYPE = "raft.noop";
/** The entry_type recorded for a membership change. */
export const CONFIG_ENTRY_TYPE = "raft.config";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes an envelope as entry bytes. The key order is fixed, so equal envelopes encode equally. */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  return encoder.encode(envelopeText(envelope));
}

/** The envelope's JSON text (what consensus_log.data holds). */
export function envelopeText(envelope: Envelope): string {
  const c = envelope.command;
  const command =
    c.kind === "propose"
      ? c.approval === undefined
        ? { kind: c.kind, entryType: c.entryType, data: c.data }
        : {
            kind: c.kind,
            entryType: c.entryType,
            data: c.data,
            approval: { voters: c.approval.voters, quorum: c.approval.quorum },
          }
      : c.kind === "vote"
        ? { kind: c.kind, proposal: c.proposal, voter: c.voter, vote: c.vote }
        : { kind: c.kind, id: c.id, raftAddress: c.raftAddress, httpAddress: c.httpAddress };
  return JSON.stringify({ command, timestamp: envelope.timestamp });
}

/** Decodes entry bytes written by encodeEnvelope; anything else in the log is a broken invariant. */
export function decodeEnvelope(data: Uint8Array): Envelope {
  return parseEnvelopeText(decoder.decode(data));
}

/** Parses an envelope's JSON text, checking its shape. */
export function parseEnvelopeText(text: string): Envelope {
  const value = JSON.parse(text) as Envelope;
  assert(typeof value === "object" && value !== null, "log entry is not an envelope");
  assert(typeof value.timestamp === "number", "log entry has no timestamp");
  const command = value.command as Partial<Command> | undefined;
  assert(
    command?.kind === "propose" || command?.kind === "vote" || command?.kind === "member",
    "log entry has an unknown command",
  );
  return value;
}

/** Where a member is reached; carried as the context of an add_learner change, as JSON. */
export interface MemberAddresses {
  readonly raft: string | null;
  readonly http: string | null;
}

/** Encodes member addresses as a membership change's context. */
export function encodeMemberContext(addresses: MemberAddresses): string {
  return JSON.stringify({ raft: addresses.raft, http: addresses.http });
}

/** How an entry appears in consensus_log and in the log API. */
export interface LogRecord {
  readonly index: number;
  readonly term: number;
  readonly entryType: string;
  /** The exact JSON text stored (the envelope for commands, the change for config entries, "null" for no-ops). */
  readonly dataText: string;
  /** When the leader accepted it (ms since the epoch), or null for Raft's own entries. */
  readonly timestamp: number | null;
}

/** Describes a log entry as a consensus_log row. */
export function recordOf(entry: Entry): LogRecord {
  const base = { index: entry.index, term: entry.term };
  if (entry.type === "config") {
    return { ...base, entryType: CONFIG_ENTRY_TYPE, dataText: decoder.decode(entry.data), timestamp: null };
  }
  if (entry.data.length === 0)
    return { ...base, entryType: NOOP_ENTRY_TYPE, dataText: "null", timestamp: null };
  const dataText = decoder.decode(entry.data);
  const envelope = parseEnvelopeText(dataText);
  const command = envelope.command;
  const entryType =
    command.kind === "propose"
      ? command.entryType
      : command.kind === "vote"
        ? VOTE_ENTRY_TYPE
        : MEMBER_ENTRY_TYPE;
  return { ...base, entryType, dataText, timestamp: envelope.timestamp };
}

/** Rebuilds the exact log entry a consensus_log row was made from. */
export function entryOf(record: LogRecord): Entry {
  const base = { index: record.index, term: record.term };
  if (record.entryType === CONFIG_ENTRY_TYPE)
    return { ...base, type: "config", data: encoder.encode(record.dataText) };
  if (record.entryType === NOOP_ENTRY_TYPE) return { ...base, type: "normal", data: new Uint8Array(0) };
  return { ...base, type: "normal", data: encoder.encode(record.dataText) };
}
