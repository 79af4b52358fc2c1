/**
 * Agents from a fixed set of A2A agent cards: each card is read again on its own schedule (its
 * Cache-Control max-age within a floor and a ceiling, else the interval), with If-None-Match when
 * it had an ETag. A card that answers 404 everywhere is gone; a card that cannot be read (down,
 * timing out, invalid) keeps its last good agent and is marked unreadable, so a flaky agent host
 * never counts as the agent being gone.
 */

import { SYSTEM_CLOCK } from "../runtime/clock.js";
import { resolveBackoff, type BackoffOptions } from "../transport/backoff.js";
import { DEFAULT_ATTRIBUTES, addLabel, buildAgent, type AttributeDefaults } from "./agent-attributes.js";
import { DEFAULT_MAX_CARD_BYTES, agentCardLocations, fetchAgentCard, type AgentCard } from "./agent-card.js";
import { DiscoveryError } from "./errors.js";
import type { FetchFunction } from "./http-request.js";
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

/** Settings of the agent card provider. */
export interface AgentCardProviderOptions {
  /** Card URLs, or agent endpoints whose well-known card locations are read (1 to MAX_AGENT_CARDS). */
  readonly urls: readonly string[];
  /** Team and capacity of every agent, and its skills when the card lists none. Default team "default", no skills, capacity 1. */
  readonly defaults?: Partial<AttributeDefaults>;
  /** How often a card without max-age is read again. Default 60 s. */
  readonly intervalMs?: number;
  /** The shortest wait between two reads of one card, whatever max-age says. Default 10 s. */
  readonly minIntervalMs?: number;
  /** The longest wait between two reads of one card, whatever max-age says. Default 1 hour. */
  readonly maxIntervalMs?: number;
  /** The deadline of each request. Default 10 s. */
  readonly timeoutMs?: number;
  /** The largest card accepted. Default 256 KiB. */
  readonly maxBytes?: number;
  /** Retry delays after a failed read. Default from 1 s doubling to 60 s, half jitter. */
  readonly backoff?: Partial<BackoffOptions>;
  /** How often a fresh snapshot is handed again. Default 10 s. */
  readonly republishIntervalMs?: number;
  readonly fetch?: FetchFunction;
  readonly clock?: DiscoveryClock;
  readonly random?: RandomSource;
}

/** Most cards one provider reads. */
export const MAX_AGENT_CARDS = 256;

interface ResolvedCardOptions {
  readonly urls: readonly string[];
  readonly defaults: AttributeDefaults;
  readonly intervalMs: number;
  readonly minIntervalMs: number;
  readonly maxIntervalMs: number;
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly backoff: BackoffOptions;
  readonly republishIntervalMs: number;
  readonly fetch: FetchFunction;
  readonly clock: DiscoveryClock;
  readonly random: RandomSource;
}

/** The agent a card describes. */
export function agentOfCard(
  key: string,
  card: AgentCard,
  defaults: AttributeDefaults,
): DiscoveredAgent | string {
  const labels = new Map<string, string>();
  addLabel(labels, "a2a_version", card.version);
  if (card.protocolVersion !== null) addLabel(labels, "a2a_protocol_version", card.protocolVersion);
  if (card.preferredTransport !== null) addLabel(labels, "a2a_transport", card.preferredTransport);
  return buildAgent({
    key,
    source: "agent_card",
    name: card.name,
    endpoint: card.url,
    attributes: {
      team: defaults.team,
      skills: card.skills.length > 0 ? card.skills : defaults.skills,
      capacity: defaults.capacity,
      weight: null,
      labels,
    },
    // A served card says the host is up, not that the agent is well: no view of health.
    healthy: null,
  });
}

/** Agents from A2A agent cards, read again as their caching headers allow. */
export class AgentCardWatcher implements DiscoveryProvider {
  readonly source = "agent_card" as const;
  private readonly options: ResolvedCardOptions;

  constructor(options: AgentCardProviderOptions) {
    this.options = resolveCardOptions(options);
  }

  start(handlers: ProviderHandlers): RunningProvider {
    const publisher = new SnapshotPublisher(handlers, this.options.clock, this.options.republishIntervalMs);
    const watches = this.options.urls.map(
      (url) => new CardWatch(url, this.options, publisher, () => publish()),
    );
    const publish = (): void => {
      const agents: DiscoveredAgent[] = [];
      const unreadable: string[] = [];
      for (const watch of watches) {
        // Until every card has been tried once, a snapshot would miss some of them.
        if (watch.state === "pending") return;
        if (watch.state === "unreadable") unreadable.push(watch.key);
        if (watch.agent !== null && watch.state !== "absent") agents.push(watch.agent);
      }
      publisher.publish(agents, { unreadable });
    };
    for (const watch of watches) watch.start();
    return {
      async stop() {
        publisher.stop();
        await Promise.all(watches.map((watch) => watch.stop()));
      },
    };
  }
}

