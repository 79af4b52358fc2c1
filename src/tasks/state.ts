/**
 * Tasks: every task the cluster accepted and still keeps, and what placement needs to be the
 * same on every replica: the queue with its fairness passes, the tasks each agent holds, each
 * agent's circuit breaker, each requirement class's strategy memory, and the settings.
 *
 * Rows are kept as JSON text in a Table (off the heap; snapshots read it a slice at a time, as of
 * the moment they start), and live tasks (queued, assigned, running) also decoded, frozen, in a
 * Map with their indexes. A million finished tasks cost their text only.
 *
 * Invariants (asserted where they change):
 * - a task is in the queue iff its status is queued;
 * - a task is in byAgent[a] iff it holds a slot (assigned or running) and its agentId is a;
 * - teamRunning[t] is the number of tasks of team t that hold a slot.
 */

import { assert } from "../raft/assert.js";
import { Table, type Cursor, type JsonValue, type SectionRow, type Notice } from "../control/index.js";
import { CLOSED, type Breaker, type BreakerSettings } from "../faults/breaker.js";
import { FairQueue } from "./queue.js";
import { TaskStats } from "./stats.js";
import { emptyMemory, type CandidateSet, type StrategyMemory } from "./placement.js";
import { DEFAULT_TASK_SETTINGS, type TaskSettings } from "./settings.js";
import { HOLDING, TERMINAL, TASK_STATUSES, requirementClass, type Task, type TaskStatus } from "./task.js";

/** A min-heap of finished tasks by submission order: the oldest is evicted first. */
class FinishedHeap {
  private readonly items: [number, string][] = [];
  get size(): number {
    return this.items.length;
  }
  push(seq: number, id: string): void {
    const items = this.items;
    items.push([seq, id]);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]![0] <= seq) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }
  pop(): string | undefined {
    const items = this.items;
    const top = items[0];
    if (top === undefined) return undefined;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && items[left]![0] < items[smallest]![0]) smallest = left;
        if (right < items.length && items[right]![0] < items[smallest]![0]) smallest = right;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest]!, items[i]!];
        i = smallest;
      }
    }
    return top[1];
  }
}

export class TasksState {
  private readonly rows = new Table<string, Task>();
  private readonly live = new Map<string, Task>();
  /**
   * The tasks that finished last, as the objects they were put as (oldest first, at most
   * RECENT_MAX): the entry that finishes a task reads it back several times (its answer, its
   * row, a report's outcomes, the revocations on the agent's next poll), and decoding it from the
   * arena each time cost more than keeping it.
   */
  private readonly recent = new Map<string, Task>();
  /** How many queued tasks each requirement class has (classes with none are not kept). */
  private readonly queuedClasses = new Map<string, number>();
  private readonly byIdempotency = new Map<string, string>();
  private readonly byAgent = new Map<string, Set<string>>();
  /** Queued tasks with a schedule_to_start deadline (the leader's timeout scan looks only at these and held ones). */
  private readonly queuedDeadlines = new Set<string>();
  private readonly teamRunning = new Map<string, number>();
  private readonly counts = new Map<TaskStatus, number>(TASK_STATUSES.map((s) => [s, 0]));
  private readonly finished = new FinishedHeap();
  /** Ids evicted since the last drain (their projected rows go too). */
  private evicted: string[] = [];
  readonly breakers = new Map<string, Breaker>();
  readonly memories = new Map<string, StrategyMemory>();
  /**
   * Each requirement class's candidate agents, derived from the registry as of `candidatesVersion`
   * (the agents state's version): a cache, the same on every replica because it is a function of
   * replicated state alone.
   */
  readonly candidates = new Map<string, CandidateSet>();
  candidatesVersion = -1;
  /** Latency and throughput of recent work (view only). */
  readonly stats = new TaskStats();
  /** Why tasks of a requirement class wait (the last dispatch that could not place one). View only. */
  readonly waiting = new Map<string, string>();
  queue: FairQueue;
  settings: TaskSettings = DEFAULT_TASK_SETTINGS;
  /** The breaker part of `settings`, as the breaker functions take it (kept with `settings`). */
  breakerSettings: BreakerSettings = breakerSettingsOf(DEFAULT_TASK_SETTINGS);
  /** The last submission sequence handed out. */
  seq = 0;
  /** Bumped on every change, so watchers can tell cheaply whether anything moved. */
  version = 0;
  /** Workflow tasks that ended since the kernel last asked (see tasksState.takeNotices). */
  private ended: Notice[] = [];

