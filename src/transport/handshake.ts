/**
 * The connection handshake: both ends prove they know the cluster secret without sending it, and
 * learn each other's node id. Pure state machines over frame payloads; the socket code feeds them.
 *
 *   client -> server  HELLO    version, clientId, serverId (whom the client meant to dial), clientNonce
 *   server -> client  WELCOME  serverId, serverNonce, serverProof
 *   client -> server  PROOF    clientProof
 *   server -> client  ACCEPT   (or REJECT with a reason, at any step, after which the server closes)
 *
 *   proof = HMAC-SHA256(secret, label || version || clientId || clientNonce || serverId || serverNonce)
 *
 * with ids length-prefixed and distinct labels for the two directions, so a proof can be neither
 * replayed on another connection (fresh 32-byte nonces from both ends) nor reflected back to the
 * side that made it (the label differs). Proofs are compared with timingSafeEqual.
 *
 * Without a secret the same exchange runs with an empty HMAC key: ids are exchanged and checked,
 * but anyone who can reach the port can claim any id. That mode is insecure and meant for tests
 * and single-machine development only. Even with a secret, only the connection's start is
 * authenticated: the stream afterwards is neither encrypted nor integrity-protected, so a network
 * where an attacker can see or hijack TCP connections needs the transport's mutual TLS (tls.ts,
 * `--peer-tls-ca`), inside which this handshake then runs unchanged.
 */

import { createHmac, timingSafeEqual } from "node:crypto";
import type { NodeId } from "../raft/types.js";
import { ByteReader } from "./byte-reader.js";
import { ByteWriter, varintSize } from "./byte-writer.js";
import { CodecError } from "./codec-error.js";

/** The protocol version both ends must speak; bumped on any incompatible change to framing or codec. */
export const HANDSHAKE_VERSION = 1;
/** Handshake frames are tiny; an unauthenticated peer may not make us buffer more than this. */
export const MAX_HANDSHAKE_FRAME_BYTES = 1024;
/** Bytes of fresh randomness each side contributes to a handshake. */
export const NONCE_BYTES = 32;
/** The shortest cluster secret accepted: shorter ones fall to an offline guess from one recorded handshake. */
export const MIN_SECRET_BYTES = 16;

const PROOF_BYTES = 32;
const MAX_ID_BYTES = 255;
const HELLO = 1;
const WELCOME = 2;
const PROOF = 3;
const ACCEPT = 4;
const REJECT = 5;
const SERVER_LABEL = new TextEncoder().encode("juno transport server proof");
const CLIENT_LABEL = new TextEncoder().encode("juno transport client proof");

/** Why a server turned a client away; sent to the client so an operator sees the misconfiguration. */
export type HandshakeRejectReason = "bad_proof" | "wrong_node" | "same_node" | "version" | "protocol";

const REJECT_REASONS: readonly HandshakeRejectReason[] = [
  "bad_proof",
  "wrong_node",
  "same_node",
  "version",
  "protocol",
];

/** How a handshake failed: a reason detected locally, or `rejected` when the server refused us. */
export type HandshakeErrorCode = HandshakeRejectReason | "rejected";

/** A failed handshake. `reply`, when set, is a REJECT payload to send before closing the connection. */
export class HandshakeError extends Error {
  override name = "HandshakeError";

  constructor(
    readonly code: HandshakeErrorCode,
    message: string,
    readonly reply: Uint8Array | null = null,
    /** For `rejected`: the reason the server gave. */
    readonly rejectReason: HandshakeRejectReason | null = null,
  ) {
    super(message);
  }
}

/** What one handshake step asks of the connection: send `reply` (if any); `peerId` is set once authenticated. */
export interface HandshakeStep {
  readonly reply: Uint8Array | null;
  readonly peerId: NodeId | null;
}

/** Turns the configured secret into the HMAC key; no secret is the insecure empty key. */
export function clusterKey(secret: string | Uint8Array | null | undefined): Uint8Array {
  if (secret === null || secret === undefined) return new Uint8Array(0);
  const key = typeof secret === "string" ? new TextEncoder().encode(secret) : secret;
  if (key.length < MIN_SECRET_BYTES) {
    throw new RangeError(
      `the cluster secret must be at least ${MIN_SECRET_BYTES} bytes (use 32 random bytes); leave it unset for an insecure cluster`,
    );
  }
  return key;
}

