/** Reading the transport's primitive types from untrusted bytes, checking every bound first. */

import { CodecError } from "./codec-error.js";
import { MAX_VARINT_BYTES } from "./byte-writer.js";

/** Fatal so that invalid UTF-8 is refused, BOM kept so that decoding and re-encoding agree byte for byte. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * A cursor over one frame. Every read checks the remaining length before it touches a byte or
 * allocates, and every error is a CodecError naming what was wrong.
 */
export class ByteReader {
  private readonly bytes: Uint8Array;
  private position: number;
  private readonly end: number;

  constructor(bytes: Uint8Array, offset = 0, end = bytes.length) {
    // A Buffer's slice() is a view, not a copy; a plain Uint8Array view of the same memory makes
    // every subarray and slice below behave as the standard says.
    this.bytes =
      Object.getPrototypeOf(bytes) === Uint8Array.prototype
        ? bytes
        : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.position = offset;
    this.end = end;
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.end - this.position;
  }

  /** Reads one byte. */
  u8(what: string): number {
    if (this.position >= this.end) throw new CodecError("truncated", `truncated before ${what}`);
    return this.bytes[this.position++]!;
  }

  /** Reads a byte that must be 0 or 1; anything else would make two encodings of one message. */
  boolean(what: string): boolean {
    const value = this.u8(what);
    if (value > 1) throw new CodecError("invalid_boolean", `${what} is ${value}, not 0 or 1`);
    return value === 1;
  }

  /**
   * Reads an unsigned LEB128 varint: at most 8 bytes, no redundant trailing zero groups (one
   * encoding per number), value at most Number.MAX_SAFE_INTEGER.
   */
  varint(what: string): number {
    const first = this.u8(what);
    if (first < 0x80) return first;
    let value = first & 0x7f;
    let scale = 0x80;
    for (let i = 1; i < MAX_VARINT_BYTES; i++) {
      const byte = this.u8(what);
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (byte === 0) throw new CodecError("non_canonical", `${what} has a redundant varint byte`);
        // Partial sums are exact below 2^53 and rounding is monotone above, so this test is exact.
        if (value > Number.MAX_SAFE_INTEGER) {
          throw new CodecError("out_of_range", `${what} exceeds Number.MAX_SAFE_INTEGER`);
        }
        return value;
      }
      scale *= 0x80;
    }
    throw new CodecError("invalid_varint", `${what} is a varint longer than ${MAX_VARINT_BYTES} bytes`);
  }

  /**
   * Reads a count of items, each at least `minItemBytes` long, so a forged count cannot make the
   * caller loop or allocate beyond what the frame can actually hold.
   */
  count(what: string, max: number, minItemBytes: number): number {
    const count = this.varint(what);
    if (count > max) throw new CodecError("too_large", `${what} is ${count}, more than ${max}`);
    if (count * minItemBytes > this.remaining) {
      throw new CodecError("truncated", `${what} is ${count}, more than the frame can hold`);
    }
    return count;
  }

  /** Reads a varint length and returns a view of that many bytes (the caller copies if it keeps them). */
  lengthPrefixedView(what: string, maxBytes: number): Uint8Array {
    const start = this.skipLengthPrefixed(what, maxBytes);
    return this.bytes.subarray(start, this.position);
  }

  /** Reads a length-prefixed byte array into memory of its own, so it does not pin the whole frame. */
  lengthPrefixedCopy(what: string, maxBytes: number): Uint8Array {
    // slice() of a plain Uint8Array copies, and is faster than allocating and set()ting.
    const start = this.skipLengthPrefixed(what, maxBytes);
    return this.bytes.slice(start, this.position);
  }

  /** Reads and checks a varint length, moves past that many bytes and returns where they start. */
  private skipLengthPrefixed(what: string, maxBytes: number): number {
    const length = this.varint(what);
    if (length > maxBytes)
      throw new CodecError("too_large", `${what} is ${length} bytes, more than ${maxBytes}`);
    if (length > this.remaining) throw new CodecError("truncated", `${what} runs past the end of the frame`);
    const start = this.position;
    this.position += length;
    return start;
  }

  /** Reads a length-prefixed, non-empty, well-formed UTF-8 string. */
  string(what: string, maxBytes: number): string {
    const view = this.lengthPrefixedView(what, maxBytes);
    if (view.length === 0) throw new CodecError("out_of_range", `${what} is empty`);
    return decodeUtf8(view, what);
  }

  /** Throws unless every byte was consumed: trailing garbage means the frame is not what we think it is. */
  expectEnd(what: string): void {
    if (this.position !== this.end) {
      throw new CodecError("trailing_bytes", `${this.end - this.position} bytes after the ${what}`);
    }
  }
}

/** Decodes UTF-8, with a fast path for short ASCII strings, which node ids nearly always are. */
function decodeUtf8(view: Uint8Array, what: string): string {
  if (view.length <= 32) {
    // Concatenating char codes beats both TextDecoder and spreading into fromCharCode at this size.
    let text = "";
    for (let i = 0; i < view.length; i++) {
      const byte = view[i]!;
      if (byte >= 0x80) return decodeWithTextDecoder(view, what);
      text += String.fromCharCode(byte);
    }
    return text;
  }
  return decodeWithTextDecoder(view, what);
}

function decodeWithTextDecoder(view: Uint8Array, what: string): string {
  try {
    return utf8.decode(view);
  } catch {
    throw new CodecError("invalid_utf8", `${what} is not valid UTF-8`);
  }
}
