/**
 * The agents module's commands. Bodies are internal shapes (the routes turn the API's bodies
 * into them at the edge), every one bounded, and apply is pure: ids come from the proposer,
 * times from the leader's stamp.
 *
 *   agents.register    add an agent, or update the one registered under the same name+endpoint
 *   agents.deregister  remove an agent
 *   agents.health      a batch of status transitions decided by the leader's health monitor
 *   agents.beats       a batch of last-heartbeat refreshes (at most one per health-check interval)
 *   agents.sync        a discovery source's adds, changes and removals
 */

import Type, { type Static } from "typebox";
import {
  accept,
  isJsonValue,
  refuse,
  type Applied,
  type CommandSpec,
  type JsonValue,
  type Row,
  type RowChange,
} from "../control/index.js";
import { PULL, type Agent, type AgentsState, type HealthCheckSpec, type LiveStatus } from "./state.js";

/** Bounds (the "clear 4xx over it"). */
export const AGENT_LIMITS = {
  /** Agents in the cluster. */
  agents: 100_000,
  skills: 64,
  labels: 32,
  /** Encoded metadata, in bytes of JSON. */
  metadataBytes: 16 * 1024,
  /** Changes in one health, beats or sync entry. */
  batch: 5_000,
} as const;

/** A skill name or a label key: letters, digits and `._:/-`. */
export const NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:/-]*$";

const Uuid = Type.String({ minLength: 36, maxLength: 36, pattern: "^[0-9a-f-]{36}$" });
const Skill = Type.String({ minLength: 1, maxLength: 100, pattern: NAME_PATTERN });
const LabelKey = Type.String({ minLength: 1, maxLength: 100, pattern: NAME_PATTERN });
const HttpUrl = (maxLength: number) =>
  Type.String({ minLength: 8, maxLength, pattern: "^https?://[^\\s]+$", format: "uri" });
const LiveStatusSchema = Type.Union([
  Type.Literal("healthy"),
  Type.Literal("degraded"),
  Type.Literal("suspect"),
  Type.Literal("failed"),
]);

/** What an agent is registered with (agents.register, and each upsert of agents.sync). */
export const Registration = Type.Object(
  {
    id: Uuid,
    name: Type.String({ minLength: 1, maxLength: 100 }),
    endpoint: HttpUrl(255),
    team: Type.String({ minLength: 1, maxLength: 100 }),
    skills: Type.Array(Skill, { maxItems: AGENT_LIMITS.skills, uniqueItems: true }),
    capacity: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    weight: Type.Union([Type.Number({ minimum: 0, maximum: 1_000_000 }), Type.Null()]),
    labels: Type.Array(Type.Tuple([LabelKey, Type.String({ maxLength: 255 })]), {
      maxItems: AGENT_LIMITS.labels,
    }),
    metadata: Type.Unknown(),
    health_check: Type.Object(
      {
        type: Type.Union([Type.Literal("http"), Type.Literal("tcp"), Type.Literal("none")]),
        url: Type.Union([HttpUrl(2048), Type.Null()]),
        success_before_passing: Type.Union([Type.Integer({ minimum: 1, maximum: 100 }), Type.Null()]),
        failures_before_critical: Type.Union([Type.Integer({ minimum: 1, maximum: 100 }), Type.Null()]),
      },
      { additionalProperties: false },
    ),
    agent_card_url: Type.Union([HttpUrl(2048), Type.Null()]),
    // Optional, so entries logged before push delivery existed still apply (as pull agents).
    delivery: Type.Optional(
      Type.Object(
        {
          mode: Type.Union([Type.Literal("pull"), Type.Literal("push")]),
          url: Type.Union([HttpUrl(2048), Type.Null()]),
        },
        { additionalProperties: false },
      ),
    ),
    source: Type.Union([
      Type.Literal("custom"),
      Type.Literal("dns"),
      Type.Literal("consul"),
      Type.Literal("kubernetes"),
      Type.Literal("agent_card"),
    ]),
    source_key: Type.Union([Type.String({ minLength: 1, maxLength: 512 }), Type.Null()]),
    // Optional, so entries logged before agent tokens existed apply as they did.
    bound: Type.Optional(
      Type.Boolean({
        description:
          "the agent must be `id` (an agent token bound to it registered): it is updated, whatever its name and endpoint were, and never another agent",
      }),
    ),
  },
  { additionalProperties: false },
);
export type Registration = Static<typeof Registration>;

