/**
 * The one error catalog: stable codes with their HTTP status, and the one JSON error shape
 * `{ "error": { "code", "message", ...details } }`. The server's own codes and the node's are
 * here; each module declares its own codes with their status, and the catalog gathers them.
 */

import type { FastifyReply } from "fastify";
import type { ModuleRegistry } from "../control/index.js";
import type { NodeErrorCode } from "../runtime/errors.js";

/** The HTTP layer's own codes and their status. */
export const HTTP_ERROR_STATUS = {
  bad_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  unauthorized: 401,
  forbidden_role: 403,
  forbidden_agent: 403,
  not_found: 404,
  conflict: 409,
  compacted: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  rate_limited: 429,
  internal: 500,
} as const;

/** The node's refusals and their status. */
export const NODE_ERROR_STATUS: Readonly<Record<NodeErrorCode, number>> = {
  not_leader: 503,
  no_leader: 503,
  overloaded: 503,
  shutting_down: 503,
  proposal_dropped: 503,
  outcome_unknown: 503,
  leadership_transfer_in_progress: 503,
  timeout: 504,
  entry_too_large: 413,
  uncommitted_limit: 429,
  config_change_pending: 409,
  invalid_config_change: 400,
  invalid_transfer_target: 400,
  invalid_command: 400,
};

/** An error the API answers with; its status comes from the catalog by its code. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Every code the server may answer with, and its status. */
export class ErrorCatalog {
  private readonly status = new Map<string, number>();

  constructor(registry: ModuleRegistry) {
    for (const [code, status] of Object.entries(HTTP_ERROR_STATUS)) this.status.set(code, status);
    for (const [code, status] of Object.entries(NODE_ERROR_STATUS)) this.status.set(code, status);
    for (const [code, status] of registry.errorCodes()) {
      const known = this.status.get(code);
      if (known !== undefined && known !== status)
        throw new Error(`error code ${code} has status ${status} in a module but ${known} in the catalog`);
      this.status.set(code, status);
    }
  }

  /** The status of `code`; an unknown code is a programming error and answers 500. */
  statusOf(code: string): number {
    return this.status.get(code) ?? 500;
  }

  /** Every code with its status. */
  entries(): ReadonlyMap<string, number> {
    return this.status;
  }

  /** Sends `error` in the one error shape; 503s and 429s carry Retry-After (1 s unless already set). */
  send(reply: FastifyReply, error: ApiError): FastifyReply {
    const status = this.statusOf(error.code);
    if ((status === 503 || status === 429) && !reply.hasHeader("retry-after"))
      void reply.header("retry-after", "1");
    return reply.code(status).send({ error: { code: error.code, message: error.message, ...error.details } });
  }
}
