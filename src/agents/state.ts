/**
 * Agents: the replicated registry of every agent of every team (what it can do, where it is
 * reached, how it is checked) and its health status. Only registrations, removals and status
 * transitions are replicated; heartbeats live in the leader's memory (see health/), and
 * `lastHeartbeatMs` is refreshed by one batched entry at most every health-check interval.
 *
 * Rows are kept twice: as JSON text in a Table (snapshots read it a slice at a time, consistent
 * while later entries apply) and decoded, frozen, in a Map with indexes by name+endpoint, by
 * skill and by source key, so reads on the hot path (heartbeats, resolve, placement) never decode.
 */

import Type, { type Static } from "typebox";
import {
  SnapshotError,
  Table,
  checkedRestorer,
  type Cursor,
  type SectionRow,
  type JsonValue,
  type StateSection,
} from "../control/index.js";

/** Agent status values (fixed API names). */
export const AGENT_STATUSES = ["healthy", "degraded", "suspect", "failed", "deregistered"] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];
/** Statuses an agent in the registry can have (deregistered agents leave it). */
export type LiveStatus = Exclude<AgentStatus, "deregistered">;

/** Where an agent came from. */
export const AGENT_SOURCES = ["custom", "dns", "consul", "kubernetes", "agent_card"] as const;
export type AgentSource = (typeof AGENT_SOURCES)[number];

/** How the leader checks an agent besides its heartbeats. */
/** How an agent takes its tasks. */
export interface Delivery {
  readonly mode: "pull" | "push";
  /** Where the leader POSTs tasks (push only). */
  readonly url: string | null;
}

/** Agents poll unless they register otherwise. */
export const PULL: Delivery = { mode: "pull", url: null };

export interface HealthCheckSpec {
  readonly type: "http" | "tcp" | "none";
  /** The URL an http check GETs (null: `{endpoint}/health`). */
  readonly url: string | null;
  /** Per-agent hysteresis (null: the cluster default). */
  readonly successBeforePassing: number | null;
  readonly failuresBeforeCritical: number | null;
}

/** One agent as the state holds it. Labels are pairs, so a label key is data and never an object key. */
export interface Agent {
  readonly id: string;
  readonly name: string;
  readonly endpoint: string;
  readonly team: string;
  readonly skills: readonly string[];
  readonly capacity: number;
  readonly weight: number | null;
  readonly labels: readonly (readonly [string, string])[];
  readonly metadata: JsonValue | null;
  readonly healthCheck: HealthCheckSpec;
  /** How it takes its tasks: it polls for them, or juno's leader POSTs them to `url`. */
  readonly delivery: Delivery;
  readonly agentCardUrl: string | null;
  readonly source: AgentSource;
  /** The key its discovery source knows it by (null for agents registered through the API). */
  readonly sourceKey: string | null;
  readonly status: LiveStatus;
  readonly statusSinceMs: number;
  readonly statusReason: string;
  readonly draining: boolean;
  readonly lastHeartbeatMs: number | null;
  readonly registeredAtMs: number;
  readonly updatedAtMs: number;
}

const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

/** An agent as a snapshot row, checked on restore. */
export const AgentRow = Type.Object(
  {
    id: Text(36),
    name: Text(100),
    endpoint: Text(255),
    team: Text(100),
    skills: Type.Array(Text(100), { maxItems: 256 }),
    capacity: Type.Integer({ minimum: 1 }),
    weight: Nullable(Type.Number({ minimum: 0 })),
    labels: Type.Array(Type.Tuple([Text(100), Type.String({ maxLength: 255 })]), { maxItems: 256 }),
    metadata: Type.Unknown(),
    healthCheck: Type.Object(
      {
        type: Type.Union([Type.Literal("http"), Type.Literal("tcp"), Type.Literal("none")]),
        url: Nullable(Text(2048)),
        successBeforePassing: Nullable(Type.Integer({ minimum: 1 })),
        failuresBeforeCritical: Nullable(Type.Integer({ minimum: 1 })),
      },
      { additionalProperties: false },
    ),
    // Optional: rows of snapshots taken before push delivery existed are pull agents.
    delivery: Type.Optional(
      Type.Object(
        { mode: Type.Union([Type.Literal("pull"), Type.Literal("push")]), url: Nullable(Text(2048)) },
        { additionalProperties: false },
      ),
    ),
    agentCardUrl: Nullable(Text(2048)),
    source: Type.Union([
      Type.Literal("custom"),
      Type.Literal("dns"),
      Type.Literal("consul"),
      Type.Literal("kubernetes"),
      Type.Literal("agent_card"),
    ]),
    sourceKey: Nullable(Text(512)),
    status: Type.Union([
      Type.Literal("healthy"),
      Type.Literal("degraded"),
      Type.Literal("suspect"),
      Type.Literal("failed"),
    ]),
    statusSinceMs: Type.Integer(),
    statusReason: Type.String({ maxLength: 500 }),
    draining: Type.Boolean(),
    lastHeartbeatMs: Nullable(Type.Integer()),
    registeredAtMs: Type.Integer(),
    updatedAtMs: Type.Integer(),
  },
  { additionalProperties: false },
);

/** The key that makes a registration idempotent. */
export function registrationKey(name: string, endpoint: string): string {
  return `${name}\u0000${endpoint}`;
}

/** Statuses kept per agent for its health history. */
export const STATUS_HISTORY = 20;

