/**
 * The HTTP server (fastify): each module's routes under /api/v3, plus health, readiness, metrics,
 * the OpenAPI 3.1 document generated from the routes' TypeBox schemas, and Swagger UI at /docs.
 * Routes declare what they are, and the app handles it once for all of them:
 *   - `config: { public: true }`: served without a token (probes, metrics, documentation);
 *   - `config: { leaderOnly: true }`: run on the leader; a follower forwards the request to it;
 *   - `config: { relay: true }`: answers with another service's status, whatever it is;
 *   - `config: { role, agent }`: who may call it (authorization.ts; GET defaults to reader,
 *     other methods to operator), and how an agent token's request names its agent.
 * Input is validated at the edge and refused in one error shape; nothing half-applied.
 */

import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import Type from "typebox";
import type { NodeId } from "../raft/types.js";
import type { NodeApi } from "../runtime/domain-module.js";
import { CommandRefused, NodeError } from "../runtime/errors.js";
import type { StoreTimings } from "../runtime/storage.js";
import { registerCors, uiPlugin } from "../web/index.js";
import { registerAuthorization, requiredRole, type AgentResolver, type RouteRole } from "./authorization.js";
import { ApiError, ErrorCatalog } from "./errors.js";
import { forwardToLeader } from "./forward.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { performanceRoutes } from "./performance.js";
import { registerRateLimit, type RateLimitOptions } from "./rate-limit.js";
import { ErrorBody, responses } from "./schemas.js";
import { validatorCompiler } from "./validation.js";
import {
  LeaderLink,
  httpsOptions,
  registerClientCertificates,
  rememberLeaderLink,
  type ServerTls,
} from "./tls.js";
import type { TransportStats } from "../transport/peer-transport.js";

/** What the API serves. */
export interface ServerOptions {
  /** The node; its modules' routes are served. */
  readonly node: NodeApi;
  /** Bearer token required on /api/v3 when set. */
  readonly apiToken: string | null;
  /** The HTTP address of member `id`, for forwarding leader-only requests to the leader. */
  readonly httpAddressOf: (id: NodeId) => string | null;
  /** The store's write timings, for metrics. */
  readonly storeTimings?: () => StoreTimings;
  /** Largest accepted request body. */
  readonly bodyLimitBytes?: number;
  /** Structured logging (pino, through fastify); false in tests. */
  readonly logger?: false | import("pino").Logger;
  /** Answer 500 for any status a route did not declare a response schema for (tests turn this on). */
  readonly strictResponses?: boolean;
  /** Serve HTTPS with this (src/server/tls.ts); absent or null: plain HTTP. */
  readonly tls?: ServerTls | null;
  /** The peer transport's counters, for the handshake and certificate metrics. */
  readonly transportStats?: () => TransportStats;
  /** Requests per token per window on this node (rate-limit.ts); default none. */
  readonly rateLimit?: RateLimitOptions;
}

/** What a route may declare in its `config`. */
export interface RouteConfig {
  /** Served without a bearer token. */
  readonly public?: boolean;
  /** Runs on the leader; followers forward the request to it. */
  readonly leaderOnly?: boolean;
  /** Relays another service's answer, whatever its status (the request router). */
  readonly relay?: boolean;
  /** The least role that may call it (default: reader for GET and HEAD, operator otherwise). */
  readonly role?: RouteRole;
  /** Agent tokens may call it, for the agent this names (their own only). */
  readonly agent?: AgentResolver;
}

declare module "fastify" {
  interface FastifyContextConfig {
    public?: boolean;
    leaderOnly?: boolean;
    relay?: boolean;
  }
}

const SERVED_ROUTES = new WeakMap<FastifyInstance, string[]>();

/** Every documented "METHOD /path" the app serves (for the OpenAPI consistency test). */
export function servedRoutes(app: FastifyInstance): readonly string[] {
  return SERVED_ROUTES.get(app) ?? [];
}

