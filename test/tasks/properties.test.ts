// Property tests (fixed seeds) of the queue and placement, beside the example tests in queue.test.ts
// and placement.test.ts: random team sets with random weights flooding one level get shares within
// 5% of weight / sum(weights); with aging on, one low-priority task under random high-priority
// floods is dispatched by the time it has aged to the top level (plus at most one dispatch per
// flooding team that ties it there), and starves without aging; and consistent hashing over random
// agent sets moves only the new agent's keys (about 1/(n+1) of them) when one joins, and only the
// leaving agent's keys when one leaves.
//
// Strict priority is not repeated here: queue.test.ts already checks it as a property (every walk
// over random operations, with and without aging and skipped teams, against a reference).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FairQueue, MAX_PRIORITY } from "../../src/tasks/queue.js";
import { emptyMemory, place, type PlacementAgent, type PlacementLoad } from "../../src/tasks/placement.js";
import { dispatchFirst } from "../support/fair-queue.js";

describe("FairQueue weighted fair sharing (property)", () => {
  const DISPATCHES = 2_400;

  it("gives each of 2-5 teams flooding one level a share within 0.05 of weight / sum(weights)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), { minLength: 2, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 5, maxLength: 5 }),
        fc.integer({ min: 0, max: MAX_PRIORITY }),
        fc.constantFrom(null, 1_000),
        (teams, weightList, priority, agingMs) => {
          const weights = new Map(teams.map((team, index) => [team, weightList[index]!]));
          const queue = new FairQueue({ agingMs, teamWeight: (team) => weights.get(team)! });
          // Interleaved arrivals, enough of every team that none runs dry before the end.
          let seq = 0;
          for (let n = 0; n < DISPATCHES; n += 1)
            for (const team of teams) {
              queue.add({ id: `${team}-${n}`, team, priority, enqueuedAtMs: 0, seq });
              seq += 1;
            }
          const counts = new Map<string, number>();
          for (let n = 0; n < DISPATCHES; n += 1) {
            const chosen = dispatchFirst(queue, 0)!;
            counts.set(chosen.team, (counts.get(chosen.team) ?? 0) + 1);
          }
          const total = [...weights.values()].reduce((sum, weight) => sum + weight, 0);
          for (const [team, weight] of weights) {
            const share = (counts.get(team) ?? 0) / DISPATCHES;
            expect(
              Math.abs(share - weight / total),
              `team ${team} of ${JSON.stringify([...weights])}`,
            ).toBeLessThanOrEqual(0.05);
          }
        },
      ),
      { seed: 0x7a5c_0001, numRuns: 40 },
    );
  });
});

