/**
 * `npm run bench:tasks`: tasks end to end (submit, place, deliver, complete) on a 3-node juno
 * cluster of real processes on this machine, with SDK agents in separate load processes
 * (bench/tasks-load.ts), through the HTTP API and the SDK that users take.
 *
 * 1. Throughput: BENCH_AGENTS SDK Agents (default 50, capacity 8 each, an instant handler that
 *    answers null) in BENCH_LOAD_PROCESSES processes (default 2), every agent given all three
 *    nodes' URLs. After a warm-up of 1,000 tasks, a submitter process sends BENCH_TASKS tasks
 *    (default 20,000) with a 64-character string as data and random priorities 0-9 (seeded by
 *    BENCH_SEED) at concurrency 64, round robin per request over the three nodes, each with an
 *    idempotency key as the SDK's submit sends. Measured from the first submission sent until
 *    the leader counts them all completed: tasks/s end to end, the submit answer's latency
 *    (HTTP), and submit-to-assigned latency, both from the leader's own metrics
 *    (assignment_latency_ms over its last 4,096 placements) and from every task's
 *    assigned_at - created_at (both stamped by the leader, in whole ms). Beside them: the
 *    other stages of a task's life, priority inversions (a task placed while one of a higher
 *    priority had been waiting), the share of attempts the agents' reports started (`take`: a
 *    busy agent's report takes its next work), Raft entries per task, the agents' HTTP requests
 *    per task, and each node's CPU over the phase (utime + stime from /proc, % of one core).
 *    Then the same again with the tasks sent BENCH_BULK at a time (default 100) through
 *    POST /tasks/distribute/bulk, BENCH_BULK_CONCURRENCY requests in flight (default 4, so that
 *    400 tasks are in flight, the agents' slots), as a producer with work in hand sends it
 *    (BullMQ's addBulk, Hatchet's bulk push). BENCH_BULK=0 leaves it out.
 * 2. Agent loss: one agent of capacity 100 (skill "hold") whose handler never finishes takes
 *    100 tasks; once all run on it, a standby agent with the same skill and an instant handler
 *    registers (so it got none), and the first agent's process is SIGKILLed. Measured: the
 *    time until all 100 are completed elsewhere, against FAILURE_DETECTION_TIMEOUT + 2 s, with
 *    when the agent was seen failed and when the first task left it.
 * 3. Memory: each node's resident memory (VmRSS) after the phases above; with --million, after
 *    1,000,000 more tasks submitted and completed (the retention bound keeps 1,000,000
 *    finished tasks).
 *
 * FAILURE_DETECTION_TIMEOUT is 5 s (the default is 15 s) so that the kill test is quick;
 * heartbeats every 1 s; Raft heartbeat 100 ms, election 1 s, as the other benches. The anchors
 * printed beside the figures (BullMQ, pg-boss) were measured earlier on this machine and are
 * not run here. Speed is measured and printed, never asserted; the run fails (exit 1) only when
 * a phase does not finish within its bound.
 *
 * Options: --million. Environment: BENCH_TASKS, BENCH_SINGLE_TASKS, BENCH_AGENTS, BENCH_LOAD_PROCESSES,
 * BENCH_CONCURRENCY, BENCH_SEED, BENCH_BULK, BENCH_BULK_CONCURRENCY, BENCH_DELIVERY (pull, or push: the leader POSTs the agents'
 * tasks to a server in their load process), BENCH_PHASE_TIMEOUT_S (each phase's bound, default 300),
 * BENCH_MILLION_TIMEOUT_S (default 3600), BENCH_MILLION_TASKS (default 1,000,000; fewer only to
 * try the phase out), BENCH_STORAGE (sqlite, the default, or postgres: the bench starts a
 * throw-away PostgreSQL server with scripts/postgres.sh, on the same cores, and removes it
 * after). JUNO_CPU_PROF_DIR=dir profiles every juno node and the load processes that exit by
 * themselves (bench/profile-top.ts reads the profiles).
 */

import { fork, type ChildProcess } from "node:child_process";
import { cpus } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { ProcessCluster, eventually } from "../test/integration/harness.js";
import { startPostgres, type PostgresServer } from "../test/support/postgres.js";
import type {
  AgentsStart,
  LoadCommand,
  LoadCounters,
  LoadReady,
  LoadReport,
  LoadStart,
  LoadSubmitted,
  SubmitBatch,
} from "./tasks-load.js";
import { CpuMeter, rssMb } from "./proc-stats.js";

const TOKEN = "integration-token";
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** Says what is wrong with the options and how to give them, and exits. */
function usage(message: string): never {
  console.error(`tasks-bench: ${message}`);
  console.error(
    "usage: [BENCH_TASKS=20000] [BENCH_AGENTS=50] [BENCH_LOAD_PROCESSES=2] [BENCH_CONCURRENCY=64] " +
      "[BENCH_SINGLE_TASKS=BENCH_TASKS] [BENCH_SEED=1] [BENCH_PHASE_TIMEOUT_S=300] [BENCH_MILLION_TIMEOUT_S=3600] [BENCH_MILLION_TASKS=1000000] " +
      "npm run bench:tasks -- [--million]",
  );
  process.exit(2);
}

/** An integer of at least `least` (1 unless said) from the environment, or `fallback` when it is not set. */
function numberFromEnv(name: string, fallback: number, least = 1): number {
  const text = process.env[name];
  const value = text === undefined ? fallback : Number(text);
  if (!(Number.isInteger(value) && value >= least))
    usage(`${name} must be an integer of at least ${least}, not "${text}"`);
  return value;
}

const args = process.argv.slice(2);
for (const arg of args) if (arg !== "--million") usage(`unknown argument ${arg}`);
const MILLION = args.includes("--million");

const TASKS = numberFromEnv("BENCH_TASKS", 20_000);
/** The one-by-one phase's count when it should differ (small, say, to profile the bulk phase). */
const SINGLE_TASKS = numberFromEnv("BENCH_SINGLE_TASKS", TASKS);
const AGENTS = numberFromEnv("BENCH_AGENTS", 50);
const LOAD_PROCESSES = numberFromEnv("BENCH_LOAD_PROCESSES", 2);
const CONCURRENCY = numberFromEnv("BENCH_CONCURRENCY", 64);
const SEED = numberFromEnv("BENCH_SEED", 1);
/** The bulk phase: tasks per POST /tasks/distribute/bulk (0 leaves the phase out), and requests in flight. */
const BULK = numberFromEnv("BENCH_BULK", 100, 0);
const BULK_CONCURRENCY = numberFromEnv("BENCH_BULK_CONCURRENCY", 4);
/** How the agents take their tasks: long-poll (the default) or pushed by the leader (BENCH_DELIVERY=push). */
const DELIVERY: "pull" | "push" = process.env["BENCH_DELIVERY"] === "push" ? "push" : "pull";
/** Where the nodes keep their state: SQLite files (the default) or a PostgreSQL server of the bench's own. */
const STORAGE = process.env["BENCH_STORAGE"] ?? "sqlite";
if (STORAGE !== "sqlite" && STORAGE !== "postgres")
  usage(`BENCH_STORAGE must be sqlite or postgres, not "${STORAGE}"`);
