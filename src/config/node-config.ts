/** `parseNodeConfig`: flags and environment variables in, a checked node configuration out. */

import { isLoopback, localDialAddress, overlaps, formatAddress } from "./address.js";
import { readArgv } from "./argv.js";
import { ConfigError, Invalid, quote } from "./errors.js";
import { literalDefault, optionLabel, readOptionValue, type Environment } from "./option-spec.js";
import {
  OPTIONS,
  optionFor,
  type AnyOptionDescriptor,
  type DerivedKey,
  type SettingKey,
  type Settings,
} from "./option-table.js";
import { formatPeers } from "./peers.js";
import { deriveRaftTiming, type RaftTiming } from "./raft-timing.js";
import { deriveStatefulSetMembership, type StatefulSetMembership } from "./statefulset.js";

/** Everything a node is started with: the settings plus the Raft tick and options derived from them. */
export interface NodeConfig extends Settings, RaftTiming {}

export type { Environment } from "./option-spec.js";

/** Settings as read, before the derived ones are filled in. */
type ReadSettings = Omit<Settings, DerivedKey> & Partial<Pick<Settings, DerivedKey>>;

/**
 * Parses `juno start`'s arguments (after "start") and the environment. A flag wins over its
 * variable, a variable over the default. An empty variable counts as unset, because compose files
 * and shell scripts often declare variables they leave blank. Surrounding whitespace is ignored.
 * Pure: it reads nothing but its arguments.
 */
export function parseNodeConfig(argv: readonly string[], env: Environment): NodeConfig | ConfigError {
  const flags = readArgv(OPTIONS, argv, "start");
  if (flags instanceof ConfigError) return flags;
  const values: Partial<Record<SettingKey, unknown>> = {};
  const given = new Set<SettingKey>();
  for (const option of OPTIONS) {
    const value: unknown = readOptionValue<unknown>(option, flags.get(option), env);
    if (value instanceof ConfigError) return value;
    if (value !== undefined) given.add(option.key);
    values[option.key] = value ?? literalDefault<unknown>(option);
  }
  // Each value came from its own option's codec, and every setting outside DerivedKey has a default.
  const settings = deriveDefaults(values as ReadSettings, given);
  if (settings instanceof ConfigError) return settings;
  const conflict = checkCombination(settings);
  if (conflict !== null) return conflict;
  const timing = deriveRaftTiming(
    settings.electionTimeoutMs,
    settings.heartbeatIntervalMs,
    settings.compactionThresholdEntries,
  );
  if (timing instanceof Invalid) return refusal(timing, optionFor("electionTimeoutMs"));
  return { ...settings, ...timing };
}

/**
 * Fills in the settings whose defaults depend on others: from the StatefulSet when
 * --statefulset-replicas is given (the peers, the advertised address, and --join for a pod beyond
 * the initial count), else from --peers and --http. Checks the peer list against the id.
 */
function deriveDefaults(read: ReadSettings, given: ReadonlySet<SettingKey>): Settings | ConfigError {
  const statefulSet = statefulSetMembership(read, given);
  if (statefulSet instanceof ConfigError) return statefulSet;
  if (statefulSet === null) {
    const refused = checkPeerList(read, given);
    if (refused !== null) return refused;
  }
  const { id } = read;
  return {
    ...read,
    dataDir: read.dataDir ?? `./data/${id}`,
    advertiseHttpAddress:
      statefulSet?.advertiseHttpAddress ?? read.advertiseHttpAddress ?? localDialAddress(read.httpAddress),
    peers: statefulSet?.peers ?? read.peers ?? [{ id, raftAddress: localDialAddress(read.raftAddress) }],
    join: read.join || (statefulSet?.beyondInitial ?? false),
    apiToken: read.apiToken ?? null,
    tokensFile: read.tokensFile ?? null,
    clusterSecret: read.clusterSecret ?? null,
    ...tlsDefaults(read),
    statefulsetReplicas: read.statefulsetReplicas ?? null,
    peerDomain: read.peerDomain ?? null,
  };
}

/**
 * The TLS files: each as given, else none; with --peer-tls-ca and neither peer file given, the
 * node's peer certificate and key are the API's, so that one certificate issued for both uses
 * serves both.
 */
function tlsDefaults(read: ReadSettings): Pick<Settings, TlsKey> {
  // Both or neither: a peer certificate given alone must not be paired with the API's key.
  const inherit =
    read.peerTlsCa !== undefined && read.peerTlsCert === undefined && read.peerTlsKey === undefined;
  return {
    tlsCert: read.tlsCert ?? null,
    tlsKey: read.tlsKey ?? null,
    tlsClientCa: read.tlsClientCa ?? null,
    peerTlsCa: read.peerTlsCa ?? null,
    peerTlsCert: read.peerTlsCert ?? (inherit ? (read.tlsCert ?? null) : null),
    peerTlsKey: read.peerTlsKey ?? (inherit ? (read.tlsKey ?? null) : null),
  };
}

