/** Every subcommand's `--help` and the README's configuration tables, all generated from option tables. */

import { isSwitch } from "./argv.js";
import { CLI_ERROR_CODES } from "./cli-errors.js";
import { CLIENT_OPTIONS } from "./client-options.js";
import type { CommandSpec } from "./command.js";
import { CONFIG_ERROR_CODES } from "./errors.js";
import type { OptionSpec } from "./option-spec.js";
import { OPTIONS, type OptionGroup } from "./option-table.js";

const GROUP_TITLES: Record<OptionGroup, string> = {
  node: "Node",
  tls: "TLS (the HTTP API and the peer transport)",
  raft: "Raft (the seed's consensus variables)",
  discovery: "Service discovery",
  faults: "Fault tolerance",
  phase: "Phase and features",
};

/** The words that mark a setting which is parsed and checked but does nothing yet. */
export const RESERVED_PREFIX = "Reserved, no effect yet:";

const WIDTH = 100;
const INDENT = "      ";

/** The text `juno start --help` prints. */
export function helpText(): string {
  const lines = [
    "usage: juno start [flags]",
    "",
    ...wrap(
      "Runs one juno node. Every setting is a flag or an environment variable; a flag wins over its " +
        "variable, a variable over the default. Secrets are read only from the environment, so they " +
        "never show in a process listing. A node listening beyond loopback refuses to start without " +
        "JUNO_API_TOKEN and TLS (--tls-cert, for HTTP) and JUNO_CLUSTER_SECRET and peer TLS " +
        "(--peer-tls-ca, for Raft) unless --insecure is given. A setting " +
        `marked "${RESERVED_PREFIX} ..." is read and checked, so deployments that set it keep ` +
        "starting, but does nothing until the named work lands.",
      "",
    ),
  ];
  for (const group of Object.keys(GROUP_TITLES) as OptionGroup[]) {
    lines.push("", `${GROUP_TITLES[group]}:`);
    for (const option of OPTIONS.filter((candidate) => candidate.group === group)) {
      lines.push(...optionHelp(option));
    }
  }
  return `${lines.join("\n")}\n`;
}

/** The text `juno <command> --help` prints for a subcommand declared with defineCommand. */
export function commandHelpText(command: CommandSpec): string {
  const lines = [`usage: juno ${command.name} [flags]`, "", ...wrap(command.summary, ""), "", "Settings:"];
  for (const option of Object.values(command.options)) lines.push(...optionHelp(option));
  return `${lines.join("\n")}\n`;
}

/** The heading the shared client options go under, in every client command's help. */
export const CLIENT_OPTIONS_TITLE =
  "Client options (every status, members, agents, tasks, workflows, tokens and audit command)";

/**
 * The help of one client command (`juno agents ls`): its usage (`words` are its positional
 * arguments, "<id> "), summary and own flags, then the shared client options once.
 */
export function clientCommandHelpText(command: CommandSpec, words = ""): string {
  const lines = [`usage: juno ${command.name} ${words}[flags]`, "", ...wrap(command.summary, "")];
  const own = Object.values(command.options);
  if (own.length > 0) {
    lines.push("", "Flags:");
    for (const option of own) lines.push(...optionHelp(option));
  }
  lines.push("", ...clientOptionsHelp());
  return `${lines.join("\n")}\n`;
}

/** The shared client options under their heading, then the exit codes: the tail of every client command's help. */
export function clientOptionsHelp(): string[] {
  const lines = [`${CLIENT_OPTIONS_TITLE}:`];
  lines.push(
    ...wrap(
      "Each is taken from its flag, else its variable, else the config file (the context chosen, " +
        "then the file's top level), else its default.",
      "  ",
    ),
  );
  for (const option of Object.values(CLIENT_OPTIONS)) lines.push(...optionHelp(option));
  lines.push(
    "",
    ...wrap(
      "Exit codes: 0 done; 1 the cluster refused or could not be reached, or what was waited for " +
        "failed or did not happen in time; 2 the command, a variable or the config file is wrong; 3 " +
        "the agent, task, workflow or member named does not exist.",
      "",
    ),
  );
  return lines;
}

