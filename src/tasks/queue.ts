/**
 * The task queue's ordering: which queued task the leader's scheduler should place next. Every
 * replica builds this structure by applying the same log entries, so it is pure and deterministic:
 * time arrives as `nowMs` arguments, teams are ranked by a total order that never looks at Map
 * insertion order, and nothing here reads a clock or a random source.
 *
 * Three rules, outermost first:
 *
 *   strict priority   levels 0..9, higher first; a task at a higher effective level is always
 *                     offered before any task at a lower one.
 *   aging             with `agingMs` set, a task's effective level is
 *                     min(9, priority + floor(max(0, nowMs - enqueuedAtMs) / agingMs)),
 *                     so nothing waits forever. A clock behind the stamp never demotes a task.
 *   fair sharing      inside one level, teams share by weight with start-time fair queueing (a
 *                     stride scheme): each team has a pass per level, the lowest pass goes first
 *                     (ties by team name), and one dispatch advances the team's pass by
 *                     cost / weight. Each level has a virtual pass V: the start pass of the last
 *                     dispatch there. A team's pass counts as max(its pass, V), so a team that was
 *                     idle (or blocked) comes back level with the others instead of with banked
 *                     credit. V only grows.
 *
 * Inside one team and level, tasks go in arrival order: by enqueuedAtMs, then seq, then id. When
 * stamps never decrease as seq grows (the normal case) that is submission order; ordering by the
 * stamp first keeps aging monotone along each (team, priority) lane even if a new leader's clock
 * runs behind, which is what lets the walk compare lane heads only.
 *
 * The dispatch order at `nowMs` (what `order` yields) is defined as: start from a copy of the
 * passes, each already raised to its level's V. Repeatedly, among the remaining tasks of teams not
 * skipped, take the highest effective level L; among teams with a task at L, the one with the
 * lowest copied pass at L (ties by team name, compared by UTF-16 code units); its earliest task in
 * arrival order at L. Yield it and add 1 / weight to that team's copied pass at L, as if it were
 * dispatched at unit cost. Walking never changes the queue: only `charge` does, so whatever the
 * caller skips costs nothing.
 *
 * Passes are doubles; IEEE arithmetic gives every replica the same bits for the same charges, and
 * JSON carries them exactly, so a restored snapshot continues with the same order.
 */

import { assert } from "../raft/assert.js";

/** The highest priority; levels run from 0 to MAX_PRIORITY. */
export const MAX_PRIORITY = 9;
/** The number of priority levels. */
export const PRIORITY_LEVELS = MAX_PRIORITY + 1;
/** The most tasks one queue holds; a caller that needs more has a bug or needs back-pressure first. */
export const MAX_QUEUED_TASKS = 1_000_000;
/** The largest team weight accepted: beyond it one team's share would round the others to nothing. */
export const MAX_TEAM_WEIGHT = 1_000_000;
/** The largest cost one dispatch may be charged. */
export const MAX_CHARGE_COST = 1_000_000;

/** How many pass entries the queue keeps before it first forgets the ones that equal V. */
const PASS_SWEEP_MIN = 64;
/** A lane compacts once this many leading tombstones are also half of its array. */
const LANE_COMPACT_HEAD_MIN = 1024;
/** A lane rebuilds once it holds more tombstones than this and than live tasks. */
const LANE_TOMBSTONES_MIN = 64;

/** A task waiting to be placed, as the queue sees it. */
export interface QueuedTask {
  readonly id: string;
  /** Who submitted it: the key fair sharing is over. */
  readonly team: string;
  /** Base priority, an integer 0..9; higher goes first. */
  readonly priority: number;
  /** When it was queued (the stamp in its log entry); aging counts from here. */
  readonly enqueuedAtMs: number;
  /** Submission sequence (the log's order): breaks ties between equal stamps, then id does. */
  readonly seq: number;
}

/** How a queue ages and weighs. Both are replicated data: every replica must pass the same. */
export interface FairQueueOptions {
  /** How long a task waits per level it moves up; null turns aging off. */
  readonly agingMs: number | null;
  /** A team's share weight (positive, at most MAX_TEAM_WEIGHT); a pure function of replicated state. */
  readonly teamWeight: (team: string) => number;
}

