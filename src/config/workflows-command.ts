/**
 * `juno workflows submit | ls | show <id> | watch <id> | cancel <id> | event <id> <name> |
 * trigger <name> | definitions register | definitions ls`: their option tables and the parser
 * that turns the words after `workflows` into a typed command. The shared client options are
 * every client command's (src/config/client-options.ts). Three spellings are read before the
 * tables: `-f` is --file, `--no-execute` is --execute=false, and --input repeats, each one key=value.
 */

import { WORKFLOW_STATUSES, type WorkflowStatus } from "../client/types.js";
import { wordCodec } from "./agents-command.js";
import {
  parseClientCommand,
  positionalWords,
  sharedSettings,
  type ClientParseOptions,
  type ClientSettings,
  type UsageError,
} from "./client-options.js";
import { booleanCodec, choiceCodec, integerCodec, type Codec } from "./codecs.js";
import { defineCommand, type CommandOptions, type CommandSpec } from "./command.js";
import { ConfigError, Invalid, quote } from "./errors.js";
import { actionLines, clientCommandHelpText, clientOptionsHelp } from "./help.js";
import type { Environment } from "./option-spec.js";

/** The largest --input-json or --data-json accepted, in characters: the server keeps 64 KiB of input. */
export const WORKFLOW_JSON_LENGTH_MAX = 64 * 1024;

/** The most --input pairs one command takes. */
export const WORKFLOW_INPUTS_MAX = 100;

/** The longest id or name accepted; ids are UUIDs, names at most 100 characters. */
const ID_LENGTH_MAX = 100;

/** Separates the --input pairs gathered into one flag: no argument can hold a NUL. */
const PAIR_SEPARATOR = "\u0000";

/** Any JSON value, written as JSON text. */
const jsonCodec: Codec<unknown> = {
  placeholder: "json",
  parse(text) {
    if (text.length > WORKFLOW_JSON_LENGTH_MAX) {
      return new Invalid("out_of_range", `expected at most ${WORKFLOW_JSON_LENGTH_MAX} characters of JSON`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      // The catalog has no code for malformed JSON; the word given is not the argument expected.
      return new Invalid(
        "unexpected_argument",
        `expected JSON, got ${quote(text)}: ${(error as Error).message}`,
      );
    }
  },
  format: (value) => JSON.stringify(value),
};

/** A JSON object, written as JSON text: a run's input, a trigger's data. */
const jsonObjectCodec: Codec<Readonly<Record<string, unknown>>> = {
  placeholder: "json-object",
  parse(text) {
    const value = jsonCodec.parse(text);
    if (value instanceof Invalid) return value;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return new Invalid("unexpected_argument", `expected a JSON object ({...}), got ${quote(text)}`);
    }
    return value as Record<string, unknown>;
  },
  format: (value) => JSON.stringify(value),
};

/** key=value pairs, each a string input; the key is a word, the value any text (it may hold "="). */
const inputPairsCodec: Codec<Readonly<Record<string, string>>> = {
  placeholder: "key=value",
  parse(text) {
    const input: Record<string, string> = {};
    const pairs = text.split(PAIR_SEPARATOR);
    if (pairs.length > WORKFLOW_INPUTS_MAX) {
      return new Invalid("out_of_range", `expected at most ${WORKFLOW_INPUTS_MAX} --input pairs`);
    }
    for (const pair of pairs) {
      const equals = pair.indexOf("=");
      if (equals <= 0 || pair.length > WORKFLOW_JSON_LENGTH_MAX) {
        // No code of the catalog names a malformed pair; a key without its "=value" lacks a value.
        return new Invalid("missing_value", `expected key=value, got ${quote(pair)}`);
      }
      input[pair.slice(0, equals)] = pair.slice(equals + 1);
    }
    return input;
  },
  format: (input) =>
    Object.entries(input)
      .map(([key, value]) => `${key}=${value}`)
      .join(PAIR_SEPARATOR),
};

/** A file to read, or "-" for stdin. */
const fileCodec: Codec<string> = {
  placeholder: "file",
  parse: (text) => text,
  format: (value) => value,
};

const FILE_OPTION = {
  flag: "--file",
  env: null,
  default: { derived: "required" },
  meaning:
    "The definition (-f for short; - reads stdin). A .yaml or .yml file goes as YAML, a .json file as " +
    "JSON; stdin and other files go as JSON when they start with {, as YAML otherwise.",
  codec: fileCodec,
} as const;

