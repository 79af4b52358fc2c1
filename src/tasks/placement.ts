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
 *   weighted_round_robin  stride scheduling by weight (else capacity): shares follow weights, interleaved
 *   consistent_hash       rendezvous hashing on the affinity key: the same agent while it stays
 *                         eligible, and only its own keys move when an agent joins or leaves
 *
 * Every choice is independent of the order candidates arrive in (ties go to the smallest id), so
 * a replica that rebuilt its indexes from a snapshot chooses exactly like one that never did.
 */

import type { Strategy } from "../agents/balancer.js";
import { finalize32, fnv1a } from "../control/hash.js";
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
  /** weighted_round_robin: each agent's pass (those ahead of the virtual pass). */
  readonly current: Map<string, number>;
  /** weighted_round_robin: the pass of the last pick. */
  virtualPass: number;
}

export function emptyMemory(): StrategyMemory {
  return { lastId: null, current: new Map(), virtualPass: 0 };
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

/**
 * The agents that could take tasks of one requirement class (matching, healthy, not draining),
 * in id order, with what rendezvous hashing needs precomputed. Built once per class and reused
 * until the registry changes, so a placement looks only at load and breakers.
 */
export interface CandidateSet {
  readonly agents: readonly PlacementAgent[];
  /** Each agent's id hashed, for rendezvous scores. */
  readonly idHashes: Uint32Array;
  /** Why there is nobody, when `agents` is empty. */
  readonly emptyReason: string;
  readonly requirements: Requirements;
}

/** Builds the candidate set of `requirements` among `agents` (any order). */
export function candidateSet(requirements: Requirements, agents: Iterable<PlacementAgent>): CandidateSet {
  const chosen: PlacementAgent[] = [];
  let matching = 0;
  for (const agent of agents) {
    if (!matches(agent, requirements)) continue;
    matching++;
    if (agent.status === "healthy" && !agent.draining) chosen.push(agent);
  }
  chosen.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const idHashes = new Uint32Array(chosen.length);
  chosen.forEach((agent, i) => (idHashes[i] = fnv1a(agent.id)));
  const emptyReason =
    matching === 0
      ? `no agent has ${describe(requirements)}`
      : `no healthy agent that is not draining has ${describe(requirements)}`;
  return { agents: chosen, idHashes, emptyReason, requirements };
}

/** Places one task among `agents` (any order), updating `memory` when it chooses. */
export function place(
  request: PlacementRequest,
  agents: Iterable<PlacementAgent>,
  load: PlacementLoad,
  memory: StrategyMemory,
  seed = "",
): Placement {
  return placeAmong(request, candidateSet(request.requirements, agents), load, memory, seed);
}

/** Candidates least_connections compares before it looks at everyone (power of d choices). */
export const LEAST_CONNECTIONS_SAMPLE = 16;

/**
 * Places one task among a candidate set. `seed` (the task id) picks where least_connections
 * samples, so the same task is placed alike everywhere.
 */
export function placeAmong(
  request: PlacementRequest,
  set: CandidateSet,
  load: PlacementLoad,
  memory: StrategyMemory,
  seed: string,
): Placement {
  const agents = set.agents;
  if (agents.length === 0) return { ok: false, reason: set.emptyReason };
  const usable = (i: number): boolean => {
    const agent = agents[i]!;
    return load.admits(agent.id) && load.active(agent.id) < agent.capacity;
  };
  let chosen: number;
  switch (request.strategy) {
    case "least_connections":
      chosen = leastConnections(set, load, usable, fnv1a(seed));
      break;
    case "round_robin":
      chosen = roundRobin(set, usable, memory);
      break;
    case "weighted_round_robin":
      chosen = weightedRoundRobin(set, usable, memory);
      break;
    case "consistent_hash":
      chosen =
        request.affinityKey === null
          ? leastConnections(set, load, usable, fnv1a(seed))
          : rendezvous(set, usable, fnv1a(request.affinityKey));
      break;
  }
  if (chosen < 0) return { ok: false, reason: whyFull(set, load) };
  return { ok: true, agentId: agents[chosen]!.id };
}

/** The agent rendezvous hashing gives `key` among the set's agents that `usable` admits (null: none). */
export function affinityHome(
  set: CandidateSet,
  key: string,
  usable: (agentId: string) => boolean,
): string | null {
  const chosen = rendezvous(set, (i) => usable(set.agents[i]!.id), fnv1a(key));
  return chosen < 0 ? null : set.agents[chosen]!.id;
}

function whyFull(set: CandidateSet, load: PlacementLoad): string {
  const admitted = set.agents.some((agent) => load.admits(agent.id));
  return admitted
    ? `every agent with ${describe(set.requirements)} is at capacity`
    : `every agent with ${describe(set.requirements)} has its circuit breaker open`;
}

function describe(requirements: Requirements): string {
  const parts: string[] = [];
  parts.push(requirements.skills.length === 0 ? "any skill" : `skills ${requirements.skills.join(", ")}`);
  if (requirements.team !== null) parts.push(`team ${requirements.team}`);
  for (const [key, value] of requirements.labels) parts.push(`label ${key}=${value}`);
  return parts.join(", ");
}

/**
 * The lowest share of capacity in use (ties to the smallest id). Past LEAST_CONNECTIONS_SAMPLE
 * candidates it first compares a window of that many, starting where the seed points, as
 * Envoy's least-request balancer compares a few rather than all; only when none of them has room
 * does it look at everyone, so a free slot anywhere is always found.
 */
function leastConnections(
  set: CandidateSet,
  load: PlacementLoad,
  usable: (i: number) => boolean,
  seed: number,
): number {
  const n = set.agents.length;
  const best = (from: number, count: number): number => {
    let bestIndex = -1;
    let bestShare = Infinity;
    for (let k = 0; k < count; k++) {
      const i = (from + k) % n;
      if (!usable(i)) continue;
      const agent = set.agents[i]!;
      const share = load.active(agent.id) / agent.capacity;
      if (share < bestShare || (share === bestShare && agent.id < set.agents[bestIndex]!.id)) {
        bestIndex = i;
        bestShare = share;
      }
    }
    return bestIndex;
  };
  if (n <= LEAST_CONNECTIONS_SAMPLE) return best(0, n);
  const sampled = best(seed % n, LEAST_CONNECTIONS_SAMPLE);
  return sampled >= 0 ? sampled : best(0, n);
}

function roundRobin(set: CandidateSet, usable: (i: number) => boolean, memory: StrategyMemory): number {
  // The first usable agent after the last one chosen, by id, wrapping around.
  const agents = set.agents;
  const n = agents.length;
  let start = 0;
  if (memory.lastId !== null) {
    let low = 0;
    let high = n;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (agents[mid]!.id <= memory.lastId) low = mid + 1;
      else high = mid;
    }
    start = low % n;
  }
  for (let k = 0; k < n; k++) {
    const i = (start + k) % n;
    if (!usable(i)) continue;
    memory.lastId = agents[i]!.id;
    return i;
  }
  return -1;
}

