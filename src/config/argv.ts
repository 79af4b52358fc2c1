/** Reading `juno start`'s argument list into flag values. */

import { booleanCodec } from "./codecs.js";
import { ConfigError, quote } from "./errors.js";
import { OPTIONS, type AnyOptionDescriptor } from "./option-table.js";

/** The text given for each flag, by setting. */
export type FlagValues = ReadonlyMap<AnyOptionDescriptor, string>;

const BY_FLAG = new Map<string, AnyOptionDescriptor>(
  OPTIONS.flatMap((option) => (option.flag === null ? [] : [[option.flag, option] as const])),
);

/** Whether the arguments ask for help instead of a node; the CLI checks this before parsing. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}

/**
 * Reads `--flag value` and `--flag=value`. A switch (a true/false setting) never takes the next
 * word, so `--insecure` alone means true and `--insecure=false` is how to say false. A value may
 * not start with "--" unless written with "=", so a forgotten value is reported, not swallowed.
 */
export function readArgv(argv: readonly string[]): FlagValues | ConfigError {
  const values = new Map<AnyOptionDescriptor, string>();
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? "";
    if (!word.startsWith("--")) {
      const hint =
        i > 0 && BY_FLAG.get(argv[i - 1] ?? "")?.codec === booleanCodec
          ? `; write ${argv[i - 1]}=${word}`
          : "";
      return new ConfigError(
        "unexpected_argument",
        word,
        `unexpected argument ${quote(word)}: every setting is a --flag${hint} (see juno start --help)`,
      );
    }
    const equals = word.indexOf("=");
    const flag = equals < 0 ? word : word.slice(0, equals);
    const option = BY_FLAG.get(flag);
    if (option === undefined) {
      return new ConfigError("unknown_flag", flag, `unknown flag ${flag} (see juno start --help)`);
    }
    if (values.has(option)) {
      return new ConfigError("duplicate_flag", flag, `${flag} is given twice; give it once`);
    }
    let value: string | undefined;
    if (equals >= 0) value = word.slice(equals + 1);
    else if (option.codec === booleanCodec) value = "true";
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
