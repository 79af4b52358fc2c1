/**
 * The client config file: where it is, what it may hold, and the settings of the context it
 * chooses. It is JSON, either the settings themselves
 *
 *     {"nodes": ["http://10.0.0.1:8080", "10.0.0.2:8080"], "token": "...", "timeout": 10}
 *
 * (with "ca", "cert" and "key" naming PEM files for HTTPS: the CA to trust, a client certificate
 * and its key; relative paths are from the file's own directory)
 *
 * or named contexts, one of them current (a context's settings win over the top level's):
 *
 *     {"current": "prod", "contexts": {"prod": {"nodes": [...], "token": "..."}, "dev": {...}}}
 *
 * It is found at --config, else JUNO_CONFIG, else $XDG_CONFIG_HOME/juno/config.json, else
 * $HOME/.config/juno/config.json. A file named by --config or JUNO_CONFIG must exist; the
 * default one may be absent. Every refusal names the file and the key at fault, and never quotes
 * a token. Like all of src/config this is pure: the file is read by the reader it is handed
 * (src/cli/config-file.ts reads the disk).
 */

import { CliError } from "./cli-errors.js";
import { secondsCodec, secretCodec } from "./codecs.js";
import { Invalid, quote } from "./errors.js";
import { nodeListCodec } from "./node-list.js";
import type { Environment } from "./option-spec.js";
import type { Secret } from "./secret.js";

/** The largest config file read; a real one is a few hundred bytes. */
export const CONFIG_FILE_BYTES_MAX = 1024 * 1024;

/** The most contexts one file may define. */
export const CONTEXTS_MAX = 100;

/** The per-request timeout a file may set, as the --timeout flag takes it. */
export const timeoutCodec = secondsCodec(100, 600_000);

/** The token a file may hold, as --token takes it. */
const tokenCodec = secretCodec(1);

/** A context's name: a letter or digit, then letters, digits and . _ - : @ /, at most 100 in all. */
const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,99}$/;

/** The keys a file's top level may have, and those a context may have. */
const SETTING_KEYS = ["nodes", "token", "timeout", "ca", "cert", "key"] as const;
const TOP_KEYS = [...SETTING_KEYS, "current", "contexts"] as const;

/** Reads the file at `path`: its text, or null when there is no file there; throws on any other failure. */
export type ConfigFileReader = (path: string) => string | null;

/** The settings one file (or one of its contexts) gives; null where it gives none. */
export interface FileSettings {
  readonly nodes: readonly string[] | null;
  readonly token: Secret | null;
  readonly timeoutMs: number | null;
  /** PEM files for HTTPS, as paths the file gives (resolved against its directory). */
  readonly ca: string | null;
  readonly cert: string | null;
  readonly key: string | null;
}

/** Where the config file is looked for, and whether it must be there. */
export interface ConfigFileLocation {
  readonly path: string;
  /** True when --config or JUNO_CONFIG named it: then a missing file is an error. */
  readonly explicit: boolean;
}

/** What the file gave: its path, the context chosen (null for the top level), and its settings. */
export interface LoadedConfig {
  readonly path: string;
  readonly context: string | null;
  readonly settings: FileSettings;
}

/** The context asked for by --context or JUNO_CONTEXT, with the flag or variable that asked. */
export interface ContextChoice {
  readonly name: string;
  readonly source: string;
}

/** Whether `text` can name a context. */
export function isContextName(text: string): boolean {
  return CONTEXT_NAME.test(text);
}

/**
 * Where the config file is: `explicitPath` (from --config or JUNO_CONFIG), else under
 * XDG_CONFIG_HOME (when it is absolute, as the XDG spec asks), else under HOME; null when the
 * environment names no home. Only the environment given is read, never the real home of the
 * process, so tests stay away from the user's files.
 */
export function configFileLocation(explicitPath: string | null, env: Environment): ConfigFileLocation | null {
  if (explicitPath !== null) return { path: explicitPath, explicit: true };
  const xdg = env["XDG_CONFIG_HOME"]?.trim() ?? "";
  if (xdg !== "" && isAbsolute(xdg)) return { path: joinPath(xdg, "juno/config.json"), explicit: false };
  const home = env["HOME"]?.trim() ?? "";
  if (home !== "") return { path: joinPath(home, ".config/juno/config.json"), explicit: false };
  return null;
}

/** A reader that finds no file anywhere: what the parsers read with unless handed the disk's. */
export const NO_CONFIG_FILES: ConfigFileReader = () => null;

