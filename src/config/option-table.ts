/**
 * The table of every `juno start` setting: flag, environment variable, default, unit, meaning and
 * codec. The parser, the serialiser, the redacted log view, `juno start --help` and the README's
 * table are all generated from it, so the documentation cannot drift from the code.
 */

import type { Address } from "./address.js";
import {
  booleanCodec,
  choiceCodec,
  dialAddressCodec,
  httpUrlCodec,
  integerCodec,
  listenAddressCodec,
  nodeIdCodec,
  peersCodec,
  secondsCodec,
  secretCodec,
  storageCodec,
  teamLimitsCodec,
  teamWeightsCodec,
  textCodec,
} from "./codecs.js";
import type { OptionSpec } from "./option-spec.js";
import type { Peer } from "./peers.js";
import type { Secret } from "./secret.js";
import { peerDomainCodec, statefulSetReplicasCodec } from "./statefulset.js";
import type { Storage } from "./storage.js";
import type { NodeId } from "../raft/index.js";

/**
 * The shortest cluster secret: the transport derives its handshake key from it and refuses
 * shorter ones (MIN_SECRET_BYTES in src/transport/handshake.ts), since one recorded handshake
 * lets an attacker guess a short secret offline. Refusing here names the variable instead.
 */
export const CLUSTER_SECRET_LENGTH_MIN = 16;

/** Log levels, those of pino (fastify's logger), most severe first. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** A log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How log lines are written: one JSON object per line for machines, or readable lines for people. */
export const LOG_FORMATS = ["json", "pretty"] as const;

/** A log format. */
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * Where agents are discovered, as the agents issue names them: `custom` is juno's own replicated
 * agent registry (agents register over the API); the others find agents through DNS SRV records,
 * Consul's catalog or the Kubernetes API.
 */
export const SERVICE_DISCOVERY_TYPES = ["custom", "dns", "consul", "kubernetes"] as const;

/** A service discovery mechanism. */
export type ServiceDiscoveryType = (typeof SERVICE_DISCOVERY_TYPES)[number];

/** Names of discovery types that are still accepted: `registry` was custom's name before the agents issue. */
export const SERVICE_DISCOVERY_ALIASES: ReadonlyMap<string, ServiceDiscoveryType> = new Map([
  ["registry", "custom"],
]);

