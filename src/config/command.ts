/**
 * Subcommands declared as a small option table (flag, optional variable, codec, default, meaning)
 * and parsed by the same rules as `juno start`: the same argument reader, the same precedence of
 * flag over variable over default, the same error codes, and help generated from the table.
 */

import { readArgv } from "./argv.js";
import { ConfigError } from "./errors.js";
import {
  literalDefault,
  readOptionValue,
  type Environment,
  type OptionDefault,
  type OptionSpec,
} from "./option-spec.js";

/**
 * One row of a subcommand's table. `D` is the kind of default: a literal default (text the codec
 * reads) gives a value that is always set; a derived one (`{ derived: "..." }`, saying what the
 * command does instead) gives null when neither the flag nor the variable is given.
 */
export interface CommandOption<T, D extends OptionDefault = OptionDefault> extends OptionSpec<T> {
  readonly default: D;
}

/** A subcommand's table: its options by the name the command's code reads them under. */
export type CommandOptions = Readonly<Record<string, CommandOption<unknown>>>;

/** The values a table parses to: each option's codec type, or that or null when its default is derived. */
export type CommandValues<O extends CommandOptions> = {
  readonly [K in keyof O]: O[K] extends CommandOption<infer T, infer D>
    ? D extends string
      ? T
      : T | null
    : never;
};

/** A subcommand: its name, what it does, and its table. */
export interface CommandSpec<O extends CommandOptions = CommandOptions> {
  /** The word after `juno`: "dev", "status". */
  readonly name: string;
  /** What the subcommand does, a few sentences; its help prints it under the usage line. */
  readonly summary: string;
  /** The options, in help order. */
  readonly options: O;
}

/** Declares a subcommand; the identity, so that TypeScript infers each option's value type from its codec. */
export function defineCommand<O extends CommandOptions>(command: CommandSpec<O>): CommandSpec<O> {
  return command;
}

/**
 * Parses a subcommand's arguments (after its name) and the environment by `juno start`'s rules: a
 * flag wins over its variable, a variable over the default, an empty variable counts as unset.
 * Pure: it reads nothing but its arguments.
 */
export function parseCommand<O extends CommandOptions>(
  command: CommandSpec<O>,
  argv: readonly string[],
  env: Environment,
): CommandValues<O> | ConfigError {
  const rows: [string, CommandOption<unknown>][] = Object.entries(command.options);
  const flags = readArgv(
    rows.map(([, option]) => option),
    argv,
    command.name,
  );
  if (flags instanceof ConfigError) return flags;
  const values = new Map<string, unknown>();
  for (const [name, option] of rows) {
    const value = readOptionValue(option, flags.get(option), env);
    if (value instanceof ConfigError) return value;
    values.set(name, value ?? literalDefault(option) ?? null);
  }
  // Every name of the table is set, each to a value of its own row's codec or to null where the
  // row's default is derived, which is what CommandValues says.
  return Object.fromEntries(values) as CommandValues<O>;
}

/** The line a subcommand prints on stderr when it refuses its arguments, before exiting with 2. */
export function refusalText(command: string, error: ConfigError): string {
  return `juno ${command}: error [${error.code}]: ${error.message}\n`;
}
