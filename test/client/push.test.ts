// Proves the Agent's push delivery against a fake juno, with real HTTP POSTs into its push
// listener: a push agent registers its delivery URL; a push is answered at once (before its
// handlers finish) and each task runs and is reported as a pulled one is; an attempt pushed again
// is acknowledged and not run twice; a push for another agent id is refused 409 wrong_agent, a
// body that is not a push 400 bad_request (413 when too large), one past the capacity 503
// over_capacity (whole), one before any handler 503 not_ready; a push that comes before the
// registration's answer waits for it; a beat's answer that cancels an attempt aborts its
// handler's signal (for a pull agent too); stop() refuses new pushes 503 draining while the
// running handler finishes and reports, then deregisters; listen() serves the listener (and
// /health) on a server of the agent's own and closes it after stop().

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  Agent,
  JunoClient,
  NonRetryableError,
  PUSH_BODY_BYTES_MAX,
  SIGNATURE_HEADER,
  TaskAbortedError,
  type AgentOptions,
  type TaskDelivery,
  type TaskEvent,
} from "../../src/client/index.js";
import { deliveryKey, signDelivery } from "../../src/faults/delivery-signature.js";
import { FakeCluster, refusingUrl } from "./fake-juno.js";

let cluster: FakeCluster;
const servers: Server[] = [];
const agents: Agent[] = [];

beforeEach(async () => {
  cluster = await FakeCluster.start(1);
  // The shortest interval the SDK follows: cancellations on beats arrive within 100 ms.
  cluster.registry.heartbeatIntervalMs = 100;
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.stop()));
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  await cluster.close();
});

function client(options: { fetch?: typeof fetch } = {}): JunoClient {
  return new JunoClient({ urls: cluster.urls, sleep: () => Promise.resolve(), ...options });
}

