// A faithful fake of the parts of the Kubernetes API server the provider uses, on a free loopback
// port: GET of a Service, list of EndpointSlices (discovery.k8s.io/v1) with a label selector,
// limit and continue, and watch (?watch=true&resourceVersion=...) as newline-delimited JSON events
// (ADDED, MODIFIED, DELETED, BOOKMARK when asked for, ERROR). Every write moves one global
// resourceVersion, as etcd's revision does; a watch from a version older than the retained history
// answers an ERROR event with a 410 Expired Status (as the API server's watch cache does), or a plain
// HTTP 410 when `expiredAsHttpStatus` is set. Tests create, update and delete slices and services,
// compact the history, send bookmarks and end watches through the helpers.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { once } from "node:events";

/** An EndpointSlice as a test writes it (JSON, as the API serves it). */
export interface FakeEndpointSlice {
  readonly name: string;
  readonly namespace: string;
  readonly service: string;
  readonly addressType?: "IPv4" | "IPv6" | "FQDN";
  readonly ports: ReadonlyArray<{ name?: string; port: number; protocol?: string }>;
  readonly endpoints: ReadonlyArray<{
    addresses: readonly string[];
    conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
    nodeName?: string;
    zone?: string;
    targetRef?: { kind: string; name: string; namespace: string };
  }>;
}

interface StoredObject {
  readonly kind: "EndpointSlice" | "Service";
  readonly namespace: string;
  readonly name: string;
  readonly labels: ReadonlyMap<string, string>;
  readonly json: Record<string, unknown>;
  readonly resourceVersion: number;
}

interface HistoryEvent {
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  readonly object: StoredObject;
}

interface OpenWatch {
  readonly namespace: string;
  readonly selector: Selector;
  readonly bookmarks: boolean;
  readonly response: ServerResponse;
}

type Selector = (labels: ReadonlyMap<string, string>) => boolean;

/** What the fake saw of one request. */
export interface RecordedKubeRequest {
  readonly path: string;
  readonly watch: boolean;
  readonly resourceVersion: string | null;
  readonly labelSelector: string | null;
  readonly limit: number | null;
  readonly continueToken: string | null;
  readonly authorization: string | null;
}

const MAX_RECORDED_REQUESTS = 10_000;

/** The fake API server. */
export class FakeKubeApi {
  private readonly server: Server;
  private revision = 100;
  /** The oldest revision a watch may start after; older ones are Expired. */
  private compactedRevision = 100;
  private readonly objects = new Map<string, StoredObject>();
  private readonly history: HistoryEvent[] = [];
  private readonly watches = new Set<OpenWatch>();
  private watchers: Array<() => void> = [];
  private failures: Array<{ status: number; watch: boolean }> = [];
  readonly requests: RecordedKubeRequest[] = [];
  /** Answer an expired watch with HTTP 410 instead of a 200 and an ERROR event. */
  expiredAsHttpStatus = false;
  /** The bearer token required, null for none. */
  token: string | null = null;

  private constructor() {
    this.server = createServer((request, response) => {
      this.handle(request, response);
      this.notify();
    });
  }

  /** Starts a fake on a free port of 127.0.0.1. */
  static async start(): Promise<FakeKubeApi> {
    const fake = new FakeKubeApi();
    fake.server.listen(0, "127.0.0.1");
    await once(fake.server, "listening");
    return fake;
  }

  /** The server URL, as a kubeconfig's cluster.server. */
  get url(): string {
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("not listening");
    return `http://127.0.0.1:${address.port}`;
  }

  /** Watches open right now. */
  get openWatches(): number {
    return this.watches.size;
  }

  /** The current resourceVersion. */
  get resourceVersion(): string {
    return String(this.revision);
  }

  /** Resolves once `condition` holds; checked after every request and every watch that ends. */
  async until(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise<void>((resolve) => this.watchers.push(resolve));
  }

  /** Creates or replaces a Service with these annotations. */
  setService(namespace: string, name: string, annotations: Readonly<Record<string, string>>): void {
    this.write("Service", namespace, name, new Map(), (resourceVersion) => ({
      kind: "Service",
      apiVersion: "v1",
      metadata: { name, namespace, resourceVersion, annotations: { ...annotations }, uid: `uid-${name}` },
      spec: { type: "ClusterIP", ports: [{ port: 80, protocol: "TCP" }] },
    }));
  }

