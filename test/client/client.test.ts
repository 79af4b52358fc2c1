// Proves JunoClient against fake juno nodes on free ports: it fails over from a closed node, a
// node refusing with 503 + Retry-After and a node that hangs, with backoff inside its bounds; it
// sticks to the node that answered; it never repeats a request that is not safe to repeat once
// it may have been applied (outcome_unknown reaches the caller); errors arrive as JunoApiError
// with the server's code and details; and every typed method of the agents API round-trips.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JunoApiError, JunoClient, type JunoClientOptions } from "../../src/client/index.js";
import { FakeCluster, refusingUrl } from "./fake-juno.js";
import { ManualTimers } from "./manual-timers.js";

let cluster: FakeCluster;
let sleeps: number[];

beforeEach(async () => {
  cluster = await FakeCluster.start(3);
  sleeps = [];
});
afterEach(async () => {
  await cluster.close();
});

/** A client whose waits are recorded instead of slept, and whose jitter draws the top of its range. */
function client(options: Partial<JunoClientOptions> = {}): JunoClient {
  return new JunoClient({
    urls: cluster.urls,
    random: () => 0.999_999,
    sleep: (delayMs) => {
      sleeps.push(delayMs);
      return Promise.resolve();
    },
    ...options,
  });
}

/** The error `promise` rejects with; fails the test when it resolves. */
async function failure(promise: Promise<unknown>): Promise<JunoApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(JunoApiError);
    return error as JunoApiError;
  }
  throw new Error("expected the call to fail");
}

const registration = {
  name: "summariser-1",
  endpoint: "http://10.0.0.5:9000",
  team: "search",
  capabilities: { skills: ["summarise"], capacity: 4, labels: { zone: "eu" } },
};

describe("failover", () => {
  it("moves past a closed node to one that answers, then keeps sending there", async () => {
    const closed = await refusingUrl();
    const juno = client({ urls: [closed, cluster.node(1).url] });
    expect((await juno.status()).node_id).toBe("n1");
    expect(juno.preferredUrl).toBe(cluster.node(1).url);
    await juno.status();
    expect(cluster.node(1).requests).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
  });

  it("moves on from a 503 no_leader and waits at least its Retry-After", async () => {
    cluster.node(0).behavior = { kind: "refuse", status: 503, code: "no_leader", retryAfter: "2" };
    const juno = client();
    await juno.status();
    expect(cluster.node(0).requests).toHaveLength(1);
    expect(cluster.node(1).requests).toHaveLength(1);
    expect(sleeps).toEqual([2_000]);
  });

  it("cuts a long Retry-After to retryAfterMaxMs", async () => {
    cluster.node(0).behavior = { kind: "refuse", status: 503, code: "overloaded", retryAfter: "3600" };
    await client({ retry: { retryAfterMaxMs: 4_000 } }).status();
    expect(sleeps).toEqual([4_000]);
  });

  it("goes round the nodes with capped exponential backoff and stops at maxAttempts", async () => {
    for (const node of cluster.nodes)
      node.behavior = { kind: "refuse", status: 503, code: "no_leader", retryAfter: null };
    const juno = client({ retry: { maxAttempts: 5, initialMs: 100, maxMs: 300 } });
    const error = await failure(juno.status());
    expect(error.status).toBe(503);
    expect(error.code).toBe("no_leader");
    expect(sleeps).toEqual([99, 199, 299, 299]);
    expect(error.attempts.map((attempt) => attempt.url)).toEqual([
      cluster.node(0).url,
      cluster.node(1).url,
      cluster.node(2).url,
      cluster.node(0).url,
      cluster.node(1).url,
    ]);
    expect(cluster.nodes.map((node) => node.requests.length)).toEqual([2, 2, 1]);
  });

  it("retries gateway errors without juno's error shape for requests safe to repeat", async () => {
    cluster.node(0).behavior = { kind: "raw", status: 502, body: "<html>bad gateway</html>" };
    cluster.node(1).behavior = { kind: "raw", status: 504, body: "" };
    expect((await client().status()).term).toBe(3);
    expect(cluster.node(2).requests).toHaveLength(1);
  });

  it("gives up with unreachable, status 0, when no node can be reached", async () => {
    const urls = [await refusingUrl(), await refusingUrl()];
    const error = await failure(client({ urls, retry: { maxAttempts: 3 } }).status());
    expect(error.status).toBe(0);
    expect(error.code).toBe("unreachable");
    expect(error.attempts).toHaveLength(3);
  });

  it("fails over from a node that hangs once the per-attempt timeout fires", async () => {
    const timers = new ManualTimers();
    cluster.node(0).behavior = { kind: "hang" };
    const juno = client({ timers, timeoutMs: 2_000 });
    const arrived = cluster.node(0).nextRequest();
    const status = juno.status();
    await arrived;
    const timeout = await timers.waitForTimer((timer) => timer.delayMs === 2_000);
    timers.fire(timeout.id);
    expect((await status).node_id).toBe("n1");
    expect(cluster.node(1).requests).toHaveLength(1);
  });

  it("says timeout when every attempt timed out", async () => {
    const timers = new ManualTimers();
    cluster.node(0).behavior = { kind: "hang" };
    const juno = client({ urls: [cluster.node(0).url], timers, timeoutMs: 500, retry: { maxAttempts: 1 } });
    const arrived = cluster.node(0).nextRequest();
    const status = failure(juno.status());
    await arrived;
    timers.advance(500);
    const error = await status;
    expect(error.code).toBe("timeout");
    expect(error.status).toBe(0);
  });

  it("stops when the caller aborts, with code aborted", async () => {
    cluster.node(0).behavior = { kind: "hang" };
    const controller = new AbortController();
    const arrived = cluster.node(0).nextRequest();
    const status = failure(client().status({ signal: controller.signal }));
    await arrived;
    controller.abort();
    expect((await status).code).toBe("aborted");
    expect(cluster.node(1).requests).toHaveLength(0);
  });
});

