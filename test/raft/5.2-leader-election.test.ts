// Proves the rules of Raft section 5.2: election timeouts come from the injected random source, a node votes at most once per term (and remembers it across restarts), a candidate wins with a majority or steps down, and randomized timeouts resolve split votes.

import { describe, expect, it } from "vitest";
import { RaftNode, SeededRandom, type Message, type Random } from "../../src/raft/index.js";
import { Cluster, constantRandom, nodeIds } from "./harness.js";

/** Ticks a lone founding member of a 3-node cluster until it starts an election; returns the ticks. */
function ticksUntilCampaign(random: Random, electionTicks: number): number {
  const node = new RaftNode({ id: "n1", random, electionTicks }, { kind: "bootstrap", voters: nodeIds(3) });
  for (let ticks = 1; ticks <= 10 * electionTicks; ticks++) {
    node.tick();
    if (node.role !== "follower") return ticks;
  }
  throw new Error("never campaigned");
}

/** A vote request from `from` to `to`. */
function voteRequest(
  from: string,
  to: string,
  term: number,
  lastLogIndex: number,
  lastLogTerm: number,
): Message {
  return { type: "vote", from, to, term, lastLogIndex, lastLogTerm, transfer: false };
}

describe("5.2 leader election", () => {
  it("the election timeout is electionTicks plus a draw from the injected generator", () => {
    const bounds: number[] = [];
    const recording: Random = {
      int: (bound) => {
        bounds.push(bound);
        return 3;
      },
    };
    expect(ticksUntilCampaign(recording, 10)).toBe(13);
    expect(bounds.length).toBeGreaterThan(0);
    expect(bounds.every((bound) => bound === 10)).toBe(true);
    expect(ticksUntilCampaign(constantRandom(0), 10)).toBe(10);
    expect(ticksUntilCampaign(constantRandom(9), 10)).toBe(19);
  });

  it("seeded timeouts spread over [electionTicks, 2 * electionTicks) and repeat for the same seed", () => {
    const timeouts = new Set<number>();
    for (let seed = 1; seed <= 60; seed++) {
      const ticks = ticksUntilCampaign(new SeededRandom(seed), 10);
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
      expect(ticksUntilCampaign(new SeededRandom(seed), 10)).toBe(ticks);
      timeouts.add(ticks);
    }
    expect(timeouts.size).toBeGreaterThanOrEqual(8);
  });

  it("a node grants at most one vote per term, first come first served", () => {
    const cluster = Cluster.bootstrap(3);
    const voter = cluster.raft("n3");

    voter.step(voteRequest("n1", "n3", 2, 1, 1));
    const first = voter.ready();
    voter.advance();
    // The vote is in the hard state of the very Ready that carries the grant, so the caller
    // makes it durable before the grant leaves.
    expect(first.hardState).toMatchObject({ term: 2, vote: "n1" });
    expect(first.messages).toEqual([
      expect.objectContaining({ type: "vote_resp", to: "n1", term: 2, reject: false }),
    ]);

    voter.step(voteRequest("n2", "n3", 2, 1, 1));
    expect(voter.ready().messages).toEqual([
      expect.objectContaining({ type: "vote_resp", to: "n2", reject: true }),
    ]);
    voter.advance();

    // A repeated request from the same candidate (say, its first answer was lost) is granted again.
    voter.step(voteRequest("n1", "n3", 2, 1, 1));
    expect(voter.ready().messages).toEqual([expect.objectContaining({ to: "n1", reject: false })]);
    voter.advance();
    expect(voter.vote).toBe("n1");
  });

  it("the persisted vote survives a restart", () => {
    const cluster = Cluster.bootstrap(3);
    cluster.raft("n3").step(voteRequest("n1", "n3", 2, 1, 1));
    cluster.flush("n3");
    cluster.dropInFlight();

    cluster.crash("n3");
    const restarted = cluster.restart("n3").raft;
    expect(restarted.term).toBe(2);
    expect(restarted.vote).toBe("n1");

    restarted.step(voteRequest("n2", "n3", 2, 1, 1));
    const answer = restarted.ready();
    restarted.advance();
    expect(answer.messages).toEqual([expect.objectContaining({ type: "vote_resp", to: "n2", reject: true })]);
    expect(restarted.vote).toBe("n1");
  });

  it("a candidate wins with votes from a majority and then asserts its leadership", () => {
    const cluster = Cluster.bootstrap(5, { raft: { preVote: false } });
    // n4 and n5 never answer: three of five is still a majority.
    cluster.dropIf((m) => m.type === "vote_resp" && (m.from === "n4" || m.from === "n5"));
    cluster.elect("n1");
    const leader = cluster.raft("n1");
    expect(leader.role).toBe("leader");
    expect(leader.term).toBe(2);
    expect(cluster.sentMatching({ from: "n1", type: "vote" })).toHaveLength(4);
    // Leadership is announced at once with appends to every follower.
    for (const id of ["n2", "n3", "n4", "n5"]) {
      expect(cluster.sentMatching({ from: "n1", to: id, type: "append" }).length).toBeGreaterThan(0);
      expect(cluster.raft(id).term).toBe(2);
    }
    expect(cluster.raft("n2").leaderId).toBe("n1");
  });

  it("a candidate without a majority does not become leader", () => {
    const cluster = Cluster.bootstrap(5, { raft: { preVote: false } });
    cluster.dropIf((m) => m.type === "vote_resp" && m.from !== "n2");
    for (let i = 0; i < 100; i++) cluster.tick("n1");
    expect(cluster.raft("n1").role).toBe("candidate");
    // It keeps starting new elections, each in a new term.
    expect(cluster.raft("n1").term).toBeGreaterThan(3);
    expect(cluster.leader()).toBeNull();
  });

  it("a candidate steps down when a leader of its own term appears", () => {
    const cluster = Cluster.bootstrap(3, { raft: { preVote: false } });
    const candidate = cluster.raft("n1");
    while (candidate.role !== "candidate") candidate.tick();
    const term = candidate.term;
    cluster.flush("n1");
    cluster.dropInFlight();

    candidate.step({
      type: "append",
      from: "n2",
      to: "n1",
      term,
      prevIndex: 1,
      prevTerm: 1,
      entries: [],
      commit: 1,
    });

    expect(candidate.role).toBe("follower");
    expect(candidate.term).toBe(term);
    expect(candidate.leaderId).toBe("n2");
  });

  it("a split vote is resolved by randomized timeouts in a later term", () => {
    const cluster = Cluster.bootstrap(4, { raft: { preVote: false }, seed: 7 });
    // n1 and n2 time out in the same term before hearing from each other.
    for (const id of ["n1", "n2"]) {
      const raft = cluster.raft(id);
      while (raft.role !== "candidate") raft.tick();
      cluster.flush(id);
    }
    expect(cluster.raft("n1").term).toBe(cluster.raft("n2").term);
    const splitTerm = cluster.raft("n1").term;
    // n3 hears n1 first and n4 hears n2 first: two votes each, no majority of four.
    const requests = cluster.dropInFlight();
    const order = (m: Message): number =>
      (m.from === "n1" && m.to === "n3") || (m.from === "n2" && m.to === "n4") ? 0 : 1;
    for (const message of [...requests].sort((a, b) => order(a) - order(b))) cluster.deliver(message);
    cluster.stabilize();
    expect(cluster.leader()).toBeNull();
    expect(cluster.raft("n3").vote).toBe("n1");
    expect(cluster.raft("n4").vote).toBe("n2");

    const leader = cluster.waitForLeader(100);
    expect(cluster.raft(leader).term).toBeGreaterThan(splitTerm);
    const leaders = cluster.upNodes().filter((node) => node.raft.role === "leader");
    expect(leaders).toHaveLength(1);
  });

  it("with identical timeouts split votes can repeat forever: the randomness is what resolves them", () => {
    const cluster = Cluster.bootstrap(3, { raft: { preVote: false }, random: () => constantRandom(0) });
    for (let i = 0; i < 200; i++) cluster.tick();
    expect(cluster.leader()).toBeNull();
    expect(cluster.raft("n1").term).toBeGreaterThan(10);
  });
});
