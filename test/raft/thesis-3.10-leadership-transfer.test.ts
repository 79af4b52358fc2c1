// Proves leadership transfer as in the Raft thesis (section 3.10): a caught-up target is told to campaign at once and leads the next term without an election timeout, a lagging target is caught up first, and proposals are refused while a transfer is under way.

import { describe, expect, it } from "vitest";
import { Cluster, bytes } from "./harness.js";

const ELECTION_TICKS = 10;

/** A 3-node cluster led by n1 with a few committed entries. */
function ledCluster(): Cluster {
  const cluster = Cluster.bootstrap(3, { raft: { electionTicks: ELECTION_TICKS } });
  cluster.elect("n1");
  for (let i = 0; i < 3; i++) cluster.proposeAndCommit(`v${i}`);
  return cluster;
}

describe("thesis 3.10 leadership transfer", () => {
  it("a caught-up target leads the next term without any tick passing", () => {
    const cluster = ledCluster();
    const term = cluster.raft("n1").term;
    expect(cluster.raft("n1").transferLeadership("n2")).toEqual({ ok: true });
    const ready = cluster.raft("n1").ready();
    cluster.raft("n1").advance();
    expect(ready.messages).toEqual([expect.objectContaining({ type: "timeout_now", to: "n2", term })]);
    for (const message of ready.messages) cluster.deliver(message);
    cluster.stabilize();

    expect(cluster.leader()).toBe("n2");
    expect(cluster.raft("n2").term).toBe(term + 1);
    expect(cluster.raft("n1").role).toBe("follower");
    expect(cluster.raft("n1").leaderId).toBe("n2");
    // The campaign skipped pre-vote and told voters to ignore their lease.
    expect(cluster.sentMatching({ from: "n2", type: "vote" })).toEqual(
      expect.arrayContaining([expect.objectContaining({ transfer: true })]),
    );
    const x = cluster.proposeAndCommit("x");
    expect(cluster.appliedEverywhere(x)).toBe(true);
  });

  it("a lagging target is caught up first, proposals are refused meanwhile, then it takes over", () => {
    const cluster = ledCluster();
    const reconnect = cluster.isolate("n3");
    for (let i = 0; i < 10; i++) cluster.proposeAndCommit(`lag${i}`);
    const leaderLog = cluster.node("n1").logTerms();
    reconnect();
    const term = cluster.raft("n1").term;

    expect(cluster.raft("n1").transferLeadership("n3")).toEqual({ ok: true });
    expect(cluster.raft("n1").status().leadTransferee).toBe("n3");
    expect(cluster.raft("n1").propose(bytes("during"))).toMatchObject({
      ok: false,
      code: "leadership_transfer_in_progress",
      leaderId: "n1",
    });

    // TimeoutNow goes out only once n3 holds the leader's whole log.
    let logAtTimeoutNow: number[] | null = null;
    cluster.addFilter((m) => {
      if (m.type === "timeout_now") logAtTimeoutNow = cluster.node("n3").logTerms();
      return m;
    });
    const ticks = cluster.tickUntil(() => cluster.leader() === "n3", ELECTION_TICKS);
    expect(ticks).toBeLessThan(ELECTION_TICKS);
    expect(logAtTimeoutNow).toEqual(leaderLog);
    expect(cluster.raft("n3").term).toBe(term + 1);
    expect(cluster.node("n3").state).toEqual(cluster.node("n1").state);
  });

  it("a transfer to an unreachable target is abandoned after an election timeout, and proposals resume", () => {
    const cluster = ledCluster();
    cluster.isolate("n3");
    const leader = cluster.raft("n1");
    leader.transferLeadership("n3");
    for (let i = 0; i < ELECTION_TICKS; i++) cluster.tick("n1", "n2");
    expect(leader.role).toBe("leader");
    expect(leader.status().leadTransferee).toBeNull();
    expect(leader.propose(bytes("after")).ok).toBe(true);
  });

  it("only the leader transfers, and only to a voter", () => {
    const cluster = ledCluster();
    expect(cluster.raft("n2").transferLeadership("n3")).toMatchObject({
      ok: false,
      code: "not_leader",
      leaderId: "n1",
    });
    expect(cluster.raft("n1").transferLeadership("n9")).toMatchObject({
      ok: false,
      code: "invalid_transfer_target",
    });
    expect(cluster.raft("n1").transferLeadership("n1")).toEqual({ ok: true });
    expect(cluster.raft("n1").status().leadTransferee).toBeNull();
  });
});