describe("requests that are not safe to repeat", () => {
  const echo = { method: "POST", path: "/api/v3/echo", body: { n: 1 } } as const;

  it("surface the server's outcome_unknown and are not sent again", async () => {
    cluster.node(0).behavior = { kind: "refuse", status: 503, code: "outcome_unknown" };
    const error = await failure(client().request(echo));
    expect(error.status).toBe(503);
    expect(error.code).toBe("outcome_unknown");
    expect(cluster.node(1).requests).toHaveLength(0);
  });

  it("turn a 504, a 502 page or a stopping node into outcome_unknown", async () => {
    for (const behavior of [
      { kind: "refuse", status: 504, code: "timeout" },
      { kind: "raw", status: 502, body: "<html></html>" },
      { kind: "refuse", status: 503, code: "shutting_down" },
    ] as const) {
      cluster.node(0).behavior = behavior;
      const error = await failure(client().request(echo));
      expect(error.code, behavior.kind).toBe("outcome_unknown");
      expect(error.status).toBe(behavior.status);
    }
    expect(cluster.node(1).requests).toHaveLength(0);
  });

  it("turn a timeout after the request arrived into outcome_unknown, status 0", async () => {
    const timers = new ManualTimers();
    cluster.node(0).behavior = { kind: "hang" };
    const arrived = cluster.node(0).nextRequest();
    const sent = failure(client({ timers, timeoutMs: 1_000 }).request(echo));
    await arrived;
    timers.advance(1_000);
    const error = await sent;
    expect(error.code).toBe("outcome_unknown");
    expect(error.status).toBe(0);
    expect(error.details["cause"]).toBe("timeout");
    expect(cluster.node(1).requests).toHaveLength(0);
  });

  it("are retried after refusals that prove they were not applied, and after a refused connection", async () => {
    cluster.node(0).behavior = { kind: "refuse", status: 503, code: "no_leader" };
    cluster.node(1).behavior = { kind: "refuse", status: 429, code: "uncommitted_limit" };
    const answer = await client().request(echo);
    expect(answer).toMatchObject({ status: 201, body: { echoed: { n: 1 } }, url: cluster.node(2).url });

    const closed = await refusingUrl();
    const again = await client({ urls: [closed, cluster.node(2).url] }).request(echo);
    expect(again.status).toBe(201);
  });

  it("are retried when the API marks them safe: register rides over outcome_unknown", async () => {
    cluster.node(0).behavior = { kind: "refuse", status: 503, code: "outcome_unknown" };
    const registered = await client().registerAgent(registration);
    expect(registered.created).toBe(true);
    expect(cluster.node(1).requests).toHaveLength(1);
  });
});