/** Lines that list actions (or commands) with what each does, names padded to one width and text wrapped. */
export function actionLines(actions: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...actions.map(([name]) => name.length)) + 2;
  return actions.flatMap(([name, text]) => {
    const [first = "", ...rest] = wrap(text, " ".repeat(width + 2));
    return [`  ${name.padEnd(width)}${first.trimStart()}`, ...rest];
  });
}

/** The lines help prints for one option: how it is written, then what it does and its default. */
export function optionHelp(option: OptionSpec): string[] {
  return [`  ${usage(option)}`, ...wrap(`${description(option)} Default: ${defaultText(option)}.`, INDENT)];
}

/** The README's table of settings, in Markdown. */
export function markdownOptionsTable(): string {
  return markdownTable(
    ["Flag", "Variable", "Default", "Unit", "Meaning"],
    OPTIONS.map((option) => [
      option.flag === null ? "(variable only)" : code(option.flag),
      code(option.env),
      typeof option.default === "string" ? code(option.default) : prose(option.default.derived),
      option.unit,
      prose(description(option)),
    ]),
  );
}

/** The README's table of the client commands' own error codes, in Markdown. */
export function markdownCliErrorCodesTable(): string {
  return markdownTable(
    ["Code", "Meaning"],
    Object.entries(CLI_ERROR_CODES).map(([errorCode, meaning]) => [code(errorCode), prose(meaning)]),
  );
}

/** The README's table of the client options, in Markdown. */
export function markdownClientOptionsTable(): string {
  return markdownTable(
    ["Flag", "Variable", "Default", "Meaning"],
    Object.values(CLIENT_OPTIONS).map((option) => [
      option.flag === null ? "(variable only)" : code(option.flag),
      option.env === null ? "" : code(option.env),
      typeof option.default === "string" ? code(option.default) : prose(option.default.derived),
      prose(description(option)),
    ]),
  );
}

/** The README's table of configuration error codes, in Markdown. */
export function markdownErrorCodesTable(): string {
  return markdownTable(
    ["Code", "Meaning"],
    Object.entries(CONFIG_ERROR_CODES).map(([errorCode, meaning]) => [code(errorCode), prose(meaning)]),
  );
}

/** What the option does, led by the reserved mark when it does nothing yet. */
function description(option: OptionSpec): string {
  const reserved = option.reserved ?? null;
  return reserved === null ? option.meaning : `${RESERVED_PREFIX} ${reserved}. ${option.meaning}`;
}

/** How the option is written: flag and variable, the flag alone, or the variable alone for a secret. */
function usage(option: OptionSpec): string {
  const variable = option.env === null ? null : `${option.env}=<${option.codec.placeholder}>`;
  if (option.flag === null) return `${variable ?? ""}  (variable only)`;
  // A switch's value is optional and attached with "=".
  const flag = isSwitch(option)
    ? `${option.flag}[=true|false]`
    : `${option.flag} <${option.codec.placeholder}>`;
  return variable === null ? flag : `${flag}  or  ${variable}`;
}

/** The default as help shows it, with its unit. */
function defaultText(option: OptionSpec): string {
  if (typeof option.default !== "string") return option.default.derived;
  if (option.default === "") return "none";
  const unit = option.unit ?? "";
  return unit === "" ? option.default : `${option.default} ${unit}`;
}

/** Words of `text` in lines of at most WIDTH characters (unless one word is longer), each starting with `indent`. */
function wrap(text: string, indent: string): string[] {
  const lines: string[] = [];
  let line = indent;
  for (const word of text.split(" ")) {
    if (line.length > indent.length && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = indent;
    }
    line += line.length > indent.length ? ` ${word}` : word;
  }
  lines.push(line);
  return lines;
}

/** A Markdown table. */
function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const row = (cells: readonly string[]): string => `| ${cells.join(" | ")} |`;
  return [row(header), row(header.map(() => "---")), ...rows.map(row)].join("\n");
}

/** Text as a Markdown code span inside a table cell. */
function code(text: string): string {
  return `\`${text.replaceAll("|", "\\|")}\``;
}

/** Text as Markdown prose inside a table cell; "<id>" would otherwise vanish as an HTML tag. */
function prose(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("<", "\\<");
}
