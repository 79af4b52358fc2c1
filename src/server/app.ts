/**
 * The HTTP API (fastify): routes under /api/v3, health and metrics. Input is validated at the edge
 * by a JSON schema per route and refused in one error shape; writes go to the leader (a follower
 * forwards them); reads are linearizable unless `?consistency=stale`.
 */

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { createHash, timingSafeEqual } from "node:crypto";
import { parseEnvelopeText, type Command, type JsonValue } from "../control/index.js";
import type { NodeId } from "../raft/index.js";
import { JunoNode, NodeError } from "../runtime/node.js";
import type { SqliteStore } from "../store/sqlite-store.js";
import { ApiError, ERROR_STATUS, sendError, type ErrorCode } from "./errors.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { OPENAPI } from "./openapi.js";
import * as schemas from "./schemas.js";
import { validatorCompiler } from "./validation.js";

/** Addresses of a member, as other nodes and clients reach it. */
export interface MemberAddresses {
  readonly raft: string | null;
  readonly http: string | null;
}

/** What the API serves. */
export interface ServerOptions {
  readonly node: JunoNode;
  readonly store: SqliteStore;
  /** Bearer token required on /api/v3 when set. */
  readonly apiToken: string | null;
  /** Where members live, for status pages and for forwarding writes to the leader. */
  readonly addresses?: (id: NodeId) => MemberAddresses;
  /** Largest accepted request body. */
  readonly bodyLimitBytes?: number;
  /** Structured logging (pino, through fastify); false in tests. */
  readonly logger?: boolean | { level: string };
}

const FORWARDED_HEADER = "x-juno-forwarded";

const SERVED_ROUTES = new WeakMap<FastifyInstance, string[]>();

/** Every "METHOD /path" the app serves (for the OpenAPI consistency test). */
export function servedRoutes(app: FastifyInstance): readonly string[] {
  return SERVED_ROUTES.get(app) ?? [];
}

