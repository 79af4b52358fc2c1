// Proves that parseNodeConfig fills in the documented defaults, lets a flag win over its variable and a variable over the default, derives the id-, address- and peer-dependent defaults, and refuses every bad input with its stable error code and a message naming the flag or variable.

import { describe, expect, it } from "vitest";
import {
  CONFIG_ERROR_CODES,
  ConfigError,
  OPTIONS,
  checkExposure,
  SERVICE_DISCOVERY_TYPES,
  parseNodeConfig,
  toInvocation,
  type ConfigErrorCode,
  type NodeConfig,
  type SettingKey,
} from "../../src/config/index.js";
import { booleanCodec } from "../../src/config/codecs.js";
import { Invalid } from "../../src/config/errors.js";

/** The config parsed from `argv` and `env`, failing the test on a refusal. */
function parse(argv: readonly string[], env: Record<string, string> = {}): NodeConfig {
  const config = parseNodeConfig(argv, env);
  if (config instanceof ConfigError) throw new Error(`${config.code}: ${config.message}`);
  return config;
}

/** The refusal of `argv` and `env`, failing the test when they are accepted. */
function refusal(argv: readonly string[], env: Record<string, string> = {}): ConfigError {
  const config = parseNodeConfig(argv, env);
  if (!(config instanceof ConfigError)) throw new Error(`accepted: ${JSON.stringify(config)}`);
  return config;
}

describe("defaults", () => {
  it("with nothing given, a single node juno-1 listening on 8080 and 9090 with etcd-like timing", () => {
    const config = parse([]);
    expect(config).toMatchObject({
      id: "juno-1",
      dataDir: "./data/juno-1",
      httpAddress: { host: "0.0.0.0", port: 8080 },
      raftAddress: { host: "0.0.0.0", port: 9090 },
      advertiseHttpAddress: { host: "127.0.0.1", port: 8080 },
      peers: [{ id: "juno-1", raftAddress: { host: "127.0.0.1", port: 9090 } }],
      storage: { kind: "sqlite" },
      join: false,
      statefulsetReplicas: null,
      peerDomain: null,
      maxPendingRequests: 10000,
      insecure: false,
      apiToken: null,
      clusterSecret: null,
      logLevel: "info",
      logFormat: "json",
      electionTimeoutMs: 1000,
      heartbeatIntervalMs: 100,
      compactionThresholdEntries: 10_000,
      healthCheckIntervalMs: 10_000,
      healthCheckTimeoutMs: 5000,
      agentHeartbeatIntervalMs: 1000,
      failureDetectionTimeoutMs: 15_000,
      recoveryRetryAttempts: 3,
      taskMigrationTimeoutMs: 60_000,
      circuitBreakerThreshold: 5,
      taskAgingMs: 60_000,
      taskTeamWeights: [],
      taskTeamQueueLimit: 100_000,
      taskTeamRunningLimit: 100_000,
      taskDeliveryTimeoutMs: 5_000,
      taskRetention: 1_000_000,
      workflowTeamStepLimits: [],
      workflowTeamStepLimit: 0,
      workflowRetention: 100_000,
      serviceDiscoveryType: "custom",
      consulEndpoint: "http://127.0.0.1:8500",
      discoveryNames: "",
      discoveryDnsServer: "",
      discoveryTeam: "default",
      phase: 3,
      multiAgentEnabled: true,
      consensusEnabled: true,
      faultToleranceEnabled: true,
      tickMs: 100,
      raftOptions: { electionTicks: 10, heartbeatTicks: 1, compactionThresholdEntries: 10_000 },
    });
  });

  it("every literal default in the table is accepted by its own codec", () => {
    for (const option of OPTIONS) {
      if (typeof option.default !== "string") continue;
      expect(option.codec.parse(option.default), option.env).not.toBeInstanceOf(Invalid);
    }
  });

  it("the data directory follows the id", () => {
    expect(parse(["--id", "alpha"]).dataDir).toBe("./data/alpha");
    expect(parse([], { RAFT_NODE_ID: "beta" }).dataDir).toBe("./data/beta");
    expect(parse(["--id", "alpha", "--data-dir", "/var/lib/juno"]).dataDir).toBe("/var/lib/juno");
  });

  it("the advertised HTTP address is --http with a wildcard host replaced by loopback of its family", () => {
    expect(parse(["--http", "0.0.0.0:8000"]).advertiseHttpAddress).toEqual({ host: "127.0.0.1", port: 8000 });
    expect(parse(["--http", "[::]:8000"]).advertiseHttpAddress).toEqual({ host: "::1", port: 8000 });
    expect(parse(["--http", "10.0.0.5:8000"]).advertiseHttpAddress).toEqual({ host: "10.0.0.5", port: 8000 });
    expect(
      parse(["--http", "0.0.0.0:8000", "--advertise-http", "node1.example:80"]).advertiseHttpAddress,
    ).toEqual({ host: "node1.example", port: 80 });
  });

  it("without --peers the cluster is this node alone, at its Raft address", () => {
    expect(parse(["--id", "solo", "--raft", "10.0.0.5:7000"]).peers).toEqual([
      { id: "solo", raftAddress: { host: "10.0.0.5", port: 7000 } },
    ]);
  });

  it("with --peers the cluster is the list, sorted by id", () => {
    const config = parse(["--id", "n2", "--peers", "n3=127.0.0.1:9093,n1=127.0.0.1:9091,n2=127.0.0.1:9092"]);
    expect(config.peers.map((peer) => peer.id)).toEqual(["n1", "n2", "n3"]);
  });
});

