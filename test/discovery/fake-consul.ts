// A faithful fake of the two Consul HTTP endpoints the provider uses, on a free loopback port:
// GET /v1/catalog/services and GET /v1/health/service/<name>, with the X-Consul-Index header and
// blocking queries as https://developer.hashicorp.com/consul/api-docs/features/blocking describes
// them: a request with ?index=N (N > 0) hangs until the resource's index moves past N or ?wait=
// (a Go duration, 5 minutes when left out, at most 10) plus up to wait/16 of jitter runs out, then
// answers the current state with its index. The catalog's index moves with registrations and
// deregistrations only; a service's health index also moves with its checks, as in Consul's
// fine-grained indexes. Tests register, deregister and set check status through the helpers, and
// can make the index go backwards or stick at 0 (the misbehaviours clients must survive).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { once } from "node:events";

/** A check's status, as Consul names them. */
export type CheckStatus = "passing" | "warning" | "critical" | "maintenance";

/** A service instance to register on a node. */
export interface FakeServiceInstance {
  readonly node: string;
  /** The node's address (Node.Address). */
  readonly nodeAddress: string;
  readonly id: string;
  readonly service: string;
  readonly tags?: readonly string[];
  /** Service.Address; "" means "use the node's address". */
  readonly address?: string;
  readonly port: number;
  readonly meta?: Readonly<Record<string, string>>;
  /** The service's own checks; the node's serfHealth check is always added. */
  readonly checks?: ReadonlyArray<{ readonly id: string; readonly status: CheckStatus }>;
}

interface StoredInstance {
  readonly instance: FakeServiceInstance;
  readonly createIndex: number;
  modifyIndex: number;
  readonly checks: Map<string, CheckStatus>;
}

interface Waiter {
  readonly resource: string;
  readonly wake: () => void;
}

/** Every request the fake answered, for tests that check what the client asked. */
export interface RecordedRequest {
  readonly path: string;
  readonly index: number | null;
  readonly wait: string | null;
  readonly token: string | null;
}

const MAX_RECORDED_REQUESTS = 10_000;
const MAX_WAIT_MS = 600_000;
const DEFAULT_WAIT_MS = 300_000;

/** The fake Consul agent. */
export class FakeConsul {
  private readonly server: Server;
  private index = 1;
  private catalogIndex = 1;
  /** Index of the last change to each service name (kept after deregistration, as Consul's tombstones are). */
  private readonly serviceIndexes = new Map<string, number>();
  /** Instances by "<node>/<id>". */
  private readonly instances = new Map<string, StoredInstance>();
  /** Node health (the serfHealth check). */
  private readonly nodeHealth = new Map<string, CheckStatus>();
  private readonly waiters = new Set<Waiter>();
  /** Tests waiting for the fake's state (requests seen, requests blocked) to reach something. */
  private watchers: Array<() => void> = [];
  private readonly failures: Array<{ status: number; path: string | null }> = [];
  private stuckIndex: number | null = null;
  readonly requests: RecordedRequest[] = [];
  /** The ACL token required in X-Consul-Token, null for none. */
  token: string | null = null;

  private constructor() {
    this.server = createServer((request, response) => this.handle(request, response));
  }

  /** Starts a fake on a free port of 127.0.0.1. */
  static async start(): Promise<FakeConsul> {
    const fake = new FakeConsul();
    fake.server.listen(0, "127.0.0.1");
    await once(fake.server, "listening");
    return fake;
  }

  /** The agent's address, as CONSUL_ENDPOINT. */
  get endpoint(): string {
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("not listening");
    return `http://127.0.0.1:${address.port}`;
  }

  /** Requests that are blocked waiting for a change right now. */
  get blockedRequests(): number {
    return this.waiters.size;
  }

  /** Resolves once `condition` holds; checked again after every request and every change of what is blocked. */
  async until(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise<void>((resolve) => this.watchers.push(resolve));
  }

  private notify(): void {
    const watchers = this.watchers;
    this.watchers = [];
    for (const wake of watchers) wake();
  }

  /** Registers (or replaces) a service instance. */
  register(instance: FakeServiceInstance): void {
    const index = this.bump();
    const key = `${instance.node}/${instance.id}`;
    const before = this.instances.get(key);
    const checks = new Map<string, CheckStatus>();
    for (const check of instance.checks ?? []) checks.set(check.id, check.status);
    this.instances.set(key, {
      instance,
      createIndex: before?.createIndex ?? index,
      modifyIndex: index,
      checks,
    });
    if (!this.nodeHealth.has(instance.node)) this.nodeHealth.set(instance.node, "passing");
    if (before !== undefined && before.instance.service !== instance.service)
      this.serviceIndexes.set(before.instance.service, index);
    this.serviceIndexes.set(instance.service, index);
    this.catalogIndex = index;
    this.wake(["catalog", `service:${instance.service}`, `service:${before?.instance.service ?? ""}`]);
  }