describe("errors", () => {
  it("carry the server's status, code and details, and are not retried", async () => {
    const error = await failure(
      client().registerAgent({ ...registration, capabilities: { skills: [], capacity: 0 } }),
    );
    expect(error).toMatchObject({ status: 400, code: "invalid_request" });
    expect(error.details).toEqual({ field: "capabilities.capacity" });
    expect(cluster.nodes.map((node) => node.requests.length)).toEqual([1, 0, 0]);
  });

  it("send the bearer token, and map a refused one to 401 unauthorized", async () => {
    cluster.registry.token = "s3cret-token";
    await client({ token: "s3cret-token" }).status();
    expect(cluster.node(0).requests[0]?.authorization).toBe("Bearer s3cret-token");
    const error = await failure(client({ token: "wrong" }).status());
    expect(error).toMatchObject({ status: 401, code: "unauthorized" });
    expect(sleeps).toEqual([]);
  });

  it("say unexpected_response for an error status without juno's shape", async () => {
    cluster.node(0).behavior = { kind: "raw", status: 404, body: "<html>not here</html>" };
    const error = await failure(client().status());
    expect(error).toMatchObject({ status: 404, code: "unexpected_response" });
  });

  it("say invalid_response for a success that is not JSON, not the promised shape, or too large", async () => {
    cluster.node(0).behavior = { kind: "raw", status: 200, body: "<html>ok</html>" };
    expect((await failure(client().status())).code).toBe("invalid_response");
    cluster.node(0).when((request) => request.path.endsWith("/heartbeat"), {
      kind: "raw",
      status: 200,
      body: JSON.stringify({ id: "x", status: "sleepy", heartbeat_interval_ms: 1 }),
    });
    expect((await failure(client().heartbeat("x"))).code).toBe("invalid_response");
    cluster.node(0).behavior = { kind: "serve" };
    for (let i = 0; i < 20; i++) cluster.registry.add({ name: `agent-${i}`, team: "search" });
    expect((await failure(client({ responseBytesMax: 1_000 }).listAgents())).code).toBe("invalid_response");
  });

  it("refuse options out of bounds when constructed", () => {
    expect(() => new JunoClient({ urls: [] })).toThrow(RangeError);
    expect(() => new JunoClient({ urls: ["ftp://x"] })).toThrow(RangeError);
    expect(() => new JunoClient({ urls: ["http://x?y=1"] })).toThrow(RangeError);
    expect(() => new JunoClient({ urls: ["http://x"], token: "has space" })).toThrow(RangeError);
    expect(() => new JunoClient({ urls: ["http://x"], timeoutMs: 0 })).toThrow(RangeError);
    expect(() => new JunoClient({ urls: ["http://x"], retry: { maxAttempts: 0 } })).toThrow(RangeError);
    expect(() => new JunoClient({ urls: Array.from({ length: 65 }, (_, i) => `http://n${i}`) })).toThrow(
      RangeError,
    );
  });
});

