/** Every subcommand's `--help` and the README's configuration tables, all generated from option tables. */

import { isSwitch } from "./argv.js";
import type { CommandSpec } from "./command.js";
import { CONFIG_ERROR_CODES } from "./errors.js";
import type { OptionSpec } from "./option-spec.js";
import { OPTIONS, type OptionGroup } from "./option-table.js";

const GROUP_TITLES: Record<OptionGroup, string> = {
  node: "Node",
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
        "JUNO_API_TOKEN (HTTP) and JUNO_CLUSTER_SECRET (Raft) unless --insecure is given. A setting " +
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
