/** The catalog of configuration errors: one stable code per way a setting can be wrong. */

/**
 * Every code with what it means. Codes are part of the interface (scripts and tests match on
 * them), so a code is never renamed or reused; messages may change freely.
 */
export const CONFIG_ERROR_CODES = {
  unknown_flag: "a flag that the subcommand (`juno start`, `juno dev`, `juno status`) does not know",
  unexpected_argument: "a word that is not a flag (every setting is a flag or a variable)",
  missing_value: "a flag without its value, or with an empty one",
  duplicate_flag: "the same flag given twice",
  missing_required:
    "a setting that has no default in this situation (--id with --peers or --statefulset-replicas; --statefulset-replicas and --peer-domain together)",
  malformed_id: "a node id that is not 1 to 63 letters, digits, '.', '_' or '-'",
  malformed_pod_name:
    "with --statefulset-replicas, a node id that is not a StatefulSet pod's name <statefulset>-<ordinal>",
  malformed_domain: "a DNS domain that is not dot-separated labels of lower-case letters, digits and '-'",
  not_a_number: "a number setting whose value is not a plain decimal number",
  out_of_range: "a number outside the range the setting allows",
  not_a_boolean: "a switch whose value is not true, false, 1 or 0",
  malformed_address: "an address that is not host:port (IPv6 in brackets), or cannot be dialled",
  malformed_peers: "a peer list that is not id=host:port,...",
  malformed_team_weights:
    "team weights that are not team=weight,... (each team once, weights above 0 up to 1000)",
  duplicate_peer: "a peer list naming the same id or the same address twice",
  self_not_in_peers: "a peer list that does not contain this node's own id",
  unsupported_storage: "a storage setting that is neither sqlite nor a postgres:// URL",
  unknown_log_level: "a log level that is not one of the listed levels",
  unknown_log_format: "a log format that is not json or pretty",
  unknown_discovery_type: "a service discovery type that is not one of the listed types",
  malformed_url: "a URL that is not http:// or https:// with a host",
  malformed_secret: "a secret with anything but printable ASCII, or a cluster secret that is too short",
  election_not_above_heartbeat: "an election timeout that is not at least 1.5 heartbeat intervals",
  conflicting_settings: "settings that are each valid but cannot hold together",
  insecure_without_token:
    "an HTTP listener beyond loopback without JUNO_API_TOKEN or JUNO_TOKENS_FILE (and no --insecure)",
  bad_tokens_file:
    "a tokens file (--tokens-file, JUNO_TOKENS_FILE) that cannot be read, is not a JSON or YAML list, or has an entry that is not a valid token",
  insecure_without_cluster_secret:
    "a Raft listener beyond loopback without JUNO_CLUSTER_SECRET (and no --insecure)",
  insecure_without_tls: "an HTTP listener beyond loopback in plain text: no --tls-cert (and no --insecure)",
  insecure_without_peer_tls:
    "a Raft listener beyond loopback in plain text: no --peer-tls-ca (and no --insecure)",
  bad_tls_file:
    "a certificate, key or CA file (the --tls- and --peer-tls- options) that cannot be read, is not PEM, does not match its key, is outside its validity, or is not a CA",
} as const;

/** A stable configuration error code. */
export type ConfigErrorCode = keyof typeof CONFIG_ERROR_CODES;

/**
 * Why a setting was refused. Returned, not thrown, by the parser so callers decide how to report
 * it; it extends Error so that a caller who prefers to throw it gets a readable crash.
 */
export class ConfigError extends Error {
  override name = "ConfigError";

  constructor(
    /** The stable code; match on this, never on the message. */
    readonly code: ConfigErrorCode,
    /** The flag or variable at fault (`--http`, `JUNO_HTTP_ADDR`), or the first of several. */
    readonly source: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A value a codec refused, before it is known which flag or variable the value came from; the
 * parser turns it into a ConfigError that names the source. `reason` never contains a secret.
 */
export class Invalid {
  constructor(
    readonly code: ConfigErrorCode,
    readonly reason: string,
  ) {}
}

/** The longest piece of a refused value quoted back in a message; a pasted file stays out of logs. */
const QUOTE_LENGTH_MAX = 80;

/** A refused value quoted for a message, shortened when long. */
export function quote(text: string): string {
  const shown = text.length > QUOTE_LENGTH_MAX ? `${text.slice(0, QUOTE_LENGTH_MAX)}...` : text;
  return JSON.stringify(shown);
}
