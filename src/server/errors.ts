/** The one error catalog: stable codes, their HTTP status, and the one JSON error shape. */

import type { FastifyReply } from "fastify";

/** Every error code the API answers with, and its HTTP status. */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  duplicate_vote: 409,
  unknown_voter: 409,
  not_a_decision: 409,
  unknown_proposal: 404,
  compacted: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  internal: 500,
  no_leader: 503,
  not_leader: 503,
  overloaded: 503,
  shutting_down: 503,
  timeout: 504,
  proposal_dropped: 503,
  entry_too_large: 413,
  uncommitted_limit: 429,
  leadership_transfer_in_progress: 503,
  config_change_pending: 409,
  invalid_config_change: 400,
  invalid_transfer_target: 400,
  invalid_command: 400,
} as const;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** An error the API answers with: `{ "error": { "code", "message" } }` and the code's status. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** The HTTP status for this error. */
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** Sends `error` in the one error shape; 503s carry Retry-After. */
export function sendError(reply: FastifyReply, error: ApiError): FastifyReply {
  if (error.status === 503 || error.status === 429) void reply.header("retry-after", "1");
  return reply
    .code(error.status)
    .send({ error: { code: error.code, message: error.message, ...error.details } });
}
