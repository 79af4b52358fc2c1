/** The one error type for bytes that are not a valid transport encoding, or values that cannot be encoded. */

/** Why a frame or value was refused; stable codes that tests and metrics rely on. */
export type CodecErrorCode =
  | "truncated"
  | "trailing_bytes"
  | "unknown_tag"
  | "invalid_varint"
  | "non_canonical"
  | "out_of_range"
  | "invalid_boolean"
  | "invalid_flags"
  | "invalid_utf8"
  | "too_large"
  | "frame_too_large"
  | "invalid_value";

/**
 * Thrown by decoding on malformed input (a peer sent garbage or was cut off) and by encoding on a
 * value that has no encoding (a programmer error upstream). Decoding never returns half a result:
 * it either produces a complete, valid value or throws this.
 */
export class CodecError extends Error {
  override name = "CodecError";

  constructor(
    readonly code: CodecErrorCode,
    message: string,
  ) {
    super(message);
  }
}