/**
 * Two valid texts per setting, chosen so that each can be given alone next to the defaults.
 * Settings that need a companion (peers need an id) get it from COMPANIONS.
 */
const SAMPLES: Record<SettingKey, readonly [string, string]> = {
  id: ["n1", "n2"],
  dataDir: ["/var/lib/a", "/var/lib/b"],
  httpAddress: ["127.0.0.1:8081", "[::1]:8082"],
  raftAddress: ["127.0.0.1:9091", "127.0.0.1:9092"],
  advertiseHttpAddress: ["a.example:80", "b.example:80"],
  peers: ["n1=127.0.0.1:9091,n2=127.0.0.1:9092", "n1=127.0.0.1:9191"],
  storage: ["postgres://u:p@db1:5432/juno", "postgresql://db2/juno"],
  join: ["true", "false"],
  statefulsetReplicas: ["3", "5"],
  peerDomain: ["juno.default.svc", "juno.prod.svc.cluster.local"],
  maxPendingRequests: ["200", "10000"],
  insecure: ["true", "false"],
  apiToken: ["token-a", "token-b"],
  tokensFile: ["/etc/juno/tokens.yaml", "/etc/juno/tokens.json"],
  rateLimit: ["100", "0"],
  clusterSecret: ["secret-a-0123456789", "secret-b-0123456789"],
  tlsCert: ["/etc/juno/a.crt", "/etc/juno/b.crt"],
  tlsKey: ["/etc/juno/a.key", "/etc/juno/b.key"],
  tlsClientCa: ["/etc/juno/clients-a.crt", "/etc/juno/clients-b.crt"],
  peerTlsCert: ["/etc/juno/peer-a.crt", "/etc/juno/peer-b.crt"],
  peerTlsKey: ["/etc/juno/peer-a.key", "/etc/juno/peer-b.key"],
  peerTlsCa: ["/etc/juno/ca-a.crt", "/etc/juno/ca-b.crt"],
  logLevel: ["debug", "warn"],
  logFormat: ["pretty", "json"],
  electionTimeoutMs: ["500", "700"],
  heartbeatIntervalMs: ["50", "200"],
  compactionThresholdEntries: ["100", "200"],
  healthCheckIntervalMs: ["20", "30"],
  healthCheckTimeoutMs: ["2", "3"],
  agentHeartbeatIntervalMs: ["2", "3"],
  failureDetectionTimeoutMs: ["20", "40"],
  recoveryRetryAttempts: ["1", "7"],
  taskMigrationTimeoutMs: ["90", "120"],
  circuitBreakerThreshold: ["2", "9"],
  taskAgingMs: ["30", "120"],
  taskTeamWeights: ["search=3,ads=1", "web=0.5"],
  taskTeamQueueLimit: ["10", "500"],
  taskTeamRunningLimit: ["20", "600"],
  taskDeliveryTimeoutMs: ["2", "30"],
  taskRetention: ["1000", "50000"],
  workflowTeamStepLimits: ["search=20,ads=5", "web=1"],
  workflowTeamStepLimit: ["0", "50"],
  workflowRetention: ["10", "100000"],
  serviceDiscoveryType: ["consul", "dns"],
  consulEndpoint: ["http://consul:8500", "https://consul.example"],
  discoveryNames: ["_agents._tcp.a.example", "_agents._tcp.b.example"],
  discoveryDnsServer: ["127.0.0.1:53", "10.0.0.2:5353"],
  discoveryTeam: ["search", "ads"],
  phase: ["3", "3"],
  multiAgentEnabled: ["false", "true"],
  consensusEnabled: ["false", "true"],
  faultToleranceEnabled: ["false", "true"],
};

