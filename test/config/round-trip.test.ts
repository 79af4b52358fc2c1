// Proves with generated inputs (fixed seeds) that any config the parser accepts, written back out as flags and variables by toInvocation, parses to an equal config, and that no input, however malformed, makes the parser throw.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CONFIG_ERROR_CODES,
  ConfigError,
  LOG_FORMATS,
  LOG_LEVELS,
  OPTIONS,
  SERVICE_DISCOVERY_TYPES,
  parseNodeConfig,
  toInvocation,
  type SettingKey,
} from "../../src/config/index.js";
import { booleanCodec } from "../../src/config/codecs.js";

const RUNS = { seed: 20_250_601, numRuns: 400 };

const idArbitrary = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/);
const portArbitrary = fc.integer({ min: 1, max: 65_535 });
const hostArbitrary = fc.oneof(
  fc.ipV4(),
  fc.domain(),
  fc.ipV6().map((host) => `[${host}]`),
  fc.constantFrom("localhost", "127.0.0.1", "[::1]", "Node-1.Example"),
);
const dialArbitrary = fc.tuple(hostArbitrary, portArbitrary).map(([host, port]) => `${host}:${port}`);
const listenArbitrary = fc.oneof(
  dialArbitrary,
  portArbitrary.map((port) => `0.0.0.0:${port}`),
  portArbitrary.map((port) => `[::]:${port}`),
);
const secondsArbitrary = (minMs: number, maxMs: number): fc.Arbitrary<string> =>
  fc.integer({ min: minMs, max: maxMs }).map((ms) => String(ms / 1000));
const switchArbitrary = fc.constantFrom("true", "false", "1", "0", "TRUE", "False");
const secretArbitrary = fc.stringMatching(/^[!-~]{1,32}$/);
const wordArbitrary = fc.stringMatching(/^[a-z0-9]{1,8}$/);

/** A peer list containing `id`, written with the spacing and stray commas people type. */
function peersArbitrary(id: string): fc.Arbitrary<string> {
  return fc
    .uniqueArray(fc.tuple(idArbitrary, dialArbitrary), { maxLength: 6, selector: ([peerId]) => peerId })
    .chain((others) =>
      fc
        .tuple(dialArbitrary, fc.constantFrom(",", ", ", " , ", ",,"), fc.boolean())
        .map(
          ([own, separator, trailing]) =>
            [[id, own] as const, ...others.filter(([peerId]) => peerId !== id)]
              .map(([peerId, address]) => `${peerId}=${address}`)
              .join(separator) + (trailing ? "," : ""),
        ),
    );
}

