/**
 * Pages of GET /tasks/status: tasks in submission order (seq), after a cursor that keeps its
 * place whatever happens to the task it names.
 */

import { ApiError } from "../server/errors.js";
import { isUuid } from "../server/route-helpers.js";
import type { TasksState } from "./state.js";
import type { Task } from "./task.js";

/**
 * Where a page starts: after the task of this submission order (seq). A cursor is "seq:id", the
 * last task of the page before; the id lets the walk over every kept task skip by id without
 * decoding rows, and the seq keeps the place when that task has since left what is listed
 * (finished, when listing live ones; evicted by retention). A bare id is a cursor of an older
 * juno: it still works while its task is kept.
 */
export interface PageCursor {
  readonly seq: number;
  readonly id: string;
}

export function cursorText(task: Task): string {
  return `${task.seq}:${task.id}`;
}

export function cursorOf(state: TasksState, text: string): PageCursor {
  const match = /^(\d{1,15}):(.+)$/.exec(text);
  if (match !== null) return { seq: Number(match[1]), id: match[2]! };
  const task = isUuid(text) ? state.get(text) : undefined;
  if (task === undefined)
    throw new ApiError(
      "validation_failed",
      "cursor is not one this API handed out, or names a task no longer kept; list again without it",
    );
  return { seq: task.seq, id: task.id };
}

export function pageOf(
  state: TasksState,
  status: string | undefined,
  matches: (task: Task) => boolean,
  cursor: PageCursor | null,
  count: number,
): Task[] {
  const page: Task[] = [];
  const live = status === "queued" || status === "assigned" || status === "running";
  if (live) {
    // Live tasks are objects at hand: their seq costs nothing to compare.
    for (const task of state.liveTasks()) {
      if (cursor !== null && task.seq <= cursor.seq) continue;
      if (matches(task)) page.push(task);
      if (page.length >= count) break;
    }
    return page;
  }
  // Every kept task, in submission order: skip up to the cursor's task by id while it is kept,
  // else (evicted) by seq, which decodes only the rows before the place that are still kept.
  const byId = cursor !== null && state.has(cursor.id);
  let skipping = cursor !== null;
  for (const id of state.ids()) {
    if (skipping) {
      if (byId) {
        if (id === cursor.id) skipping = false;
        continue;
      }
      if (state.get(id)!.seq <= cursor!.seq) continue;
      skipping = false;
    }
    const task = state.get(id)!;
    if (matches(task)) page.push(task);
    if (page.length >= count) break;
  }
  return page;
}