/** The settings that name TLS files. */
type TlsKey = "tlsCert" | "tlsKey" | "tlsClientCa" | "peerTlsCert" | "peerTlsKey" | "peerTlsCa";

/**
 * Refuses TLS files that cannot work together: a certificate without its key or a key without its
 * certificate, a client CA without a server certificate, peer files without the cluster CA, or
 * the cluster CA without a certificate to present. Null when they agree.
 */
function checkTls(settings: Settings): ConfigError | null {
  const pairs: readonly [SettingKey, SettingKey][] = [
    ["tlsCert", "tlsKey"],
    ["tlsKey", "tlsCert"],
    ["peerTlsCert", "peerTlsKey"],
    ["peerTlsKey", "peerTlsCert"],
  ];
  for (const [given, needed] of pairs) {
    if (settings[given] !== null && settings[needed] === null)
      return missing(
        needed,
        `${optionLabel(optionFor(given))} is given, and one is of no use without the other`,
      );
  }
  if (settings.tlsClientCa !== null && settings.tlsCert === null) {
    return missing(
      "tlsCert",
      `${optionLabel(optionFor("tlsClientCa"))} asks clients for certificates over TLS`,
    );
  }
  if (settings.peerTlsCert !== null && settings.peerTlsCa === null) {
    return missing(
      "peerTlsCa",
      `${optionLabel(optionFor("peerTlsCert"))} is given: the cluster CA every peer's certificate is checked against`,
    );
  }
  if (settings.peerTlsCa !== null && settings.peerTlsCert === null) {
    return missing(
      "peerTlsCert",
      `${optionLabel(optionFor("peerTlsCa"))} turns on peer TLS, and this node needs a certificate to present (or give --tls-cert and --tls-key)`,
    );
  }
  return null;
}

/** Refuses a --peers list without an explicit id, or without this node in it; null when it is fine. */
function checkPeerList(read: ReadSettings, given: ReadonlySet<SettingKey>): ConfigError | null {
  if (read.peers === undefined) return null;
  // Defaulting the id of a multi-node cluster member would let two nodes both start as juno-1.
  if (!given.has("id")) {
    return new ConfigError(
      "missing_required",
      optionFor("id").env,
      `${optionLabel(optionFor("id"))} is required when ${optionLabel(optionFor("peers"))} is given`,
    );
  }
  if (!read.peers.some((peer) => peer.id === read.id)) {
    return new ConfigError(
      "self_not_in_peers",
      optionFor("peers").env,
      `${optionLabel(optionFor("peers"))} must contain this node's id ${quote(read.id)}`,
    );
  }
  return null;
}

/**
 * The membership a StatefulSet pod derives, or null without --statefulset-replicas. Refuses the
 * options that must come with it when they are missing, and the ones it derives when they were
 * given and say otherwise: a --peers, --advertise-http or --join=false that silently lost to the
 * derived value would hide a mistake, while one equal to it is harmless (and is what toInvocation
 * writes back).
 */
function statefulSetMembership(
  read: ReadSettings,
  given: ReadonlySet<SettingKey>,
): StatefulSetMembership | ConfigError | null {
  // Read values are never null (a codec returns a value or a refusal); unset ones are undefined.
  const replicas = read.statefulsetReplicas ?? null;
  const domain = read.peerDomain ?? null;
  if (replicas === null && domain === null) return null;
  const replicasLabel = optionLabel(optionFor("statefulsetReplicas"));
  if (replicas === null) {
    return missing("statefulsetReplicas", `${optionLabel(optionFor("peerDomain"))} is only used with it`);
  }
  if (domain === null) {
    return missing(
      "peerDomain",
      `${replicasLabel} needs it: the domain of the StatefulSet's headless Service, e.g. juno-phase3.default.svc.cluster.local`,
    );
  }
  if (!given.has("id")) {
    return missing("id", `${replicasLabel} needs it: the pod's name, from a fieldRef to metadata.name`);
  }
  const derived = deriveStatefulSetMembership({
    id: read.id,
    replicas,
    domain,
    httpPort: read.httpAddress.port,
    raftPort: read.raftAddress.port,
  });
  if (derived instanceof Invalid) {
    return refusal(derived, optionFor(derived.code === "malformed_domain" ? "peerDomain" : "id"));
  }
  if (derived.beyondInitial && given.has("join") && !read.join) {
    return new ConfigError(
      "conflicting_settings",
      optionFor("join").env,
      `${optionLabel(optionFor("id"))} ${quote(read.id)} has ordinal ${derived.pod.ordinal}, beyond the initial ` +
        `${replicasLabel} of ${replicas} (ordinals 0 to ${replicas - 1}), so it can only join the cluster; ` +
        `${optionLabel(optionFor("join"))} cannot be false`,
    );
  }
  if (read.peers !== undefined && formatPeers(read.peers) !== formatPeers(derived.peers)) {
    return disagreement("peers", formatPeers(derived.peers));
  }
  const advertised = read.advertiseHttpAddress;
  if (advertised !== undefined && formatAddress(advertised) !== formatAddress(derived.advertiseHttpAddress)) {
    return disagreement("advertiseHttpAddress", formatAddress(derived.advertiseHttpAddress));
  }
  return derived;
}

