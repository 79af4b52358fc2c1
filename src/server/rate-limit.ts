/**
 * Per-token rate limits (@fastify/rate-limit): each token may make `max` requests per window on
 * this node, and a caller without a token (the API open, or a missing or wrong token) `max` per
 * client address. Beyond it: 429 rate_limited in the one error shape, with Retry-After.
 *
 * A request is counted once, where it is served: public routes (probes, /metrics, the docs) are
 * never counted; a follower does not count a leader-only request it forwards, because the leader
 * counts it (the forwarded request carries the same token). Writes a follower hands the leader
 * over the peer transport are not HTTP requests there, so nothing counts them twice. Limits are
 * per node: a client that spreads its requests over n nodes may make n times `max`.
 */

import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { NodeView } from "../runtime/view.js";
import { OPEN_PRINCIPAL } from "./authorization.js";
import { ApiError } from "./errors.js";
import { FORWARDED_HEADER } from "./forward.js";

/** How many requests a token may make. */
export interface RateLimitOptions {
  /** Requests per window per token (or per client address without one) on this node; 0: no limit. */
  readonly max: number;
  /** The window, in milliseconds; default one second. */
  readonly windowMs?: number;
}

/** Callers whose counts a node keeps at once (least recently seen forgotten first). */
export const RATE_LIMIT_KEYS_MAX = 50_000;

/** Registers the limiter on `app`; routes registered after it are limited. Nothing with max 0. */
export async function registerRateLimit(
  app: FastifyInstance,
  options: RateLimitOptions,
  view: NodeView,
): Promise<void> {
  if (options.max <= 0) return;
  const windowMs = options.windowMs ?? 1_000;
  await app.register(rateLimit, {
    global: true,
    max: options.max,
    timeWindow: windowMs,
    // Route hooks run after the app's: the principal is known by then.
    hook: "onRequest",
    cache: RATE_LIMIT_KEYS_MAX,
    keyGenerator: keyOf,
    allowList: (request) => notCountedHere(request, view),
    errorResponseBuilder: (_request, context) =>
      new ApiError(
        "rate_limited",
        `more than ${context.max} requests in ${windowMs / 1000} s from this token; retry in ${context.after}`,
      ),
  });
}

/** The key a request is counted under: its token, or its client address without one. */
function keyOf(request: FastifyRequest): string {
  const principal = request.principal ?? null;
  if (principal === null || principal === OPEN_PRINCIPAL) return `ip:${request.ip}`;
  return `token:${principal.id}`;
}

/** Public routes, and leader-only requests this follower forwards (the leader counts those). */
function notCountedHere(request: FastifyRequest, view: NodeView): boolean {
  const config = request.routeOptions.config ?? {};
  if (config.public === true || request.url.startsWith("/docs")) return true;
  return config.leaderOnly === true && !view.isLeader() && request.headers[FORWARDED_HEADER] === undefined;
}
