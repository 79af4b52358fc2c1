// Proves the rules of Raft section 5.3: the AppendEntries consistency check, truncation of a conflicting suffix, the leader's repair of every follower log of figure 7, fast back-off with conflict hints, and committed entries applied once, in order, on every node.

import { describe, expect, it } from "vitest";
import type { AppendResponse, NodeId } from "../../src/raft/index.js";
import { Cluster, bytes, restartWith, scriptedLog, text } from "./harness.js";

/** A cluster whose nodes restart with scripted logs, given as the terms of indexes 2, 3, ... */
function scriptedCluster(logs: Record<NodeId, number[]>, term: number): Cluster {
  const cluster = new Cluster({ seed: 3 });
  const voters = Object.keys(logs).sort();
  for (const id of voters) cluster.add(id, restartWith(scriptedLog(voters, logs[id]!), term));
  cluster.flushAll();
  return cluster;
}

/** Rejected append answers `from` sent. */
function rejections(cluster: Cluster, from: NodeId): AppendResponse[] {
  return cluster
    .sentMatching({ from, type: "append_resp" })
    .filter((m): m is AppendResponse => m.type === "append_resp" && m.reject);
}

describe("5.3 log replication", () => {
  it("a follower refuses an append whose previous entry it does not hold, and keeps its log", () => {
    const cluster = scriptedCluster({ n1: [2, 2], n2: [2, 2], n3: [2, 2] }, 3);
    const follower = cluster.raft("n2");
    const entry = { index: 4, term: 3, type: "normal" as const, data: bytes("x") };

    // prevIndex beyond its log, then the right index with the wrong term.
    for (const [prevIndex, prevTerm] of [
      [5, 2],
      [3, 3],
    ] as const) {
      follower.step({
        type: "append",
        from: "n1",
        to: "n2",
        term: 3,
        prevIndex,
        prevTerm,
        entries: [entry],
        commit: 1,
      });
      expect(follower.log.lastIndex()).toBe(3);
      const answer = follower.ready();
      follower.advance();
      expect(answer.messages).toEqual([
        expect.objectContaining({ type: "append_resp", reject: true, index: prevIndex }),
      ]);
    }

    follower.step({
      type: "append",
      from: "n1",
      to: "n2",
      term: 3,
      prevIndex: 3,
      prevTerm: 2,
      entries: [entry],
      commit: 1,
    });
    const answer = follower.ready();
    follower.advance();
    expect(answer.entries).toEqual([entry]);
    expect(answer.messages).toEqual([
      expect.objectContaining({ type: "append_resp", reject: false, index: 4 }),
    ]);
  });

  it("a follower cuts off a conflicting suffix and persists the replacement", () => {
    const cluster = scriptedCluster({ n1: [2, 2, 2, 2], n2: [2, 2, 2, 2], n3: [2] }, 3);
    const follower = cluster.node("n2");
    const replacement = { index: 3, term: 3, type: "normal" as const, data: bytes("x") };

    follower.raft.step({
      type: "append",
      from: "n1",
      to: "n2",
      term: 3,
      prevIndex: 2,
      prevTerm: 2,
      entries: [replacement],
      commit: 1,
    });
    cluster.flush("n2");

    expect(follower.logTerms()).toEqual([1, 2, 3]);
    expect(follower.disk.entries.map((e) => e.term)).toEqual([1, 2, 3]);
    expect(text(follower.disk.entries[2]!.data)).toBe("x");
  });

  it("a follower keeps entries that already match, even from a stale or reordered append", () => {
    const cluster = scriptedCluster({ n1: [2, 2, 2], n2: [2, 2, 2], n3: [2] }, 3);
    const follower = cluster.node("n2");
    const entry2 = follower.raft.log.entry(2)!;
    follower.raft.step({
      type: "append",
      from: "n1",
      to: "n2",
      term: 3,
      prevIndex: 1,
      prevTerm: 1,
      entries: [entry2],
      commit: 1,
    });
    cluster.flush("n2");
    expect(follower.logTerms()).toEqual([1, 2, 2, 2]);
  });

  it("the leader repairs every follower log of figure 7, each after at most one rejection", () => {
    // Figure 7: the leader of term 8 and six possible followers. Index 1 is our founding config
    // entry, so every log starts with three entries of term 1 as in the figure.
    const leaderLog = [1, 1, 4, 4, 5, 5, 6, 6, 6];
    const logs: Record<NodeId, number[]> = {
      leader: leaderLog,
      a: [1, 1, 4, 4, 5, 5, 6, 6],
      b: [1, 1, 4],
      c: [1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
      d: [1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
      e: [1, 1, 4, 4, 4, 4],
      f: [1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    };
    const cluster = scriptedCluster(logs, 7);
    cluster.elect("leader");
    const leader = cluster.raft("leader");
    expect(leader.term).toBe(8);
    // (c) and (d) hold entries the leader lacks, so they refused their votes (5.4.1).
    expect(cluster.sentMatching({ from: "c", type: "vote_resp" })).toEqual([
      expect.objectContaining({ reject: true }),
    ]);
    expect(cluster.sentMatching({ from: "d", type: "vote_resp" })).toEqual([
      expect.objectContaining({ reject: true }),
    ]);

    const expected = [1, ...leaderLog, 8]; // the leader's log plus its no-op of term 8
    expect(cluster.node("leader").logTerms()).toEqual(expected);
    for (const id of ["a", "b", "c", "d", "e", "f"]) {
      expect(cluster.node(id).logTerms(), `follower (${id})`).toEqual(expected);
      expect(cluster.raft(id).log.committed, `follower (${id})`).toBe(11);
    }
    // With conflict hints each follower costs at most one extra round trip; (f) alone would take
    // seven if the leader backed off one index at a time.
    const rejected = Object.fromEntries(
      ["a", "b", "c", "d", "e", "f"].map((id) => [id, rejections(cluster, id).length]),
    );
    expect(rejected).toEqual({ a: 1, b: 1, c: 0, d: 0, e: 1, f: 1 });
    // The repaired followers apply the leader's entries, so every state machine is the same.
    const leaderState = cluster.node("leader").state;
    for (const id of ["a", "b", "c", "d", "e", "f"]) expect(cluster.node(id).state).toEqual(leaderState);
  });

  it("fast back-off skips a whole conflicting term in one round trip", () => {
    // n3 holds 150 entries of term 2 the leader never had; the leader has 50 of term 3 there.
    const cluster = scriptedCluster(
      {
        n1: [1, 1, ...new Array<number>(50).fill(3)],
        n2: [1, 1, ...new Array<number>(50).fill(3)],
        n3: [1, 1, ...new Array<number>(150).fill(2)],
      },
      3,
    );
    cluster.elect("n1");
    const hints = rejections(cluster, "n3");
    expect(hints).toHaveLength(1);
    expect(hints[0]).toMatchObject({ index: 53, hintTerm: 2 });
    expect(cluster.sentMatching({ from: "n1", to: "n3", type: "append" })).toHaveLength(2);
    expect(cluster.node("n3").logTerms()).toEqual(cluster.node("n1").logTerms());
  });

  it("a follower that is merely behind is caught up in one round trip", () => {
    const cluster = scriptedCluster(
      { n1: new Array<number>(40).fill(2), n2: new Array<number>(40).fill(2), n3: [2, 2] },
      2,
    );
    cluster.elect("n1");
    expect(rejections(cluster, "n3")).toHaveLength(1);
    expect(cluster.node("n3").logTerms()).toEqual(cluster.node("n1").logTerms());
  });

  it("an entry commits once a majority stores it, and followers learn the commit index from the leader", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    const reconnect = cluster.isolate("n3");
    const x = cluster.proposeAndCommit("x");

    expect(cluster.raft("n1").log.committed).toBe(x.index);
    expect(cluster.raft("n2").log.committed).toBe(x.index);
    expect(cluster.node("n2").state).toEqual(["x"]);
    expect(cluster.raft("n3").log.lastIndex()).toBeLessThan(x.index);

    reconnect();
    cluster.tickUntil(() => cluster.appliedEverywhere(x), 20);
    expect(cluster.node("n3").state).toEqual(["x"]);
  });

  it("an entry stored only by a minority is neither committed nor applied", () => {
    const cluster = Cluster.bootstrap(5);
    cluster.elect("n1");
    const base = cluster.raft("n1").log.committed;
    cluster.dropIf((m) => m.from === "n1" && (m.to === "n3" || m.to === "n4" || m.to === "n5"));
    cluster.propose("n1", "y");
    for (let i = 0; i < 5; i++) cluster.tick("n1");
    expect(cluster.raft("n2").log.lastIndex()).toBe(base + 1);
    expect(cluster.raft("n1").log.committed).toBe(base);
    expect(cluster.node("n1").state).toEqual([]);
  });

  it("committed entries are applied exactly once and in order on every node, through crashes", () => {
    const cluster = Cluster.bootstrap(3, { seed: 11 });
    cluster.elect("n1");
    const proposed: string[] = [];
    for (let batch = 0; batch < 12; batch++) {
      for (let i = 0; i < 5; i++) {
        const data = `cmd-${batch}-${i}`;
        cluster.propose("n1", data);
        proposed.push(data);
      }
      if (batch === 4) cluster.crash("n3");
      if (batch === 8) cluster.restart("n3");
      cluster.tick();
    }
    const last = cluster.proposeAndCommit("last");
    proposed.push("last");
    cluster.tickUntil(() => cluster.appliedEverywhere(last), 30);
    for (const node of cluster.nodes.values()) {
      expect(node.state, node.id).toEqual(proposed);
      // Indexes were checked contiguous as they were applied; this incarnation saw each once.
      const indexes = node.applied.map((entry) => entry.index);
      expect(new Set(indexes).size).toBe(indexes.length);
    }
  });
});
