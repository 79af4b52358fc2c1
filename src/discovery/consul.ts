/**
 * Agents from Consul. The catalog (GET /v1/catalog/services, blocking) says which services carry
 * the selector tag (default "juno-agent") or are named in the options; each of those is watched
 * (GET /v1/health/service/<name>, blocking) and every instance becomes an agent, healthy when all
 * its checks (its own and its node's) pass. Service Meta gives juno_team, juno_skills (a comma
 * list; else the service's tags without the selector tag), juno_capacity and juno_weight; the rest
 * of Meta become labels.
 *
 * Each query follows Consul's advice for blocking clients: the index is reset when it goes
 * backwards, never 0 once known, and a loop never asks more often than minIntervalMs, so an agent
 * that answers at once (a busy index) cannot make us spin.
 */

import { SYSTEM_CLOCK } from "../runtime/clock.js";
import { resolveBackoff, type BackoffOptions } from "../transport/backoff.js";
import {
  DEFAULT_ATTRIBUTES,
  buildAgent,
  formatEndpoint,
  isPort,
  readAttributes,
  type AttributeDefaults,
  type AttributeKeys,
} from "./agent-attributes.js";
import {
  nextConsulIndex,
  readCatalogServices,
  readServiceHealth,
  type ConsulConnection,
  type ConsulServiceEntry,
} from "./consul-api.js";
import { DiscoveryError } from "./errors.js";
import type { FetchFunction } from "./http-request.js";
import { MAX_AGENTS_PER_PROVIDER } from "./limits.js";
import { startRetryLoop, type RunningLoop } from "./retry-loop.js";
import { DEFAULT_REPUBLISH_INTERVAL_MS, SnapshotPublisher } from "./snapshot-publisher.js";
import type {
  DiscoveredAgent,
  DiscoveryClock,
  DiscoveryProvider,
  InvalidEntry,
  ProviderHandlers,
  RandomSource,
  RunningProvider,
} from "./types.js";

/** Settings of the Consul provider. */
export interface ConsulProviderOptions {
  /** The Consul agent's HTTP address (CONSUL_ENDPOINT). Default "http://127.0.0.1:8500". */
  readonly endpoint?: string;
  /** An ACL token, sent as X-Consul-Token. Default none. */
  readonly token?: string | null;
  /** The datacenter to read (?dc=). Default the agent's own. */
  readonly datacenter?: string | null;
  /** Services whose instances carry this tag are agents; null to select by name only. Default "juno-agent". */
  readonly tag?: string | null;
  /** Services that are agents whatever their tags (every instance). Default none. */
  readonly services?: readonly string[];
  /** The scheme of the agents' endpoints. Default "http". */
  readonly scheme?: "http" | "https";
  /** Team, skills and capacity of agents whose Meta names none. Default team "default", no skills, capacity 1. */
  readonly defaults?: Partial<AttributeDefaults>;
  /** The longest a blocking query waits for a change (Consul's ?wait=, 1 to 600). Default 60 s. */
  readonly waitSeconds?: number;
  /** The shortest time between two requests of one query (the rate limit). Default 1 s. */
  readonly minIntervalMs?: number;
  /** How long a request may take beyond its wait. Default 10 s. */
  readonly timeoutMs?: number;
  /** Retry delays after a failed request. Default from 500 ms doubling to 30 s, half jitter. */
  readonly backoff?: Partial<BackoffOptions>;
  /** How often a fresh snapshot is handed again. Default 10 s. */
  readonly republishIntervalMs?: number;
  /** The largest response body accepted. Default 16 MiB. */
  readonly maxBodyBytes?: number;
  readonly fetch?: FetchFunction;
  readonly clock?: DiscoveryClock;
  readonly random?: RandomSource;
}

/** Most services one provider watches. */
export const MAX_CONSUL_SERVICES = 256;

/** The Meta keys of the agent's attributes. */
export const CONSUL_META_KEYS: AttributeKeys = {
  team: "juno_team",
  skills: "juno_skills",
  capacity: "juno_capacity",
  weight: "juno_weight",
};

interface ResolvedConsulOptions {
  readonly connection: ConsulConnection;
  readonly tag: string | null;
  readonly services: ReadonlySet<string>;
  readonly scheme: "http" | "https";
  readonly defaults: AttributeDefaults;
  readonly waitSeconds: number;
  readonly minIntervalMs: number;
  readonly timeoutMs: number;
  readonly backoff: BackoffOptions;
  readonly republishIntervalMs: number;
  readonly clock: DiscoveryClock;
  readonly random: RandomSource;
}

/** Agents from Consul services. */
export class ConsulProvider implements DiscoveryProvider {
  readonly source = "consul" as const;
  private readonly options: ResolvedConsulOptions;

  constructor(options: ConsulProviderOptions = {}) {
    this.options = resolveConsulOptions(options);
  }

