/**
 * `juno members ls | add <id> | rm <id> | transfer <id>`: the cluster's membership, its option
 * tables and the parser that turns the words after `members` into a typed command. The shared
 * client options are every client command's (src/config/client-options.ts).
 */

import type { Address } from "./address.js";
import {
  parseClientCommand,
  positionalWords,
  sharedSettings,
  type ClientParseOptions,
  type ClientSettings,
  type UsageError,
} from "./client-options.js";
import { booleanCodec, dialAddressCodec, nodeIdCodec, secondsCodec } from "./codecs.js";
import { defineCommand } from "./command.js";
import { ConfigError, Invalid, quote } from "./errors.js";
import { actionLines, clientCommandHelpText, clientOptionsHelp } from "./help.js";
import type { Environment } from "./option-spec.js";

/** What `juno members` does. */
export const MEMBER_ACTIONS = ["ls", "add", "rm", "transfer"] as const;

/** One of MEMBER_ACTIONS. */
export type MemberAction = (typeof MEMBER_ACTIONS)[number];

/** The longest id accepted before the id's own rules are checked. */
const ID_LENGTH_MAX = 63;

/** --wait and --wait-timeout, with the default wait of the action. */
function waitOptions(what: string, defaultSeconds: string) {
  return {
    wait: {
      flag: "--wait",
      env: null,
      default: "false",
      meaning: `Wait until ${what}; exit 1 (wait_timeout) if that does not happen in time.`,
      codec: booleanCodec,
    },
    waitTimeoutMs: {
      flag: "--wait-timeout",
      env: null,
      default: defaultSeconds,
      unit: "s",
      meaning: "How long --wait waits.",
      codec: secondsCodec(1_000, 86_400_000),
    },
  } as const;
}

/** `juno members ls`. */
export const MEMBERS_LS_COMMAND = defineCommand({
  name: "members ls",
  summary:
    "Lists the cluster's members: id, Raft and HTTP addresses, whether each votes, and its " +
    "replication (match index, lag, last contact) as the leader sees it; marks the leader.",
  options: {},
});

/** `juno members add <id>`. */
export const MEMBERS_ADD_COMMAND = defineCommand({
  name: "members add",
  summary:
    "Adds a member: it joins as a learner (start it first with juno start --join) and the leader " +
    "promotes it to voter once it has caught up; --wait waits for that.",
  options: {
    raft: {
      flag: "--raft",
      env: null,
      default: { derived: "required" },
      meaning: "The new member's Raft address, as its peers dial it.",
      codec: dialAddressCodec,
    },
    http: {
      flag: "--http",
      env: null,
      default: { derived: "none; the member announces its own once it runs" },
      meaning: "The new member's HTTP address, where the others forward writes.",
      codec: dialAddressCodec,
    },
    ...waitOptions("the member is promoted to voter", "120"),
  },
});

/** `juno members rm <id>`. */
export const MEMBERS_RM_COMMAND = defineCommand({
  name: "members rm",
  summary:
    "Removes a member, the leader too (it steps down once its removal commits). The member's " +
    "process keeps running until stopped.",
  options: {},
});

/** `juno members transfer <id>`. */
export const MEMBERS_TRANSFER_COMMAND = defineCommand({
  name: "members transfer",
  summary:
    "Hands leadership to a voter once it has caught up, as a leader does before it stops; --wait " +
    "waits until it leads.",
  options: waitOptions("the member leads", "30"),
});

/** A parsed `juno members` command. */
export type MembersCommand = ClientSettings &
  (
    | { readonly action: "ls" }
    | {
        readonly action: "add";
        readonly id: string;
        readonly raft: Address;
        readonly http: Address | null;
        /** How long to wait for the promotion, or null without --wait. */
        readonly waitMs: number | null;
      }
    | { readonly action: "rm"; readonly id: string }
    | { readonly action: "transfer"; readonly id: string; readonly waitMs: number | null }
  );

/** The usage line of `juno members`. */
const USAGE = "usage: juno members ls | add <id> --raft <host:port> | rm <id> | transfer <id> [flags]";

/**
 * Parses the words after `juno members` and the environment into a command, or the refusal to
 * print before exiting with 2. Reads nothing but its arguments and the client config file.
 */
export function parseMembersCommand(
  argv: readonly string[],
  env: Environment,
  options: ClientParseOptions = {},
): MembersCommand | UsageError {
  const [action, ...rest] = argv;
  if (action === undefined || action.startsWith("--")) {
    return new ConfigError("missing_required", "members", `an action is required: ${USAGE}`);
  }
  if (!isAction(action)) {
    return new ConfigError("unexpected_argument", action, `unknown action ${quote(action)}: ${USAGE}`);
  }
  if (action === "ls") {
    const parsed = parseClientCommand(MEMBERS_LS_COMMAND, rest, env, options);
    if (parsed instanceof Error) return parsed;
    return { action, ...sharedSettings(parsed) };
  }
  const words = positionalWords(rest, ["<id>"], `juno members ${action}`, USAGE, ID_LENGTH_MAX);
  if (words instanceof ConfigError) return words;
  const id = nodeIdCodec.parse(words.values[0] ?? "");
  if (id instanceof Invalid) return new ConfigError(id.code, "<id>", `<id>: ${id.reason}`);
  switch (action) {
    case "add": {
      const parsed = parseClientCommand(MEMBERS_ADD_COMMAND, words.flags, env, options);
      if (parsed instanceof Error) return parsed;
      const { raft, http, wait, waitTimeoutMs } = parsed.values;
      if (raft === null) {
        return new ConfigError(
          "missing_required",
          "--raft",
          `juno members add needs --raft <host:port>: ${USAGE}`,
        );
      }
      return { action, id, raft, http, waitMs: wait ? waitTimeoutMs : null, ...sharedSettings(parsed) };
    }
    case "rm": {
      const parsed = parseClientCommand(MEMBERS_RM_COMMAND, words.flags, env, options);
      if (parsed instanceof Error) return parsed;
      return { action, id, ...sharedSettings(parsed) };
    }
    case "transfer": {
      const parsed = parseClientCommand(MEMBERS_TRANSFER_COMMAND, words.flags, env, options);
      if (parsed instanceof Error) return parsed;
      const { wait, waitTimeoutMs } = parsed.values;
      return { action, id, waitMs: wait ? waitTimeoutMs : null, ...sharedSettings(parsed) };
    }
  }
}

/** The help `juno members [<action>] --help` prints: every action's, or one action's. */
export function membersHelpText(argv: readonly string[]): string {
  const action = argv[0];
  if (action === "ls") return clientCommandHelpText(MEMBERS_LS_COMMAND);
  if (action === "add") return clientCommandHelpText(MEMBERS_ADD_COMMAND, "<id> ");
  if (action === "rm") return clientCommandHelpText(MEMBERS_RM_COMMAND, "<id> ");
  if (action === "transfer") return clientCommandHelpText(MEMBERS_TRANSFER_COMMAND, "<id> ");
  const lines = [
    USAGE,
    "",
    "actions:",
    ...actionLines([
      ["ls", MEMBERS_LS_COMMAND.summary],
      ["add <id>", MEMBERS_ADD_COMMAND.summary],
      ["rm <id>", MEMBERS_RM_COMMAND.summary],
      ["transfer <id>", MEMBERS_TRANSFER_COMMAND.summary],
    ]),
    "",
    "juno members <action> --help lists the action's own flags.",
    "",
    ...clientOptionsHelp(),
  ];
  return `${lines.join("\n")}\n`;
}

function isAction(word: string): word is MemberAction {
  return (MEMBER_ACTIONS as readonly string[]).includes(word);
}