describe("the agents API", () => {
  it("registers (201, created) and finds the same agent by name and endpoint (200, same id)", async () => {
    const juno = client();
    const first = await juno.registerAgent(registration);
    expect(first.created).toBe(true);
    expect(first.heartbeat_interval_ms).toBe(1_000);
    expect(first.lease_ms).toBe(3_000);
    const again = await juno.registerAgent({
      ...registration,
      capabilities: { skills: ["summarise", "translate"], capacity: 8 },
    });
    expect(again.created).toBe(false);
    expect(again.agent.id).toBe(first.agent.id);
    expect(again.agent.capabilities.capacity).toBe(8);
  });

  it("beats, reads, checks health, resolves and deregisters", async () => {
    const juno = client();
    const { agent } = await juno.registerAgent(registration);
    const beat = await juno.heartbeat(agent.id, { active_tasks: 2, gauges: { cpu: 0.4 }, draining: false });
    expect(beat).toMatchObject({ id: agent.id, status: "healthy", heartbeat_interval_ms: 1_000 });
    expect(cluster.registry.agent(agent.id).lastBeat).toEqual({
      active_tasks: 2,
      gauges: { cpu: 0.4 },
      draining: false,
    });
    expect((await juno.getAgent(agent.id)).last_heartbeat).not.toBeNull();
    expect((await juno.agentHealth(agent.id)).checks).toHaveLength(1);
    expect(await juno.agentsHealth()).toEqual({
      total: 1,
      by_status: { healthy: 1 },
      by_team: { search: { healthy: 1 } },
    });
    const resolved = await juno.resolveAgents({
      skill: "summarise",
      label: { key: "zone", value: "eu" },
      include_degraded: true,
    });
    expect(cluster.node(0).requests.at(-1)?.query.get("include_degraded")).toBe("true");
    expect(resolved.map((candidate) => candidate.id)).toEqual([agent.id]);
    expect((await juno.deregisterAgent(agent.id)).status).toBe("deregistered");
    const gone = await failure(juno.getAgent(agent.id));
    expect(gone).toMatchObject({ status: 404, code: "agent_not_found" });
    expect((await failure(juno.heartbeat(agent.id))).code).toBe("agent_not_found");
  });

  it("sends list filters as query parameters, the label as key=value", async () => {
    const juno = client();
    await juno.listAgents({
      team: "search",
      skill: "summarise",
      status: "healthy",
      label: { key: "zone", value: "eu=west" },
      limit: 5,
    });
    const query = cluster.node(0).requests[0]?.query;
    expect(query?.get("team")).toBe("search");
    expect(query?.get("skill")).toBe("summarise");
    expect(query?.get("status")).toBe("healthy");
    expect(query?.get("limit")).toBe("5");
    expect(query?.getAll("label")).toEqual(["zone=eu=west"]);
  });

  it("follows the cursor to the last page, up to pagesMax", async () => {
    cluster.registry.pageSize = 2;
    for (let i = 0; i < 5; i++)
      cluster.registry.add({ name: `agent-${i}`, team: i % 2 === 0 ? "search" : "ads" });
    const juno = client();
    const all = await juno.listAllAgents();
    expect(all.truncated).toBe(false);
    expect(all.agents.map((agent) => agent.name)).toEqual([
      "agent-0",
      "agent-1",
      "agent-2",
      "agent-3",
      "agent-4",
    ]);
    expect(cluster.node(0).requests.map((request) => request.query.get("cursor"))).toEqual([null, "2", "4"]);
    const cut = await juno.listAllAgents({}, { pagesMax: 2 });
    expect(cut).toMatchObject({ truncated: true });
    expect(cut.agents).toHaveLength(4);
    expect((await juno.listAllAgents({ team: "search" })).agents).toHaveLength(3);
  });

  it("refuses a server that hands back a cursor twice", async () => {
    cluster.node(0).behavior = {
      kind: "raw",
      status: 200,
      body: JSON.stringify({ agents: [], next_cursor: "same" }),
    };
    expect((await failure(client().listAllAgents())).code).toBe("invalid_response");
  });
});

describe("per-call node preference and retry policy", () => {
  it("start a call at its own preferred node, write back the one that answered, and leave the shared one alone", async () => {
    const juno = client();
    const own = { url: cluster.node(2).url };
    await juno.status({ prefer: own });
    expect(cluster.node(2).requests).toHaveLength(1);
    expect(juno.preferredUrl).toBe(cluster.node(0).url);
    cluster.node(2).behavior = { kind: "refuse", status: 503, code: "no_leader" };
    await juno.status({ prefer: own });
    expect(own.url).toBe(cluster.node(0).url);
    // A preference naming no node of the client starts at the shared one.
    await juno.status({ prefer: { url: "http://elsewhere.example" } });
    expect(cluster.node(0).requests).toHaveLength(2);
  });

  it("after a call that failed everywhere, point its preference past the last node tried", async () => {
    for (const node of cluster.nodes) node.behavior = { kind: "refuse", status: 503, code: "no_leader" };
    const own = { url: cluster.node(0).url };
    const error = await failure(client().status({ prefer: own, retry: { maxAttempts: 2 } }));
    expect(error.attempts.map((attempt) => attempt.url)).toEqual([cluster.node(0).url, cluster.node(1).url]);
    expect(own.url).toBe(cluster.node(2).url);
  });

  it("override the retry policy for one call, and tell on an answer the attempts that failed before it", async () => {
    cluster.node(0).behavior = { kind: "refuse", status: 503, code: "no_leader", retryAfter: "5" };
    const juno = client();
    const answer = await juno.request({
      method: "GET",
      path: "/api/v3/consensus/status",
      retry: { initialMs: 10, maxMs: 10, retryAfterMaxMs: 0 },
    });
    expect(answer.url).toBe(cluster.node(1).url);
    expect(answer.attempts).toEqual([{ url: cluster.node(0).url, status: 503, code: "no_leader" }]);
    // The backoff of the override (at most 10 ms), not the 5 s Retry-After.
    expect(sleeps).toEqual([9]);
    expect((await juno.request({ method: "GET", path: "/api/v3/consensus/status" })).attempts).toEqual([]);
  });
});

