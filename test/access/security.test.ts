// Proves the API's access rules on a real node's app, for every route it serves (the list is the
// app's own, and which routes are public is the OpenAPI document's): no token, a wrong, a revoked
// and an expired token get 401 on every guarded route; a reader gets 403 forbidden_role on every
// write and admin route, an operator on every admin route, an agent token on every route that
// does not name its agent; a refused request changes nothing. An agent token acting for another
// agent (heartbeat, poll, complete, fail, report, read, deregister) gets 403 forbidden_agent and
// changes nothing, while acting for its own agent works, registering under its bound id.

import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessState } from "../../src/access/index.js";
import { agentsState } from "../../src/agents/index.js";
import { servedRoutes } from "../../src/server/app.js";
import { tasksState } from "../../src/tasks/index.js";
import { until } from "../support/local-node.js";
import { ADMIN_TOKEN, AccessCluster, bearer, fileToken, type AccessMember } from "./cluster.js";

/** The routes that declare the admin role: membership, leadership, tokens, audit. */
const ADMIN_ROUTES = new Set([
  "POST /api/v3/cluster/members",
  "DELETE /api/v3/cluster/members/:id",
  "POST /api/v3/cluster/leader",
  "POST /api/v3/tokens",
  "GET /api/v3/tokens",
  "DELETE /api/v3/tokens/:id",
  "GET /api/v3/audit",
]);

/** The routes an agent token may call (for its own agent). Every other guarded route refuses it. */
const AGENT_ROUTES = new Set([
  "POST /api/v3/agents/register",
  "GET /api/v3/agents/:id",
  "DELETE /api/v3/agents/:id",
  "POST /api/v3/agents/:id/heartbeat",
  "GET /api/v3/agents/:id/health",
  "GET /api/v3/tasks/status",
  "GET /api/v3/tasks/:id",
  "POST /api/v3/tasks/poll",
  "POST /api/v3/tasks/:id/complete",
  "POST /api/v3/tasks/:id/fail",
  "POST /api/v3/tasks/report",
  "POST /api/v3/workflows",
  "GET /api/v3/workflows/:id",
  "GET /api/v3/workflows/:id/watch",
]);

const AGENT_A = "aaaaaaaa-0000-4000-8000-000000000001";
const EXPIRED = "expired-file-token-0001";

let cluster: AccessCluster;
let member: AccessMember;
let app: FastifyInstance;
const tokens = new Map<string, string>();

/** A route as the app serves it, and whether the OpenAPI document says it is public or a stream. */
interface Route {
  readonly key: string;
  readonly method: string;
  readonly url: string;
  readonly public: boolean;
  readonly stream: boolean;
}
let routes: Route[] = [];

beforeAll(async () => {
  cluster = await AccessCluster.start({
    fileTokens: [fileToken("old", "operator", EXPIRED, { expiresAtMs: 1 })],
  });
  member = await cluster.leader();
  app = member.app;
  for (const [name, role] of [
    ["reader", "reader"],
    ["operator", "operator"],
    ["agent", "agent"],
    ["revoked", "reader"],
  ] as const) {
    const made = await app.inject({
      method: "POST",
      url: "/api/v3/tokens",
      headers: bearer(ADMIN_TOKEN),
      payload: { name, role, ...(role === "agent" ? { agent_id: AGENT_A } : {}) },
    });
    expect(made.statusCode).toBe(201);
    const { token, secret } = made.json<{ token: { id: string }; secret: string }>();
    expect(secret).toMatch(/^juno_[A-Za-z0-9_-]{43}$/);
    tokens.set(name, secret);
    if (name === "revoked") {
      const revoked = await app.inject({
        method: "DELETE",
        url: `/api/v3/tokens/${token.id}`,
        headers: bearer(ADMIN_TOKEN),
      });
      expect(revoked.statusCode).toBe(200);
    }
  }
  routes = await listRoutes(app);
});

afterAll(async () => {
  await cluster.stop();
});

