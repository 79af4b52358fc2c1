/** The start-up rule that keeps an unauthenticated node off the network. */

import { formatAddress, isLoopback } from "./address.js";
import { ConfigError } from "./errors.js";
import type { NodeConfig } from "./node-config.js";

/** What the rule looks at. */
export type ExposureSettings = Pick<
  NodeConfig,
  "httpAddress" | "raftAddress" | "apiToken" | "clusterSecret" | "insecure"
>;

/**
 * Refuses a node whose HTTP API listens beyond loopback without JUNO_API_TOKEN, or whose Raft
 * transport listens beyond loopback without JUNO_CLUSTER_SECRET, unless --insecure is given; null
 * when the node may start. The Raft rule exists because anyone who can reach an unauthenticated
 * Raft port can pose as a leader and overwrite the log, which no API token protects against.
 * The server calls this at start-up, before it binds anything.
 */
export function checkExposure(config: ExposureSettings): ConfigError | null {
  if (config.insecure) return null;
  if (config.apiToken === null && !isLoopback(config.httpAddress)) {
    return new ConfigError(
      "insecure_without_token",
      "JUNO_API_TOKEN",
      `the HTTP API would listen on ${formatAddress(config.httpAddress)}, beyond loopback, without ` +
        "JUNO_API_TOKEN: set JUNO_API_TOKEN, listen on 127.0.0.1, or pass --insecure on a closed network",
    );
  }
  if (config.clusterSecret === null && !isLoopback(config.raftAddress)) {
    return new ConfigError(
      "insecure_without_cluster_secret",
      "JUNO_CLUSTER_SECRET",
      `the Raft transport would listen on ${formatAddress(config.raftAddress)}, beyond loopback, without ` +
        "JUNO_CLUSTER_SECRET: set JUNO_CLUSTER_SECRET, listen on 127.0.0.1, or pass --insecure on a closed network",
    );
  }
  return null;
}
