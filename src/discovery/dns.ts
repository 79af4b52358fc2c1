/**
 * Agents from DNS SRV records (RFC 2782): each record of `_service._tcp.domain` is an agent at
 * `scheme://<target>:<port>`. The target must resolve (A/AAAA, from the additional section or a
 * follow-up question); its TXT record carries team=, skills=a,b, capacity=, weight= and other
 * k=v labels (DNS-SD style). The names are asked again when the shortest TTL of everything used
 * runs out, within a floor and a ceiling, so a change shows up no later than the zone says it may.
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
  RCODE_NOERROR,
  RCODE_NXDOMAIN,
  canonicalName,
  parseDnsServer,
  queryDns,
  systemDnsServers,
  type DnsQueryOptions,
  type DnsQuestionType,
  type DnsResponse,
  type DnsServer,
} from "./dns-client.js";
import {
  addressRecords,
  negativeTtlSeconds,
  refreshDelayMs,
  serviceRecords,
  shorter,
  textPairs,
  textStrings,
} from "./dns-records.js";
import { DiscoveryError } from "./errors.js";
import { MAX_AGENTS_PER_PROVIDER } from "./limits.js";
import { startRetryLoop } from "./retry-loop.js";
import { DEFAULT_REPUBLISH_INTERVAL_MS, SnapshotPublisher } from "./snapshot-publisher.js";
import {
  COMPLETE_SNAPSHOT,
  type DiscoveredAgent,
  type DiscoveryClock,
  type DiscoveryProvider,
  type ProviderHandlers,
  type RandomSource,
  type RunningProvider,
} from "./types.js";

/** Settings of the DNS SRV provider. */
export interface DnsProviderOptions {
  /** SRV names to read, e.g. "_agents._tcp.example.com" (1 to MAX_DNS_NAMES). */
  readonly names: readonly string[];
  /** The server to ask, "host:port" or "[v6]:port" (port 53 when left out); null for the system resolver. Default null. */
  readonly server?: string | null;
  /** The scheme of the endpoints. Default "http". */
  readonly scheme?: "http" | "https";
  /** Whether endpoints name the SRV target ("target") or its first resolved address ("address"). Default "target". */
  readonly endpointHost?: "target" | "address";
  /** Which addresses a target may resolve to. Default "any" (A first, then AAAA). */
  readonly addressFamily?: "ipv4" | "ipv6" | "any";
  /** Team, skills and capacity of agents whose TXT record names none. Default team "default", no skills, capacity 1. */
  readonly defaults?: Partial<AttributeDefaults>;
  /** The shortest wait between two reads, whatever the TTLs say. Default 5 s. */
  readonly minRefreshMs?: number;
  /** The longest wait between two reads, whatever the TTLs say. Default 300 s. */
  readonly maxRefreshMs?: number;
  /** The wait after a negative answer that carries no SOA record to say how long it holds. Default 30 s. */
  readonly negativeRefreshMs?: number;
  /** How long to wait for one answer. Default 2 s. */
  readonly timeoutMs?: number;
  /** UDP attempts per question and server. Default 2. */
  readonly attempts?: number;
  /** Retry delays after a failed read. Default from 500 ms doubling to 30 s, half jitter. */
  readonly backoff?: Partial<BackoffOptions>;
  /** How often a fresh snapshot is handed again. Default 10 s. */
  readonly republishIntervalMs?: number;
  readonly clock?: DiscoveryClock;
  readonly random?: RandomSource;
}

/** Most SRV names one provider reads. */
export const MAX_DNS_NAMES = 16;
/** Most SRV records one name may have. */
export const MAX_SRV_RECORDS = 1_000;
/** Follow-up questions (addresses, TXT) asked at the same time. */
const FOLLOW_UP_CONCURRENCY = 8;

/** The TXT keys of the agent's attributes. */
export const DNS_TXT_KEYS: AttributeKeys = {
  team: "team",
  skills: "skills",
  capacity: "capacity",
  weight: "weight",
};

