// A hand-driven client socket for the authentication tests: it speaks the handshake and frames
// itself, so a test can behave the way no PeerTransport would (forge ids, skip steps, send junk).

import { randomBytes } from "node:crypto";
import net from "node:net";
import { ClientHandshake, clusterKey, encodeFrame, FrameReader } from "../../src/transport/index.js";
import { waitUntil } from "./helpers.js";

/** A raw TCP connection to a transport, with the frames it received and whether it closed. */
export class RawClient {
  readonly frames: Uint8Array[] = [];
  isClosed = false;
  private readonly reader = new FrameReader(1 << 20);

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.reader.push(chunk);
      for (let frame = this.reader.next(); frame !== null; frame = this.reader.next())
        this.frames.push(frame.slice());
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.isClosed = true;
    });
  }

  /** Connects to a transport listening on 127.0.0.1:`port`. */
  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new RawClient(socket);
  }

  /** Writes raw bytes. */
  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Writes one frame around `payload`. */
  writeFrame(payload: Uint8Array): void {
    this.socket.write(encodeFrame(payload));
  }

  /** Runs the client handshake as `localId` towards `peerId`; throws HandshakeError if it fails. */
  async handshake(localId: string, peerId: string, secret: string | null): Promise<void> {
    const handshake = new ClientHandshake(localId, peerId, clusterKey(secret), randomBytes(32));
    this.writeFrame(handshake.start());
    let handled = 0;
    for (;;) {
      await waitUntil(() => this.frames.length > handled || this.isClosed, "a handshake frame");
      if (this.frames.length <= handled) throw new Error("the server closed the connection mid-handshake");
      const step = handshake.receive(this.frames[handled++]!);
      if (step.reply !== null) this.writeFrame(step.reply);
      if (step.peerId !== null) return;
    }
  }

  /** Waits until the server has closed the connection. */
  async waitClosed(): Promise<void> {
    await waitUntil(() => this.isClosed, "the server to close the connection");
  }

  /** Closes our side. */
  destroy(): void {
    this.socket.destroy();
  }
}