export const DeregisterBody = Type.Object(
  { id: Uuid, reason: Type.String({ maxLength: 500 }) },
  { additionalProperties: false },
);

export const HealthBody = Type.Object(
  {
    changes: Type.Array(
      Type.Object(
        {
          id: Uuid,
          status: LiveStatusSchema,
          reason: Type.String({ maxLength: 500 }),
          draining: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: AGENT_LIMITS.batch },
    ),
  },
  { additionalProperties: false },
);

export const BeatsBody = Type.Object(
  {
    beats: Type.Array(
      Type.Object({ id: Uuid, at: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
      { minItems: 1, maxItems: AGENT_LIMITS.batch },
    ),
  },
  { additionalProperties: false },
);

export const SyncBody = Type.Object(
  {
    source: Type.Union([
      Type.Literal("dns"),
      Type.Literal("consul"),
      Type.Literal("kubernetes"),
      Type.Literal("agent_card"),
    ]),
    upserts: Type.Array(Registration, { maxItems: AGENT_LIMITS.batch }),
    removals: Type.Array(Type.String({ minLength: 1, maxLength: 512 }), { maxItems: AGENT_LIMITS.batch }),
  },
  { additionalProperties: false },
);

/** What registering did. */
export interface Registered {
  readonly agent: Agent;
  readonly created: boolean;
}

/** Rules beyond the schema, shared by register and sync. */
export function registrationProblem(body: Registration): string | null {
  if (!isJsonValue(body.metadata)) return "metadata must be a JSON value nested at most 64 deep";
  if (body.metadata !== null && typeof body.metadata !== "object")
    return "metadata must be an object (or null)";
  if (JSON.stringify(body.metadata).length > AGENT_LIMITS.metadataBytes)
    return `metadata is larger than ${AGENT_LIMITS.metadataBytes} bytes of JSON`;
  const keys = new Set<string>();
  for (const [key] of body.labels) {
    if (keys.has(key)) return `label ${key} is given twice`;
    keys.add(key);
  }
  if (body.delivery !== undefined && (body.delivery.mode === "push") !== (body.delivery.url !== null))
    return "delivery.url is set exactly for push delivery";
  if ((body.source === "custom") !== (body.source_key === null))
    return "source_key is set exactly for discovered agents";
  if (body.bound === true && body.source !== "custom")
    return "only agents that register themselves are bound";
  return null;
}

/** agents.register */
export const registerCommand: CommandSpec<AgentsState, typeof Registration, Registered> = {
  kind: "agents.register",
  schema: Registration,
  check: registrationProblem,
  apply(state, body, context): Applied<Registered> {
    if (body.bound === true) return registerBound(state, body, context.timestamp);
    const existing = state.byName(body.name, body.endpoint);
    if (existing === undefined && state.get(body.id) !== undefined)
      return refuse("conflict", `agent id ${body.id} is taken`);
    if (existing === undefined && state.size >= AGENT_LIMITS.agents)
      return refuse("limit_exceeded", `the cluster holds ${AGENT_LIMITS.agents} agents, its limit`);
    const agent = registered(body, existing, context.timestamp);
    state.put(agent);
    return accept({ agent, created: existing === undefined }, [agentChange(agent)]);
  },
  entryType: () => "juno.agent.register",
  logView: (body) => ({ data: body as unknown as JsonValue }),
};

/**
 * A registration bound to its id (an agent token's): it updates agent `id` whatever name and
 * endpoint it had (an agent moved), creates it when there is none, and never touches another
 * agent, so the token's agent can only ever be that one.
 */
function registerBound(state: AgentsState, body: Registration, timestamp: number): Applied<Registered> {
  const byName = state.byName(body.name, body.endpoint);
  if (byName !== undefined && byName.id !== body.id)
    return refuse(
      "conflict",
      `${body.name} at ${body.endpoint} is registered as another agent, ${byName.id}`,
    );
  const existing = state.get(body.id);
  if (existing === undefined && state.size >= AGENT_LIMITS.agents)
    return refuse("limit_exceeded", `the cluster holds ${AGENT_LIMITS.agents} agents, its limit`);
  const agent = registered(body, existing, timestamp);
  state.put(agent);
  return accept({ agent, created: existing === undefined }, [agentChange(agent)]);
}

/** agents.deregister: the agent leaves the registry; the answer shows it as deregistered. */
export const deregisterCommand: CommandSpec<AgentsState, typeof DeregisterBody, { agent: Agent }> = {
  kind: "agents.deregister",
  schema: DeregisterBody,
  apply(state, body, context) {
    const agent = state.remove(body.id);
    if (agent === undefined) return refuse("agent_not_found", `no agent ${body.id}`);
    const gone = { ...agent, statusSinceMs: context.timestamp, statusReason: body.reason };
    return accept({ agent: gone }, [{ table: "agents", op: "delete", key: { id: agent.id } }]);
  },
  audit: (body) => ({ action: "agent.deregister", target: body.id, detail: body.reason }),
  entryType: () => "juno.agent.deregister",
  logView: (body) => ({ data: { id: body.id, reason: body.reason } }),
};

/** agents.health: transitions for agents still registered; the others are skipped. */
export const healthCommand: CommandSpec<AgentsState, typeof HealthBody, { applied: number }> = {
  kind: "agents.health",
  schema: HealthBody,
  apply(state, body, context) {
    const changes: RowChange[] = [];
    for (const change of body.changes) {
      const agent = state.get(change.id);
      if (agent === undefined) continue;
      const draining = change.draining ?? agent.draining;
      if (agent.status === change.status && agent.draining === draining) continue;
      const updated: Agent = {
        ...agent,
        status: change.status,
        statusSinceMs: agent.status === change.status ? agent.statusSinceMs : context.timestamp,
        statusReason: change.reason,
        draining,
        updatedAtMs: context.timestamp,
      };
      state.put(updated);
      changes.push(agentChange(updated));
    }
    return accept({ applied: changes.length }, changes);
  },
  entryType: () => "juno.agent.health",
  logView: (body) => ({ data: body }),
};

/** agents.beats: refreshes last_heartbeat (never moves it back). */
export const beatsCommand: CommandSpec<AgentsState, typeof BeatsBody, { applied: number }> = {
  kind: "agents.beats",
  schema: BeatsBody,
  apply(state, body) {
    const changes: RowChange[] = [];
    for (const beat of body.beats) {
      const agent = state.get(beat.id);
      if (agent === undefined || (agent.lastHeartbeatMs ?? -1) >= beat.at) continue;
      const updated: Agent = { ...agent, lastHeartbeatMs: beat.at };
      state.put(updated);
      changes.push(agentChange(updated));
    }
    return accept({ applied: changes.length }, changes);
  },
  entryType: () => "juno.agent.beats",
  logView: (body) => ({ data: { count: body.beats.length } }),
};

/** What a sync did. */
export interface Synced {
  readonly added: number;
  readonly updated: number;
  readonly removed: number;
  /** Upserts skipped: the name+endpoint belongs to an agent registered another way, or the limit. */
  readonly skipped: number;
}

/** agents.sync: a discovery source's view applied to the agents it owns (never to others). */
export const syncCommand: CommandSpec<AgentsState, typeof SyncBody, Synced> = {
  kind: "agents.sync",
  schema: SyncBody,
  check(body) {
    for (const upsert of body.upserts) {
      if (upsert.source !== body.source) return `upsert ${upsert.name} is not from ${body.source}`;
      const problem = registrationProblem(upsert);
      if (problem !== null) return `upsert ${upsert.name}: ${problem}`;
    }
    return null;
  },
  apply(state, body, context) {
    const changes: RowChange[] = [];
    let added = 0;
    let updated = 0;
    let removed = 0;
    let skipped = 0;
    for (const key of body.removals) {
      const agent = state.bySource(key);
      if (agent === undefined || agent.source !== body.source) continue;
      state.remove(agent.id);
      changes.push({ table: "agents", op: "delete", key: { id: agent.id } });
      removed++;
    }
    for (const upsert of body.upserts) {
      const owned = state.bySource(upsert.source_key!);
      const byName = state.byName(upsert.name, upsert.endpoint);
      const taken = byName !== undefined && byName.id !== owned?.id;
      const full = owned === undefined && state.size >= AGENT_LIMITS.agents;
      if (taken || full || (owned === undefined && state.get(upsert.id) !== undefined)) {
        skipped++;
        continue;
      }
      const agent = registered(upsert, owned, context.timestamp);
      state.put(agent);
      changes.push(agentChange(agent));
      if (owned === undefined) added++;
      else updated++;
    }
    return accept({ added, updated, removed, skipped }, changes);
  },
  entryType: () => "juno.agent.sync",
  logView: (body) => ({
    data: { source: body.source, upserts: body.upserts.length, removals: body.removals.length },
  }),
};

/** The agent a registration makes: new, or `existing` with what it can do updated. */
function registered(body: Registration, existing: Agent | undefined, timestamp: number): Agent {
  const healthCheck: HealthCheckSpec = {
    type: body.health_check.type,
    url: body.health_check.url,
    successBeforePassing: body.health_check.success_before_passing,
    failuresBeforeCritical: body.health_check.failures_before_critical,
  };
  return {
    id: existing?.id ?? body.id,
    name: body.name,
    endpoint: body.endpoint,
    team: body.team,
    skills: [...body.skills],
    capacity: body.capacity,
    weight: body.weight,
    labels: body.labels.map(([key, value]) => [key, value] as const),
    metadata: body.metadata as JsonValue,
    healthCheck,
    delivery: body.delivery ?? PULL,
    agentCardUrl: body.agent_card_url,
    source: body.source,
    sourceKey: body.source_key,
    status: existing?.status ?? ("healthy" satisfies LiveStatus),
    statusSinceMs: existing?.statusSinceMs ?? timestamp,
    statusReason: existing?.statusReason ?? "registered",
    draining: existing?.draining ?? false,
    // Registering counts as being heard from: the seed's last_heartbeat is NOT NULL.
    lastHeartbeatMs: Math.max(existing?.lastHeartbeatMs ?? 0, timestamp),
    registeredAtMs: existing?.registeredAtMs ?? timestamp,
    updatedAtMs: timestamp,
  };
}

/** How a registration (and the API) writes an agent's health check: the inverse of `registered`'s. */
export function healthCheckBody(check: HealthCheckSpec): Registration["health_check"] {
  return {
    type: check.type,
    url: check.url,
    success_before_passing: check.successBeforePassing,
    failures_before_critical: check.failuresBeforeCritical,
  };
}

/** The seed's agents row of `agent` (capabilities and metadata as JSON, times in ms). */
export function agentTableRow(agent: Agent): Row {
  return {
    id: agent.id,
    name: agent.name,
    endpoint: agent.endpoint,
    capabilities: JSON.stringify({
      skills: agent.skills,
      capacity: agent.capacity,
      weight: agent.weight,
      labels: Object.fromEntries(agent.labels),
    }),
    status: agent.status,
    last_heartbeat: agent.lastHeartbeatMs ?? agent.registeredAtMs,
    metadata: agent.metadata === null ? null : JSON.stringify(agent.metadata),
    team: agent.team,
    source: agent.source,
    status_since: agent.statusSinceMs,
    registered_at: agent.registeredAtMs,
  };
}

function agentChange(agent: Agent): RowChange {
  return { table: "agents", op: "upsert", row: agentTableRow(agent) };
}
