// Proves the start-up exposure rule: a node may listen on loopback without secrets or TLS, but an HTTP API beyond loopback needs JUNO_API_TOKEN and TLS, and a Raft transport beyond loopback needs JUNO_CLUSTER_SECRET and peer TLS, unless --insecure is given.

import { describe, expect, it } from "vitest";
import { ConfigError, checkExposure, parseNodeConfig, type NodeConfig } from "../../src/config/index.js";

/** The config for `argv` and `env`, failing the test on a refusal. */
function parse(argv: readonly string[], env: Record<string, string> = {}): NodeConfig {
  const config = parseNodeConfig(argv, env);
  if (config instanceof ConfigError) throw new Error(`${config.code}: ${config.message}`);
  return config;
}

/** The API's TLS files (the parser only checks that they come together; start reads them). */
const API_TLS = ["--tls-cert", "/etc/juno/tls.crt", "--tls-key", "/etc/juno/tls.key"];
/** Peer TLS with the API's certificate. */
const PEER_TLS = [...API_TLS, "--peer-tls-ca", "/etc/juno/ca.crt"];

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
    "an HTTP API on %s is refused without a token or without TLS, and allowed with both or with --insecure",
    (http) => {
      expect(httpVerdict(http)).toBe("insecure_without_token");
      expect(httpVerdict(http, API_TLS)).toBe("insecure_without_token");
      expect(httpVerdict(http, [], { JUNO_API_TOKEN: "t0ken" })).toBe("insecure_without_tls");
      expect(httpVerdict(http, API_TLS, { JUNO_API_TOKEN: "t0ken" })).toBe("allowed");
      expect(
        httpVerdict(http, [], {
          JUNO_API_TOKEN: "t0ken",
          JUNO_TLS_CERT: "/etc/juno/tls.crt",
          JUNO_TLS_KEY: "/etc/juno/tls.key",
        }),
      ).toBe("allowed");
      expect(httpVerdict(http, ["--insecure"])).toBe("allowed");
      expect(httpVerdict(http, ["--insecure"], { JUNO_API_TOKEN: "t0ken" })).toBe("allowed");
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
    "a Raft transport on %s is refused without a cluster secret or without peer TLS, and allowed with both or with --insecure",
    (raft) => {
      const secret = { JUNO_CLUSTER_SECRET: "s3cret-s3cret-s3cret" };
      expect(raftVerdict(raft)).toBe("insecure_without_cluster_secret");
      // The API token protects the HTTP API only; it is no defence for the Raft port.
      expect(raftVerdict(raft, [], { JUNO_API_TOKEN: "t0ken" })).toBe("insecure_without_cluster_secret");
      // Mutual TLS does not replace the secret: both are checked.
      expect(raftVerdict(raft, PEER_TLS)).toBe("insecure_without_cluster_secret");
      expect(raftVerdict(raft, [], secret)).toBe("insecure_without_peer_tls");
      // The API's certificate alone does not make the peer transport TLS.
      expect(raftVerdict(raft, API_TLS, secret)).toBe("insecure_without_peer_tls");
      expect(raftVerdict(raft, PEER_TLS, secret)).toBe("allowed");
      expect(
        raftVerdict(
          raft,
          [
            "--peer-tls-cert",
            "/etc/juno/peer.crt",
            "--peer-tls-key",
            "/etc/juno/peer.key",
            "--peer-tls-ca",
            "/etc/juno/ca.crt",
          ],
          secret,
        ),
      ).toBe("allowed");
      expect(raftVerdict(raft, ["--insecure"])).toBe("allowed");
      expect(raftVerdict(raft, ["--insecure"], secret)).toBe("allowed");
    },
  );

  it("the defaults (both on 0.0.0.0) need both secrets and TLS on both", () => {
    const secrets = { JUNO_API_TOKEN: "t", JUNO_CLUSTER_SECRET: "s".repeat(16) };
    expect(checkExposure(parse([]))?.code).toBe("insecure_without_token");
    expect(checkExposure(parse([], { JUNO_API_TOKEN: "t" }))?.code).toBe("insecure_without_cluster_secret");
    expect(checkExposure(parse([], secrets))?.code).toBe("insecure_without_tls");
    expect(checkExposure(parse(API_TLS, secrets))?.code).toBe("insecure_without_peer_tls");
    expect(checkExposure(parse(PEER_TLS, secrets))).toBeNull();
    expect(checkExposure(parse(["--insecure"], secrets))).toBeNull();
  });

  it("a plain-text refusal names the variable and says what to give", () => {
    const secrets = { JUNO_API_TOKEN: "t", JUNO_CLUSTER_SECRET: "s".repeat(16) };
    const api = checkExposure(parse([], secrets));
    expect(api?.source).toBe("JUNO_TLS_CERT");
    expect(api?.message).toMatch(/plain text.*--tls-cert.*--insecure/);
    const peers = checkExposure(parse(API_TLS, secrets));
    expect(peers?.source).toBe("JUNO_PEER_TLS_CA");
    expect(peers?.message).toMatch(/0\.0\.0\.0:9090.*plain text.*--peer-tls-ca/);
  });

  it("the refusal says how to fix it and never prints a secret", () => {
    const error = checkExposure(parse([], { JUNO_CLUSTER_SECRET: "hunter2-hunter2-secret" }));
    expect(error?.message).toContain("0.0.0.0:8080");
    expect(error?.message).toContain("--insecure");
    expect(error?.message).not.toContain("hunter2");
  });
});
