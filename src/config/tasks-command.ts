/**
 * `juno tasks submit | ls | show <id> | cancel <id> | metrics`: their option tables and the parser
 * that turns the words after `tasks` into a typed command. The shared client options are every
 * client command's (src/config/client-options.ts); --skill repeats, each one a skill the task needs.
 */

import { TASK_STATUSES, type TaskStatus } from "../client/types.js";
import { wordCodec } from "./agents-command.js";
import {
  parseClientCommand,
  positionalWords,
  sharedSettings,
  type ClientParseOptions,
  type ClientSettings,
  type UsageError,
} from "./client-options.js";
import { booleanCodec, choiceCodec, integerCodec, secondsCodec, type Codec } from "./codecs.js";
import { defineCommand } from "./command.js";
import { ConfigError, Invalid, quote } from "./errors.js";
import { actionLines, clientCommandHelpText, clientOptionsHelp } from "./help.js";
import type { Environment } from "./option-spec.js";

/** What `juno tasks` does. */
export const TASK_ACTIONS = ["submit", "ls", "show", "cancel", "metrics"] as const;

/** One of TASK_ACTIONS. */
export type TaskAction = (typeof TASK_ACTIONS)[number];

/** The largest --data accepted, in characters: the server keeps at most 64 KiB of JSON. */
export const TASK_DATA_LENGTH_MAX = 64 * 1024;

/** The most skills one task may ask for, the server's bound. */
export const TASK_SKILLS_MAX = 64;

/** The longest id accepted; ids are UUIDs. */
const ID_LENGTH_MAX = 64;

