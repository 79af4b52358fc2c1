// Proves, through the tasks module's apply as every replica runs it: a team at its running limit
// (settings.teamRunningLimit) has its further tasks wait queued while other teams' tasks are
// placed, and its next one is placed as soon as one of its own finishes; a running task moved by
// a rebalance becomes a new attempt assigned to the new agent, and every report of the old
// attempt is refused as stale without changing anything; a running attempt past its timeout_ms
// is expired (cause "timeout") into its next attempt after its backoff, and dead-lettered when
// it is out of attempts, while an expiry naming any other attempt changes nothing; and
// consistent_hash sends every task of one affinity key to the same agent while the agents stay.
// And a task whose attempt number grows past what its backoff's multiplier can raise to keeps a
// numeric notBeforeMs, so a snapshot with it restores (it was NaN, written as null, and refused).

import { describe, expect, it } from "vitest";
import { agentsState, registerCommand, type Registration } from "../../src/agents/index.js";
import type { Static, TSchema } from "typebox";
import {
  ControlState,
  ModuleRegistry,
  restoreSnapshot,
  writeSnapshot,
  type CommandSpec,
  type EntryOutcome,
} from "../../src/control/index.js";
import { backoffDelayMs } from "../../src/faults/retry.js";
import {
  completeCommand,
  configureCommand,
  DEFAULT_TASK_SETTINGS,
  dispatchCommand,
  expireCommand,
  failCommand,
  rebalanceCommand,
  startCommand,
  submitCommand,
  submitManyCommand,
  tasksState,
  type SubmitBody,
  type Task,
  type TasksState,
} from "../../src/tasks/index.js";
import { agentRegistration, sequentialUuid, taskSubmission } from "../support/fixtures.js";
import { LogBuilder } from "../support/log-builder.js";

const registry = new ModuleRegistry([agentsState, tasksState]);

const uuid = sequentialUuid;

function registration(id: string, capacity: number): Registration {
  return agentRegistration({ id, capacity, skills: ["work"] });
}

function submission(team: string, priority: number, overrides: Partial<SubmitBody> = {}): SubmitBody {
  return taskSubmission({ team, priority, ...overrides });
}

/** A replicated state and its log: `apply` appends a command entry and applies it, answering its outcome. */
function cluster() {
  const log = new LogBuilder();
  const state = new ControlState(registry);
  const tasks = (): TasksState => state.of(tasksState);
  const apply = <S, T extends TSchema, R>(
    spec: CommandSpec<S, T, R>,
    body: Static<T>,
    timestamp?: number,
  ): EntryOutcome => state.apply(log.add(spec, body, timestamp)).outcome;
  const task = (id: string): Task => tasks().get(id)!;
  return { log, state, tasks, apply, task };
}

function refusedCode(outcome: EntryOutcome): string | null {
  return outcome.kind === "refused" ? outcome.code : null;
}

function valueOf(outcome: EntryOutcome): unknown {
  expect(outcome.kind).toBe("ok");
  return (outcome as { value: unknown }).value;
}