/** Whether a path is absolute: from the root, or (on Windows) from a drive. */
function isAbsolute(path: string): boolean {
  return path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path);
}

/** `directory` and a relative path under it, with one separator between. */
function joinPath(directory: string, relative: string): string {
  return `${directory.replace(/[\\/]+$/, "")}/${relative}`;
}

/**
 * The settings the config file gives for the context chosen: `choice` if given, else the file's
 * `current`, else the top level. Null when there is no file and none was required (no explicit
 * path, no context asked for).
 */
export function loadConfigFile(
  location: ConfigFileLocation | null,
  choice: ContextChoice | null,
  read: ConfigFileReader,
): LoadedConfig | null | CliError {
  if (location === null) {
    if (choice === null) return null;
    return new CliError(
      "unknown_context",
      choice.source,
      `${choice.source} names context ${quote(choice.name)}, but there is no config file (HOME is not set)`,
    );
  }
  const { path } = location;
  let text: string | null;
  try {
    text = read(path);
  } catch (error) {
    return bad(path, `cannot be read: ${(error as Error).message}`);
  }
  if (text === null) {
    if (location.explicit) return bad(path, "there is no such file");
    if (choice === null) return null;
    return new CliError(
      "unknown_context",
      choice.source,
      `${choice.source} names context ${quote(choice.name)}, but there is no config file at ${path}`,
    );
  }
  return parseConfigText(path, text, choice);
}

/** The settings of the chosen context in a file's text; pure. */
export function parseConfigText(
  path: string,
  text: string,
  choice: ContextChoice | null,
): LoadedConfig | CliError {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    return bad(path, `is not JSON: ${syntaxProblem(text, error as Error)}`);
  }
  if (!isObject(document)) return bad(path, `expected a JSON object ({...}), got ${kindOf(document)}`);
  const unknown = Object.keys(document).find((key) => !(TOP_KEYS as readonly string[]).includes(key));
  if (unknown !== undefined) {
    return bad(path, `unknown key ${quote(unknown)} (a config file has ${TOP_KEYS.join(", ")})`);
  }
  const top = settingsOf(path, "", document);
  if (top instanceof CliError) return top;
  const contexts = contextsOf(path, document);
  if (contexts instanceof CliError) return contexts;
  const current = field(document, "current");
  if (current !== undefined && (typeof current !== "string" || !contexts.has(current))) {
    const known =
      contexts.size === 0 ? "it defines no contexts" : `it defines ${[...contexts.keys()].join(", ")}`;
    return bad(path, `current: expected the name of one of its contexts, got ${describe(current)}; ${known}`);
  }
  const name = choice?.name ?? current ?? null;
  if (name === null) return { path, context: null, settings: top };
  const chosen = contexts.get(name);
  if (chosen === undefined) {
    const known =
      contexts.size === 0 ? "it defines no contexts" : `it defines ${[...contexts.keys()].join(", ")}`;
    return new CliError(
      "unknown_context",
      choice?.source ?? path,
      `${choice?.source ?? "current"} names context ${quote(name)}, which ${path} does not define; ${known}`,
    );
  }
  return {
    path,
    context: name,
    settings: {
      nodes: chosen.nodes ?? top.nodes,
      token: chosen.token ?? top.token,
      timeoutMs: chosen.timeoutMs ?? top.timeoutMs,
      // A context's certificate and key go together: one never pairs with the other's.
      ca: chosen.ca ?? top.ca,
      cert: chosen.cert ?? (chosen.key === null ? top.cert : null),
      key: chosen.key ?? (chosen.cert === null ? top.key : null),
    },
  };
}

/** The contexts of a file, by name; an empty map when it has none. */
function contextsOf(path: string, document: Record<string, unknown>): Map<string, FileSettings> | CliError {
  const contexts = new Map<string, FileSettings>();
  const value = field(document, "contexts");
  if (value === undefined) return contexts;
  if (!isObject(value))
    return bad(path, `contexts: expected an object of named contexts, got ${kindOf(value)}`);
  const names = Object.keys(value);
  if (names.length > CONTEXTS_MAX) return bad(path, `contexts: expected at most ${CONTEXTS_MAX} contexts`);
  for (const name of names) {
    if (!isContextName(name)) {
      return bad(path, `contexts: ${quote(name)} is not a context name (letters, digits and . _ - : @ /)`);
    }
    const context = field(value, name);
    if (!isObject(context)) return bad(path, `contexts.${name}: expected an object, got ${kindOf(context)}`);
    const unknown = Object.keys(context).find((key) => !(SETTING_KEYS as readonly string[]).includes(key));
    if (unknown !== undefined) {
      return bad(
        path,
        `contexts.${name}: unknown key ${quote(unknown)} (a context has ${SETTING_KEYS.join(", ")})`,
      );
    }
    const settings = settingsOf(path, `contexts.${name}.`, context);
    if (settings instanceof CliError) return settings;
    contexts.set(name, settings);
  }
  return contexts;
}

