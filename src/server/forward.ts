/**
 * Forwarding a leader-only request (membership changes, leadership transfer) from a follower to
 * the leader over HTTP, relaying its answer. Ordinary writes do not come here: any node proposes
 * them, and a follower hands them to the leader in batches over the peer transport.
 */

import type { FastifyReply, FastifyRequest } from "fastify";
import type { NodeId } from "../raft/types.js";
import type { NodeView } from "../runtime/view.js";
import { ApiError } from "./errors.js";
import type { LeaderLink } from "./tls.js";

/** Marks a forwarded request, so the leader it reached never forwards it again. */
export const FORWARDED_HEADER = "x-juno-forwarded";

/** How long a forwarded request may wait for the leader. */
const FORWARD_TIMEOUT_MS = 15_000;

/**
 * Sends the request on to the leader and relays its answer; over HTTPS when `link` says this node
 * serves HTTPS (every member serves its API the same way).
 */
export async function forwardToLeader(
  request: FastifyRequest,
  reply: FastifyReply,
  view: NodeView,
  httpAddressOf: (id: NodeId) => string | null,
  closing: AbortSignal,
  link?: LeaderLink,
): Promise<FastifyReply> {
  const leader = view.leaderId();
  if (leader === null) throw new ApiError("no_leader", "no leader is known right now; retry shortly");
  if (request.headers[FORWARDED_HEADER] !== undefined) {
    throw new ApiError("not_leader", `this node is not the leader; the leader is ${leader}`, {
      leader_id: leader,
    });
  }
  const target = httpAddressOf(leader);
  if (target === null)
    throw new ApiError("not_leader", `the leader ${leader} has no known HTTP address`, { leader_id: leader });
  // Only a request that carries a body says it is JSON: an empty JSON body is refused.
  const body = request.body === undefined || request.body === null ? null : JSON.stringify(request.body);
  const headers: Record<string, string> = { [FORWARDED_HEADER]: "1" };
  if (body !== null) headers["content-type"] = "application/json";
  if (request.headers.authorization !== undefined) headers["authorization"] = request.headers.authorization;
  let response: Response;
  try {
    const url = `${link?.scheme ?? "http"}://${target}${request.url}`;
    const init = {
      method: request.method,
      headers,
      body,
      // A paused or dead leader must not hold the request, nor this server's shutdown, for long.
      signal: AbortSignal.any([AbortSignal.timeout(FORWARD_TIMEOUT_MS), closing]),
    };
    response = await (link === undefined ? fetch(url, init) : link.fetch(url, init));
  } catch (error) {
    throw new ApiError("no_leader", `could not reach the leader at ${target}: ${failureText(error)}`);
  }
  const text = await response.text();
  // The leader already serialized (and validated) its answer: relay the bytes untouched.
  return reply
    .code(response.status)
    .type("application/json")
    .serializer((payload) => String(payload))
    .send(text);
}

/** A fetch failure in words, with the cause undici keeps (a refused certificate, a refused connection). */
function failureText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
}
