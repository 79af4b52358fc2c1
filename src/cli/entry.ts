/** The entry of every client command: its help, or its parsed command run, or the refusal. */

import type { JunoClientOptions } from "../client/index.js";
import type { ClientParseOptions, UsageError } from "../config/client-options.js";
import { wantsJson } from "../config/client-options.js";
import { wantsHelp, type Environment } from "../config/index.js";
import { FROM_DISK } from "./config-file.js";
import { EXIT, processIo, reportFailure, type CommandIo } from "./output.js";

/** What a client command is made of. */
export interface ClientCommandSpec<C, I extends CommandIo> {
  /** "juno agents": how refusals name it. */
  readonly name: string;
  readonly help: (argv: readonly string[]) => string;
  readonly parse: (argv: readonly string[], env: Environment, options: ClientParseOptions) => C | UsageError;
  readonly run: (command: C, io: I, clientOptions: Partial<JunoClientOptions>) => Promise<number>;
  /** The process's own streams, when the caller gives none. */
  readonly io?: () => I;
}

/**
 * The function `juno <name>` calls with the words after it: prints help (exit 0), or a refusal
 * (exit 2, as JSON with --json), or runs the command. `io` and `clientOptions` are for tests.
 */
export function clientCommand<C, I extends CommandIo = CommandIo>(spec: ClientCommandSpec<C, I>) {
  return async (
    argv: readonly string[],
    env: Environment = process.env,
    io: I = (spec.io ?? (processIo as () => I))(),
    clientOptions: Partial<JunoClientOptions> = {},
  ): Promise<number> => {
    if (wantsHelp(argv)) {
      io.stdout.write(spec.help(argv));
      return EXIT.ok;
    }
    const command = spec.parse(argv, env, FROM_DISK);
    if (command instanceof Error)
      return reportFailure(io, { command: spec.name, json: wantsJson(argv) }, command);
    return spec.run(command, io, clientOptions);
  };
}