describe("the tasks report API", () => {
  const ids = ["00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"];

  it("reports completions and failures at once, each answered on its own, completions first", async () => {
    cluster.registry.staleReports.add(`${ids[1]}#2`);
    const juno = client();
    const { results } = await juno.tasks.report({
      agent_id: "agent-1",
      failed: [{ id: ids[1] ?? "", attempt: 2, error: "boom" }],
      completed: [{ id: ids[0] ?? "", attempt: 1, result: { n: 1 } }],
    });
    expect(results).toEqual([
      { id: ids[0], attempt: 1, ok: true, status: "succeeded" },
      {
        id: ids[1],
        attempt: 2,
        ok: false,
        error: { code: "stale_attempt", message: `attempt 2 of ${ids[1]} is no longer current` },
      },
    ]);
    expect(cluster.registry.batches).toEqual([
      {
        agent_id: "agent-1",
        completed: [{ id: ids[0], attempt: 1, result: { n: 1 } }],
        failed: [{ id: ids[1], attempt: 2, error: "boom" }],
      },
    ]);
  });

  it("refuses none, too many, or a task named twice before sending anything", async () => {
    const juno = client();
    await expect(juno.tasks.report({ agent_id: "a" })).rejects.toThrow(RangeError);
    const many = Array.from({ length: 257 }, (_, n) => ({ id: `task-${n}`, attempt: 1 }));
    await expect(juno.tasks.report({ agent_id: "a", completed: many })).rejects.toThrow(RangeError);
    await expect(
      juno.tasks.report({
        agent_id: "a",
        completed: [{ id: "t", attempt: 1 }],
        failed: [{ id: "t", attempt: 1, error: "x" }],
      }),
    ).rejects.toThrow(RangeError);
    expect(cluster.nodes.flatMap((node) => node.requests)).toEqual([]);
  });

  it("answers 404 not_found from a juno without the route", async () => {
    cluster.registry.reportRoute = false;
    const error = await failure(
      client().tasks.report({ agent_id: "a", completed: [{ id: ids[0] ?? "", attempt: 1 }] }),
    );
    expect(error).toMatchObject({ status: 404, code: "not_found" });
  });

  it("refuses an answer whose results are not one per report, in order", async () => {
    for (const body of [
      { results: [] },
      { results: [{ id: "other", attempt: 1, ok: true, status: "succeeded" }] },
      { results: [{ id: ids[0], attempt: 1, ok: true, status: "done" }] },
      { results: [{ id: ids[0], attempt: 1, ok: false }] },
    ]) {
      cluster.node(0).when(
        (request) => request.path.endsWith("/tasks/report"),
        {
          kind: "raw",
          status: 200,
          body: JSON.stringify(body),
        },
        1,
      );
      const error = await failure(
        client().tasks.report({ agent_id: "a", completed: [{ id: ids[0] ?? "", attempt: 1 }] }),
      );
      expect(error.code).toBe("invalid_response");
    }
  });
});

