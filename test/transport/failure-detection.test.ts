// Proves how the transport copes with peers that fail: reconnection delays are exactly the
// injected backoff's (drawn with the injected random source, scheduled on the injected timers),
// and a peer that accepts a connection but stops reading is dropped after writeStallTimeoutMs
// instead of letting frames pile up in the socket.

import { randomBytes } from "node:crypto";
import net from "node:net";
import { describe, expect, it } from "vitest";
import type { Message } from "../../src/raft/types.js";
import {
  clusterKey,
  encodeFrame,
  FrameReader,
  ServerHandshake,
  type TimerHandle,
  type Timers,
} from "../../src/transport/index.js";
import { heartbeat, peerStats, SECRET, startNode, waitUntil } from "./helpers.js";

/** Timers that never fire by themselves: the test runs each callback when it chooses. */
class ManualTimers implements Timers {
  readonly scheduled: { callback: () => void; delayMs: number; cancelled: boolean; ran: boolean }[] = [];

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer = { callback, delayMs, cancelled: false, ran: false };
    this.scheduled.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as { cancelled: boolean }).cancelled = true;
  }

  /** The callbacks still waiting with the given delay. */
  pending(delayMs: number) {
    return this.scheduled.filter((timer) => !timer.cancelled && !timer.ran && timer.delayMs === delayMs);
  }
}

/** A server that completes the handshake as `id` and then never reads another byte. */
async function deafPeer(id: string): Promise<{ server: net.Server; port: number; sockets: net.Socket[] }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    const reader = new FrameReader(1024);
    const handshake = new ServerHandshake(id, clusterKey(SECRET), randomBytes(32));
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      reader.push(chunk);
      for (let frame = reader.next(); frame !== null; frame = reader.next()) {
        const step = handshake.receive(frame);
        if (step.reply !== null) socket.write(encodeFrame(step.reply));
        if (step.peerId !== null) {
          socket.pause();
          return;
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as net.AddressInfo).port, sockets };
}

describe("failure detection", () => {
  it("waits the injected backoff between reconnection attempts", async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const timers = new ManualTimers();
    const handshakeTimeoutMs = 60_000;
    const a = await startNode("a", {
      peers: { b: `127.0.0.1:${port}` },
      timers,
      random: () => 0,
      handshakeTimeoutMs,
      backoff: { initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2, jitter: 0.5 },
    });
    a.transport.send([heartbeat("a", "b", 1)]);
    const delays: number[] = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      await waitUntil(
        () => timers.scheduled.some((t) => !t.ran && !t.cancelled && t.delayMs !== handshakeTimeoutMs),
        `retry ${attempt} to be scheduled`,
      );
      const retry = timers.scheduled.find((t) => !t.ran && !t.cancelled && t.delayMs !== handshakeTimeoutMs)!;
      delays.push(retry.delayMs);
      retry.ran = true;
      retry.callback();
    }
    // With random() = 0 each delay is the lower end of its jitter range: half the doubling ceiling.
    expect(delays).toEqual([50, 100, 200, 400, 500, 500]);
    expect(peerStats(a.transport, "b")).toMatchObject({ dialAttempts: 7, reconnects: 6, connected: false });
    // Once the seventh attempt has failed too, no connection deadline is left behind.
    await waitUntil(() => timers.pending(500).length === 1, "the seventh retry to be scheduled");
    expect(timers.pending(handshakeTimeoutMs)).toEqual([]);
  });

  it("drops a connection whose peer stops reading, after writeStallTimeoutMs", async () => {
    const deaf = await deafPeer("b");
    try {
      const a = await startNode("a", { peers: { b: `127.0.0.1:${deaf.port}` }, writeStallTimeoutMs: 200 });
      a.transport.send([heartbeat("a", "b", 0)]);
      await waitUntil(() => peerStats(a.transport, "b").connected, "a to connect to the deaf peer");

      // 24 MiB in one frame: far more than loopback socket buffers hold, so the write cannot drain.
      const chunk = (offset: number): Message => ({
        type: "snapshot",
        from: "a",
        to: "b",
        term: 1,
        index: 10,
        snapshotTerm: 1,
        membership: { voters: ["a", "b"], learners: [] },
        totalBytes: 3 * 8 * 1024 * 1024,
        offset,
        chunk: new Uint8Array(8 * 1024 * 1024),
      });
      a.transport.send([chunk(0), chunk(8 * 1024 * 1024), chunk(16 * 1024 * 1024)]);
      await waitUntil(() => !peerStats(a.transport, "b").connected, "a to give up on the deaf peer");
      expect(peerStats(a.transport, "b").lastError).toMatch(/stopped reading/);
    } finally {
      for (const socket of deaf.sockets) socket.destroy();
      await new Promise<void>((resolve) => deaf.server.close(() => resolve()));
    }
  });
});