/** Every setting of a node, as parsed; durations in milliseconds whatever unit they were written in. */
export interface Settings {
  readonly id: NodeId;
  readonly dataDir: string;
  readonly httpAddress: Address;
  readonly raftAddress: Address;
  readonly advertiseHttpAddress: Address;
  /** The initial cluster, sorted by id; always contains this node. */
  readonly peers: readonly Peer[];
  readonly storage: Storage;
  /** Start empty and wait to be added to an existing cluster, instead of founding one. */
  readonly join: boolean;
  /**
   * The StatefulSet's initial replica count when the peers, the advertised address and --join are
   * derived from the pod's name (statefulset.ts); null when they are not.
   */
  readonly statefulsetReplicas: number | null;
  /** The headless Service's DNS domain the pods are named in; set exactly when statefulsetReplicas is. */
  readonly peerDomain: string | null;
  readonly insecure: boolean;
  readonly apiToken: Secret | null;
  /** A JSON or YAML list of scoped tokens (src/access/tokens.ts), read at start; null for none. */
  readonly tokensFile: string | null;
  /** Requests per second one token may make on this node; 0: no limit. */
  readonly rateLimit: number;
  readonly clusterSecret: Secret | null;
  /** The HTTP API's certificate chain and key (PEM files); both null for plain HTTP. */
  readonly tlsCert: string | null;
  readonly tlsKey: string | null;
  /** CAs that client certificates presented to the API must verify against; null: none asked for. */
  readonly tlsClientCa: string | null;
  /** This node's certificate and key on the peer transport; null without peer TLS. */
  readonly peerTlsCert: string | null;
  readonly peerTlsKey: string | null;
  /** The cluster CA every peer's certificate is checked against; set exactly when peer TLS is on. */
  readonly peerTlsCa: string | null;
  readonly logLevel: LogLevel;
  /** json for log collectors, pretty for a person at a terminal (what `juno dev` asks for). */
  readonly logFormat: LogFormat;
  readonly electionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly compactionThresholdEntries: number;
  /** Client requests a node holds waiting for their outcome before it answers 503 overloaded. */
  readonly maxPendingRequests: number;
  readonly healthCheckIntervalMs: number;
  readonly healthCheckTimeoutMs: number;
  /** How often agents are told to beat. */
  readonly agentHeartbeatIntervalMs: number;
  readonly failureDetectionTimeoutMs: number;
  readonly recoveryRetryAttempts: number;
  readonly taskMigrationTimeoutMs: number;
  readonly circuitBreakerThreshold: number;
  /** A queued task waiting this long moves up one priority level. */
  readonly taskAgingMs: number;
  /** Teams' weights in fair sharing, as [team, weight] pairs (others weigh 1). */
  readonly taskTeamWeights: readonly (readonly [string, number])[];
  readonly taskTeamQueueLimit: number;
  readonly taskTeamRunningLimit: number;
  readonly taskDeliveryTimeoutMs: number;
  readonly taskRetention: number;
  readonly workflowTeamStepLimits: readonly (readonly [string, number])[];
  readonly workflowTeamStepLimit: number;
  readonly workflowRetention: number;
  readonly serviceDiscoveryType: ServiceDiscoveryType;
  readonly consulEndpoint: string;
  /** What a discovery provider looks for (SRV names, Service names, Consul service names), comma-separated. */
  readonly discoveryNames: string;
  /** The DNS server SRV names are asked of ("" for the system resolver). */
  readonly discoveryDnsServer: string;
  /** The team of discovered agents that do not say their own. */
  readonly discoveryTeam: string;
  readonly phase: number;
  readonly multiAgentEnabled: boolean;
  readonly consensusEnabled: boolean;
  readonly faultToleranceEnabled: boolean;
}

/** The name of one setting. */
export type SettingKey = keyof Settings;

/** Settings whose default depends on other settings (or is "unset"); node-config.ts derives them. */
export type DerivedKey =
  | "dataDir"
  | "advertiseHttpAddress"
  | "peers"
  | "apiToken"
  | "tokensFile"
  | "clusterSecret"
  | "tlsCert"
  | "tlsKey"
  | "tlsClientCa"
  | "peerTlsCert"
  | "peerTlsKey"
  | "peerTlsCa"
  | "statefulsetReplicas"
  | "peerDomain";

/** Sections of the help text, in order. */
export type OptionGroup = "node" | "tls" | "raft" | "discovery" | "faults" | "phase";

/** One row of the table; unlike the small tables of other subcommands, every row has a variable. */
export interface OptionDescriptor<K extends SettingKey = SettingKey> extends OptionSpec<
  NonNullable<Settings[K]>
> {
  readonly key: K;
  readonly group: OptionGroup;
  readonly env: string;
  /**
   * The default as text, read by the codec like any other value (so the documented default is the
   * real one); for derived settings, the rule that derives it.
   */
  readonly default: K extends DerivedKey ? { readonly derived: string } : string;
  /** The unit the value is written in ("ms", "s", "entries"), or "" when it has none. */
  readonly unit: string;
  /** Required here, so that every `juno start` setting says whether it works yet. */
  readonly reserved: string | null;
}

/** Any row of the table. */
export type AnyOptionDescriptor = { [K in SettingKey]: OptionDescriptor<K> }[SettingKey];

/** A file's path, as the TLS settings take it. */
const fileCodec = { ...textCodec, placeholder: "file" };

