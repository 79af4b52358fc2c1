/**
 * Placement: which agent takes a task. A pure function of the agents the committed state knows,
 * their load, their breakers and what the strategy remembers, so every replica places a task on
 * the same agent.
 *
 * Eligible: healthy, not draining, breaker admitting, with every skill asked for, of the team
 * asked for (if any), with every label asked for, and a free slot of its capacity. Among the
 * eligible, by strategy:
 *
 *   least_connections     the lowest share of its capacity in use (the default)
 *   round_robin           the next agent by id after the last one chosen, wrapping around
 *   weighted_round_robin  smooth weighted round robin by weight (else capacity)
 *   consistent_hash       rendezvous hashing on the affinity key: the same agent while it stays
 *                         eligible, and only its own keys move when an agent joins or leaves
 *
 * Every choice is independent of the order candidates arrive in (ties go to the smallest id), so
 * a replica that rebuilt its indexes from a snapshot chooses exactly like one that never did.
 */

import type { Strategy } from "../agents/balancer.js";
import type { LiveStatus } from "../agents/state.js";
import type { Requirements } from "./task.js";

/** What placement knows of one agent. */
export interface PlacementAgent {
  readonly id: string;
  readonly team: string;
  readonly skills: readonly string[];
  readonly labels: readonly (readonly [string, string])[];
  readonly capacity: number;
  readonly weight: number | null;
  readonly status: LiveStatus;
  readonly draining: boolean;
}

/** What placement asks about load and breakers. */
export interface PlacementLoad {
  /** Tasks the agent holds now. */
  active(agentId: string): number;
  /** Whether the agent's breaker lets a new task through. */
  admits(agentId: string): boolean;
}

/** What a strategy remembers between placements (per requirement class), as replicated state. */
export interface StrategyMemory {
  /** round_robin: the id chosen last. */
  lastId: string | null;
  /** weighted_round_robin: each agent's current weight. */
  readonly current: Map<string, number>;
}

export function emptyMemory(): StrategyMemory {
  return { lastId: null, current: new Map() };
}

/** The request placement answers. */
export interface PlacementRequest {
  readonly requirements: Requirements;
  readonly strategy: Strategy;
  readonly affinityKey: string | null;
}

export type Placement =
  { readonly ok: true; readonly agentId: string } | { readonly ok: false; readonly reason: string };

/** Whether `agent` could ever take tasks of `requirements` (status, slots and breaker aside). */
export function matches(agent: PlacementAgent, requirements: Requirements): boolean {
  if (requirements.team !== null && agent.team !== requirements.team) return false;
  for (const skill of requirements.skills) if (!agent.skills.includes(skill)) return false;
  for (const [key, value] of requirements.labels) {
    if (!agent.labels.some(([k, v]) => k === key && v === value)) return false;
  }
  return true;
}

/** Places one task among `agents` (any order), updating `memory` when it chooses. */
export function place(
  request: PlacementRequest,
  agents: Iterable<PlacementAgent>,
  load: PlacementLoad,
  memory: StrategyMemory,
): Placement {
  const eligible: PlacementAgent[] = [];
  let matching = 0;
  let healthy = 0;
  let admitted = 0;
  for (const agent of agents) {
    if (!matches(agent, request.requirements)) continue;
    matching++;
    if (agent.status !== "healthy" || agent.draining) continue;
    healthy++;
    if (!load.admits(agent.id)) continue;
    admitted++;
    if (load.active(agent.id) >= agent.capacity) continue;
    eligible.push(agent);
  }
  if (eligible.length === 0)
    return { ok: false, reason: whyNone(request.requirements, matching, healthy, admitted) };
  const chosen = choose(request, eligible, load, memory);
  return { ok: true, agentId: chosen.id };
}

function whyNone(requirements: Requirements, matching: number, healthy: number, admitted: number): string {
  if (matching === 0) return `no agent has ${describe(requirements)}`;
  if (healthy === 0) return `no healthy agent that is not draining has ${describe(requirements)}`;
  if (admitted === 0) return `every agent with ${describe(requirements)} has its circuit breaker open`;
  return `every agent with ${describe(requirements)} is at capacity`;
}

