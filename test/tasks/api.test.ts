// Proves the tasks API as agents and the teams that submit work use it, through every node of a
// three-node cluster: submission (idempotent by key), a task waiting with its reason until an
// agent can take it, long-poll delivery with attempt numbers, completions and failures fenced by
// attempt (409 for a stale one, nothing changed), retries into the dead-letter state,
// cancellation reaching the agent on its next poll, a failed agent's tasks moving to another
// agent, team bulkheads answering 429, metrics, and bad input refused.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JunoClient } from "../../src/client/index.js";
import { tasksState } from "../../src/tasks/index.js";
import { ApiCluster, callApi, type Member } from "../server/cluster.js";
import { until } from "../support/local-node.js";

let cluster: ApiCluster;
beforeAll(async () => {
  cluster = await ApiCluster.start(
    null,
    ["n1", "n2", "n3"],
    { heartbeatIntervalMs: 100, failureTimeoutMs: 1_500, healthCheckIntervalMs: 300 },
    { settings: { teamQueueLimit: 3, breakerThreshold: 100 }, tickMs: 50, redispatchMs: 200 },
  );
  const leader = await cluster.leader();
  await until(() => leader.node.view.state(tasksState).settings.teamQueueLimit === 3);
});
afterAll(async () => {
  for (const stop of beating.splice(0)) stop();
  await cluster.stop();
});

type Json = Record<string, unknown>;

const call = callApi;

const beating: (() => void)[] = [];

/** Registers an agent; with `beat`, keeps it beating until the suite ends (listing `running()`, if given). */
async function agent(
  name: string,
  skills: string[],
  capacity = 2,
  beat = true,
  running?: () => { id: string; attempt: number }[],
): Promise<string> {
  const member = await cluster.follower();
  const answer = await call(member, "POST", "/agents/register", {
    name,
    endpoint: `http://10.1.0.1:${9000 + name.length}/${name}`,
    team: "build",
    capabilities: { skills, capacity },
    health_check: { type: "none" },
  });
  expect(answer.status).toBe(201);
  const id = (answer.json["agent"] as Json)["id"] as string;
  if (beat) {
    const timer = setInterval(() => {
      const body = running === undefined ? {} : { running: running() };
      void call(member, "POST", `/agents/${id}/heartbeat`, body).catch(() => {});
    }, 100);
    beating.push(() => clearInterval(timer));
  }
  return id;
}

let teams = 0;
/** Submits a task; each from its own team unless it names one (the queue limit is per team). */
async function submit(member: Member, body: Json) {
  return call(member, "POST", "/tasks/distribute", { team: `web-${++teams}`, task_type: "build", ...body });
}

/** Submits `count` tasks with `body` one after another; their ids, in order. */
async function submitIds(member: Member, count: number, body: Json): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++)
    ids.push(((await submit(member, body)).json["task"] as Json)["id"] as string);
  return ids;
}

async function task(id: string): Promise<Json> {
  const leader = await cluster.leader();
  return (await call(leader, "GET", `/tasks/${id}`)).json["task"] as Json;
}