/** Fairness at one level, as exported: V and the passes that exceed it (the rest equal V). */
export interface LevelFairness {
  readonly virtualPass: number;
  /** [team, pass] pairs, sorted by team, each pass above virtualPass. */
  readonly passes: readonly (readonly [string, number])[];
}

/** The fairness state for snapshots: JSON-able and canonical (equal state, equal value). */
export interface FairnessState {
  readonly version: 1;
  /** One entry per level, index = level. */
  readonly levels: readonly LevelFairness[];
}

/** A task's effective level at nowMs: its priority raised one level per agingMs waited, capped at 9. */
export function effectiveLevel(task: QueuedTask, nowMs: number, agingMs: number | null): number {
  if (agingMs === null) return task.priority;
  const waitedMs = Math.max(0, nowMs - task.enqueuedAtMs);
  return Math.min(MAX_PRIORITY, task.priority + Math.floor(waitedMs / agingMs));
}

/** Whether `a` arrived before `b`: by stamp, then seq, then id, so the order is total. */
export function arrivedBefore(a: QueuedTask, b: QueuedTask): boolean {
  if (a.enqueuedAtMs !== b.enqueuedAtMs) return a.enqueuedAtMs < b.enqueuedAtMs;
  if (a.seq !== b.seq) return a.seq < b.seq;
  return a.id < b.id;
}

/** The queue: tasks by team and priority, and each team's fairness state per level. */
export class FairQueue {
  private readonly agingMs: number | null;
  private readonly teamWeight: (team: string) => number;
  private readonly slots = new Map<string, Slot>();
  private readonly teams = new Map<string, TeamLanes>();
  /** Queued tasks by base priority. Invariant: sums to slots.size. */
  private readonly depths: number[] = new Array<number>(PRIORITY_LEVELS).fill(0);
  /** Per level, the passes that may exceed V; a missing team's pass is 0 (so it counts as V). */
  private readonly passes: Map<string, number>[] = Array.from(
    { length: PRIORITY_LEVELS },
    () => new Map<string, number>(),
  );
  /** Per level, V. Invariant: never decreases, except by importFairness. */
  private readonly virtualPasses: number[] = new Array<number>(PRIORITY_LEVELS).fill(0);
  /** Entries in `passes` above which the ones at or below V are forgotten (they equal V anyway). */
  private passSweepAt = PASS_SWEEP_MIN;
  /** Bumped by every change, so a walk can tell that the queue changed under it. */
  private version = 0;

  constructor(options: FairQueueOptions) {
    const { agingMs } = options;
    assert(
      agingMs === null || (Number.isFinite(agingMs) && agingMs > 0),
      () => `agingMs must be null or positive, not ${agingMs}`,
    );
    this.agingMs = agingMs;
    this.teamWeight = options.teamWeight;
  }

  /** Queues `task`; its id must not be queued already. */
  add(task: QueuedTask): void {
    checkTask(task);
    assert(!this.slots.has(task.id), () => `task ${task.id} is already queued`);
    assert(this.slots.size < MAX_QUEUED_TASKS, () => `the queue is full (${MAX_QUEUED_TASKS} tasks)`);
    const slot: Slot = { task: queuedCopy(task), live: true };
    let lanes = this.teams.get(task.team);
    if (lanes === undefined) {
      lanes = { lanes: Array.from({ length: PRIORITY_LEVELS }, () => new Lane()), size: 0 };
      this.teams.set(task.team, lanes);
    }
    lanes.lanes[task.priority]!.insert(slot);
    lanes.size += 1;
    this.slots.set(task.id, slot);
    this.depths[task.priority]! += 1;
    this.version += 1;
  }

  /** Takes task `id` out of the queue; null if it is not queued. Charges nothing. */
  remove(id: string): QueuedTask | null {
    const slot = this.slots.get(id);
    if (slot === undefined) return null;
    const { task } = slot;
    const team = this.teams.get(task.team);
    assert(team !== undefined && team.size > 0, () => `task ${id} is queued but team ${task.team} is not`);
    team.lanes[task.priority]!.kill(slot);
    team.size -= 1;
    if (team.size === 0) this.teams.delete(task.team);
    this.slots.delete(id);
    this.depths[task.priority]! -= 1;
    this.version += 1;
    return task;
  }