/** Builds the fastify app (not listening yet). */
export function buildServer(options: ServerOptions): FastifyInstance {
  const { node, store } = options;
  const addresses = options.addresses ?? ((id: NodeId) => node.addressesOf(id));
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: options.bodyLimitBytes ?? 1024 * 1024 });
  app.setValidatorCompiler(validatorCompiler);
  const routes: string[] = [];
  SERVED_ROUTES.set(app, routes);
  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) if (method !== "HEAD") routes.push(`${method} ${route.url}`);
  });
  const metrics = createMetrics(node, store);
  registerErrorHandling(app);
  registerMetricsHooks(app, metrics);
  const tokenDigest = options.apiToken === null ? null : digest(options.apiToken);
  // Closing the server aborts forwarded requests in flight, so a shutdown never waits on a leader
  // that stopped answering (paused, partitioned) until the forward's own timeout.
  const closing = new AbortController();
  app.addHook("preClose", (done) => {
    closing.abort();
    done();
  });
  // Connections busy when closing began miss the idle sweep; told to close after their answer,
  // they do not keep the shutdown waiting for the keep-alive timeout (72 s in fastify).
  app.addHook("onSend", (_request, reply, payload, done) => {
    if (closing.signal.aborted) void reply.header("connection", "close");
    done(null, payload);
  });

  app.addHook("onRequest", (request, _reply, done) => {
    if (tokenDigest === null || !request.url.startsWith("/api/") || request.url === "/api/v3/openapi.json")
      return done();
    const header = request.headers.authorization ?? "";
    const presented = header.startsWith("Bearer ") ? header.slice(7) : "";
    // Compare digests so the comparison takes the same time whatever the token's length.
    if (!timingSafeEqual(digest(presented), tokenDigest)) {
      return done(new ApiError("unauthorized", "missing or wrong bearer token"));
    }
    done();
  });

  /** Runs `write` on the leader: here if we lead, else forwarded to it. */
  async function onLeader<T>(
    request: FastifyRequest,
    reply: FastifyReply,
    write: () => Promise<T>,
  ): Promise<T | FastifyReply> {
    if (node.isLeader()) return write();
    const leader = node.raft.leaderId;
    if (leader === null) throw new ApiError("no_leader", "no leader is known right now; retry shortly");
    if (request.headers[FORWARDED_HEADER] !== undefined) {
      throw new ApiError("not_leader", `this node is not the leader; the leader is ${leader}`, {
        leader_id: leader,
      });
    }
    const target = addresses(leader).http;
    if (target === null)
      throw new ApiError("not_leader", `the leader ${leader} has no known HTTP address`, {
        leader_id: leader,
      });
    return forward(request, reply, target, closing.signal);
  }

  app.post("/api/v3/consensus/propose", { schema: schemas.propose }, async (request, reply) => {
    const body = request.body as {
      entry_type: string;
      data: JsonValue;
      approval?: { voters: string[]; quorum: number };
    };
    const command: Command = {
      kind: "propose",
      entryType: body.entry_type,
      data: body.data,
      ...(body.approval === undefined
        ? {}
        : { approval: { voters: body.approval.voters, quorum: body.approval.quorum } }),
    };
    checkCommand(command);
    return onLeader(request, reply, async () => {
      const committed = await run(() => node.propose(command));
      const result = committed.result;
      if (result.kind === "refused") throw new ApiError(result.code, result.message);
      if (body.approval !== undefined)
        return reply.code(202).send({ index: committed.index, term: committed.term, status: "pending" });
      return reply.code(201).send({ index: committed.index, term: committed.term });
    });
  });

  app.post("/api/v3/consensus/vote", { schema: schemas.vote }, async (request, reply) => {
    const body = request.body as { proposal: number; voter: string; vote: "approve" | "reject" };
    const command: Command = { kind: "vote", proposal: body.proposal, voter: body.voter, vote: body.vote };
    checkCommand(command);
    return onLeader(request, reply, async () => {
      // Refuse what the state already rules out before it costs a log entry; apply decides for good.
      await run(() => node.readBarrier());
      precheckVote(node, body.proposal, body.voter);
      const committed = await run(() => node.propose(command));
      const result = committed.result;
      if (result.kind === "refused") throw new ApiError(result.code, result.message);
      if (result.kind !== "voted") throw new ApiError("internal", "a vote applied as something else");
      return reply.code(200).send({
        index: committed.index,
        proposal: body.proposal,
        status: result.decision.status,
        decision: decisionView(result.decision),
      });
    });
  });

  app.get("/api/v3/consensus/decisions/:index", { schema: schemas.decision }, async (request) => {
    const { index } = request.params as { index: number };
    await readConsistency(request);
    const decision = node.decision(index);
    if (decision === undefined)
      throw new ApiError("unknown_proposal", `no decision was proposed at index ${index}`);
    return decisionView(decision);
  });

  app.get("/api/v3/consensus/log", { schema: schemas.log }, async (request) => {
    const query = request.query as { from?: number; limit?: number };
    await readConsistency(request);
    const commit = node.raft.log.committed;
    const first = store.firstIndex() ?? commit + 1;
    const from = query.from ?? first;
    const limit = query.limit ?? 100;
    if (from < first) {
      throw new ApiError("compacted", `entries before ${first} were compacted into a snapshot`, {
        first_index: first,
      });
    }
    const records = from > commit ? [] : store.readLog(from, commit, limit);
    return {
      entries: records.map((record) => logEntryView(record)),
      first_index: first,
      commit_index: commit,
    };
  });

  app.get("/api/v3/consensus/status", { schema: schemas.stale }, (_request, reply) =>
    reply.send(statusView(node, addresses)),
  );

  app.get("/api/v3/cluster/members", { schema: schemas.stale }, (_request, reply) =>
    reply.send({ members: statusView(node, addresses).members }),
  );

  app.post("/api/v3/cluster/members", { schema: schemas.addMember }, async (request, reply) => {
    const body = request.body as { id: string; raft_addr: string; http_addr?: string };
    return onLeader(request, reply, async () => {
      const committed = await run(() =>
        node.addMember(body.id, { raft: body.raft_addr, http: body.http_addr ?? null }),
      );
      return reply.code(201).send({ id: body.id, voter: false, index: committed.index });
    });
  });

  app.delete("/api/v3/cluster/members/:id", { schema: schemas.member }, async (request, reply) => {
    const { id } = request.params as { id: string };
    return onLeader(request, reply, async () => {
      const committed = await run(() => node.changeMembership({ type: "remove", node: id }));
      return reply.code(200).send({ id, removed: true, index: committed.index });
    });
  });

  app.post("/api/v3/cluster/leader", { schema: schemas.transfer }, async (request, reply) => {
    const body = request.body as { id: string };
    return onLeader(request, reply, async () => {
      try {
        node.transferLeadership(body.id);
      } catch (error) {
        throw toApiError(error);
      }
      return reply.code(202).send({ transferring_to: body.id });
    });
  });

  app.get("/api/v3/openapi.json", (_request, reply) => reply.send(OPENAPI));

  app.get("/healthz", (_request, reply) => reply.send({ status: "ok" }));

  app.get("/readyz", (_request, reply) => {
    const status = node.status();
    const ready =
      status.leaderId !== null &&
      status.membership.voters.length + status.membership.learners.length > 0 &&
      status.appliedIndex >= status.commitIndex;
    return reply.code(ready ? 200 : 503).send({
      ready,
      role: status.role,
      leader_id: status.leaderId,
      commit_index: status.commitIndex,
      applied_index: status.appliedIndex,
    });
  });

  app.get("/metrics", async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.render()),
  );

  /** Linearizable unless the caller asked for stale local state. */
  async function readConsistency(request: FastifyRequest): Promise<void> {
    const { consistency } = request.query as { consistency?: string };
    if (consistency === "stale") return;
    await run(() => node.readBarrier());
  }

  return app;
}

