// Proves the pre-vote rule of the Raft thesis (section 9.6): a node that cannot win an election does not raise its term, so a partitioned node that rejoins does not disrupt the leader.

import { describe, expect, it } from "vitest";
import { Cluster } from "./harness.js";

describe("thesis 9.6 pre-vote", () => {
  it("a partitioned node keeps its term, and rejoining neither raises the cluster's term nor deposes the leader", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    const term = cluster.raft("n1").term;
    const reconnect = cluster.isolate("n3");
    for (let i = 0; i < 100; i++) cluster.tick();
    // It kept asking for pre-votes, and never moved to a real election.
    expect(cluster.sentMatching({ from: "n3", type: "pre_vote" }).length).toBeGreaterThan(0);
    expect(cluster.sentMatching({ from: "n3", type: "vote" })).toHaveLength(0);
    expect(cluster.raft("n3").term).toBe(term);

    reconnect();
    for (let i = 0; i < 50; i++) cluster.tick();
    expect(cluster.leader()).toBe("n1");
    for (const node of cluster.nodes.values()) {
      expect(node.raft.term, node.id).toBe(term);
      expect(node.raft.leaderId, node.id).toBe("n1");
    }
  });

  it("without pre-vote the same partition raises the term and deposes the leader", () => {
    const cluster = Cluster.bootstrap(3, { raft: { preVote: false, checkQuorum: false } });
    cluster.elect("n1");
    const term = cluster.raft("n1").term;
    const reconnect = cluster.isolate("n3");
    for (let i = 0; i < 100; i++) cluster.tick();
    expect(cluster.raft("n3").term).toBeGreaterThan(term + 3);

    reconnect();
    cluster.tickUntil(() => cluster.raft("n1").term > term + 3, 50);
    expect(cluster.raft("n1").term).toBeGreaterThan(term + 3);
  });

  it("granting a pre-vote changes neither the voter's term nor its vote", () => {
    const cluster = Cluster.bootstrap(3);
    const voter = cluster.raft("n3");
    voter.step({
      type: "pre_vote",
      from: "n1",
      to: "n3",
      term: 5,
      lastLogIndex: 1,
      lastLogTerm: 1,
      transfer: false,
    });
    const ready = voter.ready();
    voter.advance();
    expect(ready.messages).toEqual([
      expect.objectContaining({ type: "pre_vote_resp", term: 5, reject: false }),
    ]);
    expect(ready.hardState).toBeNull();
    expect(voter.term).toBe(1);
    expect(voter.vote).toBeNull();
  });

  it("a pre-candidate raises its term only after a majority granted the pre-vote", () => {
    const cluster = Cluster.bootstrap(3);
    const candidate = cluster.raft("n1");
    const cut = cluster.dropIf((m) => m.type === "pre_vote_resp");
    while (candidate.role === "follower") cluster.tick("n1");
    expect(candidate.role).toBe("pre_candidate");
    expect(candidate.term).toBe(1);
    cut();
    cluster.elect("n1");
    expect(candidate.term).toBe(2);
  });
});