async function taskUntil(id: string, holds: (task: Json) => boolean): Promise<Json> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const last = await task(id);
    if (holds(last)) return last;
    if (Date.now() > deadline) throw new Error(`task ${id} never got there: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("tasks API", () => {
  it("a task no agent can take waits queued with its reason; an agent that can takes it by poll", async () => {
    const follower = await cluster.follower();
    const submitted = await submit(follower, {
      requirements: { skills: ["compile"] },
      data: { repo: "web" },
    });
    expect(submitted.status).toBe(201);
    const queued = submitted.json["task"] as Json;
    expect(queued["status"]).toBe("queued");
    expect(queued["waiting_reason"]).toMatch(/no agent has skills compile/);

    const agentId = await agent("compiler", ["compile"]);
    const assigned = await taskUntil(queued["id"] as string, (t) => t["status"] === "assigned");
    expect(assigned["assigned_agent"]).toBe(agentId);
    expect(assigned["attempt"]).toBe(1);

    const polled = await call(follower, "POST", "/tasks/poll", { agent_id: agentId, max_tasks: 5 });
    expect(polled.status).toBe(200);
    const delivered = polled.json["tasks"] as Json[];
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ id: queued["id"], attempt: 1, data: { repo: "web" } });
    expect((await task(queued["id"] as string))["status"]).toBe("running");

    // Stale reports change nothing: the wrong attempt, the wrong agent, a task that is not there.
    const id = queued["id"] as string;
    const wrongAttempt = await call(follower, "POST", `/tasks/${id}/complete`, {
      agent_id: agentId,
      attempt: 2,
    });
    expect(wrongAttempt.status).toBe(409);
    expect((wrongAttempt.json["error"] as Json)["code"]).toBe("stale_attempt");
    const wrongAgent = await call(follower, "POST", `/tasks/${id}/complete`, {
      agent_id: "00000000-0000-4000-8000-000000000000",
      attempt: 1,
    });
    expect(wrongAgent.status).toBe(409);
    const missing = await call(follower, "POST", `/tasks/00000000-0000-4000-8000-000000000001/complete`, {
      agent_id: agentId,
      attempt: 1,
    });
    expect(missing.status).toBe(404);
    expect((await task(id))["status"]).toBe("running");

    // An agent that lost the answer (or restarted) and does not list the attempt gets it again.
    const lost = await call(follower, "POST", "/tasks/poll", { agent_id: agentId, running: [] });
    expect(lost.json["tasks"]).toMatchObject([{ id, attempt: 1 }]);
    const listed = await call(follower, "POST", "/tasks/poll", {
      agent_id: agentId,
      running: [{ id, attempt: 1 }],
    });
    expect(listed.json).toEqual({ tasks: [], cancelled: [] });

    const done = await call(follower, "POST", `/tasks/${id}/complete`, {
      agent_id: agentId,
      attempt: 1,
      result: { ok: 1 },
    });
    expect(done.status).toBe(200);
    expect(done.json["task"]).toMatchObject({ status: "succeeded", result: { ok: 1 }, assigned_agent: null });
    // The same report again (a lost answer) hears the same answer and changes nothing.
    const twice = await call(follower, "POST", `/tasks/${id}/complete`, {
      agent_id: agentId,
      attempt: 1,
      result: { other: true },
    });
    expect(twice.status).toBe(200);
    expect(twice.json["task"]).toMatchObject({ status: "succeeded", result: { ok: 1 } });
  });

  it("reports several attempts in one request, each fenced and answered on its own", async () => {
    const follower = await cluster.follower();
    const agentId = await agent("reporter", ["report"], 3);
    const ids = await submitIds(follower, 3, { requirements: { skills: ["report"] }, max_attempts: 1 });
    for (const id of ids) await taskUntil(id, (t) => t["status"] === "assigned");
    const polled = await call(follower, "POST", "/tasks/poll", { agent_id: agentId, max_tasks: 3 });
    expect(polled.json["tasks"]).toHaveLength(3);
    const [done, stale, failed] = ids as [string, string, string];
    const report = await call(follower, "POST", "/tasks/report", {
      agent_id: agentId,
      completed: [
        { id: done, attempt: 1, result: { n: 1 } },
        { id: stale, attempt: 2 },
      ],
      failed: [{ id: failed, attempt: 1, error: "disk full", retryable: false }],
    });
    expect(report.status).toBe(200);
    expect(report.json["results"]).toMatchObject([
      { id: done, attempt: 1, ok: true, status: "succeeded" },
      { id: stale, attempt: 2, ok: false, error: { code: "stale_attempt" } },
      { id: failed, attempt: 1, ok: true, status: "failed" },
    ]);
    expect(await task(done)).toMatchObject({ status: "succeeded", result: { n: 1 } });
    expect((await task(stale))["status"]).toBe("running");
    expect(await task(failed)).toMatchObject({ status: "failed", error: { message: "disk full" } });
    // The same completion again is answered like the first; a task named twice or none is a 400.
    const again = await call(follower, "POST", "/tasks/report", {
      agent_id: agentId,
      completed: [{ id: done, attempt: 1, result: { n: 1 } }],
    });
    expect(again.json["results"]).toMatchObject([{ id: done, ok: true, status: "succeeded" }]);
    // So is the same failure again.
    const failedAgain = await call(follower, "POST", "/tasks/report", {
      agent_id: agentId,
      failed: [{ id: failed, attempt: 1, error: "disk full", retryable: false }],
    });
    expect(failedAgain.json["results"]).toMatchObject([{ id: failed, ok: true, status: "failed" }]);
    const twice = await call(follower, "POST", "/tasks/report", {
      agent_id: agentId,
      completed: [{ id: stale, attempt: 1 }],
      failed: [{ id: stale, attempt: 1, error: "x" }],
    });
    expect(twice.status).toBe(400);
    const none = await call(follower, "POST", "/tasks/report", { agent_id: agentId });
    expect(none.status).toBe(400);
    expect((await task(stale))["status"]).toBe("running");
    const finished = await call(follower, "POST", "/tasks/report", {
      agent_id: agentId,
      completed: [{ id: stale, attempt: 1 }],
    });
    expect(finished.json["results"]).toMatchObject([{ id: stale, ok: true, status: "succeeded" }]);
  });

  it("starts the agent's next tasks with its report when asked to take them, as a poll would", async () => {
    const follower = await cluster.follower();
    const agentId = await agent("taker", ["take"], 2);
    const ids = await submitIds(follower, 4, { requirements: { skills: ["take"] }, priority: 5 });
    const [a, b, c, d] = ids as [string, string, string, string];
    await taskUntil(b, (t) => t["status"] === "assigned");
    const polled = await call(follower, "POST", "/tasks/poll", { agent_id: agentId, max_tasks: 2 });
    expect((polled.json["tasks"] as Json[]).map((t) => t["id"])).toEqual([a, b]);
    // The agent is full, so c and d wait queued; the report frees both slots, its dispatch gives
    // them c and d, and its take starts them, all in one entry.
    expect((await task(c))["status"]).toBe("queued");
    const report = await call(follower, "POST", "/tasks/report", {
      agent_id: agentId,
      completed: [
        { id: a, attempt: 1 },
        { id: b, attempt: 1 },
      ],
      take: 2,
    });
    expect(report.status).toBe(200);
    expect(report.json["results"]).toMatchObject([
      { id: a, ok: true, status: "succeeded" },
      { id: b, ok: true, status: "succeeded" },
    ]);
    expect(report.json["tasks"]).toMatchObject([
      { id: c, attempt: 1, task_type: "build" },
      { id: d, attempt: 1, task_type: "build" },
    ]);
    for (const id of [c, d])
      expect(await task(id)).toMatchObject({ status: "running", assigned_agent: agentId });
    // Nothing is left to take: a take of more than there is starts what there is, here nothing.
    const last = await call(follower, "POST", "/tasks/report", {
      agent_id: agentId,
      completed: [{ id: c, attempt: 1 }],
      take: 5,
    });
    expect(last.json["tasks"]).toEqual([]);
    // Without take, the answer carries no tasks: what was assigned waits for a poll.
    const plain = await call(follower, "POST", "/tasks/report", {
      agent_id: agentId,
      completed: [{ id: d, attempt: 1 }],
    });
    expect(plain.json["tasks"]).toEqual([]);
    for (const id of ids) expect((await task(id))["status"]).toBe("succeeded");
    // GET /tasks/metrics counts them apart: only this test takes with a report.
    const metrics = await call(await cluster.leader(), "GET", "/tasks/metrics");
    expect((metrics.json["totals"] as Json)["started_by_report"]).toBe(2);
  });

  it("answers the same task for the same idempotency key", async () => {
    const leader = await cluster.leader();
    const body = { team: "release", idempotency_key: "deploy-42", requirements: { skills: ["nobody"] } };
    const first = await submit(leader, body);
    const again = await submit(await cluster.follower(), body);
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect((again.json["task"] as Json)["id"]).toBe((first.json["task"] as Json)["id"]);
  });

  it("holds a poll until a task arrives", async () => {
    const agentId = await agent("linker", ["link"], 1);
    const follower = await cluster.follower();
    const poll = call(follower, "POST", "/tasks/poll", { agent_id: agentId, wait_ms: 10_000 });
    const submitted = await submit(await cluster.leader(), { requirements: { skills: ["link"] } });
    const answer = await poll;
    expect(answer.status).toBe(200);
    expect((answer.json["tasks"] as Json[]).map((t) => t["id"])).toEqual([
      (submitted.json["task"] as Json)["id"],
    ]);
  });

  it("retries a retryable failure after its backoff, then dead-letters it", async () => {
    const agentId = await agent("tester", ["test"], 1);
    const leader = await cluster.leader();
    const submitted = await submit(leader, {
      requirements: { skills: ["test"] },
      max_attempts: 2,
      backoff: { initial_ms: 50, multiplier: 2, max_ms: 100, jitter: 0 },
    });
    const id = (submitted.json["task"] as Json)["id"] as string;
    for (const attempt of [1, 2]) {
      await taskUntil(id, (t) => t["status"] === "assigned" && t["attempt"] === attempt);
      const polled = await call(leader, "POST", "/tasks/poll", { agent_id: agentId });
      expect(polled.json["tasks"], JSON.stringify(polled.json)).toMatchObject([{ id, attempt }]);
      const failed = await call(leader, "POST", `/tasks/${id}/fail`, {
        agent_id: agentId,
        attempt,
        error: "flaky",
      });
      expect(failed.status).toBe(200);
    }
    const final = await task(id);
    expect(final).toMatchObject({
      status: "dead_lettered",
      attempt: 2,
      error: { message: "flaky", retryable: true },
    });
    const listed = await call(leader, "GET", "/tasks/status?status=dead_lettered");
    expect((listed.json["tasks"] as Json[]).map((t) => t["id"])).toContain(id);
  });

  it("cancels a running task: its agent hears on the next poll, and its report is refused", async () => {
    const agentId = await agent("packer", ["pack"], 1);
    const leader = await cluster.leader();
    const submitted = await submit(leader, { requirements: { skills: ["pack"] } });
    const id = (submitted.json["task"] as Json)["id"] as string;
    await taskUntil(id, (t) => t["status"] === "assigned");
    await call(leader, "POST", "/tasks/poll", { agent_id: agentId });
    const cancelled = await call(await cluster.follower(), "DELETE", `/tasks/${id}`);
    expect(cancelled.status).toBe(200);
    expect((cancelled.json["task"] as Json)["status"]).toBe("cancelled");
    const polled = await call(leader, "POST", "/tasks/poll", {
      agent_id: agentId,
      running: [{ id, attempt: 1 }],
    });
    expect(polled.json["cancelled"]).toEqual([{ id, attempt: 1, reason: "cancelled" }]);
    const late = await call(leader, "POST", `/tasks/${id}/complete`, { agent_id: agentId, attempt: 1 });
    expect(late.status).toBe(409);
    const again = await call(leader, "DELETE", `/tasks/${id}`);
    expect(again.status).toBe(409);
    expect((again.json["error"] as Json)["code"]).toBe("task_finished");
  });

  it("moves a failed agent's tasks to another agent with the next attempt; the old attempt is refused", async () => {
    const silent = await agent("silent", ["deploy"], 4, false);
    const leader = await cluster.leader();
    // One attempt allowed: the silent agent never took it, so moving it does not use it up.
    const submitted = await submit(leader, { requirements: { skills: ["deploy"] }, max_attempts: 1 });
    const id = (submitted.json["task"] as Json)["id"] as string;
    expect((submitted.json["task"] as Json)["assigned_agent"]).toBe(silent);
    const live = await agent("deployer", ["deploy"], 4);
    const moved = await taskUntil(id, (t) => t["assigned_agent"] === live);
    expect(moved["attempt"]).toBe(2);
    expect(moved["previous_agents"]).toEqual([silent]);
    const stale = await call(leader, "POST", `/tasks/${id}/complete`, { agent_id: silent, attempt: 1 });
    expect(stale.status).toBe(409);
  });

  it("moves a deregistered agent's running task to another agent at once; the old attempt is refused", async () => {
    const leaving = await agent("leaving", ["migrate"], 2);
    const leader = await cluster.leader();
    const id = ((await submit(leader, { requirements: { skills: ["migrate"] } })).json["task"] as Json)[
      "id"
    ] as string;
    await taskUntil(id, (t) => t["assigned_agent"] === leaving);
    const polled = await call(leader, "POST", "/tasks/poll", { agent_id: leaving });
    expect((polled.json["tasks"] as Json[]).map((t) => t["id"])).toEqual([id]);
    const staying = await agent("staying", ["migrate"], 2);
    const gone = await call(await cluster.follower(), "DELETE", `/agents/${leaving}`);
    expect(gone.status).toBe(200);
    // Released on the leader's next tick, not after TASK_MIGRATION_TIMEOUT (the pickup bound).
    const moved = await taskUntil(id, (t) => t["assigned_agent"] === staying);
    expect(moved).toMatchObject({ status: "assigned", attempt: 2, previous_agents: [leaving] });
    const stale = await call(leader, "POST", `/tasks/${id}/complete`, { agent_id: leaving, attempt: 1 });
    expect(stale.status).toBe(409);
    expect(await task(id)).toMatchObject({ status: "assigned", attempt: 2, assigned_agent: staying });
  });

  it("renews leases with beats that list running attempts; an attempt left out lapses and runs again", async () => {
    let listed: { id: string; attempt: number }[] = [];
    const agentId = await agent("keeper", ["keep"], 2, true, () => listed);
    const leader = await cluster.leader();
    const kept = (await submit(leader, { requirements: { skills: ["keep"] } })).json["task"] as Json;
    const dropped = (await submit(leader, { requirements: { skills: ["keep"] } })).json["task"] as Json;
    await taskUntil(dropped["id"] as string, (t) => t["status"] === "assigned");
    const polled = await call(leader, "POST", "/tasks/poll", { agent_id: agentId, max_tasks: 2 });
    expect(polled.json["tasks"]).toHaveLength(2);
    listed = [{ id: kept["id"] as string, attempt: 1 }];
    // The attempt the beats leave out lapses after the failure timeout and is placed again.
    const again = await taskUntil(dropped["id"] as string, (t) => (t["attempt"] as number) >= 2);
    expect(again["error"]).toMatchObject({ message: expect.stringMatching(/lease lapsed/) as unknown });
    // The listed one has been running all along, under its first attempt.
    expect(await task(kept["id"] as string)).toMatchObject({ status: "running", attempt: 1 });
  });

  it("rebalances assigned work onto an agent that joined later; a dry run changes nothing", async () => {
    const first = await agent("spreader-1", ["spread"], 4);
    const leader = await cluster.leader();
    const ids = await submitIds(leader, 4, { requirements: { skills: ["spread"] } });
    for (const id of ids) expect((await task(id))["assigned_agent"]).toBe(first);
    const second = await agent("spreader-2", ["spread"], 4);
    const dry = await call(await cluster.follower(), "POST", "/tasks/rebalance", { dry_run: true });
    expect(dry.status).toBe(200);
    expect(dry.json["moves"]).toHaveLength(2);
    for (const id of ids) expect((await task(id))["assigned_agent"]).toBe(first);
    const real = await call(await cluster.follower(), "POST", "/tasks/rebalance", {});
    expect(real.json["moves"]).toHaveLength(2);
    const after = await Promise.all(ids.map((id) => task(id)));
    expect(after.filter((t) => t["assigned_agent"] === second).map((t) => t["attempt"])).toEqual([2, 2]);
    expect(after.filter((t) => t["assigned_agent"] === first)).toHaveLength(2);
    const bad = await call(leader, "POST", "/tasks/rebalance", { strategy: "fastest" });
    expect(bad.status).toBe(400);
  });

  it("answers 429 when a team's queue is full, and counts it in the metrics", async () => {
    const leader = await cluster.leader();
    for (let i = 0; i < 3; i++)
      expect((await submit(leader, { team: "flood", requirements: { skills: ["never"] } })).status).toBe(201);
    const full = await submit(leader, { team: "flood", requirements: { skills: ["never"] } });
    expect(full.status).toBe(429);
    expect((full.json["error"] as Json)["code"]).toBe("queue_full");
    const other = await submit(leader, { team: "calm", requirements: { skills: ["never"] } });
    expect(other.status).toBe(201);
    const metrics = await call(await cluster.follower(), "GET", "/tasks/metrics");
    expect(metrics.status).toBe(200);
    const queue = metrics.json["queue"] as Json;
    expect((queue["by_team"] as Json)["flood"]).toBe(3);
    expect(queue["oldest_task_id"]).toEqual(expect.any(String));
    expect((metrics.json["totals"] as Json)["assigned"]).toBeGreaterThan(0);
    expect((metrics.json["assignment_latency_ms"] as Json)["p99"]).toEqual(expect.any(Number));
    expect(metrics.json["completed_last_minute"]).toEqual(expect.any(Number));
    const prometheus = await (await fetch(`http://${leader.http}/metrics`)).text();
    expect(prometheus).toMatch(/juno_task_queue_depth\{[^}]*priority="5"[^}]*\} [1-9]/);
    expect(prometheus).toMatch(/juno_tasks_assigned_total\{[^}]*\} [1-9]/);
  });

  it("submits many tasks in one request: each answered on its own, the batch placed highest priority first", async () => {
    const agentId = await agent("bulk-taker", ["bulk-prio"], 1);
    const follower = await cluster.follower();
    const bulk = await call(follower, "POST", "/tasks/distribute/bulk", {
      tasks: [
        { team: "bulk-x", task_type: "t", priority: 1, requirements: { skills: ["bulk-prio"] } },
        { team: "bulk-y", task_type: "t", priority: 9, requirements: { skills: ["bulk-prio"] } },
        {
          team: "bulk-z",
          task_type: "t",
          priority: 5,
          idempotency_key: "k1",
          requirements: { skills: ["bulk-prio"] },
        },
        {
          team: "bulk-z",
          task_type: "t",
          priority: 5,
          idempotency_key: "k1",
          requirements: { skills: ["bulk-prio"] },
        },
      ],
    });
    expect(bulk.status).toBe(200);
    const results = bulk.json["results"] as Json[];
    expect(results.map((r) => [r["ok"], r["created"]])).toEqual([
      [true, true],
      [true, true],
      [true, true],
      [true, false],
    ]);
    const tasks = results.map((r) => r["task"] as Json);
    // The key named twice found the task its first use made.
    expect(tasks[3]!["id"]).toBe(tasks[2]!["id"]);
    // One slot, three tasks: the priority-9 one is placed although it came second.
    expect(tasks.slice(0, 3).map((t) => t["status"])).toEqual(["queued", "assigned", "queued"]);
    expect(tasks[1]!["assigned_agent"]).toBe(agentId);
    // The same bulk again makes nothing new where keys say so; each team's queue limit (3) holds per task.
    const again = await call(await cluster.leader(), "POST", "/tasks/distribute/bulk", {
      tasks: [
        { team: "bulk-z", task_type: "t", idempotency_key: "k1" },
        ...[1, 2, 3].map(() => ({ team: "bulk-full", task_type: "t", requirements: { skills: ["never"] } })),
        { team: "bulk-full", task_type: "t", requirements: { skills: ["never"] } },
      ],
    });
    expect(again.status).toBe(200);
    const answered = again.json["results"] as Json[];
    expect(answered[0]).toMatchObject({ ok: true, created: false, task: { id: tasks[2]!["id"] } });
    expect(answered.slice(1, 4).every((r) => r["ok"] === true && r["created"] === true)).toBe(true);
    expect(answered[4]).toMatchObject({ ok: false, error: { code: "queue_full" } });
    expect(answered[4]!["task"]).toBeUndefined();
  });

  it("the SDK submits many through any node; the same call again finds every task instead of making it twice", async () => {
    const juno = new JunoClient({
      urls: [...cluster.members.values()].map((member) => `http://${member.http}`),
    });
    const requests = Array.from({ length: 40 }, (_, i) => ({
      team: `bulk-sdk-${i % 20}`,
      task_type: "t",
      priority: i % 10,
      idempotency_key: `sdk-${i}`,
      data: { i },
      requirements: { skills: ["never"] },
    }));
    const first = await juno.tasks.submitMany(requests);
    expect(first.every((result) => result.ok && result.created && result.task.status === "queued")).toBe(
      true,
    );
    const again = await juno.tasks.submitMany(requests);
    expect(again.map((result) => (result.ok ? [result.created, result.task.id] : null))).toEqual(
      first.map((result) => (result.ok ? [false, result.task.id] : null)),
    );
    expect(new Set(first.map((result) => (result.ok ? result.task.id : null))).size).toBe(40);
  });

  it("refuses a bulk with one bad task whole, naming it, and changes nothing", async () => {
    const leader = await cluster.leader();
    const before = leader.node.view.state(tasksState).size;
    const good = { team: "bulk-bad", task_type: "t" };
    const bad: Json[] = [
      { tasks: [good, { ...good, priority: 10 }] },
      { tasks: [] },
      { tasks: Array.from({ length: 501 }, () => good) },
      { tasks: [good, { ...good, strategy: "consistent_hash" }] },
      { tasks: [good], extra: 1 },
    ];
    for (const body of bad) {
      const answer = await call(await cluster.follower(), "POST", "/tasks/distribute/bulk", body);
      expect(answer.status, JSON.stringify(body).slice(0, 100)).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
      expect((answer.json["error"] as Json)["code"]).toEqual(expect.any(String));
    }
    const unplaceable = await call(leader, "POST", "/tasks/distribute/bulk", bad[3]);
    expect(unplaceable.status).toBe(400);
    expect((unplaceable.json["error"] as Json)["message"]).toContain("tasks[1]");
    expect(leader.node.view.state(tasksState).size).toBe(before);
  });

  it("refuses bad input with its 4xx and changes nothing", async () => {
    const leader = await cluster.leader();
    const before = leader.node.view.state(tasksState).size;
    const bad: (Json | string)[] = [
      { task_type: "x", team: "web", priority: 10 },
      { task_type: "x", team: "web", surprise: true },
      { task_type: "x" },
      { task_type: "x", team: "web", strategy: "consistent_hash" },
      { task_type: "x", team: "web", data: "y".repeat(70_000) },
      '{"task_type":"x","team":"web","requirements":{"labels":{"__proto__":"x"}}}',
      '{"task_type":"x","team":"web","__proto__":{"priority":1}}',
    ];
    for (const body of bad) {
      const answer = await call(leader, "POST", "/tasks/distribute", body);
      expect(answer.status, JSON.stringify(body).slice(0, 100)).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
      expect((answer.json["error"] as Json)["code"]).toEqual(expect.any(String));
    }
    const stale = await fetch(`http://${leader.http}/api/v3/tasks/status?consistency=stale`);
    expect(stale.headers.get("x-juno-consistency")).toBe("stale");
    expect(Number(stale.headers.get("x-juno-applied-index"))).toBeGreaterThan(0);
    expect((await call(leader, "GET", "/tasks/constructor")).status).toBe(404);
    expect((await call(leader, "DELETE", "/tasks/__proto__")).status).toBe(404);
    expect((await call(leader, "POST", "/tasks/poll", { agent_id: "toString" })).status).toBe(404);
    expect(leader.node.view.state(tasksState).size).toBe(before);
  });

  it("refuses bad input on every task route, reports from the wrong agent, for the wrong attempt or a missing task among it, and changes nothing", async () => {
    const leader = await cluster.leader();
    const follower = await cluster.follower();
    const holder = await agent("bad-input-holder", ["bad-input"], 1);
    const other = await agent("bad-input-other", ["something-else"], 1);
    const submitted = await submit(follower, { requirements: { skills: ["bad-input"] } });
    const id = (submitted.json["task"] as Json)["id"] as string;
    await taskUntil(id, (t) => t["status"] === "assigned");
    const polled = await call(follower, "POST", "/tasks/poll", { agent_id: holder });
    expect((polled.json["tasks"] as Json[]).map((t) => t["id"])).toEqual([id]);
    const before = { size: leader.node.view.state(tasksState).size, task: await task(id) };
    const missing = "00000000-0000-4000-8000-00000000dead";
    const cases: [string, string, unknown, number, string][] = [
      // Reports that are not the current attempt's: 409, or 404 for a task that is not there.
      ["POST", `/tasks/${id}/fail`, { agent_id: other, attempt: 1, error: "x" }, 409, "stale_attempt"],
      ["POST", `/tasks/${id}/fail`, { agent_id: holder, attempt: 2, error: "x" }, 409, "stale_attempt"],
      ["POST", `/tasks/${missing}/fail`, { agent_id: holder, attempt: 1, error: "x" }, 404, "task_not_found"],
      ["POST", `/tasks/${id}/complete`, { agent_id: other, attempt: 1 }, 409, "stale_attempt"],
      ["POST", `/tasks/${missing}/complete`, { agent_id: holder, attempt: 1 }, 404, "task_not_found"],
      // Bodies that do not fit the schema: 400.
      ["POST", `/tasks/${id}/fail`, { agent_id: holder, attempt: 1 }, 400, "validation_failed"],
      [
        "POST",
        `/tasks/${id}/fail`,
        { agent_id: holder, attempt: 1, error: "x", retryable: "no" },
        400,
        "validation_failed",
      ],
      [
        "POST",
        `/tasks/${id}/fail`,
        { agent_id: holder, attempt: 1, error: "x", extra: 1 },
        400,
        "validation_failed",
      ],
      ["POST", `/tasks/${id}/complete`, { agent_id: holder, attempt: 0 }, 400, "validation_failed"],
      ["POST", `/tasks/${id}/complete`, { agent_id: holder, attempt: "1" }, 400, "validation_failed"],
      ["POST", `/tasks/${id}/complete`, { attempt: 1 }, 400, "validation_failed"],
      ["POST", `/tasks/${id}/complete`, "{not json", 400, "invalid_json"],
      ["POST", "/tasks/report", { agent_id: holder }, 400, "validation_failed"],
      [
        "POST",
        "/tasks/report",
        { agent_id: holder, completed: [{ id, attempt: 1 }], take: 101 },
        400,
        "validation_failed",
      ],
      [
        "POST",
        "/tasks/report",
        { agent_id: holder, completed: [{ id, attempt: 1 }], take: -1 },
        400,
        "validation_failed",
      ],
      [
        "POST",
        "/tasks/report",
        { agent_id: holder, completed: [{ id, attempt: 1 }], take: "all" },
        400,
        "validation_failed",
      ],
      [
        "POST",
        "/tasks/report",
        { agent_id: holder, completed: [{ id, attempt: 1 }], failed: [{ id, attempt: 1, error: "x" }] },
        400,
        "validation_failed",
      ],
      ["POST", "/tasks/poll", { agent_id: holder, wait_ms: 30_001 }, 400, "validation_failed"],
      ["POST", "/tasks/poll", { agent_id: holder, max_tasks: 101 }, 400, "validation_failed"],
      ["POST", "/tasks/poll", { agent_id: holder, running: "all" }, 400, "validation_failed"],
      ["POST", "/tasks/poll", { agent_id: missing }, 404, "agent_not_found"],
      ["POST", "/tasks/rebalance", { strategy: "random" }, 400, "validation_failed"],
      ["POST", "/tasks/rebalance", { dry_run: "yes" }, 400, "validation_failed"],
      ["GET", "/tasks/status?status=lost", undefined, 400, "validation_failed"],
      ["GET", "/tasks/status?limit=0", undefined, 400, "validation_failed"],
      ["GET", "/tasks/status?limit=501", undefined, 400, "validation_failed"],
      ["GET", "/tasks/status?cursor=nonsense", undefined, 400, "validation_failed"],
      ["GET", "/tasks/status?surprise=1", undefined, 400, "validation_failed"],
      ["GET", "/tasks/status?consistency=maybe", undefined, 400, "validation_failed"],
      ["GET", "/tasks/metrics?surprise=1", undefined, 400, "validation_failed"],
      ["GET", `/tasks/${missing}`, undefined, 404, "task_not_found"],
      ["DELETE", `/tasks/${missing}`, undefined, 404, "task_not_found"],
    ];
    for (const [method, path, body, status, code] of cases) {
      const answer = await call(follower, method, path, body);
      const label = `${method} ${path} ${JSON.stringify(body)}`;
      expect(answer.status, label).toBe(status);
      expect((answer.json["error"] as Json)["code"], label).toBe(code);
    }
    // Nothing changed: the same tasks, and this one still runs its first attempt on its agent.
    expect(leader.node.view.state(tasksState).size).toBe(before.size);
    expect(await task(id)).toMatchObject({ status: "running", attempt: 1, assigned_agent: holder });
    const done = await call(follower, "POST", `/tasks/${id}/complete`, { agent_id: holder, attempt: 1 });
    expect(done.status).toBe(200);
  });
});
