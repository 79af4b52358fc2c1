// Proves the transport's authentication over real sockets: a peer with the wrong secret (or none)
// is refused and nothing it sent is delivered; a message whose `from` is not the authenticated id
// is dropped; unauthenticated junk, oversized pre-handshake frames, stalled handshakes and excess
// connections are cut off; and without any secret ids are still exchanged (the insecure mode).

import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  ClientHandshake,
  clusterKey,
  encodeBatch,
  encodeFrame,
  HandshakeError,
} from "../../src/transport/index.js";
import { heartbeat, peerStats, SECRET, startCluster, startNode, waitUntil } from "./helpers.js";
import { RawClient } from "./raw-client.js";

describe("authentication", () => {
  it("refuses a peer with the wrong secret: handshake fails both ways and nothing is delivered", async () => {
    const b = await startNode("b");
    const a = await startNode("a", { clusterSecret: "not-the-cluster-secret!", peers: { b: b.address } });
    b.transport.updatePeers({ a: a.address });
    a.transport.send([heartbeat("a", "b", 1)]);
    b.transport.send([heartbeat("b", "a", 1)]);
    await waitUntil(() => peerStats(a.transport, "b").handshakeFailures >= 2, "a's handshakes to fail");
    await waitUntil(() => peerStats(b.transport, "a").handshakeFailures >= 2, "b's handshakes to fail");
    expect(peerStats(a.transport, "b")).toMatchObject({ connected: false, sentMessages: 0 });
    expect(peerStats(a.transport, "b").lastError).toMatch(/secret/);
    expect(b.transport.stats().inbound.failedHandshakes).toBeGreaterThanOrEqual(1);
    expect(b.transport.stats().inbound.authenticatedHandshakes).toBe(0);
    expect(a.inbox.messages).toEqual([]);
    expect(b.inbox.messages).toEqual([]);
  });

  it("refuses a peer without a secret when the cluster has one", async () => {
    const b = await startNode("b");
    const a = await startNode("a", { clusterSecret: null, peers: { b: b.address } });
    a.transport.send([heartbeat("a", "b", 1)]);
    await waitUntil(() => peerStats(a.transport, "b").handshakeFailures >= 1, "a's handshake to fail");
    expect(b.inbox.messages).toEqual([]);
  });

  it("a client that fails the proof is disconnected, and the frames it pipelined are not delivered", async () => {
    const b = await startNode("b");
    const client = await RawClient.connect(b.transport.port);
    // A client that knows the protocol but not the secret: it forges the proof and sends at once.
    const handshake = new ClientHandshake("a", "b", clusterKey(null), randomBytes(32));
    client.writeFrame(handshake.start());
    await waitUntil(() => client.frames.length === 1, "the server's WELCOME");
    const forgedProof = new Uint8Array([3, ...randomBytes(32)]);
    client.write(
      Buffer.concat([encodeFrame(forgedProof), encodeFrame(encodeBatch([heartbeat("a", "b", 1)]))]),
    );
    await client.waitClosed();
    expect(() => handshake.receive(client.frames[1]!)).toThrow(/bad_proof/);
    expect(b.inbox.messages).toEqual([]);
    await waitUntil(() => b.transport.stats().inbound.failedHandshakes === 1, "b to count the failure");
    expect(b.transport.stats().inbound.authenticatedHandshakes).toBe(0);
  });

  it("a client that cannot verify the server's proof hangs up, and the server counts the failure", async () => {
    const b = await startNode("b");
    const client = await RawClient.connect(b.transport.port);
    const error = await client.handshake("a", "b", "not-the-cluster-secret!").catch((e: unknown) => e);
    expect((error as HandshakeError).code).toBe("bad_proof");
    client.destroy();
    await waitUntil(() => b.transport.stats().inbound.failedHandshakes === 1, "b to count the failure");
    expect(b.inbox.messages).toEqual([]);
  });

  it("drops messages whose from is not the authenticated id, and delivers the genuine ones", async () => {
    const b = await startNode("b");
    const client = await RawClient.connect(b.transport.port);
    await client.handshake("mallory", "b", SECRET);
    client.writeFrame(
      encodeBatch([heartbeat("a", "b", 1), heartbeat("mallory", "b", 2), heartbeat("c", "b", 3)]),
    );
    client.writeFrame(encodeBatch([heartbeat("mallory", "somebody-else", 4)]));
    await waitUntil(() => b.transport.stats().inbound.receivedFrames === 2, "both frames to arrive");
    expect(b.inbox.messages).toEqual([heartbeat("mallory", "b", 2)]);
    expect(b.transport.stats().inbound).toMatchObject({
      droppedSpoofed: 2,
      droppedMisaddressed: 1,
      receivedMessages: 1,
    });
    client.destroy();
  });

  it("disconnects a client that sends messages without a handshake, delivering nothing", async () => {
    const b = await startNode("b");
    const client = await RawClient.connect(b.transport.port);
    client.writeFrame(encodeBatch([heartbeat("a", "b", 1)]));
    await client.waitClosed();
    await waitUntil(() => b.transport.stats().inbound.failedHandshakes === 1, "b to count the failure");
    expect(b.inbox.messages).toEqual([]);
  });

  it("disconnects a client announcing a large frame before authenticating, without waiting for it", async () => {
    const b = await startNode("b");
    const client = await RawClient.connect(b.transport.port);
    client.write(new Uint8Array([0, 0x10, 0, 0]));
    await client.waitClosed();
    const http = await RawClient.connect(b.transport.port);
    http.write(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
    await http.waitClosed();
  });

  it("disconnects an authenticated peer that sends a malformed frame", async () => {
    const b = await startNode("b");
    const client = await RawClient.connect(b.transport.port);
    await client.handshake("a", "b", SECRET);
    client.write(encodeFrame(new Uint8Array([1, 99, 1, 0x61, 1, 0x62, 0])));
    await client.waitClosed();
    expect(b.transport.stats().inbound.decodeErrors).toBe(1);
    expect(b.inbox.messages).toEqual([]);
  });

  it("disconnects a client that stalls in the handshake", async () => {
    const b = await startNode("b", { handshakeTimeoutMs: 100 });
    const client = await RawClient.connect(b.transport.port);
    await client.waitClosed();
    await waitUntil(() => b.transport.stats().inbound.failedHandshakes === 1, "b to count the failure");
  });

  it("refuses connections beyond maxInboundConnections", async () => {
    const b = await startNode("b", { maxInboundConnections: 2 });
    const first = await RawClient.connect(b.transport.port);
    const second = await RawClient.connect(b.transport.port);
    await waitUntil(() => b.transport.stats().inbound.acceptedConnections === 2, "two accepted connections");
    const third = await RawClient.connect(b.transport.port);
    await third.waitClosed();
    expect(b.transport.stats().inbound.refusedConnections).toBe(1);
    expect(first.isClosed || second.isClosed).toBe(false);
    first.destroy();
    second.destroy();
  });

  it("refuses a connection to the wrong node (an address that belongs to someone else)", async () => {
    const c = await startNode("c");
    const a = await startNode("a", { peers: { b: c.address } });
    a.transport.send([heartbeat("a", "b", 1)]);
    await waitUntil(() => peerStats(a.transport, "b").handshakeFailures >= 1, "the handshake to fail");
    expect(peerStats(a.transport, "b").lastError).toMatch(/wrong_node/);
    expect(c.inbox.messages).toEqual([]);
  });

  it("keeps only the newest connection of a peer", async () => {
    const b = await startNode("b");
    const older = await RawClient.connect(b.transport.port);
    await older.handshake("a", "b", SECRET);
    const newer = await RawClient.connect(b.transport.port);
    await newer.handshake("a", "b", SECRET);
    await older.waitClosed();
    newer.writeFrame(encodeBatch([heartbeat("a", "b", 1)]));
    await b.inbox.waitForCount(1);
    expect(b.transport.stats().inboundPeers).toEqual(["a"]);
    newer.destroy();
  });

  it("without a secret, ids are still exchanged and checked (insecure mode)", async () => {
    const nodes = await startCluster(["a", "b"], { clusterSecret: undefined });
    nodes.get("a")!.transport.send([heartbeat("a", "b", 1)]);
    await nodes.get("b")!.inbox.waitForCount(1);
    expect(nodes.get("b")!.transport.stats()).toMatchObject({ inboundPeers: ["a"], authenticated: false });
  });
});
