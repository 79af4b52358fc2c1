// Proves single-server membership changes as in the Raft thesis (chapter 4): a learner catches up without voting and is then promoted, followers and the leader itself can be removed, a configuration takes effect when appended, and at most one change is in flight at a time.

import { describe, expect, it } from "vitest";
import { encodeChange, type ConfigChange, type Entry } from "../../src/raft/index.js";
import { Cluster, bytes } from "./harness.js";

/** A 3-node cluster led by n1, plus an empty node n4 that has not joined yet. */
function clusterWithJoiner(): Cluster {
  const cluster = Cluster.bootstrap(3);
  cluster.elect("n1");
  cluster.add("n4", { kind: "join" });
  cluster.flushAll();
  return cluster;
}

/** Proposes a membership change at the leader and lets it replicate. */
function change(cluster: Cluster, config: ConfigChange): void {
  const result = cluster.raft(cluster.mustLeader()).proposeConfigChange(config);
  if (!result.ok) throw new Error(`config change refused: ${result.code}`);
  cluster.stabilize();
}

describe("thesis 4 membership changes", () => {
  it("a node that has not been added never campaigns", () => {
    const cluster = clusterWithJoiner();
    for (let i = 0; i < 100; i++) cluster.tick("n4");
    expect(cluster.raft("n4").role).toBe("follower");
    expect(cluster.sentMatching({ from: "n4" })).toHaveLength(0);
  });

  it("a learner catches up with the whole log but neither campaigns nor counts towards a quorum", () => {
    const cluster = clusterWithJoiner();
    cluster.proposeAndCommit("before");
    change(cluster, { type: "add_learner", node: "n4" });
    const learner = cluster.node("n4");
    expect(learner.logTerms()).toEqual(cluster.node("n1").logTerms());
    expect(learner.state).toEqual(["before"]);
    expect(learner.raft.membership).toEqual({ voters: ["n1", "n2", "n3"], learners: ["n4"] });
    expect(
      cluster
        .raft("n1")
        .status()
        .progress.find((p) => p.id === "n4"),
    ).toMatchObject({ voter: false });

    // n1 and the learner alone are no quorum of the three voters.
    cluster.isolate("n2");
    cluster.isolate("n3");
    const x = cluster.propose("n1", "x");
    cluster.stabilize();
    expect(learner.raft.log.lastIndex()).toBe(x.index);
    expect(cluster.raft("n1").log.committed).toBeLessThan(x.index);

    // Without a leader, the learner still never campaigns.
    cluster.crash("n1");
    for (let i = 0; i < 100; i++) cluster.tick("n4");
    expect(learner.raft.role).toBe("follower");
    expect(cluster.sentMatching({ from: "n4", type: "pre_vote" })).toHaveLength(0);
    expect(cluster.sentMatching({ from: "n4", type: "vote" })).toHaveLength(0);
  });

  it("a promoted learner votes and counts towards the quorum of the larger cluster", () => {
    const cluster = clusterWithJoiner();
    change(cluster, { type: "add_learner", node: "n4" });
    change(cluster, { type: "promote", node: "n4" });
    for (const id of ["n1", "n2", "n3", "n4"]) {
      expect(cluster.raft(id).membership, id).toEqual({ voters: ["n1", "n2", "n3", "n4"], learners: [] });
    }
    // Four voters need three: n1, n2 and n4 commit without n3, n1 and n4 alone do not.
    const reconnect3 = cluster.isolate("n3");
    const a = cluster.proposeAndCommit("a");
    expect(cluster.raft("n1").log.committed).toBe(a.index);
    cluster.isolate("n2");
    const b = cluster.proposeAndCommit("b");
    expect(cluster.raft("n1").log.committed).toBeLessThan(b.index);
    cluster.heal();
    reconnect3();
    cluster.tickUntil(() => cluster.appliedEverywhere(b), 20);

    // And it can lead.
    cluster.raft("n1").transferLeadership("n4");
    cluster.stabilize();
    expect(cluster.leader()).toBe("n4");
  });

  it("a removed follower gets nothing more and does not disturb the cluster", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    const term = cluster.raft("n1").term;
    change(cluster, { type: "remove", node: "n3" });
    expect(cluster.raft("n1").membership).toEqual({ voters: ["n1", "n2"], learners: [] });
    expect(
      cluster
        .raft("n1")
        .status()
        .progress.map((p) => p.id)
        .sort(),
    ).toEqual(["n1", "n2"]);

    const sentToRemoved = cluster.sentMatching({ from: "n1", to: "n3" }).length;
    for (let i = 0; i < 100; i++) cluster.tick();
    const x = cluster.proposeAndCommit("x");
    expect(cluster.appliedEverywhere(x, ["n1", "n2"])).toBe(true);
    expect(cluster.sentMatching({ from: "n1", to: "n3" })).toHaveLength(sentToRemoved);
    expect(cluster.leader()).toBe("n1");
    expect(cluster.raft("n1").term).toBe(term);
  });

  it("a leader that removes itself steps down once the change commits, and another leader takes over", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    const term = cluster.raft("n1").term;
    const removal = cluster.raft("n1").proposeConfigChange({ type: "remove", node: "n1" });
    expect(removal.ok).toBe(true);
    // The new configuration is in force as soon as it is appended.
    expect(cluster.raft("n1").membership.voters).toEqual(["n2", "n3"]);
    cluster.stabilize();

    expect(cluster.raft("n1").role).toBe("follower");
    const leader = cluster.mustLeader();
    expect(["n2", "n3"]).toContain(leader);
    // Handed over with TimeoutNow: the next term, without waiting for an election timeout.
    expect(cluster.raft(leader).term).toBe(term + 1);
    expect(cluster.raft(leader).membership.voters).toEqual(["n2", "n3"]);

    const x = cluster.proposeAndCommit("x");
    expect(cluster.appliedEverywhere(x, ["n2", "n3"])).toBe(true);
    // The removed node never campaigns again.
    const campaigns = cluster.sentMatching({ from: "n1", type: "pre_vote" }).length;
    for (let i = 0; i < 100; i++) cluster.tick();
    expect(cluster.leader()).toBe(leader);
    expect(cluster.sentMatching({ from: "n1", type: "pre_vote" })).toHaveLength(campaigns);
  });

  it("a second change is refused while the first is uncommitted", () => {
    const cluster = clusterWithJoiner();
    cluster.add("n5", { kind: "join" });
    const leader = cluster.raft("n1");
    expect(leader.proposeConfigChange({ type: "add_learner", node: "n4" }).ok).toBe(true);
    expect(leader.proposeConfigChange({ type: "add_learner", node: "n5" })).toMatchObject({
      ok: false,
      code: "config_change_pending",
      leaderId: "n1",
    });
    cluster.stabilize();
    expect(leader.proposeConfigChange({ type: "add_learner", node: "n5" }).ok).toBe(true);
  });

  it("a new leader refuses changes until it has committed an entry of its term", () => {
    const cluster = Cluster.bootstrap(3);
    const cut = cluster.dropIf((m) => m.type === "append");
    cluster.elect("n1");
    expect(cluster.raft("n1").proposeConfigChange({ type: "remove", node: "n3" })).toMatchObject({
      code: "config_change_pending",
    });
    cut();
    cluster.tick("n1");
    expect(cluster.raft("n1").proposeConfigChange({ type: "remove", node: "n3" }).ok).toBe(true);
  });

  it("invalid changes are refused with invalid_config_change and change nothing", () => {
    const cluster = clusterWithJoiner();
    change(cluster, { type: "add_learner", node: "n4" });
    const leader = cluster.raft("n1");
    const lastIndex = leader.log.lastIndex();
    const invalid: ConfigChange[] = [
      { type: "add_learner", node: "n2" }, // already a voter
      { type: "add_learner", node: "n4" }, // already a learner
      { type: "add_learner", node: "" },
      { type: "promote", node: "n2" }, // not a learner
      { type: "promote", node: "n9" },
      { type: "remove", node: "n9" }, // not a member
      { type: "bootstrap", voters: ["n1"] },
    ];
    for (const config of invalid) {
      expect(leader.proposeConfigChange(config), JSON.stringify(config)).toMatchObject({
        ok: false,
        code: "invalid_config_change",
      });
    }
    expect(leader.log.lastIndex()).toBe(lastIndex);

    const single = Cluster.bootstrap(1);
    single.tickUntil(() => single.leader() === "n1", 30);
    expect(single.raft("n1").proposeConfigChange({ type: "remove", node: "n1" })).toMatchObject({
      code: "invalid_config_change",
    });
  });

  it("a configuration is in force when appended, and no longer once its entry is cut off", () => {
    const cluster = Cluster.bootstrap(3);
    const follower = cluster.raft("n3");
    const removeN2: Entry = {
      index: 2,
      term: 2,
      type: "config",
      data: encodeChange({ type: "remove", node: "n2" }),
    };
    follower.step({
      type: "append",
      from: "n1",
      to: "n3",
      term: 2,
      prevIndex: 1,
      prevTerm: 1,
      entries: [removeN2],
      commit: 1,
    });
    cluster.flush("n3");
    expect(follower.membership.voters).toEqual(["n1", "n3"]);

    // The leader of term 3 never had that entry and overwrites index 2.
    const noop: Entry = { index: 2, term: 3, type: "normal", data: bytes("") };
    follower.step({
      type: "append",
      from: "n2",
      to: "n3",
      term: 3,
      prevIndex: 1,
      prevTerm: 1,
      entries: [noop],
      commit: 1,
    });
    cluster.flush("n3");
    expect(follower.membership.voters).toEqual(["n1", "n2", "n3"]);
    expect(cluster.node("n3").disk.entries.map((e) => e.term)).toEqual([1, 3]);
  });

  it("a node that restarts recovers its membership from the log", () => {
    const cluster = clusterWithJoiner();
    change(cluster, { type: "add_learner", node: "n4" });
    change(cluster, { type: "promote", node: "n4" });
    change(cluster, { type: "remove", node: "n2" });
    cluster.crash("n4");
    expect(cluster.restart("n4").raft.membership).toEqual({ voters: ["n1", "n3", "n4"], learners: [] });
  });
});