describe("the per-team running limit", () => {
  it("keeps a team at its limit queued while another team's tasks are placed, and places its next when one ends", () => {
    const { apply, tasks, task } = cluster();
    const [one, two] = [uuid(), uuid()];
    apply(configureCommand, { ...DEFAULT_TASK_SETTINGS, teamRunningLimit: 2, agingMs: null });
    apply(registerCommand, registration(one, 4));
    apply(registerCommand, registration(two, 4));
    // Team a asks for five at once: one walk places two (the limit counts its own placements).
    const a = Array.from({ length: 5 }, () => submission("a", 5));
    apply(submitManyCommand, { tasks: a });
    expect(a.map((body) => task(body.id).status)).toEqual([
      "assigned",
      "assigned",
      "queued",
      "queued",
      "queued",
    ]);
    expect(tasks().running("a")).toBe(2);
    // Team b, at a lower priority, still gets slots while a's higher-priority tasks wait.
    const b = Array.from({ length: 3 }, () => submission("b", 1));
    for (const body of b) apply(submitCommand, body);
    expect(b.map((body) => task(body.id).status)).toEqual(["assigned", "assigned", "queued"]);
    expect(tasks().running("b")).toBe(2);
    // A dispatch with free slots (8 slots, 4 held) places nobody: both teams are at their limit.
    expect(valueOf(apply(dispatchCommand, {}))).toBe(0);
    expect(tasks().queue.size).toBe(4);
    // One of a's finishes: a's next queued task, in arrival order, takes its place; b's does not.
    const first = task(a[0]!.id);
    apply(startCommand, { agent_id: first.agentId!, tasks: [{ id: first.id, attempt: 1 }] });
    apply(completeCommand, { id: first.id, agent_id: first.agentId!, attempt: 1, result: null });
    expect(task(a[0]!.id).status).toBe("succeeded");
    expect(a.map((body) => task(body.id).status)).toEqual([
      "succeeded",
      "assigned",
      "assigned",
      "queued",
      "queued",
    ]);
    expect(task(b[2]!.id).status).toBe("queued");
    expect(tasks().running("a")).toBe(2);
    // A failure that ends one of b's for good frees a place of b's, not of a's.
    const failing = task(b[0]!.id);
    apply(failCommand, {
      id: failing.id,
      agent_id: failing.agentId!,
      attempt: 1,
      error: "no",
      retryable: false,
    });
    expect(task(b[0]!.id).status).toBe("failed");
    expect(task(b[2]!.id).status).toBe("assigned");
    expect(a.slice(3).map((body) => task(body.id).status)).toEqual(["queued", "queued"]);
  });

  it("counts a team's placements inside one walk, and walks on past it to other teams", () => {
    const { apply, task } = cluster();
    apply(configureCommand, { ...DEFAULT_TASK_SETTINGS, teamRunningLimit: 2, agingMs: null });
    // Queued while no agent is there, then placed by one dispatch: a reaches its limit mid-walk.
    const a = Array.from({ length: 4 }, () => submission("a", 7));
    const b = Array.from({ length: 2 }, () => submission("b", 2));
    apply(submitManyCommand, { tasks: [...a, ...b] });
    apply(registerCommand, registration(uuid(), 10));
    expect(valueOf(apply(dispatchCommand, {}))).toBe(4);
    expect(a.map((body) => task(body.id).status)).toEqual(["assigned", "assigned", "queued", "queued"]);
    expect(b.map((body) => task(body.id).status)).toEqual(["assigned", "assigned"]);
  });

  it("applies a raised limit at once", () => {
    const { apply, task } = cluster();
    const agent = uuid();
    apply(configureCommand, { ...DEFAULT_TASK_SETTINGS, teamRunningLimit: 1 });
    apply(registerCommand, registration(agent, 3));
    const a = Array.from({ length: 3 }, () => submission("a", 5));
    apply(submitManyCommand, { tasks: a });
    expect(a.map((body) => task(body.id).status)).toEqual(["assigned", "queued", "queued"]);
    apply(configureCommand, { ...DEFAULT_TASK_SETTINGS, teamRunningLimit: 3 });
    expect(a.map((body) => task(body.id).status)).toEqual(["assigned", "assigned", "assigned"]);
  });
});

