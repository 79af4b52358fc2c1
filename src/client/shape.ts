/**
 * Checks of the answers the SDK acts on: an agent's id and status, the heartbeat interval, a page
 * and its cursor, a task's id, status and attempt, the tasks a poll hands out, a workflow run and
 * its steps. A server that answers something else fails loudly here, as invalid_response,
 * instead of scheduling a heartbeat every NaN milliseconds.
 */

import { JunoApiError, NO_STATUS, isRecord } from "./errors.js";
import {
  AGENT_STATUSES,
  TASK_STATUSES,
  WORKFLOW_STATUSES,
  type AgentStatus,
  type TaskStatus,
  type WorkflowStatus,
} from "./types.js";

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

/** Whether `value` is one of the task status values. */
export function isTaskStatus(value: unknown): value is TaskStatus {
  return typeof value === "string" && (TASK_STATUSES as readonly string[]).includes(value);
}

/** Checks the parts of a TaskView the SDK relies on. */
export function expectTaskView(value: unknown, what: string): void {
  const task = expectFields(value, what, {
    id: "string",
    task_type: "string",
    status: "string",
    attempt: "number",
    previous_agents: "array",
  });
  if (!isTaskStatus(task["status"])) throw invalid(`${what}.status is not a task status`);
}

/** Whether `value` is one of the workflow status values. */
export function isWorkflowStatus(value: unknown): value is WorkflowStatus {
  return typeof value === "string" && (WORKFLOW_STATUSES as readonly string[]).includes(value);
}

/** Checks the parts of a workflow run's summary the SDK and the CLI rely on. */
export function expectWorkflowSummary(value: unknown, what: string): void {
  const run = expectFields(value, what, {
    id: "string",
    name: "string",
    status: "string",
    revision: "number",
    progress: "object",
  });
  if (!isWorkflowStatus(run["status"])) throw invalid(`${what}.status is not a workflow status`);
  expectFields(run["progress"], `${what}.progress`, { total: "number", done: "number", teams: "array" });
}

/** Checks the parts of a whole workflow run the SDK and the CLI rely on, its steps among them. */
export function expectWorkflowView(value: unknown, what: string): void {
  expectWorkflowSummary(value, what);
  const steps = expectFields(value, what, { steps: "array", events: "array" })["steps"] as unknown[];
  steps.forEach((step, index) =>
    expectFields(step, `${what}.steps[${index}]`, { id: "string", team: "string", status: "string" }),
  );
}

/** Checks the parts of a poll's delivery or cancellation the worker acts on. */
export function expectAttempt(value: unknown, what: string, fields: "delivery" | "cancelled"): void {
  const attempt = expectFields(
    value,
    what,
    fields === "delivery"
      ? { id: "string", attempt: "number", task_type: "string" }
      : { id: "string", attempt: "number", reason: "string" },
  );
  if (!Number.isInteger(attempt["attempt"]) || (attempt["attempt"] as number) < 1) {
    throw invalid(`${what}.attempt is not a whole number >= 1`);
  }
}

/** The error for an answer of the wrong shape. */
export function invalid(message: string): JunoApiError {
  return new JunoApiError(NO_STATUS, "invalid_response", message);
}