  /** Creates or updates an EndpointSlice (labelled with its service, as the EndpointSlice controller does). */
  applySlice(slice: FakeEndpointSlice): void {
    const labels = new Map([
      ["kubernetes.io/service-name", slice.service],
      ["endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io"],
    ]);
    this.write("EndpointSlice", slice.namespace, slice.name, labels, (resourceVersion) => ({
      kind: "EndpointSlice",
      apiVersion: "discovery.k8s.io/v1",
      metadata: {
        name: slice.name,
        namespace: slice.namespace,
        resourceVersion,
        labels: Object.fromEntries(labels),
        generateName: `${slice.service}-`,
      },
      addressType: slice.addressType ?? "IPv4",
      endpoints: slice.endpoints,
      ports: slice.ports,
    }));
  }

  /** Deletes an EndpointSlice. */
  deleteSlice(namespace: string, name: string): void {
    const key = objectKey("EndpointSlice", namespace, name);
    const stored = this.objects.get(key);
    if (stored === undefined) return;
    this.revision++;
    this.objects.delete(key);
    const metadata = {
      ...(stored.json["metadata"] as Record<string, unknown>),
      resourceVersion: String(this.revision),
    };
    const deleted: StoredObject = {
      ...stored,
      resourceVersion: this.revision,
      json: { ...stored.json, metadata },
    };
    this.record({ type: "DELETED", object: deleted });
  }

  /** Forgets the history up to now: watches from any older resourceVersion are Expired (410). */
  compact(): void {
    this.compactedRevision = this.revision;
    this.history.length = 0;
  }

  /** Sends a BOOKMARK with the current resourceVersion to every watch that asked for bookmarks. */
  bookmark(): void {
    for (const watch of this.watches) {
      if (!watch.bookmarks) continue;
      writeEvent(watch.response, {
        type: "BOOKMARK",
        object: {
          kind: "EndpointSlice",
          apiVersion: "discovery.k8s.io/v1",
          metadata: { resourceVersion: String(this.revision) },
        },
      });
    }
  }

  /** Ends every open watch normally (as the server does at timeoutSeconds). */
  endWatches(): void {
    for (const watch of [...this.watches]) {
      this.watches.delete(watch);
      watch.response.end();
    }
    this.notify();
  }

  /** Ends every open watch with an ERROR event of 410 Expired (as after a compaction under a watch). */
  expireWatches(): void {
    for (const watch of [...this.watches]) {
      this.watches.delete(watch);
      writeEvent(watch.response, { type: "ERROR", object: expiredStatus("too old resource version") });
      watch.response.end();
    }
    this.notify();
  }

  /** The next `count` requests (lists and reads, or watches when `watch` is set) fail with `status`. */
  failNext(status: number, count = 1, watch = false): void {
    for (let time = 0; time < count; time++) this.failures.push({ status, watch });
  }

  async close(): Promise<void> {
    for (const watch of this.watches) watch.response.end();
    this.watches.clear();
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close").catch(() => undefined);
  }

  private notify(): void {
    const watchers = this.watchers;
    this.watchers = [];
    for (const wake of watchers) wake();
  }

  private write(
    kind: StoredObject["kind"],
    namespace: string,
    name: string,
    labels: ReadonlyMap<string, string>,
    json: (resourceVersion: string) => Record<string, unknown>,
  ): void {
    this.revision++;
    const key = objectKey(kind, namespace, name);
    const type = this.objects.has(key) ? "MODIFIED" : "ADDED";
    const stored: StoredObject = {
      kind,
      namespace,
      name,
      labels,
      json: json(String(this.revision)),
      resourceVersion: this.revision,
    };
    this.objects.set(key, stored);
    this.record({ type, object: stored });
  }

