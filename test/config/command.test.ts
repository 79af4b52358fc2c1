// Proves that `juno dev` and `juno status` (its own options; the shared client ones are tested in client-options.test.ts) declare their options as tables that parse by `juno start`'s rules (both flag forms, switches that never take the next word, flag over variable over default, the same stable error codes) and get help generated from the table, and that no CLI command parses arguments with node:util.

import { readFileSync, readdirSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CONFIG_ERROR_CODES,
  ConfigError,
  DEV_COMMAND,
  DEV_NODES_MAX,
  RESERVED_PREFIX,
  STATUS_COMMAND,
  checkExposure,
  commandHelpText,
  defineCommand,
  devNodeArguments,
  parseCommand,
  parseNodeConfig,
  refusalText,
  type CommandOptions,
  type CommandSpec,
  type CommandValues,
  type DevNode,
  type Environment,
} from "../../src/config/index.js";
import { booleanCodec, integerCodec, textCodec } from "../../src/config/codecs.js";
import { parseStatusCommand, type StatusCommand } from "../../src/config/status-command.js";
import { Invalid } from "../../src/config/errors.js";

/** The values `argv` and `env` parse to, failing the test on a refusal. */
function parse<O extends CommandOptions>(
  command: CommandSpec<O>,
  argv: readonly string[],
  env: Environment = {},
): CommandValues<O> {
  const values = parseCommand(command, argv, env);
  if (values instanceof ConfigError) throw new Error(`${values.code}: ${values.message}`);
  return values;
}

/** The refusal of `argv` and `env`, failing the test when they are accepted. */
function refusal(command: CommandSpec, argv: readonly string[], env: Environment = {}): ConfigError {
  const values = parseCommand(command, argv, env);
  if (!(values instanceof ConfigError)) throw new Error(`accepted: ${JSON.stringify(values)}`);
  return values;
}

/** A table with one option of each kind, to test the rules apart from any real subcommand. */
const EXAMPLE = defineCommand({
  name: "example",
  summary: "An example subcommand.",
  options: {
    count: {
      flag: "--count",
      env: "EXAMPLE_COUNT",
      default: "2",
      unit: "items",
      meaning: "How many.",
      codec: integerCodec(1, 5, "items"),
    },
    dir: { flag: "--dir", env: null, default: "./x", meaning: "Where.", codec: textCodec },
    verbose: {
      flag: "--verbose",
      env: "EXAMPLE_VERBOSE",
      default: "false",
      meaning: "Say more.",
      codec: booleanCodec,
    },
    label: {
      flag: "--label",
      env: null,
      default: { derived: "none" },
      meaning: "A name.",
      reserved: "labels (issue 99)",
      codec: textCodec,
    },
  },
});

const COMMANDS: readonly CommandSpec[] = [DEV_COMMAND, STATUS_COMMAND, EXAMPLE];

