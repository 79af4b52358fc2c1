// Proves that `juno agents` parses its action, id and flags into a typed command by `juno
// start`'s rules (flag over variable over default, stable error codes), that --nodes, its old
// names --url and --urls, and JUNO_NODES or JUNO_URL say the same, that filters belong to ls
// alone, and that help is generated from the tables with the shared client options once.

import { describe, expect, it } from "vitest";
import {
  AGENTS_LS_COMMAND,
  AGENTS_RM_COMMAND,
  AGENTS_SHOW_COMMAND,
  AGENTS_URLS_MAX,
  agentsHelpText,
  parseAgentsCommand,
  type AgentsCommand,
} from "../../src/config/agents-command.js";
import { ConfigError, refusalText, type Environment } from "../../src/config/index.js";

function parse(argv: readonly string[], env: Environment = {}): AgentsCommand {
  const command = parseAgentsCommand(argv, env);
  if (command instanceof Error) throw new Error(`${command.code}: ${command.message}`);
  return command;
}

function refusal(argv: readonly string[], env: Environment = {}): ConfigError {
  const command = parseAgentsCommand(argv, env);
  if (!(command instanceof ConfigError)) throw new Error(`accepted: ${JSON.stringify(command)}`);
  return command;
}

describe("juno agents", () => {
  it("lists with defaults: the local node, no token, a table, no filters", () => {
    expect(parse(["ls"])).toEqual({
      action: "ls",
      connection: { urls: ["http://127.0.0.1:8080"], token: null, timeoutMs: 10_000, origin: "the default" },
      json: false,
      quiet: false,
      filter: { team: null, skill: null, status: null, label: null },
    });
  });

  it("reads every filter of ls", () => {
    const command = parse([
      "ls",
      "--team",
      "search",
      "--skill=summarise",
      "--status",
      "degraded",
      "--label",
      "zone=eu=west",
    ]);
    expect(command).toMatchObject({
      filter: {
        team: "search",
        skill: "summarise",
        status: "degraded",
        label: { key: "zone", value: "eu=west" },
      },
    });
  });

  it("takes the id right after show and rm", () => {
    expect(parse(["show", "7d1f", "--json"])).toMatchObject({ action: "show", id: "7d1f", json: true });
    expect(parse(["rm", "7d1f"])).toMatchObject({ action: "rm", id: "7d1f", json: false });
  });

  it("repeats --url, merges --urls, drops duplicates, and lets flags win over JUNO_URL", () => {
    const env = { JUNO_URL: "http://env:8080" };
    const urls = (argv: readonly string[], environment: Environment = env): readonly string[] =>
      parse(argv, environment).connection.urls;
    expect(urls(["ls"])).toEqual(["http://env:8080"]);
    expect(urls(["ls"], { JUNO_URL: "http://a:1, http://b:2" })).toEqual(["http://a:1", "http://b:2"]);
    expect(urls(["ls", "--url", "http://a:1", "--url=http://b:2"])).toEqual(["http://a:1", "http://b:2"]);
    expect(urls(["show", "x", "--urls", "http://a:1,https://b", "--url", "http://a:1"])).toEqual([
      "http://a:1",
      "https://b",
    ]);
  });

  it("takes --nodes and JUNO_NODES as the same list, host:port meaning http, JUNO_NODES over JUNO_URL", () => {
    const urls = (argv: readonly string[], environment: Environment = {}): readonly string[] =>
      parse(argv, environment).connection.urls;
    expect(urls(["ls", "--nodes", "10.0.0.1:8080,https://b.example/", "--url", "http://c:1"])).toEqual([
      "http://10.0.0.1:8080",
      "https://b.example",
      "http://c:1",
    ]);
    expect(urls(["ls"], { JUNO_NODES: "a:1", JUNO_URL: "http://b:2" })).toEqual(["http://a:1"]);
    expect(urls(["ls", "--nodes", "0.0.0.0:8080,[::]:8081"])).toEqual([
      "http://127.0.0.1:8080",
      "http://[::1]:8081",
    ]);
    expect(parse(["ls"], { JUNO_NODES: "a:1" }).connection.origin).toBe("JUNO_NODES");
    expect(parse(["ls", "--url", "http://a:1"]).connection.origin).toBe("--nodes");
  });

  it("reads the token from --token or JUNO_API_TOKEN, flag first, and never prints it", () => {
    const fromEnv = parse(["ls"], { JUNO_API_TOKEN: "env-token" }).connection.token;
    expect(fromEnv?.reveal()).toBe("env-token");
    const fromFlag = parse(["ls", "--token", "flag-token"], { JUNO_API_TOKEN: "env-token" }).connection.token;
    expect(fromFlag?.reveal()).toBe("flag-token");
    expect(JSON.stringify(parse(["ls", "--token", "flag-token"]))).not.toContain("flag-token");
  });

  it("refuses with stable codes", () => {
    expect(refusal([]).code).toBe("missing_required");
    expect(refusal(["--json"]).code).toBe("missing_required");
    expect(refusal(["list"]).code).toBe("unexpected_argument");
    expect(refusal(["show"]).code).toBe("missing_required");
    expect(refusal(["rm", "--json"]).code).toBe("missing_required");
    expect(refusal(["show", "a", "b"]).code).toBe("unexpected_argument");
    expect(refusal(["show", "a", "--team", "search"]).code).toBe("unknown_flag");
    expect(refusal(["ls", "--status", "asleep"]).code).toBe("out_of_range");
    expect(refusal(["ls", "--label", "zone"]).code).toBe("missing_value");
    expect(refusal(["ls", "--label", "=eu"]).code).toBe("missing_value");
    expect(refusal(["ls", "--team", "a", "--team", "b"]).code).toBe("duplicate_flag");
    expect(refusal(["ls", "--url"]).code).toBe("missing_value");
    expect(refusal(["ls", "--url", "--json"]).code).toBe("missing_value");
    expect(refusal(["ls", "--url", "ftp://a"]).code).toBe("malformed_url");
    expect(refusal(["ls"], { JUNO_URL: "a" })).toMatchObject({
      code: "malformed_url",
      source: "JUNO_URL",
    });
    expect(refusal(["ls"], { JUNO_NODES: "http://" })).toMatchObject({
      code: "malformed_url",
      source: "JUNO_NODES",
    });
    expect(refusal(["ls", "--http", "127.0.0.1:8080"]).code).toBe("unknown_flag");
    const many = Array.from({ length: AGENTS_URLS_MAX + 1 }, (_, i) => `http://n${i}:8080`).join(",");
    expect(refusal(["ls", "--urls", many]).code).toBe("out_of_range");
    expect(refusal(["ls", "--token", "has space"]).code).toBe("malformed_secret");
  });

  it("words a refusal like every subcommand", () => {
    expect(refusalText("agents", refusal(["ls", "--bogus"]))).toBe(
      "juno agents: error [unknown_flag]: unknown flag --bogus (see juno agents ls --help)\n",
    );
  });

  it("generates help from the tables", () => {
    const overview = agentsHelpText([]);
    for (const action of ["ls", "show <id>", "rm <id>"]) expect(overview).toContain(action);
    const ls = agentsHelpText(["ls", "--help"]);
    for (const option of Object.values(AGENTS_LS_COMMAND.options)) expect(ls).toContain(option.flag);
    for (const flag of ["--nodes", "--token", "--timeout", "--context", "--config", "--json", "--quiet"]) {
      // The shared options are listed once, under their own heading.
      expect(ls.split(`\n  ${flag} `).length + ls.split(`\n  ${flag}[`).length - 2, flag).toBe(1);
    }
    expect(ls).toContain("JUNO_URL");
    expect(ls).toContain("JUNO_API_TOKEN");
    expect(overview).toContain("Client options");
    expect(agentsHelpText(["show"])).toContain("usage: juno agents show <id> [flags]");
    expect(agentsHelpText(["rm"])).toContain("usage: juno agents rm <id> [flags]");
    expect(Object.keys(AGENTS_SHOW_COMMAND.options)).toEqual(Object.keys(AGENTS_RM_COMMAND.options));
  });
});
