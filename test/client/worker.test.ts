// Proves the SDK's task worker against a real three-node cluster in this process: tasks submitted
// with client.tasks.submit run once each on an Agent's handler and complete with its result; no
// more handlers run at once than the capacity, and beats report how many do; handlers that finish
// together are reported in one POST /tasks/report, each report settled on its own; a throwing handler
// is retried into dead_lettered, a NonRetryableError or an unknown task type fails at once; a
// cancelled task's handler sees its signal abort, whether a poll or (at full capacity) the status
// check brings the news; stop() drains (the running task completes before deregistration, no new
// one starts) and past its drain timeout aborts the handlers; lost answers neither duplicate a
// submission nor lose a report or a polled task; a poll that finds the agent gone registers again.
// A push agent (delivery: "push", its listener on a server of the test's own) never polls: the
// leader's pushes run once each and complete, and a cancel reaches the handler through the beats.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  Agent,
  JunoApiError,
  JunoClient,
  NonRetryableError,
  TaskAbortedError,
  type AgentOptions,
  type JunoClientOptions,
  type TaskEvent,
  type TaskView,
} from "../../src/client/index.js";
import { completedBy, failedBy } from "../../src/client/client.js";
import { tasksState } from "../../src/tasks/index.js";
import { ApiCluster } from "../server/cluster.js";
import { until } from "../support/local-node.js";

let cluster: ApiCluster;
let urls: string[];

beforeAll(async () => {
  cluster = await ApiCluster.start(
    null,
    ["n1", "n2", "n3"],
    { heartbeatIntervalMs: 100, failureTimeoutMs: 1_500, healthCheckIntervalMs: 300 },
    // A high breaker threshold: the retry tests fail on purpose, and must not shut the agent out.
    { settings: { breakerThreshold: 100 }, tickMs: 50, redispatchMs: 200 },
  );
  const leader = await cluster.leader();
  await until(() => leader.node.view.state(tasksState).settings.breakerThreshold === 100);
  urls = [...cluster.members.values()].map((member) => `http://${member.http}`);
});

const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.stop()));
});
afterAll(async () => {
  // A fetch aborted between connecting and sending (a poll cut short by stop()) leaves the server
  // a connection that never carried a request, which its close would wait for until the headers
  // timeout; nothing is in flight by now, so every connection can go.
  for (const member of cluster.members.values()) member.app.server.closeAllConnections();
  await cluster.stop();
});

/** A client of the whole cluster; backoff waits are skipped so lost answers are retried at once. */
function client(options: Partial<JunoClientOptions> = {}): JunoClient {
  return new JunoClient({ urls, sleep: () => Promise.resolve(), ...options });
}

let agentCount = 0;
/** An agent with its own skill (so only it takes this test's tasks), short polls and drain; stopped after the test. */
function agentWith(
  skill: string,
  options: Partial<AgentOptions> = {},
): { agent: Agent; events: TaskEvent[] } {
  agentCount++;
  const agent = new Agent({
    client: client(),
    name: `worker-${agentCount}`,
    endpoint: `http://127.0.0.1:9/worker-${agentCount}`,
    team: "build",
    skills: [skill],
    capacity: 2,
    healthCheck: { type: "none" },
    pollWaitMs: 1_000,
    busyPollWaitMs: 200,
    drainTimeoutMs: 5_000,
    ...options,
  });
  const events: TaskEvent[] = [];
  agent.on("task", (event) => events.push(event));
  agents.push(agent);
  return { agent, events };
}

/** Submits a task that only agents with `skill` can take. */
async function submit(
  skill: string,
  taskType: string,
  extra: Partial<Parameters<JunoClient["submitTask"]>[0]> = {},
): Promise<TaskView> {
  const { task } = await client().tasks.submit({
    task_type: taskType,
    team: "web",
    requirements: { skills: [skill] },
    ...extra,
  });
  return task;
}