describe.each(COMMANDS.map((command) => [command.name, command] as const))("the %s table", (_, command) => {
  const options = Object.values(command.options);

  it("gives every option a flag or a variable, each flag once, and a default its own codec accepts", () => {
    for (const option of options) {
      expect(option.flag !== null || option.env !== null).toBe(true);
      if (typeof option.default === "string")
        expect(option.codec.parse(option.default)).not.toBeInstanceOf(Invalid);
    }
    const flags = options.flatMap((option) => (option.flag === null ? [] : [option.flag]));
    expect(new Set(flags).size).toBe(flags.length);
  });

  it("parses nothing to the defaults, a derived default to null", () => {
    const values = parse(command, []) as Record<string, unknown>;
    for (const [name, option] of Object.entries(command.options)) {
      const expected = typeof option.default === "string" ? option.codec.parse(option.default) : null;
      expect(values[name], name).toEqual(expected);
    }
  });

  it("refuses an unknown flag, a stray word and a bare '--', naming its own --help", () => {
    const unknown = refusal(command, ["--bogus"]);
    expect(unknown.code).toBe("unknown_flag");
    expect(unknown.message).toContain(`juno ${command.name} --help`);
    expect(refusal(command, ["stray"]).code).toBe("unexpected_argument");
    expect(refusal(command, ["-x"]).code).toBe("unexpected_argument");
    expect(refusal(command, ["--"]).code).toBe("unknown_flag");
  });

  it("takes each flag as --flag value and as --flag=value alike, and refuses it given twice or without a value", () => {
    for (const option of options) {
      if (option.flag === null || typeof option.default !== "string") continue;
      const flag = option.flag;
      const text = option.default;
      expect(parse(command, [`${flag}=${text}`])).toEqual(parse(command, []));
      if (option.codec !== booleanCodec) {
        expect(parse(command, [flag, text])).toEqual(parse(command, []));
        expect(refusal(command, [flag]).code).toBe("missing_value");
        expect(refusal(command, [`${flag}=`]).code).toBe("missing_value");
        expect(refusal(command, [flag, "--other"]).code).toBe("missing_value");
      }
      const twice = refusal(command, [`${flag}=${text}`, `${flag}=${text}`]);
      expect([twice.code, twice.source]).toEqual(["duplicate_flag", flag]);
    }
  });

  it("gives secrets no flag, so they stay out of process listings", () => {
    for (const option of options.filter((candidate) => candidate.codec.placeholder === "secret")) {
      expect(option.flag, option.env ?? "").toBeNull();
    }
  });

  it("has help that names every flag, variable and default, fits in 100 columns, and marks reserved options", () => {
    const help = commandHelpText(command);
    const flat = help.replace(/\s+/g, " ");
    expect(help.startsWith(`usage: juno ${command.name} [flags]\n`)).toBe(true);
    for (const option of options) {
      if (option.flag !== null) expect(help).toContain(option.flag);
      if (option.env !== null) expect(help).toContain(`${option.env}=<`);
      const shown = typeof option.default === "string" ? option.default : option.default.derived;
      expect(flat).toContain(`Default: ${shown}`);
      const reserved = option.reserved ?? null;
      if (reserved !== null) expect(flat).toContain(`${RESERVED_PREFIX} ${reserved}. ${option.meaning}`);
    }
    if (options.every((option) => (option.reserved ?? null) === null)) expect(help).not.toContain("Reserved");
    for (const line of help.split("\n")) expect(line.length, line).toBeLessThanOrEqual(100);
  });

  it("never throws on any input; every refusal carries a catalogued code", () => {
    const flags = options.flatMap((option) => (option.flag === null ? [] : [option.flag]));
    const word = fc.oneof(
      fc.string(),
      fc.constantFrom(...flags),
      fc.constantFrom(...flags.map((flag) => `${flag}=`)),
      fc.constantFrom("--", "-", "=", "--=", "true", "0", "[::1]:", "0.0.0.0:0"),
    );
    const variables = options.flatMap((option) => (option.env === null ? [] : [option.env]));
    const env = fc.dictionary(fc.constantFrom("UNRELATED", ...variables), fc.string());
    fc.assert(
      fc.property(fc.array(word, { maxLength: 6 }), env, (argv, environment) => {
        const result = parseCommand(command, argv, environment);
        if (result instanceof ConfigError) expect(Object.keys(CONFIG_ERROR_CODES)).toContain(result.code);
      }),
      { seed: 20_250_603, numRuns: 500 },
    );
  });
});

