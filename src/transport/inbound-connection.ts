/**
 * One accepted connection: it must complete the server handshake before anything it sends is
 * even decoded as a message; after that, each frame is a batch of messages from the peer it
 * authenticated as. Frames are size-limited to a few hundred bytes until then, so a stranger
 * cannot make this node buffer 64 MiB.
 */

import type { Socket } from "node:net";
import type { NodeId } from "../raft/types.js";
import type { PeerMessage } from "./peer-message.js";
import { CodecError } from "./codec-error.js";
import { decodeBatch, type CodecLimits } from "./codec.js";
import { encodeFrame, FRAME_HEADER_BYTES, FrameReader } from "./framing.js";
import { HandshakeError, MAX_HANDSHAKE_FRAME_BYTES, NONCE_BYTES, ServerHandshake } from "./handshake.js";
import type { TimerHandle, Timers } from "./timers.js";

/** Counters over all accepted connections, as reported by PeerTransport.stats(). */
export interface InboundStats {
  /** Connections accepted by the listener (before the handshake). */
  acceptedConnections: number;
  /** Connections closed at once because `maxInboundConnections` were open. */
  refusedConnections: number;
  /** Handshakes that authenticated a peer. */
  authenticatedHandshakes: number;
  /** Connections that closed without authenticating: refused (wrong secret or node, garbage, a TLS refusal), too slow, or abandoned. */
  failedHandshakes: number;
  /** TLS connections refused for their certificate: none presented, or one that does not verify against the cluster CA. */
  refusedCertificates: number;
  /** TLS handshakes that failed before any certificate was judged: not TLS, a protocol error, too slow, abandoned. */
  tlsHandshakeFailures: number;
  receivedFrames: number;
  receivedMessages: number;
  /** Bytes of message frames, headers included. */
  receivedBytes: number;
  /** Messages whose `from` was not the id the connection authenticated as. */
  droppedSpoofed: number;
  /** Messages addressed to another node. */
  droppedMisaddressed: number;
  /** Authenticated connections closed because a frame did not decode. */
  decodeErrors: number;
}

/** What an inbound connection needs from its transport. */
export interface InboundHost {
  readonly localId: NodeId;
  readonly key: Uint8Array;
  readonly maxFrameBytes: number;
  readonly codecLimits: CodecLimits;
  readonly handshakeTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly randomBytes: (size: number) => Uint8Array;
  readonly timers: Timers;
  readonly stats: InboundStats;
  /** Called once the peer has proven its identity. */
  authenticated(connection: InboundConnection): void;
  /** Hands one valid message from the authenticated peer to the application. */
  deliver(message: PeerMessage): void;
  /** Called once when the socket has closed. */
  closed(connection: InboundConnection): void;
}

/** Invariant: no message is delivered unless `peerId` is set, and none after `finished`. */
export class InboundConnection {
  /** The authenticated peer, or null while the handshake is running. */
  peerId: NodeId | null = null;
  private readonly reader = new FrameReader(MAX_HANDSHAKE_FRAME_BYTES);
  private readonly handshake: ServerHandshake;
  private deadlineTimer: TimerHandle | null;
  /** Set once we stop reading: refused, failed, replaced or closing. */
  private finished = false;
  private readonly closedPromise: Promise<void>;

  constructor(
    readonly socket: Socket,
    private readonly host: InboundHost,
  ) {
    this.handshake = new ServerHandshake(host.localId, host.key, host.randomBytes(NONCE_BYTES));
    this.deadlineTimer = host.timers.setTimeout(() => {
      this.deadlineTimer = null;
      this.abort();
    }, host.handshakeTimeoutMs);
    this.closedPromise = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    // 'close' follows every 'error'; the handler only keeps the error from becoming uncaught.
    socket.on("error", () => {});
    socket.once("close", () => {
      this.finished = true;
      this.clearDeadline();
      if (this.peerId === null) this.host.stats.failedHandshakes++;
      this.host.closed(this);
    });
  }

  /** Stops reading and ends the connection cleanly, destroying it if the peer does not close in time. */
  close(): Promise<void> {
    if (!this.socket.destroyed) {
      this.finished = true;
      this.clearDeadline();
      const fallback = this.host.timers.setTimeout(() => this.socket.destroy(), this.host.closeTimeoutMs);
      this.socket.once("close", () => this.host.timers.clearTimeout(fallback));
      this.socket.end();
    }
    return this.closedPromise;
  }

  /** Drops the connection at once, delivering nothing more (a newer connection from the same peer won). */
  abort(): void {
    this.finished = true;
    this.clearDeadline();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    this.reader.push(chunk);
    try {
      for (let payload = this.reader.next(); payload !== null; payload = this.reader.next()) {
        if (this.peerId === null) this.stepHandshake(payload);
        else this.deliverFrame(payload);
        if (this.finished) return;
      }
    } catch (error) {
      if (error instanceof HandshakeError) {
        this.refuse(error.reply);
      } else if (error instanceof CodecError) {
        if (this.peerId !== null) this.host.stats.decodeErrors++;
        this.abort();
      } else {
        throw error;
      }
    }
  }

  private stepHandshake(payload: Uint8Array): void {
    const step = this.handshake.receive(payload);
    if (step.reply !== null) this.socket.write(encodeFrame(step.reply));
    if (step.peerId === null) return;
    this.peerId = step.peerId;
    this.clearDeadline();
    this.reader.maxFrameBytes = this.host.maxFrameBytes;
    this.host.stats.authenticatedHandshakes++;
    this.host.authenticated(this);
  }

  /** Decodes a whole batch before delivering any of it, then delivers what the peer may send. */
  private deliverFrame(payload: Uint8Array): void {
    const messages = decodeBatch(payload, this.host.codecLimits);
    const stats = this.host.stats;
    stats.receivedFrames++;
    stats.receivedBytes += FRAME_HEADER_BYTES + payload.length;
    for (const message of messages) {
      if (this.finished) return;
      if (message.from !== this.peerId) {
        stats.droppedSpoofed++;
      } else if (message.to !== this.host.localId) {
        stats.droppedMisaddressed++;
      } else {
        stats.receivedMessages++;
        this.host.deliver(message);
      }
    }
  }

  /** Sends the REJECT (when there is one), then closes; nothing the peer sent is delivered. */
  private refuse(reply: Uint8Array | null): void {
    this.finished = true;
    this.clearDeadline();
    if (reply === null) {
      this.socket.destroy();
      return;
    }
    this.socket.end(encodeFrame(reply), () => this.socket.destroy());
    // A peer that never reads must not keep the socket open.
    const fallback = this.host.timers.setTimeout(() => this.socket.destroy(), this.host.closeTimeoutMs);
    this.socket.once("close", () => this.host.timers.clearTimeout(fallback));
  }

  private clearDeadline(): void {
    if (this.deadlineTimer !== null) {
      this.host.timers.clearTimeout(this.deadlineTimer);
      this.deadlineTimer = null;
    }
  }
}
