// Proves the node driver end to end in one process: a cluster elects a leader, commits proposals
// with their apply results, refuses writes on followers with the leader's id, serves
// linearizable reads on any node, survives the loss of its leader, and a node restarted from its
// store comes back with the same state.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { JunoNode, NodeError } from "../../src/runtime/node.js";
import { MemoryNetwork } from "../../src/runtime/memory-transport.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";

const IDS = ["n1", "n2", "n3"];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** Waits until `condition` holds, checking after every event-loop turn, or fails after `ms`. */
async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

class TestCluster {
  readonly network = new MemoryNetwork();
  readonly nodes = new Map<string, JunoNode>();
  readonly stores = new Map<string, SqliteStore>();
  readonly dir = mkdtempSync(join(tmpdir(), "juno-runtime-"));

  constructor() {
    cleanups.push(() => {
      for (const id of [...this.nodes.keys()]) this.stopNode(id);
      rmSync(this.dir, { recursive: true, force: true });
    });
    for (const id of IDS) this.startNode(id);
  }

  startNode(id: string, founders: string[] | null = IDS): JunoNode {
    const store = new SqliteStore(join(this.dir, `${id}.db`));
    const node = new JunoNode({
      id,
      store,
      transport: this.network.transport(id),
      founders,
      tickMs: 10,
      raft: { electionTicks: 10, heartbeatTicks: 1 },
      requestTimeoutMs: 5_000,
    });
    this.nodes.set(id, node);
    this.stores.set(id, store);
    node.start();
    return node;
  }

  stopNode(id: string): void {
    this.nodes.get(id)?.stop();
    this.stores.get(id)?.close();
    this.network.remove(id);
    this.nodes.delete(id);
    this.stores.delete(id);
  }

  async leader(): Promise<JunoNode> {
    let found: JunoNode | undefined;
    await until(() => (found = [...this.nodes.values()].find((n) => n.isLeader())) !== undefined);
    return found!;
  }
}

describe("JunoNode", () => {
  it("a node added as a learner catches up and is promoted to voter", async () => {
    const cluster = new TestCluster();
    const leader = await cluster.leader();
    for (let i = 0; i < 20; i++) await leader.propose({ kind: "propose", entryType: "fill", data: i });
    const joiner = cluster.startNode("n4", null);
    await leader.changeMembership({ type: "add_learner", node: "n4" });
    await until(() => leader.status().membership.voters.includes("n4"));
    await until(() => joiner.state.appliedIndex >= leader.state.appliedIndex);
    // The joiner holds the promotion once it has the entry (the leader counts it from its append).
    await until(() => joiner.status().membership.voters.includes("n4"));
    expect(joiner.status().membership.voters).toContain("n4");
  });

  it("a leader shutting down hands leadership over first", async () => {
    const cluster = new TestCluster();
    const leader = await cluster.leader();
    await leader.propose({ kind: "propose", entryType: "x", data: 1 });
    const term = leader.raft.term;
    await leader.shutdown();
    cluster.stopNode(leader.id);
    const next = await cluster.leader();
    // TimeoutNow: the next leader won in the very next term, without a failed election first.
    expect(next.raft.term).toBe(term + 1);
  });

  it("commits proposals through the leader and refuses them on followers", async () => {
    const cluster = new TestCluster();
    const leader = await cluster.leader();
    const committed = await leader.propose({
      kind: "propose",
      entryType: "deploy",
      data: { service: "api" },
    });
    expect(committed.result).toEqual({ kind: "proposed", index: committed.index, decision: null });
    const follower = [...cluster.nodes.values()].find((n) => n !== leader)!;
    const refusal = await follower
      .propose({ kind: "propose", entryType: "x", data: 1 })
      .catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(NodeError);
    expect((refusal as NodeError).code).toBe("not_leader");
    expect((refusal as NodeError).leaderId).toBe(leader.id);
  });

  it("batches proposals of one event-loop turn into one Ready", async () => {
    const cluster = new TestCluster();
    const leader = await cluster.leader();
    const before = leader.counters.readies;
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => leader.propose({ kind: "propose", entryType: "batch", data: i })),
    );
    expect(new Set(results.map((r) => r.index)).size).toBe(200);
    // 200 proposals took far fewer Readys than proposals.
    expect(leader.counters.readies - before).toBeLessThan(50);
  });

  it("serves linearizable reads on followers: a read after a write sees it", async () => {
    const cluster = new TestCluster();
    const leader = await cluster.leader();
    const committed = await leader.propose({
      kind: "propose",
      entryType: "deploy",
      data: null,
      approval: { voters: ["alice", "bob"], quorum: 1 },
    });
    for (const node of cluster.nodes.values()) {
      await node.readBarrier();
      expect(node.decision(committed.index)?.status).toBe("pending");
    }
    await leader.propose({ kind: "vote", proposal: committed.index, voter: "alice", vote: "approve" });
    for (const node of cluster.nodes.values()) {
      await node.readBarrier();
      expect(node.decision(committed.index)?.status).toBe("approved");
    }
  });

  it("elects a new leader when the leader is lost, and a restarted node keeps its state", async () => {
    const cluster = new TestCluster();
    const first = await cluster.leader();
    const committed = await first.propose({
      kind: "propose",
      entryType: "a",
      data: null,
      approval: { voters: ["v"], quorum: 1 },
    });
    cluster.stopNode(first.id);
    const second = await cluster.leader();
    expect(second.id).not.toBe(first.id);
    await second.propose({ kind: "vote", proposal: committed.index, voter: "v", vote: "reject" });
    const restarted = cluster.startNode(first.id);
    await until(() => restarted.decision(committed.index)?.status === "rejected");
    await restarted.readBarrier();
    expect(restarted.state.appliedIndex).toBeGreaterThanOrEqual(committed.index + 1);
  });
});
