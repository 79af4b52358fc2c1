// Proves request routing through any node: /api/v3/route/{skill}/{path} reaches a healthy agent
// with the skill (path, query and body relayed; juno's token not), names it in x-juno-agent,
// balances by strategy, retries idempotent requests on another agent when one is down, opens an
// agent's breaker after repeated failures, never retries a POST, and says 503 when no agent can.

import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiCluster, type Member } from "../server/cluster.js";

interface FakeAgent {
  readonly server: Server;
  readonly url: string;
  id: string;
  seen: { method: string; url: string; authorization: string | undefined; body: string }[];
  /** Status to answer with (200 unless told otherwise). */
  status: number;
}

let cluster: ApiCluster;
const agents: FakeAgent[] = [];

async function startAgent(name: string): Promise<FakeAgent> {
  const agent = { seen: [], status: 200, id: "", url: "" } as unknown as FakeAgent;
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      agent.seen.push({
        method: request.method!,
        url: request.url!,
        authorization: request.headers.authorization,
        body,
      });
      response.writeHead(agent.status, { "content-type": "application/json", "x-agent-name": name });
      response.end(JSON.stringify({ name, url: request.url, body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  Object.assign(agent, { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  return agent;
}

async function call(member: Member, method: string, path: string, init: RequestInit = {}) {
  const response = await fetch(`http://${member.http}/api/v3${path}`, { method, ...init });
  const text = await response.text();
  return {
    status: response.status,
    agent: response.headers.get("x-juno-agent"),
    text,
    headers: response.headers,
  };
}

beforeAll(async () => {
  cluster = await ApiCluster.start(null, ["n1", "n2", "n3"], {
    router: { breakerThreshold: 2, halfOpenAfterMs: 60_000 },
  });
  const leader = await cluster.leader();
  for (const name of ["alpha", "beta", "gamma"]) {
    const agent = await startAgent(name);
    const answer = await call(leader, "POST", "/agents/register", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        name,
        endpoint: agent.url,
        team: "echo",
        capabilities: { skills: ["echo"], capacity: 2 },
        health_check: { type: "none" },
      }),
    });
    expect(answer.status).toBe(201);
    agent.id = (JSON.parse(answer.text) as { agent: { id: string } }).agent.id;
    agents.push(agent);
  }
  // Every node has the registrations before routing through it.
  for (const member of cluster.members.values()) {
    await member.node.readBarrier();
  }
});

afterAll(async () => {
  await cluster.stop();
  for (const agent of agents) agent.server.close();
});

describe("request routing", () => {
  it("relays method, path, query and body to an agent through a follower, and names the agent", async () => {
    const follower = await cluster.follower();
    const answer = await call(follower, "POST", "/route/echo/jobs/7?verbose=1&strategy=round_robin", {
      headers: { "content-type": "text/plain", authorization: "Bearer juno-secret" },
      body: "hello",
    });
    expect(answer.status).toBe(200);
    const served = agents.find((a) => a.id === answer.agent)!;
    expect(served).toBeDefined();
    const request = served.seen.at(-1)!;
    expect(request).toMatchObject({ method: "POST", url: "/jobs/7?verbose=1", body: "hello" });
    expect(request.authorization).toBeUndefined();
    expect(answer.headers.get("x-agent-name")).not.toBeNull();
  });

  it("round robin visits every agent; consistent hashing keeps a key on one agent", async () => {
    const leader = await cluster.leader();
    const visited = new Set<string>();
    for (let i = 0; i < 6; i++)
      visited.add((await call(leader, "GET", "/route/echo/ping?strategy=round_robin")).agent!);
    expect(visited.size).toBe(3);
    const owners = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const answer = await call(leader, "GET", "/route/echo/cart?strategy=consistent_hash", {
        headers: { "x-juno-affinity-key": "user-42" },
      });
      owners.add(answer.agent!);
    }
    expect(owners.size).toBe(1);
  });

  it("a POST is not retried: the agent's 503 comes back as it is", async () => {
    const leader = await cluster.leader();
    for (const agent of agents) agent.status = 503;
    try {
      const before = agents.reduce((n, a) => n + a.seen.length, 0);
      const answer = await call(leader, "POST", "/route/echo/once", {
        body: "x",
        headers: { "content-type": "text/plain" },
      });
      expect(answer.status).toBe(503);
      expect(agents.reduce((n, a) => n + a.seen.length, 0) - before).toBe(1);
    } finally {
      for (const agent of agents) agent.status = 200;
    }
  });

  it("an idempotent request is retried on another agent when one is down; its breaker then opens", async () => {
    const follower = await cluster.follower();
    const down = agents[0]!;
    await new Promise<void>((resolve) => down.server.close(() => resolve()));
    const served = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const answer = await call(follower, "GET", "/route/echo/retry?strategy=round_robin");
      expect(answer.status).toBe(200);
      served.add(answer.agent!);
    }
    expect(served.has(down.id)).toBe(false);
    expect(served.size).toBe(2);
  });

  it("no healthy agent with the skill: 503 no_agent in the one error shape", async () => {
    const leader = await cluster.leader();
    const answer = await call(leader, "GET", "/route/nobody-has-this/x");
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.text)).toMatchObject({ error: { code: "no_agent" } });
    const bad = await call(leader, "GET", "/route/echo/x?strategy=random");
    expect(bad.status).toBe(400);
  });
});