/** The nodes, token and timeout of one object (the top level or a context), each checked as its flag is. */
function settingsOf(path: string, prefix: string, object: Record<string, unknown>): FileSettings | CliError {
  const nodesValue = field(object, "nodes");
  let nodes: readonly string[] | null = null;
  if (nodesValue !== undefined) {
    const list = Array.isArray(nodesValue) ? nodesValue : [nodesValue];
    if (list.length === 0 || !list.every((item): item is string => typeof item === "string")) {
      return bad(
        path,
        `${prefix}nodes: expected a list of nodes as strings ("http://host:port" or "host:port")`,
      );
    }
    const parsed = nodeListCodec.parse(list.join(","));
    if (parsed instanceof Invalid) return bad(path, `${prefix}nodes: ${parsed.reason}`);
    nodes = parsed;
  }
  const tokenValue = field(object, "token");
  let token: Secret | null = null;
  if (tokenValue !== undefined) {
    // The reason never holds the token, only what is wrong with it.
    const parsed = typeof tokenValue === "string" ? tokenCodec.parse(tokenValue) : null;
    if (parsed === null) return bad(path, `${prefix}token: expected a string, got ${kindOf(tokenValue)}`);
    if (parsed instanceof Invalid) return bad(path, `${prefix}token: ${parsed.reason}`);
    token = parsed;
  }
  const timeoutValue = field(object, "timeout");
  let timeoutMs: number | null = null;
  if (timeoutValue !== undefined) {
    const parsed =
      typeof timeoutValue === "number" || typeof timeoutValue === "string"
        ? timeoutCodec.parse(String(timeoutValue))
        : new Invalid("not_a_number", `expected seconds, got ${kindOf(timeoutValue)}`);
    if (parsed instanceof Invalid) return bad(path, `${prefix}timeout: ${parsed.reason}`);
    timeoutMs = parsed;
  }
  const files: Record<"ca" | "cert" | "key", string | null> = { ca: null, cert: null, key: null };
  for (const name of ["ca", "cert", "key"] as const) {
    const value = field(object, name);
    if (value === undefined) continue;
    if (typeof value !== "string" || value.trim() === "")
      return bad(path, `${prefix}${name}: expected the path of a PEM file, got ${describe(value)}`);
    files[name] = relativeTo(path, value.trim());
  }
  return { nodes, token, timeoutMs, ...files };
}

/** `file` as a path: as it is when absolute, else from the directory of the config file at `configPath`. */
function relativeTo(configPath: string, file: string): string {
  if (isAbsolute(file)) return file;
  const slash = Math.max(configPath.lastIndexOf("/"), configPath.lastIndexOf("\\"));
  return slash < 0 ? file : joinPath(configPath.slice(0, slash), file);
}

/** The refusal of a file: its path, then what is wrong. */
function bad(path: string, problem: string): CliError {
  return new CliError("bad_config_file", path, `config file ${path}: ${problem}`);
}

/**
 * What is wrong with text JSON.parse refused, with its line and column when V8 gives them. V8
 * quotes the character and a piece of the text in some messages, and either may be the token's,
 * so neither is kept.
 */
function syntaxProblem(text: string, error: Error): string {
  const message = error.message
    .replace(/, .*is not valid JSON$/s, "")
    .replace(/^Unexpected token .*$/s, "an unexpected character");
  const position = /at position (\d+)/.exec(message);
  if (position === null) return message;
  const offset = Number(position[1]);
  const before = text.slice(0, offset).split("\n");
  const line = before.length;
  const column = (before.at(-1)?.length ?? 0) + 1;
  return `${message.replace(/ in JSON at position \d+.*$/s, "")} at line ${line}, column ${column}`;
}

/** An own property of a parsed object, never one inherited (a context named "constructor" is data). */
function field(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What kind of JSON value this is, for messages that must not quote it. */
function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** A value quoted when it is a short string, else its kind. */
function describe(value: unknown): string {
  return typeof value === "string" ? quote(value) : kindOf(value);
}
