// Proves the agents API as an agent and an operator use it, through every node of a three-node
// cluster: registration (idempotent by name and endpoint), listing with filters and cursors,
// heartbeats that never touch the log, health as the leader's monitor sees it, the summary,
// resolve, deregistration, and bad input refused with nothing changed.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentsState } from "../../src/agents/index.js";
import { ApiCluster, type Member } from "../server/cluster.js";
import { until } from "../support/local-node.js";

let cluster: ApiCluster;
beforeAll(async () => {
  cluster = await ApiCluster.start(null, ["n1", "n2", "n3"], {
    heartbeatIntervalMs: 100,
    failureTimeoutMs: 1_500,
    healthCheckIntervalMs: 300,
  });
});
afterAll(async () => {
  await cluster.stop();
});

type Json = Record<string, unknown>;

async function call(
  member: Member,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Json; headers: Headers }> {
  const response = await fetch(`http://${member.http}/api/v3${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Json, headers: response.headers };
}

function registration(name: string, overrides: Json = {}): Json {
  return {
    name,
    endpoint: `http://10.0.0.1:${8000 + name.length}`,
    team: "search",
    capabilities: { skills: ["index", "query"], capacity: 4, labels: { zone: "a" } },
    health_check: { type: "none" },
    ...overrides,
  };
}

async function agentCount(): Promise<number> {
  const leader = await cluster.leader();
  return leader.node.view.state(agentsState).size;
}

