/** Errors of the discovery edge: one class with stable codes, so callers and tests branch on the code. */

/** Why a discovery read failed. */
export type DiscoveryErrorCode =
  /** The provider's settings make no sense (thrown when it is created). */
  | "invalid_options"
  /** A request got no answer in time. */
  | "timeout"
  /** The server could not be reached (refused, reset, unknown host). */
  | "unreachable"
  /** The server answered something that is not what the protocol says it answers. */
  | "bad_response"
  /** The server answered an HTTP status that means the read failed. */
  | "http_status"
  /** A body or message was larger than its bound. */
  | "too_large"
  /** A DNS server answered with an error code (SERVFAIL, REFUSED, ...). */
  | "dns_failure"
  /** An A2A agent card failed validation. */
  | "invalid_card"
  /** No agent card at any of the locations tried (404). */
  | "card_not_found"
  /** The Kubernetes resource version is too old to watch from (410 Gone): list again. */
  | "expired"
  /** The read was cancelled because the provider is stopping. */
  | "aborted";

/** A failed discovery read, with a stable code. */
export class DiscoveryError extends Error {
  override name = "DiscoveryError";

  constructor(
    readonly code: DiscoveryErrorCode,
    message: string,
    /** The HTTP status, when the failure was one. */
    readonly status: number | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `error` as an Error: anything thrown that is not one is wrapped, so handlers always get an Error. */
export function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  return new Error(typeof error === "string" ? error : "non-error thrown", { cause: error });
}

/** Whether `error` is the AbortError of a cancelled fetch or of an aborted signal. */
export function isAbortError(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === "AbortError" || (error instanceof DiscoveryError && error.code === "aborted"))
  );
}
