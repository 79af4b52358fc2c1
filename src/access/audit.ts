/**
 * Auditing actions that are not commands: membership changes are Raft configuration entries and
 * a leadership transfer is no entry at all, so neither carries an envelope (nor its actor). They
 * are recorded by access.record entries of their own, around the action: "requested" before it
 * (if that cannot be recorded, the action is not attempted, so nothing happens unaudited), then
 * how it ended. The second record is best effort, and the caller's answer does not wait for it:
 * a leader handing its leadership away refuses proposals until the next leader takes over, so the
 * record is proposed again (a few times, backing off, until a leader takes it); one that has just
 * removed itself from the cluster finds no leader to take it, and that record is lost (logged).
 */

import type { FastifyRequest } from "fastify";
import type { NodeApi } from "../runtime/domain-module.js";
import { actorOf } from "../server/authorization.js";
import { recordCommand, type RECORDED_ACTIONS } from "./commands.js";

/** Times the outcome record is proposed again after a leader change dropped or refused it. */
const OUTCOME_ATTEMPTS_MAX = 6;
/** The first wait before proposing it again; it doubles each time (100 ms to 3.2 s, 6.3 s in all). */
const OUTCOME_RETRY_MS = 100;
/** Refusals a leader change explains: the record surely did not land, so it may go again. */
const RETRIED: ReadonlySet<string> = new Set([
  "leadership_transfer_in_progress",
  "proposal_dropped",
  "not_leader",
  "no_leader",
]);

/** What an audited action is. */
export interface ActionSubject {
  readonly action: (typeof RECORDED_ACTIONS)[number];
  readonly target: string;
  readonly detail: string | null;
}

/** Runs `action` for `request`'s caller, recording that it was asked for and then how it ended. */
export async function audited<T>(
  node: NodeApi,
  request: FastifyRequest,
  subject: ActionSubject,
  action: () => Promise<T>,
): Promise<T> {
  const actor = actorOf(request);
  await node.propose(recordCommand, { ...subject, outcome: "requested", message: null }, { actor });
  const settle = (outcome: string, message: string | null, attempt = 0): void => {
    node.propose(recordCommand, { ...subject, outcome, message }, { actor }).catch((error: unknown) => {
      if (attempt < OUTCOME_ATTEMPTS_MAX && RETRIED.has(codeOf(error))) {
        setTimeout(() => settle(outcome, message, attempt + 1), OUTCOME_RETRY_MS << attempt).unref();
        return;
      }
      request.log.warn(
        { err: error, action: subject.action },
        "the outcome of an audited action was not recorded",
      );
    });
  };
  try {
    const value = await action();
    settle("ok", null);
    return value;
  } catch (error) {
    settle(codeOf(error), error instanceof Error ? error.message.slice(0, 1000) : null);
    throw error;
  }
}

/** The stable code of a refusal (ApiError, NodeError, CommandRefused all carry one). */
function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[a-z][a-z0-9_]{0,63}$/.test(code) ? code : "internal";
}
