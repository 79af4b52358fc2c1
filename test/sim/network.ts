/** A simulated network between nodes: loss, duplication, delay (hence reordering), partitions. */

import type { NodeId } from "../../src/raft/index.js";
import type { PeerMessage } from "../../src/transport/peer-message.js";
import type { SeededRandom } from "../../src/raft/index.js";
import type { EventQueue } from "./event-queue.js";

/** How the network behaves right now; faults change these during a run. */
export interface LinkConditions {
  /** Probability a message is dropped. */
  lossRate: number;
  /** Probability a message is delivered twice. */
  duplicateRate: number;
  /** Base one-way latency and uniform jitter on top (jitter reorders messages). */
  latencyMs: number;
  jitterMs: number;
  /** Probability a message is held back by `spikeMs` (a long reorder or a stalled link). */
  spikeRate: number;
  spikeMs: number;
}

/** Calm conditions, used in the liveness phase. */
export const CALM: LinkConditions = {
  lossRate: 0,
  duplicateRate: 0,
  latencyMs: 1,
  jitterMs: 2,
  spikeRate: 0,
  spikeMs: 0,
};

/** Counters for the run summary. */
export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
}

/** Delivers messages between nodes under the current conditions and cuts. */
export class SimNetwork {
  conditions: LinkConditions = { ...CALM };
  /** Directed cuts: "a>b" means messages from a to b are dropped. */
  private readonly cuts = new Set<string>();
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };

  constructor(
    private readonly queue: EventQueue,
    private readonly random: SeededRandom,
    private readonly deliver: (message: PeerMessage) => void,
  ) {}

  /** Sends a message; it may be lost, duplicated or delayed. */
  send(message: PeerMessage): void {
    this.stats.sent++;
    const c = this.conditions;
    if (this.isCut(message.from, message.to) || this.random.chance(c.lossRate)) {
      this.stats.dropped++;
      return;
    }
    this.schedule(message);
    // The peer transport delivers each message at most once (TCP, never resent), and forwarding
    // relies on it: a refusal means the proposal was not appended. Raft's own messages are
    // duplicated here anyway, because Raft must survive retransmissions and it does not rely on it.
    if (
      message.type !== "propose" &&
      message.type !== "propose_resp" &&
      message.type !== "module" &&
      this.random.chance(c.duplicateRate)
    ) {
      this.stats.duplicated++;
      this.schedule(message);
    }
  }

  private schedule(message: PeerMessage): void {
    const c = this.conditions;
    let delay = c.latencyMs + this.random.float() * c.jitterMs;
    if (this.random.chance(c.spikeRate)) delay += this.random.float() * c.spikeMs;
    // Entries cross the wire as copies, as they would after decoding on a real node.
    const copy =
      message.type === "append" ? { ...message, entries: message.entries.map((e) => ({ ...e })) } : message;
    this.queue.after(delay, () => {
      // A cut made while the message was in flight drops it too.
      if (this.isCut(copy.from, copy.to)) {
        this.stats.dropped++;
        return;
      }
      this.stats.delivered++;
      this.deliver(copy);
    });
  }

  /** Cuts messages from `from` to `to` (one way). */
  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(`${from}>${to}`);
  }

  /** Splits the nodes into groups that cannot talk to each other (both ways). */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.cut(x, y);
      }
    }
  }

  /** Removes the cuts between `a` and `b`, both ways. */
  connect(a: NodeId, b: NodeId): void {
    this.cuts.delete(`${a}>${b}`);
    this.cuts.delete(`${b}>${a}`);
  }

  /** Cuts `id` off from everyone in `others`, both ways. */
  isolate(id: NodeId, others: readonly NodeId[]): void {
    for (const other of others) {
      if (other === id) continue;
      this.cut(id, other);
      this.cut(other, id);
    }
  }

  /** Removes every cut to and from `id`. */
  healNode(id: NodeId): void {
    for (const cut of [...this.cuts]) {
      const [from, to] = cut.split(">");
      if (from === id || to === id) this.cuts.delete(cut);
    }
  }

  /** Nodes with at least one cut to or from them. */
  cutNodes(): NodeId[] {
    const ids = new Set<NodeId>();
    for (const cut of this.cuts) for (const id of cut.split(">")) ids.add(id);
    return [...ids].sort();
  }

  /** Removes every cut. */
  heal(): void {
    this.cuts.clear();
  }

  /** Whether any cut is in place. */
  hasCuts(): boolean {
    return this.cuts.size > 0;
  }

  private isCut(from: NodeId, to: NodeId): boolean {
    return this.cuts.size > 0 && this.cuts.has(`${from}>${to}`);
  }
}