/** Sends the request on to `target` (the leader) and relays its answer. */
async function forward(
  request: FastifyRequest,
  reply: FastifyReply,
  target: string,
  closing: AbortSignal,
): Promise<FastifyReply> {
  // Only a request that carries a body says it is JSON: an empty JSON body is refused.
  const body = request.body === undefined || request.body === null ? null : JSON.stringify(request.body);
  const headers: Record<string, string> = { [FORWARDED_HEADER]: "1" };
  if (body !== null) headers["content-type"] = "application/json";
  if (request.headers.authorization !== undefined) headers["authorization"] = request.headers.authorization;
  let response: Response;
  try {
    response = await fetch(`http://${target}${request.url}`, {
      method: request.method,
      headers,
      body,
      // A paused or dead leader must not hold the request, nor this server's shutdown, for long.
      signal: AbortSignal.any([AbortSignal.timeout(15_000), closing]),
    });
  } catch (error) {
    throw new ApiError("no_leader", `could not reach the leader at ${target}: ${(error as Error).message}`);
  }
  const text = await response.text();
  return reply.code(response.status).type("application/json").send(text);
}

/** Turns core and driver refusals into API errors. */
function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof NodeError) {
    const details = error.leaderId === null ? {} : { leader_id: error.leaderId };
    return new ApiError(error.code, error.message, details);
  }
  throw error;
}

async function run<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toApiError(error);
  }
}

function checkCommand(command: Command): void {
  // Same rules apply() enforces; here they cost nothing in the log.
  const problem = schemas.commandProblem(command);
  if (problem !== null) throw new ApiError("validation_failed", problem);
}

function precheckVote(node: JunoNode, proposal: number, voter: string): void {
  const decision = node.decision(proposal);
  if (decision === undefined)
    throw new ApiError("unknown_proposal", `no decision was proposed at index ${proposal}`);
  if (!decision.voters.includes(voter))
    throw new ApiError("unknown_voter", `${voter} is not a voter on decision ${proposal}`);
  if (decision.votes[voter] !== undefined)
    throw new ApiError("duplicate_vote", `${voter} already voted on decision ${proposal}`);
}

