/**
 * Rebalancing: moving tasks that already sit on an agent to agents with more room. Placement
 * already gives every new task and every freed slot its best agent, so what drifts out of
 * balance is load on agents that joined, left or came back after the work was handed out.
 *
 * The plan is a pure function of one replica's state: while some eligible agent would be less
 * loaded after taking one task from the most loaded holder, the holder's newest movable task goes
 * there. Load is measured by the strategy asked for:
 *
 *   least_connections     tasks over capacity (the default)
 *   round_robin           tasks, so every agent ends up with about as many
 *   weighted_round_robin  tasks over weight (or capacity when it has none)
 *   consistent_hash       a task with an affinity key goes to the agent rendezvous hashing now
 *                         gives its key (the agents that joined take their keys back); the
 *                         others are balanced as least_connections
 * Movable: assigned and not yet taken by its agent, and,
 * with `moveRunning`, running too (its agent hears on its next poll that the attempt is no longer
 * its own). A move is a new attempt on the new agent, so the old attempt is fenced. Apply checks
 * each move again against the state it meets (rebalanceCommand), so a plan made on a lagging
 * replica can be late but never wrong.
 */

import type { Strategy } from "../agents/balancer.js";
import type { AgentsState } from "../agents/state.js";
import { admits } from "../faults/breaker.js";
import { candidatesOf } from "./dispatch.js";
import { affinityHome, matches, weightOf } from "./placement.js";
import type { TasksState } from "./state.js";
import { requirementClass, type Task } from "./task.js";

/** Most moves in one rebalance. */
export const MAX_MOVES = 1_000;

export interface Move {
  readonly id: string;
  readonly attempt: number;
  readonly from: string;
  readonly to: string;
}

/** Whether `agentId` can take `task` now, given `extra` tasks already planned onto it. */
export function canTake(
  tasks: TasksState,
  agents: AgentsState,
  task: Task,
  agentId: string,
  nowMs: number,
  extra = 0,
): boolean {
  const agent = agents.get(agentId);
  if (agent === undefined || agent.status !== "healthy" || agent.draining) return false;
  if (!matches(agent, task.requirements)) return false;
  const breakers = tasks.breakerSettings;
  if (tasks.breaker(agentId).openedAtMs !== null || !admits(tasks.breaker(agentId), breakers, nowMs))
    return false;
  return tasks.active(agentId) + extra < agent.capacity;
}

/** The moves that even out load (see the module comment). */
export function planRebalance(
  tasks: TasksState,
  agents: AgentsState,
  nowMs: number,
  moveRunning: boolean,
  strategy: Strategy = "least_connections",
): Move[] {
  const load = new Map<string, number>();
  for (const id of tasks.holders()) load.set(id, tasks.active(id));
  const size = (id: string): number => {
    const agent = agents.get(id);
    if (agent === undefined) return 1;
    if (strategy === "round_robin") return 1;
    if (strategy === "weighted_round_robin") return Math.max(weightOf(agent), Number.MIN_VALUE);
    return agent.capacity;
  };
  const share = (id: string, delta = 0): number => ((load.get(id) ?? 0) + delta) / size(id);
  const moved = new Set<string>();
  const moves: Move[] = [];
  const record = (move: Move): void => {
    moves.push(move);
    moved.add(move.id);
    load.set(move.from, (load.get(move.from) ?? 0) - 1);
    load.set(move.to, (load.get(move.to) ?? 0) + 1);
  };
  const movable = (task: Task): boolean =>
    task.status === "assigned" || (moveRunning && task.status === "running");
  if (strategy === "consistent_hash") {
    // Keyed tasks go home first; they stay out of the balancing that follows.
    const holders = [...load.keys()].sort();
    for (const from of holders) {
      const keyed = [...tasks.heldBy(from)]
        .map((id) => tasks.get(id)!)
        .filter((task) => task.affinityKey !== null && movable(task))
        .sort((a, b) => a.seq - b.seq);
      for (const task of keyed) {
        moved.add(task.id);
        if (moves.length >= MAX_MOVES) return moves;
        const set = candidatesOf(tasks, agents, task, requirementClass(task.requirements));
        const home = affinityHome(
          set,
          task.affinityKey!,
          (id) =>
            id === from || canTake(tasks, agents, task, id, nowMs, (load.get(id) ?? 0) - tasks.active(id)),
        );
        if (home === null || home === from) continue;
        record({ id: task.id, attempt: task.attempt, from, to: home });
      }
    }
  }
  const healthy = [...agents.all()].filter((agent) => agent.status === "healthy" && !agent.draining);
  while (moves.length < MAX_MOVES) {
    const move = bestMove(tasks, agents, nowMs, moveRunning, load, share, moved, healthy);
    if (move === null) break;
    record(move);
  }
  return moves;
}

function bestMove(
  tasks: TasksState,
  agents: AgentsState,
  nowMs: number,
  moveRunning: boolean,
  load: Map<string, number>,
  share: (id: string, delta?: number) => number,
  moved: ReadonlySet<string>,
  healthy: readonly { id: string }[],
): Move | null {
  // Holders from the most loaded down (ties by id, so every replica plans alike).
  const holders = [...load.keys()]
    .filter((id) => (load.get(id) ?? 0) > 0)
    .sort((a, b) => share(b) - share(a) || (a < b ? -1 : 1));
  for (const from of holders) {
    const movable = [...tasks.heldBy(from)]
      .map((id) => tasks.get(id)!)
      .filter(
        (task) =>
          !moved.has(task.id) && (task.status === "assigned" || (moveRunning && task.status === "running")),
      )
      .sort((a, b) => b.seq - a.seq);
    for (const task of movable) {
      let best: string | null = null;
      for (const agent of healthy) {
        if (agent.id === from) continue;
        const planned = (load.get(agent.id) ?? 0) - tasks.active(agent.id);
        if (!canTake(tasks, agents, task, agent.id, nowMs, planned)) continue;
        // Only a move that leaves the target below where the holder was is worth making.
        if (share(agent.id, 1) >= share(from)) continue;
        if (
          best === null ||
          share(agent.id) < share(best) ||
          (share(agent.id) === share(best) && agent.id < best)
        )
          best = agent.id;
      }
      if (best !== null) return { id: task.id, attempt: task.attempt, from, to: best };
    }
  }
  return null;
}
