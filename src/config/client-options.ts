/**
 * The options every client command shares (`juno status | members | agents | tasks |
 * workflows`): which nodes to ask, with what token and timeout, from which config file and
 * context, and how to print. Each setting is read, first found wins, from its flag, its variable,
 * the config file (the context chosen, then the file's top level), and the default:
 *
 *   nodes    --nodes (--url, --urls; --http for status)  JUNO_NODES, JUNO_URL  "nodes"    http://127.0.0.1:8080
 *   token    --token                                     JUNO_API_TOKEN        "token"    none
 *   timeout  --timeout                                   JUNO_TIMEOUT          "timeout"  10 s
 *   ca       --ca                                        JUNO_CA_FILE          "ca"       the system's CAs
 *   cert     --cert                                      JUNO_CLIENT_CERT      "cert"     none
 *   key      --key                                       JUNO_CLIENT_KEY       "key"      none
 *
 * --nodes and its aliases may be repeated; every value is one list. The config file is read only
 * when a flag or variable leaves one of these unset, or a context is asked for, so a broken file
 * never stands in the way of a command that names everything itself.
 */

import { type CliError } from "./cli-errors.js";
import {
  NO_CONFIG_FILES,
  configFileLocation,
  isContextName,
  loadConfigFile,
  timeoutCodec,
  type ConfigFileReader,
  type LoadedConfig,
} from "./client-file.js";
import { booleanCodec, secretCodec, textCodec, type Codec } from "./codecs.js";
import {
  defineCommand,
  parseCommand,
  type CommandOptions,
  type CommandSpec,
  type CommandValues,
} from "./command.js";
import { ConfigError, Invalid, quote } from "./errors.js";
import { DEFAULT_NODES, nodeListCodec } from "./node-list.js";
import { readOptionValue, type Environment } from "./option-spec.js";
import { resolveClientTls, type ClientTlsFiles } from "./client-tls.js";
import type { Secret } from "./secret.js";

export type { ConfigFileReader } from "./client-file.js";

/** The per-request timeout when nothing sets one: the SDK's own. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** A refusal of a client command's settings: a flag or variable (ConfigError) or the config file (CliError). */
export type UsageError = ConfigError | CliError;

/** A context's name. */
const contextCodec: Codec<string> = {
  placeholder: "name",
  parse: (text) =>
    isContextName(text)
      ? text
      : new Invalid(
          "unexpected_argument",
          `expected a context name (letters, digits and . _ - : @ /), got ${quote(text)}`,
        ),
  format: (value) => value,
};

/** The shared options, as one table: help prints them once, under their own heading. */
export const CLIENT_OPTIONS = {
  nodes: {
    flag: "--nodes",
    env: "JUNO_NODES",
    default: { derived: `the config file's nodes, else ${DEFAULT_NODES}` },
    meaning:
      "The juno nodes to ask, as http://host:port, https://host:port or host:port, comma-separated; " +
      "the command fails over between them. Repeatable. --url and --urls are the same flag, and " +
      "JUNO_URL the same variable (read when JUNO_NODES is unset).",
    codec: nodeListCodec,
  },
  token: {
    flag: "--token",
    env: "JUNO_API_TOKEN",
    default: { derived: "the config file's token, else none" },
    // The storage URL sets the precedent: a flag is allowed, the variable is the safe way.
    meaning:
      "Bearer token sent with every request: the cluster's JUNO_API_TOKEN, or a scoped token (juno tokens create). Prefer the variable or " +
      "the config file; a flag shows in process listings. Never printed.",
    codec: secretCodec(1),
  },
  timeoutMs: {
    flag: "--timeout",
    env: "JUNO_TIMEOUT",
    unit: "s",
    default: { derived: `the config file's timeout, else ${DEFAULT_TIMEOUT_MS / 1000} s` },
    meaning:
      "How long one request may wait for a node's answer before the command tries the next node " +
      "(it tries a few times in all).",
    codec: timeoutCodec,
  },
  caFile: {
    flag: "--ca",
    env: "JUNO_CA_FILE",
    default: { derived: "the config file's ca, else the system's CAs" },
    meaning:
      "PEM file of the CA that issued the nodes' HTTPS certificates (juno dev --tls prints it): " +
      "https:// nodes are trusted only if their certificate verifies against it.",
    codec: { ...textCodec, placeholder: "file" },
  },
  certFile: {
    flag: "--cert",
    env: "JUNO_CLIENT_CERT",
    default: { derived: "the config file's cert, else none" },
    meaning:
      "PEM file of a client certificate to present to nodes that ask for one (--tls-client-ca); with --key.",
    codec: { ...textCodec, placeholder: "file" },
  },
  keyFile: {
    flag: "--key",
    env: "JUNO_CLIENT_KEY",
    default: { derived: "the config file's key, else none" },
    meaning: "PEM file of the private key of --cert.",
    codec: { ...textCodec, placeholder: "file" },
  },
  context: {
    flag: "--context",
    env: "JUNO_CONTEXT",
    default: { derived: "the config file's current context, else its top level" },
    meaning: "The named context of the config file to take nodes, token, timeout and TLS files from.",
    codec: contextCodec,
  },
  config: {
    flag: "--config",
    env: "JUNO_CONFIG",
    default: {
      derived: "$XDG_CONFIG_HOME/juno/config.json, else ~/.config/juno/config.json (may be absent)",
    },
    meaning:
      'The client config file: JSON, {"nodes": [...], "token": "...", "timeout": 10}, or named ' +
      'contexts, {"current": "prod", "contexts": {"prod": {...}}}. One named here must exist.',
    codec: { ...textCodec, placeholder: "file" },
  },
  json: {
    flag: "--json",
    env: null,
    default: "false",
    meaning:
      "Print machine-readable output on stdout: one JSON document (a line of JSON per update for " +
      'watches), and errors as {"error": {"code", "message"}} on stderr. No progress lines.',
    codec: booleanCodec,
  },
  quiet: {
    flag: "--quiet",
    env: null,
    default: "false",
    meaning: "No progress lines and hints on stderr, even on a terminal; errors are still printed.",
    codec: booleanCodec,
  },
} as const;

