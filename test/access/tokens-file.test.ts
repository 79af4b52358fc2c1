// Proves the tokens file: a JSON or a YAML list of tokens, each given in clear or as its SHA-256,
// is read into digests (never keeping a secret); anything malformed is refused naming the entry
// and never quoting a secret (duplicates, both or neither of token and token_sha256, an agent
// token without its agent, unknown keys such as __proto__, short secrets, bad dates); `juno start`
// refuses it as bad_tokens_file; and a tokens file counts as a token for the exposure rule. It
// also proves the secrets the API makes: juno_ and 32 random bytes, base64url.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  TokensFileError,
  loadTokensFile,
  newTokenSecret,
  parseTokensFile,
  secretDigest,
} from "../../src/access/index.js";
import { ConfigError, checkExposure, parseNodeConfig } from "../../src/config/index.js";

const SECRET = "s3cret-s3cret-s3cret";
const AGENT = "7d1f0a52-0000-4000-8000-000000000001";
const dir = mkdtempSync(join(tmpdir(), "juno-tokens-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the tokens file", () => {
  it("reads YAML and JSON alike, keeping digests only", () => {
    const yaml = `
- name: ci
  role: operator
  token: ${SECRET}
- name: indexer-7
  role: agent
  agent_id: ${AGENT}
  token_sha256: ${secretDigest("other-secret-value").toUpperCase()}
  expires_at: 2030-01-01T00:00:00Z
`;
    const tokens = parseTokensFile(yaml, "tokens.yaml");
    expect(tokens).toEqual([
      { name: "ci", role: "operator", digest: secretDigest(SECRET), agentId: null, expiresAtMs: null },
      {
        name: "indexer-7",
        role: "agent",
        digest: secretDigest("other-secret-value"),
        agentId: AGENT,
        expiresAtMs: Date.parse("2030-01-01T00:00:00Z"),
      },
    ]);
    expect(JSON.stringify(tokens)).not.toContain(SECRET);
    const json = JSON.stringify([{ name: "ci", role: "operator", token: SECRET }]);
    expect(parseTokensFile(json, "tokens.json")).toEqual([tokens[0]]);
    expect(parseTokensFile("", "empty.yaml")).toEqual([]);
  });

  it.each([
    ["not a list", "name: ci", /must be a list/],
    [
      "a duplicate name",
      `[{"name":"a","role":"reader","token":"${SECRET}"},{"name":"a","role":"reader","token":"x${SECRET}"}]`,
      /twice/,
    ],
    [
      "a duplicate secret",
      `[{"name":"a","role":"reader","token":"${SECRET}"},{"name":"b","role":"reader","token":"${SECRET}"}]`,
      /same secret/,
    ],
    [
      "both token and token_sha256",
      `[{"name":"a","role":"reader","token":"${SECRET}","token_sha256":"${"a".repeat(64)}"}]`,
      /exactly one/,
    ],
    ["neither", `[{"name":"a","role":"reader"}]`, /exactly one/],
    ["an agent token without its agent", `[{"name":"a","role":"agent","token":"${SECRET}"}]`, /agent_id/],
    [
      "an agent id on another role",
      `[{"name":"a","role":"reader","agent_id":"${AGENT}","token":"${SECRET}"}]`,
      /agent_id/,
    ],
    ["an unknown role", `[{"name":"a","role":"root","token":"${SECRET}"}]`, /entry 1/],
    ["a short secret", `[{"name":"a","role":"reader","token":"short"}]`, /token/],
    [
      "a __proto__ key",
      `[{"name":"a","role":"reader","token":"${SECRET}","__proto__":{"role":"admin"}}]`,
      /entry 1/,
    ],
    ["a bad date", `[{"name":"a","role":"reader","token":"${SECRET}","expires_at":"soon"}]`, /expires_at/],
    ["neither JSON nor YAML", "[{", /neither JSON nor YAML/],
  ])("refuses %s, never quoting the secret", (_what, text, message) => {
    expect(() => parseTokensFile(text, "t.yaml")).toThrow(TokensFileError);
    try {
      parseTokensFile(text, "t.yaml");
    } catch (error) {
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain(SECRET);
    }
  });

  it("is refused at start as bad_tokens_file, naming the file", () => {
    const path = join(dir, "bad.yaml");
    writeFileSync(path, "- name: ci\n  role: root\n");
    const refused = loadTokensFile(path);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).code).toBe("bad_tokens_file");
    expect((refused as ConfigError).message).toContain(path);
    expect((loadTokensFile(join(dir, "missing.yaml")) as ConfigError).code).toBe("bad_tokens_file");
    expect(loadTokensFile(null)).toEqual([]);
  });

  it("counts as a token for the exposure rule", () => {
    const config = parseNodeConfig(
      ["--http", "0.0.0.0:8080", "--raft", "127.0.0.1:9090", "--tokens-file", "/etc/juno/tokens.yaml"],
      {
        JUNO_TOKENS_FILE: "",
      },
    );
    if (config instanceof ConfigError) throw config;
    expect(config.tokensFile).toBe("/etc/juno/tokens.yaml");
    expect(checkExposure(config)?.code).not.toBe("insecure_without_token");
    expect(checkExposure({ ...config, tokensFile: null })?.code).toBe("insecure_without_token");
  });
});

describe("secrets the API makes", () => {
  it("are juno_ and 32 random bytes in base64url, each new", () => {
    const secrets = new Set(Array.from({ length: 100 }, () => newTokenSecret()));
    expect(secrets.size).toBe(100);
    for (const secret of secrets) {
      expect(secret).toMatch(/^juno_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(secret.slice(5), "base64url")).toHaveLength(32);
    }
  });
});
