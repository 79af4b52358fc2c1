// Proves PeerTransport over real loopback sockets on system-chosen ports: messages of every kind
// arrive intact between two and three nodes, everything sent in one event-loop turn leaves as one
// frame, a restarted or moved peer is reconnected to, the queue for a dead peer stays bounded with
// its drops counted and the oldest ordinary messages evicted first, a multi-MiB snapshot chunk
// arrives byte for byte, and close() ends everything.

import { createHash, randomBytes } from "node:crypto";
import net from "node:net";
import { describe, expect, it } from "vitest";
import type { PeerMessage as Message } from "../../src/transport/peer-message.js";
import { CodecError, TransportError } from "../../src/transport/index.js";
import { heartbeat, peerStats, startCluster, startNode, waitUntil } from "./helpers.js";

/** One message of every kind from `from` to `to`. */
function everyKind(from: string, to: string): Message[] {
  const membership = { voters: ["a", "b", "c"], learners: ["d"] };
  return [
    { type: "vote", from, to, term: 4, lastLogIndex: 10, lastLogTerm: 3, transfer: false },
    { type: "pre_vote", from, to, term: 5, lastLogIndex: 10, lastLogTerm: 3, transfer: true },
    { type: "vote_resp", from, to, term: 4, reject: true },
    { type: "pre_vote_resp", from, to, term: 5, reject: false },
    {
      type: "append",
      from,
      to,
      term: 4,
      prevIndex: 2 ** 40,
      prevTerm: 3,
      commit: 2 ** 40 - 5,
      entries: [
        { index: 2 ** 40 + 1, term: 4, type: "config", data: new Uint8Array([1, 2]) },
        { index: 2 ** 40 + 2, term: 4, type: "normal", data: new Uint8Array() },
      ],
    },
    { type: "append_resp", from, to, term: 4, reject: true, index: 12, hintIndex: 9, hintTerm: 2 },
    { type: "heartbeat", from, to, term: 4, commit: 12, readSeq: 7 },
    { type: "heartbeat_resp", from, to, term: 4, readSeq: 7 },
    {
      type: "snapshot",
      from,
      to,
      term: 4,
      index: 100,
      snapshotTerm: 3,
      membership,
      totalBytes: 3,
      offset: 0,
      chunk: new Uint8Array([4, 5, 6]),
    },
    { type: "snapshot_resp", from, to, term: 4, index: 100, received: 3 },
    { type: "timeout_now", from, to, term: 4 },
    { type: "read_index", from, to, term: 4, context: 42 },
    { type: "read_index_resp", from, to, term: 4, context: 42, index: 12, reject: false },
  ];
}

