/**
 * The access API (admin only): make, list and revoke tokens, and read the audit log. A token's
 * secret is made here, on the node that took the request, and answered once; only its digest is
 * proposed, so no secret ever reaches the log, a snapshot or another node.
 */

import { timeOrderedUuid } from "../util/ids.js";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import Type from "typebox";
import type { NodeApi } from "../runtime/domain-module.js";
import { actorOf } from "../server/authorization.js";
import { ApiError } from "../server/errors.js";
import { checkCommand, isoTime, isUuid, readConsistently } from "../server/route-helpers.js";
import { CONSENSUS_ERRORS, Consistency, responses } from "../server/schemas.js";
import { TokenName, TokenRoleSchema, createTokenCommand, revokeTokenCommand } from "./commands.js";
import { fileTokenId } from "./credentials.js";
import { accessState } from "./module.js";
import type { ApiToken, AuditRecord } from "./state.js";
import { newTokenSecret, secretDigest, type FileToken } from "./tokens.js";

const tags = ["access"];
const admin = { role: "admin" } as const;

const UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
const Time = Type.String({ format: "date-time" });
const NullableTime = Type.Union([Time, Type.Null()]);

/** A token as the API shows it: never its secret, nor its digest. */
export const TokenView = Type.Object({
  id: Type.String({ description: 'a UUID, or "file:<name>" for a token of this node\'s tokens file' }),
  name: Type.String(),
  role: TokenRoleSchema,
  agent_id: Type.Union([Type.String(), Type.Null()]),
  source: Type.Union([Type.Literal("api"), Type.Literal("file")], {
    description: "api: made through this API, replicated; file: this node's tokens file",
  }),
  created_at: NullableTime,
  created_by: Type.Union([Type.String(), Type.Null()]),
  expires_at: NullableTime,
  expired: Type.Boolean(),
});

const CreateBody = Type.Object(
  {
    name: TokenName,
    role: TokenRoleSchema,
    agent_id: Type.Optional(
      Type.String({
        minLength: 36,
        maxLength: 36,
        pattern: UUID_PATTERN,
        description: "agent tokens: the agent it acts for; left out, a fresh UUID comes back",
      }),
    ),
    expires_at: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: "an ISO 8601 date and time; default never" }),
    ),
  },
  { additionalProperties: false },
);

const Created = Type.Object({
  token: TokenView,
  secret: Type.String({ description: "the bearer token: shown this once, kept nowhere" }),
});

const ListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    consistency: Consistency,
  },
  { additionalProperties: false },
);

const ActorView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  agent_id: Type.Union([Type.String(), Type.Null()]),
});

/** One audit record as the API shows it. */
export const AuditView = Type.Object({
  seq: Type.Integer({ description: "1, 2, ... in the order the actions applied" }),
  index: Type.Integer({ description: "the log entry that recorded it" }),
  at: Time,
  action: Type.String(),
  target: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Union([Type.String(), Type.Null()]),
  actor: Type.Union([ActorView, Type.Null()]),
  outcome: Type.String({
    description:
      '"ok", the code it was refused with, or "requested" (membership and leadership: recorded before the action)',
  }),
  message: Type.Union([Type.String(), Type.Null()]),
});

const AuditQuery = Type.Object(
  {
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: "a token id or name" })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 16, pattern: "^[0-9]+$" })),
    consistency: Consistency,
  },
  { additionalProperties: false },
);