function decisionView(decision: NonNullable<ReturnType<JunoNode["decision"]>>): Record<string, unknown> {
  return {
    index: decision.index,
    entry_type: decision.entryType,
    data: decision.data,
    voters: decision.voters,
    quorum: decision.quorum,
    votes: decision.votes,
    status: decision.status,
    created_at: new Date(decision.createdAt).toISOString(),
    decided_at: decision.decidedAt === null ? null : new Date(decision.decidedAt).toISOString(),
  };
}

function logEntryView(record: ReturnType<SqliteStore["readLog"]>[number]): Record<string, unknown> {
  let data: unknown = null;
  let approval: unknown;
  if (record.entryType === "raft.config") data = JSON.parse(record.dataText);
  else if (record.entryType !== "raft.noop") {
    const command = parseEnvelopeText(record.dataText).command;
    if (command.kind === "propose") {
      data = command.data;
      approval = command.approval;
    } else if (command.kind === "vote")
      data = { proposal: command.proposal, voter: command.voter, vote: command.vote };
    else data = { id: command.id, raft_addr: command.raftAddress, http_addr: command.httpAddress };
  }
  return {
    index: record.index,
    term: record.term,
    entry_type: record.entryType,
    data,
    ...(approval === undefined ? {} : { approval }),
    timestamp: record.timestamp === null ? null : new Date(record.timestamp).toISOString(),
    committed: record.committed,
  };
}

/** The status page: who leads, terms, indexes and each member's replication. */
export function statusView(
  node: JunoNode,
  addresses: (id: NodeId) => MemberAddresses,
): Record<string, unknown> & { members: unknown[] } {
  const status = node.status();
  const progress = new Map(status.progress.map((p) => [p.id, p]));
  const ids = [...status.membership.voters, ...status.membership.learners];
  const tickMs = node.tickMs;
  return {
    node_id: status.id,
    role: status.role,
    term: status.term,
    leader_id: status.leaderId,
    commit_index: status.commitIndex,
    applied_index: status.appliedIndex,
    members: ids.map((id) => {
      const p = progress.get(id);
      const address = addresses(id);
      return {
        id,
        raft_addr: address.raft,
        http_addr: address.http,
        voter: status.membership.voters.includes(id),
        match_index: p?.match ?? null,
        lag_entries: p === undefined ? null : Math.max(0, status.lastIndex - p.match),
        last_contact_ms: p === undefined ? null : p.ticksSinceContact * tickMs,
      };
    }),
  };
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** Fastify's own refusals, in our catalog. */
const FASTIFY_ERRORS: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_INVALID_JSON_BODY: ["invalid_json", "the body is not valid JSON"],
  FST_ERR_CTP_EMPTY_JSON_BODY: ["invalid_json", "the body is empty; send a JSON object"],
  FST_ERR_CTP_BODY_TOO_LARGE: ["payload_too_large", "the body is larger than the limit"],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ["unsupported_media_type", "send application/json"],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ["bad_request", "the content-length does not match the body"],
};

function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(
    (error: Error & { code?: string; statusCode?: number; validation?: unknown }, _request, reply) => {
      if (error instanceof ApiError) return sendError(reply, error);
      if (error instanceof NodeError) return sendError(reply, toApiError(error));
      if (error.validation !== undefined)
        return sendError(reply, new ApiError("validation_failed", error.message));
      const known = FASTIFY_ERRORS[error.code ?? ""];
      if (known !== undefined) return sendError(reply, new ApiError(known[0], known[1]));
      if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
        return sendError(reply, new ApiError("bad_request", error.message));
      }
      reply.log.error({ err: error }, "unhandled error");
      return sendError(reply, new ApiError("internal", "internal error"));
    },
  );
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new ApiError("not_found", `no route ${request.method} ${request.url.split("?")[0]}`)),
  );
}

function registerMetricsHooks(app: FastifyInstance, metrics: Metrics): void {
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.httpDuration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
}

/** Exposed for tests: every status the catalog uses. */
export const KNOWN_STATUSES = new Set(Object.values(ERROR_STATUS));