/** Flags that must accompany a sample (a peer list needs this node's id). */
const COMPANIONS: Partial<Record<SettingKey, readonly string[]>> = {
  peers: ["--id", "n1"],
  // The StatefulSet options come as a pair, with the pod's name as the id (statefulset.test.ts).
  statefulsetReplicas: ["--id", "juno-0", "--peer-domain", "juno.default.svc"],
  peerDomain: ["--id", "juno-0", "--statefulset-replicas", "3"],
  // Each TLS file comes with the others it needs (test/tls/config.test.ts checks the refusals).
  tlsCert: ["--tls-key", "/etc/juno/tls.key"],
  tlsKey: ["--tls-cert", "/etc/juno/tls.crt"],
  tlsClientCa: ["--tls-cert", "/etc/juno/tls.crt", "--tls-key", "/etc/juno/tls.key"],
  peerTlsCert: ["--peer-tls-key", "/etc/juno/peer.key", "--peer-tls-ca", "/etc/juno/ca.crt"],
  peerTlsKey: ["--peer-tls-cert", "/etc/juno/peer.crt", "--peer-tls-ca", "/etc/juno/ca.crt"],
  peerTlsCa: ["--peer-tls-cert", "/etc/juno/peer.crt", "--peer-tls-key", "/etc/juno/peer.key"],
  // dns discovery needs names to look up.
  serviceDiscoveryType: ["--discovery-names", "_agents._tcp.example"],
};