describe("a rebalance that moves a running task", () => {
  it("makes a new attempt assigned to the new agent, and refuses the old attempt's reports as stale", () => {
    const { apply, tasks, task } = cluster();
    const [from, to] = [uuid(), uuid()];
    apply(registerCommand, registration(from, 1));
    const body = submission("r", 5, { max_attempts: 5 });
    apply(submitCommand, body, 10_000);
    expect(task(body.id)).toMatchObject({ status: "assigned", attempt: 1, agentId: from });
    expect(
      valueOf(apply(startCommand, { agent_id: from, tasks: [{ id: body.id, attempt: 1 }] }, 10_100)),
    ).toEqual([body.id]);
    apply(registerCommand, registration(to, 1));
    const move = { id: body.id, attempt: 1, from, to };
    expect(valueOf(apply(rebalanceCommand, { moves: [move] }, 20_000))).toEqual([move]);
    expect(task(body.id)).toMatchObject({
      status: "assigned",
      attempt: 2,
      agentId: to,
      assignedAtMs: 20_000,
      startedAtMs: null,
      previousAgents: [from],
    });
    expect([...tasks().heldBy(from)]).toEqual([]);
    expect([...tasks().heldBy(to)]).toEqual([body.id]);
    const moved = task(body.id);
    // The old attempt's agent finishing it, failing it, or starting it again: all refused or ignored.
    const staleComplete = apply(
      completeCommand,
      { id: body.id, agent_id: from, attempt: 1, result: "late" },
      20_100,
    );
    expect(refusedCode(staleComplete)).toBe("stale_attempt");
    const staleFail = apply(
      failCommand,
      { id: body.id, agent_id: from, attempt: 1, error: "late", retryable: true },
      20_200,
    );
    expect(refusedCode(staleFail)).toBe("stale_attempt");
    // The new attempt's number from the old agent is not current either: it is not its holder.
    expect(
      refusedCode(apply(completeCommand, { id: body.id, agent_id: from, attempt: 2, result: null }, 20_300)),
    ).toBe("stale_attempt");
    expect(
      valueOf(apply(startCommand, { agent_id: from, tasks: [{ id: body.id, attempt: 1 }] }, 20_400)),
    ).toEqual([]);
    // The same move again (a plan made on a lagging replica) is skipped.
    expect(valueOf(apply(rebalanceCommand, { moves: [move] }, 20_500))).toEqual([]);
    expect(task(body.id)).toEqual(moved);
    // Started there, then moved back while it runs: the first agent holds it again, but only as
    // attempt 3, so its report of attempt 1 (the fence is the attempt, not just the agent) and the
    // second agent's of attempt 2 are stale.
    apply(startCommand, { agent_id: to, tasks: [{ id: body.id, attempt: 2 }] }, 21_000);
    expect(task(body.id).status).toBe("running");
    const back = { id: body.id, attempt: 2, from: to, to: from };
    expect(valueOf(apply(rebalanceCommand, { moves: [back] }, 22_000))).toEqual([back]);
    expect(task(body.id)).toMatchObject({
      status: "assigned",
      attempt: 3,
      agentId: from,
      previousAgents: [from, to],
    });
    const movedBack = task(body.id);
    expect(
      refusedCode(
        apply(completeCommand, { id: body.id, agent_id: from, attempt: 1, result: "late" }, 22_100),
      ),
    ).toBe("stale_attempt");
    expect(
      refusedCode(apply(completeCommand, { id: body.id, agent_id: to, attempt: 2, result: "late" }, 22_200)),
    ).toBe("stale_attempt");
    expect(task(body.id)).toEqual(movedBack);
    // The current attempt is the one that counts.
    apply(startCommand, { agent_id: from, tasks: [{ id: body.id, attempt: 3 }] }, 23_000);
    const done = apply(completeCommand, { id: body.id, agent_id: from, attempt: 3, result: "ok" }, 24_000);
    expect((valueOf(done) as Task).status).toBe("succeeded");
    expect(task(body.id)).toMatchObject({ status: "succeeded", attempt: 3, result: "ok", agentId: null });
  });
});