/** One status an agent took, when, and why. */
export interface StatusChange {
  readonly status: LiveStatus;
  readonly sinceMs: number;
  readonly reason: string;
}

/** The agents module's state. */
export class AgentsState {
  private readonly rows = new Table<string, Agent>();
  private readonly agents = new Map<string, Agent>();
  private readonly byRegistration = new Map<string, string>();
  private readonly bySourceKey = new Map<string, string>();
  private readonly bySkill = new Map<string, Set<string>>();
  /** Bumped whenever an agent is added or removed, so watchers can tell cheaply whether the set moved. */
  membershipVersion = 0;
  /** Bumped on every change at all. */
  version = 0;
  /**
   * Each agent's recent statuses, oldest first, as the applied entries set them: view only (not
   * in snapshots, so a replica restored from one starts each agent's history afresh).
   */
  private readonly histories = new Map<string, StatusChange[]>();

  get size(): number {
    return this.agents.size;
  }

  get(id: string): Agent | undefined {
    return this.agents.get(id);
  }

  /** The agent registered under `name` at `endpoint`, if any. */
  byName(name: string, endpoint: string): Agent | undefined {
    const id = this.byRegistration.get(registrationKey(name, endpoint));
    return id === undefined ? undefined : this.agents.get(id);
  }

  /** The agent a discovery source knows by `key`, if any. */
  bySource(key: string): Agent | undefined {
    const id = this.bySourceKey.get(key);
    return id === undefined ? undefined : this.agents.get(id);
  }

  /** Every agent, in registration order. */
  all(): IterableIterator<Agent> {
    return this.agents.values();
  }

  /** The ids of agents that have `skill`. */
  withSkill(skill: string): ReadonlySet<string> {
    return this.bySkill.get(skill) ?? EMPTY;
  }

  /** Adds or replaces an agent (its id decides which). */
  put(agent: Agent): void {
    const frozen = Object.freeze(agent);
    const previous = this.agents.get(agent.id);
    if (previous !== undefined) this.unindex(previous);
    else this.membershipVersion++;
    if (previous?.status !== agent.status || previous.statusSinceMs !== agent.statusSinceMs)
      this.remember(agent);
    this.agents.set(agent.id, frozen);
    this.rows.set(agent.id, frozen);
    this.index(frozen);
    this.version++;
  }

  /** An agent's recent statuses, oldest first (at most STATUS_HISTORY). */
  history(id: string): readonly StatusChange[] {
    return this.histories.get(id) ?? [];
  }

  private remember(agent: Agent): void {
    let history = this.histories.get(agent.id);
    if (history === undefined) this.histories.set(agent.id, (history = []));
    history.push({ status: agent.status, sinceMs: agent.statusSinceMs, reason: agent.statusReason });
    if (history.length > STATUS_HISTORY) history.shift();
  }

  /** Removes an agent; returns it, or undefined when there was none. */
  remove(id: string): Agent | undefined {
    const agent = this.agents.get(id);
    if (agent === undefined) return undefined;
    this.histories.delete(id);
    this.unindex(agent);
    this.agents.delete(id);
    this.rows.delete(id);
    this.membershipVersion++;
    this.version++;
    return agent;
  }

  /** The snapshot's rows: the JSON text of each agent, consistent as of this call. */
  sectionRows(): Cursor<SectionRow> {
    return this.rows.rowCursor();
  }

  /** The projection's rows, consistent as of this call. */
  cursor<T>(view: (agent: Agent) => T): Cursor<T> {
    return this.rows.cursor((_id, agent) => view(agent));
  }

  /** Takes a restored row (already checked) and its text. */
  restore(agent: Agent, text: string): void {
    const frozen = Object.freeze(agent);
    this.agents.set(agent.id, frozen);
    this.rows.setText(agent.id, text);
    this.index(frozen);
    this.membershipVersion++;
    this.version++;
  }

  private index(agent: Agent): void {
    this.byRegistration.set(registrationKey(agent.name, agent.endpoint), agent.id);
    if (agent.sourceKey !== null) this.bySourceKey.set(agent.sourceKey, agent.id);
    for (const skill of agent.skills) {
      let ids = this.bySkill.get(skill);
      if (ids === undefined) this.bySkill.set(skill, (ids = new Set()));
      ids.add(agent.id);
    }
  }

  private unindex(agent: Agent): void {
    this.byRegistration.delete(registrationKey(agent.name, agent.endpoint));
    if (agent.sourceKey !== null) this.bySourceKey.delete(agent.sourceKey);
    for (const skill of agent.skills) {
      const ids = this.bySkill.get(skill);
      ids?.delete(agent.id);
      if (ids?.size === 0) this.bySkill.delete(skill);
    }
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** Snapshot section "agents", version 1: one row per agent. */
export const agentsSection: StateSection<AgentsState> = {
  version: 1,
  empty: () => new AgentsState(),
  rows: (state): Cursor<SectionRow> => state.sectionRows(),
  restore: checkedRestorer("agents", AgentRow, () => {
    const state = new AgentsState();
    return {
      add: (row: Static<typeof AgentRow>, text: string) => {
        if (state.get(row.id) !== undefined)
          throw new SnapshotError("invalid_row", `section agents: agent ${row.id} appears twice`);
        state.restore({ ...row, delivery: row.delivery ?? PULL } as Agent, text);
      },
      finish: () => state,
    };
  }),
};