describe("precedence: flag over variable over default", () => {
  for (const option of OPTIONS) {
    const [fromEnv, fromFlag] = SAMPLES[option.key];
    const companions = COMPANIONS[option.key] ?? [];
    const expectValue = (config: NodeConfig, text: string): void => {
      const expected = option.codec.parse(text);
      expect(config[option.key]).toEqual(expected);
    };

    it(`${option.env}: the variable overrides the default`, () => {
      expectValue(parse(companions, { [option.env]: fromEnv }), fromEnv);
    });

    if (option.flag === null) {
      it(`${option.env} has no flag, so it stays out of process listings`, () => {
        expect(refusal([`--${option.env.toLowerCase().replaceAll("_", "-")}`, fromEnv]).code).toBe(
          "unknown_flag",
        );
      });
      continue;
    }
    const flag = option.flag;

    it(`${flag} overrides ${option.env}`, () => {
      expectValue(parse([...companions, `${flag}=${fromFlag}`], { [option.env]: fromEnv }), fromFlag);
      // A switch never takes the next word as its value (see below).
      if (option.codec === booleanCodec) return;
      expectValue(parse([...companions, flag, fromFlag], { [option.env]: fromEnv }), fromFlag);
    });
  }

  it("an empty variable counts as unset, and surrounding whitespace is ignored", () => {
    expect(parse([], { JUNO_HTTP_ADDR: "" }).httpAddress).toEqual({ host: "0.0.0.0", port: 8080 });
    expect(parse([], { JUNO_HTTP_ADDR: "   " }).httpAddress).toEqual({ host: "0.0.0.0", port: 8080 });
    expect(parse([], { JUNO_PEERS: "" }).peers).toHaveLength(1);
    expect(parse([], { JUNO_HTTP_ADDR: " 127.0.0.1:1 \n" }).httpAddress).toEqual({
      host: "127.0.0.1",
      port: 1,
    });
    expect(parse([], { RAFT_HEARTBEAT_INTERVAL: " 200 " }).heartbeatIntervalMs).toBe(200);
  });

  it("variables that are not juno's are ignored", () => {
    expect(parse([], { PATH: "/usr/bin", HOME: "/root", JUNO_UNKNOWN: "x" })).toEqual(parse([]));
  });

  it("a switch alone means true, and takes an explicit value only after '='", () => {
    expect(parse(["--insecure"]).insecure).toBe(true);
    expect(parse(["--insecure=false"], { JUNO_INSECURE: "true" }).insecure).toBe(false);
    expect(parse(["--consensus=0"]).consensusEnabled).toBe(false);
    expect(parse(["--multi-agent=FALSE"]).multiAgentEnabled).toBe(false);
    expect(parse([], { FAULT_TOLERANCE_ENABLED: "False" }).faultToleranceEnabled).toBe(false);
  });

  it("a value that starts with '--' is accepted only after '='", () => {
    expect(parse(["--data-dir=--odd"]).dataDir).toBe("--odd");
    expect(refusal(["--data-dir", "--odd"]).code).toBe("missing_value");
    expect(refusal(["--data-dir", "--http", "127.0.0.1:1"]).code).toBe("missing_value");
  });
});

describe("log format", () => {
  it("is json unless --log-format or JUNO_LOG_FORMAT says pretty", () => {
    expect(parse([]).logFormat).toBe("json");
    expect(parse(["--log-format", "pretty"]).logFormat).toBe("pretty");
    expect(parse(["--log-format=pretty"]).logFormat).toBe("pretty");
    expect(parse([], { JUNO_LOG_FORMAT: "pretty" }).logFormat).toBe("pretty");
    expect(parse(["--log-format=json"], { JUNO_LOG_FORMAT: "pretty" }).logFormat).toBe("json");
  });

  it("refuses any other word, naming both formats", () => {
    const error = refusal(["--log-format", "text"]);
    expect(error.code).toBe("unknown_log_format");
    expect(error.message).toContain("json, pretty");
    expect(refusal(["--log-format"]).code).toBe("missing_value");
  });

  it("is passed on to a child node as a flag", () => {
    expect(toInvocation(parse(["--log-format", "pretty"])).argv).toContain("--log-format=pretty");
    expect(toInvocation(parse([])).argv).toContain("--log-format=json");
  });
});