/** Builds the fastify app (not listening yet). */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { node } = options;
  const catalog = new ErrorCatalog(node.view.registry);
  const loggerInstance: FastifyBaseLogger | undefined =
    options.logger === undefined || options.logger === false
      ? undefined
      : options.logger.child({ component: "http" });
  const tls = options.tls ?? null;
  // fastify types an https instance apart from an http one; everything here uses the common part.
  const app = Fastify({
    ...(tls === null ? {} : { https: httpsOptions(tls) }),
    ...(loggerInstance === undefined ? { logger: false } : { loggerInstance }),
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    // Ids of agents and tasks are data: they may be named like prototype properties, and JSON
    // bodies with such keys are refused rather than parsed into surprises.
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    // A line per request is what the metrics are for; the log keeps the events that matter.
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as FastifyInstance;
  const leaderLink = new LeaderLink(tls);
  rememberLeaderLink(app, leaderLink);
  app.addHook("onClose", () => leaderLink.close());
  app.setValidatorCompiler(validatorCompiler);
  app.addSchema(ErrorBody);
  const routes: string[] = [];
  SERVED_ROUTES.set(app, routes);
  app.addHook("onRoute", (route) => {
    if (route.schema?.hide === true || route.url.startsWith("/docs")) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) if (method !== "HEAD") routes.push(`${method} ${route.url}`);
    if (route.url.startsWith("/api/v3/") && route.url !== "/api/v3/openapi.json")
      declareFrameworkErrors(route);
  });
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "juno",
        version: "3",
        description:
          "A replicated control plane for agents across teams. Writes may go to any node; reads are linearizable unless ?consistency=stale. Errors are {error: {code, message}} with a stable code.",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json["$id"] === "string" ? json["$id"] : `def-${i}`,
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs", uiConfig: { deepLinking: true } });

  const metrics = createMetrics(node.view, options.storeTimings, options.transportStats);
  registerErrorHandling(app, catalog);
  registerMetricsHooks(app, metrics);
  if (tls?.clientCa != null) registerClientCertificates(app);
  // Before auth: a CORS preflight carries no token (the dashboard reads other members directly).
  await registerCors(app);
  const authorization = registerAuthorization(app, {
    apiToken: options.apiToken,
    credentials: node.view.registry.modules.find((module) => module.credentials)?.credentials ?? null,
    view: node.view,
  });
  // Before the routes: the limiter adds its hook to each route as it is registered.
  await registerRateLimit(app, options.rateLimit ?? { max: 0 }, node.view);
  // Closing the server aborts forwarded requests in flight, so a shutdown never waits on a leader
  // that stopped answering (paused, partitioned) until the forward's own timeout.
  const closing = new AbortController();
  app.addHook("preClose", (done) => {
    closing.abort();
    done();
  });
  // Connections busy when closing began miss the idle sweep; told to close after their answer,
  // they do not keep the shutdown waiting for the keep-alive timeout (72 s in fastify).
  app.addHook("onSend", (request, reply, payload, done) => {
    if (closing.signal.aborted) void reply.header("connection", "close");
    // A read served from this node's state without a quorum's confirmation says so, and how far
    // that state goes, so a dashboard in a partition can show it as possibly behind.
    const query = request.query as Record<string, unknown> | undefined;
    if (query?.["consistency"] === "stale") {
      void reply.header("x-juno-consistency", "stale");
      void reply.header("x-juno-applied-index", String(node.view.appliedIndex()));
      void reply.header("x-juno-leader", node.view.leaderId() ?? "none");
    }
    done(null, payload);
  });
  // A callback hook, so that every request the leader serves itself costs no promise here; a
  // forwarded one is answered by forwardToLeader, and only its failure goes on to `done`.
  app.addHook("preHandler", (request, reply, done) => {
    if (request.routeOptions.config.leaderOnly !== true || node.view.isLeader()) return done();
    forwardToLeader(request, reply, node.view, options.httpAddressOf, closing.signal, leaderLink).then(
      () => undefined,
      (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
    );
  });
  if (options.strictResponses === true) registerStrictResponses(app);

  for (const module of node.view.registry.modules) {
    module.metrics?.(metrics.registry, node.view);
    const moduleRoutes = module.routes;
    if (moduleRoutes !== undefined)
      await app.register(async (scope) => moduleRoutes(scope, node), { prefix: "/api/v3" });
  }
  await app.register(
    uiPlugin(node, { httpAddressOf: options.httpAddressOf, tokenRequired: authorization.tokenRequired }),
  );
  await app.register(
    (scope, _options, done) => {
      performanceRoutes(scope, node);
      done();
    },
    { prefix: "/api/v3" },
  );
  registerOwnRoutes(app, node, metrics);
  await app.ready();
  return app;
}

function registerOwnRoutes(app: FastifyInstance, node: NodeApi, metrics: Metrics): void {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  typed.get("/api/v3/openapi.json", { config: { public: true }, schema: { hide: true } }, (_request, reply) =>
    reply.send(app.swagger()),
  );
  typed.get(
    "/healthz",
    {
      config: { public: true },
      schema: {
        summary: "Liveness: the process serves requests",
        tags: ["health"],
        security: [],
        response: { 200: Type.Object({ status: Type.Literal("ok") }) },
      },
    },
    () => ({ status: "ok" as const }),
  );
  typed.get(
    "/readyz",
    {
      config: { public: true },
      schema: {
        summary: "Readiness: a member with a known leader that has applied everything it knows committed",
        tags: ["health"],
        security: [],
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const status = node.view.status();
      const ready =
        status.leaderId !== null &&
        status.membership.voters.length + status.membership.learners.length > 0 &&
        node.view.appliedIndex() >= status.commitIndex &&
        node.view.storageAvailable();
      return reply.code(ready ? 200 : 503).send({
        ready,
        role: status.role,
        leader_id: status.leaderId,
        commit_index: status.commitIndex,
        applied_index: node.view.appliedIndex(),
        storage_available: node.view.storageAvailable(),
      });
    },
  );
  typed.get(
    "/metrics",
    {
      config: { public: true },
      schema: {
        summary: "Prometheus metrics",
        tags: ["health"],
        security: [],
        produces: ["text/plain"],
        response: { 200: Type.String() },
      },
    },
    async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.render()),
  );
}

const Readiness = Type.Object({
  ready: Type.Boolean(),
  role: Type.String(),
  leader_id: Type.Union([Type.String(), Type.Null()]),
  commit_index: Type.Integer(),
  applied_index: Type.Integer(),
  storage_available: Type.Boolean({
    description: "false while the store cannot write (PostgreSQL unreachable): nothing is acknowledged",
  }),
});

/**
 * Every /api/v3 route may meet the framework's own refusals: bad input or a malformed body (400),
 * no token (401), an oversized body or the wrong media type (413, 415), a leader-only request
 * with no leader to forward to (503), an internal failure (500); and unless public, a token whose
 * role may not call it (403) and a token over its rate limit (429). Declared once here.
 */
function declareFrameworkErrors(route: {
  method: string | string[];
  schema?: { response?: unknown };
  config?: RouteConfig;
}): void {
  const schema = (route.schema ??= {}) as { response?: Record<string, unknown> };
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const statuses = [400, 401, 500];
  if (route.config?.public !== true) statuses.push(403, 429);
  if (methods.some((method) => method !== "GET")) statuses.push(413, 415);
  if (route.config?.leaderOnly === true) statuses.push(503);
  schema.response = { ...responses({}, statuses), ...(schema.response ?? {}) };
  if (route.config?.public !== true) documentAccess(schema, methods, route.config);
}

/** Says in the OpenAPI operation which role it needs, and whether agent tokens may call it. */
function documentAccess(
  schema: Record<string, unknown>,
  methods: readonly string[],
  config: RouteConfig | undefined,
): void {
  const roles = new Set(methods.map((method) => requiredRole(method, config ?? {})));
  // A route of several methods (the request router) needs what each method needs.
  if (roles.size === 1) schema["x-juno-role"] = [...roles][0];
  if (config?.agent !== undefined) schema["x-juno-agent-tokens"] = "for their own agent";
}

/** In tests: a status the route did not declare is a bug, answered as a 500 the tests see. */
function registerStrictResponses(app: FastifyInstance): void {
  app.addHook("onSend", (request, reply, payload, done) => {
    const declared = request.routeOptions.schema?.response as Record<string, unknown> | undefined;
    const url = request.routeOptions.url;
    if (
      url === undefined ||
      declared === undefined ||
      declared[String(reply.statusCode)] !== undefined ||
      request.routeOptions.config.relay === true
    )
      return done(null, payload);
    const message = `${request.method} ${url} answered ${reply.statusCode} without a response schema for it`;
    void reply.code(500);
    done(null, JSON.stringify({ error: { code: "undeclared_status", message } }));
  });
}

/** Fastify's own refusals, in our catalog. */
const FASTIFY_ERRORS: Record<string, [string, string]> = {
  FST_ERR_CTP_INVALID_JSON_BODY: ["invalid_json", "the body is not valid JSON"],
  FST_ERR_CTP_EMPTY_JSON_BODY: ["invalid_json", "the body is empty; send a JSON object"],
  FST_ERR_CTP_BODY_TOO_LARGE: ["payload_too_large", "the body is larger than the limit"],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ["unsupported_media_type", "send application/json"],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ["bad_request", "the content-length does not match the body"],
};

/** Turns node and module refusals into API errors. */
export function toApiError(error: unknown): ApiError | null {
  if (error instanceof ApiError) return error;
  if (error instanceof NodeError) {
    return new ApiError(
      error.code,
      error.message,
      error.leaderId === null ? {} : { leader_id: error.leaderId },
    );
  }
  if (error instanceof CommandRefused) return new ApiError(error.code, error.message);
  return null;
}

function registerErrorHandling(app: FastifyInstance, catalog: ErrorCatalog): void {
  app.setErrorHandler(
    (error: Error & { code?: string; statusCode?: number; validation?: unknown }, request, reply) => {
      const known = toApiError(error);
      if (known !== null) return catalog.send(reply, known);
      if (error.validation !== undefined)
        return catalog.send(reply, new ApiError("validation_failed", error.message));
      const fastify = FASTIFY_ERRORS[error.code ?? ""];
      if (fastify !== undefined) return catalog.send(reply, new ApiError(fastify[0], fastify[1]));
      if (error.message.includes("prototype property")) {
        return catalog.send(
          reply,
          new ApiError("invalid_json", "the body uses a reserved key (__proto__ or constructor)"),
        );
      }
      if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
        return catalog.send(reply, new ApiError("bad_request", error.message));
      }
      request.log.error({ err: error }, "unhandled error");
      return catalog.send(reply, new ApiError("internal", "internal error"));
    },
  );
  app.setNotFoundHandler((request, reply) =>
    catalog.send(reply, new ApiError("not_found", `no route ${request.method} ${request.url.split("?")[0]}`)),
  );
}

function registerMetricsHooks(app: FastifyInstance, metrics: Metrics): void {
  // A callback hook: one promise fewer per request.
  app.addHook("onResponse", (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.httpDuration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });
}
