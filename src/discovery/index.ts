/**
 * The discovery edge: providers that find agents in outside systems (DNS SRV, Consul, Kubernetes
 * EndpointSlices, A2A agent cards) and hand over full snapshots, and DiscoverySync, which turns
 * snapshots into registry upserts and removals with blip protection. A leader-only controller
 * runs one provider and proposes DiscoverySync's plans as commands.
 */

// What providers report, and how they fail.
export * from "./types.js";
export * from "./errors.js";
export * from "./limits.js";

// Choosing a provider from the node's settings.
export * from "./create-provider.js";

// From snapshots to registry changes.
export * from "./sync.js";

// The providers. The Kubernetes one is not here: it loads @kubernetes/client-node, so it is
// imported from "./kubernetes.js" (and "./kubernetes-client.js") by what needs it, and by
// discoveryProviders() only on a node set to discover agents in Kubernetes.
export * from "./dns.js";
export * from "./consul.js";
export * from "./agent-card.js";
export * from "./agent-card-watcher.js";

// Their parts.
export * from "./agent-attributes.js";
export * from "./retry-loop.js";
export * from "./snapshot-publisher.js";
export * from "./http-request.js";
export * from "./dns-client.js";
export * from "./dns-records.js";
export * from "./consul-api.js";
export * from "./kubernetes-endpoints.js";
