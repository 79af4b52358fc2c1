/** Writing the transport's primitive types into a buffer that was sized beforehand. */

import { assert } from "../raft/assert.js";

/**
 * The longest varint: 8 bytes carry 56 bits, enough for Number.MAX_SAFE_INTEGER (53 bits). Capping
 * the length lets the reader refuse an endless run of continuation bytes after 8 of them.
 */
export const MAX_VARINT_BYTES = 8;

/** How many bytes the unsigned LEB128 varint of `value` takes; `value` must be a safe non-negative integer. */
export function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x20_0000) return 3;
  if (value < 0x1000_0000) return 4;
  if (value < 2 ** 35) return 5;
  if (value < 2 ** 42) return 6;
  if (value < 2 ** 49) return 7;
  return 8;
}

/**
 * A cursor over a buffer of exactly the encoded size. Callers compute the size first and assert
 * at the end that every byte was written, so a size function that disagrees with the writer
 * crashes instead of sending a frame with zeroes at its tail.
 */
export class ByteWriter {
  private position: number;

  constructor(
    readonly bytes: Uint8Array,
    offset = 0,
  ) {
    this.position = offset;
  }

  /** Where the next byte goes. */
  get offset(): number {
    return this.position;
  }

  /** Writes one byte. */
  u8(value: number): void {
    this.bytes[this.position++] = value;
  }

  /** Writes a safe non-negative integer as an unsigned LEB128 varint (checked by the caller). */
  varint(value: number): void {
    const bytes = this.bytes;
    let position = this.position;
    let rest = value;
    // Bit operations are exact only below 2^31; above, division keeps every one of the 53 bits.
    if (rest < 0x8000_0000) {
      while (rest >= 0x80) {
        bytes[position++] = (rest & 0x7f) | 0x80;
        rest >>>= 7;
      }
    } else {
      while (rest >= 0x80) {
        bytes[position++] = (rest % 0x80) | 0x80;
        rest = Math.floor(rest / 0x80);
      }
    }
    bytes[position++] = rest;
    this.position = position;
  }

  /** Copies `source` verbatim. */
  raw(source: Uint8Array): void {
    if (source.length < 16) {
      // A loop beats set() for the short node ids that make up most of a small message.
      for (let i = 0; i < source.length; i++) this.bytes[this.position + i] = source[i]!;
    } else {
      this.bytes.set(source, this.position);
    }
    this.position += source.length;
  }

  /** Writes a varint length followed by the bytes themselves. */
  lengthPrefixed(source: Uint8Array): void {
    this.varint(source.length);
    this.raw(source);
  }

  /** Asserts that the buffer was filled exactly: the size pass and the write pass agree. */
  finish(): Uint8Array {
    assert(
      this.position === this.bytes.length,
      () => `encoder wrote ${this.position} bytes into a buffer of ${this.bytes.length}`,
    );
    return this.bytes;
  }
}
