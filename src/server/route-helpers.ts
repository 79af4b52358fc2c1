/** Small helpers every module's routes use: the edge check of a command, and read consistency. */

import type { FastifyReply } from "fastify";
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { NodeApi } from "../runtime/domain-module.js";
import { ApiError } from "./errors.js";

/**
 * Refuses a body its command's own rules reject (the schema already passed): a 400 here costs
 * nothing in the log, where apply would refuse it the same way.
 */
export function checkCommand(node: NodeApi, kind: string, body: unknown): void {
  const problem = node.view.registry.problem(kind, body);
  if (problem !== null) throw new ApiError("validation_failed", problem);
}

/** Waits for a linearizable read unless the caller asked for this node's possibly stale state. */
export async function readConsistently(
  node: NodeApi,
  consistency: "linearizable" | "stale" | undefined,
): Promise<void> {
  if (consistency === "stale") return;
  await node.readBarrier();
}

/** Milliseconds since the epoch as the API writes times. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Whether `id` is a UUID as juno writes them (lower-case hex): anything else names nothing. */
export function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id);
}

/** The headers of a server-sent event stream. */
export const EVENT_STREAM_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
  "x-accel-buffering": "no",
} as const;

/**
 * Takes `reply` over for a server-sent event stream and writes its head: the stream's headers
 * plus those the hooks already set on the reply (CORS among them, so another member's page can
 * read it). Returns the raw response to write events to.
 */
export function startEventStream(reply: FastifyReply): ServerResponse {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { ...(reply.getHeaders() as OutgoingHttpHeaders), ...EVENT_STREAM_HEADERS });
  return raw;
}
