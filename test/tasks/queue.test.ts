// Proves the task queue's ordering: strict priority between effective levels, aging so nothing waits
// forever, weighted fair shares between teams inside a level with no banked credit, FIFO inside a
// team and level, skipping that charges nothing, and determinism (same operations or same snapshot,
// same order). A naive reference of the module's ordering definition checks the whole order.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FairQueue, MAX_PRIORITY, type FairnessState, type QueuedTask } from "../../src/tasks/queue.js";
import { AssertionError } from "../../src/raft/assert.js";
import { dispatchFirst } from "../support/fair-queue.js";

const WEIGHTS: Readonly<Record<string, number>> = { a: 1, b: 2, B: 3, ab: 0.5 };
const TEAMS = Object.keys(WEIGHTS);
const weightOf = (team: string): number => WEIGHTS[team] ?? 1;

function task(id: string, team: string, priority: number, enqueuedAtMs: number, seq: number): QueuedTask {
  return { id, team, priority, enqueuedAtMs, seq };
}

function queueWith(agingMs: number | null, teamWeight: (team: string) => number = weightOf): FairQueue {
  return new FairQueue({ agingMs, teamWeight });
}

/** The first `count` tasks a walk offers. */
function take(walk: Iterator<QueuedTask>, count: number): QueuedTask[] {
  const taken: QueuedTask[] = [];
  for (let next = walk.next(); next.done !== true && taken.length < count; next = walk.next())
    taken.push(next.value);
  return taken;
}

function ids(tasks: Iterable<QueuedTask>): string[] {
  return [...tasks].map((each) => each.id);
}

/** Adds `count` tasks of `team` at `priority`, all queued at `atMs`, with ids `${team}-${n}`. */
function flood(
  queue: FairQueue,
  team: string,
  count: number,
  priority: number,
  atMs: number,
  seq: { next: number },
) {
  for (let n = 0; n < count; n += 1) {
    queue.add(task(`${team}-${seq.next}`, team, priority, atMs, seq.next));
    seq.next += 1;
  }
}

function countByTeam(tasks: readonly QueuedTask[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const each of tasks) counts.set(each.team, (counts.get(each.team) ?? 0) + 1);
  return counts;
}

/**
 * The ordering definition written the slow, obvious way, with its own copy of the rules (levels,
 * arrival order, passes raised to V, charging), so a shortcut in the queue shows up as a difference.
 */
class Reference {
  readonly tasks: QueuedTask[] = [];
  private readonly passes = new Map<string, number>();
  private readonly virtualPasses: number[] = new Array<number>(MAX_PRIORITY + 1).fill(0);

  constructor(private readonly agingMs: number | null) {}

  add(queued: QueuedTask): void {
    this.tasks.push(queued);
  }

  remove(id: string): QueuedTask | null {
    const index = this.tasks.findIndex((each) => each.id === id);
    return index < 0 ? null : this.tasks.splice(index, 1)[0]!;
  }

  level(queued: QueuedTask, nowMs: number): number {
    if (this.agingMs === null) return queued.priority;
    const steps = Math.floor(Math.max(0, nowMs - queued.enqueuedAtMs) / this.agingMs);
    return Math.min(MAX_PRIORITY, queued.priority + steps);
  }

  pass(team: string, level: number): number {
    return Math.max(this.passes.get(`${level}/${team}`) ?? 0, this.virtualPasses[level]!);
  }

  charge(team: string, level: number, cost: number): void {
    const start = this.pass(team, level);
    this.virtualPasses[level] = start;
    this.passes.set(`${level}/${team}`, start + cost / weightOf(team));
  }