/** `juno workflows submit`. */
export const WORKFLOWS_SUBMIT_COMMAND = defineCommand({
  name: "workflows submit",
  summary:
    "Creates a run of the definition in --file and starts it (unless --no-execute). With --watch, " +
    "follows it live, a line per step and a progress bar per team, and exits 0 only when it succeeded.",
  options: {
    file: FILE_OPTION,
    input: {
      flag: "--input",
      env: null,
      default: { derived: "the definition's own input" },
      meaning: "One input value, as a string; repeat the flag for several. Laid over --input-json.",
      codec: inputPairsCodec,
    },
    inputJson: {
      flag: "--input-json",
      env: null,
      default: { derived: "the definition's own input" },
      meaning: "The run's input, as a JSON object; it is laid over the definition's input.",
      codec: jsonObjectCodec,
    },
    execute: {
      flag: "--execute",
      env: null,
      default: "true",
      meaning: "Start the run at once; --no-execute (or --execute=false) leaves it created.",
      codec: booleanCodec,
    },
    watch: {
      flag: "--watch",
      env: null,
      default: "false",
      meaning:
        "Follow the run until it ends: redrawn in place on a terminal, appended lines otherwise, a " +
        "line of JSON per change with --json.",
      codec: booleanCodec,
    },
    team: {
      flag: "--team",
      env: null,
      default: { derived: "the definition's first team" },
      meaning: "The team that owns the run.",
      codec: wordCodec("team"),
    },
    idempotencyKey: {
      flag: "--idempotency-key",
      env: null,
      default: {
        derived:
          "a fresh one, so that the command's own retries never make a second run; none for a YAML " +
          "file given without --input, --input-json or --team, which is sent as it is and not sent again once it may have landed",
      },
      meaning: "Submitting the same key again (for the same team) answers the run it made the first time.",
      codec: wordCodec("key"),
    },
  },
});

/** `juno workflows ls`. */
export const WORKFLOWS_LS_COMMAND = defineCommand({
  name: "workflows ls",
  summary:
    "Prints how many runs are in each status, and one page of runs, newest first, optionally only " +
    "those in a status, of a team, of a definition or under a parent run.",
  options: {
    status: {
      flag: "--status",
      env: null,
      default: { derived: "any status" },
      meaning: `Only runs in this status: ${WORKFLOW_STATUSES.join(", ")}.`,
      // No code of the catalog names an unknown status; it is a value outside the allowed ones.
      codec: choiceCodec(WORKFLOW_STATUSES, "out_of_range", "status"),
    },
    team: {
      flag: "--team",
      env: null,
      default: { derived: "every team" },
      meaning: "Only runs this team owns or has steps in.",
      codec: wordCodec("team"),
    },
    name: {
      flag: "--name",
      env: null,
      default: { derived: "any definition" },
      meaning: "Only runs of the definition of this name.",
      codec: wordCodec("name"),
    },
    parent: {
      flag: "--parent",
      env: null,
      default: { derived: "any run" },
      meaning: "Only sub-workflows of this run.",
      codec: wordCodec("id"),
    },
    limit: {
      flag: "--limit",
      env: null,
      default: { derived: "100, the server's default" },
      meaning: "Runs on the page, 1 to 500.",
      codec: integerCodec(1, 500, "runs"),
    },
    cursor: {
      flag: "--cursor",
      env: null,
      default: { derived: "the first page" },
      meaning: "Where the page starts: the cursor the previous page printed.",
      codec: wordCodec("cursor"),
    },
  },
});

/** `juno workflows show <id>`. */
export const WORKFLOWS_SHOW_COMMAND = defineCommand({
  name: "workflows show",
  summary:
    "Shows one run: its status, a line per step (status, team, attempts, agent), each team's " +
    "progress, and its output or why it failed.",
  options: {},
});

/** `juno workflows watch <id>`. */
export const WORKFLOWS_WATCH_COMMAND = defineCommand({
  name: "workflows watch",
  summary: "Follows one run live until it ends, as submit --watch does; exits 0 only when it succeeded.",
  options: {},
});

/** `juno workflows cancel <id>`. */
export const WORKFLOWS_CANCEL_COMMAND = defineCommand({
  name: "workflows cancel",
  summary: "Cancels a run that has not ended: its running tasks and sub-workflows too; no compensation runs.",
  options: {
    reason: {
      flag: "--reason",
      env: null,
      default: { derived: "cancelled through the API" },
      meaning: "Why, kept on the run; at most 500 characters.",
      codec: {
        placeholder: "text",
        parse: (text: string) =>
          text.length <= 500 ? text : new Invalid("out_of_range", "expected at most 500 characters"),
        format: (value: string) => value,
      },
    },
  },
});

