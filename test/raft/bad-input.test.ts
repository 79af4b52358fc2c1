// Proves that malformed or foreign input leaves a node as it was: messages addressed to another node or from itself, answers from nodes that are not members, vote answers from non-voters, and stale or unsolicited control messages are ignored without changing state.

import { describe, expect, it } from "vitest";
import type { Message, NodeId, RaftNode } from "../../src/raft/index.js";
import { Cluster, observableState } from "./harness.js";

/** One message of every kind from `from` to `to` in `term`, with plausible contents. */
function everyKind(from: NodeId, to: NodeId, term: number, lastIndex: number): Message[] {
  const entry = { index: lastIndex + 1, term, type: "normal" as const, data: new Uint8Array([1]) };
  return [
    {
      type: "vote",
      from,
      to,
      term: term + 1,
      lastLogIndex: lastIndex + 5,
      lastLogTerm: term,
      transfer: true,
    },
    {
      type: "pre_vote",
      from,
      to,
      term: term + 1,
      lastLogIndex: lastIndex + 5,
      lastLogTerm: term,
      transfer: true,
    },
    { type: "vote_resp", from, to, term, reject: false },
    { type: "pre_vote_resp", from, to, term: term + 1, reject: false },
    {
      type: "append",
      from,
      to,
      term: term + 1,
      prevIndex: lastIndex,
      prevTerm: term,
      entries: [entry],
      commit: lastIndex + 1,
    },
    { type: "append_resp", from, to, term, reject: false, index: lastIndex, hintIndex: 0, hintTerm: 0 },
    { type: "heartbeat", from, to, term: term + 1, commit: lastIndex, readSeq: 1 },
    { type: "heartbeat_resp", from, to, term, readSeq: 99 },
    {
      type: "snapshot",
      from,
      to,
      term: term + 1,
      index: lastIndex + 10,
      snapshotTerm: term,
      membership: { voters: [from], learners: [] },
      totalBytes: 1,
      offset: 0,
      chunk: new Uint8Array([1]),
    },
    { type: "snapshot_resp", from, to, term, index: lastIndex, received: 1 },
    { type: "timeout_now", from, to, term },
    { type: "read_index", from, to, term, context: 1 },
    { type: "read_index_resp", from, to, term, context: 1, index: lastIndex, reject: false },
  ];
}

/** Steps `message` into `raft` and asserts that nothing observable changed and nothing is due. */
function expectIgnored(raft: RaftNode, message: Message): void {
  const before = observableState(raft);
  raft.step(message);
  expect(observableState(raft), `${message.type} from ${message.from} to ${message.to}`).toBe(before);
  expect(raft.hasReady(), `${message.type} from ${message.from} to ${message.to}`).toBe(false);
}

/** A 3-node cluster led by n1, quiet (every Ready handled, nothing in flight). */
function quietCluster(): Cluster {
  const cluster = Cluster.bootstrap(3);
  cluster.elect("n1");
  cluster.proposeAndCommit("x");
  return cluster;
}