  start(handlers: ProviderHandlers): RunningProvider {
    const run = new ConsulRun(
      this.options,
      new SnapshotPublisher(handlers, this.options.clock, this.options.republishIntervalMs),
    );
    run.start();
    return { stop: () => run.stop() };
  }
}

/** One service being watched. */
interface ServiceWatch {
  readonly loop: RunningLoop;
  /** "pending" until its first read; "unreadable" after a failure, until the next good read. */
  state: "pending" | "read" | "unreadable";
  /** The last good read's agents (kept while unreadable). */
  agents: readonly DiscoveredAgent[];
}

/** A running Consul provider: the catalog loop and one loop per selected service. */
class ConsulRun {
  private stopped = false;
  private catalogState: "pending" | "read" | "failed" = "pending";
  private catalogLoop: RunningLoop | null = null;
  private readonly watches = new Map<string, ServiceWatch>();
  /** Loops of services no longer selected, still settling. */
  private readonly stopping = new Set<Promise<void>>();

  constructor(
    private readonly options: ResolvedConsulOptions,
    private readonly publisher: SnapshotPublisher,
  ) {}

  start(): void {
    let index = 0;
    this.catalogLoop = startRetryLoop(
      async (signal) => {
        const startedAt = this.options.clock.now();
        const read = await readCatalogServices(this.options.connection, this.blockingRead(index, signal));
        index = nextConsulIndex(index, read.index);
        if (this.stopped) return 0;
        this.select(read.value);
        this.catalogState = "read";
        this.publish();
        return this.restMs(startedAt);
      },
      this.loopOptions(() => {
        // Without the catalog nothing is known of which services exist: report, keep the last set.
        index = 0;
        this.catalogState = "failed";
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.publisher.stop();
    const stops = [this.catalogLoop?.stop(), ...[...this.watches.values()].map((watch) => watch.loop.stop())];
    this.watches.clear();
    await Promise.all([...stops, ...this.stopping]);
  }

  /** Starts watching newly selected services and stops watching the ones no longer selected. */
  private select(catalog: ReadonlyMap<string, readonly string[]>): void {
    const selected = new Set<string>();
    for (const [service, tags] of catalog) {
      if (
        this.options.services.has(service) ||
        (this.options.tag !== null && tags.includes(this.options.tag))
      )
        selected.add(service);
    }
    if (selected.size > MAX_CONSUL_SERVICES)
      throw new DiscoveryError("too_large", `consul: more than ${MAX_CONSUL_SERVICES} services are selected`);
    for (const [service, watch] of this.watches) {
      if (selected.has(service)) continue;
      // The catalog says the service is gone: its agents are gone too (no longer unknown).
      this.watches.delete(service);
      const stopped = watch.loop.stop();
      this.stopping.add(stopped);
      void stopped.finally(() => this.stopping.delete(stopped));
    }
    for (const service of selected) {
      if (!this.watches.has(service)) this.watch(service);
    }
  }

  private watch(service: string): void {
    let index = 0;
    const watch: ServiceWatch = {
      state: "pending",
      agents: [],
      loop: startRetryLoop(
        async (signal) => {
          const startedAt = this.options.clock.now();
          const read = await readServiceHealth(
            this.options.connection,
            service,
            this.blockingRead(index, signal),
          );
          index = nextConsulIndex(index, read.index);
          if (this.watches.get(service) !== watch) return 0;
          watch.agents = this.agentsOf(service, read.value.entries, read.value.malformed);
          watch.state = "read";
          this.publish();
          return this.restMs(startedAt);
        },
        this.loopOptions((error) => {
          index = 0;
          if (this.watches.get(service) !== watch) return;
          watch.state = "unreadable";
          this.publisher.warn(error);
          this.publish();
        }, true),
      ),
    };
    this.watches.set(service, watch);
  }

  /** Hands the whole set over once the catalog and every selected service have been tried. */
  private publish(): void {
    if (this.stopped || this.catalogState !== "read") return;
    const agents: DiscoveredAgent[] = [];
    const unreadable: string[] = [];
    for (const [service, watch] of this.watches) {
      if (watch.state === "pending") return;
      if (watch.state === "unreadable") unreadable.push(`consul:${service}/`);
      agents.push(...watch.agents);
    }
    if (agents.length > MAX_AGENTS_PER_PROVIDER) {
      this.publisher.fail(
        new DiscoveryError("too_large", `consul: more than ${MAX_AGENTS_PER_PROVIDER} agents`),
      );
      return;
    }
    this.publisher.publish(agents, { unreadable });
  }

  private agentsOf(
    service: string,
    entries: readonly ConsulServiceEntry[],
    malformed: number,
  ): DiscoveredAgent[] {
    if (malformed > 0)
      this.invalid({
        source: "consul",
        key: `consul:${service}/`,
        reason: `${malformed} entries are not Consul service entries`,
      });
    const byName = this.options.services.has(service);
    const agents: DiscoveredAgent[] = [];
    for (const entry of entries.slice(0, MAX_AGENTS_PER_PROVIDER)) {
      // A service selected by its tag lists only the instances that carry the tag.
      if (!byName && (this.options.tag === null || !entry.tags.includes(this.options.tag))) continue;
      const agent = this.agentOf(entry);
      if (typeof agent === "string") this.invalid({ source: "consul", key: keyOf(entry), reason: agent });
      else agents.push(agent);
    }
    return agents;
  }

  private agentOf(entry: ConsulServiceEntry): DiscoveredAgent | string {
    if (!isPort(entry.port)) return `port ${entry.port} is not a TCP port`;
    const tagSkills = entry.tags.filter((tag) => tag !== this.options.tag);
    const attributes = readAttributes(entry.meta, CONSUL_META_KEYS, this.options.defaults, tagSkills);
    const host = entry.address !== "" ? entry.address : entry.nodeAddress;
    if (host === "") return "neither the service nor its node has an address";
    return buildAgent({
      key: keyOf(entry),
      source: "consul",
      name: entry.id,
      endpoint: formatEndpoint(this.options.scheme, host, entry.port),
      attributes,
      // Consul counts a service without checks as passing.
      healthy: entry.checkStatuses.every((status) => status === "passing"),
    });
  }

  private invalid(problem: InvalidEntry): void {
    this.publisher.invalid(problem);
  }

  private blockingRead(index: number, signal: AbortSignal) {
    return { index, waitSeconds: this.options.waitSeconds, slackMs: this.options.timeoutMs, signal };
  }

  /** How long to wait before the next request so that two requests are at least minIntervalMs apart. */
  private restMs(startedAt: number): number {
    const elapsedMs = this.options.clock.now() - startedAt;
    return Math.max(0, this.options.minIntervalMs - Math.max(0, elapsedMs));
  }

  private loopOptions(onFailure: (error: Error) => void, partial = false) {
    return {
      clock: this.options.clock,
      backoff: this.options.backoff,
      random: this.options.random,
      onFailure: (error: Error) => {
        if (this.stopped) return;
        onFailure(error);
        if (!partial) this.publisher.fail(error);
      },
    };
  }
}

/** Service IDs are unique per node only, so the key names the node too. */
function keyOf(entry: ConsulServiceEntry): string {
  return `consul:${entry.service}/${entry.node}/${entry.id}`;
}

function resolveConsulOptions(options: ConsulProviderOptions): ResolvedConsulOptions {
  const endpoint = options.endpoint ?? "http://127.0.0.1:8500";
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new DiscoveryError("invalid_options", `consul: endpoint ${JSON.stringify(endpoint)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new DiscoveryError("invalid_options", "consul: endpoint must be http or https");
  const services = new Set(options.services ?? []);
  const tag = options.tag === undefined ? "juno-agent" : options.tag;
  if (tag === null && services.size === 0)
    throw new DiscoveryError("invalid_options", "consul: give a tag or service names to select agents by");
  if (services.size > MAX_CONSUL_SERVICES)
    throw new DiscoveryError("invalid_options", `consul: at most ${MAX_CONSUL_SERVICES} service names`);
  const waitSeconds = options.waitSeconds ?? 60;
  if (!(Number.isInteger(waitSeconds) && waitSeconds >= 1 && waitSeconds <= 600))
    throw new DiscoveryError("invalid_options", "consul: waitSeconds must be an integer from 1 to 600");
  const clock = options.clock ?? SYSTEM_CLOCK;
  const resolved: ResolvedConsulOptions = {
    connection: {
      endpoint: url.toString(),
      token: options.token ?? null,
      datacenter: options.datacenter ?? null,
      fetch: options.fetch ?? globalThis.fetch,
      clock,
      maxBodyBytes: options.maxBodyBytes ?? 16 * 1024 * 1024,
    },
    tag,
    services,
    scheme: options.scheme ?? "http",
    defaults: { ...DEFAULT_ATTRIBUTES, ...options.defaults },
    waitSeconds,
    minIntervalMs: options.minIntervalMs ?? 1_000,
    timeoutMs: options.timeoutMs ?? 10_000,
    backoff: resolveBackoff({ initialDelayMs: 500, maxDelayMs: 30_000, ...options.backoff }),
    republishIntervalMs: options.republishIntervalMs ?? DEFAULT_REPUBLISH_INTERVAL_MS,
    clock,
    random: options.random ?? Math.random,
  };
  if (!(resolved.minIntervalMs >= 0 && resolved.timeoutMs >= 1))
    throw new DiscoveryError(
      "invalid_options",
      "consul: minIntervalMs must be at least 0 and timeoutMs positive",
    );
  if (!(resolved.connection.maxBodyBytes >= 1_024))
    throw new DiscoveryError("invalid_options", "consul: maxBodyBytes must be at least 1024");
  return resolved;
}