  /** Deregisters a service instance. */
  deregister(node: string, id: string): void {
    const stored = this.instances.get(`${node}/${id}`);
    if (stored === undefined) return;
    const index = this.bump();
    this.instances.delete(`${node}/${id}`);
    this.serviceIndexes.set(stored.instance.service, index);
    this.catalogIndex = index;
    this.wake(["catalog", `service:${stored.instance.service}`]);
  }

  /** Sets one service check's status; only that service's health index moves. */
  setCheck(node: string, id: string, checkId: string, status: CheckStatus): void {
    const stored = this.instances.get(`${node}/${id}`);
    if (stored === undefined) throw new Error(`no instance ${node}/${id}`);
    const index = this.bump();
    stored.checks.set(checkId, status);
    stored.modifyIndex = index;
    this.serviceIndexes.set(stored.instance.service, index);
    this.wake([`service:${stored.instance.service}`]);
  }

  /** Sets a node's serfHealth check: every service on the node is affected. */
  setNodeHealth(node: string, status: CheckStatus): void {
    const index = this.bump();
    this.nodeHealth.set(node, status);
    const services = new Set<string>();
    for (const stored of this.instances.values()) {
      if (stored.instance.node === node) services.add(stored.instance.service);
    }
    for (const service of services) this.serviceIndexes.set(service, index);
    this.wake([...services].map((service) => `service:${service}`));
  }

  /**
   * Makes every index go back to `index` (as after a snapshot restore) and wakes every blocked
   * query, which then answers with an index lower than the client's.
   */
  rewindIndex(index: number): void {
    this.index = index;
    this.catalogIndex = Math.min(this.catalogIndex, index);
    for (const [service, serviceIndex] of this.serviceIndexes)
      this.serviceIndexes.set(service, Math.min(serviceIndex, index));
    this.wakeAll();
  }

  /** Answers every request with this X-Consul-Index and never blocks (a buggy agent); null to behave again. */
  stickIndex(index: number | null): void {
    this.stuckIndex = index;
    this.wakeAll();
  }

  /** The next `count` requests (to `path` only, when given) fail with `status`. */
  failNext(status: number, count = 1, path: string | null = null): void {
    for (let time = 0; time < count; time++) this.failures.push({ status, path });
  }

  /** Stops the fake: blocked queries are answered and connections closed. */
  async close(): Promise<void> {
    this.wakeAll();
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close").catch(() => undefined);
  }

  private bump(): number {
    this.index++;
    return this.index;
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    this.serve(request, response);
    this.notify();
  }

  private serve(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? "/", "http://consul");
    const token = headerValue(request.headers["x-consul-token"]);
    const indexText = url.searchParams.get("index");
    const waitText = url.searchParams.get("wait");
    if (this.requests.length < MAX_RECORDED_REQUESTS)
      this.requests.push({
        path: url.pathname,
        index: indexText === null ? null : Number(indexText),
        wait: waitText,
        token,
      });
    if (request.method !== "GET") return text(response, 405, "method not allowed");
    const failure = this.failures.findIndex(
      (candidate) => candidate.path === null || candidate.path === url.pathname,
    );
    if (failure >= 0) {
      const [removed] = this.failures.splice(failure, 1);
      return text(response, removed?.status ?? 500, "injected failure");
    }
    if (this.token !== null && token !== this.token) return text(response, 403, "ACL not found");

    const resource = this.resourceOf(url.pathname);
    if (resource === null) return text(response, 404, "not found");
    const index = indexText === null ? 0 : Number(indexText);
    if (!Number.isSafeInteger(index) || index < 0) return text(response, 400, "Invalid index");
    const waitMs = waitText === null ? DEFAULT_WAIT_MS : parseGoDuration(waitText);
    if (waitMs === null) return text(response, 400, "Invalid wait time");

