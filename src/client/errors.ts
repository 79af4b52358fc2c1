/**
 * How the client reports a failure: one error class whatever went wrong, carrying the server's
 * code from its one error shape `{"error":{"code","message",...}}`, or one of the client's own
 * codes when no usable answer came back.
 */

/**
 * The codes the client itself uses, with what each means; the server's codes pass through as
 * they are. Like the server's, these are stable: match on the code, never on the message.
 */
export const CLIENT_ERROR_CODES = {
  unreachable: "no node could be reached, or the connection broke before an answer came",
  timeout: "no answer within the per-attempt timeout on every attempt",
  outcome_unknown:
    "a request that is not safe to repeat was sent but its answer was lost; it may or may not have taken effect",
  aborted: "the caller's AbortSignal fired",
  invalid_response: "an answer that is not JSON, too large, or not the shape the API promises",
  unexpected_response: "an error status without juno's error shape (a proxy's own page, for example)",
} as const;

/** A code the client itself uses. */
export type ClientErrorCode = keyof typeof CLIENT_ERROR_CODES;

/** The status of an error without a usable HTTP answer: none came, or its body was not what the API promises. */
export const NO_STATUS = 0;

/** What one attempt of a request came to, kept on the error so a failure can be diagnosed. */
export interface AttemptRecord {
  readonly url: string;
  /** The HTTP status, or 0 when no answer came. */
  readonly status: number;
  /** The server's error code, or the client's (unreachable, timeout). */
  readonly code: string;
}

/** A refusal or failure of an API call. */
export class JunoApiError extends Error {
  override name = "JunoApiError";

  constructor(
    /** The HTTP status, or 0 (NO_STATUS) without a usable answer. */
    readonly status: number,
    /** The server's error code, or one of CLIENT_ERROR_CODES. */
    readonly code: string,
    message: string,
    /** Everything else the server put in its error object (leader_id, field, ...). */
    readonly details: Readonly<Record<string, unknown>> = {},
    /** Every attempt the client made, in order (empty when it failed before sending). */
    readonly attempts: readonly AttemptRecord[] = [],
  ) {
    super(message);
  }
}

/** Whether `error` is a JunoApiError with `code`. */
export function hasErrorCode(error: unknown, code: string): error is JunoApiError {
  return error instanceof JunoApiError && error.code === code;
}

/** The error an error status answered with, read from the one error shape when the body has it. */
export function errorFromAnswer(status: number, body: unknown): JunoApiError {
  const error = isRecord(body) ? body["error"] : undefined;
  if (!isRecord(error) || typeof error["code"] !== "string") {
    return new JunoApiError(
      status,
      "unexpected_response",
      `HTTP ${status} without juno's error shape: ${excerpt(body)}`,
    );
  }
  const { code, message, ...details } = error;
  return new JunoApiError(status, code, typeof message === "string" ? message : code, details);
}

/** Whether a value is a plain JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The longest piece of an unexpected body quoted in a message. */
const EXCERPT_LENGTH_MAX = 200;

/** A short, printable piece of a body for an error message. */
function excerpt(body: unknown): string {
  const text = typeof body === "string" ? body : (JSON.stringify(body) ?? String(body));
  return text.length > EXCERPT_LENGTH_MAX ? `${text.slice(0, EXCERPT_LENGTH_MAX)}...` : text;
}
