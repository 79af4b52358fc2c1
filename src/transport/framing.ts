/**
 * Frames on a TCP stream: a 4-byte big-endian payload length, then the payload. The reader turns
 * arbitrary chunks (split anywhere, several frames coalesced) back into whole payloads.
 */

import { CodecError } from "./codec-error.js";

/** Bytes of the length prefix in front of every payload. */
export const FRAME_HEADER_BYTES = 4;

/** The default largest payload: room for a 1 MiB append or snapshot chunk many times over. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** The largest payload a configuration may allow; beyond this one frame would be a memory hazard. */
export const MAX_FRAME_BYTES_LIMIT = 1024 * 1024 * 1024;

/** Writes the length prefix into the first 4 bytes of a frame whose payload follows them. */
export function writeFrameHeader(frame: Uint8Array): void {
  const length = frame.length - FRAME_HEADER_BYTES;
  if (length < 0 || length > 0xffff_ffff) throw new RangeError(`cannot frame a payload of ${length} bytes`);
  frame[0] = length >>> 24;
  frame[1] = (length >>> 16) & 0xff;
  frame[2] = (length >>> 8) & 0xff;
  frame[3] = length & 0xff;
}

/** Copies `payload` into a new frame. For small frames; large ones reserve the header when encoded. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  frame.set(payload, FRAME_HEADER_BYTES);
  writeFrameHeader(frame);
  return frame;
}

/**
 * Reassembles frames from stream chunks. Chunks are kept as they arrive and each payload is
 * copied at most once, when it is complete (and not at all when it lies within one chunk), so
 * a large frame arriving in thousands of small chunks costs linear, not quadratic, time.
 *
 * It is pull-based: push() a chunk, then call next() until it returns null. The caller may change
 * `maxFrameBytes` between two next() calls, which is how a connection admits only tiny frames
 * until the peer has authenticated and large ones after.
 *
 * Invariant: buffered === the sum of the unread bytes of `chunks[head..]`.
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private head = 0;
  /** Bytes of chunks[head] already consumed. */
  private headOffset = 0;
  private buffered = 0;
  /** The announced length of the frame being read, or -1 while its header is incomplete. */
  private pendingLength = -1;

  constructor(public maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes received but not yet returned as payloads. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Adds a chunk read from the stream. The reader keeps a reference; the caller must not modify it. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * The next complete payload, or null until more bytes arrive. Throws CodecError as soon as a
   * header announces more than `maxFrameBytes`, before buffering any of that payload. The payload
   * may be a view into a received chunk; it stays valid because chunks are never reused.
   */
  next(): Uint8Array | null {
    if (this.pendingLength < 0) {
      if (this.buffered < FRAME_HEADER_BYTES) return null;
      const header = this.take(FRAME_HEADER_BYTES);
      const length = ((header[0]! << 24) | (header[1]! << 16) | (header[2]! << 8) | header[3]!) >>> 0;
      if (length > this.maxFrameBytes) {
        throw new CodecError("frame_too_large", `frame of ${length} bytes, more than ${this.maxFrameBytes}`);
      }
      this.pendingLength = length;
    }
    if (this.buffered < this.pendingLength) return null;
    const payload = this.take(this.pendingLength);
    this.pendingLength = -1;
    return payload;
  }

  /** Removes and returns the next `length` buffered bytes (the caller checked they are there). */
  private take(length: number): Uint8Array {
    if (length === 0) return new Uint8Array(0);
    this.buffered -= length;
    const first = this.chunks[this.head]!;
    const available = first.length - this.headOffset;
    if (length <= available) {
      const view = first.subarray(this.headOffset, this.headOffset + length);
      this.advance(length, available);
      return view;
    }
    const out = new Uint8Array(length);
    let written = 0;
    while (written < length) {
      const chunk = this.chunks[this.head]!;
      const chunkAvailable = chunk.length - this.headOffset;
      const n = Math.min(chunkAvailable, length - written);
      out.set(chunk.subarray(this.headOffset, this.headOffset + n), written);
      written += n;
      this.advance(n, chunkAvailable);
    }
    return out;
  }

  /** Consumes `n` bytes of the head chunk, which has `available` unread bytes. */
  private advance(n: number, available: number): void {
    if (n < available) {
      this.headOffset += n;
      return;
    }
    this.chunks[this.head] = EMPTY;
    this.head++;
    this.headOffset = 0;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.chunks.length) {
      // Drop consumed slots now and then so the array does not grow with the stream's lifetime.
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);