interface ResolvedDnsOptions {
  readonly names: readonly string[];
  readonly servers: (() => readonly DnsServer[]) | null;
  readonly scheme: "http" | "https";
  readonly endpointHost: "target" | "address";
  readonly addressFamily: "ipv4" | "ipv6" | "any";
  readonly defaults: AttributeDefaults;
  readonly minRefreshMs: number;
  readonly maxRefreshMs: number;
  readonly negativeRefreshMs: number;
  readonly timeoutMs: number;
  readonly attempts: number;
  readonly backoff: BackoffOptions;
  readonly republishIntervalMs: number;
  readonly clock: DiscoveryClock;
  readonly random: RandomSource;
}

/** What one read found. */
export interface DnsRead {
  readonly agents: readonly DiscoveredAgent[];
  /** When to read again. */
  readonly refreshDelayMs: number;
  /** Records skipped, with why. */
  readonly invalid: ReadonlyArray<{ key: string; reason: string }>;
}

/** Agents from DNS SRV records. */
export class DnsProvider implements DiscoveryProvider {
  readonly source = "dns" as const;
  private readonly options: ResolvedDnsOptions;

  constructor(options: DnsProviderOptions) {
    this.options = resolveDnsOptions(options);
  }

  start(handlers: ProviderHandlers): RunningProvider {
    const { clock } = this.options;
    const publisher = new SnapshotPublisher(handlers, clock, this.options.republishIntervalMs);
    const loop = startRetryLoop(
      async (signal) => {
        const read = await this.read(signal);
        for (const problem of read.invalid) publisher.invalid({ source: "dns", ...problem });
        publisher.publish(read.agents, COMPLETE_SNAPSHOT);
        return read.refreshDelayMs;
      },
      {
        clock,
        backoff: this.options.backoff,
        random: this.options.random,
        onFailure: (error) => publisher.fail(error),
      },
    );
    return {
      async stop() {
        publisher.stop();
        await loop.stop();
      },
    };
  }

  /** Reads every name once; rejects when any answer could not be had (a partial read is never reported). */
  async read(signal: AbortSignal): Promise<DnsRead> {
    const asker = new Asker(this.options, signal);
    const agents: DiscoveredAgent[] = [];
    const invalid: Array<{ key: string; reason: string }> = [];
    // The next read is due when the first thing read goes stale: the shortest TTL of every name,
    // a name with no TTL at all (a bare NXDOMAIN) counting as negativeRefreshMs.
    let refreshMs = this.options.maxRefreshMs;
    for (const name of this.options.names) {
      const found = await readName(name, asker, this.options);
      agents.push(...found.agents);
      invalid.push(...found.invalid);
      if (agents.length > MAX_AGENTS_PER_PROVIDER)
        throw new DiscoveryError("too_large", `DNS names list more than ${MAX_AGENTS_PER_PROVIDER} agents`);
      const { minRefreshMs, maxRefreshMs, negativeRefreshMs } = this.options;
      refreshMs = Math.min(
        refreshMs,
        refreshDelayMs(found.ttlSeconds, minRefreshMs, maxRefreshMs, negativeRefreshMs),
      );
    }
    return { agents, refreshDelayMs: refreshMs, invalid };
  }
}

/** What one SRV name gave. */
interface NameRead {
  readonly agents: readonly DiscoveredAgent[];
  readonly invalid: ReadonlyArray<{ key: string; reason: string }>;
  /** The shortest TTL of everything used, null when the name had no records and no SOA said how long. */
  readonly ttlSeconds: number | null;
}

