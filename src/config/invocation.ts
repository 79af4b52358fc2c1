/** Turning a config back into the flags and variables that produce it. */

import type { NodeConfig } from "./node-config.js";
import { OPTIONS, settingText } from "./option-table.js";

/** Command-line arguments (after "start") and the variables to set alongside them. */
export interface Invocation {
  readonly argv: readonly string[];
  /** The secrets, and any value with a password in it. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The arguments and variables that make parseNodeConfig produce this config again: every setting
 * written out, so the result does not depend on the defaults of the juno that reads it. Used to
 * start child nodes (`juno dev`); the environment carries the secrets.
 */
export function toInvocation(config: NodeConfig): Invocation {
  const argv: string[] = [];
  const env: Record<string, string> = {};
  for (const option of OPTIONS) {
    const text = settingText(option, config, false);
    // An empty text is what an unset setting with an empty default reads as.
    if (text === null || text === "") continue;
    // Whatever logs would mask (a secret, a database URL with a password) stays out of the
    // argument list, which every user of the machine can read.
    const sensitive = settingText(option, config, true) !== text;
    if (option.flag === null || sensitive) env[option.env] = text;
    else argv.push(`${option.flag}=${text}`);
  }
  return { argv, env };
}
