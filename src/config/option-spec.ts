/**
 * What every row of every subcommand's option table says, and how one row's value is read. The
 * `juno start` table (option-table.ts) and the small tables of `juno dev` and `juno status` share
 * it, so every subcommand reads flags, variables and defaults by the same rules.
 */

import type { Codec } from "./codecs.js";
import { ConfigError, Invalid } from "./errors.js";

/** The environment as the parsers see it; pass `process.env`. */
export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * An option's default: its text, read by the codec like any other value (so the documented
 * default is the real one), or for a value with no literal default the rule that decides it.
 */
export type OptionDefault = string | { readonly derived: string };

/** One option of a subcommand: how it is given, read, defaulted and documented. */
export interface OptionSpec<T = unknown> {
  /** The flag, or null for secrets: a flag would show the secret in every process listing. */
  readonly flag: `--${string}` | null;
  /** The environment variable that also sets it, or null when only the flag does. */
  readonly env: string | null;
  readonly default: OptionDefault;
  /** The unit the value is written in ("ms", "s", "entries"), or "" (the same as absent) when it has none. */
  readonly unit?: string;
  /** What the option does, one or two sentences. */
  readonly meaning: string;
  /**
   * Null (or absent) when the option does what `meaning` says. Otherwise the option is parsed and
   * checked but has no effect yet, and this names the work that will make it real, such as
   * "agents (issue 8)"; help and the README say so next to the meaning.
   */
  readonly reserved?: string | null;
  readonly codec: Codec<T>;
}

/** How messages name an option without knowing where its value came from: `--http (JUNO_HTTP_ADDR)`. */
export function optionLabel(option: Pick<OptionSpec, "flag" | "env">): string {
  if (option.flag === null) return option.env ?? "(unnamed option)";
  return option.env === null ? option.flag : `${option.flag} (${option.env})`;
}

/**
 * The option's value from its flag text or else its variable; undefined when neither is given.
 * An empty variable counts as unset, because compose files and shell scripts often declare
 * variables they leave blank; surrounding whitespace is ignored. A refusal names the flag when
 * the value came from the flag, else the variable.
 */
export function readOptionValue<T>(
  option: OptionSpec<T>,
  flagText: string | undefined,
  env: Environment,
): T | undefined | ConfigError {
  const envText = option.env === null ? undefined : env[option.env];
  const [source, text] =
    flagText !== undefined
      ? [option.flag ?? optionLabel(option), flagText]
      : [option.env ?? optionLabel(option), envText ?? ""];
  if (text.trim() === "") return undefined;
  const value = option.codec.parse(text.trim());
  return value instanceof Invalid ? new ConfigError(value.code, source, `${source}: ${value.reason}`) : value;
}

/** The option's documented default, read by its own codec; undefined for a derived default. */
export function literalDefault<T>(option: OptionSpec<T>): T | undefined {
  if (typeof option.default !== "string") return undefined;
  const value = option.codec.parse(option.default);
  // A default the codec refuses is a bug in the table, not a user error; the tests parse them all.
  if (value instanceof Invalid) {
    throw new Error(`default of ${optionLabel(option)} is invalid: ${value.reason}`);
  }
  return value;
}
