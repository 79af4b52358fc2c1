// Proves that secrets (API token, cluster secret, a database password) never appear in any printed form of a config, its redacted log view or an error message, while reveal() and toInvocation still hand them to the code that needs them.

import { inspect, format } from "node:util";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  REDACTED_TEXT,
  Secret,
  parseNodeConfig,
  redactedConfig,
  toInvocation,
  type NodeConfig,
} from "../../src/config/index.js";

const TOKEN = "tok-5f1d2c";
const CLUSTER_SECRET = "cluster-9a8b7c6d5e4f";
const DB_PASSWORD = "pw-3e4f5a";
const STORAGE = `postgres://juno:${DB_PASSWORD}@db.internal:5432/juno?sslmode=require&password=${DB_PASSWORD}`;

/** A config holding every kind of secret. */
function secretConfig(): NodeConfig {
  const config = parseNodeConfig(["--storage", STORAGE], {
    JUNO_API_TOKEN: TOKEN,
    JUNO_CLUSTER_SECRET: CLUSTER_SECRET,
  });
  if (config instanceof ConfigError) throw new Error(config.message);
  return config;
}

/** Every way a config commonly ends up as text. */
function printedForms(value: unknown): string[] {
  return [
    JSON.stringify(value),
    inspect(value, { depth: null }),
    inspect(value, { depth: null, showHidden: true }),
    format("%o %O %j %s", value, value, value, value),
    `${String(value)}`,
  ];
}

describe("secrets", () => {
  it("a Secret prints as [redacted] in every form and only reveal() gives the value", () => {
    const secret = new Secret(TOKEN);
    for (const text of [...printedForms(secret), secret.toString()]) {
      expect(text).not.toContain(TOKEN);
    }
    expect(JSON.stringify({ secret })).toBe(`{"secret":"${REDACTED_TEXT}"}`);
    expect(secret.reveal()).toBe(TOKEN);
    expect(secret.equals(new Secret(TOKEN))).toBe(true);
    expect(secret.equals(new Secret("other"))).toBe(false);
  });

  it("a whole config prints without its token, cluster secret or database password", () => {
    const config = secretConfig();
    for (const text of printedForms(config)) {
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(CLUSTER_SECRET);
      expect(text).not.toContain(DB_PASSWORD);
    }
    expect(config.apiToken?.reveal()).toBe(TOKEN);
    expect(config.clusterSecret?.reveal()).toBe(CLUSTER_SECRET);
    expect(config.storage.kind === "postgres" && config.storage.url.reveal()).toBe(STORAGE);
  });

  it("the redacted view shows every setting by variable, in the variable's unit, with secrets masked", () => {
    const view = redactedConfig(secretConfig());
    const text = JSON.stringify(view);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(CLUSTER_SECRET);
    expect(text).not.toContain(DB_PASSWORD);
    expect(view.settings).toMatchObject({
      JUNO_API_TOKEN: REDACTED_TEXT,
      JUNO_CLUSTER_SECRET: REDACTED_TEXT,
      JUNO_STORAGE: `postgres://juno:${REDACTED_TEXT}@db.internal:5432/juno?sslmode=require&password=${REDACTED_TEXT}`,
      JUNO_HTTP_ADDR: "0.0.0.0:8080",
      HEALTH_CHECK_INTERVAL: "10",
      RAFT_ELECTION_TIMEOUT: "1000",
    });
    expect(view.tickMs).toBe(100);
  });

  it("unset secrets show as null, not as an empty or redacted value", () => {
    const config = parseNodeConfig([], {});
    if (config instanceof ConfigError) throw config;
    expect(redactedConfig(config).settings).toMatchObject({
      JUNO_API_TOKEN: null,
      JUNO_CLUSTER_SECRET: null,
    });
  });

  it("refusals of secret-bearing values do not quote them", () => {
    const badToken = parseNodeConfig([], { JUNO_API_TOKEN: `${TOKEN} trailing` });
    const badStorage = parseNodeConfig(["--storage", `mysql://juno:${DB_PASSWORD}@db/juno`], {});
    expect(badToken).toBeInstanceOf(ConfigError);
    expect(badStorage).toBeInstanceOf(ConfigError);
    expect((badToken as ConfigError).message).not.toContain(TOKEN);
    expect((badStorage as ConfigError).message).not.toContain(DB_PASSWORD);
  });

  it("toInvocation passes secrets and passwords through the environment, never the argument list", () => {
    const invocation = toInvocation(secretConfig());
    expect(invocation.env).toEqual({
      JUNO_API_TOKEN: TOKEN,
      JUNO_CLUSTER_SECRET: CLUSTER_SECRET,
      JUNO_STORAGE: STORAGE,
    });
    const argv = invocation.argv.join(" ");
    for (const secret of [TOKEN, CLUSTER_SECRET, DB_PASSWORD]) expect(argv).not.toContain(secret);
  });

  it("a postgres URL without a password stays a flag", () => {
    const config = parseNodeConfig(["--storage", "postgres://db.internal/juno"], {});
    if (config instanceof ConfigError) throw config;
    expect(toInvocation(config).argv).toContain("--storage=postgres://db.internal/juno");
  });
});