describe("the start-to-close timeout", () => {
  /** The leader's decision (TasksLoop.expire): a running attempt past timeout_ms since it started. */
  function timedOut(task: Task, nowMs: number): boolean {
    return (
      task.status === "running" && task.timeoutMs !== null && nowMs - task.startedAtMs! >= task.timeoutMs
    );
  }

  it("retries a timed-out attempt after its backoff, and dead-letters the task when it is out of attempts", () => {
    const { apply, task, tasks } = cluster();
    const agent = uuid();
    apply(registerCommand, registration(agent, 1));
    const body = submission("t", 5, {
      timeout_ms: 5_000,
      max_attempts: 3,
      backoff: { initial_ms: 1_000, multiplier: 2, max_ms: 10_000, jitter: 0 },
    });
    apply(submitCommand, body, 10_000);
    let startedAt = 10_100;
    for (const [attempt, backoffMs] of [
      [1, 1_000],
      [2, 2_000],
    ] as const) {
      expect(task(body.id)).toMatchObject({ status: "assigned", attempt, agentId: agent });
      apply(startCommand, { agent_id: agent, tasks: [{ id: body.id, attempt }] }, startedAt);
      expect(timedOut(task(body.id), startedAt + 4_999)).toBe(false);
      const expiredAt = startedAt + 5_000;
      expect(timedOut(task(body.id), expiredAt)).toBe(true);
      const running = task(body.id);
      // An expiry naming another attempt, or another cause that does not fit, changes nothing.
      for (const other of [attempt - 1, attempt + 1])
        expect(
          valueOf(
            apply(
              expireCommand,
              { expirations: [{ id: body.id, attempt: other, cause: "timeout" }] },
              expiredAt,
            ),
          ),
        ).toEqual([]);
      expect(
        valueOf(
          apply(expireCommand, { expirations: [{ id: body.id, attempt, cause: "pickup" }] }, expiredAt),
        ),
      ).toEqual([]);
      expect(task(body.id)).toEqual(running);
      // The current attempt's timeout: queued again, waiting out its backoff, though the agent is free.
      expect(
        valueOf(
          apply(expireCommand, { expirations: [{ id: body.id, attempt, cause: "timeout" }] }, expiredAt),
        ),
      ).toEqual([body.id]);
      expect(task(body.id)).toMatchObject({
        status: "queued",
        attempt,
        agentId: null,
        enqueuedAtMs: expiredAt,
        notBeforeMs: expiredAt + backoffMs,
        error: { cause: "timeout", retryable: true },
        previousAgents: Array.from({ length: attempt }, () => agent),
      });
      expect(tasks().active(agent)).toBe(0);
      // Its old attempt's late report is stale now.
      expect(
        refusedCode(
          apply(completeCommand, { id: body.id, agent_id: agent, attempt, result: null }, expiredAt + 1),
        ),
      ).toBe("stale_attempt");
      apply(dispatchCommand, {}, expiredAt + backoffMs - 1);
      expect(task(body.id).status).toBe("queued");
      apply(dispatchCommand, {}, expiredAt + backoffMs);
      expect(task(body.id)).toMatchObject({ status: "assigned", attempt: attempt + 1, agentId: agent });
      startedAt = expiredAt + backoffMs + 100;
    }
    // The third attempt, the last one allowed, times out too: dead-lettered, not queued.
    apply(startCommand, { agent_id: agent, tasks: [{ id: body.id, attempt: 3 }] }, startedAt);
    const lastAt = startedAt + 6_000;
    expect(
      valueOf(apply(expireCommand, { expirations: [{ id: body.id, attempt: 3, cause: "timeout" }] }, lastAt)),
    ).toEqual([body.id]);
    expect(task(body.id)).toMatchObject({
      status: "dead_lettered",
      attempt: 3,
      startedAttempts: 3,
      agentId: null,
      completedAtMs: lastAt,
      error: { cause: "timeout" },
    });
    expect(tasks().queue.size).toBe(0);
    // Once it is finished, even its own last attempt's expiry changes nothing.
    const dead = task(body.id);
    expect(
      valueOf(
        apply(expireCommand, { expirations: [{ id: body.id, attempt: 3, cause: "timeout" }] }, lastAt + 1),
      ),
    ).toEqual([]);
    expect(task(body.id)).toEqual(dead);
  });

  it("times out only running attempts, and waits the jittered backoff of that task and attempt", () => {
    const { apply, task } = cluster();
    const agent = uuid();
    apply(registerCommand, registration(agent, 1));
    const backoff = { initial_ms: 4_000, multiplier: 3, max_ms: 60_000, jitter: 0.5 };
    const body = submission("t", 5, { timeout_ms: 1_000, max_attempts: 4, backoff });
    apply(submitCommand, body, 0);
    // Assigned, not yet started: a timeout is not its to have (the pickup timeout is).
    const assigned = task(body.id);
    expect(
      valueOf(apply(expireCommand, { expirations: [{ id: body.id, attempt: 1, cause: "timeout" }] }, 5_000)),
    ).toEqual([]);
    expect(task(body.id)).toEqual(assigned);
    apply(startCommand, { agent_id: agent, tasks: [{ id: body.id, attempt: 1 }] }, 5_000);
    apply(expireCommand, { expirations: [{ id: body.id, attempt: 1, cause: "timeout" }] }, 6_000);
    const policy = { initialMs: 4_000, multiplier: 3, maxMs: 60_000, jitter: 0.5 };
    const delayMs = backoffDelayMs(policy, 1, body.id);
    expect(delayMs).toBeGreaterThanOrEqual(2_000);
    expect(delayMs).toBeLessThanOrEqual(4_000);
    expect(task(body.id)).toMatchObject({ status: "queued", notBeforeMs: 6_000 + delayMs });
    apply(dispatchCommand, {}, 6_000 + delayMs);
    apply(startCommand, { agent_id: agent, tasks: [{ id: body.id, attempt: 2 }] }, 7_000 + delayMs);
    const secondAt = 8_000 + delayMs;
    apply(expireCommand, { expirations: [{ id: body.id, attempt: 2, cause: "timeout" }] }, secondAt);
    expect(task(body.id)).toMatchObject({
      status: "queued",
      notBeforeMs: secondAt + backoffDelayMs(policy, 2, body.id),
    });
  });
});

