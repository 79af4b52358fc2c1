/**
 * Agents from Kubernetes: the EndpointSlices (discovery.k8s.io/v1) of one or more Services, found
 * by the label kubernetes.io/service-name=<service>. Each Service is followed the way client-go's
 * reflector does it: list (page by page), then watch from the list's resourceVersion, keep the
 * resourceVersion moving with every event and bookmark, watch again when the server ends the
 * watch, and list again when the version has expired (410 Gone), after any watch failure (with
 * backoff) and every relistIntervalMs (which also picks up changed Service annotations).
 *
 * Team and skills come from the Service's annotations (juno.dev/team, juno.dev/skills, ...),
 * read at every list; the provider's defaults stand in when there are none (or when
 * readServiceAnnotations is off and the provider needs no right to read Services).
 */

import { SYSTEM_CLOCK } from "../runtime/clock.js";
import { resolveBackoff, type BackoffOptions } from "../transport/backoff.js";
import type { TimerHandle } from "../transport/timers.js";
import { DEFAULT_ATTRIBUTES, type AttributeDefaults } from "./agent-attributes.js";
import { DiscoveryError } from "./errors.js";
import {
  KubernetesClient,
  contextNamespace,
  loadKubeConfig,
  type KubernetesConnection,
  type WatchEvent,
} from "./kubernetes-client.js";
import { agentsOfService, resourceVersionOf, sliceName } from "./kubernetes-endpoints.js";
import { MAX_AGENTS_PER_PROVIDER } from "./limits.js";
import { startRetryLoop, type RunningLoop } from "./retry-loop.js";
import { DEFAULT_REPUBLISH_INTERVAL_MS, SnapshotPublisher } from "./snapshot-publisher.js";
import type {
  DiscoveredAgent,
  DiscoveryClock,
  DiscoveryProvider,
  ProviderHandlers,
  RandomSource,
  RunningProvider,
} from "./types.js";

/** Settings of the Kubernetes provider. */
export interface KubernetesProviderOptions {
  /** The Services whose endpoints are agents (1 to MAX_KUBERNETES_SERVICES). */
  readonly services: readonly string[];
  /** Their namespace. Default the kubeconfig context's namespace (the pod's own in a cluster), else "default". */
  readonly namespace?: string | null;
  /** How to reach the API server. Default { kind: "auto" }: in a pod its service account, else KUBECONFIG or ~/.kube/config. */
  readonly connection?: KubernetesConnection;
  /** Only endpoint ports of this name are agents; null for every TCP port. Default null. */
  readonly portName?: string | null;
  /** The scheme of the endpoints. Default "http". */
  readonly scheme?: "http" | "https";
  /** Team, skills and capacity of agents whose Service has no juno.dev annotations. Default team "default", no skills, capacity 1. */
  readonly defaults?: Partial<AttributeDefaults>;
  /** Read each Service's juno.dev annotations (needs "get" on services). Default true. */
  readonly readServiceAnnotations?: boolean;
  /** Slices per list page. Default 500. */
  readonly pageSize?: number;
  /** The server ends each watch after about this long (timeoutSeconds, jittered up to twice as long). Default 300. */
  readonly watchTimeoutSeconds?: number;
  /** List again at least this often, even when the watch is healthy. Default 10 minutes. */
  readonly relistIntervalMs?: number;
  /** The deadline of a read or of one list page. Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** The shortest time between two watches of one Service (a server that ends watches at once cannot make us spin). Default 1 s. */
  readonly minWatchIntervalMs?: number;
  /** Retry delays after a failed list or watch. Default from 500 ms doubling to 30 s, half jitter. */
  readonly backoff?: Partial<BackoffOptions>;
  /** How often a fresh snapshot is handed again. Default 10 s. */
  readonly republishIntervalMs?: number;
  readonly clock?: DiscoveryClock;
  readonly random?: RandomSource;
  /** The environment read for "auto" (KUBERNETES_SERVICE_HOST). Default process.env. */
  readonly environment?: Readonly<Record<string, string | undefined>>;
}

/** Most Services one provider follows. */
export const MAX_KUBERNETES_SERVICES = 64;
/** Most slices one Service may have (the controller keeps about 100 endpoints per slice). */
export const MAX_SLICES_PER_SERVICE = 1_000;
/** Most list pages read for one list. */
const MAX_LIST_PAGES = 100;

interface ResolvedKubernetesOptions {
  readonly services: readonly string[];
  readonly namespace: string;
  readonly client: KubernetesClient;
  readonly portName: string | null;
  readonly scheme: "http" | "https";
  readonly defaults: AttributeDefaults;
  readonly readServiceAnnotations: boolean;
  readonly pageSize: number;
  readonly watchTimeoutSeconds: number;
  readonly relistIntervalMs: number;
  readonly minWatchIntervalMs: number;
  readonly backoff: BackoffOptions;
  readonly republishIntervalMs: number;
  readonly clock: DiscoveryClock;
  readonly random: RandomSource;
}

/** Agents from the EndpointSlices of Kubernetes Services. */
export class KubernetesProvider implements DiscoveryProvider {
  readonly source = "kubernetes" as const;
  private readonly options: ResolvedKubernetesOptions;

