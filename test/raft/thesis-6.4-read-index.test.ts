// Proves linearizable reads with ReadIndex as in the Raft thesis (section 6.4): the leader answers only after a heartbeat round confirms its leadership with a quorum, a follower's read is forwarded to the leader, a leader cut off from a quorum never answers, and a new leader answers only after committing its no-op.

import { describe, expect, it } from "vitest";
import { Cluster } from "./harness.js";

describe("thesis 6.4 ReadIndex", () => {
  it("the leader answers a read at its commit index once a quorum has answered a heartbeat round", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    const x = cluster.proposeAndCommit("x");
    const leader = cluster.node("n1");

    leader.raft.readIndex(1);
    cluster.flush("n1");
    expect(leader.readStates).toEqual([]);
    const heartbeats = cluster.dropInFlight();
    expect(heartbeats.map((m) => m.type)).toEqual(["heartbeat", "heartbeat"]);
    const first = heartbeats[0];
    const readSeq = first?.type === "heartbeat" ? first.readSeq : 0;
    expect(readSeq).toBeGreaterThan(0);

    // Only n2 answers: with the leader itself that is two of three.
    cluster.deliver(heartbeats.find((m) => m.to === "n2")!);
    cluster.stabilize();
    expect(leader.readStates).toEqual([{ context: 1, index: x.index }]);
  });

  it("an answer from a minority is not enough", () => {
    const cluster = Cluster.bootstrap(5);
    cluster.elect("n1");
    cluster.dropIf((m) => m.type === "heartbeat_resp" && m.from !== "n2");
    cluster.raft("n1").readIndex(1);
    for (let i = 0; i < 5; i++) cluster.tick("n1");
    expect(cluster.node("n1").readStates).toEqual([]);
  });

  it("a follower's read is forwarded to the leader and answered with the leader's commit index", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    const x = cluster.proposeAndCommit("x");
    cluster.raft("n2").readIndex(42);
    cluster.stabilize();
    expect(cluster.sentMatching({ from: "n2", to: "n1", type: "read_index" })).toHaveLength(1);
    expect(cluster.node("n2").readStates).toEqual([{ context: 42, index: x.index }]);
  });

  it("a follower without a leader refuses the read at once", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.raft("n2").readIndex(5);
    cluster.flush("n2");
    expect(cluster.node("n2").readFailures).toEqual([{ context: 5, reason: "no_leader" }]);
  });

  it("a leader that cannot reach a quorum never answers, and fails the read when it steps down", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    cluster.isolate("n1");
    const leader = cluster.node("n1");
    leader.raft.readIndex(9);
    for (let i = 0; i < 40; i++) {
      cluster.tick();
      expect(leader.readStates).toEqual([]);
    }
    expect(leader.raft.role).not.toBe("leader");
    expect(leader.readFailures).toEqual([{ context: 9, reason: "not_leader" }]);
    // Meanwhile the others elected a leader that answers reads.
    const newLeader = cluster.mustLeader();
    cluster.raft(newLeader).readIndex(10);
    cluster.stabilize();
    expect(cluster.node(newLeader).readStates).toEqual([expect.objectContaining({ context: 10 })]);
  });

  it("a read on a deposed leader is never answered from its stale state", () => {
    // n1 still believes it leads, but n2 and n3 moved on to a new term: the heartbeat round
    // meets the new term and n1 steps down instead of answering.
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    const reconnect = cluster.isolate("n1");
    cluster.tickUntil(() => cluster.leader() !== "n1" && cluster.leader() !== null, 100);
    const newLeader = cluster.mustLeader();
    const fresh = cluster.proposeAndCommit("fresh");
    expect(cluster.raft("n1").role).toBe("leader");
    cluster.raft("n1").readIndex(3);
    reconnect();
    cluster.stabilize();
    cluster.tick("n1");
    const old = cluster.node("n1");
    expect(old.readStates).toEqual([]);
    expect(old.readFailures).toEqual([{ context: 3, reason: "not_leader" }]);
    expect(old.raft.role).toBe("follower");
    cluster.tickUntil(() => cluster.appliedEverywhere(fresh), 20);
    expect(old.raft.leaderId).toBe(newLeader);
  });

  it("a new leader answers only after it has committed its no-op", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    const cut = cluster.dropIf((m) => m.from === "n2" && m.type === "append");
    cluster.raft("n1").transferLeadership("n2");
    cluster.stabilize();
    const leader = cluster.node("n2");
    expect(leader.raft.role).toBe("leader");
    const noopIndex = leader.raft.log.lastIndex();
    expect(leader.raft.log.committed).toBeLessThan(noopIndex);

    leader.raft.readIndex(7);
    cluster.tick("n2");
    cluster.tick("n2");
    expect(leader.readStates).toEqual([]);

    cut();
    cluster.tick("n2");
    cluster.tick("n2");
    expect(leader.raft.log.committed).toBe(noopIndex);
    expect(leader.readStates).toEqual([{ context: 7, index: noopIndex }]);
  });

  it("a single-voter cluster answers at once", () => {
    const cluster = Cluster.bootstrap(1);
    cluster.tickUntil(() => cluster.leader() === "n1", 30);
    const x = cluster.proposeAndCommit("x");
    cluster.raft("n1").readIndex(1);
    cluster.flush("n1");
    expect(cluster.node("n1").readStates).toEqual([{ context: 1, index: x.index }]);
  });
});
