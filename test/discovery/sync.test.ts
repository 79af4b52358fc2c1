// Proves that DiscoverySync upserts new and changed agents at once and unchanged ones never, removes
// a missing agent only after it has been missing both for removeAfterMs and from removeAfterMisses
// snapshots in a row, never removes what a snapshot could not read, and (a property) never removes
// an agent whose absences are all shorter than the grace, however its presence flaps.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DiscoverySync,
  type DiscoveredAgent,
  type RegisteredAgent,
  type SyncPlan,
} from "../../src/discovery/index.js";

function agent(key: string, overrides: Partial<DiscoveredAgent> = {}): DiscoveredAgent {
  return {
    key,
    source: "consul",
    name: key,
    endpoint: `http://${key}.example.test:8080`,
    team: "default",
    skills: ["a", "b"],
    capacity: 1,
    weight: null,
    labels: new Map([["zone", "eu"]]),
    healthy: true,
    ...overrides,
  };
}

/** The registry's view of an agent that was upserted from `discovered`. */
function registered(discovered: DiscoveredAgent): RegisteredAgent {
  const { key, name, endpoint, team, skills, capacity, weight, labels } = discovered;
  return { key, name, endpoint, team, skills, capacity, weight, labels };
}

/** A registry that applies each plan, as the controller's commands would. */
class Registry {
  readonly agents = new Map<string, RegisteredAgent>();

  apply(plan: SyncPlan): void {
    for (const upsert of plan.upserts) this.agents.set(upsert.key, registered(upsert));
    for (const key of plan.removals) this.agents.delete(key);
  }

  get list(): RegisteredAgent[] {
    return [...this.agents.values()];
  }
}

const EMPTY: SyncPlan = { upserts: [], removals: [] };

describe("DiscoverySync", () => {
  it("upserts new agents at once and nothing once the registry has them", () => {
    const sync = new DiscoverySync();
    const registry = new Registry();
    const snapshot = [agent("a"), agent("b")];
    const first = sync.plan(snapshot, registry.list, 0);
    expect(first.upserts.map((upsert) => upsert.key)).toEqual(["a", "b"]);
    expect(first.removals).toEqual([]);
    registry.apply(first);
    for (let time = 1_000; time < 100_000; time += 1_000) {
      expect(sync.plan(snapshot, registry.list, time)).toEqual(EMPTY);
    }
  });

  it("plans an upsert again while the registry has not taken it", () => {
    const sync = new DiscoverySync();
    expect(sync.plan([agent("a")], [], 0).upserts).toHaveLength(1);
    expect(sync.plan([agent("a")], [], 1_000).upserts).toHaveLength(1);
  });

  it.each<[string, Partial<DiscoveredAgent>]>([
    ["name", { name: "renamed" }],
    ["endpoint", { endpoint: "http://elsewhere.example.test:9" }],
    ["team", { team: "search" }],
    ["skills", { skills: ["a"] }],
    ["capacity", { capacity: 3 }],
    ["weight", { weight: 2 }],
    ["labels", { labels: new Map([["zone", "us"]]) }],
    [
      "a new label",
      {
        labels: new Map([
          ["zone", "eu"],
          ["rack", "1"],
        ]),
      },
    ],
  ])("upserts an agent whose %s changed", (_field, change) => {
    const sync = new DiscoverySync();
    const before = agent("a");
    const plan = sync.plan([agent("a", change)], [registered(before)], 0);
    expect(plan.upserts).toEqual([agent("a", change)]);
  });

  it("compares skills as a set", () => {
    const sync = new DiscoverySync();
    const plan = sync.plan([agent("a", { skills: ["b", "a", "a"] })], [registered(agent("a"))], 0);
    expect(plan).toEqual(EMPTY);
  });

  it("compares health only when the registry records it", () => {
    const sync = new DiscoverySync();
    const sick = agent("a", { healthy: false });
    expect(sync.plan([sick], [registered(agent("a"))], 0)).toEqual(EMPTY);
    expect(sync.plan([sick], [{ ...registered(agent("a")), healthy: true }], 0).upserts).toEqual([sick]);
    expect(sync.plan([sick], [{ ...registered(agent("a")), healthy: false }], 0)).toEqual(EMPTY);
  });

  it("removes an agent only after both the grace time and the misses", () => {
    const sync = new DiscoverySync({ removeAfterMs: 30_000, removeAfterMisses: 3 });
    const known = [registered(agent("a")), registered(agent("b"))];
    const snapshot = [agent("b")];
    // Three misses in 20 s: not long enough.
    expect(sync.plan(snapshot, known, 0).removals).toEqual([]);
    expect(sync.plan(snapshot, known, 10_000).removals).toEqual([]);
    expect(sync.plan(snapshot, known, 20_000).removals).toEqual([]);
    expect(sync.absence("a")).toEqual({ since: 0, misses: 3 });
    // 30 s and a fourth miss: gone.
    expect(sync.plan(snapshot, known, 30_000).removals).toEqual(["a"]);
  });

  it("waits for the misses even when the time has long passed", () => {
    const sync = new DiscoverySync({ removeAfterMs: 30_000, removeAfterMisses: 3 });
    const known = [registered(agent("a"))];
    expect(sync.plan([], known, 0).removals).toEqual([]);
    expect(sync.plan([], known, 600_000).removals).toEqual([]);
    expect(sync.plan([], known, 600_001).removals).toEqual(["a"]);
  });

  it("counts an empty snapshot after a full one as one miss, not as a removal of everything", () => {
    const sync = new DiscoverySync();
    const registry = new Registry();
    const all = Array.from({ length: 50 }, (_, index) => agent(`agent-${index}`));
    registry.apply(sync.plan(all, registry.list, 0));
    expect(sync.plan([], registry.list, 1_000)).toEqual(EMPTY);
    expect(sync.plan(all, registry.list, 2_000)).toEqual(EMPTY);
    expect(registry.agents.size).toBe(50);
  });

  it("starts counting afresh when an agent comes back", () => {
    const sync = new DiscoverySync({ removeAfterMs: 30_000, removeAfterMisses: 3 });
    const known = [registered(agent("a"))];
    sync.plan([], known, 0);
    sync.plan([], known, 20_000);
    sync.plan([agent("a")], known, 25_000);
    expect(sync.absence("a")).toBeUndefined();
    expect(sync.plan([], known, 40_000).removals).toEqual([]);
    expect(sync.plan([], known, 60_000).removals).toEqual([]);
    expect(sync.plan([], known, 70_000).removals).toEqual(["a"]);
  });

  it("plans a removal again until the registry drops the agent, then forgets it", () => {
    const sync = new DiscoverySync({ removeAfterMs: 0, removeAfterMisses: 1 });
    const known = [registered(agent("a"))];
    expect(sync.plan([], known, 0).removals).toEqual(["a"]);
    expect(sync.plan([], known, 1).removals).toEqual(["a"]);
    expect(sync.plan([], [], 2)).toEqual(EMPTY);
    expect(sync.absence("a")).toBeUndefined();
  });

  it("never removes agents under an unreadable prefix, nor counts their absence", () => {
    const sync = new DiscoverySync({ removeAfterMs: 0, removeAfterMisses: 1 });
    const known = [
      registered(agent("kubernetes:default/web/10.0.0.1:80")),
      registered(agent("kubernetes:default/api/10.0.0.2:80")),
    ];
    const details = { unreadable: ["kubernetes:default/web/"] };
    const plan = sync.plan([], known, 0, details);
    expect(plan.removals).toEqual(["kubernetes:default/api/10.0.0.2:80"]);
    expect(sync.absence("kubernetes:default/web/10.0.0.1:80")).toBeUndefined();
  });

  it("takes the first of two agents with the same key", () => {
    const sync = new DiscoverySync();
    const plan = sync.plan([agent("a", { team: "first" }), agent("a", { team: "second" })], [], 0);
    expect(plan.upserts.map((upsert) => upsert.team)).toEqual(["first"]);
  });

  it("keeps ids like __proto__ and constructor as plain data", () => {
    const sync = new DiscoverySync({ removeAfterMs: 0, removeAfterMisses: 2 });
    const known = ["__proto__", "constructor", "toString"].map((key) => registered(agent(key)));
    expect(sync.plan([], known, 0).removals).toEqual([]);
    expect(sync.plan([], known, 1).removals).toEqual(["__proto__", "constructor", "toString"]);
  });

  it("forgets every absence on reset", () => {
    const sync = new DiscoverySync({ removeAfterMs: 0, removeAfterMisses: 2 });
    const known = [registered(agent("a"))];
    sync.plan([], known, 0);
    sync.reset();
    expect(sync.plan([], known, 1).removals).toEqual([]);
    expect(sync.plan([], known, 2).removals).toEqual(["a"]);
  });

  it("refuses settings that make no sense", () => {
    expect(() => new DiscoverySync({ removeAfterMs: -1 })).toThrow(RangeError);
    expect(() => new DiscoverySync({ removeAfterMisses: 0 })).toThrow(RangeError);
    expect(() => new DiscoverySync({ removeAfterMisses: 1.5 })).toThrow(RangeError);
  });
});

