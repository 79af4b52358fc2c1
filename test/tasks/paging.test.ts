// Proves the pages of GET /tasks/status keep their place: a cursor names the last task of the
// page before by submission order, so the next page starts right after it even when that task has
// since finished (listing live tasks) or been evicted by retention (listing every task); a bare
// id (an older juno's cursor) works while its task is kept, and anything else is refused.

import { describe, expect, it } from "vitest";
import { ControlState, ModuleRegistry } from "../../src/control/index.js";
import { agentsState } from "../../src/agents/index.js";
import {
  cancelCommand,
  configureCommand,
  DEFAULT_TASK_SETTINGS,
  submitCommand,
  tasksState,
  type SubmitBody,
  type Task,
} from "../../src/tasks/index.js";
import { taskSubmission } from "../support/fixtures.js";
import { cursorOf, cursorText, pageOf } from "../../src/tasks/paging.js";
import { ApiError } from "../../src/server/errors.js";
import { LogBuilder } from "../support/log-builder.js";

const registry = new ModuleRegistry([agentsState, tasksState]);

function setUp(retainedTasks: number, count: number) {
  const log = new LogBuilder();
  const state = new ControlState(registry);
  state.apply(log.add(configureCommand, { ...DEFAULT_TASK_SETTINGS, retainedTasks }));
  const bodies = Array.from({ length: count }, () =>
    taskSubmission({ team: "paging", requirements: { skills: ["nobody-has-this"], team: null, labels: [] } }),
  );
  for (const body of bodies) state.apply(log.add(submitCommand, body));
  const cancel = (body: SubmitBody) => state.apply(log.add(cancelCommand, { id: body.id, reason: "test" }));
  return { tasks: () => state.of(tasksState), ids: bodies.map((body) => body.id), bodies, cancel };
}

const all = () => true;
const idsOf = (page: readonly Task[]) => page.map((task) => task.id);

describe("task pages", () => {
  it("listing live tasks, the next page starts after the cursor's task though it finished meanwhile", () => {
    const { tasks, ids, bodies, cancel } = setUp(100, 3);
    const first = pageOf(tasks(), "queued", all, null, 1);
    expect(idsOf(first)).toEqual([ids[0]]);
    const cursor = cursorText(first[0]!);
    cancel(bodies[0]!);
    const second = pageOf(tasks(), "queued", all, cursorOf(tasks(), cursor), 1);
    expect(idsOf(second)).toEqual([ids[1]]);
    expect(idsOf(pageOf(tasks(), "queued", all, cursorOf(tasks(), cursorText(second[0]!)), 5))).toEqual([
      ids[2],
    ]);
  });

  it("listing every task, the next page starts after the cursor's task though retention evicted it", () => {
    const { tasks, ids, bodies, cancel } = setUp(2, 5);
    const first = pageOf(tasks(), undefined, all, null, 2);
    expect(idsOf(first)).toEqual(ids.slice(0, 2));
    const cursor = cursorText(first[1]!);
    // Four finish and two are kept: the first two, the cursor's task among them, are evicted.
    for (const body of bodies.slice(0, 4)) cancel(body);
    expect(tasks().has(ids[1]!)).toBe(false);
    expect(idsOf(pageOf(tasks(), undefined, all, cursorOf(tasks(), cursor), 2))).toEqual(ids.slice(2, 4));
    // While its task is kept, the cursor skips by id.
    const kept = cursorText(tasks().get(ids[2]!)!);
    expect(idsOf(pageOf(tasks(), undefined, all, cursorOf(tasks(), kept), 5))).toEqual(ids.slice(3));
  });

  it("takes an older juno's bare id while its task is kept, and refuses any other cursor", () => {
    const { tasks, ids } = setUp(100, 3);
    expect(idsOf(pageOf(tasks(), undefined, all, cursorOf(tasks(), ids[0]!), 5))).toEqual(ids.slice(1));
    for (const bad of ["nonsense", "00000000-0000-4000-8000-ffffffffffff", ":x", "1:"]) {
      const attempt = () => cursorOf(tasks(), bad);
      expect(attempt).toThrow(ApiError);
      expect(attempt).toThrow(/cursor is not one this API handed out/);
    }
  });
});