function describe(requirements: Requirements): string {
  const parts: string[] = [];
  parts.push(requirements.skills.length === 0 ? "any skill" : `skills ${requirements.skills.join(", ")}`);
  if (requirements.team !== null) parts.push(`team ${requirements.team}`);
  for (const [key, value] of requirements.labels) parts.push(`label ${key}=${value}`);
  return parts.join(", ");
}

function choose(
  request: PlacementRequest,
  eligible: readonly PlacementAgent[],
  load: PlacementLoad,
  memory: StrategyMemory,
): PlacementAgent {
  switch (request.strategy) {
    case "least_connections":
      return leastConnections(eligible, load);
    case "round_robin":
      return roundRobin(eligible, memory);
    case "weighted_round_robin":
      return weightedRoundRobin(eligible, memory);
    case "consistent_hash":
      return request.affinityKey === null
        ? leastConnections(eligible, load)
        : rendezvous(eligible, request.affinityKey);
  }
}

function leastConnections(eligible: readonly PlacementAgent[], load: PlacementLoad): PlacementAgent {
  let best = eligible[0]!;
  let bestShare = load.active(best.id) / best.capacity;
  for (let i = 1; i < eligible.length; i++) {
    const agent = eligible[i]!;
    const share = load.active(agent.id) / agent.capacity;
    if (share < bestShare || (share === bestShare && agent.id < best.id)) {
      best = agent;
      bestShare = share;
    }
  }
  return best;
}

function roundRobin(eligible: readonly PlacementAgent[], memory: StrategyMemory): PlacementAgent {
  // The smallest id after the last one chosen; past the largest, the smallest of all.
  let next: PlacementAgent | null = null;
  let smallest = eligible[0]!;
  for (const agent of eligible) {
    if (agent.id < smallest.id) smallest = agent;
    if (memory.lastId !== null && agent.id > memory.lastId && (next === null || agent.id < next.id))
      next = agent;
  }
  const chosen = next ?? smallest;
  memory.lastId = chosen.id;
  return chosen;
}

/** The weight an agent is balanced by: its weight when it has one, else its capacity. */
export function weightOf(agent: PlacementAgent): number {
  return Math.max(0, agent.weight ?? agent.capacity);
}

function weightedRoundRobin(eligible: readonly PlacementAgent[], memory: StrategyMemory): PlacementAgent {
  // nginx's smooth weighted round robin: every candidate gains its weight, the highest current
  // weight wins and gives back the total. Ties go to the smallest id.
  let total = 0;
  let best: PlacementAgent | null = null;
  let bestCurrent = -Infinity;
  const present = new Set<string>();
  for (const agent of eligible) {
    present.add(agent.id);
    const weight = weightOf(agent);
    total += weight;
    const current = (memory.current.get(agent.id) ?? 0) + weight;
    memory.current.set(agent.id, current);
    if (current > bestCurrent || (current === bestCurrent && best !== null && agent.id < best.id)) {
      best = agent;
      bestCurrent = current;
    }
  }
  // Agents no longer eligible start from zero when they return.
  for (const id of [...memory.current.keys()]) if (!present.has(id)) memory.current.delete(id);
  memory.current.set(best!.id, bestCurrent - total);
  return best!;
}

function rendezvous(eligible: readonly PlacementAgent[], key: string): PlacementAgent {
  let best = eligible[0]!;
  let bestScore = score(best.id, key);
  for (let i = 1; i < eligible.length; i++) {
    const agent = eligible[i]!;
    const value = score(agent.id, key);
    if (value > bestScore || (value === bestScore && agent.id < best.id)) {
      best = agent;
      bestScore = value;
    }
  }
  return best;
}

/** Rendezvous score of `key` on agent `id` (FNV-1a over both, then a 32-bit finaliser). */
export function score(id: string, key: string): number {
  let hash = 0x811c9dc5;
  const text = `${id}\u0000${key}`;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