/** The refusal of a setting that is required in this situation, naming why. */
function missing(key: SettingKey, why: string): ConfigError {
  const option = optionFor(key);
  return new ConfigError("missing_required", option.env, `${optionLabel(option)} is required: ${why}`);
}

/** The refusal of a setting the StatefulSet derives, given with another value. */
function disagreement(key: SettingKey, derived: string): ConfigError {
  const option = optionFor(key);
  return new ConfigError(
    "conflicting_settings",
    option.env,
    `${optionLabel(option)} disagrees with ${optionLabel(optionFor("statefulsetReplicas"))}, which derives ` +
      `${quote(derived)}; leave ${optionLabel(option)} out`,
  );
}

/** Refuses settings that are each valid but contradict one another; null when they agree. */
function checkCombination(settings: Settings): ConfigError | null {
  const tls = checkTls(settings);
  if (tls !== null) return tls;
  if (settings.healthCheckTimeoutMs > settings.healthCheckIntervalMs) {
    return conflict("healthCheckTimeoutMs", "healthCheckIntervalMs", "must not be longer than");
  }
  const needsNames =
    settings.serviceDiscoveryType === "dns" || settings.serviceDiscoveryType === "kubernetes";
  if (needsNames && settings.discoveryNames.trim() === "") {
    return conflict("discoveryNames", "serviceDiscoveryType", "must name what to discover for this");
  }
  if (settings.failureDetectionTimeoutMs < 2 * settings.agentHeartbeatIntervalMs) {
    return conflict("failureDetectionTimeoutMs", "agentHeartbeatIntervalMs", "must be at least twice");
  }
  if (!settings.consensusEnabled && settings.peers.length > 1) {
    return conflict("consensusEnabled", "peers", "cannot be false with more than one node in");
  }
  if (settings.statefulsetReplicas !== null) {
    // The other pods dial <pod>.<domain>; a listener on loopback only would never answer them.
    const loopback = isLoopback(settings.httpAddress)
      ? "httpAddress"
      : isLoopback(settings.raftAddress)
        ? "raftAddress"
        : null;
    if (loopback !== null)
      return conflict(loopback, "statefulsetReplicas", "cannot listen on loopback only with");
  }
  if (overlaps(settings.httpAddress, settings.raftAddress)) {
    return conflict("httpAddress", "raftAddress", "must not use the same port as");
  }
  // Followers forward writes to the leader's advertised address; a loopback one would send a
  // follower on another host to itself.
  const remote = settings.peers.find((peer) => peer.id !== settings.id && !isLoopback(peer.raftAddress));
  if (remote !== undefined && isLoopback(settings.advertiseHttpAddress)) {
    return new ConfigError(
      "conflicting_settings",
      optionFor("advertiseHttpAddress").env,
      `${optionLabel(optionFor("advertiseHttpAddress"))} is ${formatAddress(settings.advertiseHttpAddress)}, ` +
        `which peer ${remote.id} at ${formatAddress(remote.raftAddress)} cannot reach; set it to an address the peers can dial`,
    );
  }
  return null;
}

/** A refusal of two settings together, naming both. */
function conflict(first: SettingKey, second: SettingKey, relation: string): ConfigError {
  const a = optionFor(first);
  return new ConfigError(
    "conflicting_settings",
    a.env,
    `${optionLabel(a)} ${relation} ${optionLabel(optionFor(second))}`,
  );
}

/** A refused value of a setting whose source is not known any more, naming the option. */
function refusal(invalid: Invalid, option: Pick<AnyOptionDescriptor, "flag" | "env">): ConfigError {
  return new ConfigError(invalid.code, option.env, `${optionLabel(option)}: ${invalid.reason}`);
}
