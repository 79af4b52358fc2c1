/**
 * The shape of a domain module's replicated half: its command kinds (schema, checks and a pure
 * apply), its versioned snapshot section, the rows it projects into the store's tables, and its
 * error codes. The kernel (kernel.ts) runs every registered module through this one interface;
 * nothing outside a module names its commands or its state.
 */

import type { Static, TSchema } from "typebox";
import type { ConfigChange } from "../raft/types.js";
import type { Actor } from "./envelope.js";
import type { JsonValue } from "./json.js";

/** What apply knows besides the command: where the entry sits and when the leader accepted it. */
export interface ApplyContext {
  readonly index: number;
  readonly term: number;
  /** Milliseconds since the epoch, stamped by the leader into the entry (apply never reads a clock). */
  readonly timestamp: number;
  /** The API caller the entry's command was proposed for, as the entry records it; null for none. */
  readonly actor?: Actor | null;
  /**
   * Another module's state as of this entry, to read and never to change: the tasks module places
   * a task by the agents it sees here. Every replica reads the same state at the same index.
   */
  readonly read?: <S>(module: StateModule<S>) => S;
  /**
   * Applies another module's command inside this entry, as if it were the entry's own: its rows
   * join the entry's, its notices are heard after the current one, and a refusal comes back here
   * having changed nothing. A workflow step's task is submitted in the entry that finished the
   * step before it, so the two are one atomic change.
   */
  readonly invoke?: <S, T extends TSchema, R>(
    spec: CommandSpec<S, T, R>,
    body: Static<T>,
  ) => Accepted<R> | Refusal;
}

/**
 * A fact one module's command produced that other modules may react to in the same entry (a
 * workflow's task ended, a decision was decided). Notices are never stored: each is heard in the
 * entry that made it, on every replica alike.
 */
export interface Notice {
  /** `<module>.<fact>`: "tasks.ended". */
  readonly topic: string;
  readonly data: unknown;
}

/** A value a projected table column holds. */
export type SqlValue = string | number | null;

/** One row of a projected table, by column name. */
export type Row = Readonly<Record<string, SqlValue>>;

/** A change to one row of a projected table (the seed's tables are projections of the state). */
export type RowChange =
  | { readonly table: string; readonly op: "upsert"; readonly row: Row }
  | { readonly table: string; readonly op: "delete"; readonly key: Row };

/** A command refused by apply: nothing changed. Stable codes, handed to clients as they are. */
export interface Refusal {
  readonly ok: false;
  readonly code: string;
  readonly message: string;
}

/** A command applied: its result for the caller. */
export interface Accepted<R> {
  readonly ok: true;
  readonly value: R;
}

/** What applying one command did: the caller's outcome and the rows the store must write. */
export interface Applied<R> {
  readonly outcome: Accepted<R> | Refusal;
  readonly changes: readonly RowChange[];
}

/** An applied command with its result and row changes. */
export function accept<R>(value: R, changes: readonly RowChange[] = []): Applied<R> {
  return { outcome: { ok: true, value }, changes };
}

/** A refused command: nothing changed, and the caller hears `code`. */
export function refuse(code: string, message: string): Applied<never> {
  return { outcome: { ok: false, code, message }, changes: [] };
}

/** One kind of command a module replicates. */
export interface CommandSpec<S, T extends TSchema = TSchema, R = unknown> {
  /** Unique across modules, `<module>.<verb>`: "decisions.vote". */
  readonly kind: string;
  /** The body's shape; checked at the edge and again in apply. */
  readonly schema: T;
  /** Rules beyond the schema that need no state (null when the body is fine). */
  readonly check?: (body: Static<T>) => string | null;
  /** Applies the command to the module's state: pure, deterministic, no clock, no I/O. */
  readonly apply: (state: S, body: Static<T>, context: ApplyContext) => Applied<R>;
  /** The seed's consensus_log.entry_type for this command (at most 50 characters). */
  readonly entryType: (body: Static<T>) => string;
  /** What the log API shows for this command: its `data`, and any other fields beside it. */
  readonly logView: (body: Static<T>) => LogView;
  /**
   * Entries written before the versioned envelope: the command kind they used and how their
   * command object maps to this spec's body.
   */
  readonly legacy?: { readonly kind: string; readonly body: (command: Record<string, unknown>) => unknown };
  /**
   * Marks an administrative action the audit log records (a deregistration, a cancellation):
   * what the command does, to what. Called with bodies that passed the schema, only for the
   * entry's own command (not for commands it invokes).
   */
  readonly audit?: (body: Static<T>) => AuditSubject;
}

/** What an audited command does, and to what. */
export interface AuditSubject {
  /** `<thing>.<verb>`: "task.cancel". */
  readonly action: string;
  /** The id of what it acts on, or null. */
  readonly target: string | null;
  /** A few words beside the target (a reason, a role), or null. */
  readonly detail: string | null;
}

