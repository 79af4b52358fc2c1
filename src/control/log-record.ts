/**
 * Log entries as consensus_log rows and as the log API shows them. The row keeps the entry's exact
 * bytes as text (`data`), so a restarted node rebuilds byte-identical entries; the entry type and
 * timestamp are read off the envelope by the module that owns the command.
 */

import type { Entry } from "../raft/types.js";
import { parseEnvelopeText, type Envelope } from "./envelope.js";
import type { JsonValue } from "./json.js";
import type { LogView } from "./module.js";
import type { ModuleRegistry } from "./registry.js";

/** The entry_type recorded for a membership change. */
export const CONFIG_ENTRY_TYPE = "raft.config";
/** The entry_type recorded for a leader's no-op. */
export const NOOP_ENTRY_TYPE = "raft.noop";
/** Entry types juno writes itself; user entry types may not start with these prefixes. */
export const RESERVED_ENTRY_TYPE_PREFIXES = ["raft.", "consensus.", "juno."] as const;

/** How an entry appears in consensus_log. */
export interface LogRecord {
  readonly index: number;
  readonly term: number;
  readonly entryType: string;
  /** The exact text of the entry's bytes (the envelope for commands, the change for config entries, "null" for no-ops). */
  readonly dataText: string;
  /** When the leader accepted it (ms since the epoch), or null for Raft's own entries. */
  readonly timestamp: number | null;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Describes a log entry as a consensus_log row. */
export function recordOf(registry: ModuleRegistry, entry: Entry): LogRecord {
  const base = { index: entry.index, term: entry.term };
  if (entry.type === "config") {
    return { ...base, entryType: CONFIG_ENTRY_TYPE, dataText: decoder.decode(entry.data), timestamp: null };
  }
  if (entry.data.length === 0)
    return { ...base, entryType: NOOP_ENTRY_TYPE, dataText: "null", timestamp: null };
  const { text, envelope } = registry.decodeEntry(entry.data);
  const { spec, body, ts } = commandOf(registry, envelope);
  return { ...base, entryType: spec?.entryType(body) ?? "unknown", dataText: text, timestamp: ts };
}

/** Rebuilds the exact log entry a consensus_log row was made from. */
export function entryOf(record: LogRecord): Entry {
  const base = { index: record.index, term: record.term };
  if (record.entryType === CONFIG_ENTRY_TYPE)
    return { ...base, type: "config", data: encoder.encode(record.dataText) };
  if (record.entryType === NOOP_ENTRY_TYPE) return { ...base, type: "normal", data: new Uint8Array(0) };
  return { ...base, type: "normal", data: encoder.encode(record.dataText) };
}

/** What the log API shows for a row: the command's own view, the change, or null data. */
export function logViewOf(registry: ModuleRegistry, record: LogRecord): LogView {
  // A membership change is stored as its JSON text (encodeChange).
  if (record.entryType === CONFIG_ENTRY_TYPE) return { data: JSON.parse(record.dataText) as JsonValue };
  if (record.entryType === NOOP_ENTRY_TYPE) return { data: null };
  const { spec, body } = commandOf(registry, parseEnvelopeText(record.dataText));
  return spec === undefined ? { data: null } : spec.logView(body);
}

function commandOf(registry: ModuleRegistry, envelope: Envelope) {
  const registered =
    envelope.legacy === undefined ? registry.command(envelope.kind) : registry.legacyCommand(envelope.kind);
  const body = envelope.legacy === undefined ? envelope.body : registered?.spec.legacy?.body(envelope.legacy);
  // A body that failed its schema was refused at apply; its log row still shows what was written.
  const valid = registered !== undefined && registry.problem(registered.spec.kind, body) === null;
  return { spec: valid ? registered.spec : undefined, body, ts: envelope.ts };
}