/** The dialing side's state machine. */
export class ClientHandshake {
  private state: "start" | "awaiting_welcome" | "awaiting_result" | "done" = "start";

  constructor(
    private readonly localId: NodeId,
    /** The node the client meant to dial; a different node answering is refused. */
    private readonly peerId: NodeId,
    private readonly key: Uint8Array,
    private readonly nonce: Uint8Array,
  ) {
    checkNonce(nonce);
  }

  /** The HELLO payload that opens the handshake. */
  start(): Uint8Array {
    if (this.state !== "start") throw new Error("handshake already started");
    this.state = "awaiting_welcome";
    const local = idBytes(this.localId);
    const peer = idBytes(this.peerId);
    const w = new ByteWriter(new Uint8Array(2 + prefixedSize(local) + prefixedSize(peer) + NONCE_BYTES));
    w.u8(HELLO);
    w.u8(HANDSHAKE_VERSION);
    w.lengthPrefixed(local);
    w.lengthPrefixed(peer);
    w.raw(this.nonce);
    return w.finish();
  }

  /** Handles a payload from the server. Throws HandshakeError on anything but the expected step. */
  receive(payload: Uint8Array): HandshakeStep {
    const r = new ByteReader(payload);
    const kind = guard(() => r.u8("handshake kind"));
    if (kind === REJECT) throw rejected(r);
    if (this.state === "awaiting_welcome" && kind === WELCOME) return this.onWelcome(r);
    if (this.state === "awaiting_result" && kind === ACCEPT) {
      guard(() => r.expectEnd("accept"));
      this.state = "done";
      return { reply: null, peerId: this.peerId };
    }
    throw new HandshakeError("protocol", `unexpected handshake message ${kind} in state ${this.state}`);
  }

  private onWelcome(r: ByteReader): HandshakeStep {
    const { serverId, serverNonce, serverProof } = guard(() => {
      const fields = {
        serverId: r.string("server id", MAX_ID_BYTES),
        serverNonce: fixed(r, NONCE_BYTES, "server nonce"),
        serverProof: fixed(r, PROOF_BYTES, "server proof"),
      };
      r.expectEnd("welcome");
      return fields;
    });
    if (serverId !== this.peerId) {
      throw new HandshakeError("wrong_node", `dialed ${this.peerId} but ${serverId} answered`);
    }
    const transcript = { clientId: this.localId, clientNonce: this.nonce, serverId, serverNonce };
    if (!proofMatches(serverProof, computeProof(this.key, SERVER_LABEL, transcript))) {
      throw new HandshakeError("bad_proof", `${serverId} does not know the cluster secret`);
    }
    this.state = "awaiting_result";
    const w = new ByteWriter(new Uint8Array(1 + PROOF_BYTES));
    w.u8(PROOF);
    w.raw(computeProof(this.key, CLIENT_LABEL, transcript));
    return { reply: w.finish(), peerId: null };
  }
}

