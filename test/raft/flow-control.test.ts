// Proves the leader's flow control: proposals are batched into one append per follower per Ready, the in-flight window is bounded by count and bytes, followers move between probe, replicate and snapshot states, and proposals are refused with stable codes when limits are hit or the node does not lead.

import { describe, expect, it } from "vitest";
import type { AppendRequest, Message, NodeId, RaftNode, Ready } from "../../src/raft/index.js";
import { Cluster, bytes, type TestRaftOptions } from "./harness.js";

/** A 3-node cluster led by n1, every follower caught up and in replicate state. */
function ledCluster(raft: TestRaftOptions = {}): Cluster {
  const cluster = Cluster.bootstrap(3, { raft });
  cluster.elect("n1");
  cluster.tick("n1");
  return cluster;
}

/** Appends in a Ready's messages addressed to `to`. */
function appendsTo(ready: Ready, to: NodeId): AppendRequest[] {
  return ready.messages.filter((m): m is AppendRequest => m.type === "append" && m.to === to);
}

/** Takes one Ready from `raft`, advancing it at once (the caller inspects what it carried). */
function takeReady(raft: RaftNode): Ready {
  const ready = raft.ready();
  raft.advance();
  return ready;
}

/** The replication state the leader holds for `id`. */
function stateOf(leader: RaftNode, id: NodeId): string | undefined {
  return leader.status().progress.find((p) => p.id === id)?.state;
}

/** Ten bytes of data, numbered. */
function tenBytes(i: number): Uint8Array {
  return bytes(`entry-${String(i).padStart(4, "0")}`);
}