describe("the rules every table shares", () => {
  it("a flag wins over its variable, a variable over the default; an empty or blank variable is unset", () => {
    expect(parse(EXAMPLE, [], { EXAMPLE_COUNT: "4" }).count).toBe(4);
    expect(parse(EXAMPLE, ["--count", "3"], { EXAMPLE_COUNT: "4" }).count).toBe(3);
    expect(parse(EXAMPLE, [], { EXAMPLE_COUNT: "" }).count).toBe(2);
    expect(parse(EXAMPLE, [], { EXAMPLE_COUNT: "  " }).count).toBe(2);
    expect(parse(EXAMPLE, [], { EXAMPLE_COUNT: " 5 " }).count).toBe(5);
  });

  it("a refused value is blamed on the flag when given by flag, else on the variable", () => {
    expect(refusal(EXAMPLE, ["--count", "9"], { EXAMPLE_COUNT: "1" }).source).toBe("--count");
    const fromEnv = refusal(EXAMPLE, [], { EXAMPLE_COUNT: "many" });
    expect([fromEnv.code, fromEnv.source]).toEqual(["not_a_number", "EXAMPLE_COUNT"]);
    expect(fromEnv.message).toContain("EXAMPLE_COUNT");
  });

  it("a switch alone means true, never takes the next word, and takes a value only after '='", () => {
    expect(parse(EXAMPLE, ["--verbose"]).verbose).toBe(true);
    expect(parse(EXAMPLE, ["--verbose=false"], { EXAMPLE_VERBOSE: "true" }).verbose).toBe(false);
    const stray = refusal(EXAMPLE, ["--verbose", "false"]);
    expect([stray.code, stray.source]).toEqual(["unexpected_argument", "false"]);
    expect(stray.message).toContain("write --verbose=false");
    expect(refusal(EXAMPLE, ["--verbose=maybe"]).code).toBe("not_a_boolean");
  });

  it("a value that starts with '--' is accepted only after '='", () => {
    expect(parse(EXAMPLE, ["--dir=--odd"]).dir).toBe("--odd");
    expect(refusal(EXAMPLE, ["--dir", "--odd"]).code).toBe("missing_value");
  });

  it("an option whose default is derived is null until given", () => {
    expect(parse(EXAMPLE, []).label).toBeNull();
    expect(parse(EXAMPLE, ["--label", "blue"]).label).toBe("blue");
  });

  it("a table naming one flag twice is a bug, and says so", () => {
    const broken = defineCommand({
      name: "broken",
      summary: "Two rows with one flag.",
      options: {
        a: { flag: "--same", env: null, default: "x", meaning: "A.", codec: textCodec },
        b: { flag: "--same", env: null, default: "y", meaning: "B.", codec: textCodec },
      },
    });
    expect(() => parseCommand(broken, [], {})).toThrow("--same");
  });

  it("a refusal prints as `juno <command>: error [code]: message`", () => {
    expect(refusalText("dev", refusal(DEV_COMMAND, ["--nodes", "0"]))).toBe(
      'juno dev: error [out_of_range]: --nodes: expected 1..9 nodes, got "0"\n',
    );
  });
});

describe("juno dev", () => {
  it("starts 3 nodes under ./data/dev unless told otherwise", () => {
    expect(parse(DEV_COMMAND, [])).toEqual({
      nodes: 3,
      dataDir: "./data/dev",
      tls: false,
      apiToken: null,
      clusterSecret: null,
    });
    expect(parse(DEV_COMMAND, ["--nodes", "5", "--data-dir=/tmp/juno"])).toMatchObject({
      nodes: 5,
      dataDir: "/tmp/juno",
    });
  });

  it.each([
    ["0", "out_of_range"],
    [String(DEV_NODES_MAX + 1), "out_of_range"],
    ["three", "not_a_number"],
    ["2.5", "not_a_number"],
    ["-1", "not_a_number"],
  ])("refuses --nodes %s with %s", (text, code) => {
    expect(refusal(DEV_COMMAND, ["--nodes", text]).code).toBe(code);
  });

  it("accepts every count from 1 to 9", () => {
    for (let count = 1; count <= DEV_NODES_MAX; count++) {
      expect(parse(DEV_COMMAND, [`--nodes=${count}`]).nodes).toBe(count);
    }
  });

  it("takes the token and cluster secret from the environment only, and checks them as a node would", () => {
    const values = parse(DEV_COMMAND, [], {
      JUNO_API_TOKEN: "tok-123",
      JUNO_CLUSTER_SECRET: "0123456789abcdef",
    });
    expect(values.apiToken?.reveal()).toBe("tok-123");
    expect(values.clusterSecret?.reveal()).toBe("0123456789abcdef");
    // A secret every node would refuse is refused once, here, instead of by each node as it starts.
    const short = refusal(DEV_COMMAND, [], { JUNO_CLUSTER_SECRET: "short-secret" });
    expect([short.code, short.source]).toEqual(["malformed_secret", "JUNO_CLUSTER_SECRET"]);
    expect(short.message).not.toContain("short-secret");
    expect(refusal(DEV_COMMAND, ["--api-token", "x"]).code).toBe("unknown_flag");
  });

  it("gives each node arguments juno start accepts: loopback, one cluster, readable logs", () => {
    const cluster: DevNode[] = [
      { id: "n1", httpPort: 41001, raftPort: 42001 },
      { id: "n2", httpPort: 41002, raftPort: 42002 },
      { id: "n3", httpPort: 41003, raftPort: 42003 },
    ];
    for (const node of cluster) {
      const argv = devNodeArguments(node, cluster, "./data/dev/");
      const config = parseNodeConfig(argv, { JUNO_API_TOKEN: "t", JUNO_CLUSTER_SECRET: "s".repeat(16) });
      if (config instanceof ConfigError) throw new Error(`${config.code}: ${config.message}`);
      expect(config).toMatchObject({
        id: node.id,
        dataDir: `./data/dev/${node.id}`,
        httpAddress: { host: "127.0.0.1", port: node.httpPort },
        raftAddress: { host: "127.0.0.1", port: node.raftPort },
        logLevel: "info",
        logFormat: "pretty",
      });
      expect(config.peers.map((peer) => peer.raftAddress.port)).toEqual([42001, 42002, 42003]);
      expect(checkExposure(config)).toBeNull();
      // Secrets travel in the environment, never the argument list.
      expect(argv.join(" ")).not.toContain("s".repeat(16));
    }
  });
});

