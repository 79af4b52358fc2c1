// Helpers for the loopback tests: transports on port 0, an inbox of received messages, and waiting
// on conditions with a deadline instead of sleeping for a guessed time.

import { afterEach } from "vitest";
import { PeerTransport, type PeerTransportOptions } from "../../src/transport/index.js";
import type { NodeId } from "../../src/raft/types.js";
import type { PeerMessage as Message } from "../../src/transport/peer-message.js";

/** A secret long enough for clusterKey(). */
export const SECRET = "test-cluster-secret-0123456789";

/** Fast reconnects, so restarts in tests resolve within milliseconds. */
export const FAST_BACKOFF = { initialDelayMs: 5, maxDelayMs: 50 };

/** Resolves once `condition()` holds; rejects naming `what` if it does not within `timeoutMs`. */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Every message a transport delivered, in order. */
export class Inbox {
  readonly messages: Message[] = [];

  /** The callback to hand to the transport. */
  readonly push = (message: Message): void => {
    this.messages.push(message);
  };

  /** Waits until at least `count` messages arrived. */
  async waitForCount(count: number, timeoutMs?: number): Promise<void> {
    await waitUntil(
      () => this.messages.length >= count,
      `${count} messages (have ${this.messages.length})`,
      timeoutMs,
    );
  }
}

/** A started transport and what it received. */
export interface Node {
  readonly transport: PeerTransport;
  readonly inbox: Inbox;
  readonly address: string;
}

const open: PeerTransport[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((transport) => transport.close()));
});

/** Starts a transport on 127.0.0.1 (port 0 unless given); it is closed after the test. */
export async function startNode(
  nodeId: NodeId,
  options: Partial<PeerTransportOptions> = {},
  port = 0,
): Promise<Node> {
  const inbox = new Inbox();
  const transport = new PeerTransport({
    nodeId,
    listenAddress: `127.0.0.1:${port}`,
    onMessage: inbox.push,
    clusterSecret: SECRET,
    backoff: FAST_BACKOFF,
    ...options,
  });
  open.push(transport);
  const boundPort = await transport.listen();
  return { transport, inbox, address: `127.0.0.1:${boundPort}` };
}

/** Starts one transport per id, each knowing all the others. */
export async function startCluster(
  ids: readonly NodeId[],
  options: Partial<PeerTransportOptions> = {},
): Promise<Map<NodeId, Node>> {
  const nodes = new Map<NodeId, Node>();
  for (const id of ids) nodes.set(id, await startNode(id, options));
  const addresses = new Map([...nodes].map(([id, node]) => [id, node.address]));
  for (const node of nodes.values()) node.transport.updatePeers(addresses);
  return nodes;
}

/** A heartbeat, the smallest everyday message; `readSeq` numbers it for order checks. */
export function heartbeat(from: NodeId, to: NodeId, readSeq: number): Message {
  return { type: "heartbeat", from, to, term: 3, commit: 10, readSeq };
}

/** The stats of `transport`'s outgoing side towards `peer`. */
export function peerStats(transport: PeerTransport, peer: NodeId) {
  const stats = transport.stats().peers.find((p) => p.id === peer);
  if (stats === undefined) throw new Error(`${peer} is not a peer of ${transport.nodeId}`);
  return stats;
}