/** A valid text for every setting; combinations may still conflict, which the parser then refuses. */
const valuesArbitrary = idArbitrary.chain((id) =>
  // Ranges are chosen so that each Raft and health setting also agrees with the other's default.
  fc.integer({ min: 10, max: 600 }).chain((heartbeatMs) =>
    fc.integer({ min: 5000, max: 3_600_000 }).chain((intervalMs) =>
      fc.record<Record<SettingKey, string>>({
        id: fc.constant(id),
        dataDir: fc.oneof(fc.constant(`./data/${id}`), fc.stringMatching(/^[/.A-Za-z0-9 _-]{1,30}$/)),
        httpAddress: listenArbitrary,
        raftAddress: listenArbitrary,
        advertiseHttpAddress: dialArbitrary,
        peers: peersArbitrary(id),
        storage: fc.oneof(
          fc.constant("sqlite"),
          fc
            .tuple(wordArbitrary, fc.option(wordArbitrary), fc.domain(), portArbitrary, wordArbitrary)
            .map(([user, password, host, port, database]) =>
              password === null
                ? `postgres://${user}@${host}:${port}/${database}`
                : `postgresql://${user}:${password}@${host}:${port}/${database}`,
            ),
        ),
        join: switchArbitrary,
        // Left out below: test/config/statefulset.test.ts round-trips StatefulSet pods.
        statefulsetReplicas: fc.constant(""),
        peerDomain: fc.constant(""),
        maxPendingRequests: fc.integer({ min: 1, max: 1_000_000 }).map(String),
        insecure: switchArbitrary,
        apiToken: secretArbitrary,
        tokensFile: fc.stringMatching(/^[/.A-Za-z0-9_-]{1,30}$/),
        rateLimit: fc.integer({ min: 0, max: 1_000_000 }).map(String),
        clusterSecret: fc.stringMatching(/^[!-~]{16,40}$/),
        // Left out below: the TLS files come in sets, which test/tls/config.test.ts round-trips.
        tlsCert: fc.constant(""),
        tlsKey: fc.constant(""),
        tlsClientCa: fc.constant(""),
        peerTlsCert: fc.constant(""),
        peerTlsKey: fc.constant(""),
        peerTlsCa: fc.constant(""),
        logLevel: fc.constantFrom(...LOG_LEVELS),
        logFormat: fc.constantFrom(...LOG_FORMATS),
        electionTimeoutMs: fc
          .integer({ min: Math.max(150, Math.ceil(1.5 * heartbeatMs)), max: 60_000 })
          .map(String),
        heartbeatIntervalMs: fc.constant(String(heartbeatMs)),
        compactionThresholdEntries: fc.integer({ min: 1, max: 10_000_000 }).map(String),
        healthCheckIntervalMs: fc.constant(String(intervalMs / 1000)),
        healthCheckTimeoutMs: secondsArbitrary(100, Math.min(intervalMs, 10_000)),
        // At most half the shortest failure timeout below, which must span two beats.
        agentHeartbeatIntervalMs: secondsArbitrary(100, 500),
        failureDetectionTimeoutMs: secondsArbitrary(1000, 3_600_000),
        recoveryRetryAttempts: fc.integer({ min: 1, max: 100 }).map(String),
        taskMigrationTimeoutMs: secondsArbitrary(1000, 86_400_000),
        circuitBreakerThreshold: fc.integer({ min: 1, max: 1000 }).map(String),
        taskAgingMs: secondsArbitrary(1000, 86_400_000),
        taskTeamWeights: fc
          .uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), { maxLength: 4 })
          .chain((teams) =>
            fc
              .tuple(...teams.map(() => fc.integer({ min: 1, max: 1000 })))
              .map((weights) => teams.map((team, i) => `${team}=${weights[i]}`).join(",")),
          ),
        taskTeamQueueLimit: fc.integer({ min: 1, max: 1_000_000 }).map(String),
        taskTeamRunningLimit: fc.integer({ min: 1, max: 1_000_000 }).map(String),
        taskDeliveryTimeoutMs: secondsArbitrary(100, 600_000),
        taskRetention: fc.integer({ min: 0, max: 1_000_000 }).map(String),
        workflowTeamStepLimits: fc
          .uniqueArray(
            fc.tuple(fc.constantFrom("search", "ads", "web", "ml"), fc.integer({ min: 1, max: 1_000_000 })),
            {
              selector: ([team]) => team,
              maxLength: 4,
            },
          )
          .map((pairs) => pairs.map(([team, limit]) => `${team}=${limit}`).join(",")),
        workflowTeamStepLimit: fc.integer({ min: 0, max: 1_000_000 }).map(String),
        workflowRetention: fc.integer({ min: 0, max: 100_000 }).map(String),
        // "registry" is the deprecated name of custom; it must read back as custom.
        serviceDiscoveryType: fc.constantFrom(...SERVICE_DISCOVERY_TYPES, "registry"),
        consulEndpoint: fc.webUrl(),
        // Never empty: dns and kubernetes discovery need names.
        discoveryNames: fc.stringMatching(/^[a-z][a-z0-9_.,/-]{0,40}$/),
        discoveryDnsServer: fc.stringMatching(/^[a-z0-9.]{1,20}:[1-9][0-9]{0,3}$/),
        discoveryTeam: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
        phase: fc.constant("3"),
        multiAgentEnabled: switchArbitrary,
        consensusEnabled: switchArbitrary,
        faultToleranceEnabled: switchArbitrary,
      }),
    ),
  ),
);

