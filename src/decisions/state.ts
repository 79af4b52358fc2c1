/**
 * Decisions: proposals that need a quorum of votes before they count (the seed's approvals). The
 * state is one table of decisions by the index they were proposed at; votes are kept as pairs in
 * the order they were applied, so a voter id is data and never an object key.
 */

import Type, { type Static } from "typebox";
import {
  Table,
  checkedRestorer,
  type Cursor,
  type SectionRow,
  type JsonValue,
  type Notice,
  type StateSection,
} from "../control/index.js";

/** Where a decision stands. */
export type DecisionStatus = "pending" | "approved" | "rejected";

/** One vote. */
export type VoteValue = "approve" | "reject";

/** A decision as a snapshot row, checked on restore. */
export const DecisionRow = Type.Object(
  {
    index: Type.Integer({ minimum: 1 }),
    entryType: Type.String({ minLength: 1, maxLength: 50 }),
    data: Type.Unknown(),
    voters: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: 100 }),
    quorum: Type.Integer({ minimum: 1 }),
    votes: Type.Array(
      Type.Tuple([
        Type.String({ minLength: 1 }),
        Type.Union([Type.Literal("approve"), Type.Literal("reject")]),
      ]),
    ),
    status: Type.Union([Type.Literal("pending"), Type.Literal("approved"), Type.Literal("rejected")]),
    createdAt: Type.Integer(),
    decidedAt: Type.Union([Type.Integer(), Type.Null()]),
  },
  { additionalProperties: false },
);

/** A proposal that needs a quorum of votes, and the votes so far. */
export interface Decision {
  readonly index: number;
  readonly entryType: string;
  readonly data: JsonValue;
  readonly voters: readonly string[];
  readonly quorum: number;
  /** Votes in the order they were applied. */
  readonly votes: readonly (readonly [string, VoteValue])[];
  readonly status: DecisionStatus;
  readonly createdAt: number;
  readonly decidedAt: number | null;
}

/** The decisions module's state. */
export class DecisionsState {
  readonly decisions = new Table<number, Decision>();
  /** Decisions decided since the kernel last asked: "decisions.decided" notices. Never stored. */
  decided: Notice[] = [];
}

/** The topic of a decision that reached approved or rejected. */
export const DECISION_DECIDED = "decisions.decided";

/** What the "decisions.decided" notice says. */
export interface DecisionDecided {
  readonly index: number;
  readonly status: "approved" | "rejected";
  readonly votes: readonly (readonly [string, VoteValue])[];
}

/** The vote `voter` cast on `decision`, if any. */
export function voteOf(decision: Decision, voter: string): VoteValue | undefined {
  for (const [who, vote] of decision.votes) if (who === voter) return vote;
  return undefined;
}

/**
 * Where a decision stands once `votes` are in: approved once `quorum` voters approve, rejected
 * once so many reject that the quorum can no longer be reached. Votes after that change nothing.
 */
export function decide(decision: Decision, votes: Decision["votes"]): DecisionStatus {
  if (decision.status !== "pending") return decision.status;
  let approvals = 0;
  let rejections = 0;
  for (const [, vote] of votes) {
    if (vote === "approve") approvals++;
    else rejections++;
  }
  if (approvals >= decision.quorum) return "approved";
  if (rejections > decision.voters.length - decision.quorum) return "rejected";
  return "pending";
}

/** Snapshot section "decisions", version 1: one row per decision. */
export const decisionsSection: StateSection<DecisionsState> = {
  version: 1,
  empty: () => new DecisionsState(),
  // A decision is stored as the very JSON text of its row.
  rows: (state): Cursor<SectionRow> => state.decisions.rowCursor(),
  restore: checkedRestorer("decisions", DecisionRow, () => {
    const state = new DecisionsState();
    return {
      add: (row: Static<typeof DecisionRow>, text: string) => state.decisions.setText(row.index, text),
      finish: () => state,
    };
  }),
};
