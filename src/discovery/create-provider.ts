/** The discovery settings of a node, one variant per kind of source, and the provider each one makes. */

import { AgentCardWatcher, type AgentCardProviderOptions } from "./agent-card-watcher.js";
import { ConsulProvider, type ConsulProviderOptions } from "./consul.js";
import { DnsProvider, type DnsProviderOptions } from "./dns.js";
// Only the type: the provider itself, and @kubernetes/client-node under it (about 15 MB of code on
// every node's heap), are loaded when a node is set to discover agents in Kubernetes.
import type { KubernetesProviderOptions } from "./kubernetes.js";
import type { DiscoveryProvider } from "./types.js";

/** The kinds of discovery a node can run (SERVICE_DISCOVERY_TYPE in the seed's configuration). */
export const DISCOVERY_TYPES = ["custom", "dns", "consul", "kubernetes", "agent_card"] as const;

/** One kind of discovery. */
export type DiscoveryType = (typeof DISCOVERY_TYPES)[number];

/**
 * How a node discovers agents, by `type`. Every provider also takes `clock` and `random` (tests
 * only), `backoff` ({ initialDelayMs, maxDelayMs, multiplier, jitter }: retry delays after a
 * failed read, which never stop but are capped) and `republishIntervalMs` (default 10 000: how
 * often a fresh snapshot is handed again, so that gone agents are seen missing repeatedly).
 *
 * `type: "custom"`: agents register themselves through the API; no provider (null).
 *
 * `type: "dns"`: DNS SRV records.
 * - `names` (required): SRV names, e.g. ["_agents._tcp.example.com"], 1 to 16.
 * - `server`: "host:port" or "[v6]:port" of the DNS server; default null, the system resolver.
 * - `scheme`: "http" | "https" of the endpoints; default "http".
 * - `endpointHost`: "target" (the SRV target name) | "address" (its first A/AAAA); default "target".
 * - `addressFamily`: "ipv4" | "ipv6" | "any"; default "any".
 * - `defaults`: { team, skills, capacity } when the target's TXT record has none; default "default", [], 1.
 * - `minRefreshMs` / `maxRefreshMs`: floor and ceiling on the TTL-driven re-read; default 5 000 / 300 000.
 * - `negativeRefreshMs`: re-read after a negative answer without SOA; default 30 000.
 * - `timeoutMs`: per answer; default 2 000. `attempts`: UDP tries per question; default 2.
 *
 * `type: "consul"`: Consul's catalog and health endpoints.
 * - `endpoint`: the agent's HTTP address (CONSUL_ENDPOINT); default "http://127.0.0.1:8500".
 * - `token`: ACL token (X-Consul-Token); default none. `datacenter`: ?dc=; default the agent's.
 * - `tag`: services whose instances carry it are agents, null for none; default "juno-agent".
 * - `services`: service names that are agents whatever their tags; default [].
 * - `scheme`: of the agents' endpoints; default "http".
 * - `defaults`: { team, skills, capacity } when Meta has no juno_team / juno_skills (else the tags) / juno_capacity.
 * - `waitSeconds`: blocking query wait, 1 to 600; default 60. `minIntervalMs`: rate limit per query; default 1 000.
 * - `timeoutMs`: request deadline beyond the wait; default 10 000. `maxBodyBytes`: default 16 MiB.
 *
 * `type: "kubernetes"`: EndpointSlices of Services.
 * - `services` (required): Service names, 1 to 64.
 * - `namespace`: default the kubeconfig context's (the pod's own in a cluster), else "default".
 * - `connection`: { kind: "auto" } (default: in a pod its service account, else KUBECONFIG or
 *   ~/.kube/config) | { kind: "in_cluster" } | { kind: "kubeconfig", path?, context? } |
 *   { kind: "token", server, token?, caData?, skipTlsVerify? }.
 * - `portName`: only ports of this name; default null, every TCP port.
 * - `scheme`: of the endpoints; default "http".
 * - `defaults`: { team, skills, capacity } when the Service has no juno.dev/team, juno.dev/skills, juno.dev/capacity annotations.
 * - `readServiceAnnotations`: read those annotations (needs get on services); default true.
 * - `pageSize`: list page size; default 500. `watchTimeoutSeconds`: default 300 (jittered to 2x).
 * - `relistIntervalMs`: list again at least this often; default 600 000.
 * - `requestTimeoutMs`: per read or page; default 30 000. `minWatchIntervalMs`: default 1 000.
 *
 * `type: "agent_card"`: A2A agent cards.
 * - `urls` (required): card URLs (ending in .json) or agent endpoints (their
 *   /.well-known/agent-card.json, then agent.json), 1 to 256.
 * - `defaults`: { team, capacity } of every agent, and skills when the card lists none.
 * - `intervalMs`: re-read when the card has no max-age; default 60 000.
 * - `minIntervalMs` / `maxIntervalMs`: floor and ceiling on the re-read; default 10 000 / 3 600 000.
 * - `timeoutMs`: per request; default 10 000. `maxBytes`: largest card; default 262 144.
 */
export type DiscoveryOptions =
  | { readonly type: "custom" }
  | ({ readonly type: "dns" } & DnsProviderOptions)
  | ({ readonly type: "consul" } & ConsulProviderOptions)
  | ({ readonly type: "kubernetes" } & KubernetesProviderOptions)
  | ({ readonly type: "agent_card" } & AgentCardProviderOptions);

/**
 * What makes the providers `options` describe (a leader makes a fresh one each term), or null for
 * "custom"; loads the provider's code first where it is not loaded up front (Kubernetes). Makes
 * one at once, so settings that make no sense are refused here (DiscoveryError
 * "invalid_options"), not when a leader starts it.
 */
export async function discoveryProviders(
  options: DiscoveryOptions,
): Promise<(() => DiscoveryProvider) | null> {
  let make: () => DiscoveryProvider;
  switch (options.type) {
    case "custom":
      return null;
    case "dns":
      make = () => new DnsProvider(options);
      break;
    case "consul":
      make = () => new ConsulProvider(options);
      break;
    case "kubernetes": {
      const { KubernetesProvider } = await import("./kubernetes.js");
      make = () => new KubernetesProvider(options);
      break;
    }
    case "agent_card":
      make = () => new AgentCardWatcher(options);
      break;
  }
  make();
  return make;
}
