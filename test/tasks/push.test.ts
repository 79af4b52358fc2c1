// Proves push delivery through a three-node cluster with real HTTP agents: a push agent's tasks
// are POSTed to its delivery URL by the leader (task id and attempt in each), start once it
// answers 2xx, and complete through the API as pulled ones do; an agent that refuses (5xx) or
// does not answer in time has the attempt moved to another agent and a failure counted on its
// breaker, which opens after the threshold so placement stops choosing it; a beat listing a
// cancelled attempt hears it in `cancelled`; registration refuses a delivery URL for pull agents.

import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SIGNATURE_HEADER, signatureProblem } from "../../src/client/index.js";
import { deliveryKey, signDelivery } from "../../src/faults/delivery-signature.js";
import { tasksState } from "../../src/tasks/index.js";
import { ApiCluster, type Member } from "../server/cluster.js";
import { until } from "../support/local-node.js";

type Json = Record<string, unknown>;

const SECRET = "push-test-cluster-secret";

let cluster: ApiCluster;
const servers: Server[] = [];
const beating: (() => void)[] = [];

beforeAll(async () => {
  cluster = await ApiCluster.start(
    null,
    ["n1", "n2", "n3"],
    { heartbeatIntervalMs: 100, failureTimeoutMs: 3_000, healthCheckIntervalMs: 300, deliverySecret: SECRET },
    {
      settings: { breakerThreshold: 3, breakerCoolDownMs: 600_000 },
      tickMs: 50,
      redispatchMs: 200,
      push: { timeoutMs: 300, tries: 2, breakerThreshold: 100, signingSecret: SECRET },
    },
  );
  const leader = await cluster.leader();
  await until(() => leader.node.view.state(tasksState).settings.breakerThreshold === 3);
});
afterAll(async () => {
  for (const stop of beating.splice(0)) stop();
  for (const server of servers) server.close();
  await cluster.stop();
});

