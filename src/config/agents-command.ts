/**
 * `juno agents ls | show <id> | rm <id>`: its option tables and the parser that turns the words
 * after `agents` into a typed command. The action and the id come first; the flags follow and
 * are read by `juno start`'s rules, with the shared client options (src/config/client-options.ts:
 * --nodes, --token, --timeout, --context, --config, --json, --quiet) besides each action's own.
 */

import { AGENT_STATUSES, type AgentStatus } from "../client/types.js";
import {
  parseClientCommand,
  positionalWords,
  sharedSettings,
  type ClientConnection,
  type ClientParseOptions,
  type ClientSettings,
  type UsageError,
} from "./client-options.js";
import { choiceCodec, type Codec } from "./codecs.js";
import { defineCommand } from "./command.js";
import { ConfigError, Invalid, quote } from "./errors.js";
import { actionLines, clientCommandHelpText, clientOptionsHelp } from "./help.js";
import { NODES_MAX } from "./node-list.js";
import type { Environment } from "./option-spec.js";

/** What `juno agents` does. */
export const AGENT_ACTIONS = ["ls", "show", "rm"] as const;

/** One of AGENT_ACTIONS. */
export type AgentAction = (typeof AGENT_ACTIONS)[number];

/** The most nodes one command may be given. */
export const AGENTS_URLS_MAX = NODES_MAX;

/** The longest filter value or id accepted; the server's own limits are lower. */
const WORD_LENGTH_MAX = 256;

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

/** `juno agents ls`. */
export const AGENTS_LS_COMMAND = defineCommand({
  name: "agents ls",
  summary:
    "Lists the registered agents, every page of them, optionally only those of a team, with a skill, " +
    "in a status or with a label.",
  options: {
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
  options: {},
});

/** `juno agents rm <id>`. */
export const AGENTS_RM_COMMAND = defineCommand({
  name: "agents rm",
  summary: "Deregisters one agent. An agent process that is still running registers again on its next beat.",
  options: {},
});

/** Where and how a command connects (every client command's). */
export type AgentsConnection = ClientConnection;

/** The filters of `juno agents ls`; null where none is given. */
export interface AgentsFilter {
  readonly team: string | null;
  readonly skill: string | null;
  readonly status: AgentStatus | null;
  readonly label: LabelFilter | null;
}

/** A parsed `juno agents` command. */
export type AgentsCommand = ClientSettings &
  (
    | { readonly action: "ls"; readonly filter: AgentsFilter }
    | { readonly action: "show" | "rm"; readonly id: string }
  );

/** The usage line of `juno agents`. */
const USAGE = "usage: juno agents ls [flags] | show <id> [flags] | rm <id> [flags]";

/**
 * Parses the words after `juno agents` and the environment into a command, or the refusal to
 * print before exiting with 2. Reads nothing but its arguments and the client config file.
 */
export function parseAgentsCommand(
  argv: readonly string[],
  env: Environment,
  options: ClientParseOptions = {},
): AgentsCommand | UsageError {
  const [action, ...rest] = argv;
  if (action === undefined || action.startsWith("--")) {
    return new ConfigError("missing_required", "agents", `an action is required: ${USAGE}`);
  }
  if (!isAction(action)) {
    return new ConfigError("unexpected_argument", action, `unknown action ${quote(action)}: ${USAGE}`);
  }
  if (action === "ls") {
    const parsed = parseClientCommand(AGENTS_LS_COMMAND, rest, env, options);
    if (parsed instanceof Error) return parsed;
    const { team, skill, status, label } = parsed.values;
    return { action, ...sharedSettings(parsed), filter: { team, skill, status, label } };
  }
  const words = positionalWords(rest, ["<id>"], `juno agents ${action}`, USAGE, WORD_LENGTH_MAX);
  if (words instanceof ConfigError) return words;
  const table = action === "show" ? AGENTS_SHOW_COMMAND : AGENTS_RM_COMMAND;
  const parsed = parseClientCommand(table, words.flags, env, options);
  if (parsed instanceof Error) return parsed;
  return { action, id: words.values[0] ?? "", ...sharedSettings(parsed) };
}

/** The help `juno agents [<action>] --help` prints: every action's, or one action's. */
export function agentsHelpText(argv: readonly string[]): string {
  const action = argv[0];
  if (action === "ls") return clientCommandHelpText(AGENTS_LS_COMMAND);
  if (action === "show") return clientCommandHelpText(AGENTS_SHOW_COMMAND, "<id> ");
  if (action === "rm") return clientCommandHelpText(AGENTS_RM_COMMAND, "<id> ");
  const lines = [
    USAGE,
    "",
    "actions:",
    ...actionLines([
      ["ls", AGENTS_LS_COMMAND.summary],
      ["show <id>", AGENTS_SHOW_COMMAND.summary],
      ["rm <id>", AGENTS_RM_COMMAND.summary],
    ]),
    "",
    "juno agents <action> --help lists the action's own flags.",
    "",
    ...clientOptionsHelp(),
  ];
  return `${lines.join("\n")}\n`;
}

function isAction(word: string): word is AgentAction {
  return (AGENT_ACTIONS as readonly string[]).includes(word);
}
