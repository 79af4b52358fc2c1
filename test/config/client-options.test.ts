// Proves the options every client command shares: nodes, token and timeout are each taken from
// the flag, else the variable (JUNO_NODES before JUNO_URL), else the config file (the chosen
// context over the file's top level), else the default; the file is found at --config,
// JUNO_CONFIG, $XDG_CONFIG_HOME or $HOME, read only when something is left unset, and a broken
// one is refused naming the file and the key, never quoting the token; contexts are data (a
// context named "constructor" is just a name); help lists the shared options once; and `juno
// members` parses its actions. All through a fake file reader: nothing here touches the disk.

import { describe, expect, it } from "vitest";
import { CLI_ERROR_CODES, type CliError } from "../../src/config/cli-errors.js";
import { configFileLocation } from "../../src/config/client-file.js";
import {
  CLIENT_OPTIONS,
  parseClientCommand,
  wantsJson,
  type ClientConnection,
  type ConfigFileReader,
  type UsageError,
} from "../../src/config/client-options.js";
import { defineCommand } from "../../src/config/command.js";
import { clientCommandHelpText, clientOptionsHelp } from "../../src/config/help.js";
import { ConfigError, type Environment } from "../../src/config/index.js";
import {
  MEMBERS_ADD_COMMAND,
  membersHelpText,
  parseMembersCommand,
  type MembersCommand,
} from "../../src/config/members-command.js";

/** A command with one option of its own, as every client command has some. */
const EXAMPLE = defineCommand({
  name: "example ls",
  summary: "An example client command.",
  options: {
    team: {
      flag: "--team",
      env: null,
      default: { derived: "any" },
      meaning: "A team.",
      codec: CLIENT_OPTIONS.config.codec,
    },
  },
});

/** A reader over `files` (path to text) that counts what it reads. */
function files(entries: Readonly<Record<string, string>>): ConfigFileReader & { reads: string[] } {
  const reads: string[] = [];
  const read = (path: string): string | null => {
    reads.push(path);
    return Object.hasOwn(entries, path) ? (entries[path] ?? null) : null;
  };
  return Object.assign(read, { reads });
}

function parse(
  argv: readonly string[],
  env: Environment,
  reader: ConfigFileReader = files({}),
): ClientConnection {
  const parsed = parseClientCommand(EXAMPLE, argv, env, { readFile: reader });
  if (parsed instanceof Error) throw new Error(`${parsed.code}: ${parsed.message}`);
  return parsed.connection;
}

function refusal(
  argv: readonly string[],
  env: Environment,
  reader: ConfigFileReader = files({}),
): UsageError {
  const parsed = parseClientCommand(EXAMPLE, argv, env, { readFile: reader });
  if (!(parsed instanceof Error)) throw new Error(`accepted: ${JSON.stringify(parsed.connection)}`);
  return parsed;
}

const HOME = { HOME: "/home/ann" };
const HOME_FILE = "/home/ann/.config/juno/config.json";

/** A file with top-level settings and two contexts, prod current. */
const CONTEXTS = JSON.stringify({
  nodes: ["http://top:1"],
  token: "top-token",
  timeout: 7,
  current: "prod",
  contexts: {
    prod: { nodes: ["prod-1:8080", "https://prod-2.example"], token: "prod-token" },
    dev: { nodes: "dev:8080" },
  },
});

