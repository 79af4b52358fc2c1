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

// The providers.
export * from "./dns.js";
export * from "./consul.js";
export * from "./kubernetes.js";
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
export * from "./kubernetes-client.js";
export * from "./kubernetes-endpoints.js";
