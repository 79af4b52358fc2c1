/**
 * A fake juno for the SDK's tests: an in-memory agents registry behind the API's routes, served
 * by one or more node:http servers on free loopback ports. Each fake node can be told to refuse
 * (503 no_leader with Retry-After, an outcome_unknown, any status), to hang, or to go away, to
 * prove failover; every request it sees is recorded.
 */

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { AgentStatus, AgentView } from "../../src/client/index.js";

/** A request a fake node saw. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly authorization: string | undefined;
}

/** How a fake node answers. */
export type Behavior =
  | { readonly kind: "serve" }
  /** Answers in juno's error shape with this status and code (and Retry-After, unless null). */
  | {
      readonly kind: "refuse";
      readonly status: number;
      readonly code: string;
      readonly retryAfter?: string | null;
    }
  /** Answers this status with this body as it is, like a proxy's own page. */
  | { readonly kind: "raw"; readonly status: number; readonly body: string }
  /** Reads the request and never answers. */
  | { readonly kind: "hang" };

/** A behaviour for some requests only; the node's own behaviour for the rest. */
interface Rule {
  readonly match: (request: RecordedRequest) => boolean;
  readonly behavior: Behavior;
  /** How many more requests it applies to; Infinity for all. */
  remaining: number;
}

/** One agent as the fake keeps it, with the last beat it got. */
export interface FakeAgent {
  view: AgentView;
  lastBeat: Record<string, unknown> | null;
  beats: number;
}

/** The registry every fake node of one fake cluster shares, like the replicated state. */
export class FakeRegistry {
  readonly agents = new Map<string, FakeAgent>();
  token: string | null = null;
  heartbeatIntervalMs = 1_000;
  leaseMs = 3_000;
  /** The page size when a request gives no limit. */
  pageSize = 50;

  /** The agent with `id`; fails the test when there is none. */
  agent(id: string): FakeAgent {
    const agent = this.agents.get(id);
    if (agent === undefined) throw new Error(`the fake has no agent ${id}`);
    return agent;
  }

  /** Sets an agent's status, as the leader's health controller would. */
  setStatus(id: string, status: AgentStatus): void {
    const agent = this.agent(id);
    agent.view = { ...agent.view, status, status_since: new Date().toISOString() };
  }

  /** Adds an agent directly, as if registered long ago; returns its view. */
  add(fields: Partial<AgentView> & Pick<AgentView, "name" | "team">): AgentView {
    const now = new Date().toISOString();
    const view: AgentView = {
      id: randomUUID(),
      endpoint: `http://${fields.name}.example:9000`,
      capabilities: { skills: [], capacity: 1, weight: 1, labels: {} },
      metadata: {},
      status: "healthy",
      status_since: now,
      status_reason: null,
      last_heartbeat: null,
      registered_at: now,
      updated_at: now,
      source: "custom",
      draining: false,
      ...fields,
    };
    this.agents.set(view.id, { view, lastBeat: null, beats: 0 });
    return view;
  }

  /** The answer to one request: status and JSON body. */
  handle(request: RecordedRequest): { status: number; body: unknown } {
    if (this.token !== null && request.authorization !== `Bearer ${this.token}`) {
      return refusal(401, "unauthorized", "a valid bearer token is required");
    }
    const { method, path } = request;
    if (method === "GET" && path === "/api/v3/consensus/status") return { status: 200, body: STATUS };
    if (method === "POST" && path === "/api/v3/echo") return { status: 201, body: { echoed: request.body } };
    if (method === "POST" && path === "/api/v3/agents/register") return this.register(request.body);
    if (method === "GET" && path === "/api/v3/agents") return this.list(request.query);
    if (method === "GET" && path === "/api/v3/agents/health") return this.summary();
    if (method === "GET" && path === "/api/v3/agents/resolve") return this.resolve(request.query);
    const match = /^\/api\/v3\/agents\/([^/]+)(\/heartbeat|\/health)?$/.exec(path);
    if (match === null) return refusal(404, "not_found", `no route ${method} ${path}`);
    const id = decodeURIComponent(match[1] ?? "");
    const agent = this.agents.get(id);
    if (agent === undefined) return refusal(404, "agent_not_found", `no agent ${id}`);
    if (method === "POST" && match[2] === "/heartbeat") return this.beat(agent, request.body);
    if (method === "GET" && match[2] === "/health") return { status: 200, body: healthOf(agent) };
    if (method === "GET" && match[2] === undefined) return { status: 200, body: { agent: agent.view } };
    if (method === "DELETE" && match[2] === undefined) {
      this.agents.delete(id);
      return { status: 200, body: { agent: { ...agent.view, status: "deregistered" } } };
    }
    return refusal(404, "not_found", `no route ${method} ${path}`);
  }

