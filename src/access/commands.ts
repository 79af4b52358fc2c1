/**
 * The access module's commands. Apply is pure: ids and digests come from the proposer (the route
 * that made the secret, which never enters the log), times from the leader's stamp, and the actor
 * from the entry's envelope.
 *
 *   access.create_token  a token (its digest) with a role, for an agent or not, maybe expiring
 *   access.revoke_token  the token stops working at once, on every node
 *   access.record        an audit record of an action that is not a command (membership changes
 *                        and leadership transfers are Raft's, so they are recorded beside it)
 */

import Type from "typebox";
import { accept, refuse, type Applied, type AuditEvent, type CommandSpec } from "../control/index.js";
import {
  MAX_API_TOKENS,
  MAX_TOKEN_NAME_LENGTH,
  TOKEN_NAME_PATTERN,
  type AccessState,
  type ApiToken,
  type AuditRecord,
} from "./state.js";

const Uuid = Type.String({
  minLength: 36,
  maxLength: 36,
  pattern: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
});

/** A token's name. */
export const TokenName = Type.String({
  minLength: 1,
  maxLength: MAX_TOKEN_NAME_LENGTH,
  pattern: TOKEN_NAME_PATTERN,
});

/** A token's role. */
export const TokenRoleSchema = Type.Union([
  Type.Literal("admin"),
  Type.Literal("operator"),
  Type.Literal("reader"),
  Type.Literal("agent"),
]);

/** access.create_token */
export const CreateTokenBody = Type.Object(
  {
    id: Uuid,
    name: TokenName,
    role: TokenRoleSchema,
    agent_id: Type.Union([Uuid, Type.Null()]),
    /** SHA-256 of the secret, lower-case hex. */
    digest: Type.String({ minLength: 64, maxLength: 64, pattern: "^[0-9a-f]{64}$" }),
    /** Milliseconds since the epoch, or null for never. */
    expires_at: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  },
  { additionalProperties: false },
);

/** access.revoke_token */
export const RevokeTokenBody = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);

/** The actions access.record records (the others are commands that declare `audit`). */
export const RECORDED_ACTIONS = ["member.add", "member.remove", "leader.transfer"] as const;

/** access.record */
export const RecordBody = Type.Object(
  {
    action: Type.Union([
      Type.Literal("member.add"),
      Type.Literal("member.remove"),
      Type.Literal("leader.transfer"),
    ]),
    target: Type.String({ minLength: 1, maxLength: 200 }),
    detail: Type.Union([Type.String({ maxLength: 500 }), Type.Null()]),
    /** "requested" before the action, then "ok" or the code it failed with. */
    outcome: Type.String({ minLength: 1, maxLength: 64, pattern: "^[a-z][a-z0-9_]*$" }),
    message: Type.Union([Type.String({ maxLength: 1000 }), Type.Null()]),
  },
  { additionalProperties: false },
);

/** access.create_token: the token, as stored. */
export const createTokenCommand: CommandSpec<AccessState, typeof CreateTokenBody, ApiToken> = {
  kind: "access.create_token",
  schema: CreateTokenBody,
  check: (body) =>
    (body.role === "agent") !== (body.agent_id !== null) ? "agent_id is set exactly for agent tokens" : null,
  apply(state, body, context): Applied<ApiToken> {
    if (state.token(body.id) !== undefined) return refuse("conflict", `token id ${body.id} is taken`);
    if (state.tokenIdByName(body.name) !== undefined)
      return refuse("token_name_taken", `a token named ${body.name} exists; revoke it or pick another name`);
    if (state.tokenByDigest(body.digest) !== undefined)
      return refuse("conflict", "another token has the same secret");
    if (state.tokenCount >= MAX_API_TOKENS)
      return refuse("limit_exceeded", `the cluster holds ${MAX_API_TOKENS} API tokens, its limit`);
    if (body.expires_at !== null && body.expires_at <= context.timestamp)
      return refuse("validation_failed", "expires_at has passed already");
    const token: ApiToken = {
      id: body.id,
      name: body.name,
      role: body.role,
      agentId: body.agent_id,
      digest: body.digest,
      createdAtMs: context.timestamp,
      expiresAtMs: body.expires_at,
      createdBy: context.actor?.name ?? null,
    };
    state.addToken(token);
    return accept(token);
  },
  audit: (body) => ({
    action: "token.create",
    target: body.id,
    detail: `${body.role} token ${body.name}${body.agent_id === null ? "" : ` for agent ${body.agent_id}`}`,
  }),
  entryType: () => "juno.token.create",
  // The digest stays out of the log API (readers may read the log).
  logView: (body) => ({
    data: {
      id: body.id,
      name: body.name,
      role: body.role,
      agent_id: body.agent_id,
      expires_at: body.expires_at,
    },
  }),
};

/** access.revoke_token: the token as it was. */
export const revokeTokenCommand: CommandSpec<AccessState, typeof RevokeTokenBody, ApiToken> = {
  kind: "access.revoke_token",
  schema: RevokeTokenBody,
  apply(state, body): Applied<ApiToken> {
    const token = state.removeToken(body.id);
    if (token === undefined) return refuse("token_not_found", `no token ${body.id}`);
    return accept(token);
  },
  audit: (body) => ({ action: "token.revoke", target: body.id, detail: null }),
  entryType: () => "juno.token.revoke",
  logView: (body) => ({ data: { id: body.id } }),
};

/** access.record: the record made. */
export const recordCommand: CommandSpec<AccessState, typeof RecordBody, AuditRecord> = {
  kind: "access.record",
  schema: RecordBody,
  apply(state, body, context): Applied<AuditRecord> {
    const record = state.record({
      index: context.index,
      atMs: context.timestamp,
      action: body.action,
      target: body.target,
      detail: body.detail,
      actor: context.actor ?? null,
      outcome: body.outcome,
      message: body.message,
    });
    return accept(record);
  },
  entryType: () => "juno.audit",
  logView: (body) => ({ data: body }),
};

/** Records an audited command (any module's) as it applied: the kernel calls this through onAudited. */
export function recordAudited(state: AccessState, event: AuditEvent, index: number, atMs: number): void {
  state.record({
    index,
    atMs,
    action: event.action,
    target: event.target === null ? null : event.target.slice(0, 200),
    detail: event.detail === null ? null : event.detail.slice(0, 500),
    actor: event.actor,
    outcome: event.outcome.ok ? "ok" : event.outcome.code.slice(0, 64),
    message: event.outcome.ok ? null : event.outcome.message.slice(0, 1000),
  });
}