describe("flow control", () => {
  it("many proposals become one append per follower in one Ready", () => {
    const cluster = ledCluster();
    const leader = cluster.raft("n1");
    for (let i = 0; i < 100; i++) leader.propose(tenBytes(i));
    const ready = takeReady(leader);
    expect(ready.entries).toHaveLength(100);
    expect(ready.messages.filter((m) => m.type === "append")).toHaveLength(2);
    expect(appendsTo(ready, "n2")[0]!.entries).toHaveLength(100);
    expect(appendsTo(ready, "n3")[0]!.entries).toHaveLength(100);
  });

  it("appends are cut at maxMessageBytes and pipelined", () => {
    const cluster = ledCluster({ maxMessageBytes: 100 });
    const leader = cluster.raft("n1");
    for (let i = 0; i < 35; i++) leader.propose(tenBytes(i));
    const appends = appendsTo(takeReady(leader), "n2");
    expect(appends.map((m) => m.entries.length)).toEqual([10, 10, 10, 5]);
    // Each continues where the previous one ended.
    for (let i = 1; i < appends.length; i++) {
      const previous = appends[i - 1]!;
      expect(appends[i]!.prevIndex).toBe(previous.entries[previous.entries.length - 1]!.index);
    }
  });

  it("the in-flight window is bounded by count, and an acknowledgement opens it again", () => {
    const cluster = ledCluster({ maxMessageBytes: 10, maxInflightMessages: 3 });
    const leader = cluster.raft("n1");
    for (let i = 0; i < 10; i++) leader.propose(tenBytes(i));
    const first = appendsTo(takeReady(leader), "n2");
    expect(first).toHaveLength(3);

    leader.propose(tenBytes(10));
    expect(appendsTo(takeReady(leader), "n2")).toHaveLength(0);

    const last = first[0]!.entries[0]!.index;
    leader.step({
      type: "append_resp",
      from: "n2",
      to: "n1",
      term: leader.term,
      reject: false,
      index: last,
      hintIndex: 0,
      hintTerm: 0,
    });
    const next = appendsTo(takeReady(leader), "n2");
    expect(next).toHaveLength(1);
    expect(next[0]!.prevIndex).toBe(first[2]!.entries[0]!.index);
  });

  it("the in-flight window is bounded by bytes", () => {
    const cluster = ledCluster({ maxMessageBytes: 10, maxInflightMessages: 100, maxInflightBytes: 20 });
    const leader = cluster.raft("n1");
    for (let i = 0; i < 10; i++) leader.propose(tenBytes(i));
    const appends = appendsTo(takeReady(leader), "n2");
    expect(appends).toHaveLength(2);
    const inFlight = appends.flatMap((m) => m.entries).reduce((sum, entry) => sum + entry.data.length, 0);
    expect(inFlight).toBeLessThanOrEqual(20);
  });

  it("a new leader probes each follower with one append at a time, then pipelines once it matches", () => {
    const cluster = Cluster.bootstrap(3);
    // n3's answers are lost: the leader cannot learn where n3's log matches.
    const deaf = cluster.dropIf((m) => m.from === "n3" && m.type === "append_resp");
    cluster.elect("n1");
    const leader = cluster.raft("n1");
    expect(stateOf(leader, "n2")).toBe("replicate");
    expect(stateOf(leader, "n3")).toBe("probe");

    const before = cluster.sentMatching({ from: "n1", to: "n3", type: "append" }).length;
    for (let i = 0; i < 5; i++) {
      cluster.propose("n1", tenBytes(i));
      cluster.stabilize();
    }
    // While a probe is out, nothing more is sent to n3 ...
    expect(cluster.sentMatching({ from: "n1", to: "n3", type: "append" }).length).toBe(before);
    // ... but n2 got every proposal as it came.
    expect(cluster.raft("n2").log.lastIndex()).toBe(leader.log.lastIndex());

    deaf();
    cluster.tick("n1"); // a heartbeat answer lets the leader probe again
    expect(stateOf(leader, "n3")).toBe("replicate");
    expect(cluster.raft("n3").log.lastIndex()).toBe(leader.log.lastIndex());
  });

  it("a rejection in replicate state sends the follower back to probe", () => {
    const cluster = ledCluster({ maxMessageBytes: 1 });
    const leader = cluster.raft("n1");
    cluster.propose("n1", "x");
    cluster.propose("n1", "y");
    cluster.flush("n1");
    // Two pipelined appends; the first to n2 is lost, so n2 cannot accept the second.
    const [lost, ...rest] = cluster.dropInFlight().filter((m) => m.to === "n2");
    expect(lost?.type).toBe("append");
    for (const message of rest) cluster.deliver(message);
    cluster.flush("n2");
    const [rejection] = cluster.dropInFlight();
    expect(rejection).toMatchObject({ type: "append_resp", reject: true });
    cluster.deliver(rejection!);
    expect(stateOf(leader, "n2")).toBe("probe");
    cluster.stabilize();
    expect(stateOf(leader, "n2")).toBe("replicate");
    expect(cluster.node("n2").logTerms()).toEqual(cluster.node("n1").logTerms());
  });

  it("a follower that needs compacted entries goes to snapshot state, then back to replicate", () => {
    const cluster = ledCluster({ snapshotTrailingEntries: 0 });
    const reconnect = cluster.isolate("n3");
    for (let i = 0; i < 10; i++) cluster.proposeAndCommit(`v${i}`);
    cluster.takeSnapshot("n1");
    reconnect();
    // The first snapshot chunks are lost, so the leader stays in snapshot state for a while.
    const lose = cluster.dropIf((m) => m.type === "snapshot");
    const leader = cluster.raft("n1");
    cluster.tickUntil(() => stateOf(leader, "n3") === "snapshot", 10);
    // While a snapshot is being sent no appends go to n3.
    const appends = cluster.sentMatching({ from: "n1", to: "n3", type: "append" }).length;
    cluster.tick("n1");
    expect(cluster.sentMatching({ from: "n1", to: "n3", type: "append" }).length).toBe(appends);
    lose();
    cluster.tickUntil(() => cluster.raft("n3").log.lastIndex() === leader.log.lastIndex(), 10);
    expect(stateOf(leader, "n3")).toBe("replicate");
    expect(cluster.node("n3").state).toEqual(cluster.node("n1").state);
  });

  it("committed entries handed out per Ready are bounded by maxCommittedBytesPerReady", () => {
    const cluster = ledCluster({ maxCommittedBytesPerReady: 45 });
    const follower = cluster.raft("n2");
    const applied = follower.log.applied;
    const leader = cluster.raft("n1");
    for (let i = 0; i < 20; i++) leader.propose(tenBytes(i));
    cluster.flush("n1");
    // Deliver to n2 by hand and drain its Readys one by one.
    for (const message of cluster.dropInFlight()) if (message.to === "n2") follower.step(message);
    takeReady(follower);
    follower.step({
      type: "heartbeat",
      from: "n1",
      to: "n2",
      term: leader.term,
      commit: applied + 20,
      readSeq: 0,
    });
    let batches = 0;
    while (follower.hasReady()) {
      const ready = takeReady(follower);
      const size = ready.committedEntries.reduce((sum, entry) => sum + entry.data.length, 0);
      expect(size).toBeLessThanOrEqual(45);
      if (ready.committedEntries.length > 0) batches++;
    }
    expect(batches).toBe(5);
    expect(follower.log.applied).toBe(applied + 20);
  });

  it("an over-large proposal is refused with entry_too_large", () => {
    const cluster = ledCluster({ maxEntryBytes: 64 });
    const leader = cluster.raft("n1");
    const last = leader.log.lastIndex();
    expect(leader.propose(new Uint8Array(65))).toMatchObject({
      ok: false,
      code: "entry_too_large",
      leaderId: "n1",
    });
    expect(leader.log.lastIndex()).toBe(last);
    expect(leader.propose(new Uint8Array(64))).toMatchObject({ ok: true, index: last + 1 });
  });

  it("proposals are refused with uncommitted_limit while too many bytes wait for a quorum", () => {
    const cluster = ledCluster({ maxUncommittedBytes: 100 });
    const reconnect2 = cluster.isolate("n2");
    const reconnect3 = cluster.isolate("n3");
    const leader = cluster.raft("n1");
    expect(leader.propose(new Uint8Array(60)).ok).toBe(true);
    expect(leader.propose(new Uint8Array(40)).ok).toBe(true);
    const refused = leader.propose(new Uint8Array(1));
    expect(refused).toMatchObject({ ok: false, code: "uncommitted_limit", leaderId: "n1" });
    cluster.stabilize();

    reconnect2();
    reconnect3();
    cluster.tickUntil(() => leader.log.committed === leader.log.lastIndex(), 20);
    expect(leader.propose(new Uint8Array(1)).ok).toBe(true);
  });

  it("a single entry larger than the uncommitted limit is still accepted when nothing else waits", () => {
    const cluster = ledCluster({ maxUncommittedBytes: 100 });
    const leader = cluster.raft("n1");
    expect(leader.propose(new Uint8Array(150)).ok).toBe(true);
    expect(leader.propose(new Uint8Array(1))).toMatchObject({ code: "uncommitted_limit" });
  });

  it("a follower refuses proposals with not_leader and names the leader", () => {
    const cluster = Cluster.bootstrap(3);
    expect(cluster.raft("n2").propose(bytes("x"))).toMatchObject({
      ok: false,
      code: "not_leader",
      leaderId: null,
    });
    cluster.elect("n1");
    const refused = cluster.raft("n2").propose(bytes("x"));
    expect(refused).toMatchObject({ ok: false, code: "not_leader", leaderId: "n1" });
    expect(cluster.raft("n2").proposeConfigChange({ type: "remove", node: "n3" })).toMatchObject({
      code: "not_leader",
      leaderId: "n1",
    });
    expect(cluster.raft("n2").hasReady()).toBe(false);
  });

  it("the messages of one Ready follow its entries: nothing is sent that is not persisted first", () => {
    const cluster = ledCluster();
    const leader = cluster.raft("n1");
    leader.propose(bytes("a"));
    const ready = takeReady(leader);
    const persisted = new Set(ready.entries.map((entry) => entry.index));
    const sentEntries = ready.messages.flatMap((m: Message) => (m.type === "append" ? m.entries : []));
    for (const entry of sentEntries)
      expect(persisted.has(entry.index) || entry.index <= leader.log.stabled).toBe(true);
  });
});
