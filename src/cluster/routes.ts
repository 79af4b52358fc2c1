/** The cluster module's routes: status, membership, leadership transfer, and the committed log. */

import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import Type from "typebox";
import { audited } from "../access/audit.js";
import { hashText, logViewOf } from "../control/index.js";
import type { NodeApi } from "../runtime/domain-module.js";
import type { NodeView } from "../runtime/view.js";
import { ApiError } from "../server/errors.js";
import { isoTime, readConsistently } from "../server/route-helpers.js";
import { CONSENSUS_ERRORS, Consistency, ConsistencyQuery, responses } from "../server/schemas.js";
import type { ClusterDirectory } from "./directory.js";
import { MAX_MEMBER_ID_LENGTH } from "./state.js";

/** Largest page of the log one request may ask for. */
export const MAX_LOG_PAGE = 1000;

const MemberId = Type.String({ minLength: 1, maxLength: MAX_MEMBER_ID_LENGTH });
const Address = Type.String({
  minLength: 3,
  maxLength: 300,
  pattern: "^(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$",
  description: "host:port",
});

const MemberView = Type.Object({
  id: Type.String(),
  raft_addr: Type.Union([Type.String(), Type.Null()]),
  http_addr: Type.Union([Type.String(), Type.Null()]),
  voter: Type.Boolean(),
  match_index: Type.Union([Type.Integer(), Type.Null()]),
  lag_entries: Type.Union([Type.Integer(), Type.Null()]),
  last_contact_ms: Type.Union([Type.Number(), Type.Null()]),
});

const StatusView = Type.Object({
  node_id: Type.String(),
  role: Type.String(),
  term: Type.Integer(),
  leader_id: Type.Union([Type.String(), Type.Null()]),
  commit_index: Type.Integer(),
  applied_index: Type.Integer(),
  state_hash: Type.String({
    description: "hash chain over every applied entry: equal on replicas at equal applied_index",
  }),
  members: Type.Array(MemberView),
});

const LogEntryView = Type.Object(
  {
    index: Type.Integer(),
    term: Type.Integer(),
    entry_type: Type.String(),
    data: Type.Unknown(),
    timestamp: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
    committed: Type.Boolean(),
  },
  { additionalProperties: true },
);

const tags = ["cluster"];