describe("precedence: flag, then variable, then config file, then default", () => {
  const reader = files({
    [HOME_FILE]: JSON.stringify({ nodes: ["file:1"], token: "file-token", timeout: 3 }),
  });

  it("nodes", () => {
    const nodes = (argv: readonly string[], env: Environment): readonly string[] =>
      parse(argv, env, reader).urls;
    const env = { ...HOME, JUNO_NODES: "env-nodes:1", JUNO_URL: "http://env-url:1" };
    expect(nodes(["--nodes", "flag:1"], env)).toEqual(["http://flag:1"]);
    expect(nodes([], env)).toEqual(["http://env-nodes:1"]);
    expect(nodes([], { ...HOME, JUNO_URL: "http://env-url:1" })).toEqual(["http://env-url:1"]);
    expect(nodes([], HOME)).toEqual(["http://file:1"]);
    expect(nodes([], {})).toEqual(["http://127.0.0.1:8080"]);
  });

  it("token", () => {
    const token = (argv: readonly string[], env: Environment): string | undefined =>
      parse(argv, env, reader).token?.reveal();
    expect(token(["--token", "flag-token"], { ...HOME, JUNO_API_TOKEN: "env-token" })).toBe("flag-token");
    expect(token([], { ...HOME, JUNO_API_TOKEN: "env-token" })).toBe("env-token");
    expect(token([], HOME)).toBe("file-token");
    expect(token([], {})).toBeUndefined();
  });

  it("timeout", () => {
    const timeoutMs = (argv: readonly string[], env: Environment): number =>
      parse(argv, env, reader).timeoutMs;
    expect(timeoutMs(["--timeout", "1.5"], { ...HOME, JUNO_TIMEOUT: "2" })).toBe(1_500);
    expect(timeoutMs([], { ...HOME, JUNO_TIMEOUT: "2" })).toBe(2_000);
    expect(timeoutMs([], HOME)).toBe(3_000);
    expect(timeoutMs([], {})).toBe(10_000);
  });

  it("says where the nodes came from, for the message when none answers", () => {
    expect(parse(["--url", "a:1"], HOME, reader).origin).toBe("--nodes");
    expect(parse([], { ...HOME, JUNO_NODES: "a:1" }, reader).origin).toBe("JUNO_NODES");
    expect(parse([], { ...HOME, JUNO_URL: "a:1" }, reader).origin).toBe("JUNO_URL");
    expect(parse([], HOME, reader).origin).toBe(HOME_FILE);
    expect(parse([], {}, reader).origin).toBe("the default");
  });

  it("reads the file only when a flag or variable leaves something unset, or a context is asked for", () => {
    const broken = files({ [HOME_FILE]: "{ not json" });
    const env = { ...HOME, JUNO_NODES: "a:1", JUNO_API_TOKEN: "t" };
    expect(parse(["--timeout", "1"], env, broken).urls).toEqual(["http://a:1"]);
    expect(broken.reads).toEqual([]);
    expect(refusal([], env, broken).code).toBe("bad_config_file");
    expect(refusal(["--timeout", "1", "--context", "prod"], env, broken).code).toBe("bad_config_file");
  });
});

describe("where the config file is", () => {
  it("--config, else JUNO_CONFIG, else an absolute XDG_CONFIG_HOME, else HOME, else nowhere", () => {
    expect(configFileLocation("/etc/juno.json", { JUNO_CONFIG: "/x.json", ...HOME })).toEqual({
      path: "/etc/juno.json",
      explicit: true,
    });
    expect(configFileLocation(null, { XDG_CONFIG_HOME: "/xdg/", ...HOME })).toEqual({
      path: "/xdg/juno/config.json",
      explicit: false,
    });
    // The XDG spec says a relative XDG_CONFIG_HOME is to be ignored.
    expect(configFileLocation(null, { XDG_CONFIG_HOME: "rel", ...HOME })?.path).toBe(HOME_FILE);
    expect(configFileLocation(null, {})).toBeNull();
  });

  it("reads the file --config or JUNO_CONFIG names, and refuses it when it is not there", () => {
    const reader = files({ "/a.json": '{"nodes": ["a:1"]}', "/b.json": '{"nodes": ["b:1"]}' });
    expect(parse([], { JUNO_CONFIG: "/a.json", ...HOME }, reader).urls).toEqual(["http://a:1"]);
    expect(parse(["--config", "/b.json"], { JUNO_CONFIG: "/a.json" }, reader).urls).toEqual(["http://b:1"]);
    const missing = refusal([], { JUNO_CONFIG: "/none.json" }, reader);
    expect([missing.code, missing.message]).toEqual([
      "bad_config_file",
      "config file /none.json: there is no such file",
    ]);
    // The default file may be absent.
    expect(parse([], HOME, reader).origin).toBe("the default");
  });

  it("reads from XDG_CONFIG_HOME when set", () => {
    const reader = files({ "/xdg/juno/config.json": '{"nodes": "x:1"}' });
    expect(parse([], { XDG_CONFIG_HOME: "/xdg", ...HOME }, reader).urls).toEqual(["http://x:1"]);
    expect(reader.reads).toEqual(["/xdg/juno/config.json"]);
  });
});

