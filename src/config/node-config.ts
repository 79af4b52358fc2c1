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
import { deriveRaftTiming, type RaftTiming } from "./raft-timing.js";

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

/** Fills in the settings whose defaults depend on others, and checks the peer list against the id. */
function deriveDefaults(read: ReadSettings, given: ReadonlySet<SettingKey>): Settings | ConfigError {
  const { id, peers } = read;
  if (peers !== undefined) {
    // Defaulting the id of a multi-node cluster member would let two nodes both start as juno-1.
    if (!given.has("id")) {
      return new ConfigError(
        "missing_required",
        optionFor("id").env,
        `${optionLabel(optionFor("id"))} is required when ${optionLabel(optionFor("peers"))} is given`,
      );
    }
    if (!peers.some((peer) => peer.id === id)) {
      return new ConfigError(
        "self_not_in_peers",
        optionFor("peers").env,
        `${optionLabel(optionFor("peers"))} must contain this node's id ${quote(id)}`,
      );
    }
  }
  return {
    ...read,
    dataDir: read.dataDir ?? `./data/${id}`,
    advertiseHttpAddress: read.advertiseHttpAddress ?? localDialAddress(read.httpAddress),
    peers: peers ?? [{ id, raftAddress: localDialAddress(read.raftAddress) }],
    apiToken: read.apiToken ?? null,
    clusterSecret: read.clusterSecret ?? null,
  };
}

/** Refuses settings that are each valid but contradict one another; null when they agree. */
function checkCombination(settings: Settings): ConfigError | null {
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