  private register(body: unknown): { status: number; body: unknown } {
    const request = body as {
      name?: unknown;
      endpoint?: unknown;
      team?: unknown;
      capabilities?: { skills?: unknown; capacity?: unknown; weight?: unknown; labels?: unknown };
      metadata?: unknown;
    };
    for (const field of ["name", "endpoint", "team"] as const) {
      if (typeof request[field] !== "string" || request[field] === "") {
        return refusal(400, "invalid_request", `${field} is required`, { field });
      }
    }
    const capacity = request.capabilities?.capacity;
    if (typeof capacity !== "number" || !Number.isInteger(capacity) || capacity < 1) {
      return refusal(400, "invalid_request", "capacity must be a whole number >= 1", {
        field: "capabilities.capacity",
      });
    }
    const capabilities = {
      skills: (request.capabilities?.skills ?? []) as string[],
      capacity,
      weight: (request.capabilities?.weight ?? 1) as number,
      labels: (request.capabilities?.labels ?? {}) as Record<string, string>,
    };
    const answer = (agent: AgentView, status: number): { status: number; body: unknown } => ({
      status,
      body: { agent, heartbeat_interval_ms: this.heartbeatIntervalMs, lease_ms: this.leaseMs },
    });
    const known = [...this.agents.values()].find(
      (agent) => agent.view.name === request.name && agent.view.endpoint === request.endpoint,
    );
    if (known !== undefined) {
      known.view = { ...known.view, capabilities, updated_at: new Date().toISOString() };
      return answer(known.view, 200);
    }
    const view = this.add({
      name: request.name as string,
      endpoint: request.endpoint as string,
      team: request.team as string,
      capabilities,
      metadata: (request.metadata ?? {}) as Record<string, unknown>,
    });
    return answer(view, 201);
  }

  private beat(agent: FakeAgent, body: unknown): { status: number; body: unknown } {
    const beat = (body ?? {}) as Record<string, unknown>;
    agent.lastBeat = beat;
    agent.beats++;
    agent.view = {
      ...agent.view,
      last_heartbeat: new Date().toISOString(),
      draining: beat["draining"] === true,
    };
    return {
      status: 200,
      body: {
        id: agent.view.id,
        status: agent.view.status,
        lease_expires_at: new Date(Date.now() + this.leaseMs).toISOString(),
        heartbeat_interval_ms: this.heartbeatIntervalMs,
      },
    };
  }

  private filtered(query: URLSearchParams): AgentView[] {
    const team = query.get("team");
    const skill = query.get("skill");
    const status = query.get("status");
    const labels = query
      .getAll("label")
      .map((label) => [label.slice(0, label.indexOf("=")), label.slice(label.indexOf("=") + 1)]);
    return [...this.agents.values()]
      .map((agent) => agent.view)
      .filter(
        (view) =>
          (team === null || view.team === team) &&
          (skill === null || view.capabilities.skills.includes(skill)) &&
          (status === null || view.status === status) &&
          labels.every(([key, value]) => view.capabilities.labels[key ?? ""] === value),
      );
  }

  private list(query: URLSearchParams): { status: number; body: unknown } {
    const all = this.filtered(query);
    const offset = Number(query.get("cursor") ?? "0");
    const limit = Number(query.get("limit") ?? String(this.pageSize));
    const agents = all.slice(offset, offset + limit);
    const next = offset + limit < all.length ? String(offset + limit) : null;
    return { status: 200, body: { agents, next_cursor: next } };
  }

  private summary(): { status: number; body: unknown } {
    const byStatus: Record<string, number> = {};
    const byTeam: Record<string, Record<string, number>> = {};
    for (const { view } of this.agents.values()) {
      byStatus[view.status] = (byStatus[view.status] ?? 0) + 1;
      const team = (byTeam[view.team] ??= {});
      team[view.status] = (team[view.status] ?? 0) + 1;
    }
    return { status: 200, body: { total: this.agents.size, by_status: byStatus, by_team: byTeam } };
  }

  private resolve(query: URLSearchParams): { status: number; body: unknown } {
    const agents = this.filtered(query)
      .filter((view) => view.status === "healthy" && !view.draining)
      .map((view) => ({
        id: view.id,
        name: view.name,
        endpoint: view.endpoint,
        weight: view.capabilities.weight,
        capacity: view.capabilities.capacity,
        active_tasks: 0,
      }));
    return { status: 200, body: { agents } };
  }
}