describe("service discovery types", () => {
  it("are the agents issue's custom, dns, consul and kubernetes, custom by default", () => {
    expect(SERVICE_DISCOVERY_TYPES).toEqual(["custom", "dns", "consul", "kubernetes"]);
    expect(parse([]).serviceDiscoveryType).toBe("custom");
    for (const type of SERVICE_DISCOVERY_TYPES) {
      expect(
        parse([], { SERVICE_DISCOVERY_TYPE: type, DISCOVERY_NAMES: "agents" }).serviceDiscoveryType,
      ).toBe(type);
      expect(parse(["--service-discovery", type, "--discovery-names=agents"]).serviceDiscoveryType).toBe(
        type,
      );
    }
  });

  it("dns and kubernetes discovery need DISCOVERY_NAMES", () => {
    for (const type of ["dns", "kubernetes"]) {
      expect(refusal([], { SERVICE_DISCOVERY_TYPE: type }).code).toBe("conflicting_settings");
    }
    expect(parse([], { SERVICE_DISCOVERY_TYPE: "consul" }).serviceDiscoveryType).toBe("consul");
  });

  it("accept registry, custom's former name, as custom, so existing deployments keep starting", () => {
    expect(parse([], { SERVICE_DISCOVERY_TYPE: "registry" }).serviceDiscoveryType).toBe("custom");
    expect(parse(["--service-discovery=registry"]).serviceDiscoveryType).toBe("custom");
    // The old name is read, never written: a child node started from this config is told custom.
    expect(toInvocation(parse(["--service-discovery=registry"])).argv).toContain(
      "--service-discovery=custom",
    );
  });

  it("refuse any other word, listing only the current names", () => {
    const error = refusal([], { SERVICE_DISCOVERY_TYPE: "etcd" });
    expect(error.code).toBe("unknown_discovery_type");
    expect(error.message).toContain("custom, dns, consul, kubernetes");
    expect(error.message).not.toContain("registry");
    // Names are matched exactly, like the other word settings.
    expect(refusal([], { SERVICE_DISCOVERY_TYPE: "Consul" }).code).toBe("unknown_discovery_type");
  });
});