const PHASE_TIMEOUT_MS = numberFromEnv("BENCH_PHASE_TIMEOUT_S", 300) * 1_000;
const MILLION_TIMEOUT_MS = numberFromEnv("BENCH_MILLION_TIMEOUT_S", 3_600) * 1_000;
/** --million's count; smaller only to try the phase out quickly. */
const MILLION_TASKS = numberFromEnv("BENCH_MILLION_TASKS", 1_000_000);
if (AGENTS < LOAD_PROCESSES) usage("BENCH_AGENTS must be at least BENCH_LOAD_PROCESSES");

const CAPACITY = 8;
const WARMUP_TASKS = 1_000;
const DATA_LENGTH = 64;
const HOLD_TASKS = 100;
const FAILURE_TIMEOUT_S = 5;
const HEARTBEAT_INTERVAL_S = 1;
/** The kill test's target: every held task completed elsewhere within this long of the kill. */
const RECOVERY_TARGET_MS = (FAILURE_TIMEOUT_S + 2) * 1_000;
/** The issue's targets: tasks/s end to end, and submit-to-assigned p50/p99 under this. */
const TASKS_PER_SECOND_TARGET = 5_000;
const SEED_PER_HOUR = 10_000;
const ASSIGN_LATENCY_TARGET_MS = 10;
/** How often the bench reads the leader's counts, and the held tasks in the kill test; a page size. */
const PROGRESS_POLL_MS = 50;
const KILL_POLL_MS = 50;
const PAGE_LIMIT = 500;
/** Everything, start to end, with room for the slowest machine; a watchdog ends the run past it. */
const RUN_TIMEOUT_MS = 4 * PHASE_TIMEOUT_MS + (MILLION ? MILLION_TIMEOUT_MS : 0);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- measuring helpers

/** The value at `share` (0..1) of sorted `values`; NaN when there are none. */
function percentile(sorted: ArrayLike<number>, share: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))]!;
}

/** p50, p99 and max of `values` (sorted here). */
function spread(values: Iterable<number>): { p50: number; p99: number; max: number } {
  const sorted = Float64Array.from(values).sort();
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? NaN };
}

/** What a node's monitors reported in `output`: event-loop blocks (and the CPU meanwhile), slow fsyncs. */
interface NodeWarnings {
  loopBlocks: number;
  blockedMs: number;
  /** CPU used while blocked: about blockedMs means busy; much less, not run or waiting on the disk. */
  cpuMs: number;
  slowFsyncs: number;
  slowFsyncMs: number;
}

function warningsIn(output: string): NodeWarnings {
  const found: NodeWarnings = { loopBlocks: 0, blockedMs: 0, cpuMs: 0, slowFsyncs: 0, slowFsyncMs: 0 };
  for (const line of output.split("\n")) {
    const blocked = line.includes("event loop blocked");
    const fsync = line.includes("slow write (fsync)");
    if (!blocked && !fsync) continue;
    let entry: { blockedMs?: number; cpuMs?: number; ms?: number } = {};
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      // A line that is not JSON (pretty printing) still counts.
    }
    if (blocked) {
      found.loopBlocks++;
      found.blockedMs += entry.blockedMs ?? 0;
      found.cpuMs += entry.cpuMs ?? 0;
    } else {
      found.slowFsyncs++;
      found.slowFsyncMs += entry.ms ?? 0;
    }
  }
  return found;
}

/** `after - before`, key by key. */
function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([key, n]) => [key, n - (before[key] ?? 0)]));
}

/** Adds the counts of `record` into `into`. */
function sum(record: Record<string, number>, into: Record<string, number> = {}): Record<string, number> {
  for (const [key, value] of Object.entries(record)) into[key] = (into[key] ?? 0) + value;
  return into;
}

// ---------------------------------------------------------------- HTTP

/** One keep-alive pool per origin, for the bench's own requests. */
const pools = new Map<string, Pool>();
function pool(origin: string): Pool {
  let found = pools.get(origin);
  if (found === undefined)
    pools.set(
      origin,
      (found = new Pool(origin, {
        connections: 8,
        pipelining: 1,
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      })),
    );
  return found;
}

async function closePools(): Promise<void> {
  for (const p of pools.values()) await p.destroy();
  pools.clear();
}

/** GETs a JSON answer with the token; anything but 200 is an error. */
async function getJson<T>(origin: string, path: string): Promise<T> {
  const response = await pool(origin).request({ method: "GET", path, headers: AUTH });
  const text = await response.body.text();
  if (response.statusCode !== 200)
    throw new Error(`GET ${path}: ${response.statusCode} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** The parts of GET /tasks/status read here. */
interface StatusPage {
  counts: Record<string, number>;
  total: number;
  tasks: TaskView[];
  next_cursor: string | null;
}

/** The parts of a task's view read here. */
interface TaskView {
  id: string;
  priority: number;
  status: string;
  attempt: number;
  assigned_agent: string | null;
  previous_agents: string[];
  created_at: string;
  assigned_at: string | null;
  started_at: string | null;
  completed_at: string | null;
  error: { cause: string } | null;
}

/** The parts of GET /tasks/metrics read here. */
interface Metrics {
  counts: Record<string, number>;
  queue: { depth: number };
  assignment_latency_ms: { p50: number | null; p99: number | null; samples: number };
  completed_last_minute: number;
  totals: {
    assigned: number;
    started: number;
    started_by_report: number;
    completed: number;
    retried: number;
    dead_lettered: number;
  };
}

/** Every task the filter matches (this node's state, a stale read), at most `max`. */
async function listTasks(origin: string, filter: Record<string, string>, max: number): Promise<TaskView[]> {
  const found: TaskView[] = [];
  let cursor: string | null = null;
  for (let page = 0; page <= Math.ceil(max / PAGE_LIMIT); page++) {
    const query = new URLSearchParams({
      ...filter,
      limit: String(PAGE_LIMIT),
      consistency: "stale",
      ...(cursor === null ? {} : { cursor }),
    });
    const answer: StatusPage = await getJson(origin, `/api/v3/tasks/status?${query.toString()}`);
    found.push(...answer.tasks);
    cursor = answer.next_cursor;
    if (cursor === null || found.length >= max) break;
  }
  return found;
}

// ---------------------------------------------------------------- the cluster

/** The cluster under test and the node that leads it (looked up again when it stops answering). */
class Juno {
  private leaderId: string;

  private constructor(
    readonly cluster: ProcessCluster,
    leaderId: string,
  ) {
    this.leaderId = leaderId;
  }

  static async start(postgres: PostgresServer | null): Promise<Juno> {
    const cluster = await ProcessCluster.start(3, {
      RAFT_HEARTBEAT_INTERVAL: "100",
      RAFT_ELECTION_TIMEOUT: "1000",
      AGENT_HEARTBEAT_INTERVAL: String(HEARTBEAT_INTERVAL_S),
      FAILURE_DETECTION_TIMEOUT: String(FAILURE_TIMEOUT_S),
      ...(postgres === null ? {} : { JUNO_STORAGE: postgres.url }),
    });
    try {
      return new Juno(cluster, await cluster.leader());
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  get leader(): string {
    return this.leaderId;
  }

  origins(): string[] {
    return this.cluster.founders().map((node) => `http://127.0.0.1:${node.http}`);
  }

  originOf(id: string): string {
    return `http://127.0.0.1:${this.cluster.node(id).http}`;
  }

  /** The node pids, the leader first. */
  pids(): (number | undefined)[] {
    const ids = this.cluster.founders().map((node) => node.id);
    return [this.leaderId, ...ids.filter((id) => id !== this.leaderId)].map(
      (id) => this.cluster.node(id).child?.pid,
    );
  }

  /** GETs from the leader; after a failure, finds the leader again and retries, within 20 s. */
  async read<T>(path: string): Promise<T> {
    return eventually(
      async () => {
        try {
          return await getJson<T>(this.originOf(this.leaderId), path);
        } catch (error) {
          this.leaderId = await this.cluster.leader();
          throw error;
        }
      },
      20_000,
      50,
      `GET ${path} from the leader`,
    );
  }

  counts(): Promise<Record<string, number>> {
    return this.read<StatusPage>("/api/v3/tasks/status?limit=1&consistency=stale").then(
      (page) => page.counts,
    );
  }

  metrics(): Promise<Metrics> {
    return this.read<Metrics>("/api/v3/tasks/metrics?consistency=stale");
  }

  commitIndex(): Promise<number> {
    return this.read<{ commit_index: number }>("/api/v3/consensus/status?consistency=stale").then(
      (status) => status.commit_index,
    );
  }

  /** The first page (PAGE_LIMIT) of the tasks matching `filter`, with the counts, from the leader. */
  page(filter: Record<string, string>): Promise<StatusPage> {
    const query = new URLSearchParams({ ...filter, limit: String(PAGE_LIMIT), consistency: "stale" });
    return this.read<StatusPage>(`/api/v3/tasks/status?${query.toString()}`);
  }

  /** Tasks matching `filter` as the leader holds them. */
  list(filter: Record<string, string>, max: number): Promise<TaskView[]> {
    return listTasks(this.originOf(this.leaderId), filter, max);
  }

  rssMb(): number[] {
    return this.cluster.founders().map((node) => rssMb(node.child?.pid));
  }

  /** What every node printed so far, by id. */
  outputLengths(): number[] {
    return this.cluster.founders().map((node) => node.output.length);
  }

  /** Each node's warnings since `lengths` (from outputLengths()), the leader first. */
  warningsSince(lengths: readonly number[]): (NodeWarnings & { id: string })[] {
    const all = this.cluster
      .founders()
      .map((node, i) => ({ id: node.id, ...warningsIn(node.output.slice(lengths[i])) }));
    return [...all.filter((w) => w.id === this.leaderId), ...all.filter((w) => w.id !== this.leaderId)];
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }

  /** SIGKILLs every node now, for the watchdog: no waiting. */
  killNow(): void {
    for (const node of this.cluster.founders()) node.child?.kill("SIGKILL");
  }
}

