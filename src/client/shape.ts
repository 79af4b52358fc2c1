/**
 * Checks of the answers the SDK acts on: an agent's id and status, the heartbeat interval, a page
 * and its cursor. A server that answers something else fails loudly here, as invalid_response,
 * instead of scheduling a heartbeat every NaN milliseconds.
 */

import { JunoApiError, NO_STATUS, isRecord } from "./errors.js";
import { AGENT_STATUSES, type AgentStatus } from "./types.js";

/** `body` as an object with `fields` of the given JSON types; throws invalid_response otherwise. */
export function expectFields(
  body: unknown,
  what: string,
  fields: Readonly<Record<string, "string" | "number" | "object" | "array" | "string|null">>,
): Record<string, unknown> {
  if (!isRecord(body)) throw invalid(`${what} is not a JSON object`);
  for (const [name, type] of Object.entries(fields)) {
    const value = body[name];
    const ok =
      type === "array"
        ? Array.isArray(value)
        : type === "object"
          ? isRecord(value)
          : type === "string|null"
            ? value === null || typeof value === "string"
            : typeof value === type;
    if (!ok) throw invalid(`${what}.${name} is not ${type === "object" ? "an object" : `a ${type}`}`);
  }
  return body;
}

/** Whether `value` is one of the agent status values. */
export function isAgentStatus(value: unknown): value is AgentStatus {
  return typeof value === "string" && (AGENT_STATUSES as readonly string[]).includes(value);
}

/** Checks the parts of an AgentView the SDK relies on. */
export function expectAgentView(value: unknown, what: string): void {
  const agent = expectFields(value, what, { id: "string", name: "string", status: "string" });
  if (!isAgentStatus(agent["status"])) throw invalid(`${what}.status is not an agent status`);
}

/** The error for an answer of the wrong shape. */
export function invalid(message: string): JunoApiError {
  return new JunoApiError(NO_STATUS, "invalid_response", message);
}