/** One input for every code parseNodeConfig returns; the exposure codes come from checkExposure. */
const REFUSALS: readonly (readonly [ConfigErrorCode, readonly string[], Record<string, string>, string])[] = [
  ["unknown_flag", ["--htpp", "127.0.0.1:1"], {}, "--htpp"],
  ["unknown_flag", ["--help"], {}, "--help"],
  ["unexpected_argument", ["start"], {}, "start"],
  ["unexpected_argument", ["-h"], {}, "-h"],
  ["unexpected_argument", ["--insecure", "false"], {}, "false"],
  ["missing_value", ["--http"], {}, "--http"],
  ["missing_value", ["--http="], {}, "--http"],
  ["missing_value", ["--peers", "   "], {}, "--peers"],
  ["duplicate_flag", ["--http", "127.0.0.1:1", "--http=127.0.0.1:2"], {}, "--http"],
  ["duplicate_flag", ["--insecure", "--insecure"], {}, "--insecure"],
  ["missing_required", ["--peers", "n1=127.0.0.1:9090"], {}, "RAFT_NODE_ID"],
  ["missing_required", [], { JUNO_PEERS: "n1=127.0.0.1:9090" }, "RAFT_NODE_ID"],
  ["malformed_id", ["--id", "bad id"], {}, "--id"],
  ["malformed_id", [], { RAFT_NODE_ID: "a/b" }, "RAFT_NODE_ID"],
  [
    "malformed_pod_name",
    ["--id", "juno", "--statefulset-replicas", "3"],
    { JUNO_PEER_DOMAIN: "juno.default.svc" },
    "RAFT_NODE_ID",
  ],
  ["malformed_domain", ["--peer-domain", "juno_phase3.svc"], {}, "--peer-domain"],
  ["not_a_number", ["--heartbeat-interval-ms", "fast"], {}, "--heartbeat-interval-ms"],
  ["not_a_number", [], { RAFT_ELECTION_TIMEOUT: "1e3" }, "RAFT_ELECTION_TIMEOUT"],
  ["not_a_number", [], { RAFT_ELECTION_TIMEOUT: "-5" }, "RAFT_ELECTION_TIMEOUT"],
  ["not_a_number", [], { HEALTH_CHECK_INTERVAL: "30s" }, "HEALTH_CHECK_INTERVAL"],
  ["not_a_number", [], { HEALTH_CHECK_INTERVAL: "0.0001" }, "HEALTH_CHECK_INTERVAL"],
  ["not_a_number", [], { RECOVERY_RETRY_ATTEMPTS: "2.5" }, "RECOVERY_RETRY_ATTEMPTS"],
  ["out_of_range", [], { RAFT_HEARTBEAT_INTERVAL: "5" }, "RAFT_HEARTBEAT_INTERVAL"],
  ["out_of_range", [], { RAFT_LOG_COMPACTION_THRESHOLD: "0" }, "RAFT_LOG_COMPACTION_THRESHOLD"],
  ["out_of_range", [], { CIRCUIT_BREAKER_THRESHOLD: "99999999999999999999" }, "CIRCUIT_BREAKER_THRESHOLD"],
  ["malformed_team_weights", [], { TASK_TEAM_WEIGHTS: "search:3" }, "TASK_TEAM_WEIGHTS"],
  ["malformed_team_weights", [], { TASK_TEAM_WEIGHTS: "a=1,a=2" }, "TASK_TEAM_WEIGHTS"],
  ["out_of_range", [], { TASK_TEAM_WEIGHTS: "a=0" }, "TASK_TEAM_WEIGHTS"],
  ["out_of_range", [], { HEALTH_CHECK_TIMEOUT: "0" }, "HEALTH_CHECK_TIMEOUT"],
  ["out_of_range", [], { JUNO_PHASE: "2" }, "JUNO_PHASE"],
  ["not_a_boolean", ["--insecure=yes"], {}, "--insecure"],
  ["not_a_boolean", [], { CONSENSUS_ENABLED: "on" }, "CONSENSUS_ENABLED"],
  ["malformed_address", ["--http", "8080"], {}, "--http"],
  ["malformed_address", [], { JUNO_RAFT_ADDR: "::1:9090" }, "JUNO_RAFT_ADDR"],
  ["malformed_address", ["--advertise-http", "0.0.0.0:8080"], {}, "--advertise-http"],
  ["malformed_peers", ["--id", "n1", "--peers", "n1@127.0.0.1:9090"], {}, "--peers"],
  ["duplicate_peer", ["--id", "n1", "--peers", "n1=h:1,n1=h:2"], {}, "--peers"],
  ["self_not_in_peers", ["--id", "n9", "--peers", "n1=127.0.0.1:1,n2=127.0.0.1:2"], {}, "JUNO_PEERS"],
  ["unsupported_storage", ["--storage", "mysql://u:p@h/db"], {}, "--storage"],
  ["unsupported_storage", [], { JUNO_STORAGE: "postgres://" }, "JUNO_STORAGE"],
  ["unsupported_storage", [], { JUNO_STORAGE: "SQLite" }, "JUNO_STORAGE"],
  ["unknown_log_level", ["--log-level", "verbose"], {}, "--log-level"],
  ["unknown_log_level", [], { JUNO_LOG_LEVEL: "INFO" }, "JUNO_LOG_LEVEL"],
  ["unknown_log_format", ["--log-format", "text"], {}, "--log-format"],
  ["unknown_log_format", [], { JUNO_LOG_FORMAT: "Pretty" }, "JUNO_LOG_FORMAT"],
  ["unknown_discovery_type", [], { SERVICE_DISCOVERY_TYPE: "zookeeper" }, "SERVICE_DISCOVERY_TYPE"],
  ["malformed_url", [], { CONSUL_ENDPOINT: "consul:8500" }, "CONSUL_ENDPOINT"],
  ["malformed_url", ["--consul-endpoint", "ftp://consul"], {}, "--consul-endpoint"],
  ["malformed_secret", [], { JUNO_API_TOKEN: "two words" }, "JUNO_API_TOKEN"],
  ["malformed_secret", [], { JUNO_CLUSTER_SECRET: "line\nbreak-0123456789" }, "JUNO_CLUSTER_SECRET"],
  ["malformed_secret", [], { JUNO_CLUSTER_SECRET: "fifteen-chars-x" }, "JUNO_CLUSTER_SECRET"],
  ["malformed_secret", [], { JUNO_API_TOKEN: "non\u00a0breaking" }, "JUNO_API_TOKEN"],
  ["election_not_above_heartbeat", [], { RAFT_ELECTION_TIMEOUT: "100" }, "RAFT_ELECTION_TIMEOUT"],
  ["election_not_above_heartbeat", ["--election-timeout-ms=149"], {}, "RAFT_ELECTION_TIMEOUT"],
  [
    "election_not_above_heartbeat",
    [],
    { RAFT_ELECTION_TIMEOUT: "1000", RAFT_HEARTBEAT_INTERVAL: "1000" },
    "RAFT_ELECTION_TIMEOUT",
  ],
  ["conflicting_settings", [], { HEALTH_CHECK_TIMEOUT: "11" }, "HEALTH_CHECK_TIMEOUT"],
  [
    "conflicting_settings",
    ["--consensus=false", "--id", "n1", "--peers", "n1=127.0.0.1:1,n2=127.0.0.1:2"],
    {},
    "CONSENSUS_ENABLED",
  ],
  ["conflicting_settings", ["--http", "0.0.0.0:9000", "--raft", "127.0.0.1:9000"], {}, "JUNO_HTTP_ADDR"],
  [
    "conflicting_settings",
    ["--id", "n1", "--peers", "n1=10.0.0.1:9090,n2=10.0.0.2:9090"],
    {},
    "JUNO_ADVERTISE_HTTP",
  ],
];