/** Any JSON value, written as JSON text. */
const jsonCodec: Codec<unknown> = {
  placeholder: "json",
  parse(text) {
    if (text.length > TASK_DATA_LENGTH_MAX) {
      return new Invalid("out_of_range", `expected at most ${TASK_DATA_LENGTH_MAX} characters of JSON`);
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

/** A skill, as the server allows it: a letter or digit, then letters, digits and . _ : / -. */
const SKILL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$/;

/** Skills, comma-separated (every --skill flag gathered into one). */
const skillsCodec: Codec<readonly string[]> = {
  placeholder: "skill",
  parse(text) {
    const skills: string[] = [];
    for (const skill of text.split(",")) {
      if (!SKILL_PATTERN.test(skill)) {
        return new Invalid(
          "unexpected_argument",
          `expected a skill of letters, digits and . _ : / - (at most 100), got ${quote(skill)}`,
        );
      }
      if (!skills.includes(skill)) skills.push(skill);
    }
    return skills.length <= TASK_SKILLS_MAX
      ? skills
      : new Invalid("out_of_range", `expected at most ${TASK_SKILLS_MAX} skills, got ${skills.length}`);
  },
  format: (skills) => skills.join(","),
};

/** `juno tasks submit`. */
export const TASKS_SUBMIT_COMMAND = defineCommand({
  name: "tasks submit",
  summary:
    "Submits a task. It is placed on an agent that has every --skill, or waits queued, saying why. " +
    "With --wait, follows it until it is finished (on a terminal, with progress lines on stderr), " +
    "and exits 0 only when it succeeded.",
  options: {
    taskType: {
      flag: "--type",
      env: null,
      default: { derived: "required" },
      meaning: "The task type; the agent runs the handler of this type.",
      codec: wordCodec("type"),
    },
    team: {
      flag: "--team",
      env: null,
      default: { derived: "required" },
      meaning: "The team asking; fair sharing and queue bounds are by this team.",
      codec: wordCodec("team"),
    },
    priority: {
      flag: "--priority",
      env: null,
      default: { derived: "5, the server's default" },
      meaning: "0 to 9, higher first.",
      codec: integerCodec(0, 9, ""),
    },
    data: {
      flag: "--data",
      env: null,
      default: { derived: "null" },
      meaning: "The task's input, as JSON.",
      codec: jsonCodec,
    },
    skills: {
      flag: "--skill",
      env: null,
      default: { derived: "any agent" },
      meaning: "A skill the agent must have; repeat the flag for several.",
      codec: skillsCodec,
    },
    idempotencyKey: {
      flag: "--idempotency-key",
      env: null,
      default: { derived: "a fresh UUID, so that the command's own retries never make a second task" },
      meaning: "Submitting the same key again (from the same team) answers the task it made the first time.",
      codec: wordCodec("key"),
    },
    wait: {
      flag: "--wait",
      env: null,
      default: "false",
      meaning:
        "Follow the task until it is finished, then print how it ended; on a terminal, each change " +
        "shows on stderr meanwhile.",
      codec: booleanCodec,
    },
    waitTimeoutMs: {
      flag: "--wait-timeout",
      env: null,
      default: "600",
      unit: "s",
      meaning: "How long --wait follows the task before giving up (the task goes on).",
      codec: secondsCodec(1_000, 7 * 86_400_000),
    },
  },
});

/** `juno tasks ls`. */
export const TASKS_LS_COMMAND = defineCommand({
  name: "tasks ls",
  summary:
    "Prints how many tasks are in each status, and one page of tasks, oldest first, optionally only " +
    "those in a status, of a team, on an agent, of a type or of a workflow.",
  options: {
    status: {
      flag: "--status",
      env: null,
      default: { derived: "any status" },
      meaning: `Only tasks in this status: ${TASK_STATUSES.join(", ")}.`,
      // No code of the catalog names an unknown status; it is a value outside the allowed ones.
      codec: choiceCodec(TASK_STATUSES, "out_of_range", "status"),
    },
    team: {
      flag: "--team",
      env: null,
      default: { derived: "every team" },
      meaning: "Only tasks this team submitted.",
      codec: wordCodec("team"),
    },
    agent: {
      flag: "--agent",
      env: null,
      default: { derived: "any agent" },
      meaning: "Only tasks this agent holds.",
      codec: wordCodec("id"),
    },
    taskType: {
      flag: "--type",
      env: null,
      default: { derived: "any type" },
      meaning: "Only tasks of this type.",
      codec: wordCodec("type"),
    },
    workflow: {
      flag: "--workflow",
      env: null,
      default: { derived: "any workflow" },
      meaning: "Only tasks of this workflow.",
      codec: wordCodec("id"),
    },
    limit: {
      flag: "--limit",
      env: null,
      default: { derived: "100, the server's default" },
      meaning: "Tasks on the page, 1 to 500.",
      codec: integerCodec(1, 500, "tasks"),
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

/** `juno tasks show <id>`. */
export const TASKS_SHOW_COMMAND = defineCommand({
  name: "tasks show",
  summary:
    "Shows one task: its status and why it waits, its attempts and agents, its data, result and error.",
  options: {},
});

/** `juno tasks cancel <id>`. */
export const TASKS_CANCEL_COMMAND = defineCommand({
  name: "tasks cancel",
  summary: "Cancels a task that has not finished. A running task's agent hears of it on its next poll.",
  options: {},
});

/** `juno tasks metrics`. */
export const TASKS_METRICS_COMMAND = defineCommand({
  name: "tasks metrics",
  summary:
    "Shows the queue (depth by priority and team, the oldest waiting task), running tasks by team, " +
    "and each agent's load and circuit breaker.",
  options: {},
});

/** What `juno tasks submit` sends. */
export interface SubmitSpec {
  readonly taskType: string;
  readonly team: string;
  readonly priority: number | null;
  /** The parsed --data; null when none was given (the server's default too). */
  readonly data: unknown;
  readonly skills: readonly string[];
  readonly idempotencyKey: string | null;
}

/** The filters of `juno tasks ls`; null where none is given. */
export interface TasksFilter {
  readonly status: TaskStatus | null;
  readonly team: string | null;
  readonly agent: string | null;
  readonly taskType: string | null;
  readonly workflow: string | null;
  readonly limit: number | null;
  readonly cursor: string | null;
}

/** A parsed `juno tasks` command. */
export type TasksCommand = ClientSettings &
  (
    | {
        readonly action: "submit";
        readonly submit: SubmitSpec;
        /** How long to follow the task, or null without --wait. */
        readonly waitMs: number | null;
      }
    | { readonly action: "ls"; readonly filter: TasksFilter }
    | { readonly action: "show" | "cancel"; readonly id: string }
    | { readonly action: "metrics" }
  );

/** The usage line of `juno tasks`. */
const USAGE =
  "usage: juno tasks submit [flags] | ls [flags] | show <id> [flags] | cancel <id> [flags] | metrics [flags]";

/**
 * Parses the words after `juno tasks` and the environment into a command, or the refusal to
 * print before exiting with 2. Reads nothing but its arguments and the client config file.
 */
export function parseTasksCommand(
  argv: readonly string[],
  env: Environment,
  options: ClientParseOptions = {},
): TasksCommand | UsageError {
  const [action, ...rest] = argv;
  if (action === undefined || action.startsWith("--")) {
    return new ConfigError("missing_required", "tasks", `an action is required: ${USAGE}`);
  }
  if (!isAction(action)) {
    return new ConfigError("unexpected_argument", action, `unknown action ${quote(action)}: ${USAGE}`);
  }
  switch (action) {
    case "submit":
      return parseSubmit(rest, env, options);
    case "ls": {
      const parsed = parseClientCommand(TASKS_LS_COMMAND, rest, env, options);
      if (parsed instanceof Error) return parsed;
      const { status, team, agent, taskType, workflow, limit, cursor } = parsed.values;
      return {
        action,
        ...sharedSettings(parsed),
        filter: { status, team, agent, taskType, workflow, limit, cursor },
      };
    }
    case "metrics": {
      const parsed = parseClientCommand(TASKS_METRICS_COMMAND, rest, env, options);
      if (parsed instanceof Error) return parsed;
      return { action, ...sharedSettings(parsed) };
    }
    case "show":
    case "cancel": {
      const words = positionalWords(rest, ["<id>"], `juno tasks ${action}`, USAGE, ID_LENGTH_MAX);
      if (words instanceof ConfigError) return words;
      const table = action === "show" ? TASKS_SHOW_COMMAND : TASKS_CANCEL_COMMAND;
      const parsed = parseClientCommand(table, words.flags, env, options);
      if (parsed instanceof Error) return parsed;
      return { action, id: words.values[0] ?? "", ...sharedSettings(parsed) };
    }
  }
}

/** The help `juno tasks [<action>] --help` prints: every action's, or one action's. */
export function tasksHelpText(argv: readonly string[]): string {
  const action = argv[0];
  if (action === "submit") return clientCommandHelpText(TASKS_SUBMIT_COMMAND);
  if (action === "ls") return clientCommandHelpText(TASKS_LS_COMMAND);
  if (action === "metrics") return clientCommandHelpText(TASKS_METRICS_COMMAND);
  if (action === "show") return clientCommandHelpText(TASKS_SHOW_COMMAND, "<id> ");
  if (action === "cancel") return clientCommandHelpText(TASKS_CANCEL_COMMAND, "<id> ");
  const lines = [
    USAGE,
    "",
    "actions:",
    ...actionLines([
      ["submit", TASKS_SUBMIT_COMMAND.summary],
      ["ls", TASKS_LS_COMMAND.summary],
      ["show <id>", TASKS_SHOW_COMMAND.summary],
      ["cancel <id>", TASKS_CANCEL_COMMAND.summary],
      ["metrics", TASKS_METRICS_COMMAND.summary],
    ]),
    "",
    "juno tasks <action> --help lists the action's own flags.",
    "",
    ...clientOptionsHelp(),
  ];
  return `${lines.join("\n")}\n`;
}

function parseSubmit(
  argv: readonly string[],
  env: Environment,
  options: ClientParseOptions,
): TasksCommand | UsageError {
  const gathered = gatherSkills(argv);
  if (gathered instanceof ConfigError) return gathered;
  const parsed = parseClientCommand(TASKS_SUBMIT_COMMAND, gathered, env, options);
  if (parsed instanceof Error) return parsed;
  const { values } = parsed;
  for (const [name, flag] of [
    ["taskType", "--type"],
    ["team", "--team"],
  ] as const) {
    if (values[name] === null) {
      return new ConfigError("missing_required", flag, `juno tasks submit needs ${flag}: ${USAGE}`);
    }
  }
  return {
    action: "submit",
    ...sharedSettings(parsed),
    submit: {
      taskType: values.taskType ?? "",
      team: values.team ?? "",
      priority: values.priority,
      data: values.data,
      skills: values.skills ?? [],
      idempotencyKey: values.idempotencyKey,
    },
    waitMs: values.wait ? values.waitTimeoutMs : null,
  };
}

/**
 * Every --skill gathered into one `--skill=a,b`, so that the table's reader, which refuses a
 * flag given twice, sees it once; a --skill without a value is refused here.
 */
function gatherSkills(argv: readonly string[]): readonly string[] | ConfigError {
  const skills: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? "";
    if (word !== "--skill" && !word.startsWith("--skill=")) {
      rest.push(word);
      continue;
    }
    const value = word.includes("=") ? word.slice(word.indexOf("=") + 1) : argv[++i];
    if (value === undefined || value.trim() === "" || (!word.includes("=") && value.startsWith("--"))) {
      return new ConfigError("missing_value", "--skill", "--skill needs a value: --skill <skill>");
    }
    skills.push(value);
  }
  if (skills.length > 0) rest.push(`--skill=${skills.join(",")}`);
  return rest;
}

function isAction(word: string): word is TaskAction {
  return (TASK_ACTIONS as readonly string[]).includes(word);
}
