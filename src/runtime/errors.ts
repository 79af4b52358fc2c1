/** Why the node could not take a request: stable codes, which the HTTP layer maps to statuses. */

import type { NodeId } from "../raft/types.js";

/** Why the node could not take a request. */
export type NodeErrorCode =
  | "not_leader"
  | "no_leader"
  | "overloaded"
  | "proposal_dropped"
  | "outcome_unknown"
  | "timeout"
  | "shutting_down"
  | "entry_too_large"
  | "uncommitted_limit"
  | "leadership_transfer_in_progress"
  | "config_change_pending"
  | "invalid_config_change"
  | "invalid_transfer_target"
  | "invalid_command";

/** Every NodeErrorCode, for catalogs that must cover them all. */
export const NODE_ERROR_CODES: readonly NodeErrorCode[] = [
  "not_leader",
  "no_leader",
  "overloaded",
  "proposal_dropped",
  "outcome_unknown",
  "timeout",
  "shutting_down",
  "entry_too_large",
  "uncommitted_limit",
  "leadership_transfer_in_progress",
  "config_change_pending",
  "invalid_config_change",
  "invalid_transfer_target",
  "invalid_command",
];

/** A refusal with the leader to try instead, when known. */
export class NodeError extends Error {
  override name = "NodeError";
  constructor(
    readonly code: NodeErrorCode,
    message: string,
    readonly leaderId: NodeId | null = null,
  ) {
    super(message);
  }
}

/** A command its module refused when applying it: nothing changed. */
export class CommandRefused extends Error {
  override name = "CommandRefused";
  constructor(
    readonly code: string,
    message: string,
    /** Where the refused command sits in the log. */
    readonly index: number,
  ) {
    super(message);
  }
}

/** Whether `code` names a NodeErrorCode (for codes that crossed the wire as text). */
export function isNodeErrorCode(code: string): code is NodeErrorCode {
  return (NODE_ERROR_CODES as readonly string[]).includes(code);
}