describe("the tasks bulk submit API", () => {
  it("gives each task without a key its own made-up key, keeps the ones given, and refuses none or too many before sending", async () => {
    let keys = 0;
    const juno = client({ idempotencyKey: () => `made-${++keys}` });
    await expect(juno.tasks.submitMany([])).rejects.toThrow(RangeError);
    const many = Array.from({ length: 501 }, () => ({ task_type: "t", team: "a" }));
    await expect(juno.tasks.submitMany(many)).rejects.toThrow(RangeError);
    expect(cluster.nodes.flatMap((node) => node.requests)).toEqual([]);
    cluster
      .node(0)
      .when(
        (request) => request.path.endsWith("/tasks/distribute/bulk"),
        { kind: "raw", status: 200, body: JSON.stringify({ results: [] }) },
        1,
      );
    const error = await failure(
      juno.tasks.submitMany([
        { task_type: "t", team: "a" },
        { task_type: "t", team: "a", idempotency_key: "mine" },
        { task_type: "t", team: "a" },
      ]),
    );
    expect(error.code).toBe("invalid_response");
    const sent = cluster.nodes.flatMap((node) => node.requests)[0]!.body as {
      tasks: { idempotency_key: string }[];
    };
    expect(sent.tasks.map((task) => task.idempotency_key)).toEqual(["made-1", "mine", "made-2"]);
  });

  it("refuses an answer whose results are not one per task, each ok with a task or an error", async () => {
    for (const results of [
      [{ ok: true, created: true }],
      [{ ok: true, task: { id: 1 }, created: true }],
      [{ ok: false }],
      [{ ok: "yes" }],
    ]) {
      cluster
        .node(0)
        .when(
          (request) => request.path.endsWith("/tasks/distribute/bulk"),
          { kind: "raw", status: 200, body: JSON.stringify({ results }) },
          1,
        );
      const error = await failure(client().tasks.submitMany([{ task_type: "t", team: "a" }]));
      expect(error.code).toBe("invalid_response");
    }
  });
});

describe("the workflows bulk create API", () => {
  it("gives each run without a key its own made-up key, keeps the ones given, and refuses none, too many or an expansion before sending", async () => {
    let keys = 0;
    const juno = client({ idempotencyKey: () => `made-${++keys}` });
    await expect(juno.createWorkflows([])).rejects.toThrow(RangeError);
    const many = Array.from({ length: 101 }, () => ({ workflow: { name: "d" } }));
    await expect(juno.createWorkflows(many)).rejects.toThrow(RangeError);
    await expect(juno.createWorkflows([{ workflow: { name: "d" }, expands_task: "t" }])).rejects.toThrow(
      RangeError,
    );
    expect(cluster.nodes.flatMap((node) => node.requests)).toEqual([]);
    cluster
      .node(0)
      .when(
        (request) => request.path.endsWith("/workflows/bulk"),
        { kind: "raw", status: 200, body: JSON.stringify({ results: [] }) },
        1,
      );
    const error = await failure(
      juno.createWorkflows([
        { workflow: { name: "d" } },
        { workflow: { name: "d" }, idempotency_key: "mine" },
        { workflow: { name: "d" } },
      ]),
    );
    expect(error.code).toBe("invalid_response");
    const sent = cluster.nodes.flatMap((node) => node.requests)[0]!.body as {
      workflows: { idempotency_key: string }[];
    };
    expect(sent.workflows.map((run) => run.idempotency_key)).toEqual(["made-1", "mine", "made-2"]);
  });

  it("takes an answer of one result per run, and refuses one that is not", async () => {
    cluster.node(0).when(
      (request) => request.path.endsWith("/workflows/bulk"),
      {
        kind: "raw",
        status: 200,
        body: JSON.stringify({
          results: [
            { ok: true, id: "w1", created: false },
            { ok: false, error: { code: "definition_not_found", message: "no such definition" } },
          ],
        }),
      },
      1,
    );
    const results = await client().createWorkflows([
      { workflow: { name: "d" } },
      { workflow: { name: "e" } },
    ]);
    expect(results).toEqual([
      { ok: true, id: "w1", workflow: null, created: false },
      { ok: false, error: { code: "definition_not_found", message: "no such definition" } },
    ]);
    for (const answer of [
      [{ ok: true, created: true }],
      [{ ok: true, id: "w", created: "yes" }],
      [{ ok: true, id: "w", created: true, workflow: { id: 1 } }],
      [{ ok: false }],
      [{ ok: "yes" }],
      [],
    ]) {
      cluster
        .node(0)
        .when(
          (request) => request.path.endsWith("/workflows/bulk"),
          { kind: "raw", status: 200, body: JSON.stringify({ results: answer }) },
          1,
        );
      const error = await failure(client().createWorkflows([{ workflow: { name: "d" } }]));
      expect(error.code).toBe("invalid_response");
    }
  });
});
