// Proves the Agent helper against fake juno nodes with the clock in the test's hands: it
// registers (retrying until the cluster takes it, giving up only on a final refusal), beats
// every interval the server asks for, up to a tenth early, with its load; it keeps beating
// across a dead node and a leader change, registers again when the server no longer knows it,
// reports status changes, sends draining, and on stop deregisters within a bounded time and
// leaves no timer behind. A node that stalls costs a beat one short attempt timeout (the interval
// or a quarter of the lease), not an interval; a beat refused for now goes at once to the next
// node; and the beats stay on the node that answered them, whatever the client's other calls found.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  Agent,
  JunoApiError,
  JunoClient,
  type AgentEvents,
  type AgentOptions,
} from "../../src/client/index.js";
import { BEAT_ATTEMPTS_MAX, beatTimeoutMs } from "../../src/client/agent.js";
import { FakeCluster } from "./fake-juno.js";
import { ManualTimers } from "./manual-timers.js";

let cluster: FakeCluster;
let timers: ManualTimers;

beforeEach(async () => {
  cluster = await FakeCluster.start(2);
  timers = new ManualTimers();
});
afterEach(async () => {
  await cluster.close();
});

/** The beat delay at random() = 0.5: the 1000 ms interval, 5 % early. */
const BEAT_MS = 950;

/** A client on the fake cluster whose backoff waits are immediate and whose timeouts are on `timers`. */
function client(maxAttempts = 6): JunoClient {
  return new JunoClient({
    urls: cluster.urls,
    timers,
    random: () => 0.5,
    sleep: () => Promise.resolve(),
    retry: { maxAttempts },
  });
}

function agent(options: Partial<AgentOptions> = {}): Agent {
  return new Agent({
    client: client(),
    name: "summariser-1",
    endpoint: "http://10.0.0.5:9000",
    team: "search",
    skills: ["summarise"],
    capacity: 4,
    timers,
    random: () => 0.5,
    ...options,
  });
}

/** The next `event` the agent emits. */
function next<K extends keyof AgentEvents>(subject: Agent, event: K): Promise<AgentEvents[K]> {
  return new Promise((resolve) => {
    const listener = (payload: AgentEvents[K]): void => {
      subject.off(event, listener);
      resolve(payload);
    };
    subject.on(event, listener);
  });
}

/** Fires the next beat's timer (it must be pending, or come) and waits for its answer. */
async function beat(subject: Agent, delayMs = BEAT_MS): Promise<AgentEvents["heartbeat"]> {
  const timer = await timers.waitForTimer((candidate) => candidate.delayMs === delayMs);
  const answered = next(subject, "heartbeat");
  timers.fire(timer.id);
  return answered;
}

/** Requests to `path` suffix the fake nodes saw, node by node. */
function seen(suffix: string): number[] {
  return cluster.nodes.map((node) => node.requests.filter((request) => request.path.endsWith(suffix)).length);
}

