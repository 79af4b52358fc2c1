// Proves the safety rules of Raft section 5.4: votes go only to candidates whose log is at least as up to date (5.4.1), a leader never commits an entry of an older term by counting replicas (5.4.2, the figure 8 scenario), and a new leader commits earlier entries through a no-op of its own term.

import { describe, expect, it } from "vitest";
import type { InjectedBugs, Message, NodeId, RaftNode } from "../../src/raft/index.js";
import { Cluster, nodeIds, restartWith, scriptedLog } from "./harness.js";

/** Asks `voter` for a vote (or pre-vote) and returns whether it granted it. */
function asksForVote(
  voter: RaftNode,
  type: "vote" | "pre_vote",
  term: number,
  lastLogIndex: number,
  lastLogTerm: number,
): boolean {
  const request: Message = {
    type,
    from: "n1",
    to: voter.id,
    term,
    lastLogIndex,
    lastLogTerm,
    transfer: false,
  };
  voter.step(request);
  const ready = voter.ready();
  voter.advance();
  const answer = ready.messages.find((m) => m.type === `${type}_resp`);
  if (answer === undefined || (answer.type !== "vote_resp" && answer.type !== "pre_vote_resp")) {
    throw new Error("no answer");
  }
  return !answer.reject;
}

/** Whether any node ever applied an entry whose data is `data`. */
function appliedAnywhere(cluster: Cluster, data: string): boolean {
  return [...cluster.nodes.values()].some((node) => node.state.includes(data));
}

describe("5.4.1 election restriction", () => {
  it("a voter refuses candidates whose log is less up to date than its own", () => {
    // The voter's last entry: index 5, term 3.
    const voters = nodeIds(3);
    const cluster = new Cluster();
    const voter = cluster.add("n2", restartWith(scriptedLog(voters, [2, 3, 3, 3]), 3)).raft;
    cluster.flush("n2");
    let term = 3;
    const cases: [lastLogIndex: number, lastLogTerm: number, granted: boolean][] = [
      [10, 2, false], // longer, but its last term is older
      [4, 3, false], // same last term, shorter
      [5, 3, true], // identical
      [6, 3, true], // same last term, longer
      [2, 4, true], // shorter, but a later last term
    ];
    for (const [lastLogIndex, lastLogTerm, granted] of cases) {
      // Each request is in a fresh term, so the one-vote-per-term rule does not interfere.
      term++;
      expect(
        asksForVote(voter, "pre_vote", term, lastLogIndex, lastLogTerm),
        `pre-vote ${lastLogIndex}/${lastLogTerm}`,
      ).toBe(granted);
      expect(
        asksForVote(voter, "vote", term, lastLogIndex, lastLogTerm),
        `vote ${lastLogIndex}/${lastLogTerm}`,
      ).toBe(granted);
    }
  });

  it("a node that misses committed entries cannot become leader; one that has them can", () => {
    const cluster = Cluster.bootstrap(3, { raft: { checkQuorum: false } });
    cluster.elect("n1");
    const reconnect = cluster.isolate("n3");
    const committed = ["a", "b", "c"].map((data) => cluster.proposeAndCommit(data));
    expect(cluster.appliedEverywhere(committed[2]!, ["n1", "n2"])).toBe(true);
    cluster.crash("n1");
    reconnect();

    // n3 keeps timing out, but n2 refuses it every time.
    for (let i = 0; i < 100; i++) cluster.tick("n3");
    expect(cluster.raft("n3").role).not.toBe("leader");
    expect(cluster.sentMatching({ from: "n2", to: "n3" }).every((m) => !("reject" in m) || m.reject)).toBe(
      true,
    );

    cluster.elect("n2");
    // Leader completeness: the new leader holds every committed entry, and n3 gets them.
    cluster.tickUntil(() => cluster.appliedEverywhere(committed[2]!), 20);
    expect(cluster.node("n3").state).toEqual(["a", "b", "c"]);
  });
});

/**
 * Figure 8, with our founding config entry at index 1 (so the figure's index 2 is our 2..3):
 * (a) S1 leads term 2 and gets its entries (no-op, "x") to S2 only; (b) S1 crashes, S5 leads
 * term 3 with votes of S3 and S4 and appends its own entries at the same indexes, then crashes;
 * (c) S1 restarts, leads term 4, and copies its term-2 entries to S3, so they sit on a majority,
 * while its own term-4 entry reaches nobody; (d) S1 crashes and S5 is elected again.
 */