const STATUS = {
  node_id: "n1",
  role: "leader",
  term: 3,
  leader_id: "n1",
  commit_index: 10,
  applied_index: 10,
  state_hash: "abc",
  members: [],
};

function healthOf(agent: FakeAgent): unknown {
  return {
    id: agent.view.id,
    status: agent.view.status,
    since: agent.view.status_since,
    reason: agent.view.status_reason,
    phi: null,
    last_heartbeat: agent.view.last_heartbeat,
    lease_expires_at: null,
    checks: [{ ok: true, latency_ms: 3, detail: "200 OK", at: agent.view.status_since }],
  };
}

function refusal(
  status: number,
  code: string,
  message: string,
  details: Record<string, unknown> = {},
): { status: number; body: unknown } {
  return { status, body: { error: { code, message, ...details } } };
}

/** One fake node on a free loopback port. */
export class FakeNode {
  readonly requests: RecordedRequest[] = [];
  behavior: Behavior = { kind: "serve" };
  private readonly rules: Rule[] = [];
  private readonly arrivals: ((request: RecordedRequest) => void)[] = [];
  private readonly hanging = new Set<ServerResponse>();

  private constructor(
    readonly registry: FakeRegistry,
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** Starts a node serving `registry` on a port the system picks. */
  static async start(registry: FakeRegistry): Promise<FakeNode> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const node = new FakeNode(registry, server, `http://127.0.0.1:${port}`);
    server.on("request", (request: IncomingMessage, response: ServerResponse) => {
      void node.serve(request, response);
    });
    return node;
  }

  /** Answers the next `count` requests that match with `behavior` instead of the node's own. */
  when(
    match: (request: RecordedRequest) => boolean,
    behavior: Behavior,
    count = Number.POSITIVE_INFINITY,
  ): void {
    this.rules.push({ match, behavior, remaining: count });
  }

  /** The next request to arrive. */
  nextRequest(): Promise<RecordedRequest> {
    return new Promise((resolve) => this.arrivals.push(resolve));
  }

  /** Stops the node; its port then refuses connections and hanging requests are cut. */
  async close(): Promise<void> {
    for (const response of this.hanging) response.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const url = new URL(request.url ?? "/", "http://fake");
    const recorded: RecordedRequest = {
      method: request.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      body: text === "" ? undefined : JSON.parse(text),
      authorization: request.headers.authorization,
    };
    this.requests.push(recorded);
    for (const arrived of this.arrivals.splice(0)) arrived(recorded);
    this.answer(this.behaviorFor(recorded), recorded, response);
  }

  private behaviorFor(request: RecordedRequest): Behavior {
    const rule = this.rules.find((candidate) => candidate.remaining > 0 && candidate.match(request));
    if (rule === undefined) return this.behavior;
    rule.remaining--;
    return rule.behavior;
  }

  private answer(behavior: Behavior, request: RecordedRequest, response: ServerResponse): void {
    switch (behavior.kind) {
      case "hang":
        this.hanging.add(response);
        response.on("close", () => this.hanging.delete(response));
        return;
      case "raw":
        response.writeHead(behavior.status, { "content-type": "text/html" }).end(behavior.body);
        return;
      case "refuse": {
        const headers: Record<string, string> = { "content-type": "application/json" };
        const retryAfter = behavior.retryAfter === undefined ? "1" : behavior.retryAfter;
        if (retryAfter !== null) headers["retry-after"] = retryAfter;
        const body = { error: { code: behavior.code, message: `refused: ${behavior.code}` } };
        response.writeHead(behavior.status, headers).end(JSON.stringify(body));
        return;
      }
      case "serve": {
        const { status, body } = this.registry.handle(request);
        response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
        return;
      }
    }
  }
}

/** A cluster of fake nodes sharing one registry. */
export class FakeCluster {
  private constructor(
    readonly registry: FakeRegistry,
    readonly nodes: readonly FakeNode[],
  ) {}

  static async start(size: number): Promise<FakeCluster> {
    const registry = new FakeRegistry();
    const nodes: FakeNode[] = [];
    for (let i = 0; i < size; i++) nodes.push(await FakeNode.start(registry));
    return new FakeCluster(registry, nodes);
  }

  /** The node at `index`; fails the test when there is none. */
  node(index: number): FakeNode {
    const node = this.nodes[index];
    if (node === undefined) throw new Error(`no fake node ${index}`);
    return node;
  }

  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.close()));
  }
}

/** The URL of a loopback port nothing listens on, so connecting is refused. */
export async function refusingUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
