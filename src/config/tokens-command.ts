/**
 * `juno tokens create | ls | revoke <id>` and `juno audit`: scoped tokens and the audit log (both
 * need an admin token), their option tables and the parsers that turn the words after the
 * command into a typed command. The shared client options are every client command's
 * (src/config/client-options.ts).
 */

import {
  parseClientCommand,
  positionalWords,
  sharedSettings,
  type ClientParseOptions,
  type ClientSettings,
  type UsageError,
} from "./client-options.js";
import { choiceCodec, integerCodec, secondsCodec, type Codec } from "./codecs.js";
import { defineCommand } from "./command.js";
import { ConfigError, Invalid, quote } from "./errors.js";
import { actionLines, clientCommandHelpText, clientOptionsHelp } from "./help.js";
import type { Environment } from "./option-spec.js";

/** What `juno tokens` does. */
export const TOKEN_ACTIONS = ["create", "ls", "revoke"] as const;

/** One of TOKEN_ACTIONS. */
export type TokenAction = (typeof TOKEN_ACTIONS)[number];

/** The roles a token may have (as the server's authorization knows them). */
export const CLI_TOKEN_ROLES = ["admin", "operator", "reader", "agent"] as const;

/** The longest token id accepted ("file:<name>" included). */
const ID_LENGTH_MAX = 200;

/** Ten years: the longest --expires-in. */
const EXPIRY_MS_MAX = 10 * 365 * 24 * 60 * 60 * 1000;

/** A token name, as the server takes it: a letter or digit, then letters, digits and `._:@/-`. */
const nameCodec: Codec<string> = {
  placeholder: "name",
  parse: (text) =>
    /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,99}$/.test(text)
      ? text
      : new Invalid("out_of_range", `expected 1 to 100 letters, digits or ._:@/- , got ${quote(text)}`),
  format: (value) => value,
};

/** An agent id: a UUID in lower case, as juno writes them. */
const agentIdCodec: Codec<string> = {
  placeholder: "uuid",
  parse: (text) =>
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(text)
      ? text
      : new Invalid("out_of_range", `expected an agent id (a lower-case UUID), got ${quote(text)}`),
  format: (value) => value,
};

/** A filter word (an action or an actor). */
const wordCodec: Codec<string> = {
  placeholder: "word",
  parse: (text) =>
    text.length >= 1 && text.length <= 128
      ? text
      : new Invalid("out_of_range", `expected 1 to 128 characters, got ${text.length}`),
  format: (value) => value,
};

/** `juno tokens create`. */
export const TOKENS_CREATE_COMMAND = defineCommand({
  name: "tokens create",
  summary:
    "Makes a token with a role and prints its secret, once: juno keeps only its SHA-256. An agent " +
    "token is bound to one agent id (--agent-id, or a fresh one juno picks and prints).",
  options: {
    name: {
      flag: "--name",
      env: null,
      default: { derived: "required" },
      meaning: "The token's name, unique among the API's tokens; the audit log shows it.",
      codec: nameCodec,
    },
    role: {
      flag: "--role",
      env: null,
      default: { derived: "required" },
      meaning: `What it may do: ${CLI_TOKEN_ROLES.join(", ")} (README: Access).`,
      codec: choiceCodec(CLI_TOKEN_ROLES, "out_of_range", "role"),
    },
    agentId: {
      flag: "--agent-id",
      env: null,
      default: { derived: "a fresh UUID, for agent tokens" },
      meaning: "The agent an agent token acts for (agent tokens only).",
      codec: agentIdCodec,
    },
    expiresInMs: {
      flag: "--expires-in",
      env: null,
      default: { derived: "never" },
      unit: "s",
      meaning: "The token stops working this long from now.",
      codec: secondsCodec(1_000, EXPIRY_MS_MAX),
    },
  },
});

/** `juno tokens ls`. */
export const TOKENS_LS_COMMAND = defineCommand({
  name: "tokens ls",
  summary:
    "Lists the tokens, never a secret: the API's (replicated) and the answering node's tokens file, " +
    "with role, bound agent, expiry and who made each.",
  options: {},
});

/** `juno tokens revoke <id>`. */
export const TOKENS_REVOKE_COMMAND = defineCommand({
  name: "tokens revoke",
  summary: "Revokes a token made through the API: it stops working at once, on every node.",
  options: {},
});

