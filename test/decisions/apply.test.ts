// Proves the decisions module's apply rules: a plain proposal opens nothing, a quorum approves,
// an unreachable quorum rejects, bad votes are refused without changing anything (voters named
// like prototype properties included), and each change projects the decisions table's row.

import { describe, expect, it } from "vitest";
import { ControlState, ModuleRegistry, type AppliedEntry } from "../../src/control/index.js";
import { decisionsState, proposeCommand, voteCommand } from "../../src/decisions/index.js";
import { LogBuilder } from "../support/log-builder.js";

const registry = new ModuleRegistry([decisionsState]);

function setup(): { state: ControlState; log: LogBuilder } {
  return { state: new ControlState(registry), log: new LogBuilder() };
}

const decision = (voters: string[], quorum: number) => ({
  entry_type: "deploy",
  data: { service: "api" },
  approval: { voters, quorum },
});
const vote = (proposal: number, voter: string, value: "approve" | "reject") => ({
  proposal,
  voter,
  vote: value,
});

function value(applied: AppliedEntry): unknown {
  expect(applied.outcome.kind).toBe("ok");
  return applied.outcome.kind === "ok" ? applied.outcome.value : undefined;
}

describe("decisions: apply", () => {
  it("a plain proposal is applied without a decision and writes no row", () => {
    const { state, log } = setup();
    const applied = state.apply(log.add(proposeCommand, { entry_type: "note", data: [1, 2] }));
    expect(value(applied)).toEqual({ index: 1, decision: null });
    expect(applied.changes).toEqual([]);
  });

  it("is approved once a quorum approves, recording when, and projects each change", () => {
    const { state, log } = setup();
    const proposed = state.apply(log.add(proposeCommand, decision(["a", "b", "c"], 2)));
    expect(value(proposed)).toMatchObject({ decision: { status: "pending", createdAt: 1000 } });
    expect(proposed.changes).toMatchObject([
      { table: "decisions", op: "upsert", row: { proposal_index: 1, status: "pending" } },
    ]);
    expect(value(state.apply(log.add(voteCommand, vote(1, "a", "approve"))))).toMatchObject({
      decision: { status: "pending" },
    });
    const approved = state.apply(log.add(voteCommand, vote(1, "b", "approve")));
    expect(value(approved)).toMatchObject({ decision: { status: "approved", decidedAt: 1002 } });
    expect(approved.changes[0]).toMatchObject({
      row: { status: "approved", votes: '{"a":"approve","b":"approve"}' },
    });
    // A late vote is recorded but the outcome stands.
    expect(value(state.apply(log.add(voteCommand, vote(1, "c", "reject"))))).toMatchObject({
      decision: { status: "approved", decidedAt: 1002 },
    });
  });

  it("is rejected once the quorum can no longer be reached", () => {
    const { state, log } = setup();
    state.apply(log.add(proposeCommand, decision(["a", "b", "c"], 2)));
    expect(value(state.apply(log.add(voteCommand, vote(1, "a", "reject"))))).toMatchObject({
      decision: { status: "pending" },
    });
    expect(value(state.apply(log.add(voteCommand, vote(1, "b", "reject"))))).toMatchObject({
      decision: { status: "rejected" },
    });
  });

  it("voters named like prototype properties vote like anyone else", () => {
    const { state, log } = setup();
    const voters = ["constructor", "toString", "__proto__", "hasOwnProperty"];
    state.apply(log.add(proposeCommand, decision(voters, 4)));
    for (const voter of voters) {
      const applied = state.apply(log.add(voteCommand, vote(1, voter, "approve")));
      expect(applied.outcome.kind, voter).toBe("ok");
    }
    const final = state.of(decisionsState).decisions.get(1)!;
    expect(final.status).toBe("approved");
    expect(final.votes.map(([voter]) => voter)).toEqual(voters);
    expect(state.apply(log.add(voteCommand, vote(1, "__proto__", "reject"))).outcome).toMatchObject({
      code: "duplicate_vote",
    });
  });

  it("refuses duplicate votes, unknown voters, unknown proposals and invalid commands, changing nothing", () => {
    const { state, log } = setup();
    state.apply(log.add(proposeCommand, decision(["a", "b"], 2)));
    state.apply(log.add(proposeCommand, { entry_type: "plain", data: null }));
    state.apply(log.add(voteCommand, vote(1, "a", "approve")));
    const before = JSON.stringify([...state.of(decisionsState).decisions.values()]);
    const refused = (body: ReturnType<typeof vote>) => state.apply(log.add(voteCommand, body)).outcome;
    expect(refused(vote(1, "a", "reject"))).toMatchObject({ kind: "refused", code: "duplicate_vote" });
    expect(refused(vote(1, "z", "approve"))).toMatchObject({ kind: "refused", code: "unknown_voter" });
    expect(refused(vote(2, "a", "approve"))).toMatchObject({ kind: "refused", code: "unknown_proposal" });
    expect(refused(vote(99, "a", "approve"))).toMatchObject({ kind: "refused", code: "unknown_proposal" });
    expect(state.apply(log.add(proposeCommand, decision(["a", "a"], 1))).outcome).toMatchObject({
      code: "invalid_command",
    });
    expect(state.apply(log.add(proposeCommand, decision(["a"], 2))).outcome).toMatchObject({
      code: "invalid_command",
    });
    expect(
      state.apply(log.add(proposeCommand, { entry_type: "raft.sneaky", data: 1 })).outcome,
    ).toMatchObject({
      code: "invalid_command",
    });
    expect(
      state.apply(log.raw("decisions.vote", { proposal: "1", voter: "a", vote: "approve" })).outcome,
    ).toMatchObject({
      code: "invalid_command",
    });
    expect(JSON.stringify([...state.of(decisionsState).decisions.values()])).toBe(before);
  });
});
