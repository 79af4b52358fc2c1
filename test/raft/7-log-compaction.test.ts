// Proves the log compaction rules of Raft section 7: takeSnapshot folds the applied log into a snapshot that survives restarts, and a follower behind the compacted log receives InstallSnapshot in chunks, resumes after a lost chunk, and ends with the leader's state.

import { describe, expect, it } from "vitest";
import { AssertionError, type SnapshotChunk } from "../../src/raft/index.js";
import { Cluster, type TestRaftOptions } from "./harness.js";

const CHUNK_BYTES = 16;

/** n1 leads; n3 was cut off while 20 entries committed and n1 compacted its whole log. */
function clusterWithLaggingFollower(raft: TestRaftOptions = {}): Cluster {
  const cluster = Cluster.bootstrap(3, {
    raft: { snapshotTrailingEntries: 0, snapshotChunkBytes: CHUNK_BYTES, ...raft },
  });
  cluster.elect("n1");
  const reconnect = cluster.isolate("n3");
  for (let i = 0; i < 20; i++) cluster.proposeAndCommit(`value-${i}`);
  cluster.takeSnapshot("n1");
  reconnect();
  return cluster;
}

/** Snapshot chunks n1 sent to n3. */
function chunksSent(cluster: Cluster): SnapshotChunk[] {
  return cluster
    .sentMatching({ from: "n1", to: "n3", type: "snapshot" })
    .filter((m): m is SnapshotChunk => m.type === "snapshot");
}

