/** The start-up rule that keeps an unauthenticated or unencrypted node off the network. */

import { formatAddress, isLoopback } from "./address.js";
import { ConfigError } from "./errors.js";
import type { NodeConfig } from "./node-config.js";

/** What the rule looks at. */
export type ExposureSettings = Pick<
  NodeConfig,
  | "httpAddress"
  | "raftAddress"
  | "apiToken"
  | "tokensFile"
  | "clusterSecret"
  | "insecure"
  | "tlsCert"
  | "peerTlsCa"
>;

/**
 * Refuses a node whose HTTP API listens beyond loopback without JUNO_API_TOKEN or without TLS, or
 * whose Raft transport listens beyond loopback without JUNO_CLUSTER_SECRET or without peer TLS,
 * unless --insecure is given; null when the node may start. The Raft rule exists because anyone
 * who can reach an unauthenticated Raft port can pose as a leader and overwrite the log, which no
 * API token protects against; the TLS rules because a token or a log entry sent in plain text is
 * anyone's who can see the network. The server calls this at start-up, before it binds anything.
 */
export function checkExposure(config: ExposureSettings): ConfigError | null {
  if (config.insecure) return null;
  // A tokens file counts as a token: with it, no request goes unauthenticated.
  if (config.apiToken === null && config.tokensFile === null && !isLoopback(config.httpAddress)) {
    return new ConfigError(
      "insecure_without_token",
      "JUNO_API_TOKEN",
      `the HTTP API would listen on ${formatAddress(config.httpAddress)}, beyond loopback, without ` +
        "JUNO_API_TOKEN: set JUNO_API_TOKEN or JUNO_TOKENS_FILE, listen on 127.0.0.1, or pass --insecure on a closed network",
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
  if (config.tlsCert === null && !isLoopback(config.httpAddress)) {
    return new ConfigError(
      "insecure_without_tls",
      "JUNO_TLS_CERT",
      `the HTTP API would listen on ${formatAddress(config.httpAddress)}, beyond loopback, in plain text: ` +
        "give --tls-cert and --tls-key (JUNO_TLS_CERT, JUNO_TLS_KEY), listen on 127.0.0.1, or pass --insecure " +
        "on a closed network (or behind a mesh that encrypts for juno)",
    );
  }
  if (config.peerTlsCa === null && !isLoopback(config.raftAddress)) {
    return new ConfigError(
      "insecure_without_peer_tls",
      "JUNO_PEER_TLS_CA",
      `the Raft transport would listen on ${formatAddress(config.raftAddress)}, beyond loopback, in plain text: ` +
        "give --peer-tls-ca with this node's certificate (--peer-tls-cert and --peer-tls-key, or --tls-cert and " +
        "--tls-key), listen on 127.0.0.1, or pass --insecure on a closed network",
    );
  }
  return null;
}
