/** What the tests of the task queue share. */

import type { FairQueue, QueuedTask } from "../../src/tasks/queue.js";

/** What the scheduler does when every task fits: take the first offered, remove it, charge it. */
export function dispatchFirst(queue: FairQueue, nowMs: number): QueuedTask | null {
  const first = queue.order(nowMs).next();
  if (first.done === true) return null;
  const chosen = first.value;
  queue.remove(chosen.id);
  queue.charge(chosen.team, queue.effectiveLevel(chosen, nowMs));
  return chosen;
}