  constructor() {
    this.queue = this.newQueue();
  }

  get size(): number {
    return this.rows.size;
  }

  /** How many requirement classes the queued tasks are of. */
  get queuedClassCount(): number {
    return this.queuedClasses.size;
  }

  get liveCount(): number {
    return this.live.size;
  }

  /** A task by id: decoded from its row when it is finished. */
  get(id: string): Task | undefined {
    return this.live.get(id) ?? this.recent.get(id) ?? this.rows.get(id);
  }

  /** The task submitted by `team` under `key`, if it is still kept. */
  byKey(team: string, key: string): Task | undefined {
    const id = this.byIdempotency.get(idempotencyKeyOf(team, key));
    return id === undefined ? undefined : this.get(id);
  }

  /** Tasks that are not finished, in submission order of their first arrival. */
  liveTasks(): IterableIterator<Task> {
    return this.live.values();
  }

  /**
   * The tasks that can time out: every assigned or running one, and queued ones with a
   * schedule_to_start deadline. Bounded by the agents' capacity plus those deadlines, not by the
   * queue, so the leader's scan stays cheap with a million queued.
   */
  *timed(): IterableIterator<Task> {
    for (const held of this.byAgent.values()) for (const id of held) yield this.live.get(id)!;
    for (const id of this.queuedDeadlines) yield this.live.get(id)!;
  }

  /** Every kept task's id, in submission order. */
  ids(): IterableIterator<string> {
    return this.rows.keys();
  }

  /** Whether the task is still kept (without decoding its row). */
  has(id: string): boolean {
    return this.rows.has(id);
  }

  /** The tasks `agentId` holds now. */
  heldBy(agentId: string): ReadonlySet<string> {
    return this.byAgent.get(agentId) ?? EMPTY;
  }

  /** Up to `max` of the tasks assigned to `agentId` and not yet taken, oldest first. */
  assignedTo(agentId: string, max: number): Task[] {
    const tasks: Task[] = [];
    for (const id of this.heldBy(agentId)) {
      const task = this.live.get(id)!;
      if (task.status === "assigned") tasks.push(task);
    }
    return tasks.sort((a, b) => a.seq - b.seq).slice(0, max);
  }

  /** How many tasks `agentId` holds. */
  active(agentId: string): number {
    return this.byAgent.get(agentId)?.size ?? 0;
  }

  /** Agents holding at least one task. */
  holders(): IterableIterator<string> {
    return this.byAgent.keys();
  }

  running(team: string): number {
    return this.teamRunning.get(team) ?? 0;
  }

  /** Tasks holding a slot, by team. */
  runningByTeam(): ReadonlyMap<string, number> {
    return this.teamRunning;
  }

  count(status: TaskStatus): number {
    return this.counts.get(status)!;
  }

  breaker(agentId: string): Breaker {
    return this.breakers.get(agentId) ?? CLOSED;
  }

  setBreaker(agentId: string, breaker: Breaker): void {
    if (breaker === CLOSED || (breaker.consecutiveFailures === 0 && breaker.openedAtMs === null))
      this.breakers.delete(agentId);
    else this.breakers.set(agentId, breaker);
    this.version++;
  }

  memory(requirementClass: string): StrategyMemory {
    let memory = this.memories.get(requirementClass);
    if (memory === undefined) this.memories.set(requirementClass, (memory = emptyMemory()));
    return memory;
  }

