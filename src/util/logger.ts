/**
 * The one logger: a pino root logger, JSON lines by default and human-readable in `juno dev`.
 * Components get child loggers (`component: "raft" | "transport" | "store" | "http"`) injected;
 * the simulator passes a logger that writes nothing or writes into its trace.
 */

import { pino, type Logger as PinoLogger } from "pino";

/** What components log through; pino's Logger has this shape. */
export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** How the root logger writes. */
export interface LoggerOptions {
  readonly level: string;
  /** "json" (one object per line, for machines) or "pretty" (for people, in juno dev). */
  readonly format?: "json" | "pretty";
  /** Fields on every line (the node id, say). */
  readonly base?: Record<string, unknown>;
}

/** The root logger of a node process. */
export function createLogger(options: LoggerOptions): PinoLogger {
  const common = { level: options.level, base: options.base ?? {}, timestamp: pino.stdTimeFunctions.isoTime };
  if (options.format !== "pretty") return pino(common);
  return pino({
    ...common,
    transport: {
      target: "pino-pretty",
      options: { colorize: true, translateTime: "HH:MM:ss.l", ignore: "pid,hostname", singleLine: true },
    },
  });
}

/** A logger that writes nothing (tests, the simulator). */
export const SILENT_LOGGER: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => SILENT_LOGGER,
};