/** The weight an agent is balanced by: its weight when it has one, else its capacity. */
export function weightOf(agent: PlacementAgent): number {
  return Math.max(0, agent.weight ?? agent.capacity);
}

function weightedRoundRobin(
  set: CandidateSet,
  usable: (i: number) => boolean,
  memory: StrategyMemory,
): number {
  // Stride scheduling: each agent has a pass, the lowest usable pass goes (ties to the smallest
  // id, the id order), and its pass grows by 1 / weight; so shares follow the weights and picks
  // interleave. An agent without a pass (new, or back) starts at the virtual pass, the pass of
  // the last pick, so it gets no burst. Usability is asked only of agents that would win.
  const passes = passesOf(set, memory);
  let bestIndex = -1;
  let bestPass = Infinity;
  for (let i = 0; i < set.agents.length; i++) {
    const pass = Math.max(passes[i]!, memory.virtualPass);
    if (pass < bestPass && usable(i)) {
      bestIndex = i;
      bestPass = pass;
    }
  }
  if (bestIndex < 0) return -1;
  const agent = set.agents[bestIndex]!;
  const next = bestPass + 1 / Math.max(weightOf(agent), 1e-6);
  memory.virtualPass = bestPass;
  memory.current.set(agent.id, next);
  passes[bestIndex] = next;
  if (memory.current.size > 2 * set.agents.length + 64) forgetBehind(memory);
  return bestIndex;
}

/**
 * The passes of a candidate set's agents, in its order: a copy of the memory's, kept beside the
 * set (a set is made per class, as its memory is) and updated with it, so a pick reads an array
 * instead of a map per agent.
 */
const PASSES = new WeakMap<
  CandidateSet,
  { readonly memory: StrategyMemory; readonly passes: Float64Array }
>();

function passesOf(set: CandidateSet, memory: StrategyMemory): Float64Array {
  const known = PASSES.get(set);
  if (known !== undefined && known.memory === memory) return known.passes;
  const passes = new Float64Array(set.agents.length);
  set.agents.forEach((agent, i) => (passes[i] = memory.current.get(agent.id) ?? 0));
  PASSES.set(set, { memory, passes });
  return passes;
}

/** Drops passes at or behind the virtual pass: they count as it anyway. */
function forgetBehind(memory: StrategyMemory): void {
  for (const [id, pass] of memory.current) if (pass <= memory.virtualPass) memory.current.delete(id);
}

function rendezvous(set: CandidateSet, usable: (i: number) => boolean, keyHash: number): number {
  // The highest score among usable agents; usability is asked only of agents that would win.
  let bestIndex = -1;
  let bestScore = -1;
  const salted = Math.imul(keyHash, 0x9e3779b1);
  for (let i = 0; i < set.agents.length; i++) {
    const value = finalize32(set.idHashes[i]! ^ salted);
    if (value > bestScore && usable(i)) {
      bestIndex = i;
      bestScore = value;
    }
  }
  return bestIndex;
}