describe("retries past many attempts", () => {
  it("keeps notBeforeMs a number when initial_ms is 0 and the multiplier overflows, so snapshots still restore", () => {
    // An agent that never takes what it is given: every pickup expiry is a new attempt and none
    // counts against max_attempts (none started), so the attempt number grows without bound.
    const { apply, task, state } = cluster();
    const agent = uuid();
    apply(configureCommand, { ...DEFAULT_TASK_SETTINGS, breakerThreshold: 1_000 });
    apply(registerCommand, registration(agent, 1), 0);
    const body = submission("p", 5, {
      max_attempts: 1,
      backoff: { initial_ms: 0, multiplier: 100, max_ms: 1_000, jitter: 0 },
    });
    apply(submitCommand, body, 0);
    let nowMs = 0;
    for (let round = 0; round < 160; round += 1) {
      nowMs += 60_000;
      if (task(body.id).status === "queued") apply(dispatchCommand, {}, nowMs);
      const current = task(body.id);
      expect(current.status, `round ${round}`).toBe("assigned");
      apply(
        expireCommand,
        { expirations: [{ id: body.id, attempt: current.attempt, cause: "pickup" }] },
        nowMs + 1,
      );
      expect(Number.isFinite(task(body.id).notBeforeMs), `attempt ${current.attempt}`).toBe(true);
    }
    expect(() => restoreSnapshot(registry, writeSnapshot(state))).not.toThrow();
  });
});

describe("consistent_hash placement through apply", () => {
  it("sends every task of one affinity key to the same agent while the agents stay the same", () => {
    const { apply, task } = cluster();
    const agents = Array.from({ length: 5 }, () => uuid());
    for (const agent of agents) apply(registerCommand, registration(agent, 1_000));
    const keys = Array.from({ length: 12 }, (_, i) => `customer-${i}`);
    const homes = new Map<string, string>();
    // Rounds of one task per key, with least_connections tasks between them, and some finished:
    // the agents' loads change all the time, and a key's home must not follow them.
    for (let round = 0; round < 6; round += 1) {
      for (const key of keys) {
        const body = submission(`team-${round % 2}`, round, {
          strategy: "consistent_hash",
          affinity_key: key,
        });
        apply(submitCommand, body);
        const placed = task(body.id);
        expect(placed.status).toBe("assigned");
        const home = homes.get(key) ?? placed.agentId!;
        homes.set(key, home);
        expect(placed.agentId, key).toBe(home);
        const filler = submission("filler", 5);
        apply(submitCommand, filler);
        if ((round + key.length) % 3 === 0) {
          const held = task(filler.id);
          apply(completeCommand, { id: held.id, agent_id: held.agentId!, attempt: 1, result: null });
        }
      }
    }
    // The keys spread over the agents rather than all on one (5 agents, 12 keys).
    expect(new Set(homes.values()).size).toBeGreaterThanOrEqual(3);
  });
});