  /** The queued task `id`, or null. */
  get(id: string): QueuedTask | null {
    return this.slots.get(id)?.task ?? null;
  }

  /** How many tasks are queued. */
  get size(): number {
    return this.slots.size;
  }

  /** How many tasks `team` has queued. */
  sizeOf(team: string): number {
    return this.teams.get(team)?.size ?? 0;
  }

  /** The level `task` competes at when the time is nowMs (see the module comment). */
  effectiveLevel(task: QueuedTask, nowMs: number): number {
    return effectiveLevel(task, nowMs, this.agingMs);
  }

  /**
   * The queued tasks in dispatch order at nowMs (the definition is in the module comment), lazily:
   * taking the first k costs about O(teams * levels + k * (levels + log teams)). Tasks of teams
   * for which `skipTeam` is true are left out; it is asked at most once per team per walk, when
   * that team would be offered next. The caller may stop or skip at any point without cost.
   *
   * The queue must not change while a walk is open: collect what to dispatch, then remove and
   * charge. Resuming a walk after a change throws.
   */
  *order(nowMs: number, skipTeam?: (team: string) => boolean): Generator<QueuedTask, void, undefined> {
    assert(Number.isFinite(nowMs), () => `nowMs must be finite, not ${nowMs}`);
    const version = this.version;
    const walk = new Heap<WalkTeam>(walksBefore);
    for (const [team, lanes] of this.teams) {
      const walker = this.startWalk(team, lanes, nowMs);
      if (walker.level >= 0) walk.push(walker);
    }
    for (let top = walk.peek(); top !== undefined; top = walk.peek()) {
      assert(this.version === version, "the queue changed during order(): collect first, then change it");
      if (!top.asked) {
        top.asked = true;
        if (skipTeam?.(top.team) === true) {
          walk.pop();
          continue;
        }
      }
      yield this.offerNext(top, walk, nowMs);
    }
  }

  /** Records that one task of `team` was dispatched from `level` (its effective level then). */
  charge(team: string, level: number, cost = 1): void {
    assert(isLevel(level), () => `level must be an integer 0..${MAX_PRIORITY}, not ${level}`);
    assert(
      Number.isFinite(cost) && cost > 0 && cost <= MAX_CHARGE_COST,
      () => `cost must be in (0, ${MAX_CHARGE_COST}], not ${cost}`,
    );
    const passes = this.passes[level]!;
    const startPass = Math.max(passes.get(team) ?? 0, this.virtualPasses[level]!);
    this.virtualPasses[level] = startPass;
    passes.set(team, startPass + cost / this.weightOf(team));
    this.version += 1;
    this.maybeSweepPasses();
  }

  /** Queued tasks by base priority (index = priority 0..9). */
  depthByPriority(): number[] {
    return [...this.depths];
  }

  /** Queued tasks by team, in team name order. */
  depthByTeam(): Map<string, number> {
    const names = [...this.teams.keys()].sort();
    return new Map(names.map((name) => [name, this.teams.get(name)!.size]));
  }

  /** The task that has waited longest (earliest in arrival order), or null when empty. */
  oldest(): QueuedTask | null {
    let oldest: QueuedTask | null = null;
    for (const team of this.teams.values()) {
      for (const lane of team.lanes) {
        const head = lane.slotAt(lane.firstLive());
        if (head !== undefined && (oldest === null || arrivedBefore(head.task, oldest))) oldest = head.task;
      }
    }
    return oldest;
  }

