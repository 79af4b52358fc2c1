/** How the API shows agents: the view schemas (for validation and the OpenAPI document) and mappers. */

import Type from "typebox";
import { isoTime } from "../server/route-helpers.js";
import { healthCheckBody } from "./commands.js";
import type { Agent, AgentStatus } from "./state.js";

export const StatusSchema = Type.Union([
  Type.Literal("healthy"),
  Type.Literal("degraded"),
  Type.Literal("suspect"),
  Type.Literal("failed"),
  Type.Literal("deregistered"),
]);
/** Where an agent came from. */
export const SourceSchema = Type.Union([
  Type.Literal("custom"),
  Type.Literal("dns"),
  Type.Literal("consul"),
  Type.Literal("kubernetes"),
  Type.Literal("agent_card"),
]);
const Time = Type.String({ format: "date-time" });

/** An agent as the API shows it. */
export const AgentView = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    name: Type.String(),
    endpoint: Type.String(),
    team: Type.String(),
    capabilities: Type.Object({
      skills: Type.Array(Type.String()),
      capacity: Type.Integer(),
      weight: Type.Union([Type.Number(), Type.Null()]),
      labels: Type.Record(Type.String(), Type.String()),
    }),
    metadata: Type.Unknown(),
    health_check: Type.Object({
      type: Type.Union([Type.Literal("http"), Type.Literal("tcp"), Type.Literal("none")]),
      url: Type.Union([Type.String(), Type.Null()]),
      success_before_passing: Type.Union([Type.Integer(), Type.Null()]),
      failures_before_critical: Type.Union([Type.Integer(), Type.Null()]),
    }),
    agent_card_url: Type.Union([Type.String(), Type.Null()]),
    delivery: Type.Object({
      mode: Type.Union([Type.Literal("pull"), Type.Literal("push")]),
      url: Type.Union([Type.String(), Type.Null()]),
    }),
    status: StatusSchema,
    status_since: Time,
    status_reason: Type.String(),
    draining: Type.Boolean(),
    last_heartbeat: Type.Union([Time, Type.Null()]),
    registered_at: Time,
    updated_at: Time,
    source: SourceSchema,
  },
  // Inline, not a shared $id: a scope that adds schemas gets fastify's default validator, which
  // drops unknown properties instead of refusing them.
);

/** The API view of `agent` (as `status`, when it is being deregistered). */
export function agentView(agent: Agent, status: AgentStatus = agent.status) {
  return {
    id: agent.id,
    name: agent.name,
    endpoint: agent.endpoint,
    team: agent.team,
    capabilities: {
      skills: [...agent.skills],
      capacity: agent.capacity,
      weight: agent.weight,
      // fromEntries defines own properties, so a label named __proto__ is a label like any other.
      labels: Object.fromEntries(agent.labels),
    },
    metadata: agent.metadata,
    health_check: healthCheckBody(agent.healthCheck),
    agent_card_url: agent.agentCardUrl,
    delivery: { mode: agent.delivery.mode, url: agent.delivery.url },
    status,
    status_since: isoTime(agent.statusSinceMs),
    status_reason: agent.statusReason,
    draining: agent.draining,
    last_heartbeat: agent.lastHeartbeatMs === null ? null : isoTime(agent.lastHeartbeatMs),
    registered_at: isoTime(agent.registeredAtMs),
    updated_at: isoTime(agent.updatedAtMs),
    source: agent.source,
  };
}

/** Whether `agent` carries label `key` with `value` (labels are pairs: no prototype lookups). */
export function hasLabel(agent: Agent, key: string, value: string): boolean {
  return agent.labels.some(([k, v]) => k === key && v === value);
}

/** Agents counted by status, and by team then status (what the summaries and gauges show). */
export interface AgentCounts {
  readonly total: number;
  /** Every status of `statuses`, zeros too, then any other status met. */
  readonly byStatus: Map<string, number>;
  readonly byTeam: Map<string, Map<string, number>>;
}

/** Counts `agents` once; `statuses` are the ones reported even when no agent has them. */
export function countAgents(agents: Iterable<Agent>, statuses: readonly string[]): AgentCounts {
  const byStatus = new Map<string, number>(statuses.map((status) => [status, 0]));
  const byTeam = new Map<string, Map<string, number>>();
  let total = 0;
  for (const agent of agents) {
    total++;
    byStatus.set(agent.status, (byStatus.get(agent.status) ?? 0) + 1);
    let team = byTeam.get(agent.team);
    if (team === undefined) byTeam.set(agent.team, (team = new Map<string, number>()));
    team.set(agent.status, (team.get(agent.status) ?? 0) + 1);
  }
  return { total, byStatus, byTeam };
}
