// Proves that the seed's environment variables keep the seed's meaning and units (Raft times in milliseconds, health and fault times in seconds, the compaction threshold in entries) and that the Raft timings become a tick and tick counts the core accepts.

import { describe, expect, it } from "vitest";
import {
  ConfigError,
  OPTIONS,
  deriveRaftTiming,
  parseNodeConfig,
  type NodeConfig,
} from "../../src/config/index.js";
import { Invalid } from "../../src/config/errors.js";
import { SeededRandom, resolveOptions } from "../../src/raft/index.js";

/** The seed's example configuration block, verbatim. */
const SEED_EXAMPLE = {
  JUNO_PHASE: "3",
  MULTI_AGENT_ENABLED: "true",
  CONSENSUS_ENABLED: "true",
  FAULT_TOLERANCE_ENABLED: "true",
  RAFT_ELECTION_TIMEOUT: "5000",
  RAFT_HEARTBEAT_INTERVAL: "1000",
  RAFT_LOG_COMPACTION_THRESHOLD: "10000",
  SERVICE_DISCOVERY_TYPE: "consul",
  CONSUL_ENDPOINT: "http://consul:8500",
  HEALTH_CHECK_INTERVAL: "30",
  HEALTH_CHECK_TIMEOUT: "10",
  FAILURE_DETECTION_TIMEOUT: "30",
  RECOVERY_RETRY_ATTEMPTS: "3",
  TASK_MIGRATION_TIMEOUT: "60",
  CIRCUIT_BREAKER_THRESHOLD: "5",
};

/** The config for `env`, failing the test on a refusal. */
function fromEnv(env: Record<string, string>): NodeConfig {
  const config = parseNodeConfig([], env);
  if (config instanceof ConfigError) throw new Error(`${config.code}: ${config.message}`);
  return config;
}

describe("the seed's variables", () => {
  it("the seed's example block is accepted with the seed's units", () => {
    expect(fromEnv(SEED_EXAMPLE)).toMatchObject({
      phase: 3,
      multiAgentEnabled: true,
      consensusEnabled: true,
      faultToleranceEnabled: true,
      electionTimeoutMs: 5000,
      heartbeatIntervalMs: 1000,
      compactionThresholdEntries: 10_000,
      serviceDiscoveryType: "consul",
      consulEndpoint: "http://consul:8500",
      healthCheckIntervalMs: 30_000,
      healthCheckTimeoutMs: 10_000,
      failureDetectionTimeoutMs: 30_000,
      recoveryRetryAttempts: 3,
      taskMigrationTimeoutMs: 60_000,
      circuitBreakerThreshold: 5,
      tickMs: 1000,
      raftOptions: { electionTicks: 5, heartbeatTicks: 1, compactionThresholdEntries: 10_000 },
    });
  });

  it("the table documents each seed variable in the seed's unit", () => {
    const units = Object.fromEntries(OPTIONS.map((option) => [option.env, option.unit]));
    expect(units).toMatchObject({
      RAFT_ELECTION_TIMEOUT: "ms",
      RAFT_HEARTBEAT_INTERVAL: "ms",
      RAFT_LOG_COMPACTION_THRESHOLD: "entries",
      HEALTH_CHECK_INTERVAL: "s",
      HEALTH_CHECK_TIMEOUT: "s",
      FAILURE_DETECTION_TIMEOUT: "s",
      TASK_MIGRATION_TIMEOUT: "s",
      RECOVERY_RETRY_ATTEMPTS: "attempts",
      CIRCUIT_BREAKER_THRESHOLD: "failures",
    });
  });

  it("seconds may have up to three decimals and are held in whole milliseconds", () => {
    expect(fromEnv({ HEALTH_CHECK_INTERVAL: "0.5", HEALTH_CHECK_TIMEOUT: "0.25" })).toMatchObject({
      healthCheckIntervalMs: 500,
      healthCheckTimeoutMs: 250,
    });
    expect(fromEnv({ TASK_MIGRATION_TIMEOUT: "1.005" }).taskMigrationTimeoutMs).toBe(1005);
    expect(fromEnv({ FAILURE_DETECTION_TIMEOUT: "007" }).failureDetectionTimeoutMs).toBe(7000);
  });

  it("the defaults are faster than the seed's example, like etcd's", () => {
    const config = fromEnv({});
    expect(config.heartbeatIntervalMs).toBe(100);
    expect(config.electionTimeoutMs).toBe(1000);
    // Detection well under the seed's 30 s recovery target leaves time to migrate tasks.
    expect(config.failureDetectionTimeoutMs).toBeLessThan(30_000);
  });
});

describe("Raft timing", () => {
  it("one tick is one heartbeat interval; the election timeout becomes whole ticks, rounded", () => {
    expect(deriveRaftTiming(1000, 100, 7)).toEqual({
      tickMs: 100,
      raftOptions: { electionTicks: 10, heartbeatTicks: 1, compactionThresholdEntries: 7 },
    });
    expect(deriveRaftTiming(1049, 100, 1)).toMatchObject({ raftOptions: { electionTicks: 10 } });
    expect(deriveRaftTiming(1050, 100, 1)).toMatchObject({ raftOptions: { electionTicks: 11 } });
    expect(deriveRaftTiming(150, 100, 1)).toMatchObject({ raftOptions: { electionTicks: 2 } });
  });

  it.each([
    [100, 100],
    [149, 100],
    [50, 100],
  ])("refuses an election timeout of %i ms with a heartbeat of %i ms", (electionMs, heartbeatMs) => {
    const timing = deriveRaftTiming(electionMs, heartbeatMs, 1);
    expect(timing).toBeInstanceOf(Invalid);
    expect((timing as Invalid).code).toBe("election_not_above_heartbeat");
  });

  it("the ready-made options are accepted by the core as they are", () => {
    const environments: Record<string, string>[] = [
      {},
      SEED_EXAMPLE,
      { RAFT_ELECTION_TIMEOUT: "150" },
      { RAFT_LOG_COMPACTION_THRESHOLD: "1" },
    ];
    for (const env of environments) {
      const config = fromEnv(env);
      const resolved = resolveOptions({ ...config.raftOptions, id: config.id, random: new SeededRandom(1) });
      expect(resolved).toMatchObject(config.raftOptions);
    }
  });
});