/** Waits until `probe` gives a value, checking every 20 ms, or fails after `ms` naming `what`. */
async function eventually<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The task once `holds` is true of it, read every 20 ms; fails after 15 s showing the last read. */
async function taskUntil(id: string, holds: (task: TaskView) => boolean): Promise<TaskView> {
  const reader = client();
  const deadline = Date.now() + 15_000;
  for (;;) {
    const task = await reader.tasks.get(id);
    if (holds(task)) return task;
    if (Date.now() > deadline) throw new Error(`task ${id} never got there: ${JSON.stringify(task)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function outcomes(events: readonly TaskEvent[], id: string): string[] {
  return events.filter((event) => event.id === id).map((event) => `${event.outcome}@${event.attempt}`);
}

/** A Promise with its resolve, for handlers held until the test lets them go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** The path a fetch goes to. */
function pathOf(input: Parameters<typeof fetch>[0]): string {
  return new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url).pathname;
}

/** A fetch that drops the answer of the first request `matches` picks, after the server handled it. */
function droppingFetch(
  matches: (path: string, answer: string) => boolean,
): typeof fetch & { dropped: string[] } {
  let dropped = false;
  const paths: string[] = [];
  const dropping = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const response = await fetch(input, init);
    const text = await response.text();
    const path = pathOf(input);
    if (!dropped && matches(path, text)) {
      dropped = true;
      paths.push(path);
      const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
      throw new TypeError("fetch failed", { cause: reset });
    }
    return new Response(text, { status: response.status, headers: response.headers });
  };
  return Object.assign(dropping, { dropped: paths });
}

describe("running tasks", () => {
  it("runs each submitted task once on its type's handler and completes it with the result", async () => {
    const { agent, events } = agentWith("echo-once", { capacity: 3 });
    const calls = new Map<string, number[]>();
    agent.handle("echo", (task, context) => {
      calls.set(task.id, [...(calls.get(task.id) ?? []), context.attempt]);
      return { echoed: context.data, attempt: context.attempt };
    });
    await agent.start();
    const tasks = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((n) => submit("echo-once", "echo", { data: { n } })),
    );
    for (const [n, submitted] of tasks.entries()) {
      const done = await taskUntil(submitted.id, (task) => task.status === "succeeded");
      expect(done.result).toEqual({ echoed: { n }, attempt: 1 });
      expect(calls.get(submitted.id)).toEqual([1]);
      expect(outcomes(events, submitted.id)).toEqual(["started@1", "completed@1"]);
    }
  });

  it("never runs more handlers at once than its capacity, and beats report how many run", async () => {
    const beats: number[] = [];
    const recording: typeof fetch = async (input, init) => {
      if (pathOf(input).endsWith("/heartbeat") && typeof init?.body === "string") {
        const body = JSON.parse(init.body) as { active_tasks?: number };
        if (body.active_tasks !== undefined) beats.push(body.active_tasks);
      }
      return fetch(input, init);
    };
    const { agent } = agentWith("gated", { capacity: 2, client: client({ fetch: recording }) });
    let inside = 0;
    let most = 0;
    const held: (() => void)[] = [];
    agent.handle("gate", async () => {
      inside++;
      most = Math.max(most, inside);
      const { promise, open } = gate();
      held.push(open);
      await promise;
      inside--;
      return "ok";
    });
    await agent.start();
    const tasks = await Promise.all([0, 1, 2, 3, 4, 5].map(() => submit("gated", "gate")));
    await eventually("both slots busy", () => (inside === 2 ? true : undefined));
    beats.length = 0;
    await eventually("a beat reporting 2 tasks", () => (beats.includes(2) ? true : undefined));
    expect(agent.activeTasks).toBe(2);
    for (let released = 0; released < tasks.length; released++) {
      await eventually("a held handler", () => (held.length > 0 ? true : undefined));
      expect(inside).toBeLessThanOrEqual(2);
      held.shift()?.();
    }
    for (const task of tasks) await taskUntil(task.id, (t) => t.status === "succeeded");
    expect(most).toBe(2);
  });

  it("reports handlers that finish together in one POST /tasks/report, each report settled on its own", async () => {
    const reports: { completed: unknown[]; failed: unknown[] }[] = [];
    const recording: typeof fetch = async (input, init) => {
      const path = pathOf(input);
      if (path.endsWith("/complete") || path.endsWith("/fail")) throw new Error(`reported alone: ${path}`);
      if (path.endsWith("/tasks/report") && typeof init?.body === "string") {
        reports.push(JSON.parse(init.body) as { completed: unknown[]; failed: unknown[] });
      }
      return fetch(input, init);
    };
    const { agent, events } = agentWith("batched", { capacity: 4, client: client({ fetch: recording }) });
    const release = gate();
    let inside = 0;
    agent.handle("together", async (task) => {
      inside++;
      await release.promise;
      if ((task.data as { fail?: boolean }).fail === true) throw new NonRetryableError("refused");
      return { n: (task.data as { n: number }).n };
    });
    await agent.start();
    const tasks = await Promise.all(
      [0, 1, 2].map((n) => submit("batched", "together", { data: { n, fail: n === 2 } })),
    );
    await eventually("every handler running", () => (inside === 3 ? true : undefined));
    release.open();
    const [first, second, third] = tasks;
    expect(await taskUntil(first?.id ?? "", (t) => t.status === "succeeded")).toMatchObject({
      result: { n: 0 },
    });
    expect(await taskUntil(second?.id ?? "", (t) => t.status === "succeeded")).toMatchObject({
      result: { n: 1 },
    });
    expect(await taskUntil(third?.id ?? "", (t) => t.status === "failed")).toMatchObject({
      error: { message: "refused", retryable: false, cause: "agent" },
    });
    await eventually("every outcome", () =>
      tasks.every((task) => outcomes(events, task.id).length === 2) ? true : undefined,
    );
    expect(tasks.map((task) => outcomes(events, task.id)[1])).toEqual([
      "completed@1",
      "completed@1",
      "failed@1",
    ]);
    expect(reports.map((report) => [report.completed.length, report.failed.length])).toEqual([[2, 1]]);
  });

  it("takes its next work with its reports while busy: the queued tasks run without a poll", async () => {
    const polls: number[] = [];
    const taken: string[] = [];
    const recording: typeof fetch = async (input, init) => {
      const path = pathOf(input);
      if (path.endsWith("/tasks/poll")) polls.push(Date.now());
      const response = await fetch(input, init);
      if (!path.endsWith("/tasks/report")) return response;
      const text = await response.text();
      for (const task of (JSON.parse(text) as { tasks?: { id: string }[] }).tasks ?? []) taken.push(task.id);
      return new Response(text, { status: response.status, headers: response.headers });
    };
    const { agent, events } = agentWith("take-next", { capacity: 2, client: client({ fetch: recording }) });
    const release = gate();
    let inside = 0;
    agent.handle("work", async () => {
      inside++;
      await release.promise;
      return "done";
    });
    await agent.start();
    const first = await Promise.all([0, 1].map(() => submit("take-next", "work")));
    await eventually("both slots busy", () => (inside === 2 ? true : undefined));
    // Two more wait queued: the agent is full, and a full agent does not poll.
    const next = await Promise.all([0, 1].map(() => submit("take-next", "work")));
    const pollsBefore = polls.length;
    release.open();
    for (const task of [...first, ...next]) {
      expect(await taskUntil(task.id, (t) => t.status === "succeeded")).toMatchObject({ attempt: 1 });
    }
    // The report of the first two started the next two in its own entry (dispatch then take).
    expect(taken.sort()).toEqual(next.map((task) => task.id).sort());
    expect(polls.length - pollsBefore).toBeLessThanOrEqual(1);
    for (const task of next) expect(outcomes(events, task.id)).toEqual(["started@1", "completed@1"]);
  });

  it("a report that took tasks and lost its answer still runs them, once", async () => {
    const dropping = droppingFetch(
      (path, answer) => path.endsWith("/tasks/report") && answer.includes('"tasks":[{'),
    );
    const { agent, events } = agentWith("lost-take", { capacity: 1, client: client({ fetch: dropping }) });
    const runs: string[] = [];
    const release = gate();
    agent.handle("work", async (task) => {
      runs.push(`${task.id}@${task.attempt}`);
      if (runs.length === 1) await release.promise;
      return "done";
    });
    await agent.start();
    const first = await submit("lost-take", "work");
    await eventually("the first task running", () => (runs.length === 1 ? true : undefined));
    const second = await submit("lost-take", "work");
    release.open();
    // The first report's answer (with the second task in it) is lost; the client sends it again,
    // and the worker finds the second task running on it (GET /tasks/status) and runs it.
    for (const task of [first, second]) {
      expect(await taskUntil(task.id, (t) => t.status === "succeeded")).toMatchObject({ attempt: 1 });
    }
    expect(dropping.dropped).toEqual(["/api/v3/tasks/report"]);
    expect(runs.sort()).toEqual([`${first.id}@1`, `${second.id}@1`].sort());
    expect(outcomes(events, second.id)).toEqual(["started@1", "completed@1"]);
  });

  it("retries a throwing handler until the task is dead-lettered", async () => {
    const { agent, events } = agentWith("flaky");
    const attempts: number[] = [];
    agent.handle("flaky", (_task, context) => {
      attempts.push(context.attempt);
      throw new Error("boom");
    });
    await agent.start();
    const task = await submit("flaky", "flaky", {
      max_attempts: 3,
      backoff: { initial_ms: 10, multiplier: 1, max_ms: 10, jitter: 0 },
    });
    const dead = await taskUntil(task.id, (t) => t.status === "dead_lettered");
    expect(dead).toMatchObject({ attempt: 3, error: { message: "boom", retryable: true, cause: "agent" } });
    expect(attempts).toEqual([1, 2, 3]);
    expect(outcomes(events, task.id)).toEqual([
      "started@1",
      "failed@1",
      "started@2",
      "failed@2",
      "started@3",
      "failed@3",
    ]);
  });

  it("fails at once, not retryable, on a NonRetryableError or a task type without a handler", async () => {
    const { agent } = agentWith("strict");
    let calls = 0;
    agent.handle("strict", () => {
      calls++;
      throw new NonRetryableError("the input is malformed");
    });
    await agent.start();
    const refused = await submit("strict", "strict", { max_attempts: 3 });
    expect(await taskUntil(refused.id, (t) => t.status === "failed")).toMatchObject({
      attempt: 1,
      error: { message: "the input is malformed", retryable: false },
    });
    expect(calls).toBe(1);
    const unknown = await submit("strict", "mystery", { max_attempts: 3 });
    const failed = await taskUntil(unknown.id, (t) => t.status === "failed");
    expect(failed.attempt).toBe(1);
    expect(failed.error?.retryable).toBe(false);
    expect(failed.error?.message).toContain('no handler for task type "mystery"');
  });

  it("fails a task whose result is not JSON, not retryable", async () => {
    const { agent } = agentWith("bigint");
    agent.handle("bigint", () => ({ count: 1n }));
    await agent.start();
    const task = await submit("bigint", "bigint");
    const failed = await taskUntil(task.id, (t) => t.status === "failed");
    expect(failed.error?.message).toMatch(/^the handler's result is not JSON/);
  });
});

describe("cancellation", () => {
  /** A handler that waits for its signal, recording the reason, and the handlers that started. */
  function waitingHandler(agent: Agent): { started: Set<string>; reasons: Map<string, unknown> } {
    const started = new Set<string>();
    const reasons = new Map<string, unknown>();
    agent.handle("wait", (task, context) => {
      started.add(task.id);
      return new Promise((_resolve, reject) => {
        context.signal.addEventListener("abort", () => {
          reasons.set(task.id, context.signal.reason);
          reject(context.signal.reason as Error);
        });
      });
    });
    return { started, reasons };
  }

  for (const [name, capacity] of [
    ["a poll's cancelled list, with a slot free", 2],
    ["the running check, at full capacity", 1],
  ] as const) {
    it(`aborts a cancelled task's signal, heard through ${name}`, async () => {
      const { agent, events } = agentWith(`cancel-${capacity}`, { capacity });
      const { started, reasons } = waitingHandler(agent);
      await agent.start();
      const task = await submit(`cancel-${capacity}`, "wait");
      await eventually("the handler started", () => (started.has(task.id) ? true : undefined));
      expect((await client().tasks.cancel(task.id)).status).toBe("cancelled");
      const reason = await eventually("the signal aborted", () => reasons.get(task.id));
      expect(reason).toBeInstanceOf(TaskAbortedError);
      expect((reason as TaskAbortedError).kind).toBe("cancelled");
      await eventually("the attempt ended here", () =>
        outcomes(events, task.id).includes("cancelled@1") ? true : undefined,
      );
      expect(outcomes(events, task.id)).toEqual(["started@1", "cancelled@1"]);
      expect(agent.activeTasks).toBe(0);
    });
  }
});