/** Registers the routes on `scope` (prefixed /api/v3). */
export function clusterRoutes(directory: ClusterDirectory) {
  return (scope: FastifyInstance, node: NodeApi): void => {
    const app = scope.withTypeProvider<TypeBoxTypeProvider>();

    app.get(
      "/consensus/status",
      {
        schema: {
          summary: "Role, term, leader, indexes and every member's replication, as this node sees them",
          tags,
          querystring: ConsistencyQuery,
          response: responses({ 200: StatusView }),
        },
      },
      () => statusView(node.view, directory),
    );

    app.get(
      "/cluster/members",
      {
        schema: {
          summary: "The members",
          tags,
          querystring: ConsistencyQuery,
          response: responses({ 200: Type.Object({ members: Type.Array(MemberView) }) }),
        },
      },
      () => ({ members: statusView(node.view, directory).members }),
    );

    app.post(
      "/cluster/members",
      {
        config: { leaderOnly: true, role: "admin" },
        schema: {
          summary: "Add a member: it joins as a learner and is promoted to voter once caught up",
          tags,
          body: Type.Object(
            { id: MemberId, raft_addr: Address, http_addr: Type.Optional(Address) },
            { additionalProperties: false },
          ),
          response: responses(
            { 201: Type.Object({ id: Type.String(), voter: Type.Boolean(), index: Type.Integer() }) },
            [409, ...CONSENSUS_ERRORS],
          ),
        },
      },
      async (request, reply) => {
        const { id, raft_addr, http_addr } = request.body;
        const addresses = { raft: raft_addr, http: http_addr ?? null };
        const subject = { action: "member.add", target: id, detail: `raft ${raft_addr}` } as const;
        const committed = await audited(node, request, subject, () => {
          directory.expect(id, addresses);
          return node.changeMembership({ type: "add_learner", node: id, context: JSON.stringify(addresses) });
        });
        return reply.code(201).send({ id, voter: false, index: committed.index });
      },
    );

    app.delete(
      "/cluster/members/:id",
      {
        config: { leaderOnly: true, role: "admin" },
        schema: {
          summary: "Remove a member (the leader too: it steps down once its removal commits)",
          tags,
          params: Type.Object({ id: MemberId }),
          response: responses(
            { 200: Type.Object({ id: Type.String(), removed: Type.Boolean(), index: Type.Integer() }) },
            [409, ...CONSENSUS_ERRORS],
          ),
        },
      },
      async (request) => {
        const { id } = request.params;
        const subject = { action: "member.remove", target: id, detail: null } as const;
        const committed = await audited(node, request, subject, () =>
          node.changeMembership({ type: "remove", node: id }),
        );
        return { id, removed: true, index: committed.index };
      },
    );

    app.post(
      "/cluster/leader",
      {
        config: { leaderOnly: true, role: "admin" },
        schema: {
          summary: "Transfer leadership to a voter (once it has caught up)",
          tags,
          body: Type.Object({ id: MemberId }, { additionalProperties: false }),
          response: responses({ 202: Type.Object({ transferring_to: Type.String() }) }, CONSENSUS_ERRORS),
        },
      },
      async (request, reply) => {
        const subject = { action: "leader.transfer", target: request.body.id, detail: null } as const;
        await audited(node, request, subject, () => node.transferLeadership(request.body.id));
        return reply.code(202).send({ transferring_to: request.body.id });
      },
    );

    app.get(
      "/consensus/log",
      {
        schema: {
          summary: "Committed log entries, paginated",
          description: "A range already compacted into a snapshot answers 410 with first_index.",
          tags: ["consensus"],
          querystring: Type.Object(
            {
              from: Type.Optional(Type.Integer({ minimum: 1 })),
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LOG_PAGE })),
              consistency: Consistency,
            },
            { additionalProperties: false },
          ),
          response: responses(
            {
              200: Type.Object({
                entries: Type.Array(LogEntryView),
                first_index: Type.Integer(),
                commit_index: Type.Integer(),
              }),
            },
            [410, ...CONSENSUS_ERRORS],
          ),
        },
      },
      async (request) => {
        const query = request.query;
        await readConsistently(node, query.consistency);
        const view = node.view;
        const commit = view.commitIndex();
        const first = (await view.firstLogIndex()) ?? commit + 1;
        const from = query.from ?? first;
        if (from < first) {
          throw new ApiError("compacted", `entries before ${first} were compacted into a snapshot`, {
            first_index: first,
          });
        }
        const records = from > commit ? [] : await view.readLog(from, commit, query.limit ?? 100);
        return {
          entries: records.map((record) => ({
            index: record.index,
            term: record.term,
            entry_type: record.entryType,
            ...logViewOf(view.registry, record),
            timestamp: record.timestamp === null ? null : isoTime(record.timestamp),
            committed: record.committed,
          })),
          first_index: first,
          commit_index: commit,
        };
      },
    );
  };
}

/** The status page: who leads, terms, indexes and each member's replication. */
export function statusView(view: NodeView, directory: ClusterDirectory) {
  const status = view.status();
  const progress = new Map(status.progress.map((p) => [p.id, p]));
  const ids = [...status.membership.voters, ...status.membership.learners];
  return {
    node_id: status.id,
    role: status.role,
    term: status.term,
    leader_id: status.leaderId,
    commit_index: status.commitIndex,
    applied_index: view.appliedIndex(),
    state_hash: hashText(view.stateHash()),
    members: ids.map((id) => {
      const p = progress.get(id);
      const address = directory.addressesOf(id);
      return {
        id,
        raft_addr: address.raft,
        http_addr: address.http,
        voter: status.membership.voters.includes(id),
        match_index: p?.match ?? null,
        lag_entries: p === undefined ? null : Math.max(0, status.lastIndex - p.match),
        last_contact_ms: p === undefined ? null : p.ticksSinceContact * view.tickMs,
      };
    }),
  };
}
