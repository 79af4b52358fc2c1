/** An in-process transport for tests and `juno demo`: messages cross on the next event-loop turn. */

import type { NodeId } from "../raft/index.js";
import type { PeerMessage } from "../transport/peer-message.js";
import type { Transport } from "./node.js";

/** A switchboard connecting in-process nodes; links can be cut to simulate partitions. */
export class MemoryNetwork {
  private readonly handlers = new Map<NodeId, (message: PeerMessage) => void>();
  private readonly cut = new Set<NodeId>();

  /** The transport of node `id`. */
  transport(id: NodeId): Transport {
    return {
      send: (messages) => {
        for (const message of messages) {
          if (this.cut.has(message.from) || this.cut.has(message.to)) continue;
          setImmediate(() => {
            if (this.cut.has(message.from) || this.cut.has(message.to)) return;
            this.handlers.get(message.to)?.(message);
          });
        }
      },
      onMessage: (handler) => {
        this.handlers.set(id, handler);
      },
    };
  }

  /** Cuts `id` off from everyone (both ways). */
  isolate(id: NodeId): void {
    this.cut.add(id);
  }

  /** Reconnects `id`. */
  heal(id: NodeId): void {
    this.cut.delete(id);
  }

  /** Forgets `id` (a stopped node). */
  remove(id: NodeId): void {
    this.handlers.delete(id);
  }
}