/** A server of the test's own on a free loopback port: the agent's endpoint, 404 but for what `mount` takes. */
async function userServer(): Promise<{ endpoint: string; mount: (agent: Agent) => void }> {
  let listener: ReturnType<Agent["pushListener"]> | null = null;
  const server = createServer((request, response) => {
    if (listener?.(request, response) === true) return;
    response.writeHead(404, { "content-type": "application/json" }).end('{"mine":true}');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, mount: (agent) => (listener = agent.pushListener()) };
}

let agentCount = 0;
/** A push agent mounted on a server of the test's own, stopped after the test. */
async function pushAgent(options: Partial<AgentOptions> = {}): Promise<{
  agent: Agent;
  events: TaskEvent[];
  errors: { code?: string; during: string }[];
}> {
  agentCount++;
  const { endpoint, mount } = await userServer();
  const agent = new Agent({
    client: client(),
    name: `pushed-${agentCount}`,
    endpoint,
    team: "build",
    skills: ["push"],
    capacity: 2,
    healthCheck: { type: "none" },
    delivery: "push",
    drainTimeoutMs: 5_000,
    ...options,
  });
  mount(agent);
  agents.push(agent);
  const events: TaskEvent[] = [];
  const errors: { code?: string; during: string }[] = [];
  agent.on("task", (event) => events.push(event));
  agent.on("error", ({ error, during }) => errors.push({ code: (error as { code?: string }).code, during }));
  return { agent, events, errors };
}

let taskCount = 0;
/** A delivery as juno's leader sends it. */
function delivery(fields: Partial<TaskDelivery> = {}): TaskDelivery {
  taskCount++;
  return {
    id: `00000000-0000-4000-8000-${String(taskCount).padStart(12, "0")}`,
    attempt: 1,
    task_type: "work",
    priority: 5,
    team: "web",
    data: { n: taskCount },
    timeout_ms: null,
    workflow_id: null,
    max_attempts: 3,
    ...fields,
  };
}

/** POSTs `body` (JSON unless a string) to the agent's delivery URL, as the leader does. */
async function push(agent: Agent, body: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(agent.deliveryUrl ?? "", {
    method: "POST",
    headers: { "content-type": "application/json", "x-juno-agent-id": agent.id ?? "" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

function pushTasks(agent: Agent, tasks: readonly TaskDelivery[]): Promise<{ status: number; json: unknown }> {
  return push(agent, { agent_id: agent.id, tasks });
}

/** Waits until `probe` gives a value, checking every 10 ms, or fails after 10 s naming `what`. */
async function eventually<T>(what: string, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function outcomes(events: readonly TaskEvent[], id: string): string[] {
  return events.filter((event) => event.id === id).map((event) => `${event.outcome}@${event.attempt}`);
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** A handler that waits for its signal and records why it aborted. */
function waitForSignal(agent: Agent): { started: Set<string>; reasons: Map<string, unknown> } {
  const started = new Set<string>();
  const reasons = new Map<string, unknown>();
  agent.handle("wait", (task, { signal }) => {
    started.add(task.id);
    return new Promise((_resolve, reject) =>
      signal.addEventListener("abort", () => {
        reasons.set(task.id, signal.reason);
        reject(signal.reason as Error);
      }),
    );
  });
  return { started, reasons };
}

describe("registration", () => {
  it("registers push delivery with the delivery URL spelt out, by default {endpoint}/juno/tasks", async () => {
    const { agent } = await pushAgent();
    const view = await agent.start();
    const endpoint = cluster.registry.agent(view?.id ?? "").view.endpoint;
    expect(agent.deliveryUrl).toBe(`${endpoint}/juno/tasks`);
    expect(view?.delivery).toEqual({ mode: "push", url: `${endpoint}/juno/tasks` });
    const register = cluster.node(0).requests.find((request) => request.path.endsWith("/agents/register"));
    expect((register?.body as { delivery?: unknown }).delivery).toEqual({
      mode: "push",
      url: `${endpoint}/juno/tasks`,
    });
  });

  it("sends no delivery for a pull agent, and refuses push options that cannot work", () => {
    const base = {
      client: client(),
      name: "n",
      endpoint: "http://127.0.0.1:9/",
      team: "t",
      skills: [],
      capacity: 1,
    };
    const pull = new Agent(base);
    expect(pull.deliveryUrl).toBeNull();
    expect(() => pull.pushListener()).toThrow(/delivery: "push"/);
    expect(new Agent({ ...base, delivery: "push" }).deliveryUrl).toBe("http://127.0.0.1:9/juno/tasks");
    expect(() => new Agent({ ...base, deliveryUrl: "http://127.0.0.1:9/in" })).toThrow(/push/);
    expect(() => new Agent({ ...base, delivery: "push", deliveryUrl: "ftp://x/in" })).toThrow(/http\(s\)/);
    const long = `http://127.0.0.1:9/${"x".repeat(2048)}`;
    expect(() => new Agent({ ...base, delivery: "push", deliveryUrl: long })).toThrow(/2048/);
  });
});

describe("taking pushes", () => {
  it("answers a push at once, then runs each task and reports it as a pulled one", async () => {
    const { agent, events } = await pushAgent();
    const release = gate();
    const contexts: { id: string; attempt: number; agentId: string; data: unknown }[] = [];
    agent.handle("work", async (task, context) => {
      contexts.push({
        id: context.id,
        attempt: context.attempt,
        agentId: context.agentId,
        data: context.data,
      });
      await release.promise;
      return { done: task.data };
    });
    agent.handle("broken", () => {
      throw new NonRetryableError("cannot");
    });
    await agent.start();
    const [first, second, bad] = [delivery(), delivery(), delivery({ task_type: "broken" })];
    // Both handlers are held, so the answer cannot have waited for them.
    expect(await pushTasks(agent, [first, second])).toEqual({ status: 200, json: { accepted: 2 } });
    expect(cluster.registry.reports).toEqual([]);
    release.open();
    await eventually("both completed", () =>
      events.filter((event) => event.outcome === "completed").length === 2 ? true : undefined,
    );
    for (const task of [first, second]) {
      expect(cluster.registry.reportsOf(task.id)).toEqual([
        {
          id: task.id,
          verb: "complete",
          body: { agent_id: agent.id, attempt: 1, result: { done: task.data } },
        },
      ]);
      expect(outcomes(events, task.id)).toEqual(["started@1", "completed@1"]);
    }
    expect(contexts.map((context) => context.agentId)).toEqual([agent.id, agent.id]);
    expect(await pushTasks(agent, [bad])).toEqual({ status: 200, json: { accepted: 1 } });
    await eventually("the failure reported", () =>
      outcomes(events, bad.id).includes("failed@1") ? true : undefined,
    );
    expect(cluster.registry.reportsOf(bad.id)[0]?.body).toEqual({
      agent_id: agent.id,
      attempt: 1,
      error: "cannot",
      retryable: false,
    });
    expect(agent.activeTasks).toBe(0);
  });

  it("acknowledges an attempt pushed again, running or ended, without running it twice", async () => {
    const { agent } = await pushAgent();
    const release = gate();
    const runs: string[] = [];
    agent.handle("work", async (task) => {
      runs.push(`${task.id}#${task.attempt}`);
      await release.promise;
      return "ok";
    });
    await agent.start();
    const task = delivery();
    expect((await pushTasks(agent, [task])).status).toBe(200);
    // A new leader re-sends what it cannot know was taken: while it runs, and in one push twice.
    expect(await pushTasks(agent, [task, task])).toEqual({ status: 200, json: { accepted: 2 } });
    release.open();
    await eventually("the report", () => (cluster.registry.reportsOf(task.id).length > 0 ? true : undefined));
    expect(await pushTasks(agent, [task])).toEqual({ status: 200, json: { accepted: 1 } });
    // The next attempt of the same task is another matter: it runs.
    const next = { ...task, attempt: 2 };
    expect((await pushTasks(agent, [next])).status).toBe(200);
    await eventually("the second report", () =>
      cluster.registry.reportsOf(task.id).length === 2 ? true : undefined,
    );
    expect(runs).toEqual([`${task.id}#1`, `${task.id}#2`]);
  });

  it("refuses a push for another agent id with 409 wrong_agent, and runs nothing", async () => {
    const { agent, errors } = await pushAgent();
    let runs = 0;
    agent.handle("work", () => runs++);
    await agent.start();
    const answer = await push(agent, {
      agent_id: "11111111-1111-4111-8111-111111111111",
      tasks: [delivery()],
    });
    expect(answer.status).toBe(409);
    expect(answer.json).toMatchObject({ error: { code: "wrong_agent" } });
    expect(errors).toContainEqual({ code: "wrong_agent", during: "push" });
    expect(runs).toBe(0);
  });

  it("with a delivery key, takes only pushes signed with it, recently, over these very bytes", async () => {
    const key = deliveryKey("fake-cluster-secret", "any");
    cluster.registry.deliveryKey = key;
    const { agent, errors } = await pushAgent();
    const ran: string[] = [];
    agent.handle("work", (task) => void ran.push(task.id));
    await agent.start();
    const task = delivery();
    const body = JSON.stringify({ agent_id: agent.id, tasks: [task] });
    const send = async (headers: Record<string, string>) => {
      const response = await fetch(agent.deliveryUrl ?? "", {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
      });
      return { status: response.status, json: await response.json() };
    };
    const unsigned = await send({});
    expect(unsigned.status).toBe(401);
    expect(unsigned.json).toMatchObject({ error: { code: "bad_signature" } });
    const forged = await send({
      [SIGNATURE_HEADER]: signDelivery(deliveryKey("guess", "any"), Date.now(), body),
    });
    expect(forged.status).toBe(401);
    const old = await send({ [SIGNATURE_HEADER]: signDelivery(key, Date.now() - 3_600_000, body) });
    expect(old.status).toBe(401);
    expect(ran).toEqual([]);
    expect(errors).toContainEqual({ code: "bad_signature", during: "push" });
    const signed = await send({ [SIGNATURE_HEADER]: signDelivery(key, Date.now(), body) });
    expect(signed.status).toBe(200);
    await eventually("the signed push ran", () => (ran.includes(task.id) ? true : undefined));
  });

  it("refuses a body that is not a push with 400 bad_request", async () => {
    const { agent } = await pushAgent();
    let runs = 0;
    agent.handle("work", () => runs++);
    await agent.start();
    const { timeout_ms: _timeout, ...untimed } = delivery();
    const bodies: unknown[] = [
      "{not json",
      [],
      { agent_id: agent.id },
      { agent_id: agent.id, tasks: {} },
      { agent_id: agent.id, tasks: [untimed] },
      { agent_id: agent.id, tasks: [delivery({ attempt: 0 })] },
      { agent_id: agent.id, tasks: [delivery(), { ...delivery(), data: undefined }] },
      { agent_id: agent.id, tasks: Array.from({ length: 101 }, () => delivery()) },
    ];
    for (const body of bodies) {
      const answer = await push(agent, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.json).toMatchObject({ error: { code: "bad_request" } });
    }
    const huge = await push(agent, " ".repeat(PUSH_BODY_BYTES_MAX + 1));
    expect(huge).toMatchObject({ status: 413, json: { error: { code: "payload_too_large" } } });
    expect(runs).toBe(0);
  });

  it("refuses a push whole with 503 over_capacity when taking it all would pass the capacity", async () => {
    const { agent } = await pushAgent({ capacity: 2 });
    const release = gate();
    const runs: string[] = [];
    agent.handle("work", async (task) => {
      runs.push(task.id);
      await release.promise;
    });
    await agent.start();
    const tasks = [delivery(), delivery(), delivery()];
    const refused = await pushTasks(agent, tasks);
    expect(refused.status).toBe(503);
    expect(refused.json).toMatchObject({ error: { code: "over_capacity" } });
    expect((await pushTasks(agent, tasks.slice(0, 2))).status).toBe(200);
    expect((await pushTasks(agent, tasks.slice(2))).status).toBe(503);
    // A repeat of what runs is no new work: it fits.
    expect((await pushTasks(agent, tasks.slice(0, 1))).status).toBe(200);
    release.open();
    await eventually("both reports", () => (cluster.registry.reports.length === 2 ? true : undefined));
    expect(runs).toEqual(tasks.slice(0, 2).map((task) => task.id));
  });

  it("answers 503 not_ready before a handler is registered, and leaves other requests to the server", async () => {
    const { agent } = await pushAgent();
    await agent.start();
    const answer = await pushTasks(agent, [delivery()]);
    expect(answer.status).toBe(503);
    expect(answer.json).toMatchObject({ error: { code: "not_ready" } });
    const other = await fetch(`${agent.deliveryUrl ?? ""}/elsewhere`, { method: "POST", body: "{}" });
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ mine: true });
    const get = await fetch(agent.deliveryUrl ?? "");
    expect(await get.json()).toEqual({ mine: true });
  });

  it("takes a push that comes before the registration's answer once the answer lands", async () => {
    const { endpoint, mount } = await userServer();
    const known = cluster.registry.add({ name: "early", team: "build", endpoint });
    let releaseRegistration = (): void => {};
    const held = new Promise<void>((resolve) => (releaseRegistration = resolve));
    const slowRegister: typeof fetch = async (input, init) => {
      if (String(input instanceof Request ? input.url : input).endsWith("/agents/register")) await held;
      return fetch(input, init);
    };
    const agent = new Agent({
      client: client({ fetch: slowRegister }),
      name: "early",
      endpoint,
      team: "build",
      skills: ["push"],
      capacity: 1,
      delivery: "push",
    });
    agents.push(agent);
    mount(agent);
    const ran = gate();
    agent.handle("work", () => ran.open());
    const started = agent.start();
    const answered = push(agent, { agent_id: known.id, tasks: [delivery()] });
    await new Promise((resolve) => setTimeout(resolve, 50));
    releaseRegistration();
    expect(await answered).toEqual({ status: 200, json: { accepted: 1 } });
    expect((await started)?.id).toBe(known.id);
    await ran.promise;
  });
});

describe("cancellation on the beat's answer", () => {
  it("aborts a pushed task's handler with kind cancelled, and reports nothing for it", async () => {
    const { agent, events } = await pushAgent();
    const { started, reasons } = waitForSignal(agent);
    await agent.start();
    const task = delivery({ task_type: "wait" });
    expect((await pushTasks(agent, [task])).status).toBe(200);
    await eventually("the handler started", () => (started.has(task.id) ? true : undefined));
    cluster.registry.revoke(task.id, 1, "cancelled");
    const reason = await eventually("the signal aborted", () => reasons.get(task.id));
    expect(reason).toBeInstanceOf(TaskAbortedError);
    expect(reason).toMatchObject({ kind: "cancelled", message: "cancelled" });
    await eventually("the attempt ended", () => (agent.activeTasks === 0 ? true : undefined));
    expect(outcomes(events, task.id)).toEqual(["started@1", "cancelled@1"]);
    expect(cluster.registry.reportsOf(task.id)).toEqual([]);
    // The beats go on, and list the attempt no more.
    const fake = cluster.registry.agent(agent.id ?? "");
    await eventually("a beat without it", () =>
      (fake.lastBeat?.["running"] as unknown[] | undefined)?.length === 0 ? true : undefined,
    );
  });

  it("aborts a pulled task's handler too, while its poll is held and says nothing", async () => {
    cluster.registry.cancelOnPoll = false;
    const agent = new Agent({
      client: client(),
      name: "puller",
      endpoint: "http://127.0.0.1:9/puller",
      team: "build",
      skills: ["pull"],
      capacity: 2,
      healthCheck: { type: "none" },
      pollWaitMs: 30_000,
      busyPollWaitMs: 30_000,
    });
    agents.push(agent);
    const { started, reasons } = waitForSignal(agent);
    const view = await agent.start();
    const task = delivery({ task_type: "wait" });
    cluster.registry.assign(view?.id ?? "", task);
    await eventually("the handler started", () => (started.has(task.id) ? true : undefined));
    cluster.registry.revoke(task.id, 1, "moved to another agent");
    const reason = await eventually("the signal aborted", () => reasons.get(task.id));
    expect(reason).toMatchObject({ kind: "cancelled", message: "moved to another agent" });
    expect(cluster.node(0).requests.filter((request) => request.path.endsWith("/tasks/poll")).length).toBe(2);
  });
});

describe("stopping", () => {
  it("refuses new pushes 503 draining, lets the running handler finish and report, then deregisters", async () => {
    const { agent, events } = await pushAgent({ capacity: 4 });
    const release = gate();
    const runs: string[] = [];
    agent.handle("work", async (task) => {
      runs.push(task.id);
      await release.promise;
      return "finished";
    });
    const view = await agent.start();
    const running = delivery();
    expect((await pushTasks(agent, [running])).status).toBe(200);
    await eventually("the handler started", () => (runs.length === 1 ? true : undefined));
    const stopped = agent.stop();
    const refused = await pushTasks(agent, [delivery()]);
    expect(refused.status).toBe(503);
    expect(refused.json).toMatchObject({ error: { code: "draining" } });
    release.open();
    expect(await stopped).toBe(true);
    expect(runs).toEqual([running.id]);
    expect(cluster.registry.reportsOf(running.id)).toMatchObject([
      { verb: "complete", body: { result: "finished" } },
    ]);
    expect(outcomes(events, running.id)).toEqual(["started@1", "completed@1"]);
    expect(cluster.registry.agents.has(view?.id ?? "")).toBe(false);
    // Still refused after the stop, for the id it had: the server may stay up; juno places elsewhere.
    const late = await push(agent, { agent_id: view?.id, tasks: [delivery()] });
    expect(late).toMatchObject({ status: 503, json: { error: { code: "draining" } } });
  });
});

describe("listen()", () => {
  it("serves the listener and /health on a server of its own, and closes it after stop()", async () => {
    const base = await refusingUrl();
    const port = Number(new URL(base).port);
    const agent = new Agent({
      client: client(),
      name: "listener",
      endpoint: `${base}/agents/listener/`,
      team: "build",
      skills: ["push"],
      capacity: 1,
      delivery: "push",
    });
    agents.push(agent);
    const ran = gate();
    agent.handle("work", () => ran.open());
    expect(await agent.listen({ port, host: "127.0.0.1" })).toBe(base);
    await expect(agent.listen({ port, host: "127.0.0.1" })).rejects.toThrow(/once/);
    await agent.start();
    expect(agent.deliveryUrl).toBe(`${base}/agents/listener/juno/tasks`);
    expect(await pushTasks(agent, [delivery()])).toEqual({ status: 200, json: { accepted: 1 } });
    await ran.promise;
    const health = await fetch(`${base}/agents/listener/health`);
    expect(health.status).toBe(200);
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
    expect(await agent.stop()).toBe(true);
    await expect(fetch(`${base}/agents/listener/health`)).rejects.toThrow();
  });
});