  /** The fairness state (passes and V per level) for a snapshot; tasks are not in it. */
  exportFairness(): FairnessState {
    const levels = this.passes.map((passes, level): LevelFairness => {
      const virtualPass = this.virtualPasses[level]!;
      const above = [...passes].filter(([, pass]) => pass > virtualPass);
      return { virtualPass, passes: above.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) };
    });
    return { version: 1, levels };
  }

  /** Replaces the fairness state with one exportFairness produced; throws on a bad shape, changing nothing. */
  importFairness(value: unknown): void {
    const levels = parseFairness(value);
    levels.forEach((level, index) => {
      this.virtualPasses[index] = level.virtualPass;
      this.passes[index] = new Map(level.passes);
    });
    this.passSweepAt = PASS_SWEEP_MIN;
    this.version += 1;
    this.maybeSweepPasses();
  }

  /** The weight of `team`, checked: a bad weight would silently skew every share after it. */
  private weightOf(team: string): number {
    const weight = this.teamWeight(team);
    assert(
      Number.isFinite(weight) && weight > 0 && weight <= MAX_TEAM_WEIGHT,
      () => `team ${team} has weight ${weight}, outside (0, ${MAX_TEAM_WEIGHT}]`,
    );
    return weight;
  }

  /** A team's pass at `level` as it counts: raised to the level's V. */
  private passOf(team: string, level: number): number {
    return Math.max(this.passes[level]!.get(team) ?? 0, this.virtualPasses[level]!);
  }

  /** Forgets passes at or below V once there are many: they count as V whether kept or not. */
  private maybeSweepPasses(): void {
    const entries = this.passes.reduce((sum, passes) => sum + passes.size, 0);
    if (entries <= this.passSweepAt) return;
    let kept = 0;
    this.passes.forEach((passes, level) => {
      const virtualPass = this.virtualPasses[level]!;
      for (const [team, pass] of passes) if (pass <= virtualPass) passes.delete(team);
      kept += passes.size;
    });
    // Doubling keeps sweeping amortised O(1) per charge however many teams stay ahead of V.
    this.passSweepAt = Math.max(PASS_SWEEP_MIN, 2 * kept);
  }

  /** A team's walk state at the start of a walk: cursors at its lane heads, aimed at its first task. */
  private startWalk(team: string, teamLanes: TeamLanes, nowMs: number): WalkTeam {
    const lanes = teamLanes.lanes.filter((lane) => lane.live > 0);
    const walker: WalkTeam = {
      team,
      weight: this.weightOf(team),
      lanes,
      cursors: lanes.map((lane) => lane.firstLive()),
      passes: new Array<number | undefined>(PRIORITY_LEVELS).fill(undefined),
      asked: false,
      level: -1,
      lane: -1,
      pass: 0,
    };
    this.aimWalk(walker, nowMs);
    return walker;
  }

  /** Points `walker` at its next task: the highest level among its lane heads, earliest arrival. */
  private aimWalk(walker: WalkTeam, nowMs: number): void {
    let best: QueuedTask | null = null;
    walker.level = -1;
    walker.lane = -1;
    for (let index = 0; index < walker.lanes.length; index += 1) {
      const slot = walker.lanes[index]!.slotAt(walker.cursors[index]!);
      if (slot === undefined) continue;
      const level = effectiveLevel(slot.task, nowMs, this.agingMs);
      if (
        level > walker.level ||
        (level === walker.level && best !== null && arrivedBefore(slot.task, best))
      ) {
        best = slot.task;
        walker.level = level;
        walker.lane = index;
      }
    }
    if (walker.level < 0) return;
    walker.passes[walker.level] ??= this.passOf(walker.team, walker.level);
    walker.pass = walker.passes[walker.level]!;
  }

  /** Offers the top team's next task and charges the walk's copy of its pass, not the queue's. */
  private offerNext(walker: WalkTeam, walk: Heap<WalkTeam>, nowMs: number): QueuedTask {
    const lane = walker.lanes[walker.lane]!;
    const cursor = walker.cursors[walker.lane]!;
    const task = lane.slotAt(cursor)!.task;
    walker.cursors[walker.lane] = lane.nextLive(cursor + 1);
    walker.passes[walker.level] = walker.pass + 1 / walker.weight;
    this.aimWalk(walker, nowMs);
    // Its next task is at a lower level or a higher pass: the key only grew, so sift down.
    if (walker.level < 0) walk.pop();
    else walk.siftTopDown();
    return task;
  }
}

/** One queued task in its lane; `live` turns false when it is removed (a tombstone until trimmed). */
interface Slot {
  readonly task: QueuedTask;
  live: boolean;
}

/** One team's lanes, one per base priority. Invariant: size is the sum of the lanes' live counts. */
interface TeamLanes {
  readonly lanes: readonly Lane[];
  size: number;
}