describe("bad input", () => {
  it("messages addressed to another node are ignored, whatever their kind", () => {
    const cluster = quietCluster();
    for (const id of ["n1", "n2"]) {
      const raft = cluster.raft(id);
      for (const message of everyKind("n3", "n9", raft.term, raft.log.lastIndex()))
        expectIgnored(raft, message);
    }
  });

  it("messages that claim to come from the node itself are ignored", () => {
    const cluster = quietCluster();
    for (const id of ["n1", "n2"]) {
      const raft = cluster.raft(id);
      for (const message of everyKind(id, id, raft.term, raft.log.lastIndex())) expectIgnored(raft, message);
    }
  });

  it("a leader's message in the current term from a non-member is ignored, not taken for a second leader", () => {
    const cluster = quietCluster();
    for (const id of ["n1", "n2"]) {
      const raft = cluster.raft(id);
      const term = raft.term;
      const last = raft.log.lastIndex();
      const entry = { index: last + 1, term, type: "normal" as const, data: new Uint8Array([7]) };
      const foreign: Message[] = [
        {
          type: "append",
          from: "n9",
          to: id,
          term,
          prevIndex: last,
          prevTerm: term,
          entries: [entry],
          commit: last + 1,
        },
        { type: "heartbeat", from: "n9", to: id, term, commit: last, readSeq: 1 },
        {
          type: "snapshot",
          from: "n9",
          to: id,
          term,
          index: last + 10,
          snapshotTerm: term,
          membership: { voters: ["n9"], learners: [] },
          totalBytes: 1,
          offset: 0,
          chunk: new Uint8Array([1]),
        },
      ];
      for (const message of foreign) expectIgnored(raft, message);
    }
  });

  it("a leader ignores answers from nodes that are not members", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    cluster.isolate("n2");
    cluster.isolate("n3");
    const leader = cluster.raft("n1");
    leader.propose(new Uint8Array([1]));
    leader.readIndex(5);
    cluster.stabilize();
    const term = leader.term;
    const last = leader.log.lastIndex();
    const answers: Message[] = [
      {
        type: "append_resp",
        from: "n9",
        to: "n1",
        term,
        reject: false,
        index: last,
        hintIndex: 0,
        hintTerm: 0,
      },
      {
        type: "append_resp",
        from: "n9",
        to: "n1",
        term,
        reject: true,
        index: last,
        hintIndex: 0,
        hintTerm: 0,
      },
      { type: "heartbeat_resp", from: "n9", to: "n1", term, readSeq: 1000 },
      { type: "snapshot_resp", from: "n9", to: "n1", term, index: last, received: 10 },
      { type: "vote_resp", from: "n9", to: "n1", term, reject: false },
    ];
    for (const answer of answers) expectIgnored(leader, answer);
    expect(leader.log.committed).toBeLessThan(last);
    expect(cluster.node("n1").readStates).toEqual([]);
  });

  it("a candidate does not count votes from nodes that are not voters", () => {
    const cluster = Cluster.bootstrap(3, { raft: { preVote: false } });
    const candidate = cluster.raft("n1");
    while (candidate.role !== "candidate") candidate.tick();
    cluster.flush("n1");
    cluster.dropInFlight();
    for (const from of ["n7", "n8", "n9"]) {
      candidate.step({ type: "vote_resp", from, to: "n1", term: candidate.term, reject: false });
    }
    expect(candidate.role).toBe("candidate");
    // The same grant from a voter does win.
    candidate.step({ type: "vote_resp", from: "n2", to: "n1", term: candidate.term, reject: false });
    expect(candidate.role).toBe("leader");
  });

  it("a vote answer of the wrong kind or a stale pre-vote grant is not counted", () => {
    const cluster = Cluster.bootstrap(3);
    const candidate = cluster.raft("n1");
    while (candidate.role !== "pre_candidate") candidate.tick();
    cluster.flush("n1");
    cluster.dropInFlight();
    const term = candidate.term;
    candidate.step({ type: "vote_resp", from: "n2", to: "n1", term, reject: false });
    candidate.step({ type: "pre_vote_resp", from: "n3", to: "n1", term, reject: false });
    expect(candidate.role).toBe("pre_candidate");
    expect(candidate.term).toBe(term);
  });

  it("answers nobody asked for change nothing on a follower", () => {
    const cluster = quietCluster();
    const follower = cluster.raft("n2");
    const term = follower.term;
    const last = follower.log.lastIndex();
    const unsolicited: Message[] = [
      { type: "vote_resp", from: "n3", to: "n2", term, reject: false },
      { type: "pre_vote_resp", from: "n3", to: "n2", term, reject: false },
      {
        type: "append_resp",
        from: "n3",
        to: "n2",
        term,
        reject: false,
        index: last,
        hintIndex: 0,
        hintTerm: 0,
      },
      { type: "heartbeat_resp", from: "n1", to: "n2", term, readSeq: 4 },
      { type: "snapshot_resp", from: "n1", to: "n2", term, index: last, received: 1 },
    ];
    for (const message of unsolicited) expectIgnored(follower, message);
  });

  it("a follower ignores TimeoutNow from a node that is not its leader", () => {
    const cluster = quietCluster();
    const follower = cluster.raft("n2");
    for (const from of ["n9", "n3"]) {
      expectIgnored(follower, { type: "timeout_now", from, to: "n2", term: follower.term });
    }
    expect(cluster.leader()).toBe("n1");
  });

  it("a learner ignores TimeoutNow even from its leader", () => {
    const cluster = quietCluster();
    cluster.add("n4", { kind: "join" });
    cluster.raft("n1").proposeConfigChange({ type: "add_learner", node: "n4" });
    cluster.stabilize();
    const learner = cluster.raft("n4");
    expectIgnored(learner, { type: "timeout_now", from: "n1", to: "n4", term: learner.term });
  });

  it("a flood of stale and foreign messages leaves a working cluster working", () => {
    const cluster = quietCluster();
    const ids = ["n1", "n2", "n3"];
    for (const to of ids) {
      const raft = cluster.raft(to);
      for (const from of ["n9", ...ids.filter((id) => id !== to)]) {
        for (const message of everyKind(from, to, raft.term - 1, raft.log.lastIndex())) {
          if (message.term >= raft.term) continue; // only stale ones here
          cluster.deliver(message);
        }
      }
    }
    cluster.stabilize();
    expect(cluster.leader()).toBe("n1");
    const y = cluster.proposeAndCommit("y");
    expect(cluster.appliedEverywhere(y)).toBe(true);
  });
});