    const answer = (): void => this.answer(response, resource);
    if (index === 0 || this.stuckIndex !== null || this.indexOf(resource) > index) return answer();
    this.block(response, resource, index, waitMs, answer);
  }

  private block(
    response: ServerResponse,
    resource: string,
    index: number,
    waitMs: number,
    answer: () => void,
  ): void {
    const bounded = Math.min(waitMs, MAX_WAIT_MS);
    // Consul adds up to wait/16 so that many waiting clients do not all wake at once.
    const jittered = bounded + Math.floor(Math.random() * (bounded / 16));
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.waiters.delete(waiter);
      if (!response.destroyed) answer();
      this.notify();
    };
    const waiter: Waiter = {
      resource,
      wake: () => {
        // A change that does not move this resource's index past the client's keeps it waiting,
        // except when the index went backwards (a restore), which Consul answers at once.
        if (this.indexOf(resource) !== index || this.stuckIndex !== null) finish();
      },
    };
    const timer = setTimeout(finish, jittered);
    this.waiters.add(waiter);
    response.on("close", () => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        this.notify();
      }
    });
  }

  private wake(resources: readonly string[]): void {
    for (const waiter of [...this.waiters]) if (resources.includes(waiter.resource)) waiter.wake();
  }

  private wakeAll(): void {
    for (const waiter of [...this.waiters]) waiter.wake();
  }

  private resourceOf(path: string): string | null {
    if (path === "/v1/catalog/services") return "catalog";
    const match = /^\/v1\/health\/service\/([^/]+)$/.exec(path);
    return match === null ? null : `service:${decodeURIComponent(match[1] ?? "")}`;
  }

  private indexOf(resource: string): number {
    if (this.stuckIndex !== null) return this.stuckIndex;
    if (resource === "catalog") return this.catalogIndex;
    // A service never seen answers with the catalog's index, never with 0.
    return this.serviceIndexes.get(resource.slice("service:".length)) ?? this.catalogIndex;
  }

  private answer(response: ServerResponse, resource: string): void {
    const body =
      resource === "catalog" ? this.catalogBody() : this.healthBody(resource.slice("service:".length));
    response.writeHead(200, {
      "Content-Type": "application/json",
      "X-Consul-Index": String(this.indexOf(resource)),
      "X-Consul-Knownleader": "true",
      "X-Consul-Lastcontact": "0",
    });
    response.end(JSON.stringify(body));
  }

  private catalogBody(): Record<string, string[]> {
    // Consul lists every service with the union of its instances' tags; "consul" itself is always there.
    const services = new Map<string, Set<string>>([["consul", new Set()]]);
    for (const { instance } of this.instances.values()) {
      const tags = services.get(instance.service) ?? new Set<string>();
      for (const tag of instance.tags ?? []) tags.add(tag);
      services.set(instance.service, tags);
    }
    const body: Record<string, string[]> = {};
    for (const [service, tags] of [...services].sort(([a], [b]) => a.localeCompare(b)))
      Object.defineProperty(body, service, { value: [...tags].sort(), enumerable: true });
    return body;
  }

  private healthBody(service: string): unknown[] {
    const entries: unknown[] = [];
    for (const stored of this.instances.values()) {
      const { instance } = stored;
      if (instance.service !== service) continue;
      const nodeStatus = this.nodeHealth.get(instance.node) ?? "passing";
      entries.push({
        Node: {
          ID: `00000000-0000-0000-0000-${String(entries.length).padStart(12, "0")}`,
          Node: instance.node,
          Address: instance.nodeAddress,
          Datacenter: "dc1",
          TaggedAddresses: { lan: instance.nodeAddress, wan: instance.nodeAddress },
          Meta: { "consul-network-segment": "" },
          CreateIndex: 5,
          ModifyIndex: 5,
        },
        Service: {
          ID: instance.id,
          Service: instance.service,
          Tags: instance.tags === undefined ? null : [...instance.tags],
          Address: instance.address ?? "",
          TaggedAddresses: null,
          Meta: instance.meta === undefined ? null : { ...instance.meta },
          Port: instance.port,
          Weights: { Passing: 1, Warning: 1 },
          EnableTagOverride: false,
          Namespace: "default",
          CreateIndex: stored.createIndex,
          ModifyIndex: stored.modifyIndex,
        },
        Checks: [
          {
            Node: instance.node,
            CheckID: "serfHealth",
            Name: "Serf Health Status",
            Status: nodeStatus,
            Notes: "",
            Output: "Agent alive and reachable",
            ServiceID: "",
            ServiceName: "",
            ServiceTags: [],
            Type: "",
            Namespace: "default",
          },
          ...[...stored.checks].map(([checkId, status]) => ({
            Node: instance.node,
            CheckID: checkId,
            Name: `Service '${instance.service}' check`,
            Status: status,
            Notes: "",
            Output: "",
            ServiceID: instance.id,
            ServiceName: instance.service,
            ServiceTags: [...(instance.tags ?? [])],
            Type: "http",
            Namespace: "default",
          })),
        ],
      });
    }
    return entries;
  }
}

function headerValue(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? (value[0] ?? null) : value;
}

function text(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" });
  response.end(body);
}

/** Parses a Go duration such as "10s", "5m", "1m30s" or "250ms"; null when it is not one. */
export function parseGoDuration(text: string): number | null {
  const units: ReadonlyMap<string, number> = new Map([
    ["ns", 1e-6],
    ["us", 1e-3],
    ["µs", 1e-3],
    ["ms", 1],
    ["s", 1_000],
    ["m", 60_000],
    ["h", 3_600_000],
  ]);
  if (text === "0") return 0;
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let position = 0;
  while (position < text.length) {
    part.lastIndex = position;
    const match = part.exec(text);
    if (match === null) return null;
    total += Number(match[1]) * (units.get(match[2] ?? "") ?? Number.NaN);
    position = part.lastIndex;
  }
  return position === 0 || !Number.isFinite(total) ? null : total;
}
