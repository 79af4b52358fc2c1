/**
 * A fake juno for the SDK's tests: an in-memory agents registry behind the API's routes, served
 * by one or more node:http servers on free loopback ports. Each fake node can be told to refuse
 * (503 no_leader with Retry-After, an outcome_unknown, any status), to hang, or to go away, to
 * prove failover; every request it sees is recorded. For the task worker it also takes polls
 * (handing out what a test assigns, held up to wait_ms), reports (recorded) and revocations (told
 * on the poll and beat answers that list the attempt), without any placement of its own. Reports
 * come one by one (/tasks/{id}/complete, /fail) or batched (/tasks/report, which a fake of an
 * older juno lacks, and whose `take` hands out assigned tasks as a poll does); like juno, a
 * completion sent again is answered ok and taken once, a failure sent again is stale, and
 * GET /tasks/{id} shows the last report taken.
 */

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { AgentStatus, AgentView, CancelledAttempt, TaskDelivery } from "../../src/client/index.js";

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

/** A task report the fake took. */
export interface FakeReport {
  readonly id: string;
  readonly verb: "complete" | "fail";
  readonly body: Record<string, unknown>;
}

/** The outcome of one report, as /tasks/{id}/complete or /fail answer it. */
type ReportAnswer =
  | { readonly ok: true; readonly task: Record<string, unknown> }
  | { readonly ok: false; readonly status: number; readonly code: string; readonly message: string };

/** The registry every fake node of one fake cluster shares, like the replicated state. */
export class FakeRegistry {
  readonly agents = new Map<string, FakeAgent>();
  token: string | null = null;
  heartbeatIntervalMs = 1_000;
  leaseMs = 3_000;
  /** Given to push agents in the register answer, as a cluster with a secret does (null: none). */
  deliveryKey: string | null = null;
  /** The page size when a request gives no limit. */
  pageSize = 50;
  /** Tasks assigned to an agent that its next poll hands out, by agent id. */
  readonly assigned = new Map<string, TaskDelivery[]>();
  /** Attempts no longer their agent's (`${id}#${attempt}` to the reason); reports of them are stale. */
  readonly revoked = new Map<string, string>();
  /** Whether poll answers tell revocations (beat answers always do). */
  cancelOnPoll = true;
  /** Every report taken, in order; a completion sent again is taken once. */
  readonly reports: FakeReport[] = [];
  /** Whether POST /tasks/report is served; false makes a fake of a juno older than the route (404 not_found). */
  reportRoute = true;
  /**
   * Whether POST /tasks/report takes `take` (starting the agent's assigned tasks, as a poll
   * would); false makes a fake of a juno older than it, which refuses such a body (400).
   */
  takeOnReport = true;
  /** The body of every POST /tasks/report served, in order. */
  readonly batches: Record<string, unknown>[] = [];
  /**
   * Attempts (`${id}#${attempt}`) whose reports are refused stale_attempt although no poll or beat
   * says so: the news has not reached the agent yet.
   */
  readonly staleReports = new Set<string>();
  /** The report that ended each attempt (`${id}#${attempt}`). */
  private readonly ended = new Map<string, FakeReport>();
  /** Woken when a task is assigned or an attempt revoked, for held polls. */
  private readonly changeWaiters = new Set<() => void>();

  /** Assigns `task` to the agent: its next poll hands it out. */
  assign(agentId: string, task: TaskDelivery): void {
    this.assigned.set(agentId, [...(this.assigned.get(agentId) ?? []), task]);
    this.changed();
  }

  /** Takes an attempt back from its agent: polls and beats that list it hear `reason`. */
  revoke(id: string, attempt: number, reason = "cancelled"): void {
    this.revoked.set(`${id}#${attempt}`, reason);
    this.changed();
  }