  order(nowMs: number, skip: ReadonlySet<string>): QueuedTask[] {
    const remaining = this.tasks.filter((each) => !skip.has(each.team));
    const copied = new Map<string, number>();
    const offered: QueuedTask[] = [];
    while (remaining.length > 0) {
      const top = Math.max(...remaining.map((each) => this.level(each, nowMs)));
      const atTop = remaining.filter((each) => this.level(each, nowMs) === top);
      const passOf = (team: string) => copied.get(`${top}/${team}`) ?? this.pass(team, top);
      const teams = [...new Set(atTop.map((each) => each.team))];
      const team = teams.sort((x, y) => passOf(x) - passOf(y) || compareText(x, y))[0]!;
      const next = atTop.filter((each) => each.team === team).sort(compareArrival)[0]!;
      offered.push(next);
      remaining.splice(remaining.indexOf(next), 1);
      copied.set(`${top}/${team}`, passOf(team) + 1 / weightOf(team));
    }
    return offered;
  }

  oldest(): QueuedTask | null {
    return [...this.tasks].sort(compareArrival)[0] ?? null;
  }

  exportFairness(): FairnessState {
    const levels = this.virtualPasses.map((virtualPass, level) => {
      const passes = [...this.passes]
        .filter(([key, pass]) => key.startsWith(`${level}/`) && pass > virtualPass)
        .map(([key, pass]): [string, number] => [key.slice(key.indexOf("/") + 1), pass])
        .sort(([x], [y]) => compareText(x, y));
      return { virtualPass, passes };
    });
    return { version: 1, levels };
  }
}

