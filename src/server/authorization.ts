/**
 * Who may call what: the roles, the role table, and the hooks that put a principal on every
 * request and refuse what its role does not allow, before the body is read and before anything
 * is proposed. Routes declare what they need in their fastify `config`; no handler checks it:
 *
 *   - `role`: the least role that may call the route. GET and HEAD default to reader, every other
 *     method to operator; membership, token and audit routes declare admin.
 *   - `agent`: an agent token may call the route too, for the agent the resolver names (its own
 *     only: another agent's id is 403 forbidden_agent). Routes without it are closed to agents.
 *
 * Tokens come from JUNO_API_TOKEN (the admin token) and from the module that keeps credentials
 * (src/access: the tokens file and the tokens made through the API). With none of them the API
 * is open, as it always was on loopback: every caller acts as an anonymous admin.
 */

import type { FastifyInstance, FastifyRequest } from "fastify";
import { createHash, timingSafeEqual } from "node:crypto";
import type { Actor } from "../control/index.js";
import type { NodeView } from "../runtime/view.js";
import { ApiError } from "./errors.js";

/** The roles a token may have. */
export const TOKEN_ROLES = ["admin", "operator", "reader", "agent"] as const;

/** One of TOKEN_ROLES. */
export type TokenRole = (typeof TOKEN_ROLES)[number];

/** What a route may require: the ordered roles (agents are let in by `agent`, not by rank). */
export type RouteRole = Exclude<TokenRole, "agent">;

/**
 * The role table: the routes each role may call. Read top to bottom, each role may do what the
 * ones below it may (agent aside, which is let in only where a route names the agent it acts for).
 */
export const ROLE_TABLE: Readonly<Record<TokenRole, string>> = {
  admin: "everything: membership and leadership, tokens, the audit log, and all an operator may do",
  operator: "every read, and every write to agents, tasks, workflows and decisions",
  reader: "reads only (GET)",
  agent:
    "bound to one agent id: register it, beat, poll, complete, fail and report its own tasks, deregister itself, and the reads an agent needs about itself",
};

const RANK: Readonly<Record<RouteRole, number>> = { reader: 0, operator: 1, admin: 2 };

/** Who a request acts as. */
export interface Principal {
  /** "api-token" (JUNO_API_TOKEN), "file:<name>" (the tokens file), a UUID (made through the API), or "anonymous". */
  readonly id: string;
  readonly name: string;
  readonly role: TokenRole;
  /** The agent an agent token is bound to; null for every other role. */
  readonly agentId: string | null;
}

/** JUNO_API_TOKEN's principal. */
export const API_TOKEN_PRINCIPAL: Principal = {
  id: "api-token",
  name: "JUNO_API_TOKEN",
  role: "admin",
  agentId: null,
};

/** Every caller's principal while no token at all is configured (the API is open). */
export const OPEN_PRINCIPAL: Principal = { id: "anonymous", name: "anonymous", role: "admin", agentId: null };

/** Tokens beside JUNO_API_TOKEN, as a module keeps them. */
export interface Credentials {
  /** Whether any token exists (in the tokens file or the state); with none and no JUNO_API_TOKEN the API is open. */
  configured(view: NodeView): boolean;
  /**
   * The principal of the token whose SHA-256 digest is `digest`; "expired" for a token past its
   * expiry; null for no such token (never made, or revoked). Compares digests in constant time.
   */
  authenticate(view: NodeView, digest: Buffer, nowMs: number): Principal | "expired" | null;
}

/** The agent ids a request acts for: every one must be the agent token's own. */
export type AgentIds = string | null | readonly (string | null)[];

/** How a route finds the agent a request acts for (null: it cannot tell, and an agent token is refused). */
export type AgentResolver = (request: FastifyRequest) => AgentIds | Promise<AgentIds>;

