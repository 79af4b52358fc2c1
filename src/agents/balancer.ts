/**
 * Choosing one agent among several that can serve a request: pure functions, one per strategy.
 *
 *   round_robin            each in turn
 *   weighted_round_robin   smooth weighted round robin (nginx's): by weight, else capacity; no bursts
 *   least_connections      fewest requests in flight per unit of capacity (the default)
 *   consistent_hash        rendezvous hashing on an affinity key: stable, and when an agent joins or
 *                          leaves only the keys it wins or held move
 *
 * Candidates come in id order so every choice is deterministic given the same inputs.
 */

import { finalize32, fnv1a } from "../control/hash.js";

/** The strategies (fixed API names). */
export const STRATEGIES = [
  "round_robin",
  "weighted_round_robin",
  "least_connections",
  "consistent_hash",
] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** What the balancer knows of one candidate. */
export interface Candidate {
  readonly id: string;
  readonly capacity: number;
  readonly weight: number | null;
  /** Requests (or tasks) in flight on it now. */
  readonly active: number;
}

/** What a strategy remembers between choices (per skill, say). */
export class BalancerMemory {
  /** round_robin: the next position. */
  next = 0;
  /** weighted_round_robin: each candidate's current weight. */
  readonly current = new Map<string, number>();
}

/** Picks one of `candidates` (non-empty, in id order), or null when there are none. */
export function choose(
  strategy: Strategy,
  candidates: readonly Candidate[],
  memory: BalancerMemory,
  affinityKey: string | null,
): Candidate | null {
  if (candidates.length === 0) return null;
  switch (strategy) {
    case "round_robin":
      return roundRobin(candidates, memory);
    case "weighted_round_robin":
      return weightedRoundRobin(candidates, memory);
    case "least_connections":
      return leastConnections(candidates);
    case "consistent_hash":
      return affinityKey === null ? leastConnections(candidates) : rendezvous(candidates, affinityKey);
  }
}

function roundRobin(candidates: readonly Candidate[], memory: BalancerMemory): Candidate {
  const chosen = candidates[memory.next % candidates.length]!;
  memory.next = (memory.next + 1) % Number.MAX_SAFE_INTEGER;
  return chosen;
}

/** The weight a candidate is balanced by: its weight when it has one, else its capacity. */
export function weightOf(candidate: Candidate): number {
  return candidate.weight ?? candidate.capacity;
}

function weightedRoundRobin(candidates: readonly Candidate[], memory: BalancerMemory): Candidate {
  let total = 0;
  let best: Candidate | null = null;
  let bestWeight = -Infinity;
  const present = new Set<string>();
  for (const candidate of candidates) {
    present.add(candidate.id);
    const weight = Math.max(0, weightOf(candidate));
    total += weight;
    const current = (memory.current.get(candidate.id) ?? 0) + weight;
    memory.current.set(candidate.id, current);
    if (current > bestWeight) {
      best = candidate;
      bestWeight = current;
    }
  }
  // Agents that left are forgotten, so memory stays bounded by the candidates.
  for (const id of memory.current.keys()) if (!present.has(id)) memory.current.delete(id);
  memory.current.set(best!.id, bestWeight - total);
  return best!;
}

function leastConnections(candidates: readonly Candidate[]): Candidate {
  let best = candidates[0]!;
  for (const candidate of candidates) {
    const load = candidate.active / Math.max(1, candidate.capacity);
    const bestLoad = best.active / Math.max(1, best.capacity);
    if (load < bestLoad) best = candidate;
  }
  return best;
}

function rendezvous(candidates: readonly Candidate[], key: string): Candidate {
  let best = candidates[0]!;
  let bestScore = -Infinity;
  for (const candidate of candidates) {
    // Weighted rendezvous: -w / ln(u) with u the hash in (0, 1).
    const u = (hash32(`${candidate.id}\u0000${key}`) + 0.5) / 4_294_967_296;
    const score = -Math.max(weightOf(candidate), 1e-9) / Math.log(u);
    if (score > bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

/** FNV-1a over UTF-16 code units, then a murmur-style finaliser so nearby keys spread. */
export function hash32(text: string): number {
  return finalize32(fnv1a(text));
}
