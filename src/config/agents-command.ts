/**
 * `juno agents ls | show <id> | rm <id>`: its option tables and the parser that turns the words
 * after `agents` into a typed command. The action and the id come first; the flags follow and
 * are read by `juno start`'s rules, except that --url may be given more than once (and --urls is
 * the same flag), since a client is meant to know several nodes.
 */

import { AGENT_STATUSES, type AgentStatus } from "../client/types.js";
import { booleanCodec, choiceCodec, httpUrlCodec, secretCodec, type Codec } from "./codecs.js";
import { defineCommand, parseCommand, type CommandSpec, type CommandValues } from "./command.js";
import { ConfigError, Invalid, quote } from "./errors.js";
import { commandHelpText } from "./help.js";
import type { Environment } from "./option-spec.js";
import type { Secret } from "./secret.js";

/** What `juno agents` does. */
export const AGENT_ACTIONS = ["ls", "show", "rm"] as const;

/** One of AGENT_ACTIONS. */
export type AgentAction = (typeof AGENT_ACTIONS)[number];

/** The most nodes one command may be given; the client refuses more. */
export const AGENTS_URLS_MAX = 16;

/** The longest filter value or id accepted; the server's own limits are lower. */
const WORD_LENGTH_MAX = 256;

/** A comma-separated list of node base URLs, each http:// or https://, duplicates dropped. */
const urlListCodec: Codec<readonly string[]> = {
  placeholder: "url,...",
  parse(text) {
    const urls: string[] = [];
    for (const item of text.split(",")) {
      const url = httpUrlCodec.parse(item.trim());
      if (url instanceof Invalid) return url;
      if (!urls.includes(url)) urls.push(url);
    }
    return urls.length <= AGENTS_URLS_MAX
      ? urls
      : new Invalid("out_of_range", `expected at most ${AGENTS_URLS_MAX} URLs, got ${urls.length}`);
  },
  format: (urls) => urls.join(","),
};

/** A filter value: any text up to WORD_LENGTH_MAX characters. */
export function wordCodec(placeholder: string): Codec<string> {
  return {
    placeholder,
    parse: (text) =>
      text.length <= WORD_LENGTH_MAX
        ? text
        : new Invalid("out_of_range", `expected at most ${WORD_LENGTH_MAX} characters, got ${text.length}`),
    format: (value) => value,
  };
}

/** A label filter, key=value. */
export interface LabelFilter {
  readonly key: string;
  readonly value: string;
}

/** `key=value`; the value may itself contain "=". */
const labelCodec: Codec<LabelFilter> = {
  placeholder: "key=value",
  parse(text) {
    const equals = text.indexOf("=");
    if (equals <= 0 || text.length > WORD_LENGTH_MAX) {
      // No code of the catalog names a malformed label; a label without its "=value" lacks a value.
      return new Invalid("missing_value", `expected key=value, got ${quote(text)}`);
    }
    return { key: text.slice(0, equals), value: text.slice(equals + 1) };
  },
  format: (label) => `${label.key}=${label.value}`,
};

/** The options every action takes: where to connect, with what token, and how to print (`juno tasks` too). */
export const CONNECTION_OPTIONS = {
  urls: {
    flag: "--url",
    env: "JUNO_URL",
    default: "http://127.0.0.1:8080",
    meaning:
      "Base URL of a juno node; repeat the flag (or give --urls a,b, or JUNO_URL=a,b) to name several, " +
      "and the command fails over between them.",
    codec: urlListCodec,
  },
  token: {
    flag: "--token",
    env: "JUNO_API_TOKEN",
    default: { derived: "none" },
    // The storage URL sets the precedent: a flag is allowed, the variable is the safe way.
    meaning:
      "Bearer token sent with every request: the cluster's JUNO_API_TOKEN. Prefer the variable; a flag " +
      "shows in process listings. Never printed.",
    codec: secretCodec(1),
  },
  json: {
    flag: "--json",
    env: null,
    default: "false",
    meaning: "Print the server's answer as JSON instead of a table.",
    codec: booleanCodec,
  },
} as const;

/** `juno agents ls`. */
export const AGENTS_LS_COMMAND = defineCommand({
  name: "agents ls",
  summary:
    "Lists the registered agents, every page of them, optionally only those of a team, with a skill, " +
    "in a status or with a label.",
  options: {
    ...CONNECTION_OPTIONS,
    team: {
      flag: "--team",
      env: null,
      default: { derived: "every team" },
      meaning: "Only agents of this team.",
      codec: wordCodec("team"),
    },
    skill: {
      flag: "--skill",
      env: null,
      default: { derived: "any skill" },
      meaning: "Only agents with this skill.",
      codec: wordCodec("skill"),
    },
    status: {
      flag: "--status",
      env: null,
      default: { derived: "any status" },
      meaning: `Only agents in this status: ${AGENT_STATUSES.join(", ")}.`,
      // No code of the catalog names an unknown status; it is a value outside the allowed ones.
      codec: choiceCodec(AGENT_STATUSES, "out_of_range", "status"),
    },
    label: {
      flag: "--label",
      env: null,
      default: { derived: "any labels" },
      meaning: "Only agents with this label.",
      codec: labelCodec,
    },
  },
});