/** The reads of one card. */
class CardWatch {
  readonly key: string;
  state: "pending" | "read" | "absent" | "unreadable" = "pending";
  agent: DiscoveredAgent | null = null;
  private etag: string | null = null;
  private location: string | null = null;
  private loop: RunningLoop | null = null;

  constructor(
    private readonly url: string,
    private readonly options: ResolvedCardOptions,
    private readonly publisher: SnapshotPublisher,
    private readonly changed: () => void,
  ) {
    this.key = `agent_card:${url}`;
  }

  start(): void {
    this.loop = startRetryLoop((signal) => this.read(signal), {
      clock: this.options.clock,
      backoff: this.options.backoff,
      random: this.options.random,
      onFailure: (error) => {
        this.state = "unreadable";
        this.publisher.warn(error);
        this.changed();
      },
    });
  }

  async stop(): Promise<void> {
    await this.loop?.stop();
  }

  private async read(signal: AbortSignal): Promise<number> {
    try {
      const read = await fetchAgentCard(this.url, {
        fetch: this.options.fetch,
        timeoutMs: this.options.timeoutMs,
        maxBytes: this.options.maxBytes,
        signal,
        clock: this.options.clock,
        etag: this.etag,
        knownLocation: this.location,
      });
      this.location = read.location;
      if (read.status === "fresh") {
        const agent = agentOfCard(this.key, read.card, this.options.defaults);
        if (typeof agent === "string")
          throw new DiscoveryError("invalid_card", `agent card ${this.url}: ${agent}`);
        this.agent = agent;
        this.etag = read.etag;
      } else if (this.agent === null) {
        // A 304 for a card we never had: forget the ETag and read it whole next time.
        this.etag = null;
        throw new DiscoveryError("bad_response", `agent card ${this.url}: 304 for a card never read`);
      }
      this.state = "read";
      this.changed();
      return this.nextReadMs(read.maxAgeMs);
    } catch (error) {
      if (!(error instanceof DiscoveryError) || error.code !== "card_not_found") throw error;
      // Not found anywhere: the agent is gone (the sync still waits out its grace before removing it).
      this.state = "absent";
      this.agent = null;
      this.etag = null;
      this.location = null;
      this.changed();
      return this.nextReadMs(null);
    }
  }

  private nextReadMs(maxAgeMs: number | null): number {
    const wanted = maxAgeMs ?? this.options.intervalMs;
    return Math.min(this.options.maxIntervalMs, Math.max(this.options.minIntervalMs, wanted));
  }
}

function resolveCardOptions(options: AgentCardProviderOptions): ResolvedCardOptions {
  const urls = [...new Set(options.urls.map((url) => url.trim()))].filter((url) => url !== "");
  if (urls.length === 0 || urls.length > MAX_AGENT_CARDS)
    throw new DiscoveryError("invalid_options", `agent cards: give 1 to ${MAX_AGENT_CARDS} URLs`);
  for (const url of urls) agentCardLocations(url);
  const resolved: ResolvedCardOptions = {
    urls,
    defaults: { ...DEFAULT_ATTRIBUTES, ...options.defaults },
    intervalMs: options.intervalMs ?? 60_000,
    minIntervalMs: options.minIntervalMs ?? 10_000,
    maxIntervalMs: options.maxIntervalMs ?? 3_600_000,
    timeoutMs: options.timeoutMs ?? 10_000,
    maxBytes: options.maxBytes ?? DEFAULT_MAX_CARD_BYTES,
    backoff: resolveBackoff({ initialDelayMs: 1_000, maxDelayMs: 60_000, ...options.backoff }),
    republishIntervalMs: options.republishIntervalMs ?? DEFAULT_REPUBLISH_INTERVAL_MS,
    fetch: options.fetch ?? globalThis.fetch,
    clock: options.clock ?? SYSTEM_CLOCK,
    random: options.random ?? Math.random,
  };
  if (!(resolved.minIntervalMs >= 100 && resolved.maxIntervalMs >= resolved.minIntervalMs))
    throw new DiscoveryError("invalid_options", "agent cards: need 100 <= minIntervalMs <= maxIntervalMs");
  if (!(resolved.intervalMs >= 100 && resolved.timeoutMs >= 1 && resolved.maxBytes >= 1_024))
    throw new DiscoveryError("invalid_options", "agent cards: intervalMs, timeoutMs or maxBytes too small");
  return resolved;
}