function compareText(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

function compareArrival(x: QueuedTask, y: QueuedTask): number {
  return x.enqueuedAtMs - y.enqueuedAtMs || x.seq - y.seq || compareText(x.id, y.id);
}

type Op =
  | { kind: "add"; team: string; priority: number; enqueuedAtMs: number }
  | { kind: "remove"; pick: number }
  | { kind: "charge"; team: string; level: number; cost: number }
  | { kind: "dispatch"; nowMs: number }
  | { kind: "check"; nowMs: number; skip: string[] };

const teamArbitrary = fc.constantFrom(...TEAMS);
const levelArbitrary = fc.integer({ min: 0, max: MAX_PRIORITY });
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("add" as const),
      team: teamArbitrary,
      priority: levelArbitrary,
      enqueuedAtMs: fc.integer({ min: 0, max: 100 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("charge" as const),
      team: teamArbitrary,
      level: levelArbitrary,
      cost: fc.constantFrom(1, 2, 0.5),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("dispatch" as const), nowMs: fc.integer({ min: 0, max: 300 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("check" as const),
      nowMs: fc.integer({ min: 0, max: 300 }),
      skip: fc.subarray(TEAMS),
    }),
  },
);
const agingArbitrary = fc.constantFrom(null, 7, 25);

/** Applies `ops` to a queue and the reference alike; `check` runs at every check op. */
function run(
  agingMs: number | null,
  ops: readonly Op[],
  check: (queue: FairQueue, reference: Reference, op: Op & { kind: "check" }) => void,
): { queue: FairQueue; reference: Reference } {
  const queue = queueWith(agingMs);
  const reference = new Reference(agingMs);
  let seq = 0;
  for (const op of ops) {
    switch (op.kind) {
      case "add": {
        const added = task(`t${seq}`, op.team, op.priority, op.enqueuedAtMs, seq);
        seq += 1;
        queue.add(added);
        reference.add(added);
        break;
      }
      case "remove": {
        const victim = reference.tasks[op.pick % Math.max(1, reference.tasks.length)];
        const id = victim?.id ?? "missing";
        expect(queue.remove(id)).toEqual(reference.remove(id));
        break;
      }
      case "charge":
        queue.charge(op.team, op.level, op.cost);
        reference.charge(op.team, op.level, op.cost);
        break;
      case "dispatch": {
        const expected = reference.order(op.nowMs, new Set())[0];
        const chosen = dispatchFirst(queue, op.nowMs);
        expect(chosen?.id).toBe(expected?.id);
        if (expected !== undefined) {
          reference.remove(expected.id);
          reference.charge(expected.team, reference.level(expected, op.nowMs), 1);
        }
        break;
      }
      case "check":
        check(queue, reference, op);
        break;
    }
  }
  return { queue, reference };
}

describe("FairQueue strict priority", () => {
  it("never offers a lower effective level before a higher one, and offers every task once", () => {
    fc.assert(
      fc.property(agingArbitrary, fc.array(opArbitrary, { maxLength: 150, size: "max" }), (agingMs, ops) => {
        run(agingMs, ops, (queue, reference, { nowMs }) => {
          const offered = [...queue.order(nowMs)];
          const levels = offered.map((each) => queue.effectiveLevel(each, nowMs));
          for (let index = 1; index < levels.length; index += 1) {
            expect(levels[index]!).toBeLessThanOrEqual(levels[index - 1]!);
          }
          expect(ids(offered).sort()).toEqual(ids(reference.tasks).sort());
        });
      }),
    );
  });

  it("offers a priority 9 task queued last before a priority 8 task queued first", () => {
    const queue = queueWith(null);
    queue.add(task("low", "a", 8, 0, 0));
    queue.add(task("high", "b", 9, 100, 1));
    expect(ids(queue.order(100))).toEqual(["high", "low"]);
  });
});

describe("FairQueue FIFO", () => {
  it("offers one team's tasks at one level in arrival order", () => {
    fc.assert(
      fc.property(agingArbitrary, fc.array(opArbitrary, { maxLength: 150, size: "max" }), (agingMs, ops) => {
        run(agingMs, ops, (queue, _reference, { nowMs }) => {
          const last = new Map<string, QueuedTask>();
          for (const offered of queue.order(nowMs)) {
            const key = `${offered.team}/${queue.effectiveLevel(offered, nowMs)}`;
            const previous = last.get(key);
            if (previous !== undefined) expect(compareArrival(previous, offered)).toBeLessThan(0);
            last.set(key, offered);
          }
        });
      }),
    );
  });

  it("puts an aged task ahead of a later one of the same team that started at that level", () => {
    const queue = queueWith(100);
    queue.add(task("later", "a", 5, 200, 1));
    queue.add(task("aged", "a", 3, 0, 0));
    queue.add(task("young", "a", 3, 150, 2));
    // At 200: aged has waited two steps (level 5), young none (level 3).
    expect(ids(queue.order(200))).toEqual(["aged", "later", "young"]);
  });

  it("goes by the stamp, then seq, then id", () => {
    const queue = queueWith(null);
    queue.add(task("c", "a", 1, 10, 5));
    queue.add(task("b", "a", 1, 10, 4));
    queue.add(task("z", "a", 1, 5, 9));
    expect(ids(queue.order(0))).toEqual(["z", "b", "c"]);
  });
});

describe("FairQueue weighted shares", () => {
  it("gives teams of weights 1, 2 and 3 flooding one level shares within 5% of 1/6, 2/6, 3/6", () => {
    const weights: Record<string, number> = { one: 1, two: 2, three: 3 };
    const queue = queueWith(null, (team) => weights[team]!);
    const seq = { next: 0 };
    for (const team of Object.keys(weights)) flood(queue, team, 6_000, 4, 0, seq);
    const dispatched = Array.from({ length: 6_000 }, () => dispatchFirst(queue, 0)!);
    const counts = countByTeam(dispatched);
    for (const [team, weight] of Object.entries(weights)) {
      const expected = (6_000 * weight) / 6;
      expect(Math.abs((counts.get(team) ?? 0) - expected)).toBeLessThanOrEqual(0.05 * expected);
    }
  });

  it("gives a team arriving late its share, not a burst of banked credit", () => {
    const queue = queueWith(null, () => 1);
    const seq = { next: 0 };
    flood(queue, "a", 5_000, 4, 0, seq);
    flood(queue, "b", 5_000, 4, 0, seq);
    for (let n = 0; n < 3_000; n += 1) dispatchFirst(queue, 0);
    flood(queue, "late", 5_000, 4, 0, seq);
    // Both the offers (the walk's copied passes) and the dispatches start it level with the others.
    expect(countByTeam(take(queue.order(0), 30)).get("late")).toBeLessThanOrEqual(11);
    const firstThirty = Array.from({ length: 30 }, () => dispatchFirst(queue, 0)!);
    expect(countByTeam(firstThirty).get("late")).toBeLessThanOrEqual(11);
    const next = Array.from({ length: 3_000 }, () => dispatchFirst(queue, 0)!);
    expect(Math.abs((countByTeam(next).get("late") ?? 0) - 1_000)).toBeLessThanOrEqual(50);
  });

  it("does not let a team bank credit while idle either", () => {
    const queue = queueWith(null, () => 1);
    const seq = { next: 0 };
    flood(queue, "a", 10, 4, 0, seq);
    flood(queue, "b", 2_000, 4, 0, seq);
    for (let n = 0; n < 1_000; n += 1) dispatchFirst(queue, 0);
    // a ran out after its ten; b ran alone for the rest. Now a comes back.
    flood(queue, "a", 500, 4, 0, seq);
    const next = Array.from({ length: 20 }, () => dispatchFirst(queue, 0)!);
    expect(countByTeam(next).get("a")).toBeLessThanOrEqual(11);
  });

  it("cannot let a flood starve a team: B's 10 go within 21 dispatches of arriving", () => {
    const queue = queueWith(null, () => 1);
    const seq = { next: 0 };
    flood(queue, "A", 10_000, 4, 0, seq);
    for (let n = 0; n < 100; n += 1) dispatchFirst(queue, 0);
    flood(queue, "B", 10, 4, 1, seq);
    const dispatched = Array.from({ length: 21 }, () => dispatchFirst(queue, 1)!);
    expect(countByTeam(dispatched).get("B")).toBe(10);
  });
});

describe("FairQueue aging", () => {
  /** Two priority 9 tasks arrive every 10 ms and one is dispatched; returns when `starved` went. */
  function dispatchTimeUnderFlood(agingMs: number | null, starvedTeam: string): number | null {
    const queue = queueWith(agingMs, () => 1);
    queue.add(task("starved", starvedTeam, 0, 0, 0));
    const seq = { next: 1 };
    for (let nowMs = 0; nowMs <= 20_000; nowMs += 10) {
      flood(queue, "flood", 2, 9, nowMs, seq);
      if (dispatchFirst(queue, nowMs)?.id === "starved") return nowMs;
    }
    return null;
  }

  it("offers a priority 0 task under a priority 9 flood as soon as it has aged to 9", () => {
    // 9 levels at 1000 ms each: level 9 at 9000 ms; then it has the lower pass (another team) or
    // the earlier arrival (the same team), so it goes at the first dispatch from then on.
    expect(dispatchTimeUnderFlood(1_000, "quiet")).toBe(9_000);
    expect(dispatchTimeUnderFlood(1_000, "flood")).toBe(9_000);
  });

  it("starves that task when aging is off", () => {
    expect(dispatchTimeUnderFlood(null, "quiet")).toBeNull();
  });

  it("ranks equal effective levels of different base priorities by pass, then team name", () => {
    const queue = queueWith(100, () => 1);
    queue.add(task("native", "b", 9, 800, 1));
    queue.add(task("aged", "c", 0, 0, 0));
    expect(ids(queue.order(900))).toEqual(["native", "aged"]);
    queue.charge("b", 9);
    expect(ids(queue.order(900))).toEqual(["aged", "native"]);
  });

  it("never demotes a task when the clock is behind its stamp", () => {
    const queue = queueWith(100);
    const queued = task("t", "a", 4, 1_000, 0);
    expect(queue.effectiveLevel(queued, 0)).toBe(4);
    expect(queue.effectiveLevel(queued, 1_250)).toBe(6);
    expect(queue.effectiveLevel(queued, 1e12)).toBe(MAX_PRIORITY);
  });
});

describe("FairQueue skipping", () => {
  it("goes on past a skipped task: heads by pass, then deeper, as if each offer were dispatched", () => {
    const queue = queueWith(null, () => 1);
    for (let n = 0; n < 3; n += 1) {
      queue.add(task(`a${n}`, "a", 2, n, n));
      queue.add(task(`b${n}`, "b", 2, n, 10 + n));
    }
    expect(ids(queue.order(0))).toEqual(["a0", "b0", "a1", "b1", "a2", "b2"]);
    expect(ids(queue.order(0, (team) => team === "a"))).toEqual(["b0", "b1", "b2"]);
  });

  it("charges nothing for walking, skipping tasks or skipping teams", () => {
    fc.assert(
      fc.property(
        fc.array(opArbitrary, { maxLength: 100, size: "max" }),
        fc.array(fc.tuple(fc.subarray(TEAMS), fc.nat({ max: 20 })), { maxLength: 5 }),
        (ops, walks) => {
          const { queue: walked } = run(25, ops, () => {});
          const { queue: untouched } = run(25, ops, () => {});
          const before = walked.exportFairness();
          for (const [skipped, stopAfter] of walks) {
            let taken = 0;
            for (const _ of walked.order(50, (team) => skipped.includes(team))) {
              taken += 1;
              if (taken >= stopAfter) break;
            }
          }
          expect(walked.exportFairness()).toEqual(before);
          for (let n = 0; n < 10; n += 1)
            expect(dispatchFirst(walked, 60)).toEqual(dispatchFirst(untouched, 60));
        },
      ),
    );
  });

  it("asks skipTeam at most once per team per walk, and only about teams that have tasks", () => {
    const queue = queueWith(null, () => 1);
    const seq = { next: 0 };
    flood(queue, "a", 5, 3, 0, seq);
    flood(queue, "b", 5, 3, 0, seq);
    const asked: string[] = [];
    const offered = ids(queue.order(0, (team) => (asked.push(team), false)));
    expect(offered).toHaveLength(10);
    expect(asked.sort()).toEqual(["a", "b"]);
  });
});

describe("FairQueue against the reference", () => {
  it("matches the naive definition: whole order, sizes, depths, oldest and fairness state", () => {
    fc.assert(
      fc.property(agingArbitrary, fc.array(opArbitrary, { maxLength: 200, size: "max" }), (agingMs, ops) => {
        const { queue, reference } = run(agingMs, ops, (queue, reference, { nowMs, skip }) => {
          const skipped = new Set(skip);
          expect(ids(queue.order(nowMs, (team) => skipped.has(team)))).toEqual(
            ids(reference.order(nowMs, skipped)),
          );
          expectSameCounts(queue, reference);
        });
        expectSameCounts(queue, reference);
        expect(queue.exportFairness()).toEqual(reference.exportFairness());
      }),
    );
  });

  it("stays exact through tombstones, out-of-order inserts and compaction in busy lanes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 8_000 }), { minLength: 1_500, maxLength: 1_500 }),
        fc.array(fc.nat(), { minLength: 1_500, maxLength: 1_500 }),
        (stamps, picks) => {
          const queue = queueWith(1_000);
          const reference = new Reference(1_000);
          let seq = 0;
          const add = (enqueuedAtMs: number) => {
            const added = task(
              `t${seq}`,
              seq % 7 === 0 ? "b" : "a",
              seq % 7 === 0 ? 3 : 5,
              enqueuedAtMs,
              seq,
            );
            seq += 1;
            queue.add(added);
            reference.add(added);
          };
          const remove = (id: string) => expect(queue.remove(id)?.id).toBe(reference.remove(id)?.id);
          const expectSame = () => {
            expectSameCounts(queue, reference);
            expect(ids(queue.order(5_000))).toEqual(ids(reference.order(5_000, new Set())));
          };
          // In order, then off the front: leading tombstones pile up until the lane compacts.
          for (let n = 0; n < 3_000; n += 1) add(2 * n);
          for (const each of [...reference.tasks].sort(compareArrival).slice(0, 2_000)) remove(each.id);
          expectSame();
          // Out of order, then from the middle: tombstones outnumber live tasks and the lane rebuilds.
          for (const enqueuedAtMs of stamps.slice(0, 1_000)) add(enqueuedAtMs);
          for (const pick of picks) remove(reference.tasks[pick % reference.tasks.length]!.id);
          expectSame();
          // Some arrive before the head now, which reuses the trimmed slot in front of it.
          for (const enqueuedAtMs of stamps.slice(1_000)) add(enqueuedAtMs);
          expectSame();
          // And drained, so every tombstone the lanes counted is trimmed exactly once.
          picks.forEach((pick, index) => {
            if (reference.tasks.length > 0)
              remove(reference.tasks[(pick + index) % reference.tasks.length]!.id);
          });
          for (const each of [...reference.tasks]) remove(each.id);
          expectSame();
          expect(queue.size).toBe(0);
        },
      ),
      { numRuns: 5 },
    );
  });

  it("forgets passes equal to V without changing any order or the exported state", () => {
    const queue = queueWith(null);
    const reference = new Reference(null);
    const teams = Array.from({ length: 200 }, (_, n) => `team-${n}`);
    teams.forEach((team, seq) => {
      queue.add(task(team, team, 2, seq, seq));
      reference.add(task(team, team, 2, seq, seq));
    });
    for (let n = 0; n < 3_000; n += 1) {
      const team = teams[(n * 37) % teams.length]!;
      queue.charge(team, 1 + (n % 3), 1 + (n % 2));
      reference.charge(team, 1 + (n % 3), 1 + (n % 2));
      if (n % 500 === 499) {
        expect(queue.exportFairness()).toEqual(reference.exportFairness());
        expect(ids(queue.order(0))).toEqual(ids(reference.order(0, new Set())));
      }
    }
  });
});

