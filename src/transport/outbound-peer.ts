/**
 * One peer's outgoing side: its bounded send queue and the single TCP connection that drains it.
 * The connection is dialled lazily (when there is something to send), authenticated with the
 * client handshake, and redialled after a failure with capped, jittered exponential backoff.
 * Raft messages only ever flow outwards on this connection; the peer answers on its own. With TLS
 * the connection is mutual TLS (tls.ts) and the handshake starts once TLS is established.
 */

import type { Logger } from "../util/logger.js";
import { oncePerTurn } from "../util/once-per-turn.js";
import net, { type Socket } from "node:net";
import type { NodeId } from "../raft/types.js";
import { formatAddress, type HostPort } from "./address.js";
import { backoffDelayMs, type BackoffOptions } from "./backoff.js";
import { MAX_VARINT_BYTES } from "./byte-writer.js";
import { CodecError } from "./codec-error.js";
import { joinEncodedMessages } from "./codec.js";
import { encodeFrame, FRAME_HEADER_BYTES, FrameReader, writeFrameHeader } from "./framing.js";
import { ClientHandshake, HandshakeError, MAX_HANDSHAKE_FRAME_BYTES, NONCE_BYTES } from "./handshake.js";
import { SendQueue } from "./send-queue.js";
import { certificateRefusal, errorCode, type PeerTls } from "./tls.js";
import type { TimerHandle, Timers } from "./timers.js";

/** How many bytes of messages one frame gathers before the next frame starts. */
const BATCH_FRAME_BYTES = 256 * 1024;

/** What every outgoing connection of a transport shares. */
export interface OutboundSettings {
  readonly localId: NodeId;
  readonly key: Uint8Array;
  readonly maxFrameBytes: number;
  readonly maxBatchMessages: number;
  readonly maxQueueMessages: number;
  readonly maxQueueBytes: number;
  readonly backoff: BackoffOptions;
  readonly handshakeTimeoutMs: number;
  /** Mutual TLS for every connection, or null for plain TCP. */
  readonly tls: PeerTls | null;
  readonly writeStallTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly keepAliveMs: number;
  readonly random: () => number;
  readonly randomBytes: (size: number) => Uint8Array;
  readonly timers: Timers;
  readonly log: Logger;
}

/** Counters and state of one peer's outgoing side, as reported by PeerTransport.stats(). */
export interface PeerStats {
  readonly id: NodeId;
  readonly address: string;
  /** Authenticated and ready to send. */
  readonly connected: boolean;
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  readonly sentFrames: number;
  readonly sentMessages: number;
  /** Bytes handed to the socket, frame headers included. */
  readonly sentBytes: number;
  /** Messages lost to a full queue (evicted or refused), to an oversize check, or discarded on close. */
  readonly droppedMessages: number;
  readonly droppedBytes: number;
  readonly dialAttempts: number;
  /** Dial attempts after the first: each one follows a failed or lost connection. */
  readonly reconnects: number;
  /** Connections that completed the handshake. */
  readonly connects: number;
  readonly handshakeFailures: number;
  /** Connections refused because the peer's TLS certificate did not verify (also counted in handshakeFailures). */
  readonly certificateFailures: number;
  /** Why the last connection attempt or connection failed, for operators. */
  readonly lastError: string | null;
}

type Phase = "idle" | "backoff" | "connecting" | "connected" | "closed";

/**
 * Invariants: `socket` is non-null exactly in the connecting and connected phases; `retryTimer`
 * is set exactly in the backoff phase; only events of the current `socket` change any state.
 */
export class OutboundPeer {
  private phase: Phase = "idle";
  private socket: Socket | null = null;
  private readonly queue: SendQueue;
  /** Consecutive failed attempts since the last good connection: the backoff exponent. */
  private failures = 0;
  private retryTimer: TimerHandle | null = null;
  private deadlineTimer: TimerHandle | null = null;
  private stallTimer: TimerHandle | null = null;
  /** One flush per event-loop turn. */
  private readonly scheduleFlush = oncePerTurn(() => this.flush());
  private sentFrames = 0;
  private sentMessages = 0;
  private sentBytes = 0;
  private droppedMessages = 0;
  private droppedBytes = 0;
  private dialAttempts = 0;
  private connects = 0;
  private handshakeFailures = 0;
  private certificateFailures = 0;
  private lastError: string | null = null;

  constructor(
    readonly id: NodeId,
    private address: HostPort,
    private readonly settings: OutboundSettings,
  ) {
    this.queue = new SendQueue(settings.maxQueueMessages, settings.maxQueueBytes);
  }