/** Where and how a client command connects. */
export interface ClientConnection {
  /** Base URLs, the first tried first. */
  readonly urls: readonly string[];
  readonly token: Secret | null;
  /** How long one attempt may take. */
  readonly timeoutMs: number;
  /** Where the node list came from, for messages: "--nodes", "JUNO_NODES", a file and context, "the default". */
  readonly origin: string;
  /** What HTTPS trusts and presents, PEM text; absent or null: the system's CAs and no client certificate. */
  readonly tls?: ClientTlsFiles | null;
}

export type { ClientTlsFiles } from "./client-tls.js";

/** What every parsed client command carries besides its own settings. */
export interface ClientSettings {
  readonly connection: ClientConnection;
  readonly json: boolean;
  readonly quiet: boolean;
}

/** A parsed client command: its own option values, and the shared settings. */
export interface ParsedClientCommand<O extends CommandOptions> extends ClientSettings {
  readonly values: CommandValues<O>;
}

/** How parseClientCommand reads: the config file reader, and extra spellings of --nodes. */
export interface ClientParseOptions {
  /** Reads the config file; by default none is found (the CLI hands over the disk's reader). */
  readonly readFile?: ConfigFileReader;
  /** Flags that mean --nodes for this command only (`juno status --http`, its old flag). */
  readonly nodeAliases?: readonly `--${string}`[];
}

/** The flags that mean --nodes in every client command. */
const NODE_FLAGS: readonly string[] = ["--nodes", "--url", "--urls"];

/** The shared options' table, for help: a command of these options alone. */
export const CLIENT_COMMAND = defineCommand({
  name: "<command>",
  summary: "The options every client command takes.",
  options: CLIENT_OPTIONS,
});

/**
 * Parses a client command's flags (the words after its action and positional arguments) and the
 * environment: its own options by its table, the shared ones by CLIENT_OPTIONS, then the node
 * list, token and timeout from the config file where flags and variables left them unset.
 * Reads nothing but its arguments and the config file the environment points at.
 */
export function parseClientCommand<O extends CommandOptions>(
  command: CommandSpec<O>,
  argv: readonly string[],
  env: Environment,
  options: ClientParseOptions = {},
): ParsedClientCommand<O> | UsageError {
  for (const name of Object.keys(command.options)) {
    // A clash is a bug in the command's table, not a user error.
    if (Object.hasOwn(CLIENT_OPTIONS, name))
      throw new Error(`${command.name} redefines the shared option ${name}`);
  }
  const gathered = gatherNodeFlags(argv, [...NODE_FLAGS, ...(options.nodeAliases ?? [])]);
  if (gathered instanceof ConfigError) return gathered;
  const merged = defineCommand({ ...command, options: { ...CLIENT_OPTIONS, ...command.options } });
  const values = parseCommand(merged, gathered.argv, env);
  if (values instanceof ConfigError) return values;
  // The merged values hold the shared names and the command's own, each parsed by its own row.
  const shared = values as unknown as SharedValues;
  const connection = resolveConnection(shared, gathered.given, env, options.readFile ?? NO_CONFIG_FILES);
  if (connection instanceof Error) return connection;
  return {
    values: values as unknown as CommandValues<O>,
    connection,
    json: shared.json,
    quiet: shared.quiet,
  };
}

/** The shared values as the table parsed them. */
type SharedValues = CommandValues<typeof CLIENT_OPTIONS>;