describe("named contexts", () => {
  const reader = files({ [HOME_FILE]: CONTEXTS });

  it("take the current one, or the one --context or JUNO_CONTEXT names, its settings over the top level's", () => {
    const current = parse([], HOME, reader);
    expect(current.urls).toEqual(["http://prod-1:8080", "https://prod-2.example"]);
    expect(current.token?.reveal()).toBe("prod-token");
    // A context that sets no timeout takes the top level's.
    expect(current.timeoutMs).toBe(7_000);
    expect(current.origin).toBe(`${HOME_FILE} (context prod)`);
    const dev = parse([], { ...HOME, JUNO_CONTEXT: "dev" }, reader);
    expect([dev.urls, dev.token?.reveal()]).toEqual([["http://dev:8080"], "top-token"]);
    expect(parse(["--context", "prod"], { ...HOME, JUNO_CONTEXT: "dev" }, reader).urls[0]).toBe(
      "http://prod-1:8080",
    );
  });

  it("use the top level when no context is current", () => {
    const plain = files({
      [HOME_FILE]: JSON.stringify({ nodes: ["top:1"], contexts: { a: { nodes: ["a:1"] } } }),
    });
    expect(parse([], HOME, plain).urls).toEqual(["http://top:1"]);
    expect(parse(["--context", "a"], HOME, plain).urls).toEqual(["http://a:1"]);
  });

  it("refuse a context the file does not define, naming the file and those it does", () => {
    const unknown = refusal(["--context", "staging"], HOME, reader);
    expect(unknown.code).toBe("unknown_context");
    expect(unknown.message).toContain(HOME_FILE);
    expect(unknown.message).toContain("it defines prod, dev");
    expect(refusal([], { ...HOME, JUNO_CONTEXT: "staging" }, reader).message).toMatch(/^JUNO_CONTEXT names/);
    expect(refusal(["--context", "prod"], HOME, files({})).code).toBe("unknown_context");
    expect(refusal(["--context", "prod"], {}, files({})).code).toBe("unknown_context");
    expect(refusal(["--context", "bad name"], HOME, reader).code).toBe("unexpected_argument");
  });

  it("are data: names like constructor are contexts like any other, never inherited", () => {
    const odd = files({
      [HOME_FILE]: '{"contexts": {"constructor": {"nodes": ["c:1"]}, "hasOwnProperty": {"nodes": ["h:1"]}}}',
    });
    expect(parse(["--context", "constructor"], HOME, odd).urls).toEqual(["http://c:1"]);
    expect(parse(["--context", "hasOwnProperty"], HOME, odd).urls).toEqual(["http://h:1"]);
    expect(refusal(["--context", "toString"], HOME, odd).code).toBe("unknown_context");
    // A key JSON.parse keeps as an own property is refused as a name, not taken as the prototype.
    const proto = files({ [HOME_FILE]: '{"contexts": {"__proto__": {"nodes": ["p:1"]}}}' });
    expect(refusal(["--context", "x"], HOME, proto).message).toContain('"__proto__" is not a context name');
  });
});

describe("a bad config file", () => {
  /** The refusal of a file with this text, as the default file. */
  function bad(text: string): CliError {
    const error = refusal([], HOME, files({ [HOME_FILE]: text }));
    if (error instanceof ConfigError) throw new Error(`a flag error: ${error.message}`);
    expect(error.code).toBe("bad_config_file");
    expect(error.source).toBe(HOME_FILE);
    expect(error.message.startsWith(`config file ${HOME_FILE}: `)).toBe(true);
    return error;
  }

  it.each([
    ["{ nope", /is not JSON: .* at line 1, column 3$/],
    ["[]", /expected a JSON object \(\{...\}\), got a list/],
    [
      '{"node": ["a:1"]}',
      /unknown key "node" \(a config file has nodes, token, timeout, ca, cert, key, current, contexts\)/,
    ],
    ['{"nodes": 5}', /nodes: expected a list of nodes as strings/],
    ['{"nodes": []}', /nodes: expected a list of nodes/],
    ['{"nodes": ["ftp://a"]}', /nodes: expected http:\/\/host:port/],
    ['{"timeout": 0}', /timeout: expected 0.1..600 s/],
    ['{"timeout": true}', /timeout: expected seconds, got a boolean/],
    ['{"contexts": []}', /contexts: expected an object of named contexts, got a list/],
    ['{"contexts": {"a": 1}}', /contexts.a: expected an object, got a number/],
    ['{"contexts": {"a": {"current": "a"}}}', /contexts.a: unknown key "current"/],
    ['{"contexts": {"a b": {}}}', /contexts: "a b" is not a context name/],
    ['{"contexts": {"a": {"nodes": ["x"]}}}', /contexts.a.nodes: expected a node/],
    [
      '{"current": "b", "contexts": {"a": {}}}',
      /current: expected the name of one of its contexts, got "b"; it defines a/,
    ],
  ])("%s is refused: %s", (text, problem) => {
    expect(bad(text).message).toMatch(problem);
  });

  it("never quotes the token, whatever is wrong with it", () => {
    for (const text of ['{"token": "open sesame"}', '{"token": s3cr3t-value}', '{"token": 12345678}']) {
      const message = bad(text).message;
      expect(message).not.toContain("sesame");
      expect(message).not.toContain("s3cr3t");
      expect(message).not.toContain("12345678");
    }
  });

  it("every code the CLI gives is catalogued", () => {
    expect(Object.keys(CLI_ERROR_CODES)).toContain(bad("{").code);
  });
});