  /** Adds a new task or replaces one, keeping every index true. */
  put(task: Task): void {
    const frozen = Object.freeze(task);
    const previous = this.get(task.id);
    this.record(previous, frozen);
    if (previous !== undefined) {
      assert(!TERMINAL.has(previous.status), () => `task ${task.id} changed after it finished`);
      assert(
        previous.team === frozen.team && previous.idempotencyKey === frozen.idempotencyKey,
        () => `task ${task.id} changed its team or idempotency key`,
      );
      this.unindex(previous);
    }
    this.index(frozen, previous !== undefined);
    if (TERMINAL.has(frozen.status)) {
      // A finished task never changes again: its row goes into the arena as text.
      this.rows.set(task.id, frozen);
      this.recent.set(frozen.id, frozen);
      if (this.recent.size > RECENT_MAX) this.recent.delete(this.recent.keys().next().value!);
    } else this.rows.setHeld(task.id, frozen);
    if (frozen.workflowId !== null && TERMINAL.has(frozen.status)) this.ended.push(endedNotice(frozen));
    this.evict();
    this.version++;
  }

  /** The "tasks.ended" notices gathered since the last call (the kernel hands them to the workflows). */
  takeEnded(): readonly Notice[] {
    if (this.ended.length === 0) return NO_NOTICES;
    const ended = this.ended;
    this.ended = [];
    return ended;
  }

  /** Feeds the stats with one task's change. */
  private record(previous: Task | undefined, task: Task): void {
    if (task.status === "assigned" && previous?.status === "queued")
      this.stats.onAssigned(task.assignedAtMs! - previous.enqueuedAtMs);
    if (task.status === "running" && previous?.status === "assigned") this.stats.started++;
    if (task.status === "succeeded") this.stats.onCompleted(task.completedAtMs!);
    if (task.status === "dead_lettered") this.stats.deadLettered++;
    if (task.status === "queued" && previous !== undefined && previous.status !== "queued")
      this.stats.retried++;
  }

  /** Replaces the settings; the queue is rebuilt so aging and weights take effect at once. */
  configure(settings: TaskSettings): void {
    const fairness = this.queue.exportFairness();
    this.settings = settings;
    this.breakerSettings = breakerSettingsOf(settings);
    this.queue = this.newQueue();
    const queued = [...this.live.values()].filter((task) => task.status === "queued");
    for (const task of queued) this.queue.add(task);
    this.queue.importFairness(fairness);
    this.version++;
  }

  /** Takes a restored task row (already checked) and its text. */
  restore(task: Task, text: string): void {
    assert(!this.rows.has(task.id), () => `task ${task.id} restored twice`);
    const frozen = Object.freeze(task);
    this.rows.setText(task.id, text);
    this.index(frozen, false);
    this.seq = Math.max(this.seq, task.seq);
  }

  /** The snapshot's task rows, consistent as of this call. */
  sectionRows(): Cursor<SectionRow> {
    return this.rows.rowCursor();
  }

  /** The projection's rows, consistent as of this call. */
  cursor<T>(view: (task: Task) => T): Cursor<T> {
    return this.rows.cursor((_id, task) => view(task));
  }

  private newQueue(): FairQueue {
    const weights = new Map(this.settings.teamWeights.map(([team, weight]) => [team, weight] as const));
    return new FairQueue({ agingMs: this.settings.agingMs, teamWeight: (team) => weights.get(team) ?? 1 });
  }

