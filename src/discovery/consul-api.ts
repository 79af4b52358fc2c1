/**
 * The two Consul HTTP endpoints the provider reads, as blocking queries
 * (https://developer.hashicorp.com/consul/api-docs/features/blocking): GET /v1/catalog/services
 * and GET /v1/health/service/<name>. Responses are checked before use; an entry that does not
 * look like Consul's is skipped, a body that does not is a bad response.
 */

import { DiscoveryError } from "./errors.js";
import { discardBody, parseJson, readBoundedText, withDeadline, type FetchFunction } from "./http-request.js";
import type { DiscoveryClock } from "./types.js";

/** Where and how to reach Consul. */
export interface ConsulConnection {
  /** The agent's HTTP address, e.g. "http://127.0.0.1:8500". */
  readonly endpoint: string;
  /** Sent as X-Consul-Token; null for none. */
  readonly token: string | null;
  /** The ?dc= to query; null for the agent's own. */
  readonly datacenter: string | null;
  readonly fetch: FetchFunction;
  readonly clock: Pick<DiscoveryClock, "setTimeout" | "clearTimeout">;
  /** The longest body accepted. */
  readonly maxBodyBytes: number;
}

/** What a blocking query asks for. */
export interface BlockingRead {
  /** The index to wait past; 0 asks for the current state at once. */
  readonly index: number;
  readonly waitSeconds: number;
  /** The request's deadline beyond the wait (Consul adds up to wait/16 of jitter, and the network needs time). */
  readonly slackMs: number;
  readonly signal: AbortSignal;
}

/** A blocking query's answer: the body and the X-Consul-Index it came with (null when missing or not a number). */
export interface Indexed<T> {
  readonly value: T;
  readonly index: number | null;
}

/** One instance of a service, with its node and checks, as /v1/health/service returns it. */
export interface ConsulServiceEntry {
  readonly node: string;
  readonly nodeAddress: string;
  readonly id: string;
  readonly service: string;
  readonly tags: readonly string[];
  readonly address: string;
  readonly port: number;
  readonly meta: ReadonlyArray<readonly [string, string]>;
  /** The status of every check of the instance and of its node. */
  readonly checkStatuses: readonly string[];
}

/** The index to ask with next, following Consul's rules for clients. */
export function nextConsulIndex(previous: number, returned: number | null): number {
  // Without an index there is nothing to wait on: ask again without one (the rate limit applies).
  if (returned === null) return 0;
  // An index that went backwards (a snapshot restore, a new cluster) would block until the new
  // index catches up with the old one: start again from the current state.
  if (returned < previous) return 0;
  // An index of 0 must never be used to wait on (it answers at once, a busy loop); 1 is always safe.
  return Math.max(returned, 1);
}

/** GET /v1/catalog/services: every service name with its tags. */
export async function readCatalogServices(
  connection: ConsulConnection,
  read: BlockingRead,
): Promise<Indexed<Map<string, readonly string[]>>> {
  const { body, index } = await blockingGet(connection, "/v1/catalog/services", read);
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new DiscoveryError("bad_response", "consul catalog/services: the body is not an object");
  const services = new Map<string, readonly string[]>();
  for (const [name, tags] of Object.entries(body)) {
    services.set(
      name,
      Array.isArray(tags) ? tags.filter((tag): tag is string => typeof tag === "string") : [],
    );
  }
  return { value: services, index };
}

/** GET /v1/health/service/<name>: its instances, with the entries that do not look like Consul's left out and counted. */
export async function readServiceHealth(
  connection: ConsulConnection,
  service: string,
  read: BlockingRead,
): Promise<Indexed<{ entries: ConsulServiceEntry[]; malformed: number }>> {
  const path = `/v1/health/service/${encodeURIComponent(service)}`;
  const { body, index } = await blockingGet(connection, path, read);
  if (!Array.isArray(body))
    throw new DiscoveryError("bad_response", `consul health/service/${service}: the body is not an array`);
  const entries: ConsulServiceEntry[] = [];
  let malformed = 0;
  for (const raw of body as unknown[]) {
    const entry = serviceEntry(raw);
    if (entry === null) malformed++;
    else entries.push(entry);
  }
  return { value: { entries, malformed }, index };
}

async function blockingGet(
  connection: ConsulConnection,
  path: string,
  read: BlockingRead,
): Promise<{ body: unknown; index: number | null }> {
  const url = new URL(path, connection.endpoint);
  if (read.index > 0) {
    url.searchParams.set("index", String(read.index));
    url.searchParams.set("wait", `${read.waitSeconds}s`);
  }
  if (connection.datacenter !== null) url.searchParams.set("dc", connection.datacenter);
  const headers: Record<string, string> = { Accept: "application/json" };
  if (connection.token !== null) headers["X-Consul-Token"] = connection.token;
  const what = `consul ${path}`;
  // A blocking query legitimately takes the whole wait, plus Consul's jitter of up to wait/16.
  const timeoutMs =
    read.index > 0 ? Math.ceil((read.waitSeconds * 1_000 * 17) / 16) + read.slackMs : read.slackMs;
  return withDeadline(what, { clock: connection.clock, timeoutMs, signal: read.signal }, async (signal) => {
    const response = await connection.fetch(url, { headers, signal });
    if (response.status !== 200) {
      await discardBody(response);
      throw new DiscoveryError("http_status", `${what} answered ${response.status}`, response.status);
    }
    const text = await readBoundedText(response, connection.maxBodyBytes, what);
    return { body: parseJson(text, what), index: parseIndex(response.headers.get("x-consul-index")) };
  });
}

function parseIndex(header: string | null): number | null {
  if (header === null || !/^\d{1,20}$/.test(header.trim())) return null;
  const index = Number(header.trim());
  return Number.isSafeInteger(index) ? index : null;
}

function serviceEntry(raw: unknown): ConsulServiceEntry | null {
  if (!isObject(raw) || !isObject(raw["Node"]) || !isObject(raw["Service"])) return null;
  const node = raw["Node"];
  const service = raw["Service"];
  const nodeName = node["Node"];
  const nodeAddress = node["Address"];
  const id = service["ID"];
  const name = service["Service"];
  const port = service["Port"];
  const address = service["Address"] ?? "";
  if (typeof nodeName !== "string" || typeof nodeAddress !== "string") return null;
  if (typeof id !== "string" || typeof name !== "string" || typeof port !== "number") return null;
  if (typeof address !== "string") return null;
  const tags = Array.isArray(service["Tags"]) ? service["Tags"].filter((tag) => typeof tag === "string") : [];
  const meta: Array<readonly [string, string]> = [];
  const rawMeta = service["Meta"];
  if (isObject(rawMeta)) {
    for (const [key, value] of Object.entries(rawMeta))
      if (typeof value === "string") meta.push([key, value]);
  }
  const checks = Array.isArray(raw["Checks"]) ? (raw["Checks"] as unknown[]) : [];
  const checkStatuses = checks.map((check) =>
    isObject(check) && typeof check["Status"] === "string" ? check["Status"] : "unknown",
  );
  return { node: nodeName, nodeAddress, id, service: name, tags, address, port, meta, checkStatuses };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