/** `juno agents show <id>`. */
export const AGENTS_SHOW_COMMAND = defineCommand({
  name: "agents show",
  summary: "Shows one agent: its endpoint, team, capabilities, status and when it last beat.",
  options: CONNECTION_OPTIONS,
});

/** `juno agents rm <id>`. */
export const AGENTS_RM_COMMAND = defineCommand({
  name: "agents rm",
  summary: "Deregisters one agent. An agent process that is still running registers again on its next beat.",
  options: CONNECTION_OPTIONS,
});

/** Where and how a command connects. */
export interface AgentsConnection {
  readonly urls: readonly string[];
  readonly token: Secret | null;
}

/** The filters of `juno agents ls`; null where none is given. */
export interface AgentsFilter {
  readonly team: string | null;
  readonly skill: string | null;
  readonly status: AgentStatus | null;
  readonly label: LabelFilter | null;
}

/** A parsed `juno agents` command. */
export type AgentsCommand =
  | {
      readonly action: "ls";
      readonly connection: AgentsConnection;
      readonly json: boolean;
      readonly filter: AgentsFilter;
    }
  | {
      readonly action: "show" | "rm";
      readonly id: string;
      readonly connection: AgentsConnection;
      readonly json: boolean;
    };

/** The usage line of `juno agents`. */
const USAGE = "usage: juno agents ls [flags] | show <id> [flags] | rm <id> [flags]";

/**
 * Parses the words after `juno agents` and the environment into a command, or the refusal to
 * print before exiting with 2. Pure: it reads nothing but its arguments.
 */
export function parseAgentsCommand(argv: readonly string[], env: Environment): AgentsCommand | ConfigError {
  const [action, ...rest] = argv;
  if (action === undefined || action.startsWith("--")) {
    return new ConfigError("missing_required", "agents", `an action is required: ${USAGE}`);
  }
  if (!isAction(action)) {
    return new ConfigError("unexpected_argument", action, `unknown action ${quote(action)}: ${USAGE}`);
  }
  if (action === "ls") {
    const values = parseWithUrls(AGENTS_LS_COMMAND, rest, env);
    if (values instanceof ConfigError) return values;
    const { team, skill, status, label } = values;
    return {
      action,
      connection: connectionOf(values),
      json: values.json,
      filter: { team, skill, status, label },
    };
  }
  const [id, ...flags] = rest;
  if (id === undefined || id.startsWith("--")) {
    return new ConfigError(
      "missing_required",
      "<id>",
      `juno agents ${action} needs the agent's id: ${USAGE}`,
    );
  }
  if (id.trim() === "" || id.length > WORD_LENGTH_MAX) {
    return new ConfigError(
      "out_of_range",
      "<id>",
      `expected an agent id of 1..${WORD_LENGTH_MAX} characters`,
    );
  }
  const values = parseWithUrls(action === "show" ? AGENTS_SHOW_COMMAND : AGENTS_RM_COMMAND, flags, env);
  if (values instanceof ConfigError) return values;
  return { action, id, connection: connectionOf(values), json: values.json };
}

/** The help `juno agents [<action>] --help` prints: every action's, or one action's. */
export function agentsHelpText(argv: readonly string[]): string {
  const action = argv[0];
  if (action === "ls") return commandHelpText(AGENTS_LS_COMMAND);
  if (action === "show" || action === "rm") {
    const command = action === "show" ? AGENTS_SHOW_COMMAND : AGENTS_RM_COMMAND;
    return commandHelpText(command).replace(
      `juno agents ${action} [flags]`,
      `juno agents ${action} <id> [flags]`,
    );
  }
  const actions = [
    `${USAGE}`,
    "",
    "actions:",
    `  ls         ${AGENTS_LS_COMMAND.summary}`,
    `  show <id>  ${AGENTS_SHOW_COMMAND.summary}`,
    `  rm <id>    ${AGENTS_RM_COMMAND.summary}`,
    "",
    "juno agents <action> --help lists the action's flags and variables.",
  ];
  return `${actions.join("\n")}\n`;
}

function isAction(word: string): word is AgentAction {
  return (AGENT_ACTIONS as readonly string[]).includes(word);
}

/**
 * Parses `argv` by the table after gathering every --url and --urls into one --url, so that the
 * table's reader, which refuses a flag given twice, sees it once.
 */
export function parseWithUrls<O extends typeof CONNECTION_OPTIONS>(
  command: CommandSpec<O>,
  argv: readonly string[],
  env: Environment,
): CommandValues<O> | ConfigError {
  const urls: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? "";
    const flag = word.split("=", 1)[0];
    if (flag !== "--url" && flag !== "--urls") {
      rest.push(word);
      continue;
    }
    const value = word.includes("=") ? word.slice(word.indexOf("=") + 1) : argv[i + 1];
    if (!word.includes("=")) i++;
    if (value === undefined || value.trim() === "" || (!word.includes("=") && value.startsWith("--"))) {
      return new ConfigError("missing_value", flag, `${flag} needs a value: ${flag} <url,...>`);
    }
    urls.push(value);
  }
  if (urls.length > 0) rest.push(`--url=${urls.join(",")}`);
  return parseCommand(command, rest, env);
}

/** Where and how the parsed values say to connect. */
export function connectionOf(values: CommandValues<typeof CONNECTION_OPTIONS>): AgentsConnection {
  return { urls: values.urls, token: values.token };
}
