/**
 * PeerTransport: carries Raft messages between juno nodes over TCP.
 *
 * The node driver hands it the messages of each Ready with send() (after persisting, as the Ready
 * contract demands) and receives the peers' messages through onMessage. Each peer gets one
 * outgoing connection that carries this node's messages to it; its answers come back on the
 * connection it dials to us. Everything is bounded: frame size, per-peer queue (count and bytes),
 * unauthenticated connections, handshake time. Network failures never throw: Raft tolerates lost
 * messages and retries on its own, so they are only counted in stats().
 *
 * With `tls`, every connection is mutual TLS against the cluster CA (tls.ts) and the handshake
 * runs inside it; a refused certificate is logged (component "transport") and counted.
 */

import { randomBytes as cryptoRandomBytes } from "node:crypto";
import net, { type Server, type Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { NodeId } from "../raft/types.js";
import type { PeerMessage } from "./peer-message.js";
import { parseAddress, type HostPort } from "./address.js";
import { resolveBackoff, type BackoffOptions } from "./backoff.js";
import { MAX_VARINT_BYTES } from "./byte-writer.js";
import { DEFAULT_CODEC_LIMITS, encodeMessage, validateNodeId, type CodecLimits } from "./codec.js";
import { DEFAULT_MAX_FRAME_BYTES, MAX_FRAME_BYTES_LIMIT } from "./framing.js";
import { clusterKey, MAX_HANDSHAKE_FRAME_BYTES } from "./handshake.js";
import { InboundConnection, type InboundHost, type InboundStats } from "./inbound-connection.js";
import { OutboundPeer, type OutboundSettings, type PeerStats } from "./outbound-peer.js";
import { NODE_TIMERS, type Timers } from "./timers.js";
import { PeerTls, certificateRefusal, errorCode, presentedCertificate, type PeerTlsOptions } from "./tls.js";
import { TransportError } from "./transport-error.js";
import { SILENT_LOGGER, type Logger } from "../util/logger.js";

/** The peers to talk to: node id -> `host:port`. An entry for this node itself is ignored. */
export type PeerAddresses = ReadonlyMap<NodeId, string> | Readonly<Record<NodeId, string>>;

/** How a transport is set up. Only the first three fields are required. */
export interface PeerTransportOptions {
  /** This node's id: the `from` of everything it sends, and what it proves in handshakes. */
  readonly nodeId: NodeId;
  /** Where to listen for peers (`JUNO_RAFT_ADDR`); port 0 lets the system choose (see `port`). */
  readonly listenAddress: string;
  /**
   * Called for every message received from an authenticated peer, addressed to this node, in the
   * order the peer sent them. It runs inside a socket event, so it should only hand the message
   * on (the node driver steps Raft in its own turn); an exception it throws is not caught here
   * and ends the process, as any broken invariant should.
   */
  readonly onMessage: (message: PeerMessage) => void;
  /**
   * Answers plain HTTP GETs on the Raft port (the seed's `curl :9090/metrics/consensus`). A
   * connection whose first bytes are "GET " is HTTP; peers' frames start with a length, so the two
   * never mix. Without it, such a connection is treated as a peer and fails its handshake.
   */
  readonly serveHttp?: (path: string) => Promise<{ status: number; contentType: string; body: string }>;
  /** The initial peers; change them later with updatePeers(). */
  readonly peers?: PeerAddresses;
  /**
   * The cluster secret (`JUNO_CLUSTER_SECRET`), at least 16 bytes. Without it handshakes only
   * exchange ids and anyone who reaches the port can pose as any node: insecure, for tests and
   * local development only.
   */
  readonly clusterSecret?: string | Uint8Array | null;
  /**
   * Mutual TLS: this node's certificate and key and the cluster CA (PEM). Without it connections
   * are plain TCP, readable by anyone on the path; replace it later with setTls().
   */
  readonly tls?: PeerTlsOptions | null;
  /** Largest frame payload, sent or accepted (default 64 MiB). Every node must agree. */
  readonly maxFrameBytes?: number;
  /** Most messages queued per peer (default 8,192). */
  readonly maxQueueMessages?: number;
  /** Most encoded bytes queued per peer (default 32 MiB, the Raft core's default in-flight window). */
  readonly maxQueueBytes?: number;
  /** Reconnection backoff (default: 50 ms doubling to 5 s, half of each delay random). */
  readonly backoff?: Partial<BackoffOptions>;
  /** Time allowed for connecting plus handshake, both ways (default 5 s). */
  readonly handshakeTimeoutMs?: number;
  /** A connection whose peer reads nothing for this long is dropped and redialled (default 30 s). */
  readonly writeStallTimeoutMs?: number;
  /** How long close() waits for a clean TCP close before destroying a socket (default 1 s). */
  readonly closeTimeoutMs?: number;
  /** Most accepted connections open at once, authenticated or not (default 256). */
  readonly maxInboundConnections?: number;
  /** Limits on decoded messages; the defaults suit the Raft core's defaults. */
  readonly codecLimits?: Partial<CodecLimits>;
  /** Uniform random numbers in [0, 1) for backoff jitter (default Math.random). */
  readonly random?: () => number;
  /** Cryptographically random bytes for handshake nonces (default node:crypto randomBytes). */
  readonly randomBytes?: (size: number) => Uint8Array;
  /** Timers for deadlines and backoff (default Node's, unreferenced). */
  readonly timers?: Timers;
  /** Where peers connecting and lost are logged (a child logger with component "transport"). */
  readonly logger?: Logger;
}

/** The transport's counters: per peer for the outgoing side, summed for the incoming side. */
export interface TransportStats {
  readonly nodeId: NodeId;
  /** The bound port, or null before listen(). */
  readonly port: number | null;
  /** Whether handshakes prove a cluster secret; false is the insecure mode an operator should hear about. */
  readonly authenticated: boolean;
  /** Whether connections are mutual TLS against the cluster CA. */
  readonly tls: boolean;
  /** One entry per peer, sorted by id. */
  readonly peers: readonly PeerStats[];
  readonly inbound: Readonly<InboundStats>;
  /** Authenticated peers with an open incoming connection, sorted. */
  readonly inboundPeers: readonly NodeId[];
  /** Messages for a node that is not a peer (a removed member, say): dropped, as Raft expects. */
  readonly droppedUnknownPeer: number;
  /** Messages handed to send() after close(). */
  readonly droppedClosed: number;
}

const DEFAULTS = {
  maxQueueMessages: 8_192,
  maxQueueBytes: 32 * 1024 * 1024,
  handshakeTimeoutMs: 5_000,
  writeStallTimeoutMs: 30_000,
  closeTimeoutMs: 1_000,
  maxInboundConnections: 256,
  keepAliveMs: 10_000,
};

/** Sends and receives Raft messages over authenticated TCP connections. See the file comment. */
export class PeerTransport {
  readonly nodeId: NodeId;
  private readonly listenAt: HostPort;
  private readonly onMessage: (message: PeerMessage) => void;
  private readonly serveHttp: PeerTransportOptions["serveHttp"];
  private readonly codecLimits: CodecLimits;
  private readonly settings: OutboundSettings;
  private readonly maxInboundConnections: number;
  /** The largest single encoded message: it must fit in one frame and in one queue. */
  private readonly maxMessageBytes: number;
  private readonly outbound = new Map<NodeId, OutboundPeer>();
  private readonly inbound = new Set<InboundConnection>();
  private readonly inboundByPeer = new Map<NodeId, InboundConnection>();
  private readonly inboundHost: InboundHost;
  private readonly inboundStats: InboundStats = {
    acceptedConnections: 0,
    refusedConnections: 0,
    authenticatedHandshakes: 0,
    failedHandshakes: 0,
    refusedCertificates: 0,
    tlsHandshakeFailures: 0,
    receivedFrames: 0,
    receivedMessages: 0,
    receivedBytes: 0,
    droppedSpoofed: 0,
    droppedMisaddressed: 0,
    decodeErrors: 0,
  };
  /** TLS, when connections use it. */
  private readonly tls: PeerTls | null;
  /**
   * Accepted sockets still in their TLS handshake, by remote address and port (the TLS server
   * reports the TLS socket, which has the same endpoints), so that they count against the
   * connection limit and close() can end them.
   */
  private readonly inTlsHandshake = new Map<string, Socket>();
  /** Closes of removed peers still in progress; close() waits for them too. */
  private readonly retiring = new Set<Promise<void>>();
  private server: Server | null = null;
  private boundPort: number | null = null;
  private droppedUnknownPeer = 0;
  private droppedClosed = 0;
  private closing: Promise<void> | null = null;

  constructor(options: PeerTransportOptions) {
    this.nodeId = options.nodeId;
    this.listenAt = parseAddress(options.listenAddress, true);
    this.onMessage = options.onMessage;
    this.serveHttp = options.serveHttp;
    this.codecLimits = { ...DEFAULT_CODEC_LIMITS, ...options.codecLimits };
    validateNodeId(this.nodeId, this.codecLimits);
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    checkInteger("maxFrameBytes", maxFrameBytes, MAX_HANDSHAKE_FRAME_BYTES, MAX_FRAME_BYTES_LIMIT);
    const maxQueueMessages = options.maxQueueMessages ?? DEFAULTS.maxQueueMessages;
    const maxQueueBytes = options.maxQueueBytes ?? DEFAULTS.maxQueueBytes;
    checkInteger("maxQueueMessages", maxQueueMessages, 1, Number.MAX_SAFE_INTEGER);
    checkInteger("maxQueueBytes", maxQueueBytes, 1, Number.MAX_SAFE_INTEGER);
    this.maxMessageBytes = Math.min(maxQueueBytes, maxFrameBytes - MAX_VARINT_BYTES);
    this.maxInboundConnections = options.maxInboundConnections ?? DEFAULTS.maxInboundConnections;
    checkInteger("maxInboundConnections", this.maxInboundConnections, 1, Number.MAX_SAFE_INTEGER);
    const handshakeTimeoutMs = positive(
      "handshakeTimeoutMs",
      options.handshakeTimeoutMs,
      DEFAULTS.handshakeTimeoutMs,
    );
    this.tls = options.tls == null ? null : new PeerTls(options.tls, handshakeTimeoutMs);
    this.settings = {
      localId: this.nodeId,
      key: clusterKey(options.clusterSecret),
      maxFrameBytes,
      maxBatchMessages: this.codecLimits.maxBatchMessages,
      maxQueueMessages,
      maxQueueBytes,
      backoff: resolveBackoff(options.backoff),
      handshakeTimeoutMs,
      tls: this.tls,
      writeStallTimeoutMs: positive(
        "writeStallTimeoutMs",
        options.writeStallTimeoutMs,
        DEFAULTS.writeStallTimeoutMs,
      ),
      closeTimeoutMs: positive("closeTimeoutMs", options.closeTimeoutMs, DEFAULTS.closeTimeoutMs),
      keepAliveMs: DEFAULTS.keepAliveMs,
      random: options.random ?? Math.random,
      randomBytes: options.randomBytes ?? cryptoRandomBytes,
      timers: options.timers ?? NODE_TIMERS,
      log: (options.logger ?? SILENT_LOGGER).child({ component: "transport" }),
    };
    this.inboundHost = this.makeInboundHost();
    if (this.tls !== null) this.listenForTls(this.tls);
    this.updatePeers(options.peers ?? new Map<NodeId, string>());
  }

  /**
   * Replaces this node's certificate, key and cluster CA (a renewed certificate): connections made
   * from now on, both ways, use the new ones; established ones go on. Throws when the transport
   * was made without TLS (turning TLS on or off needs a restart) or the material is unusable.
   */
  setTls(options: PeerTlsOptions): void {
    if (this.tls === null) throw new TransportError("not_tls", "the transport was started without TLS");
    this.tls.update(options);
  }

  /** Starts listening; resolves with the bound port (the chosen one when the address says port 0). */
  listen(): Promise<number> {
    if (this.closing !== null) throw new TransportError("closed", "the transport is closed");
    if (this.server !== null) throw new TransportError("already_listening", "listen() was already called");
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.listenAt.port, this.listenAt.host, () => {
        server.off("error", reject);
        // close() may have run while the listener was starting; it must not stay open behind it.
        if (this.closing !== null) server.close();
        // Accept errors (such as running out of file descriptors) are transient; the listener stays.
        server.on("error", () => {});
        const address = server.address();
        this.boundPort = typeof address === "object" && address !== null ? address.port : this.listenAt.port;
        resolve(this.boundPort);
      });
    });
  }

  /** The port the transport listens on; throws before listen() has finished. */
  get port(): number {
    if (this.boundPort === null)
      throw new TransportError("not_listening", "the transport is not listening yet");
    return this.boundPort;
  }

  /**
   * Queues messages for their recipients; they leave together at the end of this event-loop turn.
   * Throws TransportError or CodecError, queueing none of them, if any message is not from this
   * node, cannot be encoded, or could never fit in a frame: those are programmer errors. Messages
   * for unknown nodes, or sent after close(), are dropped and counted. Flushing waits for the end
   * of the turn through setImmediate, not a timer: it is about batching, not about time.
   */
  send(messages: readonly PeerMessage[]): void {
    const encoded: Uint8Array[] = [];
    for (const message of messages) {
      if (message.from !== this.nodeId) {
        throw new TransportError(
          "wrong_sender",
          `message from ${message.from} handed to ${this.nodeId}'s transport`,
        );
      }
      const bytes = encodeMessage(message, this.codecLimits);
      if (bytes.length > this.maxMessageBytes) {
        throw new TransportError(
          "message_too_large",
          `a ${message.type} message of ${bytes.length} bytes exceeds the ${this.maxMessageBytes}-byte limit`,
        );
      }
      encoded.push(bytes);
    }
    if (this.closing !== null) {
      this.droppedClosed += messages.length;
      return;
    }
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
      const peer = this.outbound.get(message.to);
      if (peer === undefined) this.droppedUnknownPeer++;
      else peer.enqueue(encoded[i]!, message.type === "snapshot");
    }
  }

  /**
   * Writes out everything queued now instead of at the end of the turn. The node calls it once it
   * has handled its inputs: what it sends is already one batch, and waiting another loop
   * iteration would only add latency.
   */
  flush(): void {
    if (this.closing !== null) return;
    for (const peer of this.outbound.values()) peer.flush();
  }

  /**
   * Replaces the set of peers (after a membership change). New peers are dialled when there is
   * something for them, changed addresses are redialled, removed peers are disconnected and their
   * queues dropped. All addresses are checked before anything changes.
   */
  updatePeers(peers: PeerAddresses): void {
    const wanted = new Map<NodeId, HostPort>();
    const entries: [NodeId, string][] =
      peers instanceof Map
        ? [...(peers as ReadonlyMap<NodeId, string>).entries()]
        : Object.entries(peers as Readonly<Record<NodeId, string>>);
    for (const [id, address] of entries) {
      if (id === this.nodeId) continue;
      validateNodeId(id, this.codecLimits);
      wanted.set(id, parseAddress(address));
    }
    if (this.closing !== null) return;
    for (const [id, peer] of this.outbound) {
      if (wanted.has(id)) continue;
      this.outbound.delete(id);
      const retired = peer.close();
      this.retiring.add(retired);
      void retired.then(() => this.retiring.delete(retired));
    }
    for (const [id, address] of wanted) {
      const peer = this.outbound.get(id);
      if (peer === undefined) this.outbound.set(id, new OutboundPeer(id, address, this.settings));
      else peer.setAddress(address);
    }
  }

  /** A snapshot of the counters, for metrics and tests. */
  stats(): TransportStats {
    const peers = [...this.outbound.values()].map((peer) => peer.stats());
    peers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return {
      nodeId: this.nodeId,
      port: this.boundPort,
      authenticated: this.settings.key.length > 0,
      tls: this.tls !== null,
      peers,
      inbound: { ...this.inboundStats },
      inboundPeers: [...this.inboundByPeer.keys()].sort(),
      droppedUnknownPeer: this.droppedUnknownPeer,
      droppedClosed: this.droppedClosed,
    };
  }

  /**
   * Stops listening, discards queued messages, ends every connection cleanly (destroying those
   * that do not close within closeTimeoutMs) and resolves when all sockets are closed. Nothing is
   * delivered after close() is called. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    const waits: Promise<void>[] = [...this.retiring];
    for (const peer of this.outbound.values()) waits.push(peer.close());
    for (const connection of this.inbound) waits.push(connection.close());
    for (const socket of this.inTlsHandshake.values()) socket.destroy();
    const server = this.server;
    if (server !== null) waits.push(new Promise((resolve) => server.close(() => resolve())));
    this.closing = Promise.all(waits).then(() => undefined);
    return this.closing;
  }

  // ---------------------------------------------------------------- incoming

  private accept(socket: Socket): void {
    const open = this.inbound.size + this.inTlsHandshake.size;
    if (this.closing !== null || open >= this.maxInboundConnections) {
      this.inboundStats.refusedConnections++;
      socket.destroy();
      return;
    }
    this.inboundStats.acceptedConnections++;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, this.settings.keepAliveMs);
    if (this.tls === null) {
      this.acceptPeer(socket);
      return;
    }
    const key = endpointKey(socket);
    this.inTlsHandshake.set(key, socket);
    socket.once("close", () => {
      if (this.inTlsHandshake.get(key) === socket) this.inTlsHandshake.delete(key);
    });
    this.tls.server.emit("connection", socket);
  }

  /** Takes the TLS server's verdicts: a verified peer goes on to the handshake, anything else is refused. */
  private listenForTls(tls: PeerTls): void {
    tls.server.on("secureConnection", (socket: TLSSocket) => {
      this.inTlsHandshake.delete(endpointKey(socket));
      if (this.closing !== null) {
        socket.destroy();
        return;
      }
      if (!socket.authorized) {
        const reason = presentedCertificate(socket)
          ? (certificateRefusal(socket.authorizationError?.toString()) ??
            `its certificate was refused (${String(socket.authorizationError)})`)
          : "it presented no certificate";
        this.inboundStats.refusedCertificates++;
        this.inboundStats.failedHandshakes++;
        this.settings.log.warn(
          { remote: remoteOf(socket), reason },
          "refused a peer connection: TLS certificate not accepted",
        );
        socket.destroy();
        return;
      }
      this.acceptPeer(socket);
    });
    tls.server.on("tlsClientError", (error: Error, socket: TLSSocket) => {
      this.inTlsHandshake.delete(endpointKey(socket));
      this.inboundStats.tlsHandshakeFailures++;
      this.inboundStats.failedHandshakes++;
      const code = errorCode(error);
      // A connection that just went away (a probe, a port scan) is not worth a warning.
      const quiet = code === "ECONNRESET" || code === "EPIPE";
      this.settings.log[quiet ? "debug" : "warn"](
        { remote: remoteOf(socket), reason: error.message, code },
        "a peer connection failed its TLS handshake",
      );
      socket.destroy();
    });
  }

  /** An accepted connection (after TLS, when on): a peer's handshake, or HTTP on the Raft port. */
  private acceptPeer(socket: Socket): void {
    const serveHttp = this.serveHttp;
    if (serveHttp === undefined) {
      this.inbound.add(new InboundConnection(socket, this.inboundHost));
      return;
    }
    // Look at the first bytes: "GET " is a person with curl, anything else a peer.
    const deadline = setTimeout(() => socket.destroy(), this.settings.handshakeTimeoutMs);
    socket.once("error", () => clearTimeout(deadline));
    socket.once("data", (first: Buffer) => {
      clearTimeout(deadline);
      if (first.subarray(0, 4).toString("latin1") === "GET ") {
        answerHttp(socket, first, serveHttp);
        return;
      }
      // Hand the bytes back and the socket on: an explicitly paused stream stays paused until
      // resumed, even once the connection's own 'data' listener is attached.
      socket.pause();
      socket.unshift(first);
      this.inbound.add(new InboundConnection(socket, this.inboundHost));
      socket.resume();
    });
  }

  private makeInboundHost(): InboundHost {
    return {
      localId: this.nodeId,
      key: this.settings.key,
      maxFrameBytes: this.settings.maxFrameBytes,
      codecLimits: this.codecLimits,
      handshakeTimeoutMs: this.settings.handshakeTimeoutMs,
      closeTimeoutMs: this.settings.closeTimeoutMs,
      randomBytes: this.settings.randomBytes,
      timers: this.settings.timers,
      stats: this.inboundStats,
      authenticated: (connection) => {
        // One connection per peer: a newer one means the peer restarted or redialled.
        const peerId = connection.peerId!;
        this.settings.log.debug({ peer: peerId }, "peer dialled in");
        this.inboundByPeer.get(peerId)?.abort();
        this.inboundByPeer.set(peerId, connection);
      },
      deliver: (message) => {
        if (this.closing === null) this.onMessage(message);
      },
      closed: (connection) => {
        this.inbound.delete(connection);
        const peerId = connection.peerId;
        if (peerId !== null && this.inboundByPeer.get(peerId) === connection)
          this.inboundByPeer.delete(peerId);
      },
    };
  }
}

