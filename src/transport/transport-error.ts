/** Errors the transport raises to its caller: misuse, never network trouble (that only shows in stats). */

/** Stable codes for the ways a caller can misuse the transport. */
export type TransportErrorCode =
  "wrong_sender" | "message_too_large" | "not_listening" | "already_listening" | "closed" | "not_tls";

/**
 * Thrown synchronously to the caller for a programmer error. Network failures are not thrown:
 * Raft tolerates lost messages, so they are counted in stats() and retried by Raft itself.
 */
export class TransportError extends Error {
  override name = "TransportError";

  constructor(
    readonly code: TransportErrorCode,
    message: string,
  ) {
    super(message);
  }
}