  constructor(options: KubernetesProviderOptions) {
    this.options = resolveKubernetesOptions(options);
  }

  /** The namespace the Services are read from. */
  get namespace(): string {
    return this.options.namespace;
  }

  start(handlers: ProviderHandlers): RunningProvider {
    const publisher = new SnapshotPublisher(handlers, this.options.clock, this.options.republishIntervalMs);
    const followers = new Map<string, ServiceFollower>();
    let publishTimer: TimerHandle | null = null;
    // Events arrive in bursts (a rollout touches every slice): one snapshot per burst.
    const schedulePublish = (): void => {
      if (publishTimer !== null) return;
      publishTimer = this.options.clock.setTimeout(() => {
        publishTimer = null;
        publish();
      }, 0);
    };
    const publish = (): void => {
      const agents: DiscoveredAgent[] = [];
      const unreadable: string[] = [];
      for (const follower of followers.values()) {
        // Until every Service has been tried once, a snapshot would miss some of them.
        if (follower.state === "pending") return;
        if (follower.state === "unreadable") unreadable.push(follower.keyPrefix);
        agents.push(...follower.agents);
      }
      if (agents.length > MAX_AGENTS_PER_PROVIDER)
        return publisher.fail(
          new DiscoveryError("too_large", `kubernetes: more than ${MAX_AGENTS_PER_PROVIDER} agents`),
        );
      publisher.publish(agents, { unreadable });
    };
    for (const service of this.options.services)
      followers.set(service, new ServiceFollower(service, this.options, publisher, schedulePublish));
    return {
      stop: async () => {
        publisher.stop();
        if (publishTimer !== null) this.options.clock.clearTimeout(publishTimer);
        publishTimer = null;
        await Promise.all([...followers.values()].map((follower) => follower.stop()));
      },
    };
  }
}

/** The list-and-watch of one Service. */
class ServiceFollower {
  /** "pending" until its first list; "unreadable" from a failure until the next good list. */
  state: "pending" | "read" | "unreadable" = "pending";
  agents: readonly DiscoveredAgent[] = [];
  readonly keyPrefix: string;
  private readonly slices = new Map<string, unknown>();
  private annotations: ReadonlyMap<string, string> = new Map();
  private resourceVersion: string | null = null;
  private listedAt = Number.NEGATIVE_INFINITY;
  private mustList = true;
  private readonly loop: RunningLoop;
  private readonly selector: string;

  constructor(
    private readonly service: string,
    private readonly options: ResolvedKubernetesOptions,
    private readonly publisher: SnapshotPublisher,
    private readonly changed: () => void,
  ) {
    this.keyPrefix = `kubernetes:${options.namespace}/${service}/`;
    this.selector = `kubernetes.io/service-name=${service}`;
    this.loop = startRetryLoop((signal) => this.pass(signal), {
      clock: options.clock,
      backoff: options.backoff,
      random: options.random,
      onFailure: (error) => this.failed(error),
    });
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One pass: list when needed, then one watch until the server ends it. */
  private async pass(signal: AbortSignal): Promise<number> {
    const startedAt = this.options.clock.now();
    const restMs = (): number =>
      Math.max(0, this.options.minWatchIntervalMs - (this.options.clock.now() - startedAt));
    if (this.mustList || this.options.clock.now() - this.listedAt >= this.options.relistIntervalMs)
      await this.list(signal);
    try {
      await this.watch(signal);
    } catch (error) {
      // An expired version needs a fresh list, at once: nothing is wrong with the server.
      if (error instanceof DiscoveryError && error.code === "expired") {
        this.mustList = true;
        return restMs();
      }
      throw error;
    }
    // The server ended the watch as asked: watch again from where it left off.
    return restMs();
  }

  private async list(signal: AbortSignal): Promise<void> {
    const annotations = this.options.readServiceAnnotations
      ? ((await this.options.client.serviceAnnotations(this.options.namespace, this.service, signal)) ??
        new Map<string, string>())
      : new Map<string, string>();
    const slices = new Map<string, unknown>();
    let continueToken: string | null = null;
    let resourceVersion: string | null = null;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const read = await this.options.client.listSlices(
        this.options.namespace,
        this.selector,
        this.options.pageSize,
        continueToken,
        signal,
      );
      // The first page's version is the list's: the later pages are of the same snapshot.
      resourceVersion ??= read.resourceVersion;
      for (const item of read.items) {
        const name = sliceName(item);
        if (name !== null) slices.set(name, item);
      }
      if (slices.size > MAX_SLICES_PER_SERVICE)
        throw new DiscoveryError(
          "too_large",
          `kubernetes: ${this.service} has more than ${MAX_SLICES_PER_SERVICE} slices`,
        );
      continueToken = read.continueToken;
      if (continueToken === null) break;
    }
    if (continueToken !== null)
      throw new DiscoveryError(
        "too_large",
        `kubernetes: the list of ${this.service} has more than ${MAX_LIST_PAGES} pages`,
      );
    this.annotations = annotations;
    this.slices.clear();
    for (const [name, slice] of slices) this.slices.set(name, slice);
    this.resourceVersion = resourceVersion;
    this.listedAt = this.options.clock.now();
    this.mustList = false;
    this.state = "read";
    this.rebuild();
  }

