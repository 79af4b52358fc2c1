// Proves the tasks module's apply through the kernel, as every replica runs it: freed slots go to
// the highest priority first and are shared fairly between teams inside a level; a half-open
// breaker lets exactly one probe through; a snapshot written mid-run restores to a state that
// then applies the rest of the log exactly like the original (same placements, same attempts);
// and a snapshot with a broken meta row or task row is refused.

import { describe, expect, it } from "vitest";
import { agentsState, healthCommand, registerCommand, type Registration } from "../../src/agents/index.js";
import {
  ControlState,
  ModuleRegistry,
  SnapshotError,
  restoreSnapshot,
  writeSnapshot,
} from "../../src/control/index.js";
import {
  completeCommand,
  failCommand,
  configureCommand,
  DEFAULT_TASK_SETTINGS,
  dispatchCommand,
  rebalanceCommand,
  reportCommand,
  scheduleToStartLapsed,
  startCommand,
  submitCommand,
  submitManyCommand,
  tasksState,
  type ReportApplied,
  type SubmitBody,
  type Task,
} from "../../src/tasks/index.js";
import type { Entry } from "../../src/raft/index.js";
import { agentRegistration, sequentialUuid, taskSubmission } from "../support/fixtures.js";
import { LogBuilder } from "../support/log-builder.js";

const registry = new ModuleRegistry([agentsState, tasksState]);

const uuid = sequentialUuid;

function registration(id: string, capacity: number, skills = ["work"]): Registration {
  return agentRegistration({ id, capacity, skills });
}

function submission(team: string, priority: number, overrides: Partial<SubmitBody> = {}): SubmitBody {
  return taskSubmission({ team, priority, ...overrides });
}

function applyAll(state: ControlState, entries: readonly Entry[]): void {
  for (const entry of entries) state.apply(entry);
}

/** The order tasks ran in when one agent of capacity 1 works through them, completing each. */
function runInOrder(log: LogBuilder, state: ControlState, agentId: string, count: number): string[] {
  const order: string[] = [];
  for (let i = 0; i < count; i++) {
    const tasks = state.of(tasksState);
    const held = [...tasks.heldBy(agentId)];
    expect(held).toHaveLength(1);
    const task = tasks.get(held[0]!)!;
    order.push(task.id);
    applyAll(state, [
      log.add(completeCommand, { id: task.id, agent_id: agentId, attempt: task.attempt, result: null }),
    ]);
  }
  return order;
}