describe("registering", () => {
  it("registers with the capabilities, labels, metadata and health check it was given", async () => {
    const subject = agent({
      weight: 2,
      labels: { zone: "eu" },
      metadata: { version: "1.4" },
      healthCheck: { type: "http", url: "http://10.0.0.5:9000/healthz", failuresBeforeCritical: 3 },
    });
    const registered = next(subject, "registered");
    const view = await subject.start();
    expect(view?.name).toBe("summariser-1");
    expect(await registered).toMatchObject({ created: true, heartbeatIntervalMs: 1_000, leaseMs: 3_000 });
    expect(subject.id).toBe(view?.id);
    expect(cluster.node(0).requests[0]?.body).toEqual({
      name: "summariser-1",
      endpoint: "http://10.0.0.5:9000",
      team: "search",
      capabilities: { skills: ["summarise"], capacity: 4, weight: 2, labels: { zone: "eu" } },
      metadata: { version: "1.4" },
      health_check: { type: "http", url: "http://10.0.0.5:9000/healthz", failures_before_critical: 3 },
    });
  });

  it("retries until the cluster takes the registration, with backoff on the injected timers", async () => {
    for (const node of cluster.nodes) node.behavior = { kind: "refuse", status: 503, code: "no_leader" };
    const subject = agent({ client: client(1) });
    const failed = next(subject, "error");
    const started = subject.start();
    expect(await failed).toMatchObject({ during: "register", error: { code: "no_leader" } });
    // The first backoff: half (random 0.5) of the 500 ms initial cap.
    const backoff = await timers.waitForTimer((timer) => timer.delayMs === 250);
    for (const node of cluster.nodes) node.behavior = { kind: "serve" };
    timers.fire(backoff.id);
    expect((await started)?.id).toBe(subject.id);
  });

  it("gives up on a refusal retrying cannot fix, and leaves no timer", async () => {
    cluster.node(0).when((request) => request.path.endsWith("/register"), {
      kind: "refuse",
      status: 400,
      code: "invalid_request",
    });
    const subject = agent();
    await expect(subject.start()).rejects.toMatchObject({ status: 400, code: "invalid_request" });
    expect(timers.pending()).toEqual([]);
    expect(await subject.stop()).toBe(false);
  });

  it("refuses options no server would take", () => {
    expect(() => agent({ capacity: 0 })).toThrow(RangeError);
    expect(() => agent({ endpoint: "10.0.0.5:9000" })).toThrow(TypeError);
    expect(() => agent({ name: "" })).toThrow(TypeError);
    expect(() => agent({ urls: cluster.urls })).toThrow(TypeError);
    expect(() => agent({ client: undefined })).toThrow(TypeError);
    expect(() => agent({ jitterRatio: 0.9 })).toThrow(RangeError);
  });

  it("makes its own client from urls and a token", async () => {
    cluster.registry.token = "agent-token";
    const subject = agent({ client: undefined, urls: cluster.urls, token: "agent-token" });
    expect(await subject.start()).not.toBeNull();
    expect(cluster.node(0).requests[0]?.authorization).toBe("Bearer agent-token");
  });
});

describe("heartbeats", () => {
  it("beat every interval, up to a tenth early, with the load the agent reports", async () => {
    const subject = agent({ load: () => ({ activeTasks: 2, gauges: { cpu: 0.5 } }) });
    const view = await subject.start();
    const id = view?.id ?? "";
    expect((await beat(subject)).id).toBe(id);
    expect(cluster.registry.agent(id).lastBeat).toEqual({
      active_tasks: 2,
      gauges: { cpu: 0.5 },
      draining: false,
    });
    const second = await timers.waitForTimer((timer) => timer.delayMs === BEAT_MS);
    expect(second.atMs).toBe(2 * BEAT_MS);
    await beat(subject);
    expect(cluster.registry.agent(id).beats).toBe(2);
  });

  it("keep within [0.9, 1] of the interval whatever the jitter draws", async () => {
    const draws = [0, 0.999_999];
    const subject = agent({ random: () => draws.shift() ?? 0.5 });
    await subject.start();
    await beat(subject, 1_000);
    await beat(subject, 900);
  });

  it("follow the interval the server asks for", async () => {
    const subject = agent();
    await subject.start();
    cluster.registry.heartbeatIntervalMs = 2_000;
    expect((await beat(subject)).heartbeat_interval_ms).toBe(2_000);
    expect(subject.heartbeatIntervalMs).toBe(2_000);
    await beat(subject, 1_900);
  });

  it("report the status when the server's answer changes it", async () => {
    const subject = agent();
    const first = next(subject, "status");
    const view = await subject.start();
    const id = view?.id ?? "";
    expect(await first).toEqual({ id, previous: null, status: "healthy" });
    cluster.registry.setStatus(id, "degraded");
    const changed = next(subject, "status");
    await beat(subject);
    expect(await changed).toEqual({ id, previous: "healthy", status: "degraded" });
    expect(subject.status).toBe("degraded");
  });

  it("go on through another node when the preferred one dies", async () => {
    const subject = agent();
    await subject.start();
    await cluster.node(0).close();
    await beat(subject);
    expect(seen("/heartbeat")).toEqual([0, 1]);
  });

  it("go on through a leader change (503 no_leader) without a missed beat", async () => {
    const subject = agent();
    await subject.start();
    cluster.node(0).when(
      (request) => request.path.endsWith("/heartbeat"),
      {
        kind: "refuse",
        status: 503,
        code: "no_leader",
      },
      1,
    );
    await beat(subject);
    expect(seen("/heartbeat")).toEqual([1, 1]);
  });

  it("register again when the server answers 404 agent_not_found", async () => {
    const subject = agent();
    const view = await subject.start();
    const oldId = view?.id ?? "";
    cluster.registry.agents.delete(oldId);
    const failed = next(subject, "error");
    const registered = next(subject, "registered");
    const timer = await timers.waitForTimer((candidate) => candidate.delayMs === BEAT_MS);
    timers.fire(timer.id);
    expect(await failed).toMatchObject({
      during: "heartbeat",
      error: { status: 404, code: "agent_not_found" },
    });
    const again = await registered;
    expect(again.created).toBe(true);
    expect(again.agent.id).not.toBe(oldId);
    expect((await beat(subject)).id).toBe(again.agent.id);
  });

  it("go without the load when load() throws, and say so", async () => {
    const subject = agent({
      load: () => {
        throw new Error("no gauges today");
      },
    });
    const view = await subject.start();
    const failed = next(subject, "error");
    await beat(subject);
    expect(await failed).toMatchObject({ during: "load" });
    expect(cluster.registry.agent(view?.id ?? "").lastBeat).toEqual({ draining: false });
  });

  it("carry draining: true at once after drain(), and on every beat after", async () => {
    const subject = agent();
    const view = await subject.start();
    const id = view?.id ?? "";
    const answered = next(subject, "heartbeat");
    subject.drain();
    await answered;
    expect(subject.draining).toBe(true);
    expect(cluster.registry.agent(id).lastBeat).toEqual({ draining: true });
    expect(cluster.registry.agent(id).view.draining).toBe(true);
    await beat(subject);
    expect(cluster.registry.agent(id).lastBeat).toEqual({ draining: true });
    expect(cluster.registry.agent(id).beats).toBe(2);
  });
});