describe("refusals", () => {
  it.each(REFUSALS)("%s for %j %j names %s", (code, argv, env, source) => {
    const error = refusal(argv, env);
    expect(error.code).toBe(code);
    expect(error.source).toBe(source);
    expect(error.message).toContain(source);
    expect(error).toBeInstanceOf(Error);
  });

  it("every code in the catalog is produced by some input", () => {
    const produced = new Set<string>(REFUSALS.map(([code]) => code));
    const exposed = parse([]);
    produced.add(checkExposure(exposed)?.code ?? "none");
    produced.add(
      checkExposure({ ...exposed, httpAddress: { host: "127.0.0.1", port: 8080 } })?.code ?? "none",
    );
    const secrets = { JUNO_API_TOKEN: "t", JUNO_CLUSTER_SECRET: "s".repeat(16) };
    produced.add(checkExposure(parse([], secrets))?.code ?? "none");
    produced.add(
      checkExposure(parse(["--tls-cert", "/a.crt", "--tls-key", "/a.key"], secrets))?.code ?? "none",
    );
    // Produced at start, when the files are read (test/tls/config.test.ts).
    produced.add("bad_tls_file");
    // Produced at start, when the tokens file is read (test/access/tokens-file.test.ts).
    produced.add("bad_tokens_file");
    expect([...produced].sort()).toEqual(Object.keys(CONFIG_ERROR_CODES).sort());
  });

  it("messages state the expected form", () => {
    expect(refusal(["--http", "x"]).message).toContain("host:port");
    expect(refusal(["--id", "n1", "--peers", "n1"]).message).toContain("id=host:raftport");
    expect(refusal(["--storage", "x"]).message).toContain("postgres://");
    expect(refusal(["--log-level", "x"]).message).toContain("debug");
    expect(refusal([], { RAFT_HEARTBEAT_INTERVAL: "5" }).message).toContain("10..10000 ms");
    expect(refusal([], { HEALTH_CHECK_INTERVAL: "x" }).message).toContain("seconds");
    expect(refusal(["--bogus"]).message).toContain("juno start --help");
  });

  it("a value given by flag is blamed on the flag even when the variable is also set", () => {
    expect(refusal(["--http", "bad"], { JUNO_HTTP_ADDR: "127.0.0.1:1" }).source).toBe("--http");
    expect(refusal([], { JUNO_HTTP_ADDR: "bad" }).source).toBe("JUNO_HTTP_ADDR");
  });

  it("a refused flag value hides a bad variable it overrides", () => {
    expect(parse(["--http", "127.0.0.1:1"], { JUNO_HTTP_ADDR: "bad" }).httpAddress.port).toBe(1);
  });
});
