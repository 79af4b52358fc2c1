/**
 * The decisions module's commands: propose (an entry, or a decision that needs votes) and vote.
 * Bodies are the API's own shapes, so a route hands its validated body straight to the log.
 */

import Type from "typebox";
import {
  RESERVED_ENTRY_TYPE_PREFIXES,
  accept,
  isJsonValue,
  refuse,
  type Applied,
  type CommandSpec,
  type JsonValue,
  type LogView,
  type Row,
  type RowChange,
} from "../control/index.js";
import {
  DECISION_DECIDED,
  decide,
  voteOf,
  type Decision,
  type DecisionDecided,
  type DecisionsState,
} from "./state.js";

/** The seed's consensus_log.entry_type is VARCHAR(50). */
export const MAX_ENTRY_TYPE_LENGTH = 50;
/** Voters on one decision. */
export const MAX_APPROVAL_VOTERS = 100;
/** Longest voter id. */
export const MAX_VOTER_LENGTH = 100;
/** The entry_type recorded for a vote. */
export const VOTE_ENTRY_TYPE = "consensus.vote";

const Voter = Type.String({ minLength: 1, maxLength: MAX_VOTER_LENGTH });

/** An approval rule: who votes, and how many approvals it takes. */
export const Approval = Type.Object(
  {
    voters: Type.Array(Voter, { minItems: 1, maxItems: MAX_APPROVAL_VOTERS, uniqueItems: true }),
    quorum: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);

/** POST /consensus/propose and the decisions.propose command. */
export const ProposeBody = Type.Object(
  {
    entry_type: Type.String({ minLength: 1, maxLength: MAX_ENTRY_TYPE_LENGTH }),
    data: Type.Unknown({ description: "any JSON value" }),
    approval: Type.Optional(Approval),
  },
  { additionalProperties: false },
);

/** POST /consensus/vote and the decisions.vote command. */
export const VoteBody = Type.Object(
  {
    proposal: Type.Integer({ minimum: 1, description: "the log index the decision was proposed at" }),
    voter: Voter,
    vote: Type.Union([Type.Literal("approve"), Type.Literal("reject")]),
  },
  { additionalProperties: false },
);

/** What a proposal did: where it landed and, with an approval rule, the decision it opened. */
export interface Proposed {
  readonly index: number;
  readonly decision: Decision | null;
}

/** What a vote did: the decision as it now stands. */
export interface Voted {
  readonly decision: Decision;
}

/** decisions.propose */
export const proposeCommand: CommandSpec<DecisionsState, typeof ProposeBody, Proposed> = {
  kind: "decisions.propose",
  schema: ProposeBody,
  check(body) {
    if (RESERVED_ENTRY_TYPE_PREFIXES.some((prefix) => body.entry_type.startsWith(prefix)))
      return `entry_type must not start with ${RESERVED_ENTRY_TYPE_PREFIXES.join(", ")} (reserved)`;
    if (!isJsonValue(body.data)) return "data must be a JSON value nested at most 64 deep";
    if (body.approval !== undefined && body.approval.quorum > body.approval.voters.length)
      return "approval.quorum must be an integer between 1 and the number of voters";
    return null;
  },
  apply(state, body, context): Applied<Proposed> {
    if (body.approval === undefined) return accept({ index: context.index, decision: null });
    const decision: Decision = {
      index: context.index,
      entryType: body.entry_type,
      data: body.data as JsonValue,
      voters: [...body.approval.voters],
      quorum: body.approval.quorum,
      votes: [],
      status: "pending",
      createdAt: context.timestamp,
      decidedAt: null,
    };
    state.decisions.set(context.index, decision);
    return accept({ index: context.index, decision }, [decisionChange(decision)]);
  },
  entryType: (body) => body.entry_type,
  logView: (body): LogView =>
    body.approval === undefined
      ? { data: body.data as JsonValue }
      : {
          data: body.data as JsonValue,
          approval: { voters: [...body.approval.voters], quorum: body.approval.quorum },
        },
  legacy: {
    kind: "propose",
    body: (command) => ({
      entry_type: command["entryType"],
      data: command["data"],
      ...(command["approval"] === undefined ? {} : { approval: command["approval"] }),
    }),
  },
};

/** decisions.open: a decision another module opens in its own entry (a workflow's approval step). */
export const OpenBody = Type.Object(
  {
    entry_type: Type.String({ minLength: 1, maxLength: MAX_ENTRY_TYPE_LENGTH }),
    data: Type.Unknown({ description: "any JSON value" }),
    approval: Approval,
  },
  { additionalProperties: false },
);

/**
 * decisions.open: like a proposal with an approval rule, but only ever invoked by another
 * module's command (no route proposes it), so its entry type may be one of juno's reserved ones.
 * One decision per entry: the decision's id is the entry's index.
 */
export const openCommand: CommandSpec<DecisionsState, typeof OpenBody, Decision> = {
  kind: "decisions.open",
  schema: OpenBody,
  check(body) {
    if (!isJsonValue(body.data)) return "data must be a JSON value nested at most 64 deep";
    if (body.approval.quorum > body.approval.voters.length)
      return "approval.quorum must be an integer between 1 and the number of voters";
    return null;
  },
  apply(state, body, context): Applied<Decision> {
    if (state.decisions.get(context.index) !== undefined)
      return refuse("decision_exists", `entry ${context.index} already opened a decision`);
    const decision: Decision = {
      index: context.index,
      entryType: body.entry_type,
      data: body.data as JsonValue,
      voters: [...body.approval.voters],
      quorum: body.approval.quorum,
      votes: [],
      status: "pending",
      createdAt: context.timestamp,
      decidedAt: null,
    };
    state.decisions.set(context.index, decision);
    return accept(decision, [decisionChange(decision)]);
  },
  entryType: (body) => body.entry_type,
  logView: (body) => ({
    data: body.data as JsonValue,
    approval: { voters: [...body.approval.voters], quorum: body.approval.quorum },
  }),
};

/** decisions.vote */
export const voteCommand: CommandSpec<DecisionsState, typeof VoteBody, Voted> = {
  kind: "decisions.vote",
  schema: VoteBody,
  apply(state, body, context): Applied<Voted> {
    const decision = state.decisions.get(body.proposal);
    const problem = voteProblem(decision, body.proposal, body.voter);
    if (problem !== null) return refuse(problem.code, problem.message);
    const current = decision!;
    const votes = [...current.votes, [body.voter, body.vote] as const];
    const status = decide(current, votes);
    const updated: Decision = {
      ...current,
      votes,
      status,
      decidedAt: current.status === "pending" && status !== "pending" ? context.timestamp : current.decidedAt,
    };
    state.decisions.set(body.proposal, updated);
    if (current.status === "pending" && status !== "pending") {
      const decided: DecisionDecided = { index: updated.index, status, votes };
      state.decided.push({ topic: DECISION_DECIDED, data: decided });
    }
    return accept({ decision: updated }, [decisionChange(updated)]);
  },
  entryType: () => VOTE_ENTRY_TYPE,
  logView: (body) => ({ data: { proposal: body.proposal, voter: body.voter, vote: body.vote } }),
  legacy: {
    kind: "vote",
    body: (command) => ({ proposal: command["proposal"], voter: command["voter"], vote: command["vote"] }),
  },
};

/**
 * Why `voter` may not vote on the decision at `proposal`, or null. Apply decides with it, and
 * the vote route asks it first so a doomed vote costs no log entry.
 */
export function voteProblem(
  decision: Decision | undefined,
  proposal: number,
  voter: string,
): { code: "unknown_proposal" | "unknown_voter" | "duplicate_vote"; message: string } | null {
  if (decision === undefined)
    return { code: "unknown_proposal", message: `no decision was proposed at index ${proposal}` };
  if (!decision.voters.includes(voter))
    return { code: "unknown_voter", message: `${voter} is not a voter on decision ${proposal}` };
  if (voteOf(decision, voter) !== undefined)
    return { code: "duplicate_vote", message: `${voter} already voted on decision ${proposal}` };
  return null;
}

/** The decisions table row of `decision` (votes as an object keyed by voter, as the seed shows them). */
export function decisionTableRow(decision: Decision): Row {
  return {
    proposal_index: decision.index,
    entry_type: decision.entryType,
    data: JSON.stringify(decision.data),
    voters: JSON.stringify(decision.voters),
    quorum: decision.quorum,
    votes: JSON.stringify(Object.fromEntries(decision.votes)),
    status: decision.status,
    created_at: decision.createdAt,
    decided_at: decision.decidedAt,
  };
}

function decisionChange(decision: Decision): RowChange {
  return { table: "decisions", op: "upsert", row: decisionTableRow(decision) };
}