  private async watch(signal: AbortSignal): Promise<void> {
    const resourceVersion = this.resourceVersion;
    if (resourceVersion === null) {
      this.mustList = true;
      throw new DiscoveryError(
        "bad_response",
        `kubernetes: no resourceVersion to watch ${this.service} from`,
      );
    }
    // Jittered like client-go's reflector, so that many watchers do not all reconnect at once.
    const timeoutSeconds = Math.round(this.options.watchTimeoutSeconds * (1 + this.options.random()));
    await this.options.client.watchSlices(
      this.options.namespace,
      this.selector,
      resourceVersion,
      timeoutSeconds,
      (event) => this.apply(event),
      signal,
    );
  }

  private apply(event: WatchEvent): void {
    switch (event.type) {
      case "BOOKMARK":
        this.resourceVersion = event.resourceVersion;
        return;
      case "ERROR":
        return;
      case "ADDED":
      case "MODIFIED":
      case "DELETED": {
        const name = sliceName(event.object);
        if (name === null) return;
        if (event.type === "DELETED") this.slices.delete(name);
        else if (this.slices.has(name) || this.slices.size < MAX_SLICES_PER_SERVICE)
          this.slices.set(name, event.object);
        this.resourceVersion = resourceVersionOf(event.object) ?? this.resourceVersion;
        this.rebuild();
        return;
      }
    }
  }

  private rebuild(): void {
    const built = agentsOfService({
      namespace: this.options.namespace,
      service: this.service,
      slices: this.slices.values(),
      annotations: this.annotations,
      defaults: this.options.defaults,
      portName: this.options.portName,
      scheme: this.options.scheme,
    });
    for (const problem of built.invalid) this.publisher.invalid(problem);
    this.agents = built.agents;
    this.changed();
  }

  private failed(error: Error): void {
    // After a failed list or watch the version may be gone and events may have been missed: list again.
    this.mustList = true;
    this.state = "unreadable";
    this.publisher.warn(error);
    this.changed();
  }
}

function resolveKubernetesOptions(options: KubernetesProviderOptions): ResolvedKubernetesOptions {
  const services = [...new Set(options.services.map((service) => service.trim()))].filter(
    (service) => service !== "",
  );
  if (services.length === 0 || services.length > MAX_KUBERNETES_SERVICES)
    throw new DiscoveryError("invalid_options", `kubernetes: give 1 to ${MAX_KUBERNETES_SERVICES} services`);
  for (const service of services) {
    // A DNS-1035 label, as Service names are; anything else would also break the label selector.
    if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(service))
      throw new DiscoveryError(
        "invalid_options",
        `kubernetes: ${JSON.stringify(service)} is not a Service name`,
      );
  }
  const clock = options.clock ?? SYSTEM_CLOCK;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const config = loadKubeConfig(options.connection ?? { kind: "auto" }, options.environment ?? process.env);
  const namespace = options.namespace ?? contextNamespace(config) ?? "default";
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace))
    throw new DiscoveryError(
      "invalid_options",
      `kubernetes: ${JSON.stringify(namespace)} is not a namespace`,
    );
  const resolved: ResolvedKubernetesOptions = {
    services,
    namespace,
    client: new KubernetesClient(config, clock, requestTimeoutMs),
    portName: options.portName ?? null,
    scheme: options.scheme ?? "http",
    defaults: { ...DEFAULT_ATTRIBUTES, ...options.defaults },
    readServiceAnnotations: options.readServiceAnnotations ?? true,
    pageSize: options.pageSize ?? 500,
    watchTimeoutSeconds: options.watchTimeoutSeconds ?? 300,
    relistIntervalMs: options.relistIntervalMs ?? 600_000,
    minWatchIntervalMs: options.minWatchIntervalMs ?? 1_000,
    backoff: resolveBackoff({ initialDelayMs: 500, maxDelayMs: 30_000, ...options.backoff }),
    republishIntervalMs: options.republishIntervalMs ?? DEFAULT_REPUBLISH_INTERVAL_MS,
    clock,
    random: options.random ?? Math.random,
  };
  if (!(Number.isInteger(resolved.pageSize) && resolved.pageSize >= 1 && resolved.pageSize <= 5_000))
    throw new DiscoveryError("invalid_options", "kubernetes: pageSize must be an integer from 1 to 5000");
  if (!(resolved.watchTimeoutSeconds >= 1 && resolved.watchTimeoutSeconds <= 3_600))
    throw new DiscoveryError("invalid_options", "kubernetes: watchTimeoutSeconds must be from 1 to 3600");
  if (!(requestTimeoutMs >= 1 && resolved.relistIntervalMs >= 1_000 && resolved.minWatchIntervalMs >= 0))
    throw new DiscoveryError(
      "invalid_options",
      "kubernetes: requestTimeoutMs must be positive, relistIntervalMs at least 1 s, minWatchIntervalMs at least 0",
    );
  return resolved;
}