declare module "fastify" {
  interface FastifyRequest {
    /**
     * Who the request acts as; null (or, in plugins registered before the decorator, undefined)
     * on public routes and before authentication.
     */
    principal: Principal | null | undefined;
  }
  interface FastifyContextConfig {
    /** The least role that may call the route (default: reader for GET and HEAD, else operator). */
    role?: RouteRole;
    /** Agent tokens may call the route, for the agent this names. */
    agent?: AgentResolver;
  }
}

/** The least role a route needs: what it declares, else reader for reads and operator for writes. */
export function requiredRole(method: string, config: { readonly role?: RouteRole }): RouteRole {
  return config.role ?? (method === "GET" || method === "HEAD" ? "reader" : "operator");
}

/** Why `principal` may not call a route that needs `required` (and lets agents in, or not), or null. */
export function roleRefusal(
  principal: Principal,
  required: RouteRole,
  agentScoped: boolean,
): ApiError | null {
  if (principal.role === "agent") {
    if (agentScoped && required !== "admin") return null;
    return new ApiError("forbidden_role", "an agent token may not call this route");
  }
  if (RANK[principal.role] >= RANK[required]) return null;
  return new ApiError(
    "forbidden_role",
    `this route needs the ${required} role; the token ${principal.name} has the ${principal.role} role`,
  );
}

/** Why an agent token bound to `agentId` may not act for `ids`, or null when every one is its own. */
export function agentRefusal(agentId: string | null, ids: AgentIds): ApiError | null {
  const list: readonly (string | null)[] = typeof ids === "string" || ids === null ? [ids] : ids;
  if (agentId !== null && list.length > 0 && list.every((id) => id === agentId)) return null;
  return new ApiError(
    "forbidden_agent",
    `the token is bound to agent ${agentId ?? "none"}; this request acts for another agent`,
  );
}

/** Resolvers for the usual places a request names its agent. */
export const agentFrom = {
  /** The agent token's own agent: routes where the agent acts for itself by construction (register). */
  self: ((request) => request.principal?.agentId ?? null) satisfies AgentResolver,
  /** A path parameter (`/agents/:id/heartbeat`). */
  param:
    (name: string): AgentResolver =>
    (request) =>
      textField(request.params, name),
  /** A field of the JSON body (`{"agent_id": ...}`). */
  body:
    (field: string): AgentResolver =>
    (request) =>
      textField(request.body, field),
  /** A query parameter (`?agent_id=`): an agent lists only its own. */
  query:
    (field: string): AgentResolver =>
    (request) =>
      textField(request.query, field),
  /** Every agent several resolvers name. */
  all:
    (...resolvers: readonly AgentResolver[]): AgentResolver =>
    async (request) => {
      const ids: (string | null)[] = [];
      for (const resolve of resolvers) {
        const found = await resolve(request);
        if (typeof found === "string" || found === null) ids.push(found);
        else ids.push(...found);
      }
      return ids;
    },
};

function textField(container: unknown, field: string): string | null {
  if (typeof container !== "object" || container === null || !Object.hasOwn(container, field)) return null;
  const value = (container as Record<string, unknown>)[field];
  return typeof value === "string" ? value : null;
}

/** The actor the log records for a request's principal (null without one). */
export function actorOf(request: FastifyRequest): Actor | null {
  const principal = request.principal ?? null;
  if (principal === null) return null;
  return { id: principal.id, name: principal.name, role: principal.role, agent_id: principal.agentId };
}

/** What the hooks authenticate against. */
export interface AuthorizationOptions {
  /** JUNO_API_TOKEN, the admin token; null when unset. */
  readonly apiToken: string | null;
  /** The module's tokens, if a module keeps any. */
  readonly credentials: Credentials | null;
  readonly view: NodeView;
  /** Wall-clock milliseconds, for token expiry; default Date.now. */
  readonly now?: () => number;
}

/** What the app asks of the hooks once registered. */
export interface Authorization {
  /** Whether the API asks for a token right now (any token configured). */
  readonly tokenRequired: () => boolean;
}