describe("agents API", () => {
  it("registers through a follower: 201 and a UUID; again by name and endpoint: 200, the same id, updated", async () => {
    const follower = await cluster.follower();
    const first = await call(follower, "POST", "/agents/register", registration("indexer"));
    expect(first.status).toBe(201);
    const agent = first.json["agent"] as Json;
    expect(agent["id"]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(agent["status"]).toBe("healthy");
    expect(first.json["heartbeat_interval_ms"]).toBe(100);
    expect(first.json["lease_ms"]).toBe(1_500);
    const again = await call(
      await cluster.leader(),
      "POST",
      "/agents/register",
      registration("indexer", {
        capabilities: { skills: ["index", "query", "rank"], capacity: 8 },
      }),
    );
    expect(again.status).toBe(200);
    const updated = again.json["agent"] as Json;
    expect(updated["id"]).toBe(agent["id"]);
    expect(updated["capabilities"]).toMatchObject({ skills: ["index", "query", "rank"], capacity: 8 });
  });

  it("lists with filters and pages through with a cursor", async () => {
    const leader = await cluster.leader();
    for (const [name, team, zone] of [
      ["l-a", "ads", "a"],
      ["l-b", "ads", "b"],
      ["l-c", "ads", "a"],
      ["l-d", "maps", "a"],
    ] as const) {
      const answer = await call(
        leader,
        "POST",
        "/agents/register",
        registration(name, { team, capabilities: { skills: ["bid"], capacity: 1, labels: { zone } } }),
      );
      expect(answer.status).toBe(201);
    }
    const follower = await cluster.follower();
    const ads = await call(follower, "GET", "/agents?team=ads&skill=bid");
    expect((ads.json["agents"] as Json[]).map((a) => a["name"]).sort()).toEqual(["l-a", "l-b", "l-c"]);
    const zoneA = await call(follower, "GET", "/agents?skill=bid&label=zone%3Da");
    expect((zoneA.json["agents"] as Json[]).map((a) => a["name"]).sort()).toEqual(["l-a", "l-c", "l-d"]);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await call(
        follower,
        "GET",
        `/agents?skill=bid&limit=3${cursor === null ? "" : `&cursor=${cursor}`}`,
      );
      expect(page.status).toBe(200);
      const agents = page.json["agents"] as Json[];
      expect(agents.length).toBeLessThanOrEqual(3);
      seen.push(...agents.map((a) => a["id"] as string));
      cursor = page.json["next_cursor"] as string | null;
    } while (cursor !== null);
    expect(seen).toHaveLength(4);
    expect([...seen].sort()).toEqual(seen);
    const none = await call(follower, "GET", "/agents?status=failed&team=ads");
    expect(none.json["agents"]).toEqual([]);
  });

  it("takes heartbeats on every node without writing the log, and answers status and lease", async () => {
    const leader = await cluster.leader();
    const registered = await call(leader, "POST", "/agents/register", registration("beater"));
    const id = (registered.json["agent"] as Json)["id"] as string;
    const applied = leader.node.view.appliedIndex();
    for (const member of cluster.members.values()) {
      const beat = await call(member, "POST", `/agents/${id}/heartbeat`, { active_tasks: 1 });
      expect(beat.status).toBe(200);
      expect(beat.json).toMatchObject({ id, status: "healthy", heartbeat_interval_ms: 100 });
      expect(Date.parse(beat.json["lease_expires_at"] as string)).toBeGreaterThan(Date.now());
    }
    // Beats are not entries: at most a periodic last_heartbeat refresh was written meanwhile.
    expect(leader.node.view.appliedIndex() - applied).toBeLessThanOrEqual(2);
    const health = await call(await cluster.follower(), "GET", `/agents/${id}/health`);
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ id, status: "healthy", observed_by: leader.node.id });
    expect(health.json["last_heartbeat"]).not.toBeNull();
  });

  it("a beat for an unknown agent is 404; a non-UUID id too, without asking the leader", async () => {
    const follower = await cluster.follower();
    const unknown = await call(
      follower,
      "POST",
      "/agents/00000000-0000-4000-8000-000000000000/heartbeat",
      {},
    );
    expect(unknown.status).toBe(404);
    expect((unknown.json["error"] as Json)["code"]).toBe("agent_not_found");
    for (const id of ["constructor", "__proto__", "toString"]) {
      const answer = await call(follower, "POST", `/agents/${id}/heartbeat`, {});
      expect(answer.status).toBe(404);
      expect((await call(follower, "GET", `/agents/${id}`)).status).toBe(404);
    }
  });

  it("an agent that never beats is failed once its lease ends; one that beats stays healthy", async () => {
    const leader = await cluster.leader();
    const silent = await call(leader, "POST", "/agents/register", registration("silent"));
    const beating = await call(leader, "POST", "/agents/register", registration("lively"));
    const silentId = (silent.json["agent"] as Json)["id"] as string;
    const beatingId = (beating.json["agent"] as Json)["id"] as string;
    let beats = 0;
    const timer = setInterval(() => {
      beats++;
      void call(leader, "POST", `/agents/${beatingId}/heartbeat`, {});
    }, 100);
    try {
      await until(() => leader.node.view.state(agentsState).get(silentId)?.status === "failed", 15_000);
      expect(beats).toBeGreaterThan(0);
      expect(leader.node.view.state(agentsState).get(beatingId)?.status).toBe("healthy");
      const summary = await call(await cluster.follower(), "GET", "/agents/health");
      expect((summary.json["by_status"] as Json)["failed"]).toBeGreaterThanOrEqual(1);
      expect(((summary.json["by_team"] as Json)["search"] as Json)["healthy"]).toBeGreaterThanOrEqual(1);
      const resolved = await call(leader, "GET", "/agents/resolve?skill=query");
      const ids = (resolved.json["agents"] as Json[]).map((a) => a["id"]);
      expect(ids).toContain(beatingId);
      expect(ids).not.toContain(silentId);
      // The monitor's transition was replicated: every node shows it.
      for (const member of cluster.members.values()) {
        await until(() => member.node.view.state(agentsState).get(silentId)?.status === "failed");
      }
      // A failed agent that beats again comes back (after its hysteresis).
      const back = setInterval(() => void call(leader, "POST", `/agents/${silentId}/heartbeat`, {}), 100);
      try {
        await until(() => leader.node.view.state(agentsState).get(silentId)?.status === "healthy", 15_000);
      } finally {
        clearInterval(back);
      }
      // Its health history, on any node, is the statuses the log gave it, oldest first.
      const health = await call(await cluster.follower(), "GET", `/agents/${silentId}/health`);
      const statuses = (health.json["history"] as Json[]).map((change) => change["status"]);
      expect(statuses[0]).toBe("healthy");
      expect(statuses).toContain("failed");
      expect(statuses.at(-1)).toBe("healthy");
      expect((health.json["history"] as Json[])[0]!["reason"]).toBe("registered");
    } finally {
      clearInterval(timer);
    }
  });

  it("draining is replicated from the beat", async () => {
    const leader = await cluster.leader();
    const registered = await call(leader, "POST", "/agents/register", registration("drainer"));
    const id = (registered.json["agent"] as Json)["id"] as string;
    expect((await call(leader, "POST", `/agents/${id}/heartbeat`, { draining: true })).status).toBe(200);
    await until(() => leader.node.view.state(agentsState).get(id)?.draining === true);
    const resolved = await call(leader, "GET", "/agents/resolve?skill=index");
    expect((resolved.json["agents"] as Json[]).map((a) => a["id"])).not.toContain(id);
  });

  it("deregisters: the answer shows it deregistered, then it is gone and its beats are 404", async () => {
    const follower = await cluster.follower();
    const registered = await call(follower, "POST", "/agents/register", registration("leaver"));
    const id = (registered.json["agent"] as Json)["id"] as string;
    const removed = await call(follower, "DELETE", `/agents/${id}`);
    expect(removed.status).toBe(200);
    expect((removed.json["agent"] as Json)["status"]).toBe("deregistered");
    expect((await call(follower, "GET", `/agents/${id}`)).status).toBe(404);
    expect((await call(follower, "DELETE", `/agents/${id}`)).status).toBe(404);
    expect((await call(follower, "POST", `/agents/${id}/heartbeat`, {})).status).toBe(404);
  });

  it("refuses bad registrations with a 4xx in the one error shape, and changes nothing", async () => {
    const leader = await cluster.leader();
    const before = await agentCount();
    const applied = leader.node.view.appliedIndex();
    const bad: Json[] = [
      {},
      registration("x", { endpoint: "ftp://nope" }),
      registration("x", { endpoint: "not a url" }),
      registration("x", { capabilities: { skills: ["a"], capacity: 0 } }),
      registration("x", { capabilities: { skills: ["a", "a"], capacity: 1 } }),
      registration("x", { capabilities: { skills: ["bad skill"], capacity: 1 } }),
      registration("x", {
        capabilities: { skills: Array.from({ length: 65 }, (_, i) => `s${i}`), capacity: 1 },
      }),
      registration("x", {
        capabilities: {
          skills: [],
          capacity: 1,
          labels: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"])),
        },
      }),
      registration("x", { metadata: { blob: "x".repeat(20_000) } }),
      registration("x", { metadata: "a string" }),
      registration("x", { team: "" }),
      registration("x", { name: "y".repeat(101) }),
      registration("x", { surprise: true }),
      registration("x", { capabilities: undefined }),
    ];
    for (const body of bad) {
      const answer = await call(leader, "POST", "/agents/register", body);
      expect(answer.status, JSON.stringify(body).slice(-160)).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
      expect(typeof (answer.json["error"] as Json)["code"]).toBe("string");
    }
    // A prototype-shaped key in JSON is refused by the body parser, never merged into an object.
    const hostile = await fetch(`http://${leader.http}/api/v3/agents/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"name":"h","endpoint":"http://h:1","team":"t","capabilities":{"skills":[],"capacity":1,"labels":{"__proto__":"x"}}}',
    });
    expect(hostile.status).toBe(400);
    expect(await agentCount()).toBe(before);
    expect(leader.node.view.appliedIndex() - applied).toBeLessThanOrEqual(1);
  });

  it("names like prototype properties are data: an agent named constructor with a label toString", async () => {
    const leader = await cluster.leader();
    const answer = await call(
      leader,
      "POST",
      "/agents/register",
      registration("constructor", {
        team: "__proto__",
        capabilities: { skills: ["toString"], capacity: 1, labels: { toString: "valueOf" } },
      }),
    );
    expect(answer.status).toBe(201);
    const listed = await call(leader, "GET", "/agents?team=__proto__&label=toString%3DvalueOf");
    expect((listed.json["agents"] as Json[]).map((a) => a["name"])).toEqual(["constructor"]);
    const summary = await call(leader, "GET", "/agents/health");
    expect(Object.hasOwn(summary.json["by_team"] as Json, "__proto__")).toBe(true);
    // A label filter on a key nobody has matches nothing, prototype names included.
    const none = await call(leader, "GET", "/agents?label=constructor%3Dx");
    expect(none.json["agents"]).toEqual([]);
  });
});