function figure8(bugs: InjectedBugs): Cluster {
  const servers: NodeId[] = ["S1", "S2", "S3", "S4", "S5"];
  const cluster = new Cluster({ seed: 8, raft: { preVote: false, checkQuorum: false, bugs } });
  for (const id of servers) cluster.add(id, { kind: "bootstrap", voters: servers });
  cluster.flushAll();

  // (a)
  let cut = cluster.dropIf((m) => m.from === "S1" && ["S3", "S4", "S5"].includes(m.to) && m.type !== "vote");
  cluster.elect("S1");
  cluster.propose("S1", "x");
  cluster.stabilize();
  expect(cluster.node("S2").logTerms()).toEqual([1, 2, 2]);
  expect(cluster.raft("S1").log.committed).toBe(1);

  // (b)
  cluster.crash("S1");
  cut();
  cut = cluster.dropIf((m) => m.from === "S5" && m.type !== "vote");
  cluster.elect("S5");
  cluster.propose("S5", "y");
  cluster.stabilize();
  expect(cluster.node("S5").logTerms()).toEqual([1, 3, 3]);
  cluster.crash("S5");
  cut();

  // (c) S1's appends reach S2 and S3 only up to index 3; its term-4 no-op at index 4 is lost.
  cluster.restart("S1");
  cut = cluster.addFilter((m) => {
    if (m.from !== "S1" || m.type === "vote") return m;
    if (m.to === "S4") return null;
    if (m.type !== "append") return m;
    return { ...m, entries: m.entries.filter((entry) => entry.index <= 3) };
  });
  cluster.elect("S1");
  expect(cluster.raft("S1").term).toBe(4);
  cluster.tick("S1");
  cluster.tick("S1");
  for (const id of ["S1", "S2", "S3"]) expect(cluster.node(id).logTerms().slice(0, 3), id).toEqual([1, 2, 2]);
  // S1 knows that a majority (S1, S2, S3) stores index 3 of term 2 ...
  const matches = cluster
    .raft("S1")
    .status()
    .progress.map((p) => p.match);
  expect(matches.filter((match) => match >= 3)).toHaveLength(3);
  // ... and with the rule intact it still does not count that as committed.
  if (!bugs.commitOldTermByCount) expect(cluster.raft("S1").log.committed).toBe(1);

  // (d)
  cluster.crash("S1");
  cut();
  cluster.restart("S5");
  cluster.elect("S5");
  cluster.tick("S5");
  return cluster;
}

describe("5.4.2 committing entries from previous terms", () => {
  it("figure 8: a leader does not commit an old-term entry stored on a majority, so a later leader may replace it", () => {
    const cluster = figure8({});
    expect(cluster.raft("S5").term).toBeGreaterThanOrEqual(5);
    // S5's term-3 entries replaced the term-2 ones everywhere, and nobody ever applied "x".
    for (const id of ["S2", "S3", "S4", "S5"])
      expect(cluster.node(id).logTerms().slice(0, 3), id).toEqual([1, 3, 3]);
    expect(appliedAnywhere(cluster, "x")).toBe(false);
    expect(appliedAnywhere(cluster, "y")).toBe(true);
  });

  it("figure 8 catches a leader that commits old-term entries by counting replicas", () => {
    // With the rule broken, S1 commits and applies "x" in (c); S5 then overwrites it in (d),
    // and the harness sees two nodes apply different entries at the same index.
    expect(() => figure8({ commitOldTermByCount: true })).toThrow(/state machine safety/);
  });

  it("figure 8 (e): once the leader's own-term entry is on a majority, the old entries are committed too", () => {
    const servers: NodeId[] = ["S1", "S2", "S3", "S4", "S5"];
    const cluster = new Cluster({ seed: 8, raft: { preVote: false, checkQuorum: false } });
    for (const id of servers) cluster.add(id, { kind: "bootstrap", voters: servers });
    cluster.flushAll();
    const cut = cluster.dropIf(
      (m) => m.from === "S1" && ["S3", "S4", "S5"].includes(m.to) && m.type !== "vote",
    );
    cluster.elect("S1");
    cluster.propose("S1", "x");
    cluster.stabilize();
    cluster.crash("S1");
    cut();
    cluster.restart("S1");
    cluster.dropIf((m) => m.to === "S4" || m.to === "S5");
    cluster.elect("S1");
    // The no-op of term 4 reached S2 and S3, which commits it and, with it, "x" of term 2.
    expect(cluster.raft("S1").log.committed).toBe(4);
    expect(cluster.node("S1").state).toEqual(["x"]);
    // S5 can no longer win: a majority holds an entry of term 4 that it lacks.
    cluster.heal();
    cluster.crash("S1");
    for (let i = 0; i < 100; i++) cluster.tick("S5");
    expect(cluster.raft("S5").role).not.toBe("leader");
  });
});

describe("5.4 no-op on election", () => {
  it("a new leader appends an empty entry of its term at once, which commits the previous leader's entry", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    // "p" reaches n2, but n2's acknowledgement is lost: n1 never learns it is committed.
    const stop = cluster.dropIf((m) => m.type === "append_resp" || m.to === "n3");
    const p = cluster.propose("n1", "p");
    cluster.stabilize();
    expect(cluster.raft("n1").log.committed).toBeLessThan(p.index);
    cluster.crash("n1");
    stop();

    const lastBefore = cluster.raft("n2").log.lastIndex();
    // n3 lacks "p", so only n2 can win (5.4.1).
    expect(cluster.waitForLeader()).toBe("n2");
    const leader = cluster.node("n2");
    const noop = leader.raft.log.entry(lastBefore + 1)!;
    expect(noop).toMatchObject({ term: leader.raft.term, type: "normal" });
    expect(noop.data).toHaveLength(0);
    // No client proposal was needed to commit and apply "p".
    expect(cluster.appliedEverywhere({ index: noop.index, term: noop.term }, ["n2", "n3"])).toBe(true);
    expect(cluster.node("n3").state).toEqual(["p"]);
  });
});
