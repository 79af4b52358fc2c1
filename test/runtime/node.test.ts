// Proves the ready loop end to end in one process: a cluster elects a leader, commits proposals
// with their apply results through any node (a follower forwards them to the leader in batches),
// serves linearizable reads on any node, survives the loss of its leader, and a node restarted
// from its store comes back with the same state.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { clusterState } from "../../src/cluster/index.js";
import { SnapshotError } from "../../src/control/index.js";
import { decisionsState, proposeCommand, voteCommand } from "../../src/decisions/index.js";
import { NodeError } from "../../src/runtime/errors.js";
import { MemoryNetwork } from "../../src/runtime/memory-transport.js";
import type { JunoNode } from "../../src/runtime/node.js";
import type { SqliteStore } from "../../src/store/sqlite/store.js";
import { createLocalNode, until } from "../support/local-node.js";

const IDS = ["n1", "n2", "n3"];
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

class TestCluster {
  readonly network = new MemoryNetwork();
  readonly nodes = new Map<string, JunoNode>();
  readonly stores = new Map<string, SqliteStore>();
  readonly dir = mkdtempSync(join(tmpdir(), "juno-runtime-"));

  constructor(private readonly requestTimeoutMs?: number) {
    cleanups.push(async () => {
      await Promise.all([...this.nodes.keys()].map((id) => this.stopNode(id)));
      rmSync(this.dir, { recursive: true, force: true });
    });
    for (const id of IDS) this.startNode(id);
  }

  startNode(id: string, founders: string[] | null = IDS): JunoNode {
    const { node, store } = createLocalNode({
      id,
      dir: this.dir,
      network: this.network,
      founders,
      ...(this.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: this.requestTimeoutMs }),
    });
    this.nodes.set(id, node);
    this.stores.set(id, store);
    node.start();
    return node;
  }

  /** Stops a node at once; settles when its store has let go of its files. */
  stopNode(id: string): Promise<void> {
    this.nodes.get(id)?.stop();
    const closed = this.stores.get(id)?.close() ?? Promise.resolve();
    this.network.remove(id);
    this.nodes.delete(id);
    this.stores.delete(id);
    return closed;
  }

  /** The leader, once every node knows it (a follower that does not yet refuses to forward). */
  async leader(): Promise<JunoNode> {
    let found: JunoNode | undefined;
    await until(() => (found = [...this.nodes.values()].find((n) => n.isLeader())) !== undefined);
    await until(() => [...this.nodes.values()].every((n) => n.view.leaderId() === found!.id));
    return found!;
  }
}

function propose(
  node: JunoNode,
  entryType: string,
  data: unknown,
  approval?: { voters: string[]; quorum: number },
) {
  return node.propose(proposeCommand, {
    entry_type: entryType,
    data,
    ...(approval === undefined ? {} : { approval }),
  });
}

function decision(node: JunoNode, index: number) {
  return node.view.state(decisionsState).decisions.get(index);
}