describe("juno status", () => {
  /** The parsed command, failing the test on a refusal. */
  function status(argv: readonly string[], env: Environment = {}): StatusCommand {
    const command = parseStatusCommand(argv, env);
    if (command instanceof Error) throw new Error(`${command.code}: ${command.message}`);
    return command;
  }

  it("asks 127.0.0.1:8080 for a table and the summary, with no token, unless told otherwise", () => {
    expect(status([])).toEqual({
      connection: { urls: ["http://127.0.0.1:8080"], token: null, timeoutMs: 10_000, origin: "the default" },
      json: false,
      quiet: false,
      clusterOnly: false,
      waitMs: null,
    });
    expect(status(["--cluster-only", "--wait", "--wait-timeout", "5"])).toMatchObject({
      clusterOnly: true,
      waitMs: 5_000,
    });
  });

  it("still reads its old --http host:port, IPv6 in brackets, a wildcard meaning this machine", () => {
    expect(status(["--http", "10.0.0.5:8081"]).connection.urls).toEqual(["http://10.0.0.5:8081"]);
    expect(status(["--http=[::1]:8082"]).connection.urls).toEqual(["http://[::1]:8082"]);
    expect(status(["--http", "0.0.0.0:8080"]).connection.urls).toEqual(["http://127.0.0.1:8080"]);
    const bad = parseStatusCommand(["--http", "8080"], {}) as ConfigError;
    expect([bad.code, bad.source]).toEqual(["malformed_url", "--nodes"]);
    expect(bad.message).toContain("host:port");
  });

  it("--json is a switch", () => {
    expect(status(["--json"]).json).toBe(true);
    expect(status(["--json=false"]).json).toBe(false);
    expect((parseStatusCommand(["--json", "false"], {}) as ConfigError).message).toContain("--json=false");
  });

  it("takes the token from --token or JUNO_API_TOKEN; an empty one is no token, a malformed one is refused unquoted", () => {
    expect(status([], { JUNO_API_TOKEN: "tok-9" }).connection.token?.reveal()).toBe("tok-9");
    expect(status(["--token", "tok-1"], { JUNO_API_TOKEN: "tok-9" }).connection.token?.reveal()).toBe(
      "tok-1",
    );
    expect(status([], { JUNO_API_TOKEN: "" }).connection.token).toBeNull();
    const bad = parseStatusCommand([], { JUNO_API_TOKEN: "two words" }) as ConfigError;
    expect([bad.code, bad.source]).toEqual(["malformed_secret", "JUNO_API_TOKEN"]);
    expect(bad.message).not.toContain("two words");
  });
});

describe("the CLI", () => {
  it("parses no subcommand's arguments with node:util", () => {
    const directory = new URL("../../src/cli/", import.meta.url);
    const files = readdirSync(directory).filter((name) => name.endsWith(".ts"));
    expect(files).toContain("dev.ts");
    for (const name of files) {
      expect(readFileSync(new URL(name, directory), "utf8"), name).not.toMatch(/["']node:util["']/);
    }
  });
});