  /** Queues one encoded message, dialling if idle; a full queue drops (and counts) as SendQueue says. */
  enqueue(bytes: Uint8Array, isSnapshot: boolean): void {
    if (this.phase === "closed") {
      this.countDropped(1, bytes.length);
      return;
    }
    const result = this.queue.push(bytes, isSnapshot);
    this.countDropped(result.evictedMessages, result.evictedBytes);
    if (!result.accepted) {
      this.countDropped(1, bytes.length);
      return;
    }
    if (this.phase === "idle") this.dial();
    else if (this.phase === "connected") this.scheduleFlush();
  }

  /** Points the peer at a new address: the current connection (if any) goes and the next one dials there. */
  setAddress(address: HostPort): void {
    if (address.host === this.address.host && address.port === this.address.port) return;
    this.address = address;
    if (this.phase === "closed") return;
    this.dropConnection("the peer's address changed");
    this.failures = 0;
    this.cancelRetry();
    this.phase = "idle";
    if (this.queue.messages > 0) this.dial();
  }

  /** The peer's counters. */
  stats(): PeerStats {
    return {
      id: this.id,
      address: formatAddress(this.address),
      connected: this.phase === "connected",
      queuedMessages: this.queue.messages,
      queuedBytes: this.queue.bytes,
      sentFrames: this.sentFrames,
      sentMessages: this.sentMessages,
      sentBytes: this.sentBytes,
      droppedMessages: this.droppedMessages,
      droppedBytes: this.droppedBytes,
      dialAttempts: this.dialAttempts,
      reconnects: Math.max(0, this.dialAttempts - 1),
      connects: this.connects,
      handshakeFailures: this.handshakeFailures,
      certificateFailures: this.certificateFailures,
      lastError: this.lastError,
    };
  }