/** One team during a walk: cursors into its lanes, its copied passes, and its next task's key. */
interface WalkTeam {
  readonly team: string;
  readonly weight: number;
  readonly lanes: readonly Lane[];
  /** Per lane, the index of its next live slot not yet offered. */
  readonly cursors: number[];
  /** The walk's copy of the team's passes, filled per level on first use. */
  readonly passes: (number | undefined)[];
  /** Whether skipTeam was asked about this team yet. */
  asked: boolean;
  /** The level of its next task (-1 when it has none), which lane holds it, and its pass there. */
  level: number;
  lane: number;
  pass: number;
}

/** The walk's rank of teams: higher level, then lower pass, then team name. */
function walksBefore(a: WalkTeam, b: WalkTeam): boolean {
  if (a.level !== b.level) return a.level > b.level;
  if (a.pass !== b.pass) return a.pass < b.pass;
  return a.team < b.team;
}

/**
 * The tasks of one team at one base priority, in arrival order, so their effective levels never
 * rise along the lane. Removing leaves a tombstone, making removal from the middle O(1); tombstones
 * at either end are trimmed at once, and the array is compacted before tombstones outnumber live
 * tasks, so memory stays proportional to what is queued.
 *
 * Invariant: slots[head..] is sorted by arrival; when any is live, slots[head] and the last are.
 */
class Lane {
  private slots: Slot[] = [];
  private head = 0;
  /** Tombstones in slots[head..]. */
  private dead = 0;

  /** How many live tasks the lane holds. */
  get live(): number {
    return this.slots.length - this.head - this.dead;
  }

  /** The index of the first live slot (the array's length when there is none). */
  firstLive(): number {
    return this.head;
  }

  /** The index of the first live slot at or after `index`. */
  nextLive(index: number): number {
    let next = index;
    while (next < this.slots.length && !this.slots[next]!.live) next += 1;
    return next;
  }

  /** The slot at `index`, or undefined past the end. */
  slotAt(index: number): Slot | undefined {
    return this.slots[index];
  }

  /** Puts `slot` in arrival order: O(1) at either end (the usual cases), a splice in between. */
  insert(slot: Slot): void {
    const last = this.slots[this.slots.length - 1];
    if (last === undefined || this.head === this.slots.length || !arrivedBefore(slot.task, last.task)) {
      this.slots.push(slot);
      return;
    }
    const index = this.insertionIndex(slot.task);
    if (index === this.head && this.head > 0) {
      // Slots before head are trimmed tombstones: reuse one rather than shifting the array.
      this.head -= 1;
      this.slots[this.head] = slot;
    } else {
      this.slots.splice(index, 0, slot);
    }
  }

  /** Turns `slot` into a tombstone, then trims and compacts. */
  kill(slot: Slot): void {
    assert(slot.live, () => `task ${slot.task.id} was removed twice`);
    slot.live = false;
    this.dead += 1;
    this.trim();
    if (this.head >= LANE_COMPACT_HEAD_MIN && 2 * this.head >= this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.head = 0;
    }
    if (this.dead > LANE_TOMBSTONES_MIN && this.dead > this.live) {
      this.slots = this.slots.slice(this.head).filter((each) => each.live);
      this.head = 0;
      this.dead = 0;
    }
  }

  /** Drops tombstones at either end, keeping the invariant that both ends are live. */
  private trim(): void {
    while (this.head < this.slots.length && !this.slots[this.head]!.live) {
      this.head += 1;
      this.dead -= 1;
    }
    while (this.slots.length > this.head && !this.slots[this.slots.length - 1]!.live) {
      this.slots.pop();
      this.dead -= 1;
    }
    if (this.head === this.slots.length) {
      this.slots = [];
      this.head = 0;
    }
    assert(this.dead >= 0, "a lane counted fewer tombstones than it trimmed");
  }

  /** The first index in slots[head..] whose task arrived after `task`. */
  private insertionIndex(task: QueuedTask): number {
    let low = this.head;
    let high = this.slots.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (arrivedBefore(task, this.slots[middle]!.task)) high = middle;
      else low = middle + 1;
    }
    return low;
  }
}

