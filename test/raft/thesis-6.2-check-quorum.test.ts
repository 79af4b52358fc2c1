// Proves check-quorum and the leader lease of the Raft thesis (sections 6.2 and 4.2.3): a leader cut off from a quorum steps down within one maximal election timeout (2 × electionTicks), and followers that hear from a leader ignore vote requests that could depose it.

import { describe, expect, it } from "vitest";
import type { Message, RaftNode } from "../../src/raft/index.js";
import { Cluster } from "./harness.js";

const ELECTION_TICKS = 10;

/** A vote request from n3 for the next term, as a disruptive (say, rejoining) node would send. */
function disruptiveVote(to: RaftNode, type: "vote" | "pre_vote", transfer = false): Message {
  return {
    type,
    from: "n3",
    to: to.id,
    term: to.term + 1,
    lastLogIndex: to.log.lastIndex() + 10,
    lastLogTerm: to.log.lastTerm(),
    transfer,
  };
}

describe("thesis 6.2 check-quorum", () => {
  it("a leader cut off from a quorum steps down within one maximal election timeout, but not before a full one", () => {
    // The leader checks its quorum every electionTicks; it steps down at the first check that
    // covers a whole period without hearing from a quorum. Depending on where in the period the
    // partition falls, that is after more than electionTicks and at most 2 * electionTicks
    // ticks: the upper end of the randomized election timeout followers use.
    for (let offset = 0; offset < ELECTION_TICKS; offset++) {
      const cluster = Cluster.bootstrap(3, { raft: { electionTicks: ELECTION_TICKS } });
      cluster.elect("n1");
      for (let i = 0; i < offset; i++) cluster.tick("n1");
      cluster.isolate("n1");
      let ticks = 0;
      while (cluster.raft("n1").role === "leader") {
        cluster.tick("n1");
        ticks++;
        expect(ticks, `partition ${offset} ticks into the check period`).toBeLessThanOrEqual(
          2 * ELECTION_TICKS,
        );
      }
      expect(ticks, `partition ${offset} ticks into the check period`).toBeGreaterThan(ELECTION_TICKS);
      expect(cluster.raft("n1").role).toBe("follower");
      expect(cluster.raft("n1").leaderId).toBeNull();
    }
  });

  it("the followers elect a new leader, and the old one, once back, follows it", () => {
    const cluster = Cluster.bootstrap(3, { raft: { electionTicks: ELECTION_TICKS } });
    cluster.elect("n1");
    const term = cluster.raft("n1").term;
    const reconnect = cluster.isolate("n1");
    cluster.tickUntil(() => cluster.leader() !== "n1" && cluster.leader() !== null, 100);
    const leader = cluster.mustLeader();
    expect(cluster.raft(leader).term).toBeGreaterThan(term);
    // The old leader may still believe it leads for the rest of its check period (it cannot
    // commit or answer reads meanwhile), but it steps down on its own, before it hears anything.
    cluster.tickUntil(() => cluster.raft("n1").role === "follower", 2 * ELECTION_TICKS);
    reconnect();
    cluster.tickUntil(() => cluster.raft("n1").leaderId === leader, 30);
    expect(cluster.raft("n1").role).toBe("follower");
  });

  it("a leader that hears from a quorum stays leader, term after term of heartbeats", () => {
    const cluster = Cluster.bootstrap(5);
    cluster.elect("n1");
    const term = cluster.raft("n1").term;
    cluster.isolate("n4");
    cluster.isolate("n5");
    for (let i = 0; i < 200; i++) cluster.tick("n1", "n2", "n3");
    expect(cluster.leader()).toBe("n1");
    expect(cluster.raft("n1").term).toBe(term);
  });

  it("without check-quorum an isolated leader believes it leads forever", () => {
    const cluster = Cluster.bootstrap(3, { raft: { checkQuorum: false } });
    cluster.elect("n1");
    cluster.isolate("n1");
    for (let i = 0; i < 100; i++) cluster.tick("n1");
    expect(cluster.raft("n1").role).toBe("leader");
  });

  it("a follower in a leader lease ignores vote and pre-vote requests", () => {
    const cluster = Cluster.bootstrap(3, { raft: { electionTicks: ELECTION_TICKS } });
    cluster.elect("n1");
    const follower = cluster.raft("n2");
    const term = follower.term;
    for (const type of ["vote", "pre_vote"] as const) {
      follower.step(disruptiveVote(follower, type));
      expect(follower.term).toBe(term);
      expect(follower.vote).toBe("n1");
      expect(follower.leaderId).toBe("n1");
      expect(follower.hasReady()).toBe(false);
    }
  });

  it("once the lease has lapsed the same request is granted", () => {
    const cluster = Cluster.bootstrap(3, { raft: { electionTicks: ELECTION_TICKS } });
    cluster.elect("n1");
    const follower = cluster.raft("n2");
    const term = follower.term;
    cluster.crash("n1");
    for (let i = 0; i < ELECTION_TICKS - 1; i++) follower.tick();
    follower.step(disruptiveVote(follower, "vote"));
    expect(follower.term).toBe(term);
    follower.tick();
    follower.step(disruptiveVote(follower, "vote"));
    expect(follower.term).toBe(term + 1);
    expect(follower.vote).toBe("n3");
  });

  it("a leadership transfer's campaign bypasses the lease", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    const follower = cluster.raft("n2");
    const term = follower.term;
    follower.step(disruptiveVote(follower, "vote", true));
    expect(follower.term).toBe(term + 1);
    expect(follower.vote).toBe("n3");
  });
});
