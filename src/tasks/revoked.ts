/**
 * Which of the attempts an agent says it runs are no longer its own: the news a poll answer and a
 * beat answer carry in `cancelled`, so the agent stops the handlers.
 *
 * Any node answers from its own applied state, which may be behind the leader's, so only a state
 * that has moved past the attempt revokes it: the task is finished, a later attempt exists, or the
 * attempt ended (the task is back in the queue under that attempt number, or another agent holds
 * it). A node that has not yet applied the assignment or the start (the task unknown here, an
 * earlier attempt, the attempt still assigned) says nothing: the agent hears once it catches up.
 */

import type { TasksState } from "./state.js";
import { TERMINAL } from "./task.js";

/** An attempt taken back from its agent, and why. */
export interface RevokedAttempt {
  readonly id: string;
  readonly attempt: number;
  readonly reason: string;
}

export function revokedOf(
  state: TasksState,
  agentId: string,
  running: Iterable<{ readonly id: string; readonly attempt: number }>,
): RevokedAttempt[] {
  const revoked: RevokedAttempt[] = [];
  for (const { id, attempt } of running) {
    const task = state.get(id);
    if (task === undefined || task.attempt < attempt) continue;
    if (task.attempt === attempt && task.agentId === agentId && !TERMINAL.has(task.status)) continue;
    const reason =
      task.status === "cancelled"
        ? "cancelled"
        : `attempt ${attempt} is no longer current (the task is ${task.status}, attempt ${task.attempt})`;
    revoked.push({ id, attempt, reason });
  }
  return revoked;
}