/** `juno workflows event <id> <name>`. */
export const WORKFLOWS_EVENT_COMMAND = defineCommand({
  name: "workflows event",
  summary:
    "Sends a named event to a run: the steps waiting for it take --data-json as their output. The " +
    "first event of a name counts; a later one changes nothing, and says so.",
  options: {
    data: {
      flag: "--data-json",
      env: null,
      default: "null",
      meaning: "The event's data, as JSON.",
      codec: jsonCodec,
    },
  },
});

/** `juno workflows trigger <name>`. */
export const WORKFLOWS_TRIGGER_COMMAND = defineCommand({
  name: "workflows trigger",
  summary:
    "Starts a run of every registered definition whose trigger.event is <name>, with --data-json as input.",
  options: {
    data: {
      flag: "--data-json",
      env: null,
      default: { derived: "{}" },
      meaning: "The started runs' input, as a JSON object.",
      codec: jsonObjectCodec,
    },
    team: {
      flag: "--team",
      env: null,
      default: { derived: "each definition's first team" },
      meaning: "The team that owns the runs.",
      codec: wordCodec("team"),
    },
  },
});

/** `juno workflows definitions register`. */
export const WORKFLOWS_DEFINITIONS_REGISTER_COMMAND = defineCommand({
  name: "workflows definitions register",
  summary:
    "Registers the definition in --file under its name and version (the next version when it names " +
    "none), so that runs, workflow steps and triggers can start it by name.",
  options: { file: FILE_OPTION },
});

/** `juno workflows definitions ls`. */
export const WORKFLOWS_DEFINITIONS_LS_COMMAND = defineCommand({
  name: "workflows definitions ls",
  summary: "Lists the registered definitions, every version, with their teams, steps and trigger.",
  options: {
    name: {
      flag: "--name",
      env: null,
      default: { derived: "every name" },
      meaning: "Only the versions of this name.",
      codec: wordCodec("name"),
    },
  },
});

/** What `juno workflows submit` sends. */
export interface WorkflowSubmitSpec {
  /** The file, or "-" for stdin. */
  readonly file: string;
  /** --input-json with every --input laid over it; null when neither is given. */
  readonly input: Readonly<Record<string, unknown>> | null;
  readonly execute: boolean;
  readonly team: string | null;
  readonly idempotencyKey: string | null;
}

/** The filters of `juno workflows ls`; null where none is given. */
export interface WorkflowsFilter {
  readonly status: WorkflowStatus | null;
  readonly team: string | null;
  readonly name: string | null;
  readonly parent: string | null;
  readonly limit: number | null;
  readonly cursor: string | null;
}

/** A parsed `juno workflows` command. */
export type WorkflowsCommand = ClientSettings &
  (
    | { readonly action: "submit"; readonly submit: WorkflowSubmitSpec; readonly watch: boolean }
    | { readonly action: "ls"; readonly filter: WorkflowsFilter }
    | { readonly action: "show" | "watch"; readonly id: string }
    | { readonly action: "cancel"; readonly id: string; readonly reason: string | null }
    | { readonly action: "event"; readonly id: string; readonly name: string; readonly data: unknown }
    | {
        readonly action: "trigger";
        readonly name: string;
        readonly data: Readonly<Record<string, unknown>>;
        readonly team: string | null;
      }
    | { readonly action: "definitions register"; readonly file: string }
    | { readonly action: "definitions ls"; readonly name: string | null }
  );

/** What `juno workflows` does. */
export const WORKFLOW_ACTIONS = [
  "submit",
  "ls",
  "show",
  "watch",
  "cancel",
  "event",
  "trigger",
  "definitions",
] as const;

/** One of WORKFLOW_ACTIONS. */
export type WorkflowAction = (typeof WORKFLOW_ACTIONS)[number];

/** The usage line of `juno workflows`. */
const USAGE =
  "usage: juno workflows submit -f <file> [flags] | ls | show <id> | watch <id> | cancel <id> | " +
  "event <id> <name> | trigger <name> | definitions register -f <file> | definitions ls";

/**
 * Parses the words after `juno workflows` and the environment into a command, or the refusal to
 * print before exiting with 2. Reads nothing but its arguments and the client config file.
 */