/** Every "METHOD /url" the app serves under /api/v3, with what its OpenAPI operation says. */
async function listRoutes(server: FastifyInstance): Promise<Route[]> {
  const doc = (await server.inject({ url: "/api/v3/openapi.json" })).json<{
    paths: Record<
      string,
      Record<string, { security?: unknown[]; responses: Record<string, { content?: object }> }>
    >;
  }>();
  return (
    servedRoutes(server)
      // OPTIONS is the CORS preflight's, answered before authentication (src/web/cors.ts).
      .filter((route) => route.split(" ")[1]!.startsWith("/api/v3/") && !route.startsWith("OPTIONS "))
      .map((key) => {
        const [method, url] = key.split(" ") as [string, string];
        const path = url.replace(/:(\w+)/g, "{$1}").replace(/\/\*$/, "/{*}");
        const operation = doc.paths[path]?.[method.toLowerCase()];
        expect(operation, `${key} is documented`).toBeDefined();
        const content = Object.keys(operation?.responses["200"]?.content ?? {});
        return {
          key,
          method,
          url,
          public: Array.isArray(operation?.security) && operation.security.length === 0,
          stream: content.includes("text/event-stream"),
        };
      })
  );
}

/** Sends `route` with sample path values, a JSON body unless GET/HEAD, and `token`. */
function send(route: Route, token: string | null) {
  const url = route.url
    .replace(/:id\b/g, "bbbbbbbb-0000-4000-8000-000000000002")
    .replace(/:index\b/g, "1")
    .replace(/:(\w+)/g, "x")
    .replace(/\*$/, "x");
  const write = route.method !== "GET" && route.method !== "HEAD";
  return app.inject({
    method: route.method as "GET",
    url,
    headers: bearer(token),
    ...(write ? { payload: {} } : {}),
  });
}

/** What a refused request could have changed: the applied index and each module's counters. */
function fingerprint(): string {
  const view = member.local.node.view;
  return JSON.stringify([
    view.appliedIndex(),
    view.state(accessState).version,
    view.state(agentsState).version,
    view.state(tasksState).size,
  ]);
}