  /** The reports of task `id`. */
  reportsOf(id: string): FakeReport[] {
    return this.reports.filter((report) => report.id === id);
  }

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
    if (method === "POST" && path === "/api/v3/tasks/report" && this.reportRoute) {
      return this.reportBatch(request.body);
    }
    const report = /^\/api\/v3\/tasks\/([^/]+)\/(complete|fail)$/.exec(path);
    if (method === "POST" && report !== null) {
      return this.report(decodeURIComponent(report[1] ?? ""), report[2] as "complete" | "fail", request.body);
    }
    const task = /^\/api\/v3\/tasks\/([^/]+)$/.exec(path);
    if (method === "GET" && task !== null) return this.task(decodeURIComponent(task[1] ?? ""));
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
      body: {
        agent,
        heartbeat_interval_ms: this.heartbeatIntervalMs,
        lease_ms: this.leaseMs,
        ...(this.deliveryKey !== null &&
        (request as { delivery?: { mode?: string } }).delivery?.mode === "push"
          ? { delivery_key: this.deliveryKey }
          : {}),
      },
    });
    const known = [...this.agents.values()].find(
      (agent) => agent.view.name === request.name && agent.view.endpoint === request.endpoint,
    );
    if (known !== undefined) {
      known.view = { ...known.view, capabilities, updated_at: new Date().toISOString() };
      return answer(known.view, 200);
    }
    const delivery = (body as { delivery?: { mode: "pull" | "push"; url?: string } }).delivery;
    const view = this.add({
      name: request.name as string,
      endpoint: request.endpoint as string,
      team: request.team as string,
      capabilities,
      metadata: (request.metadata ?? {}) as Record<string, unknown>,
      delivery:
        delivery?.mode === "push"
          ? { mode: "push", url: delivery.url ?? `${String(request.endpoint)}/juno/tasks` }
          : { mode: "pull", url: null },
    });
    return answer(view, 201);
  }

  /** The answer to one request, for the routes that may wait (a poll); the rest as handle() does. */
  async handleAsync(
    request: RecordedRequest,
    signal: AbortSignal,
  ): Promise<{ status: number; body: unknown }> {
    const authorized = this.token === null || request.authorization === `Bearer ${this.token}`;
    if (authorized && request.method === "POST" && request.path === "/api/v3/tasks/poll") {
      return this.poll(request.body, signal);
    }
    return this.handle(request);
  }

  /** A poll: the agent's assigned tasks, and its revoked running attempts; held up to wait_ms for either. */
  private async poll(body: unknown, signal: AbortSignal): Promise<{ status: number; body: unknown }> {
    const request = (body ?? {}) as {
      agent_id?: string;
      max_tasks?: number;
      wait_ms?: number;
      running?: { id: string; attempt: number }[];
    };
    const agentId = request.agent_id ?? "";
    if (!this.agents.has(agentId)) return refusal(404, "agent_not_found", `no agent ${agentId}`);
    const deadline = Date.now() + (request.wait_ms ?? 0);
    for (;;) {
      const waiting = this.assigned.get(agentId) ?? [];
      const tasks = waiting.splice(0, request.max_tasks ?? 1);
      const cancelled = this.cancelOnPoll ? this.revokedAmong(request.running) : [];
      if (tasks.length > 0 || cancelled.length > 0 || Date.now() >= deadline || signal.aborted) {
        return { status: 200, body: { tasks, cancelled } };
      }
      await this.nextChange(Math.min(deadline - Date.now(), 100));
    }
  }

  /** The listed attempts that are revoked, as a poll or beat answer tells them. */
  private revokedAmong(running: unknown): CancelledAttempt[] {
    if (!Array.isArray(running)) return [];
    const cancelled: CancelledAttempt[] = [];
    for (const { id, attempt } of running as { id: string; attempt: number }[]) {
      const reason = this.revoked.get(`${id}#${attempt}`);
      if (reason !== undefined) cancelled.push({ id, attempt, reason });
    }
    return cancelled;
  }

  private report(id: string, verb: "complete" | "fail", body: unknown): { status: number; body: unknown } {
    const answer = this.take(id, verb, (body ?? {}) as Record<string, unknown>);
    return answer.ok
      ? { status: 200, body: { task: answer.task } }
      : refusal(answer.status, answer.code, answer.message);
  }

  /** POST /tasks/report: each report answered as its own endpoint would, completions first. */
  private reportBatch(body: unknown): { status: number; body: unknown } {
    const request = (body ?? {}) as {
      agent_id?: string;
      completed?: Record<string, unknown>[];
      failed?: Record<string, unknown>[];
      take?: number;
    };
    if (request.take !== undefined && !this.takeOnReport)
      return refusal(400, "validation_failed", "body must NOT have additional properties");
    const items = [
      ...(request.completed ?? []).map((item) => ({ verb: "complete" as const, item })),
      ...(request.failed ?? []).map((item) => ({ verb: "fail" as const, item })),
    ];
    const ids = new Set(items.map(({ item }) => item["id"]));
    if (items.length === 0 || items.length > 256 || ids.size !== items.length) {
      return refusal(400, "validation_failed", "a report names 1..256 attempts, each task once");
    }
    this.batches.push(request);
    const results = items.map(({ verb, item }) => {
      const { id: _id, ...fields } = item;
      const id = item["id"] as string;
      const answer = this.take(id, verb, { ...fields, agent_id: request.agent_id });
      return answer.ok
        ? { id, attempt: item["attempt"], ok: true, status: answer.task["status"] }
        : { id, attempt: item["attempt"], ok: false, error: { code: answer.code, message: answer.message } };
    });
    const tasks = (this.assigned.get(request.agent_id ?? "") ?? []).splice(0, request.take ?? 0);
    if (tasks.length > 0) this.changed();
    return { status: 200, body: { results, tasks } };
  }

  /** Takes one report, or refuses it as juno would: stale when revoked or already ended. */
  private take(id: string, verb: "complete" | "fail", request: Record<string, unknown>): ReportAnswer {
    const attempt = request["attempt"] as number;
    const key = `${id}#${attempt}`;
    const ended = this.ended.get(key);
    // The same completion again (its answer was lost) is answered like the first, taken once.
    if (
      ended !== undefined &&
      verb === "complete" &&
      ended.verb === "complete" &&
      ended.body["agent_id"] === request["agent_id"]
    ) {
      return { ok: true, task: taskOf(ended) };
    }
    if (this.revoked.has(key) || this.staleReports.has(key) || ended !== undefined) {
      return {
        ok: false,
        status: 409,
        code: "stale_attempt",
        message: `attempt ${attempt} of ${id} is no longer current`,
      };
    }
    const report: FakeReport = { id, verb, body: request };
    this.reports.push(report);
    this.ended.set(key, report);
    return { ok: true, task: taskOf(report) };
  }

  /** GET /tasks/{id}: the task as the last report taken left it. */
  private task(id: string): { status: number; body: unknown } {
    const last = this.reportsOf(id).at(-1);
    return last === undefined
      ? refusal(404, "task_not_found", `no task ${id}`)
      : { status: 200, body: { task: taskOf(last) } };
  }

  private changed(): void {
    for (const wake of [...this.changeWaiters]) wake();
  }

  /** Resolves at the next assign() or revoke(), or after `ms`. */
  private nextChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.changeWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(ms, 0));
      this.changeWaiters.add(done);
    });
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
    // Like juno: a beat that lists no running attempt hears nothing of them.
    const cancelled = this.revokedAmong(beat["running"]);
    return {
      status: 200,
      body: {
        id: agent.view.id,
        status: agent.view.status,
        lease_expires_at: new Date(Date.now() + this.leaseMs).toISOString(),
        heartbeat_interval_ms: this.heartbeatIntervalMs,
        ...(cancelled.length === 0 ? {} : { cancelled }),
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

/** The task a report leaves: completed with its result, or queued again with its error. */
function taskOf(report: FakeReport): Record<string, unknown> {
  const { body } = report;
  return {
    id: report.id,
    task_type: "fake",
    status: report.verb === "complete" ? "succeeded" : body["retryable"] === false ? "failed" : "queued",
    attempt: body["attempt"],
    previous_agents: [body["agent_id"]],
    result: body["result"] ?? null,
    error:
      report.verb === "complete"
        ? null
        : { message: body["error"], retryable: body["retryable"] !== false, cause: "agent" },
  };
}

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
    const behavior = this.behaviorFor(recorded);
    if (behavior.kind === "serve" && recorded.path === "/api/v3/tasks/poll") {
      // A held poll ends early when its client goes away or the node closes.
      const gone = new AbortController();
      response.on("close", () => gone.abort());
      this.hanging.add(response);
      const { status, body } = await this.registry.handleAsync(recorded, gone.signal);
      this.hanging.delete(response);
      if (!response.destroyed) {
        response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      }
      return;
    }
    this.answer(behavior, recorded, response);
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
