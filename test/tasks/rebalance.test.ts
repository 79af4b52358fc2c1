// Proves rebalance plans by strategy, on states built by applying real entries: least_connections
// evens out share of capacity, round_robin evens out counts, weighted_round_robin evens out share
// of weight, and consistent_hash sends keyed tasks to the agent their key now hashes to (only
// those, and a second plan after the moves finds nothing to move); every plan is checked again
// by the rebalance command, and each move is a new attempt on the new agent.

import { describe, expect, it } from "vitest";
import { agentsState, registerCommand, type Registration } from "../../src/agents/index.js";
import { ControlState, ModuleRegistry } from "../../src/control/index.js";
import { planRebalance } from "../../src/tasks/rebalance.js";
import { rebalanceCommand, submitCommand, tasksState, type SubmitBody } from "../../src/tasks/index.js";
import { agentRegistration, sequentialUuid, taskSubmission } from "../support/fixtures.js";
import { LogBuilder } from "../support/log-builder.js";

const registry = new ModuleRegistry([agentsState, tasksState]);

const uuid = sequentialUuid;

function registration(id: string, capacity: number, weight: number | null = null): Registration {
  return agentRegistration({ id, capacity, weight });
}

function submission(affinityKey: string | null = null): SubmitBody {
  return taskSubmission({
    team: "web",
    affinity_key: affinityKey,
    strategy: affinityKey === null ? "least_connections" : "consistent_hash",
  });
}

/** `count` tasks all on agent A (the only agent then), and then agent B joins. */
function lopsided(
  a: Registration,
  b: Registration,
  keys: readonly (string | null)[],
): { state: ControlState; log: LogBuilder } {
  const log = new LogBuilder();
  const state = new ControlState(registry);
  state.apply(log.add(registerCommand, a));
  for (const key of keys) state.apply(log.add(submitCommand, submission(key)));
  state.apply(log.add(registerCommand, b));
  for (const id of state.of(tasksState).heldBy(a.id))
    expect(state.of(tasksState).get(id)!.status).toBe("assigned");
  return { state, log };
}

function plan(state: ControlState, strategy: Parameters<typeof planRebalance>[4]) {
  return planRebalance(state.of(tasksState), state.of(agentsState), 10_000, false, strategy);
}

const unkeyed = (n: number): null[] => Array.from({ length: n }, () => null);

describe("rebalance strategies", () => {
  it("least_connections evens out share of capacity", () => {
    const a = registration(uuid(), 8);
    const b = registration(uuid(), 8);
    const { state } = lopsided(a, b, unkeyed(8));
    const moves = plan(state, "least_connections");
    expect(moves).toHaveLength(4);
    expect(moves.every((move) => move.from === a.id && move.to === b.id)).toBe(true);
    // B of capacity 2 beside A of 8 holding 4: both are at half already.
    const small = lopsided(registration(uuid(), 8), registration(uuid(), 2), unkeyed(4));
    expect(plan(small.state, "least_connections")).toEqual([]);
  });

  it("round_robin evens out counts, whatever the capacities", () => {
    const a = registration(uuid(), 8);
    const b = registration(uuid(), 2);
    const { state } = lopsided(a, b, unkeyed(4));
    expect(plan(state, "round_robin")).toHaveLength(2);
  });

  it("weighted_round_robin evens out share of weight", () => {
    const a = registration(uuid(), 8, 1);
    const b = registration(uuid(), 8, 3);
    const { state } = lopsided(a, b, unkeyed(8));
    // 2 on A (weight 1) and 6 on B (weight 3); least_connections would stop at 4 and 4.
    expect(plan(state, "weighted_round_robin")).toHaveLength(6);
    expect(plan(state, "least_connections")).toHaveLength(4);
  });

  it("consistent_hash moves keyed tasks to their key's agent and no others, and is stable", () => {
    const a = registration(uuid(), 64);
    const b = registration(uuid(), 64);
    const keys = Array.from({ length: 40 }, (_, i) => `customer-${i}`);
    const { state, log } = lopsided(a, b, [...keys, null, null]);
    const moves = plan(state, "consistent_hash");
    const tasks = state.of(tasksState);
    // About half the keys now hash to B; the two unkeyed tasks may move to even out the rest.
    const keyed = moves.filter((move) => tasks.get(move.id)!.affinityKey !== null);
    expect(keyed.length).toBeGreaterThan(5);
    expect(keyed.length).toBeLessThan(35);
    expect(moves.length - keyed.length).toBeLessThanOrEqual(2);
    for (const move of moves) expect(move).toMatchObject({ from: a.id, to: b.id });
    state.apply(
      log.add(rebalanceCommand, {
        moves: moves.map(({ id, attempt, from, to }) => ({ id, attempt, from, to })),
      }),
    );
    for (const move of moves) {
      const task = state.of(tasksState).get(move.id)!;
      expect(task).toMatchObject({ agentId: b.id, attempt: move.attempt + 1, status: "assigned" });
    }
    const again = plan(state, "consistent_hash").filter(
      (move) => state.of(tasksState).get(move.id)!.affinityKey !== null,
    );
    expect(again).toEqual([]);
    // A new task with a moved key is placed where the key went.
    const moved = state.of(tasksState).get(moves[0]!.id)!;
    const twin = submission(moved.affinityKey);
    state.apply(log.add(submitCommand, twin));
    expect(state.of(tasksState).get(twin.id)!.agentId).toBe(b.id);
  });
});