function expectSameCounts(queue: FairQueue, reference: Reference): void {
  expect(queue.size).toBe(reference.tasks.length);
  const byPriority = new Array<number>(MAX_PRIORITY + 1).fill(0);
  for (const each of reference.tasks) byPriority[each.priority]! += 1;
  expect(queue.depthByPriority()).toEqual(byPriority);
  const byTeam = [...countByTeam(reference.tasks)].sort(([x], [y]) => compareText(x, y));
  expect([...queue.depthByTeam()]).toEqual(byTeam);
  for (const team of TEAMS) expect(queue.sizeOf(team)).toBe(countByTeam(reference.tasks).get(team) ?? 0);
  expect(queue.oldest()?.id).toBe(reference.oldest()?.id);
  for (const each of reference.tasks) expect(queue.get(each.id)).toEqual(each);
}

describe("FairQueue determinism", () => {
  it("gives the same order for the same tasks and charges, whatever order the tasks were added in", () => {
    fc.assert(
      fc.property(
        agingArbitrary,
        fc.array(opArbitrary, { maxLength: 150, size: "max" }),
        fc.infiniteStream(fc.nat()),
        (agingMs, ops, shuffle) => {
          const { queue, reference } = run(agingMs, ops, () => {});
          const rebuilt = queueWith(agingMs);
          rebuilt.importFairness(queue.exportFairness());
          const shuffled = [...reference.tasks];
          const picks = shuffle[Symbol.iterator]();
          for (let index = shuffled.length - 1; index > 0; index -= 1) {
            const other = (picks.next().value as number) % (index + 1);
            [shuffled[index], shuffled[other]] = [shuffled[other]!, shuffled[index]!];
          }
          for (const each of shuffled) rebuilt.add(each);
          for (const nowMs of [0, 40, 120, 400])
            expect(ids(rebuilt.order(nowMs))).toEqual(ids(queue.order(nowMs)));
        },
      ),
    );
  });

  it("continues identically after a JSON round trip of the fairness state", () => {
    fc.assert(
      fc.property(agingArbitrary, fc.array(opArbitrary, { maxLength: 150, size: "max" }), (agingMs, ops) => {
        const { queue, reference } = run(agingMs, ops, () => {});
        const restored = queueWith(agingMs);
        restored.importFairness(JSON.parse(JSON.stringify(queue.exportFairness())));
        for (const each of reference.tasks) restored.add(each);
        expect(restored.exportFairness()).toEqual(queue.exportFairness());
        const seq = { next: 1_000 };
        for (let nowMs = 0; nowMs < 300; nowMs += 10) {
          if (nowMs % 50 === 0) {
            flood(queue, "ab", 2, 1, nowMs, { ...seq });
            flood(restored, "ab", 2, 1, nowMs, seq);
          }
          expect(dispatchFirst(restored, nowMs)).toEqual(dispatchFirst(queue, nowMs));
        }
        expect(restored.exportFairness()).toEqual(queue.exportFairness());
      }),
    );
  });

  it("rejects a fairness state of the wrong shape and keeps its own", () => {
    const queue = queueWith(null);
    queue.charge("a", 3);
    const before = queue.exportFairness();
    const good = () => JSON.parse(JSON.stringify(before)) as { version: number; levels: unknown[] };
    const withLevel = (level: unknown) => ({ ...good(), levels: [level, ...good().levels.slice(1)] });
    const bad: unknown[] = [
      null,
      7,
      "state",
      {},
      { ...good(), version: 2 },
      { version: 1 },
      { ...good(), levels: good().levels.slice(1) },
      withLevel(null),
      withLevel({ virtualPass: -1, passes: [] }),
      withLevel({ virtualPass: Number.NaN, passes: [] }),
      withLevel({ virtualPass: "0", passes: [] }),
      withLevel({ virtualPass: 0 }),
      withLevel({ virtualPass: 0, passes: {} }),
      withLevel({ virtualPass: 0, passes: [["a"]] }),
      withLevel({ virtualPass: 0, passes: [["", 1]] }),
      withLevel({ virtualPass: 0, passes: [[7, 1]] }),
      withLevel({ virtualPass: 0, passes: [["a", Number.POSITIVE_INFINITY]] }),
      withLevel({ virtualPass: 0, passes: [["a", "1"]] }),
      withLevel({
        virtualPass: 0,
        passes: [
          ["a", 1],
          ["a", 2],
        ],
      }),
    ];
    for (const value of bad) {
      expect(() => queue.importFairness(value), JSON.stringify(value)).toThrow(/^fairness state: /);
      expect(queue.exportFairness()).toEqual(before);
    }
    expect(() => queue.importFairness(good())).not.toThrow();
  });
});