describe("help", () => {
  it("lists the shared options once, under their own heading, within 100 columns", () => {
    const help = clientCommandHelpText(EXAMPLE);
    expect(help.startsWith("usage: juno example ls [flags]\n")).toBe(true);
    expect(help).toContain("\nFlags:\n  --team <file>");
    for (const option of Object.values(CLIENT_OPTIONS)) {
      expect(help.split(`\n  ${option.flag}`).length - 1, option.flag).toBe(1);
      if (option.env !== null) expect(help).toContain(`${option.env}=<`);
    }
    expect(help.split("Client options").length - 1).toBe(1);
    expect(help).toContain("Exit codes: 0 done; 1");
    for (const line of [...help.split("\n"), ...clientOptionsHelp()]) {
      expect(line.length, line).toBeLessThanOrEqual(100);
    }
  });

  it("asks for JSON when --json is anywhere in the arguments, even refused ones", () => {
    expect(wantsJson(["ls", "--bogus", "--json"])).toBe(true);
    expect(wantsJson(["ls", "--json=false"])).toBe(false);
  });
});

describe("juno members", () => {
  function members(argv: readonly string[]): MembersCommand {
    const parsed = parseMembersCommand(argv, {});
    if (parsed instanceof Error) throw new Error(`${parsed.code}: ${parsed.message}`);
    return parsed;
  }

  it("parses ls, add with its addresses and wait, rm and transfer", () => {
    expect(members(["ls", "--json"])).toMatchObject({ action: "ls", json: true });
    expect(members(["add", "n4", "--raft", "10.0.0.4:9090", "--http=10.0.0.4:8080", "--wait"])).toMatchObject(
      {
        action: "add",
        id: "n4",
        raft: { host: "10.0.0.4", port: 9090 },
        http: { host: "10.0.0.4", port: 8080 },
        waitMs: 120_000,
        connection: { urls: ["http://127.0.0.1:8080"] },
      },
    );
    expect(members(["rm", "n4"])).toMatchObject({ action: "rm", id: "n4" });
    expect(members(["transfer", "n2", "--wait", "--wait-timeout", "5"])).toMatchObject({
      id: "n2",
      waitMs: 5_000,
    });
  });

  it("refuses with stable codes: a missing --raft or id, a bad id, a wildcard address", () => {
    const code = (argv: readonly string[]): string => (parseMembersCommand(argv, {}) as ConfigError).code;
    expect(code([])).toBe("missing_required");
    expect(code(["join"])).toBe("unexpected_argument");
    expect(code(["add", "n4"])).toBe("missing_required");
    expect(code(["add", "--raft", "a:1"])).toBe("missing_required");
    expect(code(["add", "n 4", "--raft", "a:1"])).toBe("malformed_id");
    expect(code(["add", "n4", "--raft", "0.0.0.0:9090"])).toBe("malformed_address");
    expect(code(["rm", "n4", "--raft", "a:1"])).toBe("unknown_flag");
  });

  it("has help with every action, and --http of add as the member's address", () => {
    const all = membersHelpText([]);
    for (const action of ["ls", "add <id>", "rm <id>", "transfer <id>"]) expect(all).toContain(`  ${action}`);
    const add = membersHelpText(["add"]);
    expect(add).toContain("usage: juno members add <id> [flags]");
    for (const option of Object.values(MEMBERS_ADD_COMMAND.options)) expect(add).toContain(option.flag);
  });
});
