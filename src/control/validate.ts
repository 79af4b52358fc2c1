/** Validation of commands: the HTTP edge refuses bad input with it, and apply checks it again. */

import { RESERVED_ENTRY_TYPE_PREFIXES, type Command, type JsonValue } from "./command.js";

/** The seed's consensus_log.entry_type is VARCHAR(50). */
export const MAX_ENTRY_TYPE_LENGTH = 50;
/** Voters on one decision. */
export const MAX_APPROVAL_VOTERS = 100;
/** A voter or node id. */
export const MAX_ID_LENGTH = 100;

/** Why a command is not acceptable, or null when it is. */
export function commandProblem(command: Command): string | null {
  switch (command.kind) {
    case "propose":
      return (
        entryTypeProblem(command.entryType) ??
        (command.approval === undefined ? null : approvalProblem(command.approval))
      );
    case "vote":
      if (!Number.isSafeInteger(command.proposal) || command.proposal < 1)
        return "proposal must be a positive log index";
      if (command.vote !== "approve" && command.vote !== "reject")
        return 'vote must be "approve" or "reject"';
      return idProblem(command.voter, "voter");
    case "member":
      return (
        idProblem(command.id, "id") ??
        addressProblem(command.raftAddress) ??
        addressProblem(command.httpAddress)
      );
  }
}

function addressProblem(address: unknown): string | null {
  if (address === null) return null;
  if (typeof address !== "string" || address.length === 0 || address.length > 300)
    return "an address must be host:port";
  return null;
}

function entryTypeProblem(entryType: string): string | null {
  if (typeof entryType !== "string" || entryType.length === 0) return "entry_type must be a non-empty string";
  if (entryType.length > MAX_ENTRY_TYPE_LENGTH)
    return `entry_type must be at most ${MAX_ENTRY_TYPE_LENGTH} characters`;
  if (RESERVED_ENTRY_TYPE_PREFIXES.some((prefix) => entryType.startsWith(prefix))) {
    return `entry_type must not start with ${RESERVED_ENTRY_TYPE_PREFIXES.join(", ")} (reserved)`;
  }
  return null;
}

function approvalProblem(approval: { voters: readonly string[]; quorum: number }): string | null {
  if (!Array.isArray(approval.voters) || approval.voters.length === 0)
    return "approval.voters must be a non-empty array";
  if (approval.voters.length > MAX_APPROVAL_VOTERS)
    return `approval.voters may name at most ${MAX_APPROVAL_VOTERS} voters`;
  for (const voter of approval.voters) {
    const problem = idProblem(voter, "approval.voters[]");
    if (problem !== null) return problem;
  }
  if (new Set(approval.voters).size !== approval.voters.length)
    return "approval.voters must not repeat a voter";
  if (
    !Number.isSafeInteger(approval.quorum) ||
    approval.quorum < 1 ||
    approval.quorum > approval.voters.length
  ) {
    return "approval.quorum must be an integer between 1 and the number of voters";
  }
  return null;
}

function idProblem(id: unknown, what: string): string | null {
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_LENGTH) {
    return `${what} must be a string of 1 to ${MAX_ID_LENGTH} characters`;
  }
  return null;
}

/** Whether a parsed JSON body value is plain JSON (no undefined, functions, non-finite numbers). */
export function isJsonValue(value: unknown, depth = 0): value is JsonValue {
  if (depth > 64) return false;
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((item) => isJsonValue(item, depth + 1));
  if (typeof value === "object") return Object.values(value).every((item) => isJsonValue(item, depth + 1));
  return false;
}