/** A binary min-heap under `before`: the walk's ranking of teams. */
class Heap<T> {
  private readonly items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  /** The first item, or undefined when empty. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** Adds `item`. */
  push(item: T): void {
    const { items } = this;
    items.push(item);
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >>> 1;
      if (!this.before(items[index]!, items[parent]!)) break;
      this.swap(index, parent);
      index = parent;
    }
  }

  /** Removes the first item. */
  pop(): void {
    const last = this.items.pop();
    if (last === undefined || this.items.length === 0) return;
    this.items[0] = last;
    this.siftTopDown();
  }

  /** Restores the order after the first item's key grew. */
  siftTopDown(): void {
    const { items } = this;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let first = index;
      if (left < items.length && this.before(items[left]!, items[first]!)) first = left;
      if (right < items.length && this.before(items[right]!, items[first]!)) first = right;
      if (first === index) return;
      this.swap(index, first);
      index = first;
    }
  }

  private swap(a: number, b: number): void {
    const item = this.items[a]!;
    this.items[a] = this.items[b]!;
    this.items[b] = item;
  }
}

/** Whether `level` is an integer priority level, 0..9. */
function isLevel(level: number): boolean {
  return Number.isInteger(level) && level >= 0 && level <= MAX_PRIORITY;
}

/**
 * A frozen copy of the five fields the order depends on: a caller changing its object later cannot
 * break a lane's order, and a large row handed in is not held twice.
 */
function queuedCopy(task: QueuedTask): QueuedTask {
  const { id, team, priority, enqueuedAtMs, seq } = task;
  return Object.freeze({ id, team, priority, enqueuedAtMs, seq });
}

/** Asserts the shape of a task about to be queued. */
function checkTask(task: QueuedTask): void {
  assert(typeof task.id === "string" && task.id.length > 0, "a task needs a non-empty id");
  assert(typeof task.team === "string" && task.team.length > 0, () => `task ${task.id} needs a team`);
  assert(isLevel(task.priority), () => `task ${task.id} has priority ${task.priority}, not an integer 0..9`);
  assert(Number.isFinite(task.enqueuedAtMs), () => `task ${task.id} has enqueuedAtMs ${task.enqueuedAtMs}`);
  assert(Number.isSafeInteger(task.seq) && task.seq >= 0, () => `task ${task.id} has seq ${task.seq}`);
}

/** Reads a FairnessState, checking every field; throws an Error naming the first bad one. */
function parseFairness(value: unknown): LevelFairness[] {
  const fail = (where: string, problem: string): never => {
    throw new Error(`fairness state: ${where} ${problem}`);
  };
  if (typeof value !== "object" || value === null) return fail("the value", "is not an object");
  const { version, levels } = value as { version?: unknown; levels?: unknown };
  if (version !== 1) fail("version", `is ${JSON.stringify(version)}, expected 1`);
  if (!Array.isArray(levels) || levels.length !== PRIORITY_LEVELS) {
    return fail("levels", `must be an array of ${PRIORITY_LEVELS}`);
  }
  return levels.map((level: unknown, index) => parseLevel(level, `levels[${index}]`, fail));
}

/** Reads one level's fairness; `fail` throws naming the field. */
function parseLevel(
  value: unknown,
  where: string,
  fail: (where: string, problem: string) => never,
): LevelFairness {
  if (typeof value !== "object" || value === null) return fail(where, "is not an object");
  const { virtualPass, passes } = value as { virtualPass?: unknown; passes?: unknown };
  if (!isPass(virtualPass)) return fail(`${where}.virtualPass`, "must be a finite number >= 0");
  if (!Array.isArray(passes)) return fail(`${where}.passes`, "must be an array");
  const seen = new Set<string>();
  const pairs = passes.map((pair: unknown, index): [string, number] => {
    const at = `${where}.passes[${index}]`;
    if (!Array.isArray(pair) || pair.length !== 2) return fail(at, "must be a [team, pass] pair");
    const [team, pass] = pair as unknown[];
    if (typeof team !== "string" || team.length === 0) return fail(at, "needs a non-empty team name");
    if (seen.has(team)) return fail(at, `repeats team ${team}`);
    if (!isPass(pass)) return fail(at, "needs a finite pass >= 0");
    seen.add(team);
    return [team, pass];
  });
  return { virtualPass, passes: pairs };
}

/** Whether `value` can be a pass: a finite number, not negative. */
function isPass(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}