describe("stopping", () => {
  it("drains: the running task completes before the agent deregisters, and no new task starts", async () => {
    const { agent, events } = agentWith("drain", { capacity: 1 });
    const started: string[] = [];
    const release = gate();
    agent.handle("slow", async (task) => {
      started.push(task.id);
      await release.promise;
      return { done: task.id };
    });
    const view = await agent.start();
    const first = await submit("drain", "slow");
    await eventually("the handler started", () => (started.length === 1 ? true : undefined));
    const stopped = agent.stop();
    expect(agent.draining).toBe(true);
    const second = await submit("drain", "slow");
    release.open();
    expect(await stopped).toBe(true);
    expect(await client().tasks.get(first.id)).toMatchObject({
      status: "succeeded",
      result: { done: first.id },
    });
    expect(outcomes(events, first.id)).toEqual(["started@1", "completed@1"]);
    expect(started).toEqual([first.id]);
    // The second task, placed on the agent or not, goes back to waiting once the agent has left.
    await taskUntil(second.id, (t) => t.status === "queued" && t.assigned_agent === null);
    await expect(client().getAgent(view?.id ?? "")).rejects.toMatchObject({ code: "agent_not_found" });
  });

  it("aborts the handlers past the drain timeout and leaves their tasks to the cluster", async () => {
    const { agent, events } = agentWith("hang", { capacity: 1, drainTimeoutMs: 200 });
    const { started, reasons } = (() => {
      const started = new Set<string>();
      const reasons = new Map<string, unknown>();
      agent.handle("hang", (task, context) => {
        started.add(task.id);
        return new Promise((_resolve, reject) => {
          context.signal.addEventListener("abort", () => {
            reasons.set(task.id, context.signal.reason);
            reject(new Error("interrupted"));
          });
        });
      });
      return { started, reasons };
    })();
    await agent.start();
    const task = await submit("hang", "hang");
    await eventually("the handler started", () => (started.has(task.id) ? true : undefined));
    expect(await agent.stop()).toBe(true);
    expect((reasons.get(task.id) as TaskAbortedError).kind).toBe("shutdown");
    expect(outcomes(events, task.id)).toEqual(["started@1", "interrupted@1"]);
    // Not reported as a failure: deregistration handed it back, as a lost agent's task.
    const released = await taskUntil(task.id, (t) => t.status === "queued");
    expect(released.error).toMatchObject({ retryable: true, cause: "agent_lost" });
  });
});