/** A socket's remote endpoint as one key: the same for a TCP socket and the TLS socket over it. */
function endpointKey(socket: Socket): string {
  return `${socket.remoteAddress ?? "?"}|${socket.remotePort ?? 0}`;
}

function remoteOf(socket: Socket): string {
  return `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], not ${value}`);
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!(resolved > 0 && Number.isFinite(resolved)))
    throw new RangeError(`${name} must be positive, not ${resolved}`);
  return resolved;
}

/** Largest HTTP request head accepted on the Raft port. */
const MAX_HTTP_HEAD_BYTES = 8 * 1024;

/** Reads one small HTTP GET, answers it, and closes the connection. */
function answerHttp(
  socket: Socket,
  first: Buffer,
  serve: NonNullable<PeerTransportOptions["serveHttp"]>,
): void {
  let head = first.toString("latin1");
  const respond = (): void => {
    socket.removeAllListeners("data");
    const path = head.split(" ")[1] ?? "/";
    serve(path).then(
      ({ status, contentType, body }) => {
        const payload = Buffer.from(body);
        socket.end(
          `HTTP/1.1 ${status} ${status === 200 ? "OK" : "Not Found"}\r\ncontent-type: ${contentType}\r\n` +
            `content-length: ${payload.length}\r\nconnection: close\r\n\r\n${body}`,
        );
      },
      () => socket.destroy(),
    );
  };
  if (head.includes("\r\n\r\n")) return respond();
  socket.on("data", (chunk: Buffer) => {
    head += chunk.toString("latin1");
    if (head.length > MAX_HTTP_HEAD_BYTES) socket.destroy();
    else if (head.includes("\r\n\r\n")) respond();
  });
}