/** The table. Order is help order; the seed's variables keep the seed's names and units. */
export const OPTIONS: readonly AnyOptionDescriptor[] = [
  {
    key: "id",
    group: "node",
    flag: "--id",
    env: "RAFT_NODE_ID",
    default: "juno-1",
    unit: "",
    meaning: "This node's id in the cluster, stable for its whole life; required when --peers is given.",
    reserved: null,
    codec: nodeIdCodec,
  },
  {
    key: "dataDir",
    group: "node",
    flag: "--data-dir",
    env: "JUNO_DATA_DIR",
    default: { derived: "./data/<id>" },
    unit: "",
    meaning: "Directory for the log, snapshots and the SQLite file; relative to the working directory.",
    reserved: null,
    codec: textCodec,
  },
  {
    key: "httpAddress",
    group: "node",
    flag: "--http",
    env: "JUNO_HTTP_ADDR",
    default: "0.0.0.0:8080",
    unit: "",
    meaning: "Address the HTTP API listens on; 0.0.0.0 or [::] means every interface.",
    reserved: null,
    codec: listenAddressCodec,
  },
  {
    key: "raftAddress",
    group: "node",
    flag: "--raft",
    env: "JUNO_RAFT_ADDR",
    default: "0.0.0.0:9090",
    unit: "",
    meaning: "Address the Raft peer transport listens on.",
    reserved: null,
    codec: listenAddressCodec,
  },
  {
    key: "advertiseHttpAddress",
    group: "node",
    flag: "--advertise-http",
    env: "JUNO_ADVERTISE_HTTP",
    default: {
      derived:
        "--http, with 0.0.0.0 as 127.0.0.1 and :: as ::1; <id>.<--peer-domain> with --statefulset-replicas",
    },
    unit: "",
    meaning:
      "Address other nodes and clients use to reach this node's HTTP API (followers forward writes there). Set it whenever peers run on other hosts.",
    reserved: null,
    codec: dialAddressCodec,
  },
  {
    key: "peers",
    group: "node",
    flag: "--peers",
    env: "JUNO_PEERS",
    default: { derived: "this node alone, at --raft; the StatefulSet's pods with --statefulset-replicas" },
    unit: "",
    meaning:
      "The initial cluster, this node included, as id=host:raftport,... Used only when the data directory is empty; later changes go through membership commands.",
    reserved: null,
    codec: peersCodec,
  },
  {
    key: "storage",
    group: "node",
    flag: "--storage",
    env: "JUNO_STORAGE",
    default: "sqlite",
    unit: "",
    meaning:
      "sqlite (a file in the data directory) or a postgres:// URL (each node in its own schema, juno_<id>, or ?schema=name). Prefer the variable for a URL with a password.",
    reserved: null,
    codec: storageCodec,
  },
  {
    key: "join",
    group: "node",
    flag: "--join",
    env: "JUNO_JOIN",
    default: "false",
    unit: "",
    meaning:
      "Join an existing cluster instead of founding one: start empty and wait for the leader, after POST /api/v3/cluster/members added this node. --peers then lists the existing members, so this node can answer them. With --statefulset-replicas a pod beyond the initial count always joins.",
    reserved: null,
    codec: booleanCodec,
  },
  {
    key: "statefulsetReplicas",
    group: "node",
    flag: "--statefulset-replicas",
    env: "JUNO_STATEFULSET_REPLICAS",
    default: { derived: "none (the peers are --peers)" },
    unit: "pods",
    meaning:
      "Run as a pod of a Kubernetes StatefulSet that started with this many replicas, and derive --peers, --advertise-http and --join from it: --id (RAFT_NODE_ID from metadata.name) is <statefulset>-<ordinal>; pods 0 to this count - 1 found the cluster, every member at <pod>.<--peer-domain>:<--raft port>; a pod beyond them joins. Keep it at the initial count when scaling (deploy/k8s/scale.sh). --peers or --advertise-http given too must equal what is derived.",
    reserved: null,
    codec: statefulSetReplicasCodec,
  },
  {
    key: "peerDomain",
    group: "node",
    flag: "--peer-domain",
    env: "JUNO_PEER_DOMAIN",
    default: { derived: "none" },
    unit: "",
    meaning:
      "The DNS domain of the StatefulSet's headless Service, in which each pod is <pod>.<domain>, e.g. juno-phase3.default.svc.cluster.local; required with --statefulset-replicas, and only used with it.",
    reserved: null,
    codec: peerDomainCodec,
  },
  {
    key: "insecure",
    group: "node",
    flag: "--insecure",
    env: "JUNO_INSECURE",
    default: "false",
    unit: "",
    meaning:
      "Start even when listening beyond loopback without JUNO_API_TOKEN or JUNO_CLUSTER_SECRET, or in plain text (the API without --tls-cert, the peer transport without --peer-tls-ca). For closed test networks, or a service mesh that encrypts for juno, only.",
    reserved: null,
    codec: booleanCodec,
  },
  {
    key: "apiToken",
    group: "node",
    flag: null,
    env: "JUNO_API_TOKEN",
    default: { derived: "none" },
    unit: "",
    meaning:
      "Secret bearer token every /api/v3 request must carry (Authorization: Bearer <token>). Never printed.",
    reserved: null,
    codec: secretCodec(1),
  },
  {
    key: "tokensFile",
    group: "node",
    flag: "--tokens-file",
    env: "JUNO_TOKENS_FILE",
    default: { derived: "none" },
    unit: "",
    meaning:
      "A JSON or YAML list of scoped tokens, {name, role: admin|operator|reader|agent, token or token_sha256, agent_id (agent tokens), expires_at?}, read at start. This node's own, not replicated: mount the same file on every node. Tokens made through POST /api/v3/tokens are replicated.",
    reserved: null,
    codec: { ...textCodec, placeholder: "file" },
  },
  {
    key: "rateLimit",
    group: "node",
    flag: "--rate-limit",
    env: "JUNO_RATE_LIMIT",
    default: "0",
    unit: "requests/s",
    meaning:
      "Requests per second one token (a caller without one: one client address) may make on this node; beyond it 429 rate_limited with Retry-After. Probes and /metrics are never limited. 0 turns the limit off: the default, because one token often serves many agents (a shared JUNO_API_TOKEN at 10,000 beats a second) and the node's own bounds already protect it; set it where each agent has its own token.",
    reserved: null,
    codec: integerCodec(0, 1_000_000, "requests/s"),
  },
  {
    key: "clusterSecret",
    group: "node",
    flag: null,
    env: "JUNO_CLUSTER_SECRET",
    default: { derived: "none" },
    unit: "",
    meaning: `Shared secret the nodes use to authenticate each other on the Raft transport; the same on every node, at least ${CLUSTER_SECRET_LENGTH_MIN} characters. Never printed.`,
    reserved: null,
    codec: secretCodec(CLUSTER_SECRET_LENGTH_MIN),
  },
  {
    key: "tlsCert",
    group: "tls",
    flag: "--tls-cert",
    env: "JUNO_TLS_CERT",
    default: { derived: "none: the API is plain HTTP" },
    unit: "",
    meaning:
      "PEM file with the HTTP API's certificate (then its intermediates): the API, /healthz, /readyz, /metrics and /ui are served over HTTPS only. Needs --tls-key. Read again on SIGHUP and when the file changes.",
    reserved: null,
    codec: fileCodec,
  },
  {
    key: "tlsKey",
    group: "tls",
    flag: "--tls-key",
    env: "JUNO_TLS_KEY",
    default: { derived: "none" },
    unit: "",
    meaning: "PEM file with the private key of --tls-cert (unencrypted; keep the file private).",
    reserved: null,
    codec: fileCodec,
  },
  {
    key: "tlsClientCa",
    group: "tls",
    flag: "--tls-client-ca",
    env: "JUNO_TLS_CLIENT_CA",
    default: { derived: "none: clients are not asked for a certificate" },
    unit: "",
    meaning:
      "PEM file of CAs for client certificates: clients are asked for one, may present none, and a certificate that does not verify against these CAs is refused (401 unauthorized). A verified certificate grants nothing beyond that: the bearer token is still required. Needs --tls-cert.",
    reserved: null,
    codec: fileCodec,
  },
  {
    key: "peerTlsCa",
    group: "tls",
    flag: "--peer-tls-ca",
    env: "JUNO_PEER_TLS_CA",
    default: { derived: "none: the peer transport is plain TCP" },
    unit: "",
    meaning:
      "PEM file of the cluster CA. With it the peer transport runs over mutual TLS: each node presents its certificate and refuses a peer whose certificate does not verify against this CA (expired, self-signed, another CA's, none); a dialled peer's certificate must also name the host it is dialled at (DNS or IP in its subject alternative names). The cluster secret is still checked inside TLS. Followers also trust it, besides the system's CAs, for the leader's HTTPS API when they forward to it.",
    reserved: null,
    codec: fileCodec,
  },
  {
    key: "peerTlsCert",
    group: "tls",
    flag: "--peer-tls-cert",
    env: "JUNO_PEER_TLS_CERT",
    default: { derived: "--tls-cert, when --peer-tls-ca is given" },
    unit: "",
    meaning:
      "PEM file with this node's certificate on the peer transport, issued by --peer-tls-ca for both server and client authentication. Read again on SIGHUP and when the file changes.",
    reserved: null,
    codec: fileCodec,
  },
  {
    key: "peerTlsKey",
    group: "tls",
    flag: "--peer-tls-key",
    env: "JUNO_PEER_TLS_KEY",
    default: { derived: "--tls-key, when --peer-tls-ca is given" },
    unit: "",
    meaning: "PEM file with the private key of --peer-tls-cert.",
    reserved: null,
    codec: fileCodec,
  },
  {
    key: "logLevel",
    group: "node",
    flag: "--log-level",
    env: "JUNO_LOG_LEVEL",
    default: "info",
    unit: "",
    meaning: `Least severe log level written: ${LOG_LEVELS.join(", ")}.`,
    reserved: null,
    codec: choiceCodec(LOG_LEVELS, "unknown_log_level", "level"),
  },
  {
    key: "logFormat",
    group: "node",
    flag: "--log-format",
    env: "JUNO_LOG_FORMAT",
    default: "json",
    unit: "",
    meaning: `How log lines are written: ${LOG_FORMATS.join(" or ")}. json is one JSON object per line, for log collectors; pretty is one readable line per event, for a terminal (juno dev uses it).`,
    reserved: null,
    codec: choiceCodec(LOG_FORMATS, "unknown_log_format", "format"),
  },
  {
    key: "electionTimeoutMs",
    group: "raft",
    flag: "--election-timeout-ms",
    env: "RAFT_ELECTION_TIMEOUT",
    default: "1000",
    unit: "ms",
    meaning:
      "How long a follower waits without hearing a leader before it campaigns; rounded to whole heartbeats, at least 1.5 of them, and randomized per election between it and twice it.",
    reserved: null,
    codec: integerCodec(15, 60_000, "ms"),
  },
  {
    key: "heartbeatIntervalMs",
    group: "raft",
    flag: "--heartbeat-interval-ms",
    env: "RAFT_HEARTBEAT_INTERVAL",
    default: "100",
    unit: "ms",
    meaning: "How often a leader sends heartbeats; also the length of one Raft tick.",
    reserved: null,
    codec: integerCodec(10, 10_000, "ms"),
  },
  {
    key: "compactionThresholdEntries",
    group: "raft",
    flag: "--log-compaction-threshold",
    env: "RAFT_LOG_COMPACTION_THRESHOLD",
    default: "10000",
    unit: "entries",
    meaning:
      "Entries applied since the last snapshot after which the node snapshots and compacts its log; a large state is snapshotted at most a tenth of the time, so the log may grow past it meanwhile.",
    reserved: null,
    codec: integerCodec(1, 10_000_000, "entries"),
  },
  {
    key: "maxPendingRequests",
    group: "node",
    flag: "--max-pending-requests",
    env: "JUNO_MAX_PENDING_REQUESTS",
    default: "10000",
    unit: "requests",
    meaning:
      "Writes and reads a node holds waiting for their outcome; beyond it, requests are refused at once with 503 overloaded and Retry-After, so a load spike never grows memory without bound.",
    reserved: null,
    codec: integerCodec(1, 1_000_000, "requests"),
  },
  {
    key: "serviceDiscoveryType",
    group: "discovery",
    flag: "--service-discovery",
    env: "SERVICE_DISCOVERY_TYPE",
    default: "custom",
    unit: "",
    meaning: `Where agents are discovered: ${SERVICE_DISCOVERY_TYPES.join(", ")} (custom is juno's own replicated registry; registry, its former name, is still accepted and means custom).`,
    reserved: null,
    codec: choiceCodec(SERVICE_DISCOVERY_TYPES, "unknown_discovery_type", "type", SERVICE_DISCOVERY_ALIASES),
  },
  {
    key: "consulEndpoint",
    group: "discovery",
    flag: "--consul-endpoint",
    env: "CONSUL_ENDPOINT",
    default: "http://127.0.0.1:8500",
    unit: "",
    meaning: "Consul's HTTP API; used when SERVICE_DISCOVERY_TYPE is consul.",
    reserved: null,
    codec: httpUrlCodec,
  },
  {
    key: "discoveryNames",
    group: "discovery",
    flag: "--discovery-names",
    env: "DISCOVERY_NAMES",
    default: "",
    unit: "",
    meaning:
      "What discovery looks for, comma-separated: SRV names for dns (_agents._tcp.example.com), Service names for kubernetes (name or namespace/name), extra service names for consul (besides those tagged juno-agent).",
    reserved: null,
    codec: { ...textCodec, placeholder: "names" },
  },
  {
    key: "discoveryDnsServer",
    group: "discovery",
    flag: "--discovery-dns-server",
    env: "DISCOVERY_DNS_SERVER",
    default: "",
    unit: "",
    meaning:
      "The DNS server (host:port) SRV names are asked of when SERVICE_DISCOVERY_TYPE is dns; empty for the system resolver.",
    reserved: null,
    codec: { ...textCodec, placeholder: "host:port" },
  },
  {
    key: "discoveryTeam",
    group: "discovery",
    flag: "--discovery-team",
    env: "DISCOVERY_TEAM",
    default: "default",
    unit: "",
    meaning:
      "The team of discovered agents that do not name their own (TXT team=, Consul meta juno_team, the juno.dev/team annotation).",
    reserved: null,
    codec: { ...textCodec, placeholder: "team" },
  },
  {
    key: "healthCheckIntervalMs",
    group: "discovery",
    flag: "--health-check-interval-s",
    env: "HEALTH_CHECK_INTERVAL",
    default: "10",
    unit: "s",
    meaning:
      "How often the leader actively checks each agent (HTTP GET of its health URL or a TCP connect), and how often last_heartbeat is written to the agents table.",
    reserved: null,
    codec: secondsCodec(100, 3_600_000),
  },
  {
    key: "healthCheckTimeoutMs",
    group: "discovery",
    flag: "--health-check-timeout-s",
    env: "HEALTH_CHECK_TIMEOUT",
    default: "5",
    unit: "s",
    meaning: "How long one health check may take before it counts as failed; at most the interval.",
    reserved: null,
    codec: secondsCodec(100, 3_600_000),
  },
  {
    key: "agentHeartbeatIntervalMs",
    group: "discovery",
    flag: "--agent-heartbeat-interval-s",
    env: "AGENT_HEARTBEAT_INTERVAL",
    default: "1",
    unit: "s",
    meaning:
      "How often agents are told to beat (in the register answer); beats live in the leader's memory, never in the log.",
    reserved: null,
    codec: secondsCodec(100, 600_000),
  },
  {
    key: "failureDetectionTimeoutMs",
    group: "faults",
    flag: "--failure-detection-timeout-s",
    env: "FAILURE_DETECTION_TIMEOUT",
    default: "15",
    unit: "s",
    meaning:
      "How long an agent may go unheard before it is declared failed (a new leader first gives every agent this long of its own observation).",
    reserved: null,
    codec: secondsCodec(1000, 3_600_000),
  },
  {
    key: "recoveryRetryAttempts",
    group: "faults",
    flag: "--recovery-retry-attempts",
    env: "RECOVERY_RETRY_ATTEMPTS",
    default: "3",
    unit: "attempts",
    meaning:
      "Attempts of a task that names no max_attempts (retried with exponential backoff and jitter), after which it is dead-lettered.",
    reserved: null,
    codec: integerCodec(1, 100, "attempts"),
  },
  {
    key: "taskMigrationTimeoutMs",
    group: "faults",
    flag: "--task-migration-timeout-s",
    env: "TASK_MIGRATION_TIMEOUT",
    default: "60",
    unit: "s",
    meaning:
      "How long an assigned task may wait for its agent to take it before it goes to another agent (a failed or deregistered agent's tasks move at once).",
    reserved: null,
    codec: secondsCodec(1000, 86_400_000),
  },
  {
    key: "circuitBreakerThreshold",
    group: "faults",
    flag: "--circuit-breaker-threshold",
    env: "CIRCUIT_BREAKER_THRESHOLD",
    default: "5",
    unit: "failures",
    meaning:
      "Consecutive failures of an agent (routed requests through /api/v3/route; task attempts) after which its circuit breaker opens.",
    reserved: null,
    codec: integerCodec(1, 1000, "failures"),
  },
  {
    key: "taskAgingMs",
    group: "faults",
    flag: "--task-aging-s",
    env: "TASK_AGING_INTERVAL",
    default: "60",
    unit: "s",
    meaning:
      "A queued task waiting this long moves up one priority level, and so on up to 9, so nothing waits forever.",
    reserved: null,
    codec: secondsCodec(1000, 86_400_000),
  },
  {
    key: "taskTeamWeights",
    group: "faults",
    flag: "--task-team-weights",
    env: "TASK_TEAM_WEIGHTS",
    default: "",
    unit: "team=weight,...",
    meaning:
      "Weights of the submitting teams in fair sharing inside a priority level (a team not named weighs 1), e.g. search=3,ads=1.",
    reserved: null,
    codec: teamWeightsCodec,
  },
  {
    key: "taskTeamQueueLimit",
    group: "faults",
    flag: "--task-team-queue-limit",
    env: "TASK_TEAM_QUEUE_LIMIT",
    default: "100000",
    unit: "tasks",
    meaning: "Most queued tasks of one team; past it, its submissions answer 429 queue_full.",
    reserved: null,
    codec: integerCodec(1, 1_000_000, "tasks"),
  },
  {
    key: "taskTeamRunningLimit",
    group: "faults",
    flag: "--task-team-running-limit",
    env: "TASK_TEAM_RUNNING_LIMIT",
    default: "100000",
    unit: "tasks",
    meaning: "Most tasks of one team assigned or running at once; the rest wait queued.",
    reserved: null,
    codec: integerCodec(1, 1_000_000, "tasks"),
  },
  {
    key: "taskDeliveryTimeoutMs",
    group: "faults",
    flag: "--task-delivery-timeout-s",
    env: "TASK_DELIVERY_TIMEOUT",
    default: "5",
    unit: "s",
    meaning:
      "How long the leader waits for a push agent to accept a delivery (each try; two tries), after which the attempt goes to another agent and counts against the agent's breaker.",
    reserved: null,
    codec: secondsCodec(100, 600_000),
  },
  {
    key: "taskRetention",
    group: "faults",
    flag: "--task-retention",
    env: "TASK_RETENTION",
    default: "1000000",
    unit: "tasks",
    meaning:
      "Finished tasks kept in the replicated state (readable, listable, idempotency keys remembered); past it the oldest go. About 1.2 KB of memory each on every node.",
    reserved: null,
    codec: integerCodec(0, 1_000_000, "tasks"),
  },
  {
    key: "workflowTeamStepLimits",
    group: "faults",
    flag: "--workflow-team-step-limits",
    env: "WORKFLOW_TEAM_STEP_LIMITS",
    default: "",
    unit: "team=limit,...",
    meaning:
      "Most workflow steps one team runs at once across every workflow (the seed's allocate_resources), on top of the task limits; a step past it waits, shown as task_status not_submitted, e.g. search=20,ads=5.",
    reserved: null,
    codec: teamLimitsCodec,
  },
  {
    key: "workflowTeamStepLimit",
    group: "faults",
    flag: "--workflow-team-step-limit",
    env: "WORKFLOW_TEAM_STEP_LIMIT",
    default: "0",
    unit: "steps",
    meaning: "The step limit of a team WORKFLOW_TEAM_STEP_LIMITS does not name; 0 for none.",
    reserved: null,
    codec: integerCodec(0, 1_000_000, "steps"),
  },
  {
    key: "workflowRetention",
    group: "faults",
    flag: "--workflow-retention",
    env: "WORKFLOW_RETENTION",
    default: "100000",
    unit: "workflows",
    meaning:
      "Ended workflow runs kept in the replicated state (readable and listable); past it the oldest go.",
    reserved: null,
    codec: integerCodec(0, 100_000, "workflows"),
  },
  {
    key: "phase",
    group: "phase",
    flag: "--phase",
    env: "JUNO_PHASE",
    default: "3",
    unit: "",
    meaning: "The seed's product phase; only 3 is accepted.",
    reserved: "this build is the seed's phase 3 (the only one)",
    codec: integerCodec(3, 3, ""),
  },
  {
    key: "multiAgentEnabled",
    group: "phase",
    flag: "--multi-agent",
    env: "MULTI_AGENT_ENABLED",
    default: "true",
    unit: "",
    meaning: "Multi-agent orchestration: agent registry, task distribution and cross-team workflows.",
    reserved: "agents, tasks and workflows are always on (nothing turns them off)",
    codec: booleanCodec,
  },
  {
    key: "consensusEnabled",
    group: "phase",
    flag: "--consensus",
    env: "CONSENSUS_ENABLED",
    default: "true",
    unit: "",
    meaning:
      "Raft consensus across the peers. false is to run this node alone without Raft; it is refused together with other peers.",
    reserved: "a single-node mode without Raft (no issue yet)",
    codec: booleanCodec,
  },
  {
    key: "faultToleranceEnabled",
    group: "phase",
    flag: "--fault-tolerance",
    env: "FAULT_TOLERANCE_ENABLED",
    default: "true",
    unit: "",
    meaning: "Failure detection, task migration, recovery retries and circuit breakers.",
    reserved:
      "failure detection, task migration, retries and breakers are always on (part of every task's contract)",
    codec: booleanCodec,
  },
];

/** The row of a setting; every setting has exactly one. */
export function optionFor<K extends SettingKey>(key: K): OptionDescriptor<K> {
  const option = OPTIONS.find((candidate) => candidate.key === key);
  if (option === undefined) throw new Error(`no option for setting ${key}`);
  return option as OptionDescriptor<K>;
}

/** A setting's value as its codec writes it, or as logs may show it when `redacted`; null when unset. */
export function settingText(
  option: AnyOptionDescriptor,
  settings: Settings,
  redacted: boolean,
): string | null {
  // The codec and the value belong to the same row; the union type cannot say so.
  const value = settings[option.key] as never;
  if (value === null) return null;
  const codec = option.codec;
  return redacted && codec.redact !== undefined ? codec.redact(value) : codec.format(value);
}