export function parseWorkflowsCommand(
  argv: readonly string[],
  env: Environment,
  options: ClientParseOptions = {},
): WorkflowsCommand | UsageError {
  const [action, ...rest] = argv;
  if (action === undefined || action.startsWith("-")) {
    return new ConfigError("missing_required", "workflows", `an action is required: ${USAGE}`);
  }
  if (!isAction(action)) {
    return new ConfigError("unexpected_argument", action, `unknown action ${quote(action)}: ${USAGE}`);
  }
  /** The positional words of this action, then its flags parsed by `table`. */
  const parse = <O extends CommandOptions>(table: CommandSpec<O>, names: readonly string[], flags = rest) => {
    const words = positionalWords(flags, names, `juno ${table.name}`, USAGE, ID_LENGTH_MAX);
    if (words instanceof ConfigError) return words;
    const parsed = parseClientCommand(table, words.flags, env, options);
    if (parsed instanceof Error) return parsed;
    return { words: words.values, values: parsed.values, settings: sharedSettings(parsed) };
  };
  switch (action) {
    case "submit":
      return parseSubmit(rest, env, options);
    case "ls": {
      const parsed = parse(WORKFLOWS_LS_COMMAND, []);
      if (parsed instanceof Error) return parsed;
      const { status, team, name, parent, limit, cursor } = parsed.values;
      return { action, ...parsed.settings, filter: { status, team, name, parent, limit, cursor } };
    }
    case "show":
    case "watch": {
      const parsed = parse(action === "show" ? WORKFLOWS_SHOW_COMMAND : WORKFLOWS_WATCH_COMMAND, ["<id>"]);
      if (parsed instanceof Error) return parsed;
      return { action, id: parsed.words[0] ?? "", ...parsed.settings };
    }
    case "cancel": {
      const parsed = parse(WORKFLOWS_CANCEL_COMMAND, ["<id>"]);
      if (parsed instanceof Error) return parsed;
      return { action, id: parsed.words[0] ?? "", reason: parsed.values.reason, ...parsed.settings };
    }
    case "event": {
      const parsed = parse(WORKFLOWS_EVENT_COMMAND, ["<id>", "<name>"]);
      if (parsed instanceof Error) return parsed;
      const [id = "", name = ""] = parsed.words;
      return { action, id, name, data: parsed.values.data, ...parsed.settings };
    }
    case "trigger": {
      const parsed = parse(WORKFLOWS_TRIGGER_COMMAND, ["<name>"]);
      if (parsed instanceof Error) return parsed;
      return {
        action,
        name: parsed.words[0] ?? "",
        data: parsed.values.data ?? {},
        team: parsed.values.team,
        ...parsed.settings,
      };
    }
    case "definitions":
      return parseDefinitions(rest, env, options);
  }
}

/** The help `juno workflows [<action>] --help` prints: every action's, or one action's. */
export function workflowsHelpText(argv: readonly string[]): string {
  const [action, sub] = argv;
  if (action === "submit") return clientCommandHelpText(WORKFLOWS_SUBMIT_COMMAND, "-f <file> ");
  if (action === "ls") return clientCommandHelpText(WORKFLOWS_LS_COMMAND);
  if (action === "show") return clientCommandHelpText(WORKFLOWS_SHOW_COMMAND, "<id> ");
  if (action === "watch") return clientCommandHelpText(WORKFLOWS_WATCH_COMMAND, "<id> ");
  if (action === "cancel") return clientCommandHelpText(WORKFLOWS_CANCEL_COMMAND, "<id> ");
  if (action === "event") return clientCommandHelpText(WORKFLOWS_EVENT_COMMAND, "<id> <name> ");
  if (action === "trigger") return clientCommandHelpText(WORKFLOWS_TRIGGER_COMMAND, "<name> ");
  if (action === "definitions" && sub === "register")
    return clientCommandHelpText(WORKFLOWS_DEFINITIONS_REGISTER_COMMAND, "-f <file> ");
  if (action === "definitions" && sub === "ls")
    return clientCommandHelpText(WORKFLOWS_DEFINITIONS_LS_COMMAND);
  const lines = [
    USAGE,
    "",
    "actions:",
    ...actionLines([
      ["submit -f <file>", WORKFLOWS_SUBMIT_COMMAND.summary],
      ["ls", WORKFLOWS_LS_COMMAND.summary],
      ["show <id>", WORKFLOWS_SHOW_COMMAND.summary],
      ["watch <id>", WORKFLOWS_WATCH_COMMAND.summary],
      ["cancel <id>", WORKFLOWS_CANCEL_COMMAND.summary],
      ["event <id> <name>", WORKFLOWS_EVENT_COMMAND.summary],
      ["trigger <name>", WORKFLOWS_TRIGGER_COMMAND.summary],
      ["definitions register -f <file>", WORKFLOWS_DEFINITIONS_REGISTER_COMMAND.summary],
      ["definitions ls", WORKFLOWS_DEFINITIONS_LS_COMMAND.summary],
    ]),
    "",
    "juno workflows <action> --help lists the action's own flags.",
    "",
    ...clientOptionsHelp(),
  ];
  return `${lines.join("\n")}\n`;
}

