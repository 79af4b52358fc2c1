// Proves the rules of Raft section 5.1: a higher term turns any node into a follower of that term, messages of an older term change nothing, and a node's term never goes back.

import { describe, expect, it } from "vitest";
import { SeededRandom, type Message } from "../../src/raft/index.js";
import { Cluster, observableState } from "./harness.js";

describe("5.1 terms", () => {
  it("a leader that sees a higher term becomes a follower in that term and forgets its vote", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    const leader = cluster.raft("n1");
    const term = leader.term;
    expect(leader.vote).toBe("n1");

    leader.step({ type: "heartbeat_resp", from: "n2", to: "n1", term: term + 3, readSeq: 0 });

    expect(leader.role).toBe("follower");
    expect(leader.term).toBe(term + 3);
    expect(leader.vote).toBeNull();
    expect(leader.leaderId).toBeNull();
    cluster.flush("n1");
    expect(cluster.node("n1").disk.hardState).toMatchObject({ term: term + 3, vote: null });
  });

  it("a follower that receives an append of a higher term adopts the term and the sender as leader", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    const follower = cluster.raft("n3");
    const term = follower.term;
    const last = follower.log.lastIndex();

    follower.step({
      type: "append",
      from: "n2",
      to: "n3",
      term: term + 1,
      prevIndex: last,
      prevTerm: follower.log.lastTerm(),
      entries: [],
      commit: 0,
    });

    expect(follower.term).toBe(term + 1);
    expect(follower.leaderId).toBe("n2");
    expect(follower.role).toBe("follower");
  });

  it("a candidate that sees a higher term gives up its candidacy", () => {
    const cluster = Cluster.bootstrap(3, { raft: { preVote: false } });
    const candidate = cluster.raft("n1");
    while (candidate.role !== "candidate") candidate.tick();
    const term = candidate.term;

    candidate.step({ type: "vote_resp", from: "n2", to: "n1", term: term + 1, reject: true });

    expect(candidate.role).toBe("follower");
    expect(candidate.term).toBe(term + 1);
    expect(candidate.vote).toBeNull();
  });

  it("messages of an older term change nothing; at most the sender is told the current term", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    cluster.proposeAndCommit("a");
    const follower = cluster.raft("n3");
    const stale = follower.term - 1;
    const last = follower.log.lastIndex();
    const staleMessages: Message[] = [
      {
        type: "append",
        from: "n2",
        to: "n3",
        term: stale,
        prevIndex: 1,
        prevTerm: 1,
        commit: 1,
        entries: [{ index: 2, term: stale, type: "normal", data: new Uint8Array([1]) }],
      },
      { type: "heartbeat", from: "n2", to: "n3", term: stale, commit: last, readSeq: 1 },
      {
        type: "vote",
        from: "n2",
        to: "n3",
        term: stale,
        lastLogIndex: 99,
        lastLogTerm: stale,
        transfer: true,
      },
      {
        type: "pre_vote",
        from: "n2",
        to: "n3",
        term: stale,
        lastLogIndex: 99,
        lastLogTerm: stale,
        transfer: false,
      },
      { type: "timeout_now", from: "n1", to: "n3", term: stale },
      { type: "read_index", from: "n2", to: "n3", term: stale, context: 7 },
      {
        type: "snapshot",
        from: "n2",
        to: "n3",
        term: stale,
        index: 50,
        snapshotTerm: stale,
        totalBytes: 1,
        offset: 0,
        chunk: new Uint8Array([1]),
        membership: { voters: ["n2"], learners: [] },
      },
    ];
    for (const message of staleMessages) {
      const before = observableState(follower);
      follower.step(message);
      expect(observableState(follower), message.type).toBe(before);
      const answers = follower.hasReady() ? follower.ready().messages : [];
      if (answers.length > 0) follower.advance();
      for (const answer of answers) {
        expect(answer.to).toBe(message.from);
        expect(answer.term).toBe(follower.term);
        expect(answer).toMatchObject({ reject: true });
      }
    }
  });

  it("a leader ignores answers of an older term", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.elect("n1");
    cluster.isolate("n2");
    cluster.isolate("n3");
    cluster.propose("n1", "uncommitted");
    cluster.stabilize();
    const leader = cluster.raft("n1");
    const stale = leader.term - 1;
    const before = observableState(leader);

    leader.step({
      type: "append_resp",
      from: "n2",
      to: "n1",
      term: stale,
      reject: false,
      index: 3,
      hintIndex: 0,
      hintTerm: 0,
    });
    leader.step({
      type: "append_resp",
      from: "n3",
      to: "n1",
      term: stale,
      reject: false,
      index: 3,
      hintIndex: 0,
      hintTerm: 0,
    });
    leader.step({ type: "vote_resp", from: "n2", to: "n1", term: stale, reject: true });

    expect(observableState(leader)).toBe(before);
    expect(leader.log.committed).toBeLessThan(3);
  });

  it("no node's term ever goes back, through partitions, crashes and restarts", () => {
    for (let seed = 1; seed <= 10; seed++) {
      const random = new SeededRandom(seed);
      const cluster = Cluster.bootstrap(5, { seed });
      const highest = new Map<string, number>();
      let healAt = 0;
      for (let step = 0; step < 300; step++) {
        const roll = random.int(100);
        const victim = random.pick([...cluster.nodes.keys()]);
        if (roll < 3) cluster.isolate(victim);
        else if (roll < 5 && cluster.node(victim).up) cluster.crash(victim);
        else if (roll < 10 && !cluster.node(victim).up) cluster.restart(victim);
        else if (roll < 40) {
          const leader = cluster.leader();
          if (leader !== null) cluster.raft(leader).propose(new Uint8Array([step & 0xff]));
        }
        if (step >= healAt) {
          cluster.heal();
          healAt = step + 30 + random.int(30);
        }
        cluster.tick();
        for (const node of cluster.nodes.values()) {
          const term = node.raft.term;
          expect(term, `${node.id} at step ${step} (seed ${seed})`).toBeGreaterThanOrEqual(
            highest.get(node.id) ?? 0,
          );
          highest.set(node.id, term);
        }
      }
      // Once the faults stop, the cluster still makes progress and every node agrees.
      cluster.heal();
      for (const node of cluster.nodes.values()) if (!node.up) cluster.restart(node.id);
      cluster.waitForLeader();
      const last = cluster.proposeAndCommit("final");
      cluster.tickUntil(() => cluster.appliedEverywhere(last), 50);
      const states = [...cluster.nodes.values()].map((node) => node.state.join(","));
      expect(new Set(states).size).toBe(1);
    }
  });
});
