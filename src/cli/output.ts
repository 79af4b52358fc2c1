/**
 * How every client command writes: data on stdout (a table, or one JSON document with --json, or
 * a line of JSON per update for watches), and on stderr only errors, hints and progress. A
 * failure is printed in one place, here, which also decides the exit code:
 *
 *   0  done (for a wait: what was waited for happened, a task or run succeeded)
 *   1  the cluster refused or could not be reached; a followed task or run failed or was
 *      cancelled; a wait ran out (wait_timeout)
 *   2  the command cannot run as given: arguments, variables, the config file, a definition file
 *   3  what the command names does not exist (an answer of 404; member_not_found)
 *
 * With --json a failure is `{"error": {"code", "message", ...}}` on one line of stderr, the API's
 * own error shape; otherwise `juno <command>: error [code]: message`.
 */

import { JunoApiError } from "../client/index.js";
import { CliError, type CliErrorCode } from "../config/cli-errors.js";
import { ConfigError } from "../config/index.js";

/** One of the streams a command writes to; `isTTY` says whether it is a terminal (tests set it). */
export interface OutputStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Where a command writes: process.stdout and process.stderr, or a test's buffers. */
export interface CommandIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
}

/** The process's own streams. */
export function processIo(): CommandIo {
  return { stdout: process.stdout, stderr: process.stderr };
}

/** The exit codes of every client command. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  notFound: 3,
} as const;

/** The exit code of each of the CLI's own error codes. */
const CLI_ERROR_EXITS: Readonly<Record<CliErrorCode, number>> = {
  bad_config_file: EXIT.usage,
  unknown_context: EXIT.usage,
  unreadable_file: EXIT.usage,
  member_not_found: EXIT.notFound,
  wait_timeout: EXIT.failed,
};

/** What is known of the command when it fails: its name for messages, whether it prints JSON, and where its nodes came from. */
export interface FailureContext {
  /** `juno agents show`, or `juno agents` for a refusal of the arguments. */
  readonly command: string;
  readonly json: boolean;
  /** Where the node list came from ("--nodes", a config file), said when no node answered. */
  readonly origin?: string;
}

/**
 * Prints a failure on stderr and answers the exit code. Anything but a refusal of the settings,
 * a CLI error or an API error is a bug, and is thrown on.
 */
export function reportFailure(io: CommandIo, context: FailureContext, error: unknown): number {
  const failure = describeFailure(error, context.origin ?? null);
  if (failure === null) throw error;
  if (context.json) {
    io.stderr.write(`${JSON.stringify({ error: failure.body })}\n`);
  } else {
    io.stderr.write(`${context.command}: error [${failure.body.code}]: ${printable(failure.body.message)}\n`);
    io.stderr.write(failure.details);
  }
  return failure.exit;
}

/** A failure as printed: the error body, extra lines for the text form, and the exit code. */
interface Failure {
  readonly body: { readonly code: string; readonly message: string } & Record<string, unknown>;
  readonly details: string;
  readonly exit: number;
}

function describeFailure(error: unknown, origin: string | null): Failure | null {
  if (error instanceof ConfigError) {
    return {
      body: { code: error.code, message: error.message, source: error.source },
      details: "",
      exit: EXIT.usage,
    };
  }
  if (error instanceof CliError) {
    return {
      body: { code: error.code, message: error.message, source: error.source },
      details: "",
      exit: CLI_ERROR_EXITS[error.code],
    };
  }
  if (error instanceof JunoApiError) {
    const unanswered = error.code === "unreachable" || error.code === "timeout";
    const where = unanswered && origin !== null ? ` (the nodes come from ${origin})` : "";
    return {
      body: { ...error.details, code: error.code, message: `${error.message}${where}` },
      details: problemsOf(error),
      exit: error.status === 404 ? EXIT.notFound : EXIT.failed,
    };
  }
  return null;
}

/** The problems of a 422 invalid_definition, a line each with the JSON pointer of the field; "" otherwise. */
function problemsOf(error: JunoApiError): string {
  const problems = error.details["errors"];
  if (!Array.isArray(problems)) return "";
  return problems
    .map((problem: unknown) => {
      const { code, path, message } = (problem ?? {}) as Record<string, unknown>;
      return `  ${printable(String(path) || "/")}: ${printable(String(message))} [${printable(String(code))}]\n`;
    })
    .join("");
}

/** One JSON document, as --json prints it on stdout. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** One line of JSON, as watches print each update with --json (NDJSON). */
export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

/** Cells longer than this are cut in tables (ids never are), so one odd name cannot wreck the layout. */
export const CELL_LENGTH_MAX = 40;

/** The longest JSON shown on one line of a human view; --json prints all of it. */
const JSON_TEXT_LENGTH_MAX = 2_000;

/**
 * Text from the cluster with control characters replaced: agents name themselves, and a name
 * carrying terminal escapes must not rewrite the operator's screen.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}

/** A table cell: printable, and cut to CELL_LENGTH_MAX characters. */
export function cell(text: string): string {
  const shown = printable(text);
  return shown.length > CELL_LENGTH_MAX ? `${shown.slice(0, CELL_LENGTH_MAX - 3)}...` : shown;
}

/** A JSON value on one printable line, cut to JSON_TEXT_LENGTH_MAX characters. */
export function jsonText(value: unknown): string {
  const text = JSON.stringify(value) ?? "null";
  return printable(
    text.length > JSON_TEXT_LENGTH_MAX ? `${text.slice(0, JSON_TEXT_LENGTH_MAX - 3)}...` : text,
  );
}

/** Rows under a header, columns padded to their widest cell (the last one is not padded), one line each. */
export function tableLines(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((text, column) => (column === cells.length - 1 ? text : text.padEnd(widths[column] ?? 0)))
      .join("  ");
  return [header, ...rows].map(line);
}

/** A table as text, each line ended. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return `${tableLines(header, rows).join("\n")}\n`;
}

/** Fields as `name  value` lines, names padded to one width, values printable. */
export function fieldLines(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([name]) => name.length));
  return `${fields.map(([name, value]) => `${name.padEnd(width)}  ${printable(value)}`).join("\n")}\n`;
}

/** Counts as "a 2, b 1" in the order of `names`, leaving out zeros; "none" when all are zero. */
export function countsText(
  names: readonly string[],
  counts: Readonly<Record<string, number | undefined>>,
): string {
  const shown = names.filter((name) => (counts[name] ?? 0) > 0).map((name) => `${name} ${counts[name] ?? 0}`);
  return shown.length === 0 ? "none" : shown.join(", ");
}