/** A port on which nothing listens: bound by the system, then released. */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("PeerTransport on loopback", () => {
  it("two nodes exchange messages of every kind, both ways, intact and in order", async () => {
    const nodes = await startCluster(["a", "b"]);
    const a = nodes.get("a")!;
    const b = nodes.get("b")!;
    a.transport.send(everyKind("a", "b"));
    b.transport.send(everyKind("b", "a"));
    await b.inbox.waitForCount(13);
    await a.inbox.waitForCount(13);
    expect(b.inbox.messages).toEqual(everyKind("a", "b"));
    expect(a.inbox.messages).toEqual(everyKind("b", "a"));
    expect(peerStats(a.transport, "b")).toMatchObject({
      connected: true,
      sentMessages: 13,
      droppedMessages: 0,
    });
    expect(b.transport.stats()).toMatchObject({ inboundPeers: ["a"], authenticated: true });
  });

  it("three nodes exchange messages all to all", async () => {
    const ids = ["a", "b", "c"];
    const nodes = await startCluster(ids);
    for (const from of ids) {
      const messages = ids
        .filter((to) => to !== from)
        .flatMap((to) => [heartbeat(from, to, 1), heartbeat(from, to, 2)]);
      nodes.get(from)!.transport.send(messages);
    }
    for (const to of ids) {
      const node = nodes.get(to)!;
      await node.inbox.waitForCount(4);
      const senders = node.inbox.messages.map((m) => `${m.from}->${m.to}`).sort();
      const expected = ids
        .filter((from) => from !== to)
        .flatMap((from) => [`${from}->${to}`, `${from}->${to}`]);
      expect(senders).toEqual(expected.sort());
    }
  });

  it("batches everything sent in one event-loop turn into one frame", async () => {
    const nodes = await startCluster(["a", "b"]);
    const a = nodes.get("a")!;
    const b = nodes.get("b")!;
    a.transport.send([heartbeat("a", "b", 0)]);
    await b.inbox.waitForCount(1);
    const framesBefore = peerStats(a.transport, "b").sentFrames;
    const receivedBefore = b.transport.stats().inbound.receivedFrames;

    for (let seq = 1; seq <= 500; seq++) a.transport.send([heartbeat("a", "b", seq)]);
    await b.inbox.waitForCount(501);

    expect(peerStats(a.transport, "b").sentFrames).toBe(framesBefore + 1);
    expect(b.transport.stats().inbound.receivedFrames).toBe(receivedBefore + 1);
    expect(b.inbox.messages.map((m) => (m.type === "heartbeat" ? m.readSeq : -1))).toEqual(
      Array.from({ length: 501 }, (_, i) => i),
    );
  });

  it("reconnects after the peer restarts on the same address", async () => {
    const nodes = await startCluster(["a", "b"]);
    const a = nodes.get("a")!;
    const b = nodes.get("b")!;
    a.transport.send([heartbeat("a", "b", 1)]);
    await b.inbox.waitForCount(1);
    const port = b.transport.port;
    await b.transport.close();
    await waitUntil(() => !peerStats(a.transport, "b").connected, "a to notice b is gone");

    // While b is down, a keeps dialling (its queue is not empty) and backing off.
    a.transport.send([heartbeat("a", "b", 2)]);
    await waitUntil(() => peerStats(a.transport, "b").dialAttempts >= 3, "a to retry");

    const restarted = await startNode("b", { peers: { a: a.address } }, port);
    await restarted.inbox.waitForCount(1);
    expect(restarted.inbox.messages).toEqual([heartbeat("a", "b", 2)]);
    expect(peerStats(a.transport, "b")).toMatchObject({ connected: true, connects: 2 });
    expect(peerStats(a.transport, "b").reconnects).toBeGreaterThanOrEqual(2);

    // And the restarted node's answers reach a on a connection of its own.
    restarted.transport.send([heartbeat("b", "a", 3)]);
    await a.inbox.waitForCount(1);
    expect(a.inbox.messages).toEqual([heartbeat("b", "a", 3)]);
  });

  it("follows a peer to a new address given by updatePeers", async () => {
    const nodes = await startCluster(["a", "b"]);
    const a = nodes.get("a")!;
    const b = nodes.get("b")!;
    a.transport.send([heartbeat("a", "b", 1)]);
    await b.inbox.waitForCount(1);
    await b.transport.close();

    const moved = await startNode("b");
    a.transport.send([heartbeat("a", "b", 2)]);
    a.transport.updatePeers({ a: a.address, b: moved.address });
    await moved.inbox.waitForCount(1);
    expect(moved.inbox.messages).toEqual([heartbeat("a", "b", 2)]);
    expect(peerStats(a.transport, "b").address).toBe(moved.address);
  });

  it("bounds the queue of a dead peer, counts the drops, and delivers the survivors once it is up", async () => {
    const port = await deadPort();
    const a = await startNode("a", {
      peers: { b: `127.0.0.1:${port}` },
      maxQueueMessages: 100,
      maxQueueBytes: 64 * 1024,
    });
    const chunk: Message = {
      type: "snapshot",
      from: "a",
      to: "b",
      term: 3,
      index: 50,
      snapshotTerm: 2,
      membership: { voters: ["a", "b"], learners: [] },
      totalBytes: 1_024,
      offset: 0,
      chunk: new Uint8Array(1_024).fill(9),
    };
    a.transport.send([chunk]);
    let sent = 1;
    for (let turn = 0; turn < 50; turn++) {
      a.transport.send(Array.from({ length: 200 }, () => heartbeat("a", "b", sent++)));
      const stats = peerStats(a.transport, "b");
      expect(stats.queuedMessages).toBeLessThanOrEqual(100);
      expect(stats.queuedBytes).toBeLessThanOrEqual(64 * 1024);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const stats = peerStats(a.transport, "b");
    expect(stats.connected).toBe(false);
    expect(stats.lastError).not.toBeNull();
    expect(stats.queuedMessages).toBe(100);
    expect(stats.droppedMessages).toBe(sent - 100);
    expect(stats.sentMessages).toBe(0);

    // The peer comes up: it gets the snapshot chunk and the 99 newest heartbeats, in order.
    const b = await startNode("b");
    a.transport.updatePeers({ b: b.address });
    await b.inbox.waitForCount(100);
    expect(b.inbox.messages[0]).toEqual(chunk);
    const sequences = b.inbox.messages.slice(1).map((m) => (m.type === "heartbeat" ? m.readSeq : -1));
    expect(sequences).toEqual(Array.from({ length: 99 }, (_, i) => sent - 99 + i));
  });

  it("delivers an 8 MiB snapshot chunk intact", async () => {
    const nodes = await startCluster(["a", "b"]);
    const a = nodes.get("a")!;
    const b = nodes.get("b")!;
    const bytes = new Uint8Array(randomBytes(8 * 1024 * 1024));
    const chunk: Message = {
      type: "snapshot",
      from: "a",
      to: "b",
      term: 7,
      index: 123_456,
      snapshotTerm: 6,
      membership: { voters: ["a", "b"], learners: [] },
      totalBytes: 3 * bytes.length,
      offset: bytes.length,
      chunk: bytes,
    };
    a.transport.send([chunk, heartbeat("a", "b", 1)]);
    await b.inbox.waitForCount(2);
    const received = b.inbox.messages[0]!;
    if (received.type !== "snapshot") throw new Error(`expected a snapshot chunk, got ${received.type}`);
    expect(received.chunk.length).toBe(bytes.length);
    const digest = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");
    expect(digest(received.chunk)).toBe(digest(bytes));
    expect({ ...received, chunk: null }).toEqual({ ...chunk, chunk: null });
    expect(b.inbox.messages[1]).toEqual(heartbeat("a", "b", 1));
  });

  it("refuses to send what it could never deliver, queueing nothing of the call", async () => {
    const nodes = await startCluster(["a", "b"], { maxFrameBytes: 64 * 1024 });
    const a = nodes.get("a")!;
    const tooLarge: Message = {
      type: "snapshot",
      from: "a",
      to: "b",
      term: 1,
      index: 1,
      snapshotTerm: 1,
      membership: { voters: ["a"], learners: [] },
      totalBytes: 100_000,
      offset: 0,
      chunk: new Uint8Array(100_000),
    };
    const attempt = (messages: Message[]): string => {
      try {
        a.transport.send(messages);
      } catch (error) {
        if (error instanceof TransportError || error instanceof CodecError) return error.code;
        throw error;
      }
      return "sent";
    };
    expect(attempt([heartbeat("a", "b", 1), tooLarge])).toBe("message_too_large");
    expect(attempt([heartbeat("a", "b", 1), heartbeat("z", "b", 2)])).toBe("wrong_sender");
    expect(attempt([heartbeat("a", "b", 1), { ...heartbeat("a", "b", 2), term: -1 }])).toBe("invalid_value");
    expect(peerStats(a.transport, "b")).toMatchObject({ queuedMessages: 0, dialAttempts: 0 });
  });

  it("counts messages for unknown nodes and disconnects peers that are removed", async () => {
    const nodes = await startCluster(["a", "b"]);
    const a = nodes.get("a")!;
    const b = nodes.get("b")!;
    a.transport.send([heartbeat("a", "b", 1), heartbeat("a", "nobody", 2)]);
    await b.inbox.waitForCount(1);
    expect(a.transport.stats().droppedUnknownPeer).toBe(1);
    await waitUntil(() => b.transport.stats().inboundPeers.length === 1, "b to see a's connection");

    a.transport.updatePeers({ a: a.address });
    expect(a.transport.stats().peers).toEqual([]);
    await waitUntil(() => b.transport.stats().inboundPeers.length === 0, "a's connection to b to close");
    a.transport.send([heartbeat("a", "b", 3)]);
    expect(a.transport.stats().droppedUnknownPeer).toBe(2);
  });

  it("close() ends every connection, and nothing is delivered or sent afterwards", async () => {
    const nodes = await startCluster(["a", "b"]);
    const a = nodes.get("a")!;
    const b = nodes.get("b")!;
    a.transport.send([heartbeat("a", "b", 1)]);
    b.transport.send([heartbeat("b", "a", 1)]);
    await b.inbox.waitForCount(1);
    await a.inbox.waitForCount(1);

    await a.transport.close();
    await waitUntil(() => b.transport.stats().inboundPeers.length === 0, "b to see a's connection end");
    await waitUntil(() => !peerStats(b.transport, "a").connected, "b's connection to a to end");
    expect(peerStats(a.transport, "b").connected).toBe(false);
    a.transport.send([heartbeat("a", "b", 2)]);
    expect(a.transport.stats().droppedClosed).toBe(1);
    expect(a.transport.close()).toBe(a.transport.close());
    expect(() => a.transport.listen()).toThrow(TransportError);
  });
});