describe("lost answers", () => {
  it("a retried submission finds the first task instead of making a second", async () => {
    const dropping = droppingFetch((path) => path.endsWith("/tasks/distribute"));
    const submitter = client({ fetch: dropping, idempotencyKey: () => "generated-key-1" });
    const team = "lost-submit";
    const body = { task_type: "x", team, requirements: { skills: ["nobody-has-this"] } };
    const { task, created } = await submitter.tasks.submit(body);
    // The first attempt made the task; its answer was lost; the retry found it by key.
    expect(created).toBe(false);
    expect(task.idempotency_key).toBe("generated-key-1");
    const again = await submitter.tasks.submit({ ...body, idempotency_key: "generated-key-1" });
    expect(again).toMatchObject({ created: false, task: { id: task.id } });
    const listed = await client().tasks.status({ team });
    expect(listed.tasks.map((t) => t.id)).toEqual([task.id]);
    expect(dropping.dropped).toEqual(["/api/v3/tasks/distribute"]);
  });

  it("a retried cancellation that hears task_finished answers the task it cancelled", async () => {
    const dropping = droppingFetch((path) => path.startsWith("/api/v3/tasks/"));
    const { task } = await client().tasks.submit({ task_type: "x", team: "lost-cancel" });
    const cancelled = await client({ fetch: dropping }).tasks.cancel(task.id);
    expect(cancelled).toMatchObject({ id: task.id, status: "cancelled" });
    expect(dropping.dropped).toEqual([`/api/v3/tasks/${task.id}`]);
    await expect(client().tasks.cancel(task.id)).rejects.toMatchObject({
      status: 409,
      code: "task_finished",
    });
  });

  it("a submission without a key gets a fresh UUID as its key", async () => {
    const { task, created } = await client().tasks.submit({ task_type: "x", team: "keyless" });
    expect(created).toBe(true);
    expect(task.idempotency_key).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it("a report whose answer was lost counts as done when the task shows it", async () => {
    const dropping = droppingFetch((path) => path.endsWith("/tasks/report"));
    const { agent, events } = agentWith("lost-report", { client: client({ fetch: dropping }) });
    agent.handle("ok", () => "fine");
    await agent.start();
    const task = await submit("lost-report", "ok");
    expect(await taskUntil(task.id, (t) => t.status === "succeeded")).toMatchObject({ result: "fine" });
    await eventually("the report's outcome", () =>
      outcomes(events, task.id).length === 2 ? true : undefined,
    );
    expect(outcomes(events, task.id)).toEqual(["started@1", "completed@1"]);
    expect(dropping.dropped).toEqual(["/api/v3/tasks/report"]);
  });

  it("a failure report whose answer was lost counts as done when the task shows it", async () => {
    const dropping = droppingFetch((path) => path.endsWith("/tasks/report"));
    const { agent, events } = agentWith("lost-fail", { client: client({ fetch: dropping }) });
    agent.handle("bad", () => {
      throw new NonRetryableError("no good");
    });
    await agent.start();
    const task = await submit("lost-fail", "bad");
    expect(await taskUntil(task.id, (t) => t.status === "failed")).toMatchObject({
      error: { message: "no good", retryable: false },
    });
    await eventually("the report's outcome", () =>
      outcomes(events, task.id).length === 2 ? true : undefined,
    );
    expect(outcomes(events, task.id)).toEqual(["started@1", "failed@1"]);
    expect(dropping.dropped).toEqual(["/api/v3/tasks/report"]);
  });

  it("a poll whose answer was lost still runs the tasks it started, once", async () => {
    const errors: unknown[] = [];
    const { agent, events } = agentWith("lost-poll", {
      client: client({
        fetch: droppingFetch((path, answer) => path.endsWith("/tasks/poll") && answer.includes('"tasks":[{')),
      }),
    });
    agent.on("error", ({ error }) => errors.push(error));
    const attempts: number[] = [];
    agent.handle("ok", (_task, context) => {
      attempts.push(context.attempt);
      return "ran";
    });
    await agent.start();
    const task = await submit("lost-poll", "ok");
    expect(await taskUntil(task.id, (t) => t.status === "succeeded")).toMatchObject({
      attempt: 1,
      result: "ran",
    });
    expect(attempts).toEqual([1]);
    expect(errors.some((error) => error instanceof JunoApiError && error.code === "outcome_unknown")).toBe(
      true,
    );
    expect(outcomes(events, task.id)).toEqual(["started@1", "completed@1"]);
  });

  it("a poll that finds the agent gone registers it again and carries on", async () => {
    const { agent } = agentWith("comeback");
    agent.handle("ok", () => "back");
    const first = await agent.start();
    let registrations = 0;
    agent.on("registered", () => registrations++);
    await client().deregisterAgent(first?.id ?? "");
    await eventually("registered again", () => (registrations > 0 && agent.id !== null ? true : undefined));
    const task = await submit("comeback", "ok");
    expect(await taskUntil(task.id, (t) => t.status === "succeeded")).toMatchObject({ result: "back" });
  });
});

describe("stopOnSignals", () => {
  it("stops on the first signal, cuts the drain short on the second, then removes its listeners", async () => {
    // SIGUSR2 is emitted by hand, never sent: no real signal reaches the test process.
    const baseline = process.listenerCount("SIGUSR2");
    const { agent, events } = agentWith("signals", { capacity: 1, drainTimeoutMs: 60_000 });
    const reasons: unknown[] = [];
    let running = false;
    agent.handle("hang", (_task, context) => {
      running = true;
      return new Promise((_resolve, reject) => {
        context.signal.addEventListener("abort", () => {
          reasons.push(context.signal.reason);
          reject(new Error("interrupted"));
        });
      });
    });
    await agent.start();
    const task = await submit("signals", "hang");
    await eventually("the handler started", () => (running ? true : undefined));
    const stopped = new Promise<boolean>((resolve) =>
      agent.stopOnSignals({ signals: ["SIGUSR2"], onStopped: resolve }),
    );
    expect(process.listenerCount("SIGUSR2")).toBe(baseline + 1);
    process.emit("SIGUSR2");
    expect(agent.draining).toBe(true);
    expect(reasons).toEqual([]);
    process.emit("SIGUSR2");
    expect(await stopped).toBe(true);
    expect((reasons[0] as TaskAbortedError).kind).toBe("shutdown");
    expect(outcomes(events, task.id)).toEqual(["started@1", "interrupted@1"]);
    expect(process.listenerCount("SIGUSR2")).toBe(baseline);
  });
});

describe("reports retried after a lost answer", () => {
  const base = {
    id: "t",
    status: "succeeded",
    attempt: 2,
    previous_agents: ["a1", "a2"],
    error: null,
  } as unknown as TaskView;

  it("count as done only when the task shows this very report", () => {
    expect(completedBy(base, { agent_id: "a2", attempt: 2 })).toBe(true);
    expect(completedBy(base, { agent_id: "a1", attempt: 2 })).toBe(false);
    expect(completedBy(base, { agent_id: "a2", attempt: 1 })).toBe(false);
    expect(completedBy({ ...base, status: "cancelled" }, { agent_id: "a2", attempt: 2 })).toBe(false);
    const failure = { agent_id: "a2", attempt: 2, error: "boom" };
    const failed = {
      ...base,
      status: "queued",
      error: { message: "boom", retryable: true, cause: "agent" },
    } as const;
    expect(failedBy(failed, failure)).toBe(true);
    // The next attempt was placed since, and has not ended: the error is still ours.
    expect(failedBy({ ...failed, status: "running", attempt: 3 }, failure)).toBe(true);
    expect(failedBy({ ...failed, status: "succeeded", attempt: 3 }, failure)).toBe(false);
    expect(failedBy(failed, { ...failure, error: "other" })).toBe(false);
    expect(failedBy(failed, { ...failure, retryable: false })).toBe(false);
    expect(failedBy({ ...failed, error: { ...failed.error, cause: "timeout" } }, failure)).toBe(false);
  });
});

describe("push delivery", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("runs pushed tasks once each without polling, and a cancel reaches the handler through the beats", async () => {
    let listener: ReturnType<Agent["pushListener"]> | null = null;
    const server = createServer((request, response) => {
      if (listener?.(request, response) !== true) response.writeHead(404).end();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const paths: string[] = [];
    const recording: typeof fetch = (input, init) => {
      paths.push(pathOf(input));
      return fetch(input, init);
    };
    const { agent, events } = agentWith("pushed", {
      endpoint,
      delivery: "push",
      client: client({ fetch: recording }),
    });
    listener = agent.pushListener();
    const calls = new Map<string, number>();
    agent.handle("echo", (task) => {
      calls.set(task.id, (calls.get(task.id) ?? 0) + 1);
      return { echoed: task.data };
    });
    const reasons = new Map<string, unknown>();
    agent.handle("wait", (task, { signal }) => {
      calls.set(task.id, (calls.get(task.id) ?? 0) + 1);
      return new Promise((_resolve, reject) =>
        signal.addEventListener("abort", () => {
          reasons.set(task.id, signal.reason);
          reject(signal.reason as Error);
        }),
      );
    });
    const view = await agent.start();
    expect(view?.delivery).toEqual({ mode: "push", url: `${endpoint}/juno/tasks` });
    const tasks = await Promise.all([0, 1, 2].map((n) => submit("pushed", "echo", { data: { n } })));
    for (const [n, submitted] of tasks.entries()) {
      const done = await taskUntil(submitted.id, (task) => task.status === "succeeded");
      expect(done).toMatchObject({ attempt: 1, result: { echoed: { n } } });
      expect(calls.get(submitted.id)).toBe(1);
      await eventually("the report's outcome", () =>
        outcomes(events, submitted.id).length === 2 ? true : undefined,
      );
      expect(outcomes(events, submitted.id)).toEqual(["started@1", "completed@1"]);
    }
    const waiting = await submit("pushed", "wait");
    await taskUntil(waiting.id, (task) => task.status === "running");
    await eventually("the handler started", () => (calls.has(waiting.id) ? true : undefined));
    expect((await client().tasks.cancel(waiting.id)).status).toBe("cancelled");
    const reason = await eventually("the signal aborted", () => reasons.get(waiting.id));
    expect(reason).toMatchObject({ kind: "cancelled" });
    await eventually("the attempt ended here", () =>
      outcomes(events, waiting.id).includes("cancelled@1") ? true : undefined,
    );
    expect(paths.filter((path) => path.endsWith("/tasks/poll"))).toEqual([]);
    expect(await agent.stop()).toBe(true);
  });
});