  /**
   * Indexes `task`. `replacing`: an earlier version of it was just unindexed with its identity
   * kept, so its idempotency key is still indexed and, while it stays live, its place in `live`
   * (first arrival) is kept too; a transition then costs no string key built and hashed.
   */
  private index(task: Task, replacing: boolean): void {
    this.counts.set(task.status, this.counts.get(task.status)! + 1);
    if (!replacing && task.idempotencyKey !== null)
      this.byIdempotency.set(idempotencyKeyOf(task.team, task.idempotencyKey), task.id);
    if (TERMINAL.has(task.status)) {
      if (replacing) this.live.delete(task.id);
      this.finished.push(task.seq, task.id);
      return;
    }
    this.live.set(task.id, task);
    if (task.status === "queued") {
      const cls = requirementClass(task.requirements);
      this.queuedClasses.set(cls, (this.queuedClasses.get(cls) ?? 0) + 1);
      this.queue.add(task);
      if (task.scheduleToStartMs !== null) this.queuedDeadlines.add(task.id);
    }
    if (HOLDING.has(task.status)) {
      assert(task.agentId !== null, () => `task ${task.id} is ${task.status} without an agent`);
      let held = this.byAgent.get(task.agentId);
      if (held === undefined) this.byAgent.set(task.agentId, (held = new Set()));
      held.add(task.id);
      this.teamRunning.set(task.team, this.running(task.team) + 1);
    }
  }

  /**
   * Unindexes a live task that put() is about to replace: its idempotency key and its place in
   * `live` stay for the new version (see index).
   */
  private unindex(task: Task): void {
    this.counts.set(task.status, this.counts.get(task.status)! - 1);
    if (task.status === "queued") {
      const cls = requirementClass(task.requirements);
      const left = this.queuedClasses.get(cls)! - 1;
      if (left === 0) this.queuedClasses.delete(cls);
      else this.queuedClasses.set(cls, left);
      assert(this.queue.remove(task.id) !== null, () => `task ${task.id} not queued`);
      this.queuedDeadlines.delete(task.id);
    }
    if (HOLDING.has(task.status)) {
      const held = this.byAgent.get(task.agentId!);
      assert(held?.delete(task.id) === true, () => `task ${task.id} not held by ${task.agentId}`);
      if (held.size === 0) this.byAgent.delete(task.agentId!);
      const running = this.running(task.team) - 1;
      if (running === 0) this.teamRunning.delete(task.team);
      else this.teamRunning.set(task.team, running);
    }
  }

  /** Past the retention limit, the oldest finished tasks go (their rows and keys with them). */
  private evict(): void {
    while (this.finished.size > this.settings.retainedTasks) {
      const id = this.finished.pop()!;
      const task = this.rows.get(id);
      assert(task !== undefined && TERMINAL.has(task.status), () => `evicting ${id}, which is not finished`);
      this.counts.set(task.status, this.counts.get(task.status)! - 1);
      if (task.idempotencyKey !== null)
        this.byIdempotency.delete(idempotencyKeyOf(task.team, task.idempotencyKey));
      this.rows.delete(id);
      this.recent.delete(id);
      this.evicted.push(id);
    }
  }

  /** The ids evicted since the last call. */
  drainEvicted(): string[] {
    const evicted = this.evicted;
    this.evicted = [];
    return evicted;
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** How many finished tasks stay at hand as objects (TasksState.recent). */
const RECENT_MAX = 1024;

function breakerSettingsOf(settings: TaskSettings): BreakerSettings {
  return { threshold: settings.breakerThreshold, coolDownMs: settings.breakerCoolDownMs };
}

function idempotencyKeyOf(team: string, key: string): string {
  return `${team}\u0000${key}`;
}

const NO_NOTICES: readonly Notice[] = [];

/** What the "tasks.ended" notice says: a task that belongs to a workflow reached its last status. */
export interface TaskEnded {
  readonly task_id: string;
  readonly workflow_id: string;
  readonly status: "succeeded" | "failed" | "cancelled" | "dead_lettered";
  readonly result: JsonValue | null;
  readonly error: string | null;
  readonly retryable: boolean;
  /** Attempts started. */
  readonly attempts: number;
}

/** The topic of a workflow task's end. */
export const TASK_ENDED = "tasks.ended";

function endedNotice(task: Task): Notice {
  const data: TaskEnded = {
    task_id: task.id,
    workflow_id: task.workflowId!,
    status: task.status as TaskEnded["status"],
    result: task.result,
    error: task.error?.message ?? null,
    retryable: task.error?.retryable ?? false,
    attempts: task.attempt,
  };
  return { topic: TASK_ENDED, data };
}