/** Why the request carries no principal; set by onRequest, answered in preParsing. */
const PROBLEM = Symbol("juno.authorization.problem");
type RequestWithProblem = FastifyRequest & { [PROBLEM]?: string };

/**
 * Registers the hooks: onRequest finds the principal (so the rate limiter, whose route hooks run
 * next, can key on it); preParsing answers 401 or 403 forbidden_role before the body is read;
 * preHandler checks an agent token's agent against the validated request (403 forbidden_agent).
 * Register before any hook that acts on the request (forwarding to the leader).
 */
export function registerAuthorization(app: FastifyInstance, options: AuthorizationOptions): Authorization {
  const { view, credentials } = options;
  const now = options.now ?? Date.now;
  const adminDigest = options.apiToken === null ? null : digest(options.apiToken);
  const tokenRequired = (): boolean => adminDigest !== null || (credentials?.configured(view) ?? false);
  app.decorateRequest("principal", null);

  app.addHook("onRequest", (request, _reply, done) => {
    if (!guarded(request)) return done();
    if (!tokenRequired()) {
      request.principal = OPEN_PRINCIPAL;
      return done();
    }
    const header = request.headers.authorization ?? "";
    const presented = header.startsWith("Bearer ") ? header.slice(7) : "";
    // Digests have one length whatever the token's, so each comparison takes the same time.
    const presentedDigest = digest(presented);
    if (adminDigest !== null && timingSafeEqual(presentedDigest, adminDigest)) {
      request.principal = API_TOKEN_PRINCIPAL;
      return done();
    }
    const found = presented === "" ? null : (credentials?.authenticate(view, presentedDigest, now()) ?? null);
    if (found !== null && found !== "expired") request.principal = found;
    else
      (request as RequestWithProblem)[PROBLEM] =
        presented === ""
          ? "missing bearer token"
          : found === "expired"
            ? "the bearer token has expired"
            : "wrong or revoked bearer token";
    done();
  });

  app.addHook("preParsing", (request, _reply, payload, done) => {
    if (!guarded(request)) return done(null, payload);
    const principal = request.principal ?? null;
    if (principal === null) {
      const problem = (request as RequestWithProblem)[PROBLEM] ?? "missing or wrong bearer token";
      return done(new ApiError("unauthorized", problem));
    }
    // An unknown route has nothing to guard: it answers 404 to anyone with a valid token.
    if (request.routeOptions.url === undefined) return done(null, payload);
    const config = request.routeOptions.config ?? {};
    const refusal = roleRefusal(principal, requiredRole(request.method, config), config.agent !== undefined);
    if (refusal !== null) {
      request.log.warn({ token: principal.id, role: principal.role, url: request.url }, "forbidden");
      return done(refusal);
    }
    done(null, payload);
  });

  // A callback hook, so requests that are not an agent's cost no promise here.
  app.addHook("preHandler", (request, _reply, done) => {
    const principal = request.principal ?? null;
    if (principal === null || principal.role !== "agent" || request.routeOptions.url === undefined)
      return done();
    const resolve = request.routeOptions.config?.agent;
    if (resolve === undefined)
      return done(new ApiError("forbidden_role", "an agent token may not call this route"));
    Promise.resolve(resolve(request)).then((ids) => {
      const refusal = agentRefusal(principal.agentId, ids);
      if (refusal === null) return done();
      request.log.warn({ token: principal.id, agent: principal.agentId, url: request.url }, "forbidden");
      done(refusal);
    }, done);
  });

  return { tokenRequired };
}

/** Whether a request needs a principal: not the public routes, the docs, or the dashboard's pages. */
function guarded(request: FastifyRequest): boolean {
  if (request.routeOptions.config?.public === true || request.url.startsWith("/docs")) return false;
  // Unknown routes answer 404 without a token only outside /api/: everything else is the UI's.
  return request.routeOptions.url !== undefined || request.url.startsWith("/api/");
}

/** The SHA-256 digest of a token's text: what is kept and compared, never the token itself. */
export function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