/** The accepting side's state machine. */
export class ServerHandshake {
  private state: "awaiting_hello" | "awaiting_proof" | "done" = "awaiting_hello";
  private clientId: NodeId = "";
  private clientNonce: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly localId: NodeId,
    private readonly key: Uint8Array,
    private readonly nonce: Uint8Array,
  ) {
    checkNonce(nonce);
  }

  /** Handles a payload from the client. Throws HandshakeError (with a REJECT reply) on failure. */
  receive(payload: Uint8Array): HandshakeStep {
    const r = new ByteReader(payload);
    const kind = guardRejecting(() => r.u8("handshake kind"));
    if (this.state === "awaiting_hello" && kind === HELLO) return this.onHello(r);
    if (this.state === "awaiting_proof" && kind === PROOF) return this.onProof(r);
    throw reject("protocol", `unexpected handshake message ${kind} in state ${this.state}`);
  }

  private onHello(r: ByteReader): HandshakeStep {
    const version = guardRejecting(() => r.u8("version"));
    if (version !== HANDSHAKE_VERSION) {
      throw reject("version", `client speaks version ${version}, this node ${HANDSHAKE_VERSION}`);
    }
    const hello = guardRejecting(() => {
      const fields = {
        clientId: r.string("client id", MAX_ID_BYTES),
        serverId: r.string("server id", MAX_ID_BYTES),
        clientNonce: fixed(r, NONCE_BYTES, "client nonce"),
      };
      r.expectEnd("hello");
      return fields;
    });
    if (hello.serverId !== this.localId) {
      throw reject(
        "wrong_node",
        `${hello.clientId} meant to dial ${hello.serverId}, this is ${this.localId}`,
      );
    }
    if (hello.clientId === this.localId)
      throw reject("same_node", `a client claims this node's id ${this.localId}`);
    this.clientId = hello.clientId;
    this.clientNonce = hello.clientNonce;
    this.state = "awaiting_proof";
    const local = idBytes(this.localId);
    const w = new ByteWriter(new Uint8Array(1 + prefixedSize(local) + NONCE_BYTES + PROOF_BYTES));
    w.u8(WELCOME);
    w.lengthPrefixed(local);
    w.raw(this.nonce);
    w.raw(computeProof(this.key, SERVER_LABEL, this.transcript()));
    return { reply: w.finish(), peerId: null };
  }

  private onProof(r: ByteReader): HandshakeStep {
    const clientProof = guardRejecting(() => {
      const proof = fixed(r, PROOF_BYTES, "client proof");
      r.expectEnd("proof");
      return proof;
    });
    if (!proofMatches(clientProof, computeProof(this.key, CLIENT_LABEL, this.transcript()))) {
      throw reject("bad_proof", `${this.clientId} does not know the cluster secret`);
    }
    this.state = "done";
    return { reply: new Uint8Array([ACCEPT]), peerId: this.clientId };
  }

  private transcript(): Transcript {
    return {
      clientId: this.clientId,
      clientNonce: this.clientNonce,
      serverId: this.localId,
      serverNonce: this.nonce,
    };
  }
}

/** Everything both proofs cover. */
interface Transcript {
  readonly clientId: NodeId;
  readonly clientNonce: Uint8Array;
  readonly serverId: NodeId;
  readonly serverNonce: Uint8Array;
}

function computeProof(key: Uint8Array, label: Uint8Array, t: Transcript): Uint8Array {
  const client = idBytes(t.clientId);
  const server = idBytes(t.serverId);
  return createHmac("sha256", key)
    .update(label)
    .update(new Uint8Array([HANDSHAKE_VERSION, client.length]))
    .update(client)
    .update(t.clientNonce)
    .update(new Uint8Array([server.length]))
    .update(server)
    .update(t.serverNonce)
    .digest();
}

/** Constant-time comparison, so response timing does not reveal how much of a forged proof was right. */
function proofMatches(received: Uint8Array, expected: Uint8Array): boolean {
  return received.length === expected.length && timingSafeEqual(received, expected);
}

function idBytes(id: NodeId): Uint8Array {
  const bytes = new TextEncoder().encode(id);
  if (bytes.length === 0 || bytes.length > MAX_ID_BYTES) {
    throw new RangeError(`a node id must be 1..${MAX_ID_BYTES} UTF-8 bytes`);
  }
  return bytes;
}

function prefixedSize(bytes: Uint8Array): number {
  return varintSize(bytes.length) + bytes.length;
}

function fixed(r: ByteReader, length: number, what: string): Uint8Array {
  const copy = new Uint8Array(length);
  for (let i = 0; i < length; i++) copy[i] = r.u8(what);
  return copy;
}

function checkNonce(nonce: Uint8Array): void {
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`a handshake nonce is ${NONCE_BYTES} bytes`);
}

function reject(reason: HandshakeRejectReason, message: string): HandshakeError {
  return new HandshakeError(reason, message, new Uint8Array([REJECT, REJECT_REASONS.indexOf(reason) + 1]));
}

function rejected(r: ByteReader): HandshakeError {
  const code = guard(() => r.u8("reject reason"));
  const reason = REJECT_REASONS[code - 1] ?? "protocol";
  return new HandshakeError("rejected", `the server refused the handshake: ${reason}`, null, reason);
}

/** Runs a parse step, turning malformed bytes into a protocol failure. */
function guard<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof CodecError) throw new HandshakeError("protocol", error.message);
    throw error;
  }
}

/** As guard(), with a REJECT reply for the client. */
function guardRejecting<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof CodecError) throw reject("protocol", error.message);
    throw error;
  }
}