async function call(member: Member, method: string, path: string, body?: unknown) {
  const response = await fetch(`http://${member.http}/api/v3${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Json };
}

interface Pushed {
  readonly agentId: string;
  readonly header: string | undefined;
  /** Why its signature failed the SDK's check against the agent's delivery key (null: it held). */
  readonly signature: string | null;
  readonly tasks: { id: string; attempt: number; task_type: string; data: unknown }[];
}

/** A push agent: an HTTP server taking deliveries (answering `answer()`), registered and beating. */
async function pushAgent(
  name: string,
  skill: string,
  answer: () => number | "hang",
): Promise<{ id: string; pushed: Pushed[]; running: Map<string, number> }> {
  const pushed: Pushed[] = [];
  const running = new Map<string, number>();
  let key = "";
  const server = createServer((request, response) => {
    void readBody(request).then(async (bytes) => {
      const body = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
      const how = answer();
      if (how === "hang") return; // never answers: the leader's timeout must end it
      if (how >= 200 && how < 300) {
        const delivery = body as { agent_id: string; tasks: Pushed["tasks"] };
        const header = request.headers[SIGNATURE_HEADER];
        pushed.push({
          agentId: delivery.agent_id,
          header: request.headers["x-juno-agent-id"] as string | undefined,
          signature: await signatureProblem(key, typeof header === "string" ? header : null, bytes),
          tasks: delivery.tasks,
        });
        for (const task of delivery.tasks) running.set(task.id, task.attempt);
      }
      response.writeHead(how, { "content-type": "application/json" });
      response.end(JSON.stringify({ accepted: how < 300 ? 1 : 0 }));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const member = await cluster.follower();
  const registered = await call(member, "POST", "/agents/register", {
    name,
    endpoint,
    team: "push",
    capabilities: { skills: [skill], capacity: 4 },
    health_check: { type: "none" },
    delivery: { mode: "push" },
  });
  expect(registered.status).toBe(201);
  const agent = registered.json["agent"] as Json;
  expect(agent["delivery"]).toEqual({ mode: "push", url: `${endpoint}/juno/tasks` });
  key = registered.json["delivery_key"] as string;
  expect(key).toBe(deliveryKey(SECRET, agent["id"] as string));
  const id = agent["id"] as string;
  const timer = setInterval(() => {
    const list = [...running].map(([task, attempt]) => ({ id: task, attempt }));
    void call(member, "POST", `/agents/${id}/heartbeat`, { running: list }).catch(() => {});
  }, 100);
  beating.push(() => clearInterval(timer));
  return { id, pushed, running };
}

function readBody(request: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(new Uint8Array(Buffer.concat(chunks))));
  });
}

async function task(id: string): Promise<Json> {
  const leader = await cluster.leader();
  return (await call(leader, "GET", `/tasks/${id}`)).json["task"] as Json;
}

async function submit(skill: string, data: unknown = {}): Promise<string> {
  const member = await cluster.follower();
  const answer = await call(member, "POST", "/tasks/distribute", {
    team: "web",
    task_type: "deploy",
    data,
    requirements: { skills: [skill] },
  });
  expect(answer.status).toBe(201);
  return (answer.json["task"] as Json)["id"] as string;
}

describe("push delivery", () => {
  it("POSTs an assigned task to its agent, which starts it on 2xx and completes it through the API", async () => {
    const agent = await pushAgent("pusher", "push-ok", () => 200);
    const id = await submit("push-ok", { n: 1 });
    await until(() => agent.pushed.some((p) => p.tasks.some((t) => t.id === id)), 10_000);
    const delivery = agent.pushed.find((p) => p.tasks.some((t) => t.id === id))!;
    expect(delivery.agentId).toBe(agent.id);
    expect(delivery.header).toBe(agent.id);
    // Signed with the agent's key, as the SDK checks it.
    expect(delivery.signature).toBeNull();
    const sent = delivery.tasks.find((t) => t.id === id)!;
    expect(sent).toMatchObject({ attempt: 1, task_type: "deploy", data: { n: 1 } });
    await until(async () => (await task(id))["status"] === "running", 10_000);
    const member = await cluster.follower();
    const done = await call(member, "POST", `/tasks/${id}/complete`, {
      agent_id: agent.id,
      attempt: 1,
      result: { ok: true },
    });
    expect(done.status).toBe(200);
    expect(await task(id)).toMatchObject({ status: "succeeded", result: { ok: true }, attempt: 1 });
  });

  it("moves an attempt the agent refuses or leaves unanswered to another agent, and opens the refuser's breaker", async () => {
    const refuser = await pushAgent("refuser", "push-bad", () => 503);
    const hanger = await pushAgent("hanger", "push-bad", () => "hang");
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await submit("push-bad"));
    // Both agents fail every delivery: each attempt moves on, and after three failures each
    // agent's breaker opens, so the tasks wait queued instead of bouncing for ever.
    await until(async () => {
      const leader = await cluster.leader();
      const tasks = leader.node.view.state(tasksState);
      return tasks.breaker(refuser.id).openedAtMs !== null && tasks.breaker(hanger.id).openedAtMs !== null;
    }, 20_000);
    const good = await pushAgent("rescuer", "push-bad", () => 200);
    for (const id of ids) {
      await until(() => good.pushed.some((p) => p.tasks.some((t) => t.id === id)), 20_000);
      const now = await task(id);
      expect(now["assigned_agent"]).toBe(good.id);
      expect(now["attempt"] as number).toBeGreaterThan(1);
    }
    expect(refuser.pushed).toEqual([]);
    const metrics = await call(await cluster.leader(), "GET", "/tasks/metrics");
    const agents = metrics.json["agents"] as Json[];
    expect(agents.find((a) => a["id"] === refuser.id)?.["breaker"]).toBe("open");
  });

  it("tells a push agent on its beat answer that a running attempt was cancelled", async () => {
    const agent = await pushAgent("cancelled", "push-cancel", () => 200);
    const id = await submit("push-cancel");
    await until(async () => (await task(id))["status"] === "running", 10_000);
    const member = await cluster.follower();
    expect((await call(member, "DELETE", `/tasks/${id}`)).status).toBe(200);
    await until(async () => {
      const beat = await call(member, "POST", `/agents/${agent.id}/heartbeat`, {
        running: [{ id, attempt: 1 }],
      });
      const cancelled = (beat.json["cancelled"] ?? []) as Json[];
      return cancelled.some((c) => c["id"] === id && c["attempt"] === 1 && c["reason"] === "cancelled");
    }, 10_000);
    // A beat that does not list running attempts hears nothing of them.
    const quiet = await call(member, "POST", `/agents/${agent.id}/heartbeat`, {});
    expect(quiet.json["cancelled"]).toBeUndefined();
  });

  it("refuses a delivery URL for a pull agent", async () => {
    const member = await cluster.follower();
    const answer = await call(member, "POST", "/agents/register", {
      name: "confused",
      endpoint: "http://127.0.0.1:1",
      team: "push",
      capabilities: { skills: ["x"], capacity: 1 },
      delivery: { mode: "pull", url: "http://127.0.0.1:1/juno/tasks" },
    });
    expect(answer.status).toBe(400);
    expect((answer.json["error"] as Json)["code"]).toBe("validation_failed");
  });

  it("signs what the SDK checks: a wrong key, a changed body, an old time or no header are refused", async () => {
    const key = deliveryKey(SECRET, "agent-1");
    const body = new TextEncoder().encode('{"agent_id":"agent-1","tasks":[]}');
    const now = 1_800_000_000_000;
    const header = signDelivery(key, now, new TextDecoder().decode(body));
    expect(await signatureProblem(key, header, body, now)).toBeNull();
    expect(await signatureProblem(deliveryKey(SECRET, "agent-2"), header, body, now)).toMatch(
      /does not match/,
    );
    expect(await signatureProblem(deliveryKey("another", "agent-1"), header, body, now)).toMatch(
      /does not match/,
    );
    const changed = new TextEncoder().encode('{"agent_id":"agent-1","tasks":[1]}');
    expect(await signatureProblem(key, header, changed, now)).toMatch(/does not match/);
    expect(await signatureProblem(key, header, body, now + 10 * 60_000)).toMatch(/too long ago/);
    expect(await signatureProblem(key, null, body, now)).toMatch(/no x-juno-signature/);
    expect(await signatureProblem(key, "t=1,v1=zz", body, now)).toMatch(/malformed/);
  });
});