describe("every route, every credential", () => {
  it("the walk covers the API: tokens, audit, membership, agents, tasks, workflows", () => {
    const keys = new Set(routes.map((route) => route.key));
    for (const route of [...ADMIN_ROUTES, ...AGENT_ROUTES]) expect(keys, route).toContain(route);
    expect(routes.length).toBeGreaterThan(40);
  });

  it("no token, a wrong, a revoked or an expired one: 401 on every guarded route, and nothing changes", async () => {
    const before = fingerprint();
    const credentials = [null, "juno_not-a-token-at-all", tokens.get("revoked")!, EXPIRED];
    for (const route of routes.filter((r) => !r.public)) {
      for (const token of credentials) {
        const answer = await send(route, token);
        expect(answer.statusCode, `${route.key} with ${token ?? "no token"}`).toBe(401);
        expect(answer.json<{ error: { code: string } }>().error.code).toBe("unauthorized");
      }
    }
    expect(fingerprint()).toBe(before);
    const expired = await send(
      routes.find((r) => r.key === "GET /api/v3/agents")!,
      EXPIRED,
    );
    expect(expired.json<{ error: { message: string } }>().error.message).toContain("expired");
  });

  it("a role that may not call a route: 403 forbidden_role, and nothing changes", async () => {
    const before = fingerprint();
    let refused = 0;
    for (const route of routes.filter((r) => !r.public)) {
      const write = route.method !== "GET" && route.method !== "HEAD";
      const admin = ADMIN_ROUTES.has(route.key);
      const cases: [string, boolean][] = [
        ["reader", write || admin],
        ["operator", admin],
        ["agent", !AGENT_ROUTES.has(route.key)],
      ];
      for (const [role, forbidden] of cases) {
        if (!forbidden) continue;
        const answer = await send(route, tokens.get(role)!);
        expect(answer.statusCode, `${route.key} as ${role}`).toBe(403);
        expect(answer.json<{ error: { code: string } }>().error.code).toBe("forbidden_role");
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(60);
    expect(fingerprint()).toBe(before);
  });

  it("a role that may call a route is never told 401 or 403 forbidden_role", async () => {
    for (const route of routes.filter((r) => !r.public && !r.stream)) {
      const write = route.method !== "GET" && route.method !== "HEAD";
      const admin = ADMIN_ROUTES.has(route.key);
      const allowed = ["admin", ...(admin ? [] : ["operator"]), ...(write || admin ? [] : ["reader"])];
      if (AGENT_ROUTES.has(route.key)) allowed.push("agent");
      for (const role of allowed) {
        const answer = await send(route, role === "admin" ? ADMIN_TOKEN : tokens.get(role)!);
        expect(answer.statusCode, `${route.key} as ${role}`).not.toBe(401);
        if (answer.statusCode === 403)
          expect(answer.json<{ error: { code: string } }>().error.code, `${route.key} as ${role}`).toBe(
            "forbidden_agent",
          );
      }
    }
  });

  it("an unknown route under /api answers 401 without a valid token, 404 with any", async () => {
    const unknown = {
      key: "GET /api/v3/nope",
      method: "GET",
      url: "/api/v3/nope",
      public: false,
      stream: false,
    };
    expect((await send(unknown, null)).statusCode).toBe(401);
    for (const role of ["reader", "agent"])
      expect((await send(unknown, tokens.get(role)!)).statusCode).toBe(404);
  });

  it("public routes answer without a token", async () => {
    for (const route of routes.filter((r) => r.public))
      expect((await send(route, null)).statusCode).toBe(200);
    for (const url of ["/healthz", "/metrics", "/api/v3/openapi.json"])
      expect((await app.inject({ url })).statusCode).toBe(200);
  });
});

describe("an agent token acts for its own agent only", () => {
  let other: string;
  let othersTask: string;
  let ownTask: string;
  const agent = () => bearer(tokens.get("agent")!);
  const admin = bearer(ADMIN_TOKEN);
  const registration = (name: string, skill: string) => ({
    name,
    endpoint: `http://127.0.0.1:9/${name}`,
    team: "search",
    capabilities: { skills: [skill], capacity: 2 },
    health_check: { type: "none" },
  });

  beforeAll(async () => {
    const own = await app.inject({
      method: "POST",
      url: "/api/v3/agents/register",
      headers: agent(),
      payload: registration("self", "own-skill"),
    });
    expect(own.statusCode).toBe(201);
    // Whatever id the body might have produced, the agent is the token's.
    expect(own.json<{ agent: { id: string } }>().agent.id).toBe(AGENT_A);
    const theirs = await app.inject({
      method: "POST",
      url: "/api/v3/agents/register",
      headers: admin,
      payload: registration("other", "other-skill"),
    });
    other = theirs.json<{ agent: { id: string } }>().agent.id;
    const submit = async (skill: string) =>
      (
        await app.inject({
          method: "POST",
          url: "/api/v3/tasks/distribute",
          headers: admin,
          payload: { task_type: "index", team: "search", requirements: { skills: [skill] } },
        })
      ).json<{ task: { id: string; assigned_agent: string | null } }>().task;
    const theirsTask = await submit("other-skill");
    const mine = await submit("own-skill");
    expect(theirsTask.assigned_agent).toBe(other);
    expect(mine.assigned_agent).toBe(AGENT_A);
    othersTask = theirsTask.id;
    ownTask = mine.id;
    // The other agent takes its task, so it runs under attempt 1.
    const polled = await app.inject({
      method: "POST",
      url: "/api/v3/tasks/poll",
      headers: admin,
      payload: { agent_id: other },
    });
    expect(polled.json<{ tasks: unknown[] }>().tasks).toHaveLength(1);
  });

  it("refuses heartbeat, poll, complete, fail, report, read and deregister for another agent with 403 forbidden_agent", async () => {
    const before = fingerprint();
    const attempts = [
      { method: "POST", url: `/api/v3/agents/${other}/heartbeat`, payload: {} },
      { method: "POST", url: "/api/v3/tasks/poll", payload: { agent_id: other } },
      // Another agent's task, in its name or in this agent's own.
      {
        method: "POST",
        url: `/api/v3/tasks/${othersTask}/complete`,
        payload: { agent_id: other, attempt: 1 },
      },
      {
        method: "POST",
        url: `/api/v3/tasks/${othersTask}/complete`,
        payload: { agent_id: AGENT_A, attempt: 1 },
      },
      {
        method: "POST",
        url: `/api/v3/tasks/${othersTask}/fail`,
        payload: { agent_id: AGENT_A, attempt: 1, error: "x" },
      },
      {
        method: "POST",
        url: "/api/v3/tasks/report",
        payload: { agent_id: AGENT_A, completed: [{ id: othersTask, attempt: 1 }] },
      },
      { method: "GET", url: `/api/v3/agents/${other}` },
      { method: "GET", url: `/api/v3/tasks/${othersTask}` },
      { method: "GET", url: `/api/v3/tasks/status?agent_id=${other}` },
      { method: "DELETE", url: `/api/v3/agents/${other}` },
    ] as const;
    for (const attempt of attempts) {
      const answer = await app.inject({ ...attempt, headers: agent() });
      expect(answer.statusCode, `${attempt.method} ${attempt.url}`).toBe(403);
      expect(answer.json<{ error: { code: string } }>().error.code).toBe("forbidden_agent");
    }
    expect(fingerprint()).toBe(before);
    expect(member.local.node.view.state(tasksState).get(othersTask)?.status).toBe("running");
  });

  it("registering as another agent's name and endpoint is a conflict that changes nothing", async () => {
    const before = fingerprint();
    const answer = await app.inject({
      method: "POST",
      url: "/api/v3/agents/register",
      headers: agent(),
      payload: registration("other", "other-skill"),
    });
    expect(answer.statusCode).toBe(409);
    // The refusal was applied as an entry (apply decides); nothing else moved.
    expect(member.local.node.view.state(agentsState).get(other)?.name).toBe("other");
    const agents = (text: string) => (JSON.parse(text) as number[])[2];
    expect(agents(fingerprint())).toBe(agents(before));
  });

  it("works for its own agent: beat, poll, complete, read, and re-register with a new endpoint", async () => {
    const beat = await app.inject({
      method: "POST",
      url: `/api/v3/agents/${AGENT_A}/heartbeat`,
      headers: agent(),
      payload: {},
    });
    expect(beat.statusCode).toBe(200);
    const polled = await app.inject({
      method: "POST",
      url: "/api/v3/tasks/poll",
      headers: agent(),
      payload: { agent_id: AGENT_A },
    });
    const [task] = polled.json<{ tasks: { id: string; attempt: number }[] }>().tasks;
    expect(task?.id).toBe(ownTask);
    const done = await app.inject({
      method: "POST",
      url: `/api/v3/tasks/${ownTask}/complete`,
      headers: agent(),
      payload: { agent_id: AGENT_A, attempt: task!.attempt, result: { ok: true } },
    });
    expect(done.statusCode).toBe(200);
    // A report repeated after its answer was lost is its own to make again: answered as the first was.
    const again = await app.inject({
      method: "POST",
      url: `/api/v3/tasks/${ownTask}/complete`,
      headers: agent(),
      payload: { agent_id: AGENT_A, attempt: task!.attempt },
    });
    expect(again.statusCode).toBe(200);
    const read = await app.inject({ url: `/api/v3/tasks/${ownTask}`, headers: agent() });
    expect(read.json<{ task: { status: string } }>().task.status).toBe("succeeded");
    const moved = await app.inject({
      method: "POST",
      url: "/api/v3/agents/register",
      headers: agent(),
      payload: { ...registration("self", "own-skill"), endpoint: "http://127.0.0.1:9/moved" },
    });
    expect(moved.statusCode).toBe(200);
    expect(moved.json<{ agent: { id: string; endpoint: string } }>().agent).toMatchObject({
      id: AGENT_A,
      endpoint: "http://127.0.0.1:9/moved",
    });
    await until(
      () => member.local.node.view.state(agentsState).get(AGENT_A)?.endpoint.endsWith("moved") === true,
    );
  });
});
