/**
 * The agents API: register, list and read, deregister, heartbeat, health, and resolve (for
 * client-side balancing, Consul-style). Writes go through any node; heartbeats go to the leader's
 * memory through the relay, never through the log.
 */

import { timeOrderedUuid } from "../util/ids.js";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import Type, { type Static } from "typebox";
import type { NodeApi } from "../runtime/domain-module.js";
import { actorOf, agentFrom } from "../server/authorization.js";
import { ApiError } from "../server/errors.js";
import { checkCommand, isoTime, isUuid, readConsistently } from "../server/route-helpers.js";
import { CONSENSUS_ERRORS, Consistency, responses } from "../server/schemas.js";
import {
  AGENT_LIMITS,
  NAME_PATTERN,
  deregisterCommand,
  registerCommand,
  type Registration,
} from "./commands.js";
import type { HealthObserver } from "./health-controller.js";
import { MAX_RUNNING_PER_BEAT, type BeatRelay } from "./heartbeats.js";
import type { AgentRouter } from "./router.js";
import { cardSkills } from "./card-refresh.js";
import { agentsState } from "./module.js";
import { HEALTH_STATUSES } from "./health/types.js";
import type { Agent, AgentsState, AgentStatus } from "./state.js";
import { AgentView, StatusSchema, agentView, countAgents, hasLabel } from "./views.js";

const tags = ["agents"];

/** What the routes share with the module's controllers and services. */
export interface AgentsEdge {
  readonly relay: BeatRelay;
  /** The leader's health controller while it runs on this node. */
  observer(): HealthObserver | null;
  readonly heartbeatIntervalMs: number;
  readonly failureTimeoutMs: number;
  /** Reads an A2A agent card (null: agent cards are not read on this node). */
  readonly readCard: ((url: string) => Promise<AgentCard>) | null;
  /** The request router behind /route/{skill}/{path}. */
  readonly router: AgentRouter;
  /** A push agent's key for checking the leader's signatures (null: pushes are not signed). */
  readonly deliveryKey: ((agentId: string) => string) | null;
}

/** What juno takes from an A2A agent card. */
export interface AgentCard {
  readonly name: string;
  readonly url: string;
  readonly skills: readonly string[];
}

const Skill = Type.String({ minLength: 1, maxLength: 100, pattern: NAME_PATTERN });
const HttpUrl = Type.String({ minLength: 8, maxLength: 255, pattern: "^https?://[^\\s]+$" });

const RegisterBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    endpoint: Type.Optional(HttpUrl),
    team: Type.String({ minLength: 1, maxLength: 100 }),
    capabilities: Type.Optional(
      Type.Object(
        {
          skills: Type.Array(Skill, { maxItems: AGENT_LIMITS.skills, uniqueItems: true }),
          capacity: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
          weight: Type.Optional(Type.Number({ minimum: 0, maximum: 1_000_000 })),
          labels: Type.Optional(
            Type.Record(
              Type.String({ minLength: 1, maxLength: 100, pattern: NAME_PATTERN }),
              Type.String({ maxLength: 255 }),
              {
                maxProperties: AGENT_LIMITS.labels,
              },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    health_check: Type.Optional(
      Type.Object(
        {
          type: Type.Optional(Type.Union([Type.Literal("http"), Type.Literal("tcp"), Type.Literal("none")])),
          url: Type.Optional(Type.String({ minLength: 8, maxLength: 2048, pattern: "^https?://[^\\s]+$" })),
          success_before_passing: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
          failures_before_critical: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
        },
        { additionalProperties: false },
      ),
    ),
    agent_card_url: Type.Optional(
      Type.String({ minLength: 8, maxLength: 2048, pattern: "^https?://[^\\s]+$" }),
    ),
    delivery: Type.Optional(
      Type.Object(
        {
          mode: Type.Union([Type.Literal("pull"), Type.Literal("push")], {
            description:
              "pull (the default): the agent long-polls POST /tasks/poll. push: juno's leader POSTs its tasks to `url`.",
          }),
          url: Type.Optional(
            Type.String({
              minLength: 8,
              maxLength: 2048,
              pattern: "^https?://[^\\s]+$",
              description: "Where pushed tasks go; default `{endpoint}/juno/tasks`. Push only.",
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  {
    additionalProperties: false,
    description:
      "`name`, `endpoint` and `capabilities` may be left out when `agent_card_url` is given: juno reads them from the A2A agent card.",
  },
);

const Registered = Type.Object({
  agent: AgentView,
  heartbeat_interval_ms: Type.Integer(),
  lease_ms: Type.Integer(),
  delivery_key: Type.Optional(
    Type.String({
      description:
        'Push agents of a cluster with a secret: the key (base64url) the leader signs each push with, in `x-juno-signature: t=<unix ms>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>`. Check it, and that t is recent, before taking a push.',
    }),
  ),
});

const IdParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);

const ListQuery = Type.Object(
  {
    team: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    skill: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    status: Type.Optional(StatusSchema),
    label: Type.Optional(
      Type.String({ minLength: 3, maxLength: 400, pattern: "^[^=]+=.*$", description: "key=value" }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    consistency: Consistency,
  },
  { additionalProperties: false },
);

const BeatBody = Type.Object(
  {
    active_tasks: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
    gauges: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.Number(), { maxProperties: 32 })),
    draining: Type.Optional(Type.Boolean()),
    overloaded: Type.Optional(Type.Boolean()),
    running: Type.Optional(
      Type.Array(
        Type.Object(
          {
            id: Type.String({ minLength: 1, maxLength: 64 }),
            attempt: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
          },
          { additionalProperties: false },
        ),
        {
          maxItems: MAX_RUNNING_PER_BEAT,
          description:
            "the task attempts the agent runs: each beat renews their leases; a running attempt left out lapses after the failure timeout",
        },
      ),
    ),
  },
  { additionalProperties: false },
);

const BeatAnswer = Type.Object({
  id: Type.String(),
  status: StatusSchema,
  lease_expires_at: Type.String({ format: "date-time" }),
  heartbeat_interval_ms: Type.Integer(),
  cancelled: Type.Optional(
    Type.Array(Type.Object({ id: Type.String(), attempt: Type.Integer(), reason: Type.String() }), {
      description:
        "With `running` in the beat: the attempts listed that are no longer this agent's (cancelled, moved, timed out); stop them.",
    }),
  ),
});

const CheckView = Type.Object({
  ok: Type.Boolean(),
  latency_ms: Type.Number(),
  detail: Type.String(),
  at: Type.String({ format: "date-time" }),
});

const HealthView = Type.Object({
  id: Type.String(),
  status: StatusSchema,
  since: Type.String({ format: "date-time" }),
  reason: Type.String(),
  phi: Type.Union([Type.Number(), Type.Null()]),
  last_heartbeat: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  lease_expires_at: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  checks: Type.Array(CheckView),
  observed_by: Type.Union([Type.String(), Type.Null()], {
    description: "the leader whose monitor judged it, or null when only the replicated status is known",
  }),
  history: Type.Array(
    Type.Object({ status: StatusSchema, since: Type.String({ format: "date-time" }), reason: Type.String() }),
    {
      description:
        "its recent statuses, oldest first, as the log set them (the last 20; a node restored from a snapshot starts afresh)",
    },
  ),
});

const Counts = Type.Record(Type.String(), Type.Integer());
const Summary = Type.Object({
  total: Type.Integer(),
  by_status: Counts,
  by_team: Type.Record(Type.String(), Counts),
});

const ResolveQuery = Type.Object(
  {
    skill: Type.String({ minLength: 1, maxLength: 100 }),
    team: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    label: Type.Optional(Type.String({ minLength: 3, maxLength: 400, pattern: "^[^=]+=.*$" })),
    include_degraded: Type.Optional(Type.Boolean()),
    consistency: Consistency,
  },
  { additionalProperties: false },
);

const Resolved = Type.Object({
  agents: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      endpoint: Type.String(),
      team: Type.String(),
      status: StatusSchema,
      weight: Type.Union([Type.Number(), Type.Null()]),
      capacity: Type.Integer(),
    }),
  ),
});

/** Registers the routes on `scope` (prefixed /api/v3). */
export function agentRoutes(edge: AgentsEdge) {
  return (scope: FastifyInstance, node: NodeApi): void => {
    const app = scope.withTypeProvider<TypeBoxTypeProvider>();
    const state = (): AgentsState => node.view.state(agentsState);
    // Its own scope: the proxy relays bodies as they are, whatever their type.
    void app.register((child, _options, done) => {
      edge.router.register(child, node);
      done();
    });

    app.post(
      "/agents/register",
      {
        // An agent token registers its own agent, under the id it is bound to.
        config: { agent: agentFrom.self },
        schema: {
          summary: "Register an agent (idempotent by name and endpoint)",
          description:
            "201 with a new agent's id; 200 with the same id when `name` + `endpoint` is registered already (its capabilities are updated). The answer says how often to beat and how long a lease lasts. With an agent token the agent is the one the token is bound to: registered under that id, or updated (a new endpoint, say); 409 when `name` + `endpoint` belongs to another agent.",
          tags,
          body: RegisterBody,
          response: responses({ 200: Registered, 201: Registered }, [
            409,
            413,
            422,
            429,
            ...CONSENSUS_ERRORS,
          ]),
        },
      },
      async (request, reply) => {
        const bound = request.principal?.agentId ?? null;
        const asked = await toRegistration(request.body, edge);
        const registration = bound === null ? asked : { ...asked, id: bound, bound: true };
        checkCommand(node, registerCommand.kind, registration);
        const committed = await node.propose(registerCommand, registration);
        const { agent, created } = committed.value;
        return reply.code(created ? 201 : 200).send({
          agent: agentView(agent),
          heartbeat_interval_ms: edge.heartbeatIntervalMs,
          lease_ms: edge.failureTimeoutMs,
          ...(agent.delivery.mode === "push" && edge.deliveryKey !== null
            ? { delivery_key: edge.deliveryKey(agent.id) }
            : {}),
        });
      },
    );

    app.get(
      "/agents",
      {
        schema: {
          summary: "List agents, filtered and paginated",
          description:
            "Filters combine (team, skill, status, label `key=value`). Pages are in id order; pass `next_cursor` back as `cursor` for the next.",
          tags,
          querystring: ListQuery,
          response: responses(
            {
              200: Type.Object({
                agents: Type.Array(AgentView),
                next_cursor: Type.Union([Type.String(), Type.Null()]),
              }),
            },
            [...CONSENSUS_ERRORS],
          ),
        },
      },
      async (request) => {
        const query = request.query;
        await readConsistently(node, query.consistency);
        const label = query.label === undefined ? null : splitLabel(query.label);
        const matches = (agent: Agent): boolean =>
          (query.team === undefined || agent.team === query.team) &&
          (query.status === undefined || agent.status === query.status) &&
          (label === null || hasLabel(agent, label[0], label[1]));
        const limit = query.limit ?? 100;
        const page = firstAfter(candidates(state(), query.skill), matches, query.cursor ?? "", limit + 1);
        const more = page.length > limit;
        const agents = page.slice(0, limit);
        return {
          agents: agents.map((agent) => agentView(agent)),
          next_cursor: more ? agents.at(-1)!.id : null,
        };
      },
    );

    app.get(
      "/agents/health",
      {
        schema: {
          summary: "Agents by status and by team",
          tags,
          querystring: Type.Object({ consistency: Consistency }, { additionalProperties: false }),
          response: responses({ 200: Summary }, [...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        await readConsistently(node, request.query.consistency);
        const { total, byStatus, byTeam } = countAgents(state().all(), HEALTH_STATUSES);
        return {
          total,
          by_status: Object.fromEntries(byStatus),
          by_team: Object.fromEntries(
            [...byTeam].map(([team, counts]) => [team, Object.fromEntries(counts)]),
          ),
        };
      },
    );

    app.get(
      "/agents/resolve",
      {
        schema: {
          summary: "Healthy agents with a skill, for client-side balancing",
          description:
            "Agents that are healthy (and, with include_degraded, degraded) and not draining, with their weight and capacity.",
          tags,
          querystring: ResolveQuery,
          response: responses({ 200: Resolved }, [...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        const query = request.query;
        await readConsistently(node, query.consistency);
        const label = query.label === undefined ? null : splitLabel(query.label);
        const agents: Static<typeof Resolved>["agents"] = [];
        const current = state();
        for (const id of current.withSkill(query.skill)) {
          const agent = current.get(id);
          if (agent === undefined || agent.draining) continue;
          const usable =
            agent.status === "healthy" || (query.include_degraded === true && agent.status === "degraded");
          if (!usable || (query.team !== undefined && agent.team !== query.team)) continue;
          if (label !== null && !hasLabel(agent, label[0], label[1])) continue;
          agents.push({
            id: agent.id,
            name: agent.name,
            endpoint: agent.endpoint,
            team: agent.team,
            status: agent.status,
            weight: agent.weight,
            capacity: agent.capacity,
          });
          if (agents.length >= 1_000) break;
        }
        return { agents };
      },
    );

    app.get(
      "/agents/:id",
      {
        config: { agent: agentFrom.param("id") },
        schema: {
          summary: "One agent",
          tags,
          params: IdParams,
          querystring: Type.Object({ consistency: Consistency }, { additionalProperties: false }),
          response: responses({ 200: Type.Object({ agent: AgentView }) }, [404, ...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        await readConsistently(node, request.query.consistency);
        return { agent: agentView(found(state(), request.params.id)) };
      },
    );

    app.delete(
      "/agents/:id",
      {
        config: { agent: agentFrom.param("id") },
        schema: {
          summary: "Deregister an agent",
          tags,
          params: IdParams,
          response: responses({ 200: Type.Object({ agent: AgentView }) }, [404, 429, ...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        const id = request.params.id;
        if (!isUuid(id)) throw new ApiError("agent_not_found", `no agent ${id}`);
        const committed = await node.propose(
          deregisterCommand,
          { id, reason: "deregistered through the API" },
          { actor: actorOf(request) },
        );
        return { agent: agentView(committed.value.agent, "deregistered" satisfies AgentStatus) };
      },
    );

    app.post(
      "/agents/:id/heartbeat",
      {
        config: { agent: agentFrom.param("id") },
        schema: {
          summary: "Beat: the agent is alive (and how loaded it is)",
          description:
            "Any node takes it and passes it to the leader's memory in a batch; nothing is written to the log per beat. The answer says the agent's status and when its lease ends, and, when the beat lists `running`, which of those attempts were cancelled or moved.",
          tags,
          params: IdParams,
          body: Type.Optional(BeatBody),
          response: responses({ 200: BeatAnswer }, [404, ...CONSENSUS_ERRORS]),
        },
      },
      async (request) => {
        const id = request.params.id;
        const body = request.body ?? {};
        if (!isUuid(id)) throw new ApiError("agent_not_found", `no agent ${id}`);
        const running = body.running?.map(({ id: task, attempt }) => [task, attempt] as const) ?? null;
        const answer = await edge.relay.beat(id, {
          activeTasks: body.active_tasks ?? null,
          draining: body.draining ?? null,
          overloaded: body.overloaded ?? null,
          running,
        });
        if (!answer.ok) {
          if (answer.code === "agent_not_found") throw new ApiError("agent_not_found", `no agent ${id}`);
          const message =
            answer.code === "timeout"
              ? "the leader did not answer the beat in time; beat again"
              : "no leader can take the beat right now; beat again shortly";
          throw new ApiError(answer.code, message, { leader_id: answer.leaderId });
        }
        return {
          id,
          status: answer.status,
          lease_expires_at: isoTime(Date.now() + answer.leaseRemainingMs),
          heartbeat_interval_ms: edge.heartbeatIntervalMs,
          ...(running === null ? {} : { cancelled: edge.relay.revoked(id, running) }),
        };
      },
    );

    app.get(
      "/agents/:id/health",
      {
        config: { leaderOnly: true, agent: agentFrom.param("id") },
        schema: {
          summary: "An agent's health: status, since when, and why",
          description:
            "Answered by the leader, whose monitor holds phi, the last beat and the last check results; a follower forwards the request.",
          tags,
          params: IdParams,
          response: responses({ 200: HealthView }, [404, ...CONSENSUS_ERRORS]),
        },
      },
      (request) => {
        const agent = found(state(), request.params.id);
        const history = state()
          .history(agent.id)
          .map((change) => ({
            status: change.status,
            since: isoTime(change.sinceMs),
            reason: change.reason,
          }));
        const observer = edge.observer();
        const report = observer?.report(agent.id) ?? null;
        if (report === null) {
          return {
            id: agent.id,
            status: agent.status,
            since: isoTime(agent.statusSinceMs),
            reason: agent.statusReason,
            phi: null,
            last_heartbeat: agent.lastHeartbeatMs === null ? null : isoTime(agent.lastHeartbeatMs),
            lease_expires_at: null,
            checks: [],
            observed_by: null,
            history,
          };
        }
        return {
          id: agent.id,
          status: report.status,
          since: isoTime(report.sinceMs),
          reason: report.reason,
          phi: Number.isFinite(report.phi) ? report.phi : null,
          last_heartbeat: report.lastBeatMs === null ? null : isoTime(report.lastBeatMs),
          lease_expires_at: Number.isFinite(report.leaseEndsAtMs) ? isoTime(report.leaseEndsAtMs) : null,
          checks: report.lastChecks.map((check) => ({
            ok: check.ok,
            latency_ms: check.latencyMs,
            detail: check.detail,
            at: isoTime(check.atMs),
          })),
          observed_by: node.view.id,
          history,
        };
      },
    );
  };
}

/** Turns the API's body into the register command, reading the agent card first when asked to. */
async function toRegistration(body: Static<typeof RegisterBody>, edge: AgentsEdge): Promise<Registration> {
  let name = body.name;
  let endpoint = body.endpoint;
  let skills = body.capabilities?.skills ?? [];
  if (body.agent_card_url !== undefined) {
    if (edge.readCard === null)
      throw new ApiError("validation_failed", "agent cards are not read by this node");
    const card = await edge.readCard(body.agent_card_url).catch((error: unknown) => {
      throw new ApiError("agent_card_unreadable", `the agent card could not be read: ${String(error)}`);
    });
    name ??= card.name.slice(0, 100);
    endpoint ??= card.url;
    skills = [...new Set([...skills, ...cardSkills(card)])].slice(0, AGENT_LIMITS.skills);
  } else if (body.capabilities === undefined) {
    throw new ApiError("validation_failed", "capabilities is required unless agent_card_url is given");
  }
  if (name === undefined || endpoint === undefined)
    throw new ApiError(
      "validation_failed",
      "name and endpoint are required unless agent_card_url gives them",
    );
  const check = body.health_check ?? {};
  const mode = body.delivery?.mode ?? "pull";
  if (mode === "pull" && body.delivery?.url !== undefined)
    throw new ApiError("validation_failed", "delivery.url is for push delivery only");
  const pushUrl =
    mode === "push" ? (body.delivery?.url ?? `${endpoint.replace(/\/+$/, "")}/juno/tasks`) : null;
  if (pushUrl !== null && pushUrl.length > 2048)
    throw new ApiError("validation_failed", "delivery.url is longer than 2048 characters");
  return {
    id: timeOrderedUuid(),
    name,
    endpoint,
    team: body.team,
    skills,
    capacity: body.capabilities?.capacity ?? 1,
    weight: body.capabilities?.weight ?? null,
    labels: Object.entries(body.capabilities?.labels ?? {}),
    metadata: body.metadata ?? null,
    health_check: {
      type: check.type ?? "http",
      url: check.url ?? null,
      success_before_passing: check.success_before_passing ?? null,
      failures_before_critical: check.failures_before_critical ?? null,
    },
    agent_card_url: body.agent_card_url ?? null,
    delivery: { mode, url: pushUrl },
    source: "custom",
    source_key: null,
  };
}

function found(state: AgentsState, id: string): Agent {
  const agent = state.get(id);
  if (agent === undefined) throw new ApiError("agent_not_found", `no agent ${id}`);
  return agent;
}

function splitLabel(label: string): [string, string] {
  const at = label.indexOf("=");
  return [label.slice(0, at), label.slice(at + 1)];
}

/** The agents to look at: those with the skill, or all. */
function candidates(state: AgentsState, skill: string | undefined): Iterable<Agent> {
  if (skill === undefined) return state.all();
  const ids = state.withSkill(skill);
  return (function* () {
    for (const id of ids) {
      const agent = state.get(id);
      if (agent !== undefined) yield agent;
    }
  })();
}

/**
 * The `count` matching agents with the smallest ids after `cursor`, in id order: one pass, keeping
 * a small sorted window, so a page costs O(agents) rather than a sort of them all.
 */
function firstAfter(
  agents: Iterable<Agent>,
  matches: (agent: Agent) => boolean,
  cursor: string,
  count: number,
): Agent[] {
  const window: Agent[] = [];
  for (const agent of agents) {
    if (agent.id <= cursor) continue;
    if (window.length === count && agent.id >= window[count - 1]!.id) continue;
    if (!matches(agent)) continue;
    let at = window.length;
    while (at > 0 && window[at - 1]!.id > agent.id) at--;
    window.splice(at, 0, agent);
    if (window.length > count) window.pop();
  }
  return window;
}