  /**
   * Stops for good: queued messages are discarded (counted as dropped), frames already written
   * are flushed before the FIN, and the socket is destroyed if it does not close in time.
   */
  close(): Promise<void> {
    if (this.phase === "closed") return Promise.resolve();
    const wasConnected = this.phase === "connected";
    this.phase = "closed";
    this.cancelRetry();
    this.clearTimer("deadlineTimer");
    this.clearTimer("stallTimer");
    const queuedBytes = this.queue.bytes;
    this.countDropped(this.queue.clear(), queuedBytes);
    const socket = this.socket;
    this.socket = null;
    if (socket === null || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once("close", () => resolve());
      if (!wasConnected) {
        socket.destroy();
        return;
      }
      const fallback = this.settings.timers.setTimeout(() => socket.destroy(), this.settings.closeTimeoutMs);
      socket.once("close", () => this.settings.timers.clearTimeout(fallback));
      socket.end();
    });
  }

  // ---------------------------------------------------------------- connecting

  private dial(): void {
    this.phase = "connecting";
    this.dialAttempts++;
    const tls = this.settings.tls;
    const socket =
      tls === null
        ? net.connect({ host: this.address.host, port: this.address.port })
        : tls.connect(this.address.host, this.address.port);
    this.socket = socket;
    /** Whether TLS was established, so that a close during the handshake can say who refused whom. */
    let secured = false;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, this.settings.keepAliveMs);
    const nonce = this.settings.randomBytes(NONCE_BYTES);
    const handshake = new ClientHandshake(this.settings.localId, this.id, this.settings.key, nonce);
    const reader = new FrameReader(MAX_HANDSHAKE_FRAME_BYTES);
    this.deadlineTimer = this.settings.timers.setTimeout(() => {
      this.deadlineTimer = null;
      this.handshakeFailures++;
      this.fail(socket, "the connection and handshake did not finish in time");
    }, this.settings.handshakeTimeoutMs);
    socket.on(tls === null ? "connect" : "secureConnect", () => {
      secured = true;
      if (socket === this.socket) socket.write(encodeFrame(handshake.start()));
    });
    socket.on("data", (chunk: Buffer) => this.onData(socket, handshake, reader, chunk));
    socket.on("drain", () => this.onDrain(socket));
    socket.on("error", (error: Error) => this.onError(socket, error));
    socket.on("close", () => {
      // A TLS peer that refuses our certificate closes right after TLS is up, before the handshake.
      if (tls !== null && secured && this.phase === "connecting" && socket === this.socket) {
        this.handshakeFailures++;
        this.fail(
          socket,
          "the peer closed the connection before the handshake (it may have refused this node's certificate; see its log)",
        );
        return;
      }
      this.fail(socket, "the connection closed");
    });
  }

  private onData(socket: Socket, handshake: ClientHandshake, reader: FrameReader, chunk: Buffer): void {
    if (socket !== this.socket) return;
    reader.push(chunk);
    try {
      for (let payload = reader.next(); payload !== null; payload = reader.next()) {
        // The server speaks only during the handshake; anything later is a protocol violation.
        if (this.phase === "connected")
          throw new HandshakeError("protocol", "the server sent data after the handshake");
        const step = handshake.receive(payload);
        if (step.reply !== null) socket.write(encodeFrame(step.reply));
        if (step.peerId !== null) this.onConnected();
      }
    } catch (error) {
      if (!(error instanceof HandshakeError || error instanceof CodecError)) throw error;
      if (this.phase === "connecting") this.handshakeFailures++;
      this.fail(socket, `handshake with ${this.id} failed: ${error.message}`);
    }
  }

  /** A socket error: a refused certificate is counted and logged once per new reason; any error ends the connection. */
  private onError(socket: Socket, error: Error): void {
    if (socket !== this.socket) return;
    const refusal = certificateRefusal(errorCode(error));
    if (refusal === null) {
      this.fail(socket, error.message);
      return;
    }
    const reason = `TLS: refused ${this.id}'s certificate: ${refusal}`;
    this.handshakeFailures++;
    this.certificateFailures++;
    if (reason !== this.lastError) {
      this.settings.log.warn(
        { peer: this.id, address: formatAddress(this.address), reason },
        "refused a peer's TLS certificate",
      );
    }
    this.fail(socket, reason);
  }

  private onConnected(): void {
    this.settings.log.info(
      { peer: this.id, address: `${this.address.host}:${this.address.port}` },
      "peer connected",
    );
    this.phase = "connected";
    this.connects++;
    this.failures = 0;
    this.clearTimer("deadlineTimer");
    this.flush();
  }

  /** Handles the end of the current socket, whatever the cause, and schedules the retry. */
  private fail(socket: Socket, reason: string): void {
    if (socket !== this.socket) return;
    if (this.phase === "connected") this.settings.log.warn({ peer: this.id, reason }, "peer connection lost");
    else if (this.failures === 0) this.settings.log.debug({ peer: this.id, reason }, "peer unreachable");
    this.dropConnection(reason);
    if (this.phase === "closed") return;
    this.phase = "backoff";
    const delayMs = backoffDelayMs(this.failures, this.settings.backoff, this.settings.random);
    this.failures++;
    this.retryTimer = this.settings.timers.setTimeout(() => this.retry(), delayMs);
  }

  private retry(): void {
    this.retryTimer = null;
    if (this.phase !== "backoff") return;
    this.phase = "idle";
    // Lazy: a peer nobody has anything for is not redialled until there is.
    if (this.queue.messages > 0) this.dial();
  }

  /** Destroys the current socket (if any) and forgets it, so its later events are ignored. */
  private dropConnection(reason: string): void {
    const socket = this.socket;
    this.socket = null;
    this.clearTimer("deadlineTimer");
    this.clearTimer("stallTimer");
    if (socket !== null) {
      this.lastError = reason;
      socket.destroy();
    }
  }

  private cancelRetry(): void {
    this.clearTimer("retryTimer");
  }

  private clearTimer(name: "retryTimer" | "deadlineTimer" | "stallTimer"): void {
    const handle = this[name];
    if (handle !== null) {
      this.settings.timers.clearTimeout(handle);
      this[name] = null;
    }
  }

  // ---------------------------------------------------------------- sending

  /**
   * Writes the queue out as frames while the socket accepts them (at the end of the turn by
   * itself, or at once when the transport's flush() is called). When the socket's buffer is
   * full the rest waits in the bounded queue (where the drop policy applies) until 'drain', so
   * the socket's own buffer never holds more than its high-water mark plus one frame.
   */
  flush(): void {
    const socket = this.socket;
    if (this.phase !== "connected" || socket === null || socket.writableNeedDrain) return;
    // Batches stay around 256 KiB (one larger message still travels alone): the receiver decodes a
    // frame in one go, and a pipeline of catch-up appends in one huge frame would hold its loop.
    const budgetBytes = Math.min(this.settings.maxFrameBytes - MAX_VARINT_BYTES, BATCH_FRAME_BYTES);
    while (this.queue.messages > 0) {
      const batch = this.queue.takeBatch(this.settings.maxBatchMessages, budgetBytes);
      const frame = joinEncodedMessages(batch, FRAME_HEADER_BYTES);
      writeFrameHeader(frame);
      this.sentFrames++;
      this.sentMessages += batch.length;
      this.sentBytes += frame.length;
      if (!socket.write(frame)) {
        this.stallTimer = this.settings.timers.setTimeout(() => {
          this.stallTimer = null;
          this.fail(socket, "the peer stopped reading");
        }, this.settings.writeStallTimeoutMs);
        return;
      }
    }
  }

  private onDrain(socket: Socket): void {
    if (socket !== this.socket) return;
    this.clearTimer("stallTimer");
    this.flush();
  }

  private countDropped(messages: number, bytes: number): void {
    this.droppedMessages += messages;
    this.droppedBytes += bytes;
  }
}
