/**
 * The replicated state machine: apply(entry) -> result, pure and deterministic (time comes inside
 * the entry). For now it holds decisions: proposals that need votes before they count.
 */

import { assert } from "../raft/assert.js";
import type { Entry } from "../raft/types.js";
import { decodeChange } from "../raft/membership.js";
import type { ConfigChange } from "../raft/types.js";
import { decodeEnvelope, type Command, type JsonValue, type MemberAddresses } from "./command.js";
import { commandProblem } from "./validate.js";

/** Where a decision stands. */
export type DecisionStatus = "pending" | "approved" | "rejected";

/** A proposal that needs a quorum of votes, and the votes so far. */
export interface Decision {
  readonly index: number;
  readonly entryType: string;
  readonly data: JsonValue;
  readonly voters: readonly string[];
  readonly quorum: number;
  /** Votes by voter, in the order they were applied. */
  readonly votes: Readonly<Record<string, "approve" | "reject">>;
  readonly status: DecisionStatus;
  readonly createdAt: number;
  readonly decidedAt: number | null;
}

/** Why a command was applied without effect. Stable codes, handed to clients. */
export type RefusalCode =
  "invalid_command" | "unknown_proposal" | "not_a_decision" | "unknown_voter" | "duplicate_vote";

/** What applying one entry did. */
export type ApplyResult =
  | { readonly kind: "none" }
  | { readonly kind: "proposed"; readonly index: number; readonly decision: Decision | null }
  | { readonly kind: "voted"; readonly decision: Decision }
  | { readonly kind: "refused"; readonly code: RefusalCode; readonly message: string };

/** Rows the store must write for one applied entry (the materialised state). */
export interface StateChanges {
  readonly decisions: readonly Decision[];
}

const NONE: ApplyResult = { kind: "none" };

/**
 * juno's replicated state.
 *
 * Invariant: appliedIndex only grows, one entry at a time.
 */
export class ControlState {
  appliedIndex = 0;
  private readonly decisions = new Map<number, Decision>();
  /** Where members are reached, from add_learner contexts and members' own announcements. */
  private readonly members = new Map<string, MemberAddresses>();

  /** Applies the next committed entry and says what it did. */
  apply(entry: Entry): ApplyResult {
    assert(entry.index === this.appliedIndex + 1, () => `applying ${entry.index} after ${this.appliedIndex}`);
    this.appliedIndex = entry.index;
    if (entry.type === "config") {
      this.applyMembershipChange(decodeChange(entry.data));
      return NONE;
    }
    if (entry.data.length === 0) return NONE;
    const envelope = decodeEnvelope(entry.data);
    return this.applyCommand(entry.index, envelope.command, envelope.timestamp);
  }

  /** The decision proposed at `index`, if any. */
  decision(index: number): Decision | undefined {
    return this.decisions.get(index);
  }

  /** Where member `id` is reached, as far as the log says. */
  memberAddresses(id: string): MemberAddresses | undefined {
    return this.members.get(id);
  }

  /** Every member address the log recorded. */
  allMemberAddresses(): ReadonlyMap<string, MemberAddresses> {
    return this.members;
  }

  /** All decisions, oldest first. */
  listDecisions(): Decision[] {
    return [...this.decisions.values()];
  }

  /** The rows an apply result asks the store to write. */
  static changesOf(result: ApplyResult): StateChanges {
    switch (result.kind) {
      case "proposed":
        return { decisions: result.decision === null ? [] : [result.decision] };
      case "voted":
        return { decisions: [result.decision] };
      case "none":
      case "refused":
        return { decisions: [] };
    }
  }

  /** The whole state, for a Raft snapshot. */
  snapshot(): Uint8Array {
    const text = JSON.stringify({
      appliedIndex: this.appliedIndex,
      decisions: [...this.decisions.values()],
      members: [...this.members],
    });
    return new TextEncoder().encode(text);
  }

  /** Rebuilds the state a snapshot was taken of. */
  static restore(data: Uint8Array): ControlState {
    const parsed = JSON.parse(new TextDecoder().decode(data)) as {
      appliedIndex: number;
      decisions: Decision[];
      members?: [string, MemberAddresses][];
    };
    const state = new ControlState();
    state.appliedIndex = parsed.appliedIndex;
    for (const decision of parsed.decisions) state.decisions.set(decision.index, decision);
    for (const [id, addresses] of parsed.members ?? []) state.members.set(id, addresses);
    return state;
  }

  private applyCommand(index: number, command: Command, timestamp: number): ApplyResult {
    const problem = commandProblem(command);
    if (problem !== null) return { kind: "refused", code: "invalid_command", message: problem };
    switch (command.kind) {
      case "propose": {
        if (command.approval === undefined) return { kind: "proposed", index, decision: null };
        const decision: Decision = {
          index,
          entryType: command.entryType,
          data: command.data,
          voters: [...command.approval.voters],
          quorum: command.approval.quorum,
          votes: {},
          status: "pending",
          createdAt: timestamp,
          decidedAt: null,
        };
        this.decisions.set(index, decision);
        return { kind: "proposed", index, decision };
      }
      case "vote":
        return this.applyVote(command.proposal, command.voter, command.vote, timestamp);
      case "member":
        this.members.set(command.id, { raft: command.raftAddress, http: command.httpAddress });
        return NONE;
    }
  }

  /** Records a new member's addresses (from its add_learner context) and forgets removed ones. */
  private applyMembershipChange(change: ConfigChange): void {
    if (change.type === "remove") this.members.delete(change.node);
    if (change.type !== "add_learner" || change.context === undefined) return;
    try {
      const addresses = JSON.parse(change.context) as Partial<MemberAddresses>;
      this.members.set(change.node, { raft: addresses.raft ?? null, http: addresses.http ?? null });
    } catch {
      // A context that is not ours (or malformed) carries no addresses; the membership itself stands.
    }
  }

  private applyVote(
    proposal: number,
    voter: string,
    vote: "approve" | "reject",
    timestamp: number,
  ): ApplyResult {
    const decision = this.decisions.get(proposal);
    if (decision === undefined) {
      return {
        kind: "refused",
        code: "unknown_proposal",
        message: `no decision was proposed at index ${proposal}`,
      };
    }
    if (!decision.voters.includes(voter)) {
      return {
        kind: "refused",
        code: "unknown_voter",
        message: `${voter} is not a voter on decision ${proposal}`,
      };
    }
    if (decision.votes[voter] !== undefined) {
      return {
        kind: "refused",
        code: "duplicate_vote",
        message: `${voter} already voted on decision ${proposal}`,
      };
    }
    const votes = { ...decision.votes, [voter]: vote };
    const status = decide(decision, votes);
    const updated: Decision = {
      ...decision,
      votes,
      status,
      decidedAt: decision.status === "pending" && status !== "pending" ? timestamp : decision.decidedAt,
    };
    this.decisions.set(proposal, updated);
    return { kind: "voted", decision: updated };
  }
}

/**
 * A decision is approved once `quorum` voters approve, and rejected once so many reject that the
 * quorum can no longer be reached. Votes after that are recorded but change nothing.
 */
function decide(decision: Decision, votes: Readonly<Record<string, "approve" | "reject">>): DecisionStatus {
  if (decision.status !== "pending") return decision.status;
  let approvals = 0;
  let rejections = 0;
  for (const vote of Object.values(votes)) {
    if (vote === "approve") approvals++;
    else rejections++;
  }
  if (approvals >= decision.quorum) return "approved";
  if (rejections > decision.voters.length - decision.quorum) return "rejected";
  return "pending";
}