/** Waits (in real time, up to 5 s) until the nodes have seen `counts` beats, node by node. */
async function heard(counts: readonly number[]): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (JSON.stringify(seen("/heartbeat")) !== JSON.stringify(counts)) {
    if (Date.now() > deadline) throw new Error(`the nodes saw ${JSON.stringify(seen("/heartbeat"))} beats`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("a node that stalls (issue 8)", () => {
  /** The beats' per-attempt timeout with the fake's 1000 ms interval and 3000 ms lease: a quarter of the lease. */
  const ATTEMPT_MS = 750;

  it("times a beat's attempt out after the interval or a quarter of the lease, whichever is shorter", () => {
    // juno's defaults: a 1 s interval, a 15 s lease.
    expect(beatTimeoutMs({ intervalMs: 1_000, leaseMs: 15_000 })).toBe(1_000);
    expect(beatTimeoutMs({ intervalMs: 10_000, leaseMs: 15_000 })).toBe(3_750);
    expect(beatTimeoutMs({ intervalMs: 1_000, leaseMs: 3_000 })).toBe(ATTEMPT_MS);
    expect(beatTimeoutMs({ intervalMs: 100, leaseMs: 1_000 })).toBe(250);
    expect(beatTimeoutMs({ intervalMs: 600_000, leaseMs: null })).toBe(10_000);
  });

  it("costs a beat one attempt's timeout, not an interval, and the beats stay on the node that answered", async () => {
    const subject = agent();
    await subject.start();
    cluster.node(0).when((request) => request.path.endsWith("/heartbeat"), { kind: "hang" });
    const due = await timers.waitForTimer((timer) => timer.delayMs === BEAT_MS);
    const answered = next(subject, "heartbeat");
    timers.fire(due.id);
    const timeout = await timers.waitForTimer((timer) => timer.delayMs === ATTEMPT_MS);
    await heard([1, 0]);
    timers.fire(timeout.id);
    await answered;
    // Landed on node 1 one attempt's timeout after it was due: well within one interval.
    expect(timers.nowMs - due.atMs).toBe(ATTEMPT_MS);
    expect(seen("/heartbeat")).toEqual([1, 1]);
    // The client's other calls find node 0 again (node 1 refuses this one)...
    cluster
      .node(1)
      .when(
        (request) => request.path.endsWith("/consensus/status"),
        { kind: "refuse", status: 503, code: "no_leader" },
        1,
      );
    await subject.client.status();
    expect(subject.client.preferredUrl).toBe(cluster.node(0).url);
    // ...but the beats stay where they were answered, and are on time again.
    const again = await timers.waitForTimer((timer) => timer.delayMs === BEAT_MS);
    expect(again.atMs).toBe(timers.nowMs + BEAT_MS);
    await beat(subject);
    await beat(subject);
    expect(seen("/heartbeat")).toEqual([1, 3]);
  });

  it("sends a beat refused for now (503 no_leader) to the next node at once, not after its Retry-After", async () => {
    // Backoff on the test's clock, so the wait between the attempts shows.
    const subject = agent({
      client: new JunoClient({ urls: cluster.urls, timers, random: () => 0.5 }),
    });
    await subject.start();
    cluster
      .node(0)
      .when(
        (request) => request.path.endsWith("/heartbeat"),
        { kind: "refuse", status: 503, code: "no_leader", retryAfter: "5" },
        1,
      );
    const due = await timers.waitForTimer((timer) => timer.delayMs === BEAT_MS);
    const answered = next(subject, "heartbeat");
    timers.fire(due.id);
    // Half (random 0.5) of the beat's first 100 ms backoff; the 5 s Retry-After is for node 0 alone.
    const backoff = await timers.waitForTimer((timer) => timer.delayMs === 50);
    expect(timers.pending().some((timer) => timer.delayMs >= 1_000 && timer.delayMs !== BEAT_MS)).toBe(false);
    timers.fire(backoff.id);
    await answered;
    expect(seen("/heartbeat")).toEqual([1, 1]);
  });

  it(`gives a beat up after ${BEAT_ATTEMPTS_MAX} attempts on the nodes in turn, and beats again at the next interval`, async () => {
    const subject = agent();
    await subject.start();
    // Node 0 stalls the first and third attempts, node 1 the second: then both answer again.
    cluster.node(0).when((request) => request.path.endsWith("/heartbeat"), { kind: "hang" }, 2);
    cluster.node(1).when((request) => request.path.endsWith("/heartbeat"), { kind: "hang" }, 1);
    const failed = next(subject, "error");
    const due = await timers.waitForTimer((timer) => timer.delayMs === BEAT_MS);
    timers.fire(due.id);
    for (const expected of [
      [1, 0],
      [1, 1],
      [2, 1],
    ]) {
      const timeout = await timers.waitForTimer((timer) => timer.delayMs === ATTEMPT_MS);
      await heard(expected);
      timers.fire(timeout.id);
    }
    expect(await failed).toMatchObject({ during: "heartbeat", error: { code: "timeout" } });
    expect(seen("/heartbeat")).toEqual([2, 1]);
    // The next beat starts after the node the last attempt tried, and lands.
    await beat(subject);
    expect(seen("/heartbeat")).toEqual([2, 2]);
  });
});

describe("stopping", () => {
  it("deregisters, stops beating and leaves no timer", async () => {
    const subject = agent();
    const view = await subject.start();
    await beat(subject);
    expect(await subject.stop()).toBe(true);
    expect(cluster.registry.agents.has(view?.id ?? "")).toBe(false);
    expect(seen(`/${view?.id ?? ""}`)).toEqual([1, 0]);
    expect(timers.pending()).toEqual([]);
    timers.advance(60_000);
    expect(seen("/heartbeat")).toEqual([1, 0]);
    expect(subject.stop()).toBe(subject.stop());
  });

  it("gives up deregistering after stopTimeoutMs and says so", async () => {
    const subject = agent({ stopTimeoutMs: 2_000 });
    await subject.start();
    for (const node of cluster.nodes) node.when((request) => request.method === "DELETE", { kind: "hang" });
    const failed = next(subject, "error");
    const stopped = subject.stop();
    await cluster.node(0).nextRequest();
    const limit = await timers.waitForTimer((timer) => timer.delayMs === 2_000);
    timers.fire(limit.id);
    expect(await stopped).toBe(false);
    const { error, during } = await failed;
    expect(during).toBe("deregister");
    expect(error).toBeInstanceOf(JunoApiError);
    expect((error as JunoApiError).code).toBe("timeout");
    expect(timers.pending()).toEqual([]);
  });

  it("counts a 404 on DELETE as deregistered", async () => {
    const subject = agent();
    const view = await subject.start();
    cluster.registry.agents.delete(view?.id ?? "");
    expect(await subject.stop()).toBe(true);
  });

  it("before the registration landed: start resolves null and nothing is deleted", async () => {
    for (const node of cluster.nodes) node.behavior = { kind: "hang" };
    const subject = agent();
    const arrived = cluster.node(0).nextRequest();
    const started = subject.start();
    await arrived;
    expect(await subject.stop()).toBe(false);
    expect(await started).toBeNull();
    expect(cluster.nodes.flatMap((node) => node.requests).map((request) => request.method)).toEqual(["POST"]);
    expect(timers.pending()).toEqual([]);
  });
});