describe("DiscoverySync properties", () => {
  /** One snapshot: how long after the previous one it came, and whether the flapping agent was in it. */
  const step = fc.record({ afterMs: fc.integer({ min: 0, max: 20_000 }), present: fc.boolean() });

  it("never removes an agent whose every absence is shorter than the grace", () => {
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 1, max: 5 }),
        (steps, removeAfterMs, removeAfterMisses) => {
          const sync = new DiscoverySync({ removeAfterMs, removeAfterMisses });
          const registry = new Registry();
          const flapping = agent("flapping");
          const steady = agent("steady");
          registry.apply(sync.plan([flapping, steady], registry.list, 0));
          let time = 0;
          let absentSince: number | null = null;
          for (const { afterMs, present } of steps) {
            time += afterMs;
            if (!present && absentSince === null) absentSince = time;
            // Only absences shorter than the grace are generated: a longer one comes back in time.
            const mustReturn = absentSince !== null && time - absentSince >= removeAfterMs;
            const inSnapshot = present || mustReturn;
            if (inSnapshot) absentSince = null;
            const plan = sync.plan(inSnapshot ? [flapping, steady] : [steady], registry.list, time);
            expect(plan.removals).toEqual([]);
            // A steady agent never causes a write, and the flapping one only its first.
            expect(plan.upserts).toEqual([]);
            registry.apply(plan);
          }
        },
      ),
      { seed: 20_240_601, numRuns: 300 },
    );
  });

  it("removes an agent once it stays away for the grace and the misses", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 100 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.integer({ min: 1, max: 5 }),
        (gaps, removeAfterMs, removeAfterMisses) => {
          const sync = new DiscoverySync({ removeAfterMs, removeAfterMisses });
          const known = [registered(agent("gone"))];
          let time = 0;
          let since: number | null = null;
          let misses = 0;
          for (const gap of gaps) {
            time += gap;
            since ??= time;
            misses++;
            const due = time - since >= removeAfterMs && misses >= removeAfterMisses;
            expect(sync.plan([], known, time).removals).toEqual(due ? ["gone"] : []);
          }
        },
      ),
      { seed: 20_240_602, numRuns: 300 },
    );
  });
});