describe("FairQueue aging (property)", () => {
  interface Flood {
    readonly agingMs: number;
    /** One dispatch every tickMs. */
    readonly tickMs: number;
    readonly lowPriority: number;
    /** How far above the low task the flood is (the flood's priority is lowPriority + this). */
    readonly lift: number;
    /** When the low task arrives, in ticks: a backlog of flood tasks is already there. */
    readonly lowAtTick: number;
    /** The flooding teams and their weights. */
    readonly floodTeams: readonly (readonly [string, number])[];
    /** Flood tasks arriving at each tick (cycled): at least one, so the flood never drains. */
    readonly arrivals: readonly number[];
    readonly quietTeam: string;
  }

  const floodArbitrary: fc.Arbitrary<Flood> = fc
    .record({
      agingMs: fc.integer({ min: 10, max: 400 }),
      tickMs: fc.integer({ min: 1, max: 50 }),
      lowPriority: fc.integer({ min: 0, max: MAX_PRIORITY - 1 }),
      lift: fc.integer({ min: 1, max: MAX_PRIORITY }),
      lowAtTick: fc.integer({ min: 0, max: 30 }),
      floodTeams: fc.uniqueArray(
        fc.tuple(fc.constantFrom("fa", "fb", "fc", "zz"), fc.integer({ min: 1, max: 5 })),
        {
          minLength: 1,
          maxLength: 3,
          selector: ([team]) => team,
        },
      ),
      arrivals: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 20 }),
      // Named before or after the flooding teams, so ties by name go either way.
      quietTeam: fc.constantFrom("a-quiet", "q-quiet", "zzz-quiet"),
    })
    .map((flood) => ({ ...flood, lift: Math.min(flood.lift, MAX_PRIORITY - flood.lowPriority) }));

  /**
   * Runs `flood` for `ticks` ticks: at each, that tick's flood tasks arrive (spread over the flood
   * teams), the low task too at its tick, then one task is dispatched. Returns the tick at which
   * the low task was dispatched, or null.
   */
  function lowDispatchedAt(flood: Flood, agingMs: number | null, ticks: number): number | null {
    const weights = new Map(flood.floodTeams);
    const queue = new FairQueue({ agingMs, teamWeight: (team) => weights.get(team) ?? 1 });
    let seq = 0;
    for (let tick = 0; tick < ticks; tick += 1) {
      const nowMs = tick * flood.tickMs;
      const arriving = flood.arrivals[tick % flood.arrivals.length]!;
      for (let n = 0; n < arriving; n += 1) {
        const [team] = flood.floodTeams[(seq + n) % flood.floodTeams.length]!;
        const priority = flood.lowPriority + flood.lift;
        queue.add({ id: `flood-${seq}`, team, priority, enqueuedAtMs: nowMs, seq });
        seq += 1;
      }
      if (tick === flood.lowAtTick) {
        queue.add({
          id: "low",
          team: flood.quietTeam,
          priority: flood.lowPriority,
          enqueuedAtMs: nowMs,
          seq,
        });
        seq += 1;
      }
      const chosen = dispatchFirst(queue, nowMs);
      if (chosen?.id === "low") return tick;
    }
    return null;
  }

  /**
   * The bound: the low task reaches the top level (MAX_PRIORITY) after (9 - priority) * agingMs
   * of waiting, whatever the flood does. There it competes by pass: its team has never been
   * charged at that level, so its pass counts as the level's V, the least any team's can be;
   * only a flooding team whose pass is also exactly V and whose name sorts first can go before
   * it, and once, since that dispatch puts its pass above V. So it goes at the first dispatch at
   * or after that time, or at most one dispatch later per flooding team. The arrival rate does not
   * loosen this: more arrivals only make the backlog longer, and the backlog ages behind it.
   */
  function boundTick(flood: Flood): number {
    const topAtMs = flood.lowAtTick * flood.tickMs + (MAX_PRIORITY - flood.lowPriority) * flood.agingMs;
    return Math.ceil(topAtMs / flood.tickMs) + flood.floodTeams.length;
  }

  it("dispatches the low task once it has aged to the top level, within one dispatch per flooding team", () => {
    fc.assert(
      fc.property(floodArbitrary, (flood) => {
        const bound = boundTick(flood);
        const at = lowDispatchedAt(flood, flood.agingMs, bound + 20);
        expect(at).not.toBeNull();
        expect(at!).toBeLessThanOrEqual(bound);
        expect(at!).toBeGreaterThanOrEqual(flood.lowAtTick);
      }),
      { seed: 0x7a5c_0002, numRuns: 150 },
    );
  });

  it("starves the same low task when aging is off (so the bound above is aging's doing)", () => {
    fc.assert(
      fc.property(floodArbitrary, (flood) => {
        expect(lowDispatchedAt(flood, null, boundTick(flood) + 20)).toBeNull();
      }),
      { seed: 0x7a5c_0002, numRuns: 150 },
    );
  });
});

