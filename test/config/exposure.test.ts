// Proves the start-up exposure rule: a node may listen on loopback without secrets, but an HTTP API beyond loopback needs JUNO_API_TOKEN and a Raft transport beyond loopback needs JUNO_CLUSTER_SECRET, unless --insecure is given.

import { describe, expect, it } from "vitest";
import { ConfigError, checkExposure, parseNodeConfig, type NodeConfig } from "../../src/config/index.js";

/** The config for `argv` and `env`, failing the test on a refusal. */
function parse(argv: readonly string[], env: Record<string, string> = {}): NodeConfig {
  const config = parseNodeConfig(argv, env);
  if (config instanceof ConfigError) throw new Error(`${config.code}: ${config.message}`);
  return config;
}

/** The exposure verdict for an HTTP listener at `http` (Raft kept on loopback). */
function httpVerdict(http: string, argv: readonly string[] = [], env: Record<string, string> = {}): string {
  return checkExposure(parse(["--http", http, "--raft", "127.0.0.1:9090", ...argv], env))?.code ?? "allowed";
}

/** The exposure verdict for a Raft listener at `raft` (HTTP kept on loopback). */
function raftVerdict(raft: string, argv: readonly string[] = [], env: Record<string, string> = {}): string {
  return checkExposure(parse(["--raft", raft, "--http", "127.0.0.1:8080", ...argv], env))?.code ?? "allowed";
}

describe("checkExposure", () => {
  it.each(["127.0.0.1:8080", "127.0.0.2:8080", "[::1]:8080", "localhost:8080"])(
    "an HTTP API on %s needs no token",
    (http) => {
      expect(httpVerdict(http)).toBe("allowed");
    },
  );

  it.each(["0.0.0.0:8080", "[::]:8080", "192.168.1.20:8080", "10.0.0.7:8080", "node1.example:8080"])(
    "an HTTP API on %s is refused without a token, and allowed with one or with --insecure",
    (http) => {
      expect(httpVerdict(http)).toBe("insecure_without_token");
      expect(httpVerdict(http, [], { JUNO_API_TOKEN: "t0ken" })).toBe("allowed");
      expect(httpVerdict(http, ["--insecure"])).toBe("allowed");
      expect(httpVerdict(http, [], { JUNO_INSECURE: "true" })).toBe("allowed");
    },
  );

  it.each(["127.0.0.1:9090", "[::1]:9090", "localhost:9090"])(
    "a Raft transport on %s needs no secret",
    (raft) => {
      expect(raftVerdict(raft)).toBe("allowed");
    },
  );

  it.each(["0.0.0.0:9090", "[::]:9090", "192.168.1.20:9090"])(
    "a Raft transport on %s is refused without a cluster secret, and allowed with one or with --insecure",
    (raft) => {
      expect(raftVerdict(raft)).toBe("insecure_without_cluster_secret");
      // The API token protects the HTTP API only; it is no defence for the Raft port.
      expect(raftVerdict(raft, [], { JUNO_API_TOKEN: "t0ken" })).toBe("insecure_without_cluster_secret");
      expect(raftVerdict(raft, [], { JUNO_CLUSTER_SECRET: "s3cret-s3cret-s3cret" })).toBe("allowed");
      expect(raftVerdict(raft, ["--insecure"])).toBe("allowed");
    },
  );

  it("the defaults (both on 0.0.0.0) need both secrets", () => {
    expect(checkExposure(parse([]))?.code).toBe("insecure_without_token");
    expect(checkExposure(parse([], { JUNO_API_TOKEN: "t" }))?.code).toBe("insecure_without_cluster_secret");
    expect(checkExposure(parse([], { JUNO_API_TOKEN: "t", JUNO_CLUSTER_SECRET: "s".repeat(16) }))).toBeNull();
  });

  it("the refusal says how to fix it and never prints a secret", () => {
    const error = checkExposure(parse([], { JUNO_CLUSTER_SECRET: "hunter2-hunter2-secret" }));
    expect(error?.message).toContain("0.0.0.0:8080");
    expect(error?.message).toContain("--insecure");
    expect(error?.message).not.toContain("hunter2");
  });
});