describe("JunoNode", () => {
  it("a node added as a learner catches up and is promoted to voter", async () => {
    const cluster = new TestCluster();
    const leader = await cluster.leader();
    for (let i = 0; i < 20; i++) await propose(leader, "fill", i);
    const joiner = cluster.startNode("n4", null);
    await leader.changeMembership({ type: "add_learner", node: "n4" });
    await until(() => leader.status().membership.voters.includes("n4"));
    await until(() => joiner.view.appliedIndex() >= leader.view.appliedIndex());
    // The joiner holds the promotion once it has the entry (the leader counts it from its append).
    await until(() => joiner.status().membership.voters.includes("n4"));
    expect(joiner.status().membership.voters).toContain("n4");
  });

  it("a leader shutting down hands leadership over first", async () => {
    const cluster = new TestCluster();
    const leader = await cluster.leader();
    await propose(leader, "x", 1);
    const term = leader.raft.term;
    await leader.shutdown();
    await cluster.stopNode(leader.id);
    const next = await cluster.leader();
    // TimeoutNow: the next leader won in the very next term, without a failed election first.
    expect(next.raft.term).toBe(term + 1);
  });

  it("commits proposals through the leader and through followers, which forward them", async () => {
    const cluster = new TestCluster();
    const leader = await cluster.leader();
    const committed = await propose(leader, "deploy", { service: "api" });
    expect(committed.value).toEqual({ index: committed.index, decision: null });
    const follower = [...cluster.nodes.values()].find((n) => n !== leader)!;
    // A follower records its own addresses once it knows a leader: a forwarded proposal of its
    // own, which has to land first for the count below to be this test's alone.
    await until(() => follower.view.state(clusterState).members.has(follower.id));
    const before = follower.view.counters().proposalsForwarded;
    const forwarded = await propose(follower, "x", 1);
    expect(forwarded.index).toBeGreaterThan(committed.index);
    expect(forwarded.term).toBe(leader.raft.term);
    // The follower answered from its own apply: its state already holds the entry.
    expect(follower.view.appliedIndex()).toBeGreaterThanOrEqual(forwarded.index);
    expect(follower.view.counters().proposalsForwarded).toBe(before + 1);
  });

  it("forwards a turn's proposals in one batch, and answers each from its own apply", async () => {
    const cluster = new TestCluster();
    const leader = await cluster.leader();
    const follower = [...cluster.nodes.values()].find((n) => n !== leader)!;
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => propose(follower, "many", i)));
    expect(new Set(results.map((r) => r.index)).size).toBe(100);
    const decided = await propose(follower, "gate", null, {
      voters: ["constructor", "__proto__"],
      quorum: 2,
    });
    const first = await follower.propose(voteCommand, {
      proposal: decided.index,
      voter: "constructor",
      vote: "approve",
    });
    expect(first.value.decision.status).toBe("pending");
    const second = await follower.propose(voteCommand, {
      proposal: decided.index,
      voter: "__proto__",
      vote: "approve",
    });
    expect(second.value.decision.status).toBe("approved");
  });

  it("refuses to start on a stored snapshot it cannot restore, rather than run on bad state", async () => {
    const dir = mkdtempSync(join(tmpdir(), "juno-runtime-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const network = new MemoryNetwork();
    const first = createLocalNode({ id: "n1", dir, network, founders: ["n1"] });
    first.node.stop();
    const text =
      '#{"snapshot":1,"index":5,"hash":"00000000","sections":1}\n#{"section":"decisions","version":9}\n';
    await new Promise<void>((resolve, reject) =>
      first.store.persist(
        {
          snapshot: {
            index: 5,
            term: 1,
            membership: { voters: ["n1"], learners: [] },
            data: new TextEncoder().encode(text),
          },
          entries: [],
          hardState: { term: 1, vote: "n1", commit: 5 },
          applied: null,
          sync: true,
        },
        (error) => (error === null ? resolve() : reject(error)),
      ),
    );
    await first.store.close();
    let refusal: unknown = null;
    try {
      createLocalNode({ id: "n1", dir, network, founders: ["n1"] });
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(SnapshotError);
    expect((refusal as SnapshotError).code).toBe("section_version");
  });

  it("a node that knows no leader refuses proposals with no_leader", async () => {
    const network = new MemoryNetwork();
    const dir = mkdtempSync(join(tmpdir(), "juno-runtime-"));
    const { node, store } = createLocalNode({ id: "n1", dir, network, founders: ["n1", "n2", "n3"] });
    cleanups.push(async () => {
      node.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    node.start();
    const refusal = await propose(node, "x", 1).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(NodeError);
    expect((refusal as NodeError).code).toBe("no_leader");
  });

  it("batches proposals of one event-loop turn into one Ready", async () => {
    const cluster = new TestCluster();
    const leader = await cluster.leader();
    const before = leader.view.counters().readies;
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => propose(leader, "batch", i)));
    expect(new Set(results.map((r) => r.index)).size).toBe(200);
    // 200 proposals took far fewer Readys than proposals.
    expect(leader.view.counters().readies - before).toBeLessThan(50);
  });

  it("serves linearizable reads on followers: a read after a write sees it", async () => {
    const cluster = new TestCluster();
    const leader = await cluster.leader();
    const committed = await propose(leader, "deploy", null, { voters: ["alice", "bob"], quorum: 1 });
    for (const node of cluster.nodes.values()) {
      await node.readBarrier();
      expect(decision(node, committed.index)?.status).toBe("pending");
    }
    await leader.propose(voteCommand, { proposal: committed.index, voter: "alice", vote: "approve" });
    for (const node of cluster.nodes.values()) {
      await node.readBarrier();
      expect(decision(node, committed.index)?.status).toBe("approved");
    }
  });

  it("a follower's read sent to a leader that is lost is asked of the new leader, not left to time out", async () => {
    // Requests may wait a minute: only an answer from the new leader can end the read sooner.
    const cluster = new TestCluster(60_000);
    const leader = await cluster.leader();
    const follower = [...cluster.nodes.values()].find((node) => node !== leader)!;
    cluster.network.isolate(leader.id);
    // The follower still believes in the old leader: its read_index goes there and is lost.
    let outcome: Error | null | undefined;
    follower.readBarrier().then(
      () => (outcome = null),
      (error: Error) => (outcome = error),
    );
    await until(() => outcome !== undefined, 30_000);
    expect(outcome).toBeNull();
    expect(follower.view.leaderId()).not.toBe(leader.id);
  });

  it("elects a new leader when the leader is lost, and a restarted node keeps its state", async () => {
    const cluster = new TestCluster();
    const first = await cluster.leader();
    const committed = await propose(first, "a", null, { voters: ["v"], quorum: 1 });
    await cluster.stopNode(first.id);
    const second = await cluster.leader();
    expect(second.id).not.toBe(first.id);
    await second.propose(voteCommand, { proposal: committed.index, voter: "v", vote: "reject" });
    const restarted = cluster.startNode(first.id);
    await until(() => decision(restarted, committed.index)?.status === "rejected");
    await restarted.readBarrier();
    expect(restarted.view.appliedIndex()).toBeGreaterThanOrEqual(committed.index + 1);
  });
});
