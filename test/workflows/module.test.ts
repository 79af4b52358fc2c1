// Proves the workflows module through the kernel, as every replica applies it: the entry that
// completes a step's task also submits (and places) its successors' tasks; a refused task fails
// its step in the same entry; a team at its step limit keeps further steps back until one of its
// tasks ends; cancelling a run cancels its tasks and its sub-workflows in one entry; a snapshot
// taken mid-run restores to a state that applies the rest of the log to the same hash-equal end;
// and a snapshot with a broken run row is refused.

import { describe, expect, it } from "vitest";
import { agentsState, registerCommand } from "../../src/agents/index.js";
import {
  ControlState,
  ModuleRegistry,
  SnapshotError,
  restoreSnapshot,
  writeSnapshot,
} from "../../src/control/index.js";
import { decisionsState } from "../../src/decisions/index.js";
import type { Entry } from "../../src/raft/index.js";
import {
  completeCommand,
  configureCommand,
  DEFAULT_TASK_SETTINGS,
  failCommand,
  tasksState,
} from "../../src/tasks/index.js";
import {
  cancelWorkflowCommand,
  configureWorkflowsCommand,
  createCommand,
  defineCommand,
  DEFAULT_WORKFLOW_SETTINGS,
  workflowsState,
} from "../../src/workflows/index.js";
import { agentRegistration } from "../support/fixtures.js";
import { LogBuilder } from "../support/log-builder.js";

const registry = new ModuleRegistry([agentsState, decisionsState, tasksState, workflowsState]);

let ids = 0;
function uuid(): string {
  return `00000000-0000-4000-8000-${(++ids).toString(16).padStart(12, "0")}`;
}

function createBody(definition: unknown, overrides: Record<string, unknown> = {}) {
  return {
    id: uuid(),
    team: null,
    definition,
    ref: null,
    input: {},
    execute: true,
    idempotency_key: null,
    expands_task: null,
    ...overrides,
  };
}

const chain = {
  name: "chain",
  teams: ["a", "b"],
  pattern: "pipeline",
  steps: [
    { id: "one", team: "a", task_type: "job", skills: ["work"] },
    { id: "two", team: "b", task_type: "job", skills: ["work"], input: { got: "{{steps.one.output.n}}" } },
  ],
};

function setUp(): { state: ControlState; log: LogBuilder; agentA: string; agentB: string } {
  const state = new ControlState(registry);
  const log = new LogBuilder();
  const agentA = uuid();
  const agentB = uuid();
  for (const entry of [
    log.add(registerCommand, agentRegistration({ id: agentA, team: "a", capacity: 4 })),
    log.add(registerCommand, agentRegistration({ id: agentB, team: "b", capacity: 4 })),
  ])
    state.apply(entry);
  return { state, log, agentA, agentB };
}

function applyAll(state: ControlState, entries: readonly Entry[]) {
  return entries.map((entry) => state.apply(entry));
}

function runOf(state: ControlState, id: string) {
  return state.of(workflowsState).get(id)!.run;
}

function taskOf(state: ControlState, id: string, step: string) {
  const taskId = runOf(state, id).steps.find((s) => s.id === step)!.task_id!;
  return state.of(tasksState).get(taskId)!;
}