  private record(event: HistoryEvent): void {
    this.history.push(event);
    if (event.object.kind !== "EndpointSlice") return;
    for (const watch of this.watches) {
      if (watch.namespace === event.object.namespace && watch.selector(event.object.labels))
        writeEvent(watch.response, { type: event.type, object: event.object.json });
    }
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? "/", "http://kubernetes");
    const watch = url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1";
    const authorization = request.headers.authorization ?? null;
    const limitText = url.searchParams.get("limit");
    if (this.requests.length < MAX_RECORDED_REQUESTS)
      this.requests.push({
        path: url.pathname,
        watch,
        resourceVersion: url.searchParams.get("resourceVersion"),
        labelSelector: url.searchParams.get("labelSelector"),
        limit: limitText === null ? null : Number(limitText),
        continueToken: url.searchParams.get("continue"),
        authorization,
      });
    if (this.token !== null && authorization !== `Bearer ${this.token}`)
      return status(response, 401, "Unauthorized", "Unauthorized");
    const failure = this.failures.findIndex((candidate) => candidate.watch === watch);
    if (failure >= 0) {
      const [removed] = this.failures.splice(failure, 1);
      return status(response, removed?.status ?? 500, "InternalError", "injected failure");
    }
    if (request.method !== "GET") return status(response, 405, "MethodNotAllowed", "method not allowed");

    const service = /^\/api\/v1\/namespaces\/([^/]+)\/services\/([^/]+)$/.exec(url.pathname);
    if (service !== null) return this.readService(response, service[1] ?? "", service[2] ?? "");
    const slices = /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/.exec(url.pathname);
    if (slices === null)
      return status(response, 404, "NotFound", "the server could not find the requested resource");
    const selector = parseSelector(url.searchParams.get("labelSelector") ?? "");
    if (selector === null) return status(response, 400, "BadRequest", "unable to parse requirement");
    const namespace = slices[1] ?? "";
    if (watch) return this.watch(response, namespace, selector, url.searchParams);
    return this.list(response, namespace, selector, url.searchParams);
  }

  private readService(response: ServerResponse, namespace: string, name: string): void {
    const stored = this.objects.get(objectKey("Service", namespace, name));
    if (stored === undefined) return status(response, 404, "NotFound", `services "${name}" not found`);
    json(response, 200, stored.json);
  }

  private list(
    response: ServerResponse,
    namespace: string,
    selector: Selector,
    query: URLSearchParams,
  ): void {
    const matching = [...this.objects.values()]
      .filter(
        (object) =>
          object.kind === "EndpointSlice" && object.namespace === namespace && selector(object.labels),
      )
      .sort((a, b) => a.name.localeCompare(b.name));
    const limit = Number(query.get("limit") ?? "0");
    let start = 0;
    let listRevision = this.revision;
    const token = query.get("continue");
    if (token !== null && token !== "") {
      const parsed = parseContinue(token);
      // A continue token is only good while the list it continues is what it was (else 410, as
      // the real server answers once the token's revision is compacted).
      if (parsed === null || parsed.revision !== this.revision)
        return status(
          response,
          410,
          "Expired",
          "The provided continue parameter is too old to display a consistent list result.",
          410,
        );
      start = parsed.start;
      listRevision = parsed.revision;
    }
    const page = limit > 0 ? matching.slice(start, start + limit) : matching.slice(start);
    const more = limit > 0 && start + limit < matching.length;
    json(response, 200, {
      kind: "EndpointSliceList",
      apiVersion: "discovery.k8s.io/v1",
      metadata: {
        resourceVersion: String(listRevision),
        ...(more
          ? {
              continue: Buffer.from(
                JSON.stringify({ revision: listRevision, start: start + limit }),
              ).toString("base64url"),
            }
          : {}),
      },
      items: page.map((object) => object.json),
    });
  }

  private watch(
    response: ServerResponse,
    namespace: string,
    selector: Selector,
    query: URLSearchParams,
  ): void {
    const from = query.get("resourceVersion") ?? "";
    const fromRevision = from === "" || from === "0" ? null : Number(from);
    if (
      fromRevision !== null &&
      (!Number.isSafeInteger(fromRevision) || fromRevision < this.compactedRevision)
    ) {
      if (this.expiredAsHttpStatus)
        return status(
          response,
          410,
          "Expired",
          `too old resource version: ${from} (${this.compactedRevision})`,
          410,
        );
      response.writeHead(200, { "Content-Type": "application/json" });
      writeEvent(response, {
        type: "ERROR",
        object: expiredStatus(`too old resource version: ${from} (${this.compactedRevision})`),
      });
      response.end();
      return;
    }
    response.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    response.flushHeaders();
    const open: OpenWatch = {
      namespace,
      selector,
      bookmarks: query.get("allowWatchBookmarks") === "true",
      response,
    };
    const matches = (object: StoredObject): boolean =>
      object.kind === "EndpointSlice" && object.namespace === namespace && selector(object.labels);
    if (fromRevision === null) {
      // From "any" version: the current state as ADDED events, then what follows.
      for (const object of this.objects.values())
        if (matches(object)) writeEvent(response, { type: "ADDED", object: object.json });
    } else {
      for (const event of this.history) {
        if (event.object.resourceVersion > fromRevision && matches(event.object))
          writeEvent(response, { type: event.type, object: event.object.json });
      }
    }
    this.watches.add(open);
    const timeoutSeconds = Number(query.get("timeoutSeconds") ?? "0");
    const timer =
      timeoutSeconds > 0
        ? setTimeout(() => {
            this.watches.delete(open);
            response.end();
            this.notify();
          }, timeoutSeconds * 1_000)
        : null;
    response.on("close", () => {
      if (timer !== null) clearTimeout(timer);
      this.watches.delete(open);
      this.notify();
    });
  }
}

function objectKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

function writeEvent(response: ServerResponse, event: { type: string; object: unknown }): void {
  response.write(JSON.stringify(event) + "\n");
}

function expiredStatus(message: string): Record<string, unknown> {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason: "Expired",
    code: 410,
  };
}

function status(
  response: ServerResponse,
  code: number,
  reason: string,
  message: string,
  statusCode = code,
): void {
  json(response, code, {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    code: statusCode,
  });
}

function json(response: ServerResponse, code: number, body: unknown): void {
  response.writeHead(code, { "Content-Type": "application/json" });
  response.end(JSON.stringify(body));
}

function parseContinue(token: string): { revision: number; start: number } | null {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as {
      revision?: unknown;
      start?: unknown;
    };
    return typeof parsed.revision === "number" && typeof parsed.start === "number"
      ? { revision: parsed.revision, start: parsed.start }
      : null;
  } catch {
    return null;
  }
}

/**
 * Parses a label selector: comma-separated requirements "k=v", "k==v", "k!=v", "k in (a,b)",
 * "k notin (a,b)", "k" (exists) and "!k" (does not exist). Null when it is not one.
 */
export function parseSelector(text: string): Selector | null {
  const requirements: Selector[] = [];
  const parts = splitOutsideParentheses(text);
  if (parts === null) return null;
  for (const raw of parts) {
    const part = raw.trim();
    if (part === "") continue;
    let match: RegExpExecArray | null;
    if ((match = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(part)) !== null) {
      const [, key = "", operator, value = ""] = match;
      requirements.push((labels) =>
        operator === "!=" ? labels.get(key) !== value : labels.get(key) === value,
      );
    } else if ((match = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part)) !== null) {
      const [, key = "", operator, list = ""] = match;
      const values = new Set(list.split(",").map((value) => value.trim()));
      requirements.push((labels) => {
        const value = labels.get(key);
        return operator === "in"
          ? value !== undefined && values.has(value)
          : value === undefined || !values.has(value);
      });
    } else if ((match = /^(!?)([\w./-]+)$/.exec(part)) !== null) {
      const [, not, key = ""] = match;
      requirements.push((labels) => (not === "!" ? !labels.has(key) : labels.has(key)));
    } else {
      return null;
    }
  }
  return (labels) => requirements.every((requirement) => requirement(labels));
}

/** Splits at the commas that are not inside parentheses; null when the parentheses do not pair. */
function splitOutsideParentheses(text: string): string[] | null {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const character of text) {
    if (character === "(") depth++;
    if (character === ")") depth--;
    if (depth < 0 || depth > 1) return null;
    if (character === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else {
      current += character;
    }
  }
  if (depth !== 0) return null;
  parts.push(current);
  return parts;
}