describe("7 log compaction", () => {
  it("a snapshot is due once compactionThresholdEntries were applied since the last one", () => {
    const cluster = Cluster.bootstrap(3, { raft: { compactionThresholdEntries: 8 } });
    cluster.elect("n1");
    const raft = cluster.raft("n1");
    // Applied so far: the bootstrap entry and the leader's no-op.
    while (cluster.node("n1").appliedIndex < 7) cluster.proposeAndCommit("x");
    expect(raft.snapshotDue()).toBe(false);
    cluster.proposeAndCommit("x");
    expect(raft.snapshotDue()).toBe(true);
    cluster.takeSnapshot("n1");
    expect(raft.snapshotDue()).toBe(false);
    for (let i = 0; i < 7; i++) cluster.proposeAndCommit("x");
    expect(raft.snapshotDue()).toBe(false);
    cluster.proposeAndCommit("x");
    expect(raft.snapshotDue()).toBe(true);
  });

  it("takeSnapshot folds the applied log into a snapshot, keeping the configured tail", () => {
    for (const trailing of [0, 4]) {
      const cluster = Cluster.bootstrap(3, { raft: { snapshotTrailingEntries: trailing } });
      cluster.elect("n1");
      for (let i = 0; i < 10; i++) cluster.proposeAndCommit(`v${i}`);
      const raft = cluster.raft("n1");
      const applied = cluster.node("n1").appliedIndex;
      const term = raft.log.term(applied);

      const firstIndex = cluster.takeSnapshot("n1");

      expect(firstIndex).toBe(applied - trailing + 1);
      expect(raft.log.firstIndex()).toBe(firstIndex);
      expect(raft.log.entry(firstIndex - 1)).toBeUndefined();
      expect(raft.log.term(firstIndex - 1)).toBeDefined();
      expect(raft.currentSnapshot()).toMatchObject({
        index: applied,
        term,
        membership: { voters: ["n1", "n2", "n3"] },
      });
      expect(cluster.node("n1").disk.entries[0]?.index ?? applied + 1).toBe(firstIndex);
    }
  });

  it("a snapshot can only cover applied entries", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    const raft = cluster.raft("n1");
    expect(() => raft.takeSnapshot(raft.log.applied + 1, new Uint8Array())).toThrow(AssertionError);
  });

  it("a node restarts from its snapshot and the entries after it", () => {
    const cluster = Cluster.bootstrap(3, { raft: { snapshotTrailingEntries: 0 } });
    cluster.elect("n1");
    for (let i = 0; i < 5; i++) cluster.proposeAndCommit(`v${i}`);
    cluster.takeSnapshot("n2");
    for (let i = 5; i < 8; i++) cluster.proposeAndCommit(`v${i}`);
    const before = cluster.node("n2");
    const terms = before.logTerms();
    const state = [...before.state];

    cluster.crash("n2");
    const after = cluster.restart("n2");
    expect(after.raft.log.firstIndex()).toBe(before.raft.log.firstIndex());
    expect(after.logTerms()).toEqual(terms);
    expect(after.state).toEqual(state);
    expect(after.raft.membership.voters).toEqual(["n1", "n2", "n3"]);
  });

  it("a follower behind the compacted log receives the snapshot in chunks and ends with the same state", () => {
    const cluster = clusterWithLaggingFollower();
    const leader = cluster.raft("n1");
    cluster.tickUntil(() => cluster.raft("n3").log.lastIndex() === leader.log.lastIndex(), 20);

    const snapshot = leader.currentSnapshot()!;
    const chunks = chunksSent(cluster);
    expect(chunks).toHaveLength(Math.ceil(snapshot.data.length / CHUNK_BYTES));
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.map((c) => c.offset)).toEqual(chunks.map((_, i) => i * CHUNK_BYTES));
    expect(chunks.every((c) => c.chunk.length <= CHUNK_BYTES && c.totalBytes === snapshot.data.length)).toBe(
      true,
    );

    const follower = cluster.node("n3");
    expect(follower.state).toEqual(cluster.node("n1").state);
    expect(follower.disk.snapshot).toMatchObject({ index: snapshot.index, term: snapshot.term });
    expect(follower.raft.log.firstIndex()).toBe(snapshot.index + 1);

    // Replication goes on with ordinary appends afterwards, and survives a restart of n3.
    const next = cluster.proposeAndCommit("after");
    expect(cluster.appliedEverywhere(next)).toBe(true);
    cluster.crash("n3");
    expect(cluster.restart("n3").state).toEqual(cluster.node("n1").state);
  });

  it("a lost chunk is sent again and the transfer resumes from there, not from the start", () => {
    const cluster = clusterWithLaggingFollower();
    let dropped = 0;
    cluster.addFilter((m) => {
      if (m.type === "snapshot" && m.offset === CHUNK_BYTES && dropped === 0) {
        dropped++;
        return null;
      }
      return m;
    });
    const leader = cluster.raft("n1");
    cluster.tickUntil(() => cluster.raft("n3").log.lastIndex() === leader.log.lastIndex(), 20);

    expect(dropped).toBe(1);
    const offsets = chunksSent(cluster).map((c) => c.offset);
    const total = Math.ceil(leader.currentSnapshot()!.data.length / CHUNK_BYTES);
    // Every chunk once, plus the lost one again; the first chunk was never resent.
    expect(offsets).toHaveLength(total + 1);
    expect(offsets.filter((offset) => offset === 0)).toHaveLength(1);
    expect(offsets.filter((offset) => offset === CHUNK_BYTES)).toHaveLength(2);
    expect(cluster.node("n3").state).toEqual(cluster.node("n1").state);
  });

  it("a follower that restarts in the middle of a transfer gets the snapshot from the start", () => {
    const cluster = clusterWithLaggingFollower();
    // Let two chunks arrive, then crash n3: the partial snapshot was never persisted.
    let delivered = 0;
    const stop = cluster.dropIf((m) => m.type === "snapshot" && ++delivered > 2);
    cluster.tickUntil(() => delivered > 2, 10);
    cluster.crash("n3");
    stop();
    cluster.restart("n3");
    const leader = cluster.raft("n1");
    cluster.tickUntil(() => cluster.raft("n3").log.lastIndex() === leader.log.lastIndex(), 30);
    expect(chunksSent(cluster).filter((c) => c.offset === 0).length).toBeGreaterThanOrEqual(2);
    expect(cluster.node("n3").state).toEqual(cluster.node("n1").state);
  });

  it("a leader that compacts further during a transfer starts over with its new snapshot", () => {
    const cluster = clusterWithLaggingFollower();
    const leader = cluster.raft("n1");
    const stop = cluster.dropIf((m) => m.type === "snapshot_resp");
    cluster.tickUntil(() => chunksSent(cluster).length > 0, 10);
    const firstSnapshot = leader.currentSnapshot()!.index;
    cluster.proposeAndCommit("more");
    cluster.takeSnapshot("n1");
    expect(leader.currentSnapshot()!.index).toBeGreaterThan(firstSnapshot);
    stop();
    cluster.tickUntil(() => cluster.raft("n3").log.lastIndex() === leader.log.lastIndex(), 30);
    expect(cluster.node("n3").disk.snapshot?.index).toBe(leader.currentSnapshot()!.index);
    expect(cluster.node("n3").state).toEqual(cluster.node("n1").state);
  });

  it("a learner added after the log was compacted catches up from a snapshot, then from the log", () => {
    const cluster = Cluster.bootstrap(3, {
      raft: { snapshotTrailingEntries: 0, snapshotChunkBytes: CHUNK_BYTES },
    });
    cluster.elect("n1");
    for (let i = 0; i < 10; i++) cluster.proposeAndCommit(`value-${i}`);
    cluster.takeSnapshot("n1");
    cluster.add("n4", { kind: "join" });
    const added = cluster.raft("n1").proposeConfigChange({ type: "add_learner", node: "n4" });
    expect(added.ok).toBe(true);
    cluster.stabilize();
    const learner = cluster.node("n4");
    expect(learner.disk.snapshot?.index).toBe(cluster.raft("n1").currentSnapshot()!.index);
    // The snapshot predates the learner's own addition; the log after it tells the learner.
    expect(learner.raft.membership).toEqual({ voters: ["n1", "n2", "n3"], learners: ["n4"] });
    expect(learner.state).toEqual(cluster.node("n1").state);
    cluster.crash("n4");
    expect(cluster.restart("n4").raft.membership.learners).toEqual(["n4"]);
  });
});
