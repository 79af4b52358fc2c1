// Proves the replicated state machine's rules for decisions: a quorum approves, an unreachable
// quorum rejects, bad votes are refused without changing anything, and the state is a pure
// function of the log (replay and snapshot/restore give the same state).

import { describe, expect, it } from "vitest";
import { ControlState, encodeEnvelope, type Command } from "../../src/control/index.js";
import type { Entry } from "../../src/raft/index.js";

class Log {
  readonly entries: Entry[] = [];
  add(command: Command, timestamp = 1000 + this.entries.length): Entry {
    const entry: Entry = {
      index: this.entries.length + 1,
      term: 1,
      type: "normal",
      data: encodeEnvelope({ command, timestamp }),
    };
    this.entries.push(entry);
    return entry;
  }
  noop(): Entry {
    const entry: Entry = { index: this.entries.length + 1, term: 1, type: "normal", data: new Uint8Array(0) };
    this.entries.push(entry);
    return entry;
  }
}

function propose(voters: string[], quorum: number): Command {
  return { kind: "propose", entryType: "deploy", data: { service: "api" }, approval: { voters, quorum } };
}
function vote(proposal: number, voter: string, v: "approve" | "reject"): Command {
  return { kind: "vote", proposal, voter, vote: v };
}

describe("decisions", () => {
  it("a plain proposal is applied without a decision", () => {
    const state = new ControlState();
    const log = new Log();
    expect(state.apply(log.add({ kind: "propose", entryType: "note", data: [1, 2] }))).toEqual({
      kind: "proposed",
      index: 1,
      decision: null,
    });
  });

  it("is approved once a quorum approves, recording when", () => {
    const state = new ControlState();
    const log = new Log();
    const proposed = state.apply(log.add(propose(["a", "b", "c"], 2)));
    expect(proposed.kind === "proposed" && proposed.decision?.status).toBe("pending");
    expect(state.apply(log.add(vote(1, "a", "approve")))).toMatchObject({
      kind: "voted",
      decision: { status: "pending" },
    });
    expect(state.apply(log.add(vote(1, "b", "approve")))).toMatchObject({
      kind: "voted",
      decision: { status: "approved", decidedAt: 1002 },
    });
    // A late vote is recorded but the outcome stands.
    expect(state.apply(log.add(vote(1, "c", "reject")))).toMatchObject({
      kind: "voted",
      decision: { status: "approved", decidedAt: 1002 },
    });
  });

  it("is rejected once the quorum can no longer be reached", () => {
    const state = new ControlState();
    const log = new Log();
    state.apply(log.add(propose(["a", "b", "c"], 2)));
    expect(state.apply(log.add(vote(1, "a", "reject")))).toMatchObject({ decision: { status: "pending" } });
    expect(state.apply(log.add(vote(1, "b", "reject")))).toMatchObject({ decision: { status: "rejected" } });
  });

  it("refuses duplicate votes, unknown voters, unknown proposals and invalid commands, changing nothing", () => {
    const state = new ControlState();
    const log = new Log();
    state.apply(log.add(propose(["a", "b"], 2)));
    state.apply(log.add({ kind: "propose", entryType: "plain", data: null }));
    state.apply(log.add(vote(1, "a", "approve")));
    const before = JSON.stringify(state.listDecisions());
    expect(state.apply(log.add(vote(1, "a", "reject")))).toMatchObject({
      kind: "refused",
      code: "duplicate_vote",
    });
    expect(state.apply(log.add(vote(1, "z", "approve")))).toMatchObject({
      kind: "refused",
      code: "unknown_voter",
    });
    expect(state.apply(log.add(vote(2, "a", "approve")))).toMatchObject({
      kind: "refused",
      code: "unknown_proposal",
    });
    expect(state.apply(log.add(vote(99, "a", "approve")))).toMatchObject({
      kind: "refused",
      code: "unknown_proposal",
    });
    expect(state.apply(log.add(propose(["a", "a"], 1)))).toMatchObject({
      kind: "refused",
      code: "invalid_command",
    });
    expect(state.apply(log.add({ kind: "propose", entryType: "raft.sneaky", data: 1 }))).toMatchObject({
      kind: "refused",
      code: "invalid_command",
    });
    expect(JSON.stringify(state.listDecisions())).toBe(before);
  });

  it("is a pure function of the log: replay and snapshot/restore agree", () => {
    const log = new Log();
    log.add(propose(["a", "b", "c"], 2));
    log.noop();
    log.add(vote(1, "a", "approve"));
    log.add(propose(["x"], 1));
    log.add(vote(4, "x", "reject"));
    log.add(vote(1, "c", "approve"));
    const first = new ControlState();
    const second = new ControlState();
    for (const entry of log.entries) first.apply(entry);
    for (const entry of log.entries.slice(0, 3)) second.apply(entry);
    const restored = ControlState.restore(second.snapshot());
    for (const entry of log.entries.slice(3)) restored.apply(entry);
    expect(restored.snapshot()).toEqual(first.snapshot());
    expect(first.decision(1)?.status).toBe("approved");
    expect(first.decision(4)?.status).toBe("rejected");
  });

  it("applies entries strictly in order", () => {
    const state = new ControlState();
    const log = new Log();
    log.noop();
    expect(() => state.apply(log.noop())).toThrow(/applying 2 after 0/);
  });
});