describe("consistent_hash placement (property)", () => {
  function agent(id: string): PlacementAgent {
    return {
      id,
      team: "t",
      skills: [],
      labels: [],
      capacity: 1_000_000,
      weight: null,
      status: "healthy",
      draining: false,
    };
  }
  const idle: PlacementLoad = { active: () => 0, admits: () => true };

  /** Where each key goes among `pool`. */
  function homes(pool: readonly PlacementAgent[], keys: readonly string[]): (string | null)[] {
    return keys.map((key) => {
      const placed = place(
        {
          requirements: { skills: [], team: null, labels: [] },
          strategy: "consistent_hash",
          affinityKey: key,
        },
        pool,
        idle,
        emptyMemory(),
      );
      return placed.ok ? placed.agentId : null;
    });
  }

  const KEYS = 2_000;
  const setup = fc.record({
    ids: fc.uniqueArray(fc.uuid(), { minLength: 4, maxLength: 31 }),
    keyPrefix: fc.string({ maxLength: 8 }),
    pick: fc.nat(),
  });

  /**
   * The tolerance. Placement is rendezvous hashing (highest random weight): every agent gets a
   * score per key and the highest wins; there are no virtual nodes (the count is, in effect, 1 per
   * agent, with nothing to tune). A new agent wins a key with probability 1/(n+1), so the moved
   * share is Binomial(2,000, 1/(n+1)) / 2,000: at n = 30 its standard deviation is 0.4% (12% of
   * the mean), at n = 3 it is 1% (4% of the mean). 1.5/(n+1) + 0.01 is more than four standard
   * deviations above the mean at every n; the floor, 0.5/(n+1) - 0.01, catches a new agent that
   * takes (almost) no keys.
   */
  const most = (n: number) => 1.5 / (n + 1) + 0.01;
  const least = (n: number) => 0.5 / (n + 1) - 0.01;

  it("moves only keys to a joining agent, about 1/(n+1) of them, for 3 to 30 agents", () => {
    fc.assert(
      fc.property(setup, ({ ids, keyPrefix }) => {
        const newcomer = agent(ids[ids.length - 1]!);
        const agents = ids.slice(0, -1).map(agent);
        const n = agents.length;
        const keys = Array.from({ length: KEYS }, (_, i) => `${keyPrefix}${i}`);
        const before = homes(agents, keys);
        const after = homes([newcomer, ...agents], keys);
        expect(before.every((home) => home !== null)).toBe(true);
        const moved = after.filter((home, i) => home !== before[i]);
        expect(moved.every((home) => home === newcomer.id)).toBe(true);
        expect(moved.length / KEYS).toBeLessThanOrEqual(most(n));
        expect(moved.length / KEYS).toBeGreaterThanOrEqual(least(n));
      }),
      { seed: 0x7a5c_0003, numRuns: 60 },
    );
  });

  it("moves only the leaving agent's keys when one of 3 to 30 agents leaves, and they come back when it rejoins", () => {
    fc.assert(
      fc.property(setup, ({ ids, keyPrefix, pick }) => {
        const agents = ids.slice(0, -1).map(agent);
        const leaving = agents[pick % agents.length]!;
        const staying = agents.filter((each) => each !== leaving);
        const keys = Array.from({ length: KEYS }, (_, i) => `${keyPrefix}${i}`);
        const before = homes(agents, keys);
        const after = homes(staying, keys);
        // Keys it had went elsewhere; every other key stayed where it was.
        const wrong = keys.filter((_, i) =>
          before[i] === leaving.id ? after[i] === leaving.id : after[i] !== before[i],
        );
        expect(wrong).toEqual([]);
        expect(after.every((home) => home !== null)).toBe(true);
        // Its keys are about 1/n of all, like anyone's.
        const had = before.filter((home) => home === leaving.id).length / KEYS;
        expect(had).toBeLessThanOrEqual(most(agents.length - 1));
        expect(had).toBeGreaterThanOrEqual(least(agents.length - 1));
        // Back again, in another order: exactly the old homes.
        expect(homes([...staying].reverse().concat(leaving), keys)).toEqual(before);
      }),
      { seed: 0x7a5c_0004, numRuns: 60 },
    );
  });
});