describe("workflows module", () => {
  it("submits the next step's task, placed, in the entry that completes the one before", () => {
    const { state, log, agentA, agentB } = setUp();
    const body = createBody(chain);
    const [created] = applyAll(state, [log.add(createCommand, body)]);
    expect(created!.outcome).toEqual({ kind: "ok", value: { id: body.id, created: true } });
    const first = taskOf(state, body.id, "one");
    expect(first).toMatchObject({ status: "assigned", agentId: agentA, workflowId: body.id });
    expect(runOf(state, body.id).steps[1]!.status).toBe("pending");
    const [completed] = applyAll(state, [
      log.add(completeCommand, { id: first.id, agent_id: agentA, attempt: first.attempt, result: { n: 7 } }),
    ]);
    // One entry: the task's row, the run's row and the successor's task row all change together.
    const tables = completed!.changes.map((change) => change.table);
    expect(tables).toContain("cross_team_workflows");
    expect(tables.filter((table) => table === "distributed_tasks").length).toBeGreaterThanOrEqual(2);
    const second = taskOf(state, body.id, "two");
    expect(second).toMatchObject({ status: "assigned", agentId: agentB, data: { got: 7 } });
    applyAll(state, [
      log.add(completeCommand, { id: second.id, agent_id: agentB, attempt: 1, result: "done" }),
    ]);
    expect(runOf(state, body.id).status).toBe("succeeded");
    expect(state.of(workflowsState).count("succeeded")).toBe(1);
    expect(state.of(workflowsState).active.size).toBe(0);
  });

  it("fails a step whose task the tasks module refuses, in the same entry", () => {
    const { state, log } = setUp();
    applyAll(state, [log.add(configureCommand, { ...DEFAULT_TASK_SETTINGS, teamQueueLimit: 1 })]);
    // Nobody serves team z: the first task waits queued, the second finds the team's queue full.
    const definition = {
      name: "full",
      teams: ["z"],
      on_failure: "continue",
      steps: [
        { id: "first", team: "z", task_type: "job" },
        { id: "second", team: "z", task_type: "job" },
      ],
    };
    const body = createBody(definition);
    applyAll(state, [log.add(createCommand, body)]);
    const run = runOf(state, body.id);
    expect(run.steps.map((step) => step.status)).toEqual(["running", "failed"]);
    expect(run.steps[1]!.error).toMatchObject({ code: "task_failed" });
    expect(run.steps[1]!.error!.message).toMatch(/queue_full/);
    expect(state.of(tasksState).get(run.steps[1]!.task_id!)).toBeUndefined();
  });

  it("holds a team's steps past its step limit until one of its tasks ends", () => {
    const { state, log, agentA } = setUp();
    applyAll(state, [
      log.add(configureWorkflowsCommand, {
        settings: { ...DEFAULT_WORKFLOW_SETTINGS, teamStepLimits: [["a", 2]] },
      }),
    ]);
    const definition = {
      name: "wide",
      teams: ["a"],
      steps: [1, 2, 3, 4].map((i) => ({ id: `s${i}`, team: "a", task_type: "job", skills: ["work"] })),
    };
    const body = createBody(definition);
    applyAll(state, [log.add(createCommand, body)]);
    const workflows = state.of(workflowsState);
    expect(workflows.teamActive.get("a")).toBe(2);
    expect(workflows.deferred.get("a")).toHaveLength(2);
    const submitted = runOf(state, body.id)
      .steps.map((step) => step.task_id!)
      .filter((id) => state.of(tasksState).get(id) !== undefined);
    expect(submitted).toHaveLength(2);
    applyAll(state, [
      log.add(completeCommand, { id: submitted[0]!, agent_id: agentA, attempt: 1, result: null }),
    ]);
    expect(workflows.teamActive.get("a")).toBe(2);
    expect(workflows.deferred.get("a")).toHaveLength(1);
    // A failed task frees its slot as well.
    const task = state.of(tasksState).get(submitted[1]!)!;
    applyAll(state, [
      log.add(failCommand, {
        id: task.id,
        agent_id: agentA,
        attempt: task.attempt,
        error: "no",
        retryable: false,
      }),
    ]);
    expect(workflows.deferred.get("a")).toBeUndefined();
  });

  it("cancels a run's tasks and its sub-workflows in the cancelling entry", () => {
    const { state, log } = setUp();
    const child = {
      name: "child",
      teams: ["b"],
      steps: [{ id: "c", team: "b", task_type: "job", skills: ["work"] }],
    };
    const parent = {
      name: "parent",
      teams: ["a", "b"],
      steps: [
        { id: "t", team: "a", task_type: "job", skills: ["work"] },
        { id: "sub", type: "workflow", team: "b", workflow: { name: "child" } },
      ],
    };
    const body = createBody(parent);
    applyAll(state, [log.add(defineCommand, { definition: child }), log.add(createCommand, body)]);
    const childId = runOf(state, body.id).steps[1]!.workflow_id!;
    expect(runOf(state, childId).status).toBe("running");
    const childTask = taskOf(state, childId, "c");
    applyAll(state, [log.add(cancelWorkflowCommand, { id: body.id, reason: "stop" })]);
    expect(runOf(state, body.id).status).toBe("cancelled");
    expect(runOf(state, childId).status).toBe("cancelled");
    expect(taskOf(state, body.id, "t").status).toBe("cancelled");
    expect(state.of(tasksState).get(childTask.id)!.status).toBe("cancelled");
    expect(state.of(workflowsState).active.size).toBe(0);
  });

  it("restores a mid-run snapshot that then applies the rest of the log to the same state", () => {
    const { state, log, agentA, agentB } = setUp();
    const runs = [createBody(chain), createBody(chain), createBody({ ...chain, name: "other" })];
    applyAll(state, [
      log.add(configureWorkflowsCommand, {
        settings: { ...DEFAULT_WORKFLOW_SETTINGS, teamStepLimits: [["a", 1]] },
      }),
      log.add(defineCommand, { definition: { ...chain, name: "registered" } }),
      ...runs.map((body) => log.add(createCommand, body)),
      log.add(
        createCommand,
        createBody(null, { definition: null, ref: { name: "registered", version: null } }),
      ),
    ]);
    const restored = restoreSnapshot(registry, writeSnapshot(state));
    expect(restored.hash).toBe(state.hash);
    // Finish every run on both, step by step, with the same entries.
    for (let round = 0; round < 10; round++) {
      const tasks = state.of(tasksState);
      const live = [...tasks.liveTasks()].filter((task) => task.status === "assigned");
      if (live.length === 0) break;
      const entries = live.map((task) =>
        log.add(completeCommand, {
          id: task.id,
          agent_id: task.agentId === agentA ? agentA : agentB,
          attempt: task.attempt,
          result: { n: round },
        }),
      );
      const here = applyAll(state, entries);
      const there = applyAll(restored, entries);
      expect(there).toEqual(here);
    }
    expect(restored.of(workflowsState).count("succeeded")).toBe(4);
    expect(writeSnapshot(restored)).toEqual(writeSnapshot(state));
  });

  it("refuses a snapshot whose run row is broken", () => {
    const { state, log } = setUp();
    applyAll(state, [log.add(createCommand, createBody(chain))]);
    const text = new TextDecoder().decode(writeSnapshot(state));
    const broken = text.replace('"status":"running","phase"', '"status":"sleeping","phase"');
    expect(broken).not.toBe(text);
    expect(() => restoreSnapshot(registry, new TextEncoder().encode(broken))).toThrow(SnapshotError);
  });
});
