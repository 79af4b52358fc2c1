/** Reading a subcommand's argument list into flag values, by the rules every juno subcommand shares. */

import { booleanCodec, type Codec } from "./codecs.js";
import { ConfigError, quote } from "./errors.js";

/** What the reader needs of an option: its flag (null when it has none) and its codec. */
export interface FlagOption {
  readonly flag: `--${string}` | null;
  readonly codec: Pick<Codec<unknown>, "placeholder">;
}

/** The text given for each flag, by option. */
export type FlagValues<O extends FlagOption> = ReadonlyMap<O, string>;

/** Whether the arguments ask for help instead of running; each CLI command checks this before parsing. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}

/** Whether an option is a switch (a true/false setting), which never takes the next word as its value. */
export function isSwitch(option: FlagOption): boolean {
  return option.codec === booleanCodec;
}

/**
 * Reads `--flag value` and `--flag=value` for the options of `juno <command>`. A switch never
 * takes the next word, so `--insecure` alone means true and `--insecure=false` is how to say
 * false. A value may not start with "--" unless written with "=", so a forgotten value is
 * reported, not swallowed. Every refusal carries a stable code: unexpected_argument,
 * unknown_flag, duplicate_flag or missing_value.
 */
export function readArgv<O extends FlagOption>(
  options: readonly O[],
  argv: readonly string[],
  command: string,
): FlagValues<O> | ConfigError {
  const byFlag = flagIndex(options);
  const values = new Map<O, string>();
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? "";
    if (!word.startsWith("--")) {
      const previous = byFlag.get(argv[i - 1] ?? "");
      const hint = previous !== undefined && isSwitch(previous) ? `; write ${argv[i - 1]}=${word}` : "";
      return new ConfigError(
        "unexpected_argument",
        word,
        `unexpected argument ${quote(word)}: every setting is a --flag${hint} (see juno ${command} --help)`,
      );
    }
    const equals = word.indexOf("=");
    const flag = equals < 0 ? word : word.slice(0, equals);
    const option = byFlag.get(flag);
    if (option === undefined) {
      return new ConfigError("unknown_flag", flag, `unknown flag ${flag} (see juno ${command} --help)`);
    }
    if (values.has(option)) {
      return new ConfigError("duplicate_flag", flag, `${flag} is given twice; give it once`);
    }
    let value: string | undefined;
    if (equals >= 0) value = word.slice(equals + 1);
    else if (isSwitch(option)) value = "true";
    else if (argv[i + 1] !== undefined && !(argv[i + 1] ?? "").startsWith("--")) value = argv[++i];
    if (value === undefined || value.trim() === "") {
      return new ConfigError(
        "missing_value",
        flag,
        `${flag} needs a value: ${flag} <${option.codec.placeholder}>`,
      );
    }
    values.set(option, value);
  }
  return values;
}

/** The options by flag; a flag twice in one table is a bug in the table, so it throws. */
function flagIndex<O extends FlagOption>(options: readonly O[]): ReadonlyMap<string, O> {
  const byFlag = new Map<string, O>();
  for (const option of options) {
    if (option.flag === null) continue;
    if (byFlag.has(option.flag)) throw new Error(`option table names ${option.flag} twice`);
    byFlag.set(option.flag, option);
  }
  return byFlag;
}