async function readName(name: string, asker: Asker, options: ResolvedDnsOptions): Promise<NameRead> {
  const response = await asker.ask(name, "SRV");
  if (response.rcode === RCODE_NXDOMAIN)
    return { agents: [], invalid: [], ttlSeconds: negativeTtlSeconds(response.authorities) };
  const found = serviceRecords(response.answers, name);
  if (found.records.length === 0)
    return { agents: [], invalid: [], ttlSeconds: negativeTtlSeconds(response.authorities) };
  if (found.records.length > MAX_SRV_RECORDS)
    throw new DiscoveryError("too_large", `${name} has more than ${MAX_SRV_RECORDS} SRV records`);
  let ttlSeconds = found.ttlSeconds;
  const invalid: Array<{ key: string; reason: string }> = [];
  // "." as the target means the service is decidedly not offered there (RFC 2782).
  const records = found.records.filter((record) => record.target !== "" && record.target !== ".");
  const targets = [...new Set(records.map((record) => record.target))];
  const details = new Map<string, TargetDetails>();
  await forEachBounded(targets, FOLLOW_UP_CONCURRENCY, async (target) => {
    details.set(target, await readTarget(target, response, asker, options));
  });
  const agents: DiscoveredAgent[] = [];
  const seen = new Set<string>();
  for (const record of records) {
    const key = `dns:${canonicalName(name)}/${record.target}:${record.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const target = details.get(record.target);
    if (target === undefined) continue;
    ttlSeconds = shorter(ttlSeconds, target.ttlSeconds);
    const agent = agentOf(key, record, target, options);
    if (typeof agent === "string") invalid.push({ key, reason: agent });
    else agents.push(agent);
  }
  return { agents, invalid, ttlSeconds };
}

function agentOf(
  key: string,
  record: { readonly target: string; readonly port: number; readonly weight: number },
  target: TargetDetails,
  options: ResolvedDnsOptions,
): DiscoveredAgent | string {
  if (!isPort(record.port)) return `port ${record.port} is not a TCP port`;
  const address = target.addresses[0];
  if (address === undefined)
    return `target ${record.target} has no ${familyText(options.addressFamily)} address`;
  const attributes = readAttributes(textPairs(target.text), DNS_TXT_KEYS, options.defaults);
  const host = options.endpointHost === "address" ? address : record.target;
  return buildAgent({
    key,
    source: "dns",
    name: `${record.target}:${record.port}`,
    endpoint: formatEndpoint(options.scheme, host, record.port),
    // The SRV weight stands in when the TXT record gives none: both rank targets of one service.
    attributes: { ...attributes, weight: attributes.weight ?? record.weight },
    healthy: null,
  });
}

function familyText(family: ResolvedDnsOptions["addressFamily"]): string {
  switch (family) {
    case "ipv4":
      return "A";
    case "ipv6":
      return "AAAA";
    case "any":
      return "A or AAAA";
  }
}

/** What a target resolved to. */
interface TargetDetails {
  readonly addresses: readonly string[];
  readonly text: readonly string[];
  readonly ttlSeconds: number | null;
}

async function readTarget(
  target: string,
  srvResponse: DnsResponse,
  asker: Asker,
  options: ResolvedDnsOptions,
): Promise<TargetDetails> {
  const families: Array<"A" | "AAAA"> =
    options.addressFamily === "ipv4" ? ["A"] : options.addressFamily === "ipv6" ? ["AAAA"] : ["A", "AAAA"];
  let addresses: readonly string[] = [];
  let ttlSeconds: number | null = null;
  for (const type of families) {
    // Servers usually put the targets' addresses in the additional section; ask only when they did not.
    const given = addressRecords(srvResponse.additionals, target, type);
    const found = given.records.length > 0 ? given : await askAddresses(target, type, asker);
    if (found.records.length > 0) {
      addresses = found.records;
      ttlSeconds = found.ttlSeconds;
      break;
    }
  }
  const textResponse = await asker.ask(target, "TXT");
  const text =
    textResponse.rcode === RCODE_NOERROR
      ? textStrings(textResponse.answers, target)
      : { records: [], ttlSeconds: null };
  return { addresses, text: text.records, ttlSeconds: shorter(ttlSeconds, text.ttlSeconds) };
}

async function askAddresses(
  target: string,
  type: "A" | "AAAA",
  asker: Asker,
): Promise<{ records: readonly string[]; ttlSeconds: number | null }> {
  const response = await asker.ask(target, type);
  if (response.rcode === RCODE_NXDOMAIN)
    return { records: [], ttlSeconds: negativeTtlSeconds(response.authorities) };
  return addressRecords(response.answers, target, type);
}

/**
 * Asks the questions of one read: each question once (a cache for the read), each server in turn
 * when one does not answer, and any response code but NOERROR and NXDOMAIN fails the whole read.
 */
class Asker {
  private readonly cache = new Map<string, Promise<DnsResponse>>();
  private readonly queryOptions: DnsQueryOptions;

  constructor(
    private readonly options: ResolvedDnsOptions,
    signal: AbortSignal,
  ) {
    this.queryOptions = {
      clock: options.clock,
      random: options.random,
      timeoutMs: options.timeoutMs,
      attempts: options.attempts,
      signal,
    };
  }

  ask(name: string, type: DnsQuestionType): Promise<DnsResponse> {
    const cacheKey = `${type} ${canonicalName(name)}`;
    const cached = this.cache.get(cacheKey);
    if (cached !== undefined) return cached;
    const asked = this.askServers(name, type);
    this.cache.set(cacheKey, asked);
    return asked;
  }

  private async askServers(name: string, type: DnsQuestionType): Promise<DnsResponse> {
    const servers = this.options.servers?.() ?? systemDnsServers();
    if (servers.length === 0) throw new DiscoveryError("invalid_options", "no DNS server is configured");
    let lastError: Error | null = null;
    for (const server of servers.slice(0, 4)) {
      try {
        const response = await queryDns(server, name, type, this.queryOptions);
        if (response.rcode !== RCODE_NOERROR && response.rcode !== RCODE_NXDOMAIN)
          throw new DiscoveryError(
            "dns_failure",
            `DNS server ${server.host}:${server.port} answered ${rcodeName(response.rcode)} for ${name} ${type}`,
          );
        return response;
      } catch (error) {
        if (!(error instanceof DiscoveryError) || (error.code !== "timeout" && error.code !== "unreachable"))
          throw error;
        lastError = error;
      }
    }
    throw lastError ?? new DiscoveryError("unreachable", `no DNS server answered ${name} ${type}`);
  }
}

/** A response code's name, for messages. */
export function rcodeName(rcode: number): string {
  const names = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];
  return names[rcode] ?? `rcode ${rcode}`;
}

/** Runs `work` on every item, at most `concurrency` at a time; rejects with the first failure. */
async function forEachBounded<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

function resolveDnsOptions(options: DnsProviderOptions): ResolvedDnsOptions {
  const names = options.names.map((name) => name.trim()).filter((name) => name.length > 0);
  if (names.length === 0 || names.length > MAX_DNS_NAMES)
    throw new DiscoveryError("invalid_options", `dns: give 1 to ${MAX_DNS_NAMES} SRV names`);
  for (const name of names) {
    if (name.length > 253)
      throw new DiscoveryError("invalid_options", `dns: name ${name} is longer than 253`);
  }
  const server = options.server ?? null;
  const fixed = server === null ? null : [parseDnsServer(server)];
  const resolved: ResolvedDnsOptions = {
    names,
    servers: fixed === null ? null : () => fixed,
    scheme: options.scheme ?? "http",
    endpointHost: options.endpointHost ?? "target",
    addressFamily: options.addressFamily ?? "any",
    defaults: { ...DEFAULT_ATTRIBUTES, ...options.defaults },
    minRefreshMs: options.minRefreshMs ?? 5_000,
    maxRefreshMs: options.maxRefreshMs ?? 300_000,
    negativeRefreshMs: options.negativeRefreshMs ?? 30_000,
    timeoutMs: options.timeoutMs ?? 2_000,
    attempts: options.attempts ?? 2,
    backoff: resolveBackoff({ initialDelayMs: 500, maxDelayMs: 30_000, ...options.backoff }),
    republishIntervalMs: options.republishIntervalMs ?? DEFAULT_REPUBLISH_INTERVAL_MS,
    clock: options.clock ?? SYSTEM_CLOCK,
    random: options.random ?? Math.random,
  };
  if (!(resolved.minRefreshMs >= 100 && resolved.maxRefreshMs >= resolved.minRefreshMs))
    throw new DiscoveryError("invalid_options", "dns: need 100 <= minRefreshMs <= maxRefreshMs");
  if (!(resolved.timeoutMs >= 1 && resolved.attempts >= 1 && resolved.attempts <= 10))
    throw new DiscoveryError("invalid_options", "dns: timeoutMs must be positive and attempts 1 to 10");
  if (!(resolved.defaults.capacity >= 1))
    throw new DiscoveryError("invalid_options", "dns: default capacity must be at least 1");
  return resolved;
}