/** The routes (prefixed /api/v3), given this node's file tokens. */
export function accessRoutes(fileTokens: readonly FileToken[]) {
  return (scope: FastifyInstance, node: NodeApi): void => {
    const app = scope.withTypeProvider<TypeBoxTypeProvider>();
    const state = () => node.view.state(accessState);
    const fileIds = new Set(fileTokens.map((token) => fileTokenId(token.name)));

    app.post(
      "/tokens",
      {
        config: admin,
        schema: {
          summary: "Make a token with a role (admin)",
          description:
            "201 with the token and its secret, `juno_` and 32 random bytes in base64url: shown this once, only its SHA-256 is kept. An agent token is bound to one agent id (given, or a fresh UUID): it can register only under that id and act only for it.",
          tags,
          body: CreateBody,
          response: responses({ 201: Created }, [409, 413, 422, ...CONSENSUS_ERRORS]),
        },
      },
      async (request, reply) => {
        const body = request.body;
        if (body.role !== "agent" && body.agent_id !== undefined)
          throw new ApiError("validation_failed", "agent_id is for agent tokens only");
        const secret = newTokenSecret();
        const command = {
          id: timeOrderedUuid(),
          name: body.name,
          role: body.role,
          agent_id: body.role === "agent" ? (body.agent_id ?? timeOrderedUuid()) : null,
          digest: secretDigest(secret),
          expires_at: expiryOf(body.expires_at),
        };
        checkCommand(node, createTokenCommand.kind, command);
        const committed = await node.propose(createTokenCommand, command, { actor: actorOf(request) });
        return reply.code(201).send({ token: apiTokenView(committed.value, Date.now()), secret });
      },
    );

    app.get(
      "/tokens",
      {
        config: admin,
        schema: {
          summary: "List tokens (admin): this node's file tokens and the API's, never a secret",
          description: "In id order; pass `next_cursor` back as `cursor` for the next page.",
          tags,
          querystring: ListQuery,
          response: responses(
            {
              200: Type.Object({
                tokens: Type.Array(TokenView),
                next_cursor: Type.Union([Type.String(), Type.Null()]),
              }),
            },
            [...CONSENSUS_ERRORS],
          ),
        },
      },
      async (request) => {
        const query = request.query;
        await readConsistently(node, query.consistency);
        const now = Date.now();
        const all = [
          ...fileTokens.map((token) => fileTokenView(token, now)),
          ...[...state().allTokens()].map((token) => apiTokenView(token, now)),
        ].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        const after = query.cursor ?? "";
        const limit = query.limit ?? 100;
        const page = all.filter((token) => token.id > after).slice(0, limit + 1);
        const more = page.length > limit;
        const tokens = page.slice(0, limit);
        return { tokens, next_cursor: more ? tokens.at(-1)!.id : null };
      },
    );

    app.delete(
      "/tokens/:id",
      {
        config: admin,
        schema: {
          summary: "Revoke a token (admin): it stops working at once on every node",
          description:
            "409 token_in_file for a token of the tokens file: remove it from the file on every node and restart them.",
          tags,
          params: Type.Object(
            { id: Type.String({ minLength: 1, maxLength: 200 }) },
            { additionalProperties: false },
          ),
          response: responses({ 200: Type.Object({ token: TokenView }) }, [404, 409, ...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        const id = request.params.id;
        if (fileIds.has(id))
          throw new ApiError(
            "token_in_file",
            `${id} comes from the tokens file: remove it there on every node`,
          );
        if (!isUuid(id)) throw new ApiError("token_not_found", `no token ${id}`);
        const committed = await node.propose(revokeTokenCommand, { id }, { actor: actorOf(request) });
        return { token: apiTokenView(committed.value, Date.now()) };
      },
    );

    app.get(
      "/audit",
      {
        config: admin,
        schema: {
          summary: "The audit log (admin): who did which administrative action, when, and how it ended",
          description:
            "Membership changes, leadership transfers, token creation and revocation, deregistrations, task and workflow cancellations; the last 10,000, replicated (any node answers the same). Newest first; filter by `action` (token.create, token.revoke, agent.deregister, task.cancel, workflow.cancel, member.add, member.remove, leader.transfer) and `actor` (a token id or name); pass `next_cursor` back as `cursor` for older ones.",
          tags,
          querystring: AuditQuery,
          response: responses(
            {
              200: Type.Object({
                entries: Type.Array(AuditView),
                next_cursor: Type.Union([Type.String(), Type.Null()]),
              }),
            },
            [...CONSENSUS_ERRORS],
          ),
        },
      },
      async (request) => {
        const query = request.query;
        await readConsistently(node, query.consistency);
        const limit = query.limit ?? 100;
        const before = query.cursor === undefined ? null : Number(query.cursor);
        const filter = {
          ...(query.action === undefined ? {} : { action: query.action }),
          ...(query.actor === undefined ? {} : { actor: query.actor }),
        };
        const page = state().auditPage(filter, before, limit + 1);
        const more = page.length > limit;
        const entries = page.slice(0, limit);
        return { entries: entries.map(auditView), next_cursor: more ? String(entries.at(-1)!.seq) : null };
      },
    );
  };
}

/** The expiry a create body asks for, in ms; refuses a malformed or past one. */
function expiryOf(text: string | undefined): number | null {
  if (text === undefined) return null;
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw new ApiError("validation_failed", "expires_at is not a date and time");
  if (ms <= Date.now()) throw new ApiError("validation_failed", "expires_at must be in the future");
  return ms;
}

function apiTokenView(token: ApiToken, nowMs: number) {
  return {
    id: token.id,
    name: token.name,
    role: token.role,
    agent_id: token.agentId,
    source: "api" as const,
    created_at: isoTime(token.createdAtMs),
    created_by: token.createdBy,
    expires_at: token.expiresAtMs === null ? null : isoTime(token.expiresAtMs),
    expired: token.expiresAtMs !== null && token.expiresAtMs <= nowMs,
  };
}

function fileTokenView(token: FileToken, nowMs: number) {
  return {
    id: fileTokenId(token.name),
    name: token.name,
    role: token.role,
    agent_id: token.agentId,
    source: "file" as const,
    created_at: null,
    created_by: null,
    expires_at: token.expiresAtMs === null ? null : isoTime(token.expiresAtMs),
    expired: token.expiresAtMs !== null && token.expiresAtMs <= nowMs,
  };
}

function auditView(record: AuditRecord) {
  return {
    seq: record.seq,
    index: record.index,
    at: isoTime(record.atMs),
    action: record.action,
    target: record.target,
    detail: record.detail,
    actor: record.actor === null ? null : { ...record.actor },
    outcome: record.outcome,
    message: record.message,
  };
}
