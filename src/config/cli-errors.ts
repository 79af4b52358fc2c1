/**
 * The client commands' own error codes (`juno status | members | agents | tasks | workflows`):
 * the ways a command can fail that are neither a refused flag (CONFIG_ERROR_CODES), nor the
 * client's transport (CLIENT_ERROR_CODES in src/client), nor the server's answer (its codes pass
 * through as they are). Like those, the codes are stable: scripts match on them.
 */

/** Every code with what it means. */
export const CLI_ERROR_CODES = {
  bad_config_file:
    "the client config file (--config, JUNO_CONFIG, ~/.config/juno/config.json) cannot be read, is not JSON, or is not of the documented shape",
  unknown_context:
    "a context (--context, JUNO_CONTEXT, the file's current) that the config file does not define",
  unreadable_file:
    "a definition file (-f) that cannot be read, is too large, or is not the JSON it claims to be",
  member_not_found: "a cluster member id that is not a member (members rm, members transfer)",
  wait_timeout: "--wait-timeout passed before what the command waits for happened; the work itself goes on",
} as const;

/** One of CLI_ERROR_CODES. */
export type CliErrorCode = keyof typeof CLI_ERROR_CODES;

/** A failure of a client command that is not an API error; `source` names the file or flag at fault. */
export class CliError extends Error {
  override name = "CliError";

  constructor(
    /** The stable code; match on this, never on the message. */
    readonly code: CliErrorCode,
    /** The file, flag or variable at fault, or the command's subject (a member id). */
    readonly source: string,
    message: string,
  ) {
    super(message);
  }
}
