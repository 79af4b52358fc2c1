/** The decisions module's routes: propose, vote, and read a decision. */

import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import Type from "typebox";
import type { NodeApi } from "../runtime/domain-module.js";
import { ApiError } from "../server/errors.js";
import { checkCommand, isoTime, readConsistently } from "../server/route-helpers.js";
import { CONSENSUS_ERRORS, ConsistencyQuery, responses } from "../server/schemas.js";
import { ProposeBody, VoteBody, proposeCommand, voteCommand, voteProblem } from "./commands.js";
import { decisionsState } from "./module.js";
import type { Decision } from "./state.js";

const tags = ["consensus"];

const Proposed = Type.Object({ index: Type.Integer(), term: Type.Integer() });
const Pending = Type.Object({ index: Type.Integer(), term: Type.Integer(), status: Type.Literal("pending") });
const VoteValue = Type.Union([Type.Literal("approve"), Type.Literal("reject")]);

/** A decision as the API shows it. */
export const DecisionView = Type.Object({
  index: Type.Integer({ description: "the log index it was proposed at" }),
  entry_type: Type.String(),
  data: Type.Unknown(),
  voters: Type.Array(Type.String()),
  quorum: Type.Integer(),
  votes: Type.Record(Type.String(), VoteValue, { description: "by voter, in the order they were cast" }),
  status: Type.Union([Type.Literal("pending"), Type.Literal("approved"), Type.Literal("rejected")]),
  created_at: Type.String({ format: "date-time" }),
  decided_at: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
});

const VoteAnswer = Type.Object({
  index: Type.Integer(),
  proposal: Type.Integer(),
  status: Type.Union([Type.Literal("pending"), Type.Literal("approved"), Type.Literal("rejected")]),
  decision: DecisionView,
});

/** Registers the routes on `scope` (prefixed /api/v3). */
export function decisionRoutes(scope: FastifyInstance, node: NodeApi): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    "/consensus/propose",
    {
      schema: {
        summary: "Propose an entry; with an approval rule, a decision that needs votes",
        description:
          "201 once committed on a majority and applied here; with `approval`, 202 and the decision is pending until a quorum votes. Any node accepts it: a follower hands it to the leader.",
        tags,
        body: ProposeBody,
        response: responses({ 201: Proposed, 202: Pending }, [413, 429, ...CONSENSUS_ERRORS]),
      },
    },
    async (request, reply) => {
      const body = request.body;
      checkCommand(node, proposeCommand.kind, body);
      const committed = await node.propose(proposeCommand, body);
      if (body.approval !== undefined)
        return reply
          .code(202)
          .send({ index: committed.index, term: committed.term, status: "pending" as const });
      return reply.code(201).send({ index: committed.index, term: committed.term });
    },
  );

  app.post(
    "/consensus/vote",
    {
      schema: {
        summary: "Vote on a decision",
        description:
          "The decision is approved once `quorum` voters approve, and rejected once the quorum can no longer be reached.",
        tags,
        body: VoteBody,
        response: responses({ 200: VoteAnswer }, [404, 409, 429, ...CONSENSUS_ERRORS]),
      },
    },
    async (request) => {
      const body = request.body;
      // Refuse what the state already rules out before it costs a log entry; apply decides for good.
      await node.readBarrier();
      const problem = voteProblem(
        node.view.state(decisionsState).decisions.get(body.proposal),
        body.proposal,
        body.voter,
      );
      if (problem !== null) throw new ApiError(problem.code, problem.message);
      const committed = await node.propose(voteCommand, body);
      const decision = committed.value.decision;
      return {
        index: committed.index,
        proposal: body.proposal,
        status: decision.status,
        decision: decisionView(decision),
      };
    },
  );

  app.get(
    "/consensus/decisions/:index",
    {
      schema: {
        summary: "A decision and its votes",
        tags,
        params: Type.Object({ index: Type.Integer({ minimum: 1 }) }),
        querystring: ConsistencyQuery,
        response: responses({ 200: DecisionView }, [404, ...CONSENSUS_ERRORS]),
      },
    },
    async (request) => {
      await readConsistently(node, request.query.consistency);
      const decision = node.view.state(decisionsState).decisions.get(request.params.index);
      if (decision === undefined)
        throw new ApiError("unknown_proposal", `no decision was proposed at index ${request.params.index}`);
      return decisionView(decision);
    },
  );
}

/** The API's view of a decision. */
export function decisionView(decision: Decision) {
  return {
    index: decision.index,
    entry_type: decision.entryType,
    data: decision.data,
    voters: [...decision.voters],
    quorum: decision.quorum,
    // fromEntries defines own properties, so a voter named "__proto__" is a key like any other.
    votes: Object.fromEntries(decision.votes) as Record<string, "approve" | "reject">,
    status: decision.status,
    created_at: isoTime(decision.createdAt),
    decided_at: decision.decidedAt === null ? null : isoTime(decision.decidedAt),
  };
}