/** The TLS files, left out of the generated inputs. */
const TLS_KEYS: ReadonlySet<SettingKey> = new Set([
  "tlsCert",
  "tlsKey",
  "tlsClientCa",
  "peerTlsCert",
  "peerTlsKey",
  "peerTlsCa",
]);

/** How each setting is given: left out, as its variable, as `--flag=value` or as `--flag value`. */
const howArbitrary = fc.array(fc.constantFrom("omit", "env", "flag=", "flag "), {
  minLength: OPTIONS.length,
  maxLength: OPTIONS.length,
});

/**
 * Arguments and environment built from generated values. A peer list always comes with the id it
 * requires, and with consensus switched off it is left out, so that few inputs are refused.
 */
const inputArbitrary = fc.tuple(valuesArbitrary, howArbitrary).map(([values, hows]) => {
  const argv: string[] = [];
  const env: Record<string, string> = {};
  const howOf = (key: SettingKey): string =>
    hows[OPTIONS.findIndex((option) => option.key === key)] ?? "omit";
  const consensusOff =
    howOf("consensusEnabled") !== "omit" && booleanCodec.parse(values.consensusEnabled) === false;
  const peersGiven = howOf("peers") !== "omit" && !consensusOff;
  OPTIONS.forEach((option, i) => {
    const text = values[option.key];
    let how = hows[i] ?? "omit";
    if (option.key === "peers" && !peersGiven) how = "omit";
    if (option.key === "statefulsetReplicas" || option.key === "peerDomain") how = "omit";
    if (TLS_KEYS.has(option.key)) how = "omit";
    if (option.key === "id" && peersGiven && how === "omit") how = "env";
    if (how === "omit") return;
    if (how === "env" || option.flag === null) env[option.env] = text;
    else if (how === "flag " && option.codec !== booleanCodec) argv.push(option.flag, text);
    else argv.push(`${option.flag}=${text}`);
  });
  return { argv, env };
});

describe("round trip", () => {
  it("a parsed config written out by toInvocation parses back equal", () => {
    let accepted = 0;
    fc.assert(
      fc.property(inputArbitrary, ({ argv, env }) => {
        const parsed = parseNodeConfig(argv, env);
        if (parsed instanceof ConfigError) return;
        accepted++;
        const invocation = toInvocation(parsed);
        const reparsed = parseNodeConfig(invocation.argv, invocation.env);
        expect(reparsed).toEqual(parsed);
        // Secrets hide their values from toEqual; the invocation reveals them.
        expect(toInvocation(reparsed as typeof parsed)).toEqual(invocation);
      }),
      RUNS,
    );
    // The generators are built to produce mostly valid input; a drop here means the test went blind.
    expect(accepted).toBeGreaterThan(RUNS.numRuns / 2);
  });

  it("no input makes the parser throw; every refusal carries a catalogued code", () => {
    const word = fc.oneof(
      fc.string(),
      fc.constantFrom(...OPTIONS.flatMap((option) => (option.flag === null ? [] : [option.flag]))),
      fc.constantFrom("--", "-", "=", "--=", "--id=", "--insecure=", ",", "[::1]:", "0.0.0.0:0"),
    );
    const env = fc.dictionary(fc.constantFrom(...OPTIONS.map((option) => option.env)), fc.string());
    fc.assert(
      fc.property(fc.array(word, { maxLength: 8 }), env, (argv, environment) => {
        const result = parseNodeConfig(argv, environment);
        if (result instanceof ConfigError) expect(Object.keys(CONFIG_ERROR_CODES)).toContain(result.code);
      }),
      { seed: 20_250_602, numRuns: 2000 },
    );
  });
});