describe("tasks apply", () => {
  it("gives a freed slot to the highest priority first, and FIFO inside a team and level", () => {
    const log = new LogBuilder();
    const state = new ControlState(registry);
    const agent = uuid();
    applyAll(state, [log.add(registerCommand, registration(agent, 1))]);
    const first = submission("a", 1);
    const low = submission("a", 2);
    const high = submission("a", 8);
    const high2 = submission("a", 8);
    applyAll(
      state,
      [first, low, high, high2].map((body) => log.add(submitCommand, body)),
    );
    // The first took the only slot at once; the rest wait by priority, then arrival.
    expect(state.of(tasksState).get(first.id)!.status).toBe("assigned");
    expect(runInOrder(log, state, agent, 4)).toEqual([first.id, high.id, high2.id, low.id]);
  });

  it("places a bulk highest priority first, and then runs it exactly as the same tasks submitted one by one", () => {
    const bodies = [3, 9, 1, 9, 5, 7, 0, 5].map((priority) => submission("t", priority));
    const one = { log: new LogBuilder(), state: new ControlState(registry) };
    const bulk = { log: new LogBuilder(), state: new ControlState(registry) };
    const agent = uuid();
    for (const side of [one, bulk])
      applyAll(side.state, [side.log.add(registerCommand, registration(agent, 1))]);
    // One by one, the first takes the slot as it comes; in a bulk the first nine does.
    applyAll(
      one.state,
      bodies.map((body) => one.log.add(submitCommand, body)),
    );
    applyAll(bulk.state, [bulk.log.add(submitManyCommand, { tasks: bodies })]);
    expect([...bulk.state.of(tasksState).heldBy(agent)]).toEqual([bodies[1]!.id]);
    expect([...one.state.of(tasksState).heldBy(agent)]).toEqual([bodies[0]!.id]);
    // What waits is ordered the same way on both sides.
    const rest = (side: typeof one) => {
      const order = runInOrder(side.log, side.state, agent, bodies.length);
      return order.filter((id) => id !== bodies[0]!.id && id !== bodies[1]!.id);
    };
    expect(rest(bulk)).toEqual(rest(one));
  });

  it("answers each task of a bulk on its own: a key named twice finds its first task, a full queue refuses the rest", () => {
    const log = new LogBuilder();
    const state = new ControlState(registry);
    applyAll(state, [log.add(configureCommand, { ...DEFAULT_TASK_SETTINGS, teamQueueLimit: 2 })]);
    const keyed = submission("k", 5, { idempotency_key: "once" });
    const tasks = [
      keyed,
      { ...submission("k", 5), idempotency_key: "once" },
      submission("k", 5),
      submission("k", 5),
    ];
    const entry = log.add(submitManyCommand, { tasks });
    const { outcome } = state.apply(entry);
    expect(outcome.kind).toBe("ok");
    const results = (outcome as { value: unknown }).value as {
      ok: boolean;
      created?: boolean;
      code?: string;
      task?: Task;
    }[];
    expect(results.map((r) => (r.ok ? (r.created ? "created" : "found") : r.code))).toEqual([
      "created",
      "found",
      "created",
      "queue_full",
    ]);
    expect(results[1]!.task!.id).toBe(keyed.id);
    expect(state.of(tasksState).size).toBe(2);
  });

  it("starts with a report's take only its own agent's assigned tasks, oldest first and at most take; a push agent's none", () => {
    const log = new LogBuilder();
    const state = new ControlState(registry);
    const [puller, other, pusher] = [uuid(), uuid(), uuid()];
    applyAll(state, [
      log.add(registerCommand, registration(puller, 3, ["pull"])),
      log.add(registerCommand, registration(other, 3, ["pull"])),
      log.add(registerCommand, {
        ...registration(pusher, 2, ["push"]),
        delivery: { mode: "push", url: "http://10.0.0.9/tasks" },
      }),
    ]);
    const pulled = [0, 1, 2, 3, 4, 5, 6].map(() =>
      submission("t", 5, { requirements: { skills: ["pull"], team: null, labels: [] } }),
    );
    const pushed = [0, 1].map(() =>
      submission("t", 5, { requirements: { skills: ["push"], team: null, labels: [] } }),
    );
    applyAll(
      state,
      [...pulled, ...pushed].map((body) => log.add(submitCommand, body)),
    );
    const tasks = state.of(tasksState);
    const held = (agent: string) => [...tasks.heldBy(agent)].map((id) => tasks.get(id)!);
    expect(held(puller)).toHaveLength(3);
    expect(held(other)).toHaveLength(3);
    // Six fill both agents and one waits queued. The puller runs one of its three and reports it,
    // taking two: its two oldest assigned ones start.
    const [first, ...rest] = held(puller).sort((a, b) => a.seq - b.seq);
    applyAll(state, [log.add(startCommand, { agent_id: puller, tasks: [{ id: first!.id, attempt: 1 }] })]);
    const entry = log.add(reportCommand, {
      agent_id: puller,
      completed: [{ id: first!.id, attempt: 1, result: null }],
      failed: [],
      take: 2,
    });
    const applied = state.apply(entry);
    expect(applied.outcome.kind).toBe("ok");
    const value = (applied.outcome as { value: ReportApplied }).value;
    expect(value.results.map((result) => result.ok)).toEqual([true]);
    expect(value.started.map((task) => task.id)).toEqual(rest.map((task) => task.id));
    for (const task of value.started)
      expect(tasks.get(task.id)).toMatchObject({
        status: "running",
        attempt: 1,
        agentId: puller,
        startedAttempts: 1,
      });
    // The slot the report freed went to a queued task; it waits assigned (take was 2), and the other agent's are untouched.
    expect(held(puller).filter((task) => task.status === "assigned")).toHaveLength(1);
    expect(held(other).every((task) => task.status === "assigned")).toBe(true);
    expect(applied.changes.filter((change) => change.op === "upsert")).toHaveLength(4);
    // A push agent's take starts nothing: the leader pushes its tasks.
    const [push] = held(pusher);
    applyAll(state, [log.add(startCommand, { agent_id: pusher, tasks: [{ id: push!.id, attempt: 1 }] })]);
    const pushedReport = state.apply(
      log.add(reportCommand, {
        agent_id: pusher,
        completed: [{ id: push!.id, attempt: 1, result: null }],
        failed: [],
        take: 5,
      }),
    );
    expect((pushedReport.outcome as { value: ReportApplied }).value.started).toEqual([]);
    expect(held(pusher).map((task) => task.status)).toEqual(["assigned"]);
  });

  it("shares one level between teams by weight", () => {
    const log = new LogBuilder();
    const state = new ControlState(registry);
    const agent = uuid();
    applyAll(state, [
      log.add(configureCommand, { ...DEFAULT_TASK_SETTINGS, agingMs: null, teamWeights: [["heavy", 3]] }),
      log.add(registerCommand, registration(agent, 1)),
      log.add(submitCommand, submission("blocker", 5)),
    ]);
    const byId = new Map<string, string>();
    for (let i = 0; i < 40; i++) {
      for (const team of ["heavy", "light"]) {
        const body = submission(team, 5);
        byId.set(body.id, team);
        applyAll(state, [log.add(submitCommand, body)]);
      }
    }
    const order = runInOrder(log, state, agent, 41)
      .slice(1, 41)
      .map((id) => byId.get(id));
    const heavy = order.filter((team) => team === "heavy").length;
    // Weight 3 against 1: three of every four slots while both teams wait.
    expect(heavy).toBe(30);
  });

  it("opens an agent's breaker after consecutive failures and lets one probe through after the cool-down", () => {
    const log = new LogBuilder();
    const state = new ControlState(registry);
    const agent = uuid();
    const settings = { ...DEFAULT_TASK_SETTINGS, breakerThreshold: 2, breakerCoolDownMs: 1_000 };
    applyAll(state, [
      log.add(configureCommand, settings, 0),
      log.add(registerCommand, registration(agent, 3), 0),
    ]);
    const tasks = () => state.of(tasksState);
    const failOne = (at: number) => {
      const id = [...tasks().heldBy(agent)][0]!;
      const task = tasks().get(id)!;
      applyAll(state, [
        log.add(
          failCommand,
          { id, agent_id: agent, attempt: task.attempt, error: "x", retryable: false },
          at,
        ),
      ]);
    };
    applyAll(state, [
      log.add(submitCommand, submission("t", 5), 10),
      log.add(submitCommand, submission("t", 5), 10),
    ]);
    failOne(20);
    failOne(30);
    // Open: a new task waits.
    const waiting = submission("t", 5);
    applyAll(state, [log.add(submitCommand, waiting, 40)]);
    expect(tasks().get(waiting.id)!.status).toBe("queued");
    // Half-open after the cool-down: one probe, not two.
    const probe = submission("t", 5);
    applyAll(state, [log.add(submitCommand, probe, 1_100)]);
    expect(tasks().heldBy(agent).size).toBe(1);
    // The probe succeeds: closed, and the rest flow.
    const held = [...tasks().heldBy(agent)][0]!;
    applyAll(state, [
      log.add(completeCommand, { id: held, agent_id: agent, attempt: 1, result: null }, 1_200),
    ]);
    expect(tasks().heldBy(agent).size).toBe(1);
    expect(tasks().breaker(agent).openedAtMs).toBeNull();
  });

  it("restores a mid-run snapshot that then applies the rest of the log exactly like the original", () => {
    const log = new LogBuilder();
    const agents = [uuid(), uuid(), uuid()];
    for (const agent of agents) log.add(registerCommand, registration(agent, 2));
    for (let i = 0; i < 30; i++) {
      const strategy = (
        ["round_robin", "weighted_round_robin", "least_connections", "consistent_hash"] as const
      )[i % 4]!;
      log.add(
        submitCommand,
        submission(`team-${i % 3}`, i % 10, {
          strategy,
          affinity_key: strategy === "consistent_hash" ? `k${i}` : null,
          idempotency_key: i % 5 === 0 ? `key-${i}` : null,
        }),
      );
    }
    const cut = log.entries.length;
    log.add(healthCommand, { changes: [{ id: agents[0]!, status: "failed", reason: "gone" }] });
    for (let i = 0; i < 10; i++) log.add(submitCommand, submission("late", 9));
    const original = new ControlState(registry);
    applyAll(original, log.entries.slice(0, cut));
    const restored = restoreSnapshot(registry, writeSnapshot(original));
    const view = (state: ControlState): Task[] =>
      [...state.of(tasksState).ids()].map((id) => state.of(tasksState).get(id)!);
    expect(view(restored)).toEqual(view(original));
    // Completions of whatever each agent holds, then the rest of the log, on both.
    const rest = log.entries.slice(cut);
    for (const state of [original, restored]) {
      applyAll(state, rest);
      for (const agent of agents.slice(1)) {
        for (const id of [...state.of(tasksState).heldBy(agent)]) {
          const task = state.of(tasksState).get(id)!;
          state.apply({
            ...new LogBuilder().add(completeCommand, {
              id,
              agent_id: agent,
              attempt: task.attempt,
              result: null,
            }),
            index: state.appliedIndex + 1,
          });
        }
      }
    }
    expect(view(restored)).toEqual(view(original));
    expect(restored.of(tasksState).queue.exportFairness()).toEqual(
      original.of(tasksState).queue.exportFairness(),
    );
  });

  it("refuses a snapshot whose tasks section has a broken meta row or task row", () => {
    const log = new LogBuilder();
    const state = new ControlState(registry);
    const agent = uuid();
    applyAll(state, [
      log.add(registerCommand, registration(agent, 1)),
      log.add(submitCommand, submission("a", 5)),
    ]);
    const text = new TextDecoder().decode(writeSnapshot(state));
    const brokenMeta = text.replace('"teamQueueLimit":100000', '"teamQueueLimit":-1');
    expect(brokenMeta).not.toBe(text);
    expect(() => restoreSnapshot(registry, new TextEncoder().encode(brokenMeta))).toThrow(SnapshotError);
    const brokenTask = text.replace('"status":"assigned"', '"status":"teleported"');
    expect(brokenTask).not.toBe(text);
    expect(() => restoreSnapshot(registry, new TextEncoder().encode(brokenTask))).toThrow(SnapshotError);
  });

  it("restores a snapshot written when a finished task's status was called completed, as succeeded", () => {
    const log = new LogBuilder();
    const state = new ControlState(registry);
    const agent = uuid();
    const body = submission("a", 5);
    applyAll(state, [
      log.add(registerCommand, registration(agent, 1)),
      log.add(submitCommand, body),
      log.add(completeCommand, { id: body.id, agent_id: agent, attempt: 1, result: null }),
    ]);
    const text = new TextDecoder().decode(writeSnapshot(state));
    const legacy = text.replace('"status":"succeeded"', '"status":"completed"');
    expect(legacy).not.toBe(text);
    const restored = restoreSnapshot(registry, new TextEncoder().encode(legacy));
    const tasks = restored.of(tasksState);
    expect(tasks.get(body.id)?.status).toBe("succeeded");
    expect(tasks.count("succeeded")).toBe(1);
    // Written again, it says succeeded.
    expect(new TextDecoder().decode(writeSnapshot(restored))).not.toContain('"status":"completed"');
  });

  it("counts schedule_to_start_ms per attempt: from submission, from the end of a retry's backoff, from a running attempt's move", () => {
    const log = new LogBuilder();
    const state = new ControlState(registry);
    const [one, two] = [uuid(), uuid()];
    applyAll(state, [
      log.add(registerCommand, registration(one, 1)),
      log.add(registerCommand, registration(two, 1)),
    ]);
    const body = submission("s", 5, {
      schedule_to_start_ms: 1_000,
      max_attempts: 5,
      backoff: { initial_ms: 2_000, multiplier: 1, max_ms: 2_000, jitter: 0 },
    });
    applyAll(state, [log.add(submitCommand, body, 10_000)]);
    const task = () => state.of(tasksState).get(body.id)!;
    const holder = task().agentId!;
    // The first attempt: from submission.
    expect(scheduleToStartLapsed(task(), 10_999)).toBe(false);
    expect(scheduleToStartLapsed(task(), 11_000)).toBe(true);
    applyAll(state, [
      log.add(startCommand, { agent_id: holder, tasks: [{ id: body.id, attempt: 1 }] }, 10_500),
    ]);
    expect(scheduleToStartLapsed(task(), 60_000)).toBe(false);
    // Failed at 11.5 s, retried after a 2 s backoff: its window is 13.5 s .. 14.5 s, not long past.
    applyAll(state, [
      log.add(
        failCommand,
        { id: body.id, agent_id: holder, attempt: 1, error: "flaky", retryable: true },
        11_500,
      ),
    ]);
    expect(task().status).toBe("queued");
    expect(scheduleToStartLapsed(task(), 14_499)).toBe(false);
    expect(scheduleToStartLapsed(task(), 14_500)).toBe(true);
    // Placed again (on a dispatch at 13.5 s) and started: then moved while running at 20 s.
    applyAll(state, [log.add(dispatchCommand, {}, 13_500)]);
    const second = task().agentId!;
    applyAll(state, [
      log.add(startCommand, { agent_id: second, tasks: [{ id: body.id, attempt: 2 }] }, 13_600),
    ]);
    expect(task().status).toBe("running");
    const other = second === one ? two : one;
    applyAll(state, [
      log.add(rebalanceCommand, { moves: [{ id: body.id, attempt: 2, from: second, to: other }] }, 20_000),
    ]);
    expect(task()).toMatchObject({ status: "assigned", attempt: 3, agentId: other });
    expect(scheduleToStartLapsed(task(), 20_999)).toBe(false);
    expect(scheduleToStartLapsed(task(), 21_000)).toBe(true);
  });
});