/** `juno audit`. */
export const AUDIT_COMMAND = defineCommand({
  name: "audit",
  summary:
    "Prints the audit log, newest first: membership changes, leadership transfers, tokens made and " +
    "revoked, deregistrations and cancellations, with who did each, when, and how it ended.",
  options: {
    action: {
      flag: "--action",
      env: null,
      default: { derived: "every action" },
      meaning: "Only this action: token.create, task.cancel, member.add, ...",
      codec: wordCodec,
    },
    actor: {
      flag: "--actor",
      env: null,
      default: { derived: "everyone" },
      meaning: "Only what this token (an id or a name) did.",
      codec: wordCodec,
    },
    limit: {
      flag: "--limit",
      env: null,
      default: "50",
      meaning: "How many records to print, at most (the log keeps the last 10,000).",
      codec: integerCodec(1, 10_000, ""),
    },
  },
});

/** A parsed `juno tokens` command. */
export type TokensCommand = ClientSettings &
  (
    | {
        readonly action: "create";
        readonly name: string;
        readonly role: (typeof CLI_TOKEN_ROLES)[number];
        readonly agentId: string | null;
        /** How long from now it expires, or null for never. */
        readonly expiresInMs: number | null;
      }
    | { readonly action: "ls" }
    | { readonly action: "revoke"; readonly id: string }
  );

/** A parsed `juno audit` command. */
export type AuditCommand = ClientSettings & {
  readonly action: string | null;
  readonly actor: string | null;
  readonly limit: number;
};

/** The usage line of `juno tokens`. */
const USAGE = "usage: juno tokens create --name <name> --role <role> | ls | revoke <id> [flags]";

/** Parses the words after `juno tokens`, or the refusal to print before exiting with 2. */
export function parseTokensCommand(
  argv: readonly string[],
  env: Environment,
  options: ClientParseOptions = {},
): TokensCommand | UsageError {
  const [action, ...rest] = argv;
  if (action === undefined || action.startsWith("--"))
    return new ConfigError("missing_required", "tokens", `an action is required: ${USAGE}`);
  if (!(TOKEN_ACTIONS as readonly string[]).includes(action))
    return new ConfigError("unexpected_argument", action, `unknown action ${quote(action)}: ${USAGE}`);
  if (action === "ls") {
    const parsed = parseClientCommand(TOKENS_LS_COMMAND, rest, env, options);
    if (parsed instanceof Error) return parsed;
    return { action, ...sharedSettings(parsed) };
  }
  if (action === "revoke") {
    const words = positionalWords(rest, ["<id>"], "juno tokens revoke", USAGE, ID_LENGTH_MAX);
    if (words instanceof ConfigError) return words;
    const parsed = parseClientCommand(TOKENS_REVOKE_COMMAND, words.flags, env, options);
    if (parsed instanceof Error) return parsed;
    return { action, id: words.values[0]!, ...sharedSettings(parsed) };
  }
  const parsed = parseClientCommand(TOKENS_CREATE_COMMAND, rest, env, options);
  if (parsed instanceof Error) return parsed;
  const { name, role, agentId, expiresInMs } = parsed.values;
  if (name === null)
    return new ConfigError("missing_required", "--name", `juno tokens create needs --name: ${USAGE}`);
  if (role === null)
    return new ConfigError("missing_required", "--role", `juno tokens create needs --role: ${USAGE}`);
  if (agentId !== null && role !== "agent")
    return new ConfigError("conflicting_settings", "--agent-id", "--agent-id is for --role agent only");
  return { action: "create", name, role, agentId, expiresInMs, ...sharedSettings(parsed) };
}

/** Parses the words after `juno audit`. */
export function parseAuditCommand(
  argv: readonly string[],
  env: Environment,
  options: ClientParseOptions = {},
): AuditCommand | UsageError {
  const parsed = parseClientCommand(AUDIT_COMMAND, argv, env, options);
  if (parsed instanceof Error) return parsed;
  const { action, actor, limit } = parsed.values;
  return { action, actor, limit, ...sharedSettings(parsed) };
}

/** The help `juno tokens [<action>] --help` prints. */
export function tokensHelpText(argv: readonly string[]): string {
  const action = argv[0];
  if (action === "create") return clientCommandHelpText(TOKENS_CREATE_COMMAND);
  if (action === "ls") return clientCommandHelpText(TOKENS_LS_COMMAND);
  if (action === "revoke") return clientCommandHelpText(TOKENS_REVOKE_COMMAND, "<id> ");
  const lines = [
    USAGE,
    "",
    "actions:",
    ...actionLines([
      ["create", TOKENS_CREATE_COMMAND.summary],
      ["ls", TOKENS_LS_COMMAND.summary],
      ["revoke <id>", TOKENS_REVOKE_COMMAND.summary],
    ]),
    "",
    "juno tokens <action> --help lists the action's own flags. Every action needs an admin token.",
    "",
    ...clientOptionsHelp(),
  ];
  return `${lines.join("\n")}\n`;
}

/** The help `juno audit --help` prints. */
export function auditHelpText(): string {
  return clientCommandHelpText(AUDIT_COMMAND);
}
