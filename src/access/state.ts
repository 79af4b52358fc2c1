/**
 * The access module's state: the API tokens made through the admin API (their SHA-256 digests,
 * never the secrets) and the audit log of administrative actions, the last AUDIT_CAPACITY of
 * them. Both are small (bounded by MAX_API_TOKENS and AUDIT_CAPACITY), so they live as frozen
 * objects in Maps and an array; a snapshot cursor copies the lists when it opens, and the rows
 * never change once made, so it stays consistent however the state moves on.
 */

import Type from "typebox";
import { Compile } from "typebox/compile";
import {
  SnapshotError,
  type Actor,
  type Cursor,
  type SectionRestorer,
  type StateSection,
} from "../control/index.js";
import type { TokenRole } from "../server/authorization.js";

/** API tokens the cluster holds at most (tokens in the file do not count). */
export const MAX_API_TOKENS = 10_000;
/** Audit records kept; older ones are dropped, oldest first. */
export const AUDIT_CAPACITY = 10_000;
/** Longest token name. */
export const MAX_TOKEN_NAME_LENGTH = 100;
/** A token name: a letter or digit, then letters, digits and `._:@/-`. */
export const TOKEN_NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:@/-]*$";

/** A token made through the API. */
export interface ApiToken {
  /** A UUID. */
  readonly id: string;
  /** Unique among the API's tokens. */
  readonly name: string;
  readonly role: TokenRole;
  /** The agent an agent token is bound to; null for the other roles. */
  readonly agentId: string | null;
  /** SHA-256 of the secret, lower-case hex. */
  readonly digest: string;
  readonly createdAtMs: number;
  /** When it stops working; null for never. */
  readonly expiresAtMs: number | null;
  /** The name of the token that made it, or null. */
  readonly createdBy: string | null;
}

/** One administrative action, as the log applied it. */
export interface AuditRecord {
  /** 1, 2, ... over the cluster's life: the order actions applied in. */
  readonly seq: number;
  /** The log entry that recorded it. */
  readonly index: number;
  /** The leader's clock when it accepted the entry. */
  readonly atMs: number;
  /** `<thing>.<verb>`: "task.cancel", "token.create", "member.add". */
  readonly action: string;
  readonly target: string | null;
  readonly detail: string | null;
  /** Who asked; null for an entry written without an actor. */
  readonly actor: Actor | null;
  /** "ok", or the code it was refused with. */
  readonly outcome: string;
  /** Why it was refused, or null. */
  readonly message: string | null;
}

/** What a page of the audit log is filtered by. */
export interface AuditFilter {
  readonly action?: string;
  /** A token id or name. */
  readonly actor?: string;
}

/** The access module's state. */
export class AccessState {
  private readonly tokens = new Map<string, ApiToken>();
  private readonly byDigest = new Map<string, ApiToken>();
  private readonly byName = new Map<string, string>();
  /** Oldest first; at most AUDIT_CAPACITY. Invariant: seqs ascend, all below nextSeq. */
  private audit: AuditRecord[] = [];
  /** The seq the next audit record gets. */
  nextSeq = 1;
  /** Bumped on every change. */
  version = 0;

  /** How many API tokens there are. */
  get tokenCount(): number {
    return this.tokens.size;
  }

  /** How many audit records are kept. */
  get auditCount(): number {
    return this.audit.length;
  }

  token(id: string): ApiToken | undefined {
    return this.tokens.get(id);
  }

  /** The token whose secret has SHA-256 `digest` (lower-case hex). */
  tokenByDigest(digest: string): ApiToken | undefined {
    return this.byDigest.get(digest);
  }

  /** The id of the token named `name`. */
  tokenIdByName(name: string): string | undefined {
    return this.byName.get(name);
  }

  /** Every API token, in the order they were made. */
  allTokens(): IterableIterator<ApiToken> {
    return this.tokens.values();
  }

  /** Adds a token; its id, name and digest must be new (apply checks first). */
  addToken(token: ApiToken): void {
    if (this.tokens.has(token.id) || this.byName.has(token.name) || this.byDigest.has(token.digest))
      throw new Error(`token ${token.id} collides with one the state holds`);
    const frozen = Object.freeze(token);
    this.tokens.set(token.id, frozen);
    this.byDigest.set(token.digest, frozen);
    this.byName.set(token.name, token.id);
    this.version++;
  }

  /** Removes a token (revoked); returns it, or undefined when there was none. */
  removeToken(id: string): ApiToken | undefined {
    const token = this.tokens.get(id);
    if (token === undefined) return undefined;
    this.tokens.delete(id);
    this.byDigest.delete(token.digest);
    this.byName.delete(token.name);
    this.version++;
    return token;
  }

  /** Appends an audit record (its seq is the next one), dropping the oldest beyond the capacity. */
  record(entry: Omit<AuditRecord, "seq">): AuditRecord {
    const record = Object.freeze({ seq: this.nextSeq++, ...entry });
    this.audit.push(record);
    if (this.audit.length > AUDIT_CAPACITY) this.audit.shift();
    this.version++;
    return record;
  }

  /** Up to `limit` records matching `filter`, newest first, with seq below `before` (null: from the newest). */
  auditPage(filter: AuditFilter, before: number | null, limit: number): AuditRecord[] {
    const page: AuditRecord[] = [];
    for (let i = this.audit.length - 1; i >= 0 && page.length < limit; i--) {
      const record = this.audit[i]!;
      if (before !== null && record.seq >= before) continue;
      if (filter.action !== undefined && record.action !== filter.action) continue;
      if (
        filter.actor !== undefined &&
        record.actor?.id !== filter.actor &&
        record.actor?.name !== filter.actor
      )
        continue;
      page.push(record);
    }
    return page;
  }