function parseSubmit(
  argv: readonly string[],
  env: Environment,
  options: ClientParseOptions,
): WorkflowsCommand | UsageError {
  const gathered = gatherInputs(respell(argv));
  if (gathered instanceof ConfigError) return gathered;
  const parsed = parseClientCommand(WORKFLOWS_SUBMIT_COMMAND, gathered, env, options);
  if (parsed instanceof Error) return parsed;
  const { values } = parsed;
  if (values.file === null) {
    return new ConfigError("missing_required", "--file", `juno workflows submit needs -f <file>: ${USAGE}`);
  }
  if (values.watch && !values.execute) {
    return new ConfigError(
      "conflicting_settings",
      "--watch",
      "--watch follows a run that runs; with --no-execute it would wait forever",
    );
  }
  const input =
    values.inputJson === null && values.input === null ? null : { ...values.inputJson, ...values.input };
  return {
    action: "submit",
    ...sharedSettings(parsed),
    submit: {
      file: values.file,
      input,
      execute: values.execute,
      team: values.team,
      idempotencyKey: values.idempotencyKey,
    },
    watch: values.watch,
  };
}

function parseDefinitions(
  argv: readonly string[],
  env: Environment,
  options: ClientParseOptions,
): WorkflowsCommand | UsageError {
  const [sub, ...rest] = argv;
  const usage = "usage: juno workflows definitions register -f <file> [flags] | definitions ls [flags]";
  if (sub === "register") {
    const parsed = parseClientCommand(WORKFLOWS_DEFINITIONS_REGISTER_COMMAND, respell(rest), env, options);
    if (parsed instanceof Error) return parsed;
    if (parsed.values.file === null) {
      return new ConfigError(
        "missing_required",
        "--file",
        `juno workflows definitions register needs -f <file>`,
      );
    }
    return { action: "definitions register", file: parsed.values.file, ...sharedSettings(parsed) };
  }
  if (sub === "ls") {
    const parsed = parseClientCommand(WORKFLOWS_DEFINITIONS_LS_COMMAND, rest, env, options);
    if (parsed instanceof Error) return parsed;
    return { action: "definitions ls", name: parsed.values.name, ...sharedSettings(parsed) };
  }
  if (sub === undefined || sub.startsWith("-")) {
    return new ConfigError("missing_required", "definitions", `an action is required: ${usage}`);
  }
  return new ConfigError("unexpected_argument", sub, `unknown action ${quote(sub)}: ${usage}`);
}

/** `-f x` as `--file x`, and `--no-execute` as `--execute=false`, for the table's reader. */
function respell(argv: readonly string[]): readonly string[] {
  return argv.map((word) => (word === "-f" ? "--file" : word === "--no-execute" ? "--execute=false" : word));
}
/**
 * Every --input gathered into one flag, its pairs apart by a NUL, so that the table's reader,
 * which refuses a flag given twice, sees it once; an --input without a value is refused here.
 */
function gatherInputs(argv: readonly string[]): readonly string[] | ConfigError {
  const pairs: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? "";
    if (word !== "--input" && !word.startsWith("--input=")) {
      rest.push(word);
      continue;
    }
    const value = word.includes("=") ? word.slice(word.indexOf("=") + 1) : argv[++i];
    if (value === undefined || value === "" || (!word.includes("=") && value.startsWith("--"))) {
      return new ConfigError("missing_value", "--input", "--input needs a value: --input <key=value>");
    }
    if (value.includes(PAIR_SEPARATOR)) {
      return new ConfigError("unexpected_argument", "--input", "an --input value holds no NUL character");
    }
    pairs.push(value);
  }
  if (pairs.length > 0) rest.push(`--input=${pairs.join(PAIR_SEPARATOR)}`);
  return rest;
}

function isAction(word: string): word is WorkflowAction {
  return (WORKFLOW_ACTIONS as readonly string[]).includes(word);
}