describe("FairQueue guards", () => {
  it("refuses a duplicate id, a bad priority and a bad weight", () => {
    const queue = queueWith(null, (team) => (team === "broken" ? 0 : 1));
    queue.add(task("t", "a", 1, 0, 0));
    expect(() => queue.add(task("t", "a", 1, 0, 1))).toThrow(AssertionError);
    expect(() => queue.add(task("u", "a", 10, 0, 2))).toThrow(AssertionError);
    expect(() => queue.add(task("v", "a", 1.5, 0, 3))).toThrow(AssertionError);
    expect(() => queue.charge("broken", 1)).toThrow(AssertionError);
    expect(() => queue.charge("a", 1, 0)).toThrow(AssertionError);
    expect(queue.size).toBe(1);
  });

  it("keeps its own frozen copy of the fields it orders by", () => {
    const queue = queueWith(null);
    const row = { ...task("t", "a", 1, 0, 0), payload: "large" };
    queue.add(row);
    row.priority = 9;
    expect(queue.get("t")).toEqual(task("t", "a", 1, 0, 0));
    expect(Object.isFrozen(queue.get("t"))).toBe(true);
  });

  it("throws when a walk resumes after the queue changed under it", () => {
    const queue = queueWith(null);
    queue.add(task("t", "a", 1, 0, 0));
    queue.add(task("u", "a", 1, 0, 1));
    const walk = queue.order(0);
    expect(walk.next().value?.id).toBe("t");
    queue.remove("t");
    expect(() => walk.next()).toThrow(/changed during order/);
  });
});