  /** The snapshot rows, as of this call: the meta row, the tokens, then the audit records. */
  rows(): Cursor<string> {
    // Rows are frozen and never change: copying the lists is copying the state as of now.
    const nextSeq = this.nextSeq;
    const tokens = [...this.tokens.values()];
    const records = [...this.audit];
    const total = 1 + tokens.length + records.length;
    const line = (at: number): string => {
      if (at === 0) return JSON.stringify({ meta: { nextSeq } });
      if (at <= tokens.length) return JSON.stringify({ token: tokens[at - 1] });
      return JSON.stringify({ audit: records[at - 1 - tokens.length] });
    };
    let position = 0;
    return {
      next(max: number): string[] {
        const out: string[] = [];
        while (position < total && out.length < max) out.push(line(position++));
        return out;
      },
      get done() {
        return position >= total;
      },
      close() {
        position = total;
      },
    };
  }

  /** Takes a restored token (checked by the restorer). */
  restoreToken(token: ApiToken): void {
    this.addToken(token);
  }

  /** Takes a restored audit record (checked by the restorer: in order, below nextSeq). */
  restoreRecord(record: AuditRecord): void {
    this.audit.push(Object.freeze(record));
  }
}

const Uuid = Type.String({ pattern: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$" });
const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength });
const NullableUuid = Type.Union([Uuid, Type.Null()]);
const NullableText = (maxLength: number, minLength = 1) =>
  Type.Union([Type.String({ minLength, maxLength }), Type.Null()]);

/** An API token as a snapshot row. */
export const TokenRow = Type.Object(
  {
    id: Uuid,
    name: Type.String({ minLength: 1, maxLength: MAX_TOKEN_NAME_LENGTH, pattern: TOKEN_NAME_PATTERN }),
    role: Type.Union([
      Type.Literal("admin"),
      Type.Literal("operator"),
      Type.Literal("reader"),
      Type.Literal("agent"),
    ]),
    agentId: NullableUuid,
    digest: Type.String({ pattern: "^[0-9a-f]{64}$" }),
    createdAtMs: Type.Integer({ minimum: 0 }),
    expiresAtMs: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
    createdBy: NullableText(128),
  },
  { additionalProperties: false },
);

/** An actor as rows and command results hold it. */
export const ActorRow = Type.Object(
  { id: Text(128), name: Text(128), role: Text(128), agent_id: NullableText(128) },
  { additionalProperties: false },
);

/** An audit record as a snapshot row. */
export const AuditRow = Type.Object(
  {
    seq: Type.Integer({ minimum: 1 }),
    index: Type.Integer({ minimum: 1 }),
    atMs: Type.Integer({ minimum: 0 }),
    action: Text(64),
    target: NullableText(200),
    detail: NullableText(500, 0),
    actor: Type.Union([ActorRow, Type.Null()]),
    outcome: Text(64),
    message: NullableText(1000, 0),
  },
  { additionalProperties: false },
);

const SectionRow = Type.Union([
  Type.Object(
    { meta: Type.Object({ nextSeq: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }) },
    { additionalProperties: false },
  ),
  Type.Object({ token: TokenRow }, { additionalProperties: false }),
  Type.Object({ audit: AuditRow }, { additionalProperties: false }),
]);
const sectionRow = Compile(SectionRow);

function invalid(row: number, message: string): SnapshotError {
  return new SnapshotError("invalid_row", `section access, row ${row}: ${message}`);
}

/** Rebuilds the state, checking every row and that they hold together (order, uniqueness, bounds). */
function restorer(): SectionRestorer<AccessState> {
  const state = new AccessState();
  let count = 0;
  let meta = false;
  let lastSeq = 0;
  return {
    add(row: unknown): void {
      count++;
      if (!sectionRow.Check(row)) throw invalid(count, "not a meta, token or audit row");
      const parsed = row;
      if ("meta" in parsed) {
        if (count !== 1) throw invalid(count, "the meta row must come first");
        state.nextSeq = parsed.meta.nextSeq;
        meta = true;
        return;
      }
      if (!meta) throw invalid(count, "the first row must be the section's meta row");
      if ("token" in parsed) return restoreToken(state, parsed.token, count, lastSeq);
      const record = parsed.audit;
      if (record.seq <= lastSeq || record.seq >= state.nextSeq)
        throw invalid(count, `audit record ${record.seq} is out of order`);
      if (state.auditCount >= AUDIT_CAPACITY)
        throw invalid(count, `more than ${AUDIT_CAPACITY} audit records`);
      lastSeq = record.seq;
      state.restoreRecord(record);
    },
    finish(): AccessState {
      if (count > 0 && !meta) throw invalid(0, "the section has no meta row");
      return state;
    },
  };
}

function restoreToken(state: AccessState, token: ApiToken, row: number, lastSeq: number): void {
  if (lastSeq > 0) throw invalid(row, "tokens must come before the audit records");
  if ((token.role === "agent") !== (token.agentId !== null))
    throw invalid(row, `token ${token.id}: an agent id is set exactly for agent tokens`);
  if (state.token(token.id) !== undefined || state.tokenIdByName(token.name) !== undefined)
    throw invalid(row, `token ${token.id} (${token.name}) appears twice`);
  if (state.tokenByDigest(token.digest) !== undefined)
    throw invalid(row, `token ${token.id} has another token's digest`);
  if (state.tokenCount >= MAX_API_TOKENS) throw invalid(row, `more than ${MAX_API_TOKENS} tokens`);
  state.restoreToken(token);
}

/** Snapshot section "access", version 1: a meta row, the API tokens, then the audit records, oldest first. */
export const accessSection: StateSection<AccessState> = {
  version: 1,
  empty: () => new AccessState(),
  rows: (state) => state.rows(),
  restore: restorer,
};