// ---------------------------------------------------------------- the load processes

/** A forked bench/tasks-load.ts, driven over IPC: one command, one report, each within a bound. */
class LoadProcess {
  private static readonly all = new Set<LoadProcess>();
  private pending: { type: string; resolve(report: LoadReport): void; reject(error: Error): void } | null =
    null;

  private constructor(private readonly child: ChildProcess) {
    child.on("message", (message: LoadReport) => {
      const pending = this.pending;
      this.pending = null;
      if (pending === null) return;
      if (message.type === pending.type) pending.resolve(message);
      else pending.reject(new Error(`a load process answered ${message.type}, not ${pending.type}`));
    });
    child.once("exit", (code, signal) => {
      LoadProcess.all.delete(this);
      this.pending?.reject(new Error(`a load process exited (${code ?? signal}) before it answered`));
      this.pending = null;
    });
  }

  /** Forks a load process and sends it `start`; resolves once it is ready. */
  static async start(start: LoadStart, timeoutMs: number): Promise<{ load: LoadProcess; ready: LoadReady }> {
    // JUNO_CPU_PROF_DIR=dir profiles the load processes too (those that exit by themselves).
    const profileDir = process.env["JUNO_CPU_PROF_DIR"];
    const child = fork(join(import.meta.dirname, "tasks-load.ts"), [], {
      execArgv: [
        "--import",
        "tsx",
        ...(profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]),
      ],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const load = new LoadProcess(child);
    LoadProcess.all.add(load);
    try {
      const ready = await load.ask<LoadReady>(
        start,
        "ready",
        timeoutMs,
        `a load process starting (${start.type})`,
      );
      return { load, ready };
    } catch (error) {
      await load.kill();
      throw error;
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Sends `message` and waits for the report of `type`, at most `timeoutMs`. */
  ask<T extends LoadReport>(
    message: LoadStart | LoadCommand,
    type: T["type"],
    timeoutMs: number,
    what: string,
  ): Promise<T> {
    if (this.pending !== null) return Promise.reject(new Error("a load process has a command pending"));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = null;
        reject(new Error(`${what} did not finish within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.pending = {
        type,
        resolve: (report) => {
          clearTimeout(timer);
          resolve(report as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.child.send(message);
    });
  }

  counters(): Promise<LoadCounters> {
    return this.ask<LoadCounters>({ type: "counters" }, "counters", 10_000, "reading the agents' counters");
  }

  /** Asks the process to exit (agents deregister first); SIGKILL after 15 s. */
  async exit(): Promise<void> {
    if (this.gone()) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.send({ type: "exit" } satisfies LoadCommand);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }

  /** SIGKILLs the process and waits until it is gone. */
  async kill(): Promise<void> {
    if (this.gone()) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGKILL");
    await exited;
  }

  /** SIGKILLs every load process still running, without waiting (cleanup, the watchdog). */
  static killAll(): void {
    for (const load of LoadProcess.all) load.child.kill("SIGKILL");
  }

  private gone(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }
}

/** The agents processes of the throughput phase. */
class Fleet {
  private constructor(readonly processes: readonly LoadProcess[]) {}

  static async start(origins: readonly string[]): Promise<Fleet> {
    const started = await Promise.allSettled(
      Array.from({ length: LOAD_PROCESSES }, (_, p) => {
        const firstIndex = Math.floor((p * AGENTS) / LOAD_PROCESSES);
        const start: AgentsStart = {
          type: "agents",
          origins,
          token: TOKEN,
          firstIndex,
          count: Math.floor(((p + 1) * AGENTS) / LOAD_PROCESSES) - firstIndex,
          capacity: CAPACITY,
          skills: ["bench"],
          taskTypes: ["bench", "bench-warmup", "bench-bulk", "bench-million"],
          mode: "instant",
          delivery: DELIVERY,
          namePrefix: "bench-agent",
          readyTimeoutMs: 60_000,
        };
        return LoadProcess.start(start, 90_000);
      }),
    );
    const processes = started.flatMap((s) => (s.status === "fulfilled" ? [s.value.load] : []));
    const refused = started.find((s) => s.status === "rejected");
    if (refused !== undefined) {
      await Promise.all(processes.map((load) => load.kill()));
      throw refused.reason;
    }
    return new Fleet(processes);
  }

  pids(): (number | undefined)[] {
    return this.processes.map((load) => load.pid);
  }

  /** The counters of every process, summed. */
  async counters(): Promise<{
    requests: Record<string, number>;
    tasks: Record<string, number>;
    errors: Record<string, number>;
  }> {
    const all = await Promise.all(this.processes.map((load) => load.counters()));
    return {
      requests: all.reduce((into, c) => sum(c.requests, into), {}),
      tasks: all.reduce((into, c) => sum(c.tasks, into), {}),
      errors: all.reduce((into, c) => sum(c.errors, into), {}),
    };
  }

  exit(): Promise<void[]> {
    return Promise.all(this.processes.map((load) => load.exit()));
  }
}

/** The submitter process. */
async function startSubmitter(origins: readonly string[]): Promise<LoadProcess> {
  const { load } = await LoadProcess.start(
    { type: "submitter", origins, token: TOKEN, connections: CONCURRENCY },
    30_000,
  );
  return load;
}

/** A batch of `count` tasks of `taskType` needing `skills`, priorities seeded by `seed`. */
function batchOf(
  taskType: string,
  skills: string[],
  count: number,
  concurrency: number,
  seed: number,
  bulk?: number,
): SubmitBatch {
  return {
    ...(bulk === undefined ? {} : { bulk }),
    taskType,
    team: "bench",
    skills,
    count,
    concurrency,
    dataLength: DATA_LENGTH,
    seed,
    keyPrefix: `${taskType}-${seed}`,
    latenciesMax: 1_000_000,
  };
}

// ---------------------------------------------------------------- throughput

/** What the throughput phase measured. */
interface Throughput {
  readonly tasks: number;
  readonly seconds: number;
  readonly tasksPerSecond: number;
  /** Submissions alone: the rate the submitter got its answers at. */
  readonly submitPerSecond: number;
  readonly submitAnswerMs: { p50: number; p99: number; max: number };
  readonly submitFailures: Record<string, number>;
  readonly submitGivenUp: number;
  readonly foundByKey: number;
  /** From the leader's GET /tasks/metrics at the end: its last 4,096 placements. */
  readonly leaderAssignmentMs: { p50: number | null; p99: number | null; samples: number };
  /** From every task's view (leader stamps, whole ms). */
  readonly submitToAssignedMs: { p50: number; p99: number; max: number };
  readonly assignedToStartedMs: { p50: number; p99: number; max: number };
  readonly startedToCompletedMs: { p50: number; p99: number; max: number };
  readonly submitToCompletedMs: { p50: number; p99: number; max: number };
  /** Tasks placed by their own submission's entry (assigned_at = created_at). */
  readonly placedAtSubmitShare: number;
  /** Of the attempts started in the phase (the leader's counters), those a report's take started. */
  readonly startedByReportShare: number;
  /** Tasks that took more than one attempt. */
  readonly retried: number;
  readonly priorityInversions: number;
  /** Leader-stamped span, first created_at to last completed_at, and the rate over it. */
  readonly stampedSeconds: number;
  /** The slowest and the fastest whole wall-clock second of completions. */
  readonly completedPerSecondMin: number;
  readonly completedPerSecondMax: number;
  readonly queuedMax: number;
  readonly entriesPerTask: number;
  /** CPU over the phase, % of one core: leader, followers, the agents' and the submitter's processes. */
  readonly cpu: { leader: number; followers: number[]; agents: number[]; submitter: number };
  readonly requestsPerTask: Record<string, number>;
  readonly agentTaskEvents: Record<string, number>;
  readonly agentErrors: Record<string, number>;
  /** Each node's monitor warnings during the phase, the leader first. */
  readonly warnings: (NodeWarnings & { id: string })[];
  readonly leaderChanged: boolean;
}

/** Polls the leader's counts until `completed` reaches `target()`: the wall clock then, the deepest queue. */
async function waitForCompleted(
  juno: Juno,
  completedBefore: number,
  target: () => number,
  deadlineMs: number,
  what: string,
): Promise<{ doneAtMs: number; queuedMax: number }> {
  let queuedMax = 0;
  for (;;) {
    const counts = await juno.counts();
    queuedMax = Math.max(queuedMax, counts["queued"] ?? 0);
    if ((counts["succeeded"] ?? 0) - completedBefore >= target()) return { doneAtMs: Date.now(), queuedMax };
    if (Date.now() > deadlineMs)
      throw new Error(
        `${what}: ${(counts["succeeded"] ?? 0) - completedBefore} of ${target()} completed within the bound; counts ${JSON.stringify(counts)}`,
      );
    await sleep(PROGRESS_POLL_MS);
  }
}

/**
 * Tasks placed while one of a higher priority had been waiting: task T (assigned at t) counts when
 * some U of a higher priority was created before t and assigned after t. First attempts only.
 */
function priorityInversions(
  tasks: readonly { priority: number; createdMs: number; assignedMs: number }[],
): number {
  const levels = Array.from({ length: 10 }, () => ({
    created: [] as number[],
    assigned: [] as number[],
    both: new Map<number, number>(),
  }));
  for (const task of tasks) {
    const level = levels[task.priority]!;
    level.created.push(task.createdMs);
    level.assigned.push(task.assignedMs);
    if (task.createdMs === task.assignedMs)
      level.both.set(task.createdMs, (level.both.get(task.createdMs) ?? 0) + 1);
  }
  for (const level of levels) {
    level.created.sort((a, b) => a - b);
    level.assigned.sort((a, b) => a - b);
  }
  /** How many of `sorted` are below `value` (or at most it, with `inclusive`). */
  const below = (sorted: readonly number[], value: number, inclusive: boolean): number => {
    let low = 0;
    let high = sorted.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (sorted[middle]! < value || (inclusive && sorted[middle] === value)) low = middle + 1;
      else high = middle;
    }
    return low;
  };
  // Waiting at t: created < t and assigned > t. As created <= assigned, that is
  // #(created < t) - #(assigned <= t) + #(created = assigned = t).
  const waitingAt = (level: (typeof levels)[number], t: number): number =>
    below(level.created, t, false) - below(level.assigned, t, true) + (level.both.get(t) ?? 0);
  let inversions = 0;
  for (const task of tasks)
    if (levels.some((level, priority) => priority > task.priority && waitingAt(level, task.assignedMs) > 0))
      inversions++;
  return inversions;
}

/** Completions per whole wall-clock second, slowest and fastest, the partial first and last left out. */
function completionsPerSecond(completedMs: readonly number[]): { min: number; max: number } {
  const perSecond = new Map<number, number>();
  for (const ms of completedMs) {
    const second = Math.floor(ms / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  }
  const seconds = [...perSecond.keys()].sort((a, b) => a - b).slice(1, -1);
  if (seconds.length === 0) return { min: NaN, max: NaN };
  const values = seconds.map((s) => perSecond.get(s) ?? 0);
  return { min: Math.min(...values), max: Math.max(...values) };
}

/** Submits a batch and waits until it is completed: end to end wall clock and the submitter's report. */
async function submitAndComplete(
  juno: Juno,
  submitter: LoadProcess,
  batch: SubmitBatch,
  timeoutMs: number,
): Promise<{ submitted: LoadSubmitted; doneAtMs: number; queuedMax: number }> {
  const completedBefore = (await juno.counts())["succeeded"] ?? 0;
  const deadlineMs = Date.now() + timeoutMs;
  let submitted: LoadSubmitted | null = null;
  const submitting = submitter
    .ask<LoadSubmitted>(
      { type: "submit", batch },
      "submitted",
      timeoutMs,
      `submitting ${batch.count} ${batch.taskType} tasks`,
    )
    .then((report) => (submitted = report));
  // Until the submitter says how many it got in, the whole batch is the target.
  const target = (): number => (submitted === null ? batch.count : submitted.created + submitted.foundByKey);
  const [report, progress] = await Promise.all([
    submitting,
    waitForCompleted(
      juno,
      completedBefore,
      target,
      deadlineMs,
      `completing ${batch.count} ${batch.taskType} tasks`,
    ),
  ]);
  return { submitted: report, ...progress };
}

/** A throughput phase: `batch` submitted, each task completed, and what that cost. */
async function benchThroughput(
  juno: Juno,
  fleet: Fleet,
  submitter: LoadProcess,
  batch: SubmitBatch,
): Promise<Throughput> {
  const leaderBefore = juno.leader;
  const countersBefore = await fleet.counters();
  const totalsBefore = (await juno.metrics()).totals;
  const commitBefore = await juno.commitIndex();
  const outputAt = juno.outputLengths();
  const meter = new CpuMeter([...juno.pids(), ...fleet.pids(), submitter.pid]);
  const { submitted, doneAtMs, queuedMax } = await submitAndComplete(
    juno,
    submitter,
    batch,
    PHASE_TIMEOUT_MS,
  );
  const cpu = meter.percentages();
  const warnings = juno.warningsSince(outputAt);
  const entries = (await juno.commitIndex()) - commitBefore;
  const countersAfter = await fleet.counters();
  const metrics = await juno.metrics();
  const accepted = submitted.created + submitted.foundByKey;
  const views = await juno.list({ task_type: batch.taskType, status: "succeeded" }, accepted);
  if (views.length !== accepted)
    throw new Error(`the leader lists ${views.length} completed ${batch.taskType} tasks, not ${accepted}`);

  const times = views.map((task) => ({
    priority: task.priority,
    attempt: task.attempt,
    createdMs: Date.parse(task.created_at),
    assignedMs: Date.parse(task.assigned_at ?? ""),
    startedMs: Date.parse(task.started_at ?? ""),
    completedMs: Date.parse(task.completed_at ?? ""),
  }));
  const first = times.filter((t) => t.attempt === 1);
  const seconds = (doneAtMs - submitted.startedAtMs) / 1000;
  const stampedSeconds =
    (Math.max(...times.map((t) => t.completedMs)) - Math.min(...times.map((t) => t.createdMs))) / 1000;
  const perSecond = completionsPerSecond(times.map((t) => t.completedMs));
  const requests = difference(countersAfter.requests, countersBefore.requests);
  const agentCount = fleet.pids().length;
  return {
    tasks: accepted,
    seconds,
    tasksPerSecond: accepted / seconds,
    submitPerSecond: accepted / ((submitted.endedAtMs - submitted.startedAtMs) / 1000),
    submitAnswerMs: spread(submitted.latenciesMs),
    submitFailures: submitted.failures,
    submitGivenUp: submitted.givenUp,
    foundByKey: submitted.foundByKey,
    leaderAssignmentMs: metrics.assignment_latency_ms,
    submitToAssignedMs: spread(first.map((t) => t.assignedMs - t.createdMs)),
    assignedToStartedMs: spread(first.map((t) => t.startedMs - t.assignedMs)),
    startedToCompletedMs: spread(first.map((t) => t.completedMs - t.startedMs)),
    submitToCompletedMs: spread(first.map((t) => t.completedMs - t.createdMs)),
    placedAtSubmitShare: first.filter((t) => t.assignedMs === t.createdMs).length / Math.max(1, first.length),
    startedByReportShare:
      (metrics.totals.started_by_report - totalsBefore.started_by_report) /
      Math.max(1, metrics.totals.started - totalsBefore.started),
    retried: times.length - first.length,
    priorityInversions: priorityInversions(first),
    stampedSeconds,
    completedPerSecondMin: perSecond.min,
    completedPerSecondMax: perSecond.max,
    queuedMax,
    entriesPerTask: entries / accepted,
    cpu: {
      leader: cpu[0]!,
      followers: cpu.slice(1, 3),
      agents: cpu.slice(3, 3 + agentCount),
      submitter: cpu[3 + agentCount]!,
    },
    requestsPerTask: Object.fromEntries(Object.entries(requests).map(([kind, n]) => [kind, n / accepted])),
    agentTaskEvents: difference(countersAfter.tasks, countersBefore.tasks),
    agentErrors: difference(countersAfter.errors, countersBefore.errors),
    warnings,
    leaderChanged: juno.leader !== leaderBefore,
  };
}

// ---------------------------------------------------------------- agent loss

/** What the kill test measured; times in ms from the SIGKILL. */
interface Recovery {
  readonly tasks: number;
  /** When GET /agents/{id} first said failed. */
  readonly agentFailedMs: number;
  /** When the first task was seen off the killed agent (queued again, or on the standby). */
  readonly firstMovedMs: number;
  /** When every task was completed (NaN when not within the bound). */
  readonly allCompletedMs: number;
  /** From the final views (leader stamps): when the new attempts were placed and completed. */
  readonly replacedMs: { first: number; last: number };
  readonly completedMs: { first: number; last: number };
  readonly targetMs: number;
  readonly met: boolean;
  /** Where the completed tasks ran: on the standby, and how many attempts they took. */
  readonly completedOnStandby: number;
  readonly attempts: Record<string, number>;
  /** The cause of the failed attempt, for the tasks seen queued again between the attempts. */
  readonly causesSeen: Record<string, number>;
}

/** Holds HOLD_TASKS tasks on one agent, kills its process, and times their completion elsewhere. */
async function benchRecovery(juno: Juno, submitter: LoadProcess): Promise<Recovery> {
  const origins = juno.origins();
  const agentStart = (mode: "instant" | "hold", namePrefix: string): AgentsStart => ({
    type: "agents",
    origins,
    token: TOKEN,
    firstIndex: 0,
    count: 1,
    capacity: HOLD_TASKS,
    skills: ["hold"],
    taskTypes: ["hold"],
    mode,
    delivery: DELIVERY,
    namePrefix,
    readyTimeoutMs: 30_000,
  });
  const holder = await LoadProcess.start(agentStart("hold", "bench-holder"), 60_000);
  let standby: LoadProcess | null = null;
  try {
    const holderId = holder.ready.ids[0]!;
    const submitted = await submitter.ask<LoadSubmitted>(
      { type: "submit", batch: batchOf("hold", ["hold"], HOLD_TASKS, 16, SEED + 1) },
      "submitted",
      60_000,
      "submitting the held tasks",
    );
    if (submitted.created + submitted.foundByKey !== HOLD_TASKS)
      throw new Error(
        `only ${submitted.created + submitted.foundByKey} of ${HOLD_TASKS} held tasks were taken`,
      );
    await eventually(
      async () =>
        (await juno.list({ status: "running", agent_id: holderId }, HOLD_TASKS)).length === HOLD_TASKS
          ? true
          : undefined,
      30_000,
      100,
      `all ${HOLD_TASKS} tasks running on the holding agent`,
    );
    standby = (await LoadProcess.start(agentStart("instant", "bench-standby"), 60_000)).load;
    // The standby came after the placements: every held task must still run on the holder.
    const held = (await juno.page({ status: "running", agent_id: holderId })).tasks.length;
    if (held !== HOLD_TASKS)
      throw new Error(`${HOLD_TASKS - held} held tasks left the holding agent before the kill`);
    return await timeRecovery(juno, holder.load, holderId);
  } finally {
    await holder.load.kill();
    await standby?.exit();
  }
}

/**
 * Kills `holder` and polls until every held task is completed. The polls take only live tasks
 * (running on the holder, queued again) and the counts: a filter over finished tasks decodes
 * every task the leader keeps, which would load the leader being measured.
 */
async function timeRecovery(juno: Juno, holder: LoadProcess, holderId: string): Promise<Recovery> {
  const completedBefore = (await juno.counts())["succeeded"] ?? 0;
  const killedAtMs = Date.now();
  await holder.kill();
  let agentFailedMs = NaN;
  let firstMovedMs = NaN;
  let allCompletedMs = NaN;
  const causesSeen: Record<string, number> = {};
  const causeSeen = new Set<string>();
  const deadlineMs = killedAtMs + Math.max(60_000, 5 * RECOVERY_TARGET_MS);
  while (Date.now() < deadlineMs) {
    const [onHolder, queued, agent] = await Promise.all([
      juno.page({ status: "running", agent_id: holderId }),
      juno.page({ status: "queued", task_type: "hold" }),
      juno.read<{ agent: { status: string } }>(`/api/v3/agents/${holderId}?consistency=stale`),
    ]);
    const now = Date.now() - killedAtMs;
    if (Number.isNaN(agentFailedMs) && agent.agent.status === "failed") agentFailedMs = now;
    if (Number.isNaN(firstMovedMs) && onHolder.tasks.length < HOLD_TASKS) firstMovedMs = now;
    for (const task of queued.tasks)
      if (task.error !== null && !causeSeen.has(task.id)) {
        causeSeen.add(task.id);
        causesSeen[task.error.cause] = (causesSeen[task.error.cause] ?? 0) + 1;
      }
    // Nothing else completes meanwhile: the throughput agents are idle.
    if ((onHolder.counts["succeeded"] ?? 0) - completedBefore >= HOLD_TASKS) {
      allCompletedMs = now;
      break;
    }
    await sleep(KILL_POLL_MS);
  }
  const last = await juno.list({ task_type: "hold" }, HOLD_TASKS * 2);
  if (!(last.length === HOLD_TASKS && last.every((task) => task.status === "succeeded")))
    allCompletedMs = NaN;
  const attempts: Record<string, number> = {};
  for (const task of last) attempts[String(task.attempt)] = (attempts[String(task.attempt)] ?? 0) + 1;
  const since = (times: (string | null)[]): { first: number; last: number } => {
    const ms = times.map((at) => Date.parse(at ?? "") - killedAtMs).filter(Number.isFinite);
    return ms.length === 0 ? { first: NaN, last: NaN } : { first: Math.min(...ms), last: Math.max(...ms) };
  };
  return {
    tasks: HOLD_TASKS,
    replacedMs: since(last.map((task) => task.assigned_at)),
    completedMs: since(last.map((task) => task.completed_at)),
    agentFailedMs,
    firstMovedMs,
    allCompletedMs,
    targetMs: RECOVERY_TARGET_MS,
    met: allCompletedMs <= RECOVERY_TARGET_MS,
    completedOnStandby: last.filter(
      (task) => task.status === "succeeded" && task.previous_agents.at(-1) !== holderId,
    ).length,
    attempts,
    causesSeen,
  };
}

// ---------------------------------------------------------------- a million

/** What --million measured. */
interface Million {
  readonly tasks: number;
  readonly seconds: number;
  readonly tasksPerSecond: number;
  readonly submitGivenUp: number;
  readonly submitFailures: Record<string, number>;
  readonly finishedRetained: number;
  readonly tasksKept: number;
  readonly rssMb: number[];
}

/** A million more tasks through the same agents; then each node's memory. */
async function benchMillion(juno: Juno, submitter: LoadProcess): Promise<Million> {
  // The retention bound stops the completed count at a million: the leader's own total counts on.
  const before = (await juno.metrics()).totals.completed;
  const startedMs = Date.now();
  let submitted: LoadSubmitted | null = null;
  const submitting = submitter
    .ask<LoadSubmitted>(
      { type: "submit", batch: batchOf("bench-million", ["bench"], MILLION_TASKS, CONCURRENCY, SEED + 2) },
      "submitted",
      MILLION_TIMEOUT_MS,
      `submitting ${MILLION_TASKS.toLocaleString("en-US")} tasks for --million`,
    )
    .then((report) => (submitted = report));
  const target = (): number =>
    submitted === null ? MILLION_TASKS : submitted.created + submitted.foundByKey;
  let lastPrintMs = startedMs;
  let doneAtMs = NaN;
  for (;;) {
    const done = (await juno.metrics()).totals.completed - before;
    if (done >= target()) {
      doneAtMs = Date.now();
      break;
    }
    if (Date.now() - startedMs > MILLION_TIMEOUT_MS)
      throw new Error(`--million: ${done} of ${target()} completed within ${MILLION_TIMEOUT_MS / 1000} s`);
    if (Date.now() - lastPrintMs >= 15_000) {
      lastPrintMs = Date.now();
      console.log(
        `  --million: ${done.toLocaleString("en-US")} completed after ${Math.round((lastPrintMs - startedMs) / 1000)} s`,
      );
    }
    await sleep(500);
  }
  const report = await submitting;
  const status = await juno.read<StatusPage>("/api/v3/tasks/status?limit=1&consistency=stale");
  const finished = ["succeeded", "failed", "cancelled", "dead_lettered"].reduce(
    (n, s) => n + (status.counts[s] ?? 0),
    0,
  );
  const seconds = (doneAtMs - report.startedAtMs) / 1000;
  return {
    tasks: report.created + report.foundByKey,
    seconds,
    tasksPerSecond: (report.created + report.foundByKey) / seconds,
    submitGivenUp: report.givenUp,
    submitFailures: report.failures,
    finishedRetained: finished,
    tasksKept: status.total,
    rssMb: juno.rssMb(),
  };
}

// ---------------------------------------------------------------- run

/** Everything measured. */
interface Result {
  readonly throughput: Throughput;
  /** The same load submitted BULK tasks per request (null with BENCH_BULK=0). */
  readonly bulk: Throughput | null;
  readonly rssAfterThroughputMb: number[];
  readonly recovery: Recovery;
  readonly rssAfterRecoveryMb: number[];
  readonly million: Million | null;
  readonly leader: string;
}

async function run(juno: Juno): Promise<Result> {
  const origins = juno.origins();
  const fleet = await Fleet.start(origins);
  try {
    await eventually(
      async () => {
        const health = await juno.read<{ by_status: Record<string, number> }>(
          "/api/v3/agents/health?consistency=stale",
        );
        return (health.by_status["healthy"] ?? 0) >= AGENTS ? true : undefined;
      },
      30_000,
      100,
      `${AGENTS} healthy agents`,
    );
    const submitter = await startSubmitter(origins);
    try {
      await submitAndComplete(
        juno,
        submitter,
        batchOf("bench-warmup", ["bench"], WARMUP_TASKS, CONCURRENCY, SEED),
        PHASE_TIMEOUT_MS,
      );
      const throughput = await benchThroughput(
        juno,
        fleet,
        submitter,
        batchOf("bench", ["bench"], SINGLE_TASKS, CONCURRENCY, SEED),
      );
      const bulk =
        BULK > 0
          ? await benchThroughput(
              juno,
              fleet,
              submitter,
              batchOf("bench-bulk", ["bench"], TASKS, BULK_CONCURRENCY, SEED, BULK),
            )
          : null;
      const rssAfterThroughputMb = juno.rssMb();
      const recovery = await benchRecovery(juno, submitter);
      const rssAfterRecoveryMb = juno.rssMb();
      const million = MILLION ? await benchMillion(juno, submitter) : null;
      return {
        throughput,
        bulk,
        rssAfterThroughputMb,
        recovery,
        rssAfterRecoveryMb,
        million,
        leader: juno.leader,
      };
    } finally {
      await submitter.exit();
    }
  } finally {
    await fleet.exit();
  }
}

const runStarted = performance.now();
let junoCluster: Juno | null = null;
let postgres: PostgresServer | null = null;
const watchdog = setTimeout(() => {
  console.error(`tasks-bench: the run took longer than ${Math.round(RUN_TIMEOUT_MS / 1000)} s; stopping`);
  LoadProcess.killAll();
  junoCluster?.killNow();
  void (postgres?.destroy() ?? Promise.resolve()).finally(() => process.exit(1));
}, RUN_TIMEOUT_MS);
watchdog.unref();

let result: Result;
try {
  if (STORAGE === "postgres") postgres = await startPostgres();
  junoCluster = await Juno.start(postgres);
  result = await run(junoCluster);
} catch (error) {
  console.error(`tasks-bench: failed: ${error instanceof Error ? error.message : String(error)}`);
  for (const node of junoCluster?.cluster.founders() ?? [])
    if (node.output.trim() !== "") console.error(`--- ${node.id} (last output)\n${node.output.slice(-1500)}`);
  LoadProcess.killAll();
  await junoCluster?.stop();
  await closePools();
  await postgres?.destroy();
  process.exit(1);
}
await junoCluster.stop();
await closePools();
await postgres?.destroy();
clearTimeout(watchdog);

// ---------------------------------------------------------------- report

const whole = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");
const fixed = (n: number | null, digits = 2): string =>
  n !== null && Number.isFinite(n) ? n.toFixed(digits) : "n/a";
const verdict = (ok: boolean): string => (ok ? "met" : "MISSED");
const counts = (record: Record<string, number>): string =>
  Object.entries(record)
    .filter(([, n]) => n !== 0)
    .map(([key, n]) => `${n} x ${key}`)
    .join(", ") || "none";
const megabytes = (values: readonly number[]): string => values.map((mb) => `${whole(mb)} MB`).join(", ");

/** One table row: the figure, juno's value, and the target or anchor beside it. */
function row(label: string, value: string, beside = ""): void {
  console.log(`${label.padEnd(46)}${value.padStart(16)}   ${beside}`);
}

const t = result.throughput;
const r = result.recovery;
console.log(
  `juno tasks benchmark: 3 juno nodes as real processes on this machine (${cpus().length} cores, ${process.version}); ` +
    `${AGENTS} SDK agents (capacity ${CAPACITY}, instant handler answering null, all three nodes' URLs, tasks ${DELIVERY === "push" ? "pushed by the leader" : "taken by long-poll"}) in ` +
    `${LOAD_PROCESSES} load processes; ${TASKS.toLocaleString("en-US")} tasks with ${DATA_LENGTH}-character data ` +
    `and random priorities 0-9 (seed ${SEED}) submitted at concurrency ${CONCURRENCY}, round robin per request ` +
    `over the nodes, after ${WARMUP_TASKS.toLocaleString("en-US")} warm-up tasks. FAILURE_DETECTION_TIMEOUT=` +
    `${FAILURE_TIMEOUT_S} s (default 15 s), AGENT_HEARTBEAT_INTERVAL=${HEARTBEAT_INTERVAL_S} s. ` +
    (STORAGE === "postgres"
      ? "Storage: PostgreSQL (a server of the bench's own, on the same cores; each node in its own schema). "
      : "Storage: SQLite. ") +
    "Anchors (BullMQ, pg-boss) measured earlier on this machine, not run here.",
);
console.log("");
console.log(`${"".padEnd(46)}${"juno".padStart(16)}   target / anchor`);
row(
  "end to end tasks/s (submit .. all completed)",
  whole(t.tasksPerSecond),
  `>= ${TASKS_PER_SECOND_TARGET.toLocaleString("en-US")} (${verdict(t.tasksPerSecond >= TASKS_PER_SECOND_TARGET)}); ` +
    `the seed's ${SEED_PER_HOUR.toLocaleString("en-US")}/hour = ${fixed(SEED_PER_HOUR / 3600)}/s ` +
    `(${verdict(t.tasksPerSecond >= SEED_PER_HOUR / 3600)})`,
);
row(
  "",
  "",
  "BullMQ 6.7 on Redis 7: 3,100-3,400 jobs/s (4 workers x concurrency 8, instant handlers, 20,000 jobs " +
    "of 64 bytes, random priorities); pg-boss 10.4: ~400 jobs/s",
);
row(
  `  ${whole(t.tasks)} tasks in`,
  `${fixed(t.seconds)} s`,
  `leader stamps, first created .. last completed: ${fixed(t.stampedSeconds)} s`,
);
row(
  "  completions per whole second, min .. max",
  `${whole(t.completedPerSecondMin)} .. ${whole(t.completedPerSecondMax)}`,
);
row("  submissions alone, answered /s", whole(t.submitPerSecond));
row(
  "submit-to-assigned p50 ms (every task)",
  fixed(t.submitToAssignedMs.p50, 0),
  `< ${ASSIGN_LATENCY_TARGET_MS} (${verdict(t.submitToAssignedMs.p50 < ASSIGN_LATENCY_TARGET_MS)}); leader stamps, whole ms: ` +
    "the wait in the queue (a free agent is chosen in the submission's own entry, so the time to a " +
    "durable placement is the submit answer's latency below)",
);
row(
  "submit-to-assigned p99 ms (every task)",
  fixed(t.submitToAssignedMs.p99, 0),
  `< ${ASSIGN_LATENCY_TARGET_MS} (${verdict(t.submitToAssignedMs.p99 < ASSIGN_LATENCY_TARGET_MS)}); max ${fixed(t.submitToAssignedMs.max, 0)} ms`,
);
row(
  "  leader metrics p50 / p99 ms",
  `${fixed(t.leaderAssignmentMs.p50, 1)} / ${fixed(t.leaderAssignmentMs.p99, 1)}`,
  `GET /tasks/metrics assignment_latency_ms over its last ${whole(t.leaderAssignmentMs.samples)} placements`,
);
row(
  "  placed by their own submission",
  `${fixed(t.placedAtSubmitShare * 100, 1)} %`,
  `deepest queue seen: ${whole(t.queuedMax)}; started by the agents' reports (take) ${fixed(t.startedByReportShare * 100, 1)} %`,
);
row(
  "submit answer p50 / p99 ms (HTTP)",
  `${fixed(t.submitAnswerMs.p50)} / ${fixed(t.submitAnswerMs.p99)}`,
  `max ${fixed(t.submitAnswerMs.max)} ms`,
);
row(
  "assigned-to-started p50 / p99 ms",
  `${fixed(t.assignedToStartedMs.p50, 0)} / ${fixed(t.assignedToStartedMs.p99, 0)}`,
  "the agent's poll takes it",
);
row(
  "started-to-completed p50 / p99 ms",
  `${fixed(t.startedToCompletedMs.p50, 0)} / ${fixed(t.startedToCompletedMs.p99, 0)}`,
  "the handler, then the complete call",
);
row(
  "submit-to-completed p50 / p99 ms",
  `${fixed(t.submitToCompletedMs.p50, 0)} / ${fixed(t.submitToCompletedMs.p99, 0)}`,
);
row("priority inversions", whole(t.priorityInversions), "placed while a higher priority had been waiting");
row("tasks retried (attempt > 1)", whole(t.retried));
row("Raft entries per task", fixed(t.entriesPerTask));
row(
  "agents' requests per task",
  Object.entries(t.requestsPerTask)
    .filter(([kind]) => kind === "poll" || kind === "complete")
    .map(([kind, n]) => `${kind} ${fixed(n)}`)
    .join(", "),
  `all: ${Object.entries(t.requestsPerTask)
    .map(([kind, n]) => `${kind} ${fixed(n, 3)}`)
    .join(", ")}`,
);
row(
  "CPU % of one core: leader",
  fixed(t.cpu.leader, 0),
  `followers ${t.cpu.followers.map((c) => fixed(c, 0)).join(", ")}; agents' processes ` +
    `${t.cpu.agents.map((c) => fixed(c, 0)).join(", ")}; submitter ${fixed(t.cpu.submitter, 0)}`,
);
/** CPU ms per task of a process that used `percent` of one core over the phase. */
const cpuMsPerTask = (percent: number): string => fixed(((percent / 100) * t.seconds * 1000) / t.tasks, 3);
row(
  "CPU ms per task: leader",
  cpuMsPerTask(t.cpu.leader),
  `followers ${t.cpu.followers.map(cpuMsPerTask).join(", ")}; agents' processes ` +
    `${t.cpu.agents.map(cpuMsPerTask).join(", ")}; submitter ${cpuMsPerTask(t.cpu.submitter)}`,
);
const b = result.bulk;
if (b !== null) {
  console.log("");
  const bulkCpuMs = (percent: number): string => fixed(((percent / 100) * b.seconds * 1000) / b.tasks, 3);
  row(
    `bulk: end to end tasks/s (${BULK} per request)`,
    whole(b.tasksPerSecond),
    `>= ${TASKS_PER_SECOND_TARGET.toLocaleString("en-US")} (${verdict(b.tasksPerSecond >= TASKS_PER_SECOND_TARGET)}); ` +
      `the same ${whole(b.tasks)} tasks as POST /tasks/distribute/bulk, ${BULK_CONCURRENCY} requests in flight ` +
      "(as BullMQ's addBulk or Hatchet's bulk push)",
  );
  row(
    "  submit answer p50 / p99 ms (HTTP)",
    `${fixed(b.submitAnswerMs.p50)} / ${fixed(b.submitAnswerMs.p99)}`,
    `per request of ${BULK}; submissions alone answered ${whole(b.submitPerSecond)}/s`,
  );
  row(
    "  submit-to-completed p50 / p99 ms",
    `${fixed(b.submitToCompletedMs.p50, 0)} / ${fixed(b.submitToCompletedMs.p99, 0)}`,
    `priority inversions ${whole(b.priorityInversions)}; retried ${whole(b.retried)}; deepest queue ${whole(b.queuedMax)}`,
  );
  row(
    "  started by the agents' reports",
    `${fixed(b.startedByReportShare * 100, 1)} %`,
    "a busy agent's report takes its next work (take); the rest by polls",
  );
  row(
    "  Raft entries per task",
    fixed(b.entriesPerTask),
    `agents' requests per task: ${Object.entries(b.requestsPerTask)
      .map(([kind, n]) => `${kind} ${fixed(n, 3)}`)
      .join(", ")}`,
  );
  row(
    "  CPU ms per task: leader",
    bulkCpuMs(b.cpu.leader),
    `followers ${b.cpu.followers.map(bulkCpuMs).join(", ")}; agents' processes ` +
      `${b.cpu.agents.map(bulkCpuMs).join(", ")}; submitter ${bulkCpuMs(b.cpu.submitter)}`,
  );
}
console.log("");
row(
  `killed agent's ${r.tasks} running tasks done elsewhere`,
  `${fixed(r.allCompletedMs / 1000)} s`,
  `FAILURE_DETECTION_TIMEOUT + 2 s = ${fixed(RECOVERY_TARGET_MS / 1000, 0)} s (${verdict(r.met)}); ` +
    "BullMQ 6.7: 59 s to recover a SIGKILLed worker's jobs; pg-boss 10.4: 956 s",
);
row("  completed on the standby", `${r.completedOnStandby} of ${r.tasks}`, "measured from the SIGKILL");
row("  agent seen failed after", `${fixed(r.agentFailedMs / 1000)} s`);
row("  first task off the killed agent after", `${fixed(r.firstMovedMs / 1000)} s`);
row(
  "  placed on the standby after",
  `${fixed(r.replacedMs.first / 1000)} .. ${fixed(r.replacedMs.last / 1000)} s`,
  `completed ${fixed(r.completedMs.first / 1000)} .. ${fixed(r.completedMs.last / 1000)} s (leader stamps)`,
);
row(
  "  attempts of the moved tasks",
  counts(r.attempts),
  `causes seen while queued again: ${counts(r.causesSeen)}`,
);
console.log("");
row(
  "memory per node after the throughput phase",
  "",
  `${megabytes(result.rssAfterThroughputMb)} (leader ${result.leader})`,
);
row("memory per node after the kill test", "", megabytes(result.rssAfterRecoveryMb));
const m = result.million;
if (m === null)
  console.log(
    "memory with 1,000,000 finished tasks retained: not measured in this run; `npm run bench:tasks -- --million` " +
      "submits and completes a million more tasks and prints each node's memory",
  );
else {
  row(
    `memory per node, ${whole(m.tasks)} more tasks`,
    "",
    `${megabytes(m.rssMb)}; ${whole(m.finishedRetained)} finished tasks retained of ${whole(m.tasksKept)} kept`,
  );
  row(
    "  the --million phase at",
    `${whole(m.tasksPerSecond)}/s`,
    `${fixed(m.seconds, 0)} s; submissions given up: ${m.submitGivenUp}; refused attempts: ${counts(m.submitFailures)}`,
  );
}
console.log("");
if (t.submitGivenUp > 0 || Object.keys(t.submitFailures).length > 0)
  console.log(
    `submissions: ${t.submitGivenUp} given up; refused attempts (retried): ${counts(t.submitFailures)}; found again by key: ${t.foundByKey}`,
  );
console.log(
  `agents' task events in the throughput phase: ${counts(t.agentTaskEvents)}; errors: ${counts(t.agentErrors)}`,
);
console.log(
  "node warnings during the throughput phase (leader first): " +
    t.warnings
      .map(
        (w) =>
          `${w.id} event loop blocked >= 50 ms ${w.loopBlocks} times (${whole(w.blockedMs)} ms, with ` +
          `${whole(w.cpuMs)} ms of its CPU meanwhile), slow fsyncs ${w.slowFsyncs} (${whole(w.slowFsyncMs)} ms)`,
      )
      .join("; ") +
    " (blocked with little CPU: the machine did not run the node, or it waited on the disk)",
);
if (t.leaderChanged) console.log("warning: the leader changed during the throughput phase");
console.log(`run took ${((performance.now() - runStarted) / 1000).toFixed(0)} s`);
console.log(
  JSON.stringify(
    {
      benchmark: "juno-tasks",
      storage: STORAGE,
      tasks: TASKS,
      agents: AGENTS,
      capacity: CAPACITY,
      loadProcesses: LOAD_PROCESSES,
      delivery: DELIVERY,
      concurrency: CONCURRENCY,
      seed: SEED,
      failureTimeoutSeconds: FAILURE_TIMEOUT_S,
      ...result,
    },
    (_key, value: unknown) =>
      typeof value === "number" && !Number.isInteger(value)
        ? Number.isFinite(value)
          ? Math.round(value * 1000) / 1000
          : null
        : value,
  ),
);