/**
 * Nodes, token and timeout by precedence: the flag or variable the table read, JUNO_URL for the
 * nodes, then the config file, then the default.
 */
function resolveConnection(
  values: SharedValues,
  nodesByFlag: boolean,
  env: Environment,
  readFile: ConfigFileReader,
): ClientConnection | UsageError {
  let nodes = values.nodes;
  let origin = nodesByFlag ? "--nodes" : "JUNO_NODES";
  if (nodes === null) {
    const fromUrl = readOptionValue({ ...CLIENT_OPTIONS.nodes, env: "JUNO_URL" }, undefined, env);
    if (fromUrl instanceof ConfigError) return fromUrl;
    nodes = fromUrl ?? null;
    origin = "JUNO_URL";
  }
  let file: LoadedConfig | null = null;
  // The file may hold the CA that https:// nodes need, so it is read for them too.
  const wantsCa = values.caFile === null && (nodes === null || nodes.some((url) => url.startsWith("https:")));
  if (
    nodes === null ||
    values.token === null ||
    values.timeoutMs === null ||
    values.context !== null ||
    wantsCa
  ) {
    const choice =
      values.context === null ? null : { name: values.context, source: contextSource(values.context, env) };
    const loaded = loadConfigFile(configFileLocation(values.config, env), choice, readFile);
    if (loaded instanceof Error) return loaded;
    file = loaded;
  }
  if (nodes === null && file?.settings.nodes != null) {
    nodes = file.settings.nodes;
    origin = file.context === null ? file.path : `${file.path} (context ${file.context})`;
  }
  if (nodes === null) {
    nodes = [DEFAULT_NODES];
    origin = "the default";
  }
  const tls = resolveClientTls(
    { ca: values.caFile, cert: values.certFile, key: values.keyFile },
    file,
    readFile,
  );
  if (tls instanceof Error) return tls;
  return {
    urls: nodes,
    token: values.token ?? file?.settings.token ?? null,
    timeoutMs: values.timeoutMs ?? file?.settings.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    origin,
    ...(tls === null ? {} : { tls }),
  };
}

/** Which of --context and JUNO_CONTEXT gave the context, for messages. */
function contextSource(name: string, env: Environment): string {
  return env["JUNO_CONTEXT"]?.trim() === name ? "JUNO_CONTEXT" : "--context";
}

/**
 * Every --nodes, --url and --urls (and the command's own aliases) gathered into one `--nodes=a,b`,
 * so that the table's reader, which refuses a flag given twice, sees it once. `given` says
 * whether any was there.
 */
export function gatherNodeFlags(
  argv: readonly string[],
  flags: readonly string[],
): { readonly argv: readonly string[]; readonly given: boolean } | ConfigError {
  const nodes: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? "";
    const equals = word.indexOf("=");
    const flag = equals < 0 ? word : word.slice(0, equals);
    if (!flags.includes(flag)) {
      rest.push(word);
      continue;
    }
    const value = equals >= 0 ? word.slice(equals + 1) : argv[i + 1];
    if (equals < 0) i++;
    if (value === undefined || value.trim() === "" || (equals < 0 && value.startsWith("--"))) {
      return new ConfigError("missing_value", flag, `${flag} needs a value: ${flag} <node,...>`);
    }
    nodes.push(value);
  }
  if (nodes.length > 0) rest.push(`--nodes=${nodes.join(",")}`);
  return { argv: rest, given: nodes.length > 0 };
}

/** Whether the arguments ask for JSON, read before parsing so that even a refusal of them is JSON. */
export function wantsJson(argv: readonly string[]): boolean {
  return argv.some((word) => word === "--json" || word === "--json=true" || word === "--json=1");
}

/**
 * The words before the flags, one per name in `names` (`<id>`, `<name>`), each non-empty and at
 * most `lengthMax` characters; the rest are the flags.
 */
export function positionalWords(
  argv: readonly string[],
  names: readonly string[],
  command: string,
  usage: string,
  lengthMax: number,
): { readonly values: readonly string[]; readonly flags: readonly string[] } | ConfigError {
  const values = argv.slice(0, names.length);
  for (const [index, name] of names.entries()) {
    const word = values[index];
    if (word === undefined || word.startsWith("--")) {
      return new ConfigError("missing_required", name, `${command} needs ${names.join(" ")}: ${usage}`);
    }
    if (word.trim() === "" || word.length > lengthMax) {
      return new ConfigError("out_of_range", name, `expected ${name} of 1..${lengthMax} characters`);
    }
  }
  return { values, flags: argv.slice(names.length) };
}

/** The shared settings of a parsed command, without its own values. */
export function sharedSettings(parsed: ClientSettings): ClientSettings {
  return { connection: parsed.connection, json: parsed.json, quiet: parsed.quiet };
}