/** An audited command as applied: what it did, who asked, and how it ended. */
export interface AuditEvent extends AuditSubject {
  readonly kind: string;
  readonly actor: Actor | null;
  readonly outcome:
    { readonly ok: true } | { readonly ok: false; readonly code: string; readonly message: string };
}

/** How the log API shows one command. */
export interface LogView {
  readonly data: JsonValue;
  readonly [field: string]: JsonValue;
}

/** Rows produced a slice at a time, consistent as of the moment the cursor was opened. */
export interface Cursor<T> {
  /** Up to `max` more rows; an empty array once done. */
  next(max: number): T[];
  /** Whether every row has been handed out. */
  readonly done: boolean;
  /** Releases what the cursor holds (the state stops keeping old values for it). */
  close(): void;
}

/**
 * One row of a section: its line of JSON text, as a string or as the UTF-8 bytes of it. Bytes may
 * be a view into the state's own storage, valid until the state next changes: the snapshot
 * writer copies them in the same turn.
 */
export type SectionRow = string | Uint8Array;

/** Rebuilds a section's state from rows, checking each one before it is used. */
export interface SectionRestorer<S> {
  /** Takes the next row (parsed, and as its line of JSON text); throws SnapshotError when it is not a valid row. */
  add(row: unknown, text: string): void;
  /** The rebuilt state, once every row has been added. */
  finish(): S;
}

/** A module's part of a snapshot: versioned rows. */
export interface StateSection<S> {
  /** Bumped whenever the row format changes; older sections need `upgrade`, newer ones are refused. */
  readonly version: number;
  /** The state of a cluster that has applied nothing. */
  readonly empty: () => S;
  /**
   * The state's rows, each as one line of JSON text, consistent as of this call even while later
   * entries change the state.
   */
  readonly rows: (state: S) => Cursor<SectionRow>;
  /** A restorer for rows of this section's current version. */
  readonly restore: () => SectionRestorer<S>;
  /** Turns a row of an older version into one of the current version (else older versions are refused). */
  readonly upgrade?: (fromVersion: number, row: unknown) => unknown;
}

/** A table the store keeps as a projection of a module's state. */
export interface TableSpec {
  readonly name: string;
  /** Every column, in the order of the DDL. */
  readonly columns: readonly string[];
  /** The primary key's columns. */
  readonly key: readonly string[];
  /**
   * The table's DDL, per store, run on every start (so written to be harmless the second time:
   * CREATE TABLE IF NOT EXISTS, ADD COLUMN IF NOT EXISTS). For PostgreSQL, the seed's four tables
   * already exist with the seed's columns (the store's first migration), so a module that owns one
   * adds only its own columns.
   */
  readonly ddl: { readonly sqlite: string; readonly postgres: string };
}

/** How a module's state becomes rows in the store's tables. */
export interface Projection<S> {
  readonly tables: readonly TableSpec[];
  /** Every row of every table, for rebuilding the tables after a snapshot replaced the state. */
  readonly rows: (state: S) => Cursor<{ readonly table: string; readonly row: Row }>;
}

/** The replicated half of a domain module. */
export interface StateModule<S = unknown> {
  /** Unique, lower case: "decisions". Also the snapshot section's name. */
  readonly name: string;
  // The commands of one module differ in body and result types; the registry keeps them together.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly commands: readonly CommandSpec<S, any, any>[];
  readonly section: StateSection<S>;
  /** Refusal codes this module's commands and routes answer with, and their HTTP status. */
  readonly errors?: Readonly<Record<string, number>>;
  readonly projection?: Projection<S>;
  /**
   * The notices this module's state gathered since the last call, handed over and forgotten. The
   * kernel asks after every command it applies in an entry, so a module may collect them where
   * its state changes instead of threading them through every command's result.
   */
  readonly takeNotices?: (state: S) => readonly Notice[];
  /**
   * Hears every notice of the entry (other modules' and its own) and may react: change its own
   * state, apply commands through `context.invoke`. Returns its own row changes.
   */
  readonly onNotice?: (state: S, notice: Notice, context: ApplyContext) => readonly RowChange[];
  /**
   * Hears every audited command (CommandSpec.audit) right after it applied, accepted or refused,
   * with the entry's actor. Returns its own row changes. Pure, like apply.
   */
  readonly onAudited?: (state: S, event: AuditEvent, context: ApplyContext) => readonly RowChange[];
  /** Called for every committed membership change, in log order. */
  readonly onMembershipChange?: (
    state: S,
    change: ConfigChange,
    context: ApplyContext,
  ) => readonly RowChange[];
}

/** A command ready to propose: its kind and a body its schema accepts. */
export interface Command {
  readonly kind: string;
  readonly body: unknown;
  /** Who it is proposed for (the envelope carries it into the log), when an API caller asked. */
  readonly actor?: Actor | null;
}

/** Builds a command of `spec`'s kind, typed by its schema. */
export function command<S, T extends TSchema, R>(spec: CommandSpec<S, T, R>, body: Static<T>): Command {
  return { kind: spec.kind, body };
}
