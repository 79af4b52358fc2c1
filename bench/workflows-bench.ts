/**
 * `npm run bench:workflows`: workflows end to end on a 3-node juno cluster of real processes on
 * this machine (JUNO_FROM_DIST=1: the compiled CLI users run), through the HTTP API, with real SDK
 * agents in one bench/tasks-load.ts process per team ("alpha", "beta", "gamma"; BENCH_AGENTS_PER_TEAM
 * agents each, default 4, capacity 16, an instant handler answering null, every node's URL) and a
 * starter process (bench/workflows-load.ts) that POSTs runs round robin over the nodes, as a
 * Kubernetes Service in front of them would spread its clients.
 *
 * 1. Starts: BENCH_STARTS (default 10,000) 1-step workflows, `{definition, input, execute: true}`
 *    with an idempotency key, at concurrency BENCH_CONCURRENCY (default 64), the step's team
 *    rotating over the three, after BENCH_WARMUP (500). Measured: starts/s (POSTs answered), the
 *    POST's latency, the rate at which the runs went on to succeed, Raft entries per run, and each
 *    process's CPU (% of one core, from /proc).
 * 1b. Bulk starts: the same BENCH_STARTS runs (after the same warm-up), BENCH_BULK (default 100; 0:
 *    no such phase) per POST /workflows/bulk, BENCH_BULK_CONCURRENCY (default 4) bulks at a time,
 *    round robin over the nodes; measured as phase 1.
 * 2. Step dispatch: BENCH_PIPELINES (default 1,000) 2-step pipelines (alpha, then beta) at
 *    concurrency 16. From every pair of tasks (GET /tasks/status, the same views as GET
 *    /tasks/{id}; leader stamps in whole ms): step 2's created_at (queued), assigned_at and
 *    started_at (its agent took it), each minus step 1's completed_at (the report applied).
 * 3. End to end: BENCH_E2E (default 200) runs of a 3-step pipeline over the three teams, one at a
 *    time, each POSTed to the next node and followed on that node's /workflows/{id}/watch stream:
 *    POST sent to the stream showing succeeded.
 * 4. Chaos: BENCH_WORKFLOWS (default 500) runs of a 20-step DAG (fan-outs of 4 and 5, chains, joins;
 *    the steps' teams rotate) started at concurrency 50, while every BENCH_KILL_INTERVAL_MS
 *    (default 2,000) one team's agent process is SIGKILLed and a new one started, BENCH_KILLS
 *    times (default 6). The tasks held by killed agents are retried once the agents are seen failed
 *    (FAILURE_DETECTION_TIMEOUT 5 s here); steps allow 10 attempts. Measured: time until every run
 *    ended, the runs by status (each not succeeded is listed), tasks retried.
 *
 * 5. Live runs: BENCH_LIVE (default 100,000; 0: no such phase) runs of a one-step workflow waiting
 *    for an event nobody sends, started BENCH_BULK per POST /workflows/bulk; measured: the time
 *    until every node holds them all, and each node's resident memory with them (target: under
 *    1 GiB per node).
 *
 * Raft heartbeat 100 ms, election 1 s, agent heartbeats 1 s, as bench:tasks. Figures are printed
 * beside their targets, never asserted; the run fails (exit 1) only when a phase does not finish
 * within BENCH_PHASE_TIMEOUT_S (default 300). Environment: the BENCH_* above, BENCH_DELIVERY
 * (pull, default, or push). A quick try: BENCH_STARTS=500 BENCH_WARMUP=100 BENCH_PIPELINES=100
 * BENCH_E2E=20 BENCH_WORKFLOWS=50 BENCH_KILLS=3.
 */

import { fork, type ChildProcess } from "node:child_process";
import { cpus } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { ProcessCluster, eventually } from "../test/integration/harness.js";
import { CpuMeter, rssMb } from "./proc-stats.js";
import type { AgentsStart, LoadCommand, LoadReady } from "./tasks-load.js";
import type { StartBatch, StarterCommand, StarterStart, StarterStarted } from "./workflows-load.js";

const TOKEN = "integration-token";
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** A positive integer from the environment, or `fallback` when it is not set. */
function numberFromEnv(name: string, fallback: number, least = 1): number {
  const text = process.env[name];
  const value = text === undefined ? fallback : Number(text);
  if (!(Number.isInteger(value) && value >= least)) {
    console.error(`workflows-bench: ${name} must be an integer of at least ${least}, not "${text}"`);
    process.exit(2);
  }
  return value;
}

const STARTS = numberFromEnv("BENCH_STARTS", 10_000);
const WARMUP = numberFromEnv("BENCH_WARMUP", 500);
const CONCURRENCY = numberFromEnv("BENCH_CONCURRENCY", 64);
/** Runs per POST /workflows/bulk in phase 1b (0: no such phase), and bulks in flight. */
const BULK = numberFromEnv("BENCH_BULK", 100, 0);
const BULK_CONCURRENCY = numberFromEnv("BENCH_BULK_CONCURRENCY", 4);
/** Runs left waiting on an event in phase 5, to weigh each node with them (0: no such phase). */
const LIVE = numberFromEnv("BENCH_LIVE", 100_000, 0);
const PIPELINES = numberFromEnv("BENCH_PIPELINES", 1_000);
const E2E_RUNS = numberFromEnv("BENCH_E2E", 200);
const DAG_RUNS = numberFromEnv("BENCH_WORKFLOWS", 500);
const KILLS = numberFromEnv("BENCH_KILLS", 6);
const KILL_INTERVAL_MS = numberFromEnv("BENCH_KILL_INTERVAL_MS", 2_000);
const AGENTS_PER_TEAM = numberFromEnv("BENCH_AGENTS_PER_TEAM", 4);
const PHASE_TIMEOUT_MS = numberFromEnv("BENCH_PHASE_TIMEOUT_S", 300) * 1_000;
const DELIVERY: "pull" | "push" = process.env["BENCH_DELIVERY"] === "push" ? "push" : "pull";

const TEAMS = ["alpha", "beta", "gamma"] as const;
const CAPACITY = 16;
const PIPELINE_CONCURRENCY = 16;
const DAG_CONCURRENCY = 50;
const DAG_STEPS = 20;
const DAG_ATTEMPTS = 10;
const FAILURE_TIMEOUT_S = 5;
const TASK_TYPES = ["wf-start", "wf-first", "wf-second", "wf-e2e", "wf-dag"];
/** The issue's targets. */
const STARTS_PER_SECOND_TARGET = 1_000;
const DISPATCH_P99_TARGET_MS = 50;
const E2E_TARGET_MS = 200;
const PAGE_LIMIT = 500;
/** Everything, start to end, with room for the slowest machine; a watchdog ends the run past it. */
const RUN_TIMEOUT_MS = 5 * PHASE_TIMEOUT_MS;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- measuring helpers

/** p50, p99 and max of `values`; NaN when there are none. */
function spread(values: Iterable<number>): { p50: number; p99: number; max: number } {
  const sorted = Float64Array.from(values).sort();
  const at = (share: number): number =>
    sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? NaN };
}

/** `after - before`, key by key, the keys that changed. */
function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([key, n]) => [key, n - (before[key] ?? 0)] as const)
      .filter(([, n]) => n !== 0),
  );
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

/** Sends a request with the token; anything but `expect` is an error. */
async function requestJson<T>(
  origin: string,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await pool(origin).request({
    method,
    path,
    headers: body === undefined ? AUTH : { ...AUTH, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  if (response.statusCode >= 300)
    throw new Error(`${method} ${path}: ${response.statusCode} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** The parts of a task's view read here. */
interface TaskView {
  id: string;
  status: string;
  attempt: number;
  workflow_id: string | null;
  created_at: string;
  assigned_at: string | null;
  started_at: string | null;
  completed_at: string | null;
  error: { cause: string } | null;
}

/** The parts of GET /workflows/status read here. */
interface WorkflowCounts {
  counts: Record<string, number>;
  live: number;
}

/** The parts of a workflow's view read here. */
interface WorkflowView {
  id: string;
  status: string;
  failure: { code: string; step: string | null; message: string } | null;
}

const TERMINAL = ["succeeded", "failed", "cancelled"];
const terminalOf = (counts: Record<string, number>): number =>
  Object.entries(counts).reduce((n, [status, k]) => n + (TERMINAL.includes(status) ? k : 0), 0);

// ---------------------------------------------------------------- the cluster

/** The cluster under test and the node that leads it (looked up again when it stops answering). */
class Juno {
  private constructor(
    readonly cluster: ProcessCluster,
    private leaderId: string,
  ) {}

  static async start(): Promise<Juno> {
    const cluster = await ProcessCluster.start(3, {
      RAFT_HEARTBEAT_INTERVAL: "100",
      RAFT_ELECTION_TIMEOUT: "1000",
      AGENT_HEARTBEAT_INTERVAL: "1",
      FAILURE_DETECTION_TIMEOUT: String(FAILURE_TIMEOUT_S),
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

  leaderOrigin(): string {
    return `http://127.0.0.1:${this.cluster.node(this.leaderId).http}`;
  }

  /** The node pids, the leader first. */
  pids(): (number | undefined)[] {
    const ids = this.cluster.founders().map((node) => node.id);
    return [this.leaderId, ...ids.filter((id) => id !== this.leaderId)].map(
      (id) => this.cluster.node(id).child?.pid,
    );
  }

  /** GETs from the leader (stale reads: its own state); after a failure finds the leader again, within 20 s. */
  read<T>(path: string): Promise<T> {
    return eventually(
      async () => {
        try {
          return await requestJson<T>(this.leaderOrigin(), "GET", path);
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

  workflowCounts(): Promise<WorkflowCounts> {
    return this.read<WorkflowCounts>("/api/v3/workflows/status?consistency=stale");
  }

  /** Each node's own workflow counts (its state, not the leader's), the leader first. */
  eachNodeCounts(): Promise<WorkflowCounts[]> {
    const ids = this.cluster.founders().map((node) => node.id);
    return Promise.all(
      [this.leaderId, ...ids.filter((id) => id !== this.leaderId)].map((id) =>
        requestJson<WorkflowCounts>(
          `http://127.0.0.1:${this.cluster.node(id).http}`,
          "GET",
          "/api/v3/workflows/status?consistency=stale",
        ),
      ),
    );
  }

  commitIndex(): Promise<number> {
    return this.read<{ commit_index: number }>("/api/v3/consensus/status?consistency=stale").then(
      (status) => status.commit_index,
    );
  }

  /** Every task of `filter` as the leader holds them, at most `max`. */
  async tasks(filter: Record<string, string>, max: number): Promise<TaskView[]> {
    const found: TaskView[] = [];
    let cursor: string | null = null;
    for (let page = 0; page <= Math.ceil(max / PAGE_LIMIT); page++) {
      const query: URLSearchParams = new URLSearchParams({
        ...filter,
        limit: String(PAGE_LIMIT),
        consistency: "stale",
        ...(cursor === null ? {} : { cursor }),
      });
      const answer: { tasks: TaskView[]; next_cursor: string | null } = await this.read(
        `/api/v3/tasks/status?${query.toString()}`,
      );
      found.push(...answer.tasks);
      cursor = answer.next_cursor;
      if (cursor === null || found.length >= max) break;
    }
    return found;
  }

  /** Each node's resident memory, the leader first. */
  rssMb(): number[] {
    return this.pids().map(rssMb);
  }

  /** How often each node warned of `warning` ("event loop blocked", "slow write (fsync)") so far, the leader first. */
  warnings(warning: string): number[] {
    const nodes = this.cluster.founders();
    return [
      ...nodes.filter((n) => n.id === this.leaderId),
      ...nodes.filter((n) => n.id !== this.leaderId),
    ].map((node) => node.output.split(warning).length - 1);
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }

  killNow(): void {
    for (const node of this.cluster.founders()) node.child?.kill("SIGKILL");
  }
}

// ---------------------------------------------------------------- load processes

/**
 * A forked load process driven over IPC: one command, one report, each within a bound. (A lean
 * copy of bench/tasks-bench.ts's LoadProcess, which is private to that script and forks only
 * tasks-load.ts.)
 */
class LoadChild {
  private static readonly all = new Set<LoadChild>();
  private pending: { type: string; resolve(report: unknown): void; reject(error: Error): void } | null = null;

  private constructor(private readonly child: ChildProcess) {
    child.on("message", (message: { type: string }) => {
      const pending = this.pending;
      this.pending = null;
      if (pending === null) return;
      if (message.type === pending.type) pending.resolve(message);
      else pending.reject(new Error(`a load process answered ${message.type}, not ${pending.type}`));
    });
    child.once("exit", (code, signal) => {
      LoadChild.all.delete(this);
      this.pending?.reject(new Error(`a load process exited (${code ?? signal}) before it answered`));
      this.pending = null;
    });
  }

  /** Forks `script` (in bench/) and sends it `start`; resolves with its "ready" report. */
  static async start<R extends { type: "ready" }>(
    script: string,
    start: AgentsStart | StarterStart,
    timeoutMs: number,
  ): Promise<{ load: LoadChild; ready: R }> {
    const child = fork(join(import.meta.dirname, script), [], {
      execArgv: ["--import", "tsx"],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const load = new LoadChild(child);
    LoadChild.all.add(load);
    try {
      return { load, ready: await load.ask<R>(start, "ready", timeoutMs, `${script} starting`) };
    } catch (error) {
      await load.kill();
      throw error;
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Sends `message` and waits for the report of `type`, at most `timeoutMs`. */
  ask<T extends { type: string }>(
    message: unknown,
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
      const settle = (): void => clearTimeout(timer);
      this.pending = {
        type,
        resolve: (report) => (settle(), resolve(report as T)),
        reject: (error) => (settle(), reject(error)),
      };
      this.child.send(message as object);
    });
  }

  /** Asks the process to exit (agents deregister first); SIGKILL after 15 s. */
  async exit(message: LoadCommand | StarterCommand = { type: "exit" }): Promise<void> {
    if (this.gone()) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.send(message);
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

  static killAll(): void {
    for (const load of LoadChild.all) load.child.kill("SIGKILL");
  }

  private gone(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }
}

/** One team's agents process; killed and replaced by a new generation in the chaos phase. */
class TeamAgents {
  private generation = 0;

  private constructor(
    readonly team: string,
    private readonly origins: readonly string[],
    public load: LoadChild,
  ) {}

  private static launch(team: string, origins: readonly string[], generation: number): Promise<LoadChild> {
    const start: AgentsStart = {
      type: "agents",
      origins,
      token: TOKEN,
      firstIndex: 0,
      count: AGENTS_PER_TEAM,
      capacity: CAPACITY,
      skills: ["wf"],
      taskTypes: TASK_TYPES,
      mode: "instant",
      delivery: DELIVERY,
      namePrefix: `wf-${team}-g${generation}`,
      team,
      readyTimeoutMs: 60_000,
    };
    return LoadChild.start<LoadReady>("tasks-load.ts", start, 90_000).then((started) => started.load);
  }

  static async start(team: string, origins: readonly string[]): Promise<TeamAgents> {
    return new TeamAgents(team, origins, await TeamAgents.launch(team, origins, 0));
  }

  /** SIGKILLs the process and starts the next generation; ms until its agents are registered. */
  async killAndReplace(): Promise<number> {
    await this.load.kill();
    const startedMs = performance.now();
    this.load = await TeamAgents.launch(this.team, this.origins, ++this.generation);
    return performance.now() - startedMs;
  }
}

// ---------------------------------------------------------------- definitions

/** A 1-step workflow of `team`. */
const oneStep = (team: string) => ({
  name: `bench-start-${team}`,
  teams: [team],
  steps: [{ id: "only", team, task_type: "wf-start", skills: ["wf"], input: { n: "{{input.i}}" } }],
});

const twoStep = {
  name: "bench-dispatch",
  teams: ["alpha", "beta"],
  pattern: "pipeline",
  steps: [
    { id: "first", team: "alpha", task_type: "wf-first", skills: ["wf"] },
    { id: "second", team: "beta", task_type: "wf-second", skills: ["wf"] },
  ],
};

const threeTeams = {
  name: "bench-e2e",
  teams: [...TEAMS],
  pattern: "pipeline",
  steps: TEAMS.map((team, i) => ({ id: `step${i + 1}`, team, task_type: "wf-e2e", skills: ["wf"] })),
};

/**
 * 20 steps: a root fans out to 4, which join; a chain of 3; a fan-out of 5 that joins; then two
 * branches (one a chain of 2) that join, and a last step. Teams rotate over the steps.
 */
const dag = (() => {
  const dependencies: string[][] = [
    [],
    ["s0"],
    ["s0"],
    ["s0"],
    ["s0"],
    ["s1", "s2", "s3", "s4"],
    ["s5"],
    ["s6"],
    ["s7"],
    ["s8"],
    ["s8"],
    ["s8"],
    ["s8"],
    ["s8"],
    ["s9", "s10", "s11", "s12", "s13"],
    ["s14"],
    ["s14"],
    ["s15"],
    ["s16", "s17"],
    ["s18"],
  ];
  if (dependencies.length !== DAG_STEPS) throw new Error(`the DAG has ${dependencies.length} steps`);
  return {
    name: "bench-dag",
    teams: [...TEAMS],
    steps: dependencies.map((depends_on, i) => ({
      id: `s${i}`,
      team: TEAMS[i % TEAMS.length]!,
      task_type: "wf-dag",
      skills: ["wf"],
      depends_on,
      retry: { max_attempts: DAG_ATTEMPTS, backoff: { initial_ms: 200, max_ms: 2_000 } },
    })),
  };
})();

/** A batch for the starter. */
const batchOf = (
  definitions: readonly unknown[],
  count: number,
  concurrency: number,
  keyPrefix: string,
  perRequest = 1,
): StartBatch => ({
  definitions,
  count,
  concurrency,
  keyPrefix,
  latenciesMax: 1_000_000,
  perRequest,
});

/** Starts a batch; the starter's report. */
function startBatch(starter: LoadChild, batch: StartBatch): Promise<StarterStarted> {
  return starter.ask<StarterStarted>(
    { type: "start", batch } satisfies StarterCommand,
    "started",
    PHASE_TIMEOUT_MS,
    `starting ${batch.count} ${batch.keyPrefix} workflows`,
  );
}

/**
 * Polls the leader's workflow counts until `target()` more runs have ended than in `before`, or
 * the deadline: the wall clock then, the counts, and whether all ended.
 */
async function waitForEnded(
  juno: Juno,
  before: Record<string, number>,
  target: () => number,
  deadlineMs: number,
  everyMs: number,
): Promise<{ doneAtMs: number; counts: Record<string, number>; all: boolean }> {
  for (;;) {
    const { counts } = await juno.workflowCounts();
    if (terminalOf(counts) - terminalOf(before) >= target())
      return { doneAtMs: Date.now(), counts: difference(counts, before), all: true };
    if (Date.now() > deadlineMs) return { doneAtMs: NaN, counts: difference(counts, before), all: false };
    await sleep(everyMs);
  }
}

/** Starts a batch and waits until its runs ended; throws past the phase's bound. */
async function startAndFinish(
  juno: Juno,
  starter: LoadChild,
  batch: StartBatch,
  everyMs: number,
): Promise<{ started: StarterStarted; doneAtMs: number; counts: Record<string, number> }> {
  const before = (await juno.workflowCounts()).counts;
  let started: StarterStarted | null = null;
  const starting = startBatch(starter, batch).then((report) => (started = report));
  const target = (): number => (started === null ? batch.count : started.created + started.foundByKey);
  const [report, ended] = await Promise.all([
    starting,
    waitForEnded(juno, before, target, Date.now() + PHASE_TIMEOUT_MS, everyMs),
  ]);
  if (!ended.all)
    throw new Error(
      `${batch.keyPrefix}: not every run ended within the bound; ${JSON.stringify(ended.counts)}`,
    );
  return { started: report, doneAtMs: ended.doneAtMs, counts: ended.counts };
}

// ---------------------------------------------------------------- 1. starts

interface Starts {
  /** Runs per request: 1 for POST /workflows, more for POST /workflows/bulk. */
  readonly perRequest: number;
  readonly concurrency: number;
  readonly runs: number;
  readonly startsPerSecond: number;
  readonly postMs: { p50: number; p99: number; max: number };
  readonly failures: Record<string, number>;
  readonly givenUp: number;
  /** First POST to the last run succeeded, and the rate over it. */
  readonly finishedSeconds: number;
  readonly finishedPerSecond: number;
  readonly counts: Record<string, number>;
  readonly entriesPerRun: number;
  /** % of one core: leader, followers, agents' processes, the starter. */
  readonly cpu: { leader: number; followers: number[]; agents: number[]; starter: number };
}

async function benchStarts(
  juno: Juno,
  teams: readonly TeamAgents[],
  starter: LoadChild,
  perRequest: number,
  concurrency: number,
): Promise<Starts> {
  const definitions = TEAMS.map(oneStep);
  const keyPrefix = perRequest === 1 ? "starts" : "bulk-starts";
  await startAndFinish(
    juno,
    starter,
    batchOf(definitions, WARMUP, concurrency, `${keyPrefix}-warmup`, perRequest),
    200,
  );
  const commitBefore = await juno.commitIndex();
  const meter = new CpuMeter([...juno.pids(), ...teams.map((t) => t.load.pid), starter.pid]);
  const { started, doneAtMs, counts } = await startAndFinish(
    juno,
    starter,
    batchOf(definitions, STARTS, concurrency, keyPrefix, perRequest),
    200,
  );
  const cpu = meter.percentages();
  const entries = (await juno.commitIndex()) - commitBefore;
  const runs = started.created + started.foundByKey;
  const finishedSeconds = (doneAtMs - started.startedAtMs) / 1000;
  return {
    perRequest,
    concurrency,
    runs,
    startsPerSecond: runs / ((started.endedAtMs - started.startedAtMs) / 1000),
    postMs: spread(started.latenciesMs),
    failures: started.failures,
    givenUp: started.givenUp,
    finishedSeconds,
    finishedPerSecond: runs / finishedSeconds,
    counts,
    entriesPerRun: entries / runs,
    cpu: { leader: cpu[0]!, followers: cpu.slice(1, 3), agents: cpu.slice(3, 6), starter: cpu[6]! },
  };
}

// ---------------------------------------------------------------- 2. step dispatch

interface Dispatch {
  readonly pairs: number;
  /** Step 2's task created_at / assigned_at / started_at minus step 1's completed_at. */
  readonly queuedMs: { p50: number; p99: number; max: number };
  readonly assignedMs: { p50: number; p99: number; max: number };
  readonly startedMs: { p50: number; p99: number; max: number };
  /** Pairs left out: a step whose task took more than one attempt, or a missing stamp. */
  readonly leftOut: number;
}

async function benchDispatch(juno: Juno, starter: LoadChild): Promise<Dispatch> {
  const { started } = await startAndFinish(
    juno,
    starter,
    batchOf([twoStep], PIPELINES, PIPELINE_CONCURRENCY, "dispatch"),
    100,
  );
  const runs = started.created + started.foundByKey;
  const [firsts, seconds] = await Promise.all([
    juno.tasks({ task_type: "wf-first" }, runs),
    juno.tasks({ task_type: "wf-second" }, runs),
  ]);
  const firstOf = new Map(firsts.map((task) => [task.workflow_id, task]));
  const queued: number[] = [];
  const assigned: number[] = [];
  const startedAt: number[] = [];
  let leftOut = 0;
  for (const second of seconds) {
    const first = firstOf.get(second.workflow_id);
    const completedMs = Date.parse(first?.completed_at ?? "");
    if (first === undefined || first.attempt !== 1 || second.attempt !== 1 || !Number.isFinite(completedMs)) {
      leftOut++;
      continue;
    }
    queued.push(Date.parse(second.created_at) - completedMs);
    assigned.push(Date.parse(second.assigned_at ?? "") - completedMs);
    startedAt.push(Date.parse(second.started_at ?? "") - completedMs);
  }
  return {
    pairs: queued.length,
    queuedMs: spread(queued),
    assignedMs: spread(assigned.filter(Number.isFinite)),
    startedMs: spread(startedAt.filter(Number.isFinite)),
    leftOut: leftOut + Math.max(0, runs - seconds.length),
  };
}

// ---------------------------------------------------------------- 3. end to end

/** Reads a run's watch stream until it shows the run ended: its status, and when (performance.now()). */
async function watchUntilEnded(origin: string, id: string): Promise<{ status: string; atMs: number }> {
  const response = await pool(origin).request({
    method: "GET",
    path: `/api/v3/workflows/${id}/watch`,
    headers: AUTH,
    bodyTimeout: 30_000,
  });
  if (response.statusCode !== 200)
    throw new Error(`watching ${id}: ${response.statusCode} ${(await response.body.text()).slice(0, 300)}`);
  let ended: { status: string; atMs: number } | null = null;
  let buffer = "";
  for await (const chunk of response.body) {
    buffer += (chunk as Buffer).toString();
    for (let end = buffer.indexOf("\n\n"); end >= 0 && ended === null; end = buffer.indexOf("\n\n")) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split("\n").find((line) => line.startsWith("data: "));
      if (!event.startsWith("event: workflow") || data === undefined) continue;
      const run = JSON.parse(data.slice(6)) as WorkflowView;
      if (TERMINAL.includes(run.status)) ended = { status: run.status, atMs: performance.now() };
    }
    // The stream ends right after the run does; reading on to its end keeps the connection.
  }
  if (ended === null) throw new Error(`the watch stream of ${id} closed before the run ended`);
  return ended;
}

interface EndToEnd {
  readonly runs: number;
  readonly totalMs: { p50: number; p99: number; max: number };
  /** The POST's answer alone, then the answer to the stream showing the run ended. */
  readonly postMs: { p50: number; p99: number; max: number };
  readonly afterPostMs: { p50: number; p99: number; max: number };
  /** Runs POSTed to and watched on the leader, and on a follower. */
  readonly onLeaderMs: { p50: number; p99: number; max: number };
  readonly onFollowerMs: { p50: number; p99: number; max: number };
  readonly statuses: Record<string, number>;
}

async function benchEndToEnd(juno: Juno): Promise<EndToEnd> {
  const origins = juno.origins();
  const total: number[] = [];
  const post: number[] = [];
  const onLeader: number[] = [];
  const onFollower: number[] = [];
  const statuses: Record<string, number> = {};
  const deadlineMs = Date.now() + PHASE_TIMEOUT_MS;
  for (let i = 0; i < E2E_RUNS; i++) {
    if (Date.now() > deadlineMs) throw new Error(`end to end: ${i} of ${E2E_RUNS} runs within the bound`);
    const origin = origins[i % origins.length]!;
    const startedMs = performance.now();
    const answer = await requestJson<{ workflow: WorkflowView }>(origin, "POST", "/api/v3/workflows", {
      definition: threeTeams,
      input: { i },
      execute: true,
      idempotency_key: `e2e-${i}`,
    });
    const postedMs = performance.now();
    const ended = await watchUntilEnded(origin, answer.workflow.id);
    statuses[ended.status] = (statuses[ended.status] ?? 0) + 1;
    total.push(ended.atMs - startedMs);
    post.push(postedMs - startedMs);
    (origin === juno.leaderOrigin() ? onLeader : onFollower).push(ended.atMs - startedMs);
  }
  return {
    runs: E2E_RUNS,
    totalMs: spread(total),
    postMs: spread(post),
    afterPostMs: spread(total.map((ms, i) => ms - post[i]!)),
    onLeaderMs: spread(onLeader),
    onFollowerMs: spread(onFollower),
    statuses,
  };
}

// ---------------------------------------------------------------- 4. chaos

interface Chaos {
  readonly runs: number;
  readonly seconds: number;
  readonly allEnded: boolean;
  readonly counts: Record<string, number>;
  readonly live: number;
  /** Runs that did not succeed, with why (the first 20). */
  readonly notSucceeded: { id: string; status: string; failure: string }[];
  readonly kills: { team: string; atSeconds: number; replacedMs: number }[];
  readonly tasks: number;
  readonly retried: number;
  readonly attempts: Record<string, number>;
  readonly startFailures: Record<string, number>;
}

/** Kills one team's agents every KILL_INTERVAL_MS, KILLS times or until `stop()`. */
async function killAgents(
  teams: readonly TeamAgents[],
  startedMs: number,
  stop: () => boolean,
): Promise<Chaos["kills"]> {
  const kills: Chaos["kills"] = [];
  for (let k = 0; k < KILLS; k++) {
    for (let waited = 0; waited < KILL_INTERVAL_MS && !stop(); waited += 50) await sleep(50);
    if (stop()) break;
    const team = teams[k % teams.length]!;
    const atSeconds = (performance.now() - startedMs) / 1000;
    kills.push({ team: team.team, atSeconds, replacedMs: await team.killAndReplace() });
  }
  return kills;
}

async function benchChaos(juno: Juno, teams: readonly TeamAgents[], starter: LoadChild): Promise<Chaos> {
  const before = (await juno.workflowCounts()).counts;
  const startedMs = performance.now();
  let done = false;
  let started: StarterStarted | null = null;
  const starting = startBatch(starter, batchOf([dag], DAG_RUNS, DAG_CONCURRENCY, "dag")).then(
    (report) => (started = report),
  );
  const killing = killAgents(teams, startedMs, () => done);
  const target = (): number => (started === null ? DAG_RUNS : started.created + started.foundByKey);
  const ended = await waitForEnded(juno, before, target, Date.now() + PHASE_TIMEOUT_MS, 100);
  const seconds = (performance.now() - startedMs) / 1000;
  done = true;
  const [report, kills] = await Promise.all([starting, killing]);
  const failedRuns: Chaos["notSucceeded"] = [];
  for (const status of ["failed", "cancelled", "running", "created"]) {
    if (failedRuns.length >= 20) break;
    const page = await juno.read<{ workflows: WorkflowView[] }>(
      `/api/v3/workflows?name=bench-dag&status=${status}&limit=20&consistency=stale`,
    );
    for (const run of page.workflows.slice(0, 20 - failedRuns.length)) {
      const full = await juno.read<{ workflow: WorkflowView }>(
        `/api/v3/workflows/${run.id}?consistency=stale`,
      );
      const failure = full.workflow.failure;
      failedRuns.push({
        id: run.id,
        status: run.status,
        failure: failure === null ? "" : `${failure.code} at ${failure.step ?? "-"}: ${failure.message}`,
      });
    }
  }
  const tasks = await juno.tasks({ task_type: "wf-dag" }, DAG_RUNS * DAG_STEPS * 2);
  const attempts: Record<string, number> = {};
  for (const task of tasks) {
    attempts[String(task.attempt)] = (attempts[String(task.attempt)] ?? 0) + 1;
  }
  return {
    runs: report.created + report.foundByKey,
    seconds,
    allEnded: ended.all,
    counts: ended.counts,
    live: (await juno.workflowCounts()).live,
    notSucceeded: failedRuns,
    kills,
    tasks: tasks.length,
    retried: tasks.filter((task) => task.attempt > 1).length,
    attempts,
    startFailures: report.failures,
  };
}

// ---------------------------------------------------------------- 5. live runs held

interface Live {
  readonly runs: number;
  /** First POST until every node held them all. */
  readonly seconds: number;
  readonly failures: Record<string, number>;
  readonly givenUp: number;
  /** Live runs each node holds at the end, and its resident memory before and after (leader first). */
  readonly liveByNode: number[];
  readonly rssBeforeMb: number[];
  readonly rssMb: number[];
}

/** A run that waits for an event nobody sends: it stays live until the cluster stops. */
const waiting = {
  name: "bench-live",
  teams: ["alpha"],
  steps: [{ id: "wait", team: "alpha", type: "event", event: "bench-live-never" }],
};

async function benchLive(juno: Juno, starter: LoadChild): Promise<Live> {
  const rssBeforeMb = juno.rssMb();
  const liveBefore = Math.max(...(await juno.eachNodeCounts()).map((counts) => counts.live));
  const startedMs = performance.now();
  const report = await startBatch(
    starter,
    batchOf([waiting], LIVE, BULK_CONCURRENCY, "live", Math.max(1, BULK)),
  );
  const runs = report.created + report.foundByKey;
  const deadline = Date.now() + PHASE_TIMEOUT_MS;
  let liveByNode: number[] = [];
  for (;;) {
    liveByNode = (await juno.eachNodeCounts()).map((counts) => counts.live);
    if (liveByNode.every((live) => live - liveBefore >= runs)) break;
    if (Date.now() > deadline)
      throw new Error(`live: the nodes hold ${liveByNode.join(", ")} live runs, not ${runs} more`);
    await sleep(200);
  }
  const seconds = (performance.now() - startedMs) / 1000;
  // A moment for what the last entries left behind (their rows, the log's tail) to settle.
  await sleep(2_000);
  return {
    runs,
    seconds,
    failures: report.failures,
    givenUp: report.givenUp,
    liveByNode,
    rssBeforeMb,
    rssMb: juno.rssMb(),
  };
}

// ---------------------------------------------------------------- run

interface Result {
  readonly starts: Starts;
  /** The same starts BENCH_BULK per POST /workflows/bulk; null with BENCH_BULK=0. */
  readonly bulkStarts: Starts | null;
  /** BENCH_LIVE runs left waiting, last; null with BENCH_LIVE=0. */
  readonly live: Live | null;
  readonly dispatch: Dispatch;
  readonly endToEnd: EndToEnd;
  readonly chaos: Chaos;
  readonly rssMb: number[];
  readonly loopBlocks: number[];
  readonly slowFsyncs: number[];
  readonly leader: string;
}

async function run(juno: Juno): Promise<Result> {
  const origins = juno.origins();
  const teams = await Promise.all(TEAMS.map((team) => TeamAgents.start(team, origins)));
  try {
    const { load: starter } = await LoadChild.start(
      "workflows-load.ts",
      { type: "starter", origins, token: TOKEN, connections: CONCURRENCY } satisfies StarterStart,
      30_000,
    );
    try {
      const starts = await benchStarts(juno, teams, starter, 1, CONCURRENCY);
      const bulkStarts = BULK > 0 ? await benchStarts(juno, teams, starter, BULK, BULK_CONCURRENCY) : null;
      const dispatch = await benchDispatch(juno, starter);
      const endToEnd = await benchEndToEnd(juno);
      const chaos = await benchChaos(juno, teams, starter);
      const live = LIVE > 0 ? await benchLive(juno, starter) : null;
      return {
        starts,
        bulkStarts,
        dispatch,
        endToEnd,
        chaos,
        live,
        rssMb: juno.rssMb(),
        loopBlocks: juno.warnings("event loop blocked"),
        slowFsyncs: juno.warnings("slow write (fsync)"),
        leader: juno.leader,
      };
    } finally {
      await starter.exit();
    }
  } finally {
    await Promise.all(teams.map((team) => team.load.exit()));
  }
}

const runStarted = performance.now();
let junoCluster: Juno | null = null;
const watchdog = setTimeout(() => {
  console.error(`workflows-bench: the run took longer than ${Math.round(RUN_TIMEOUT_MS / 1000)} s; stopping`);
  LoadChild.killAll();
  junoCluster?.killNow();
  process.exit(1);
}, RUN_TIMEOUT_MS);
watchdog.unref();

let result: Result;
try {
  junoCluster = await Juno.start();
  result = await run(junoCluster);
} catch (error) {
  console.error(`workflows-bench: failed: ${error instanceof Error ? error.message : String(error)}`);
  for (const node of junoCluster?.cluster.founders() ?? [])
    if (node.output.trim() !== "") console.error(`--- ${node.id} (last output)\n${node.output.slice(-1500)}`);
  LoadChild.killAll();
  await junoCluster?.stop();
  await closePools();
  process.exit(1);
}
await junoCluster.stop();
await closePools();
clearTimeout(watchdog);

// ---------------------------------------------------------------- report

const whole = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");
const fixed = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");
const verdict = (ok: boolean): string => (ok ? "met" : "MISSED");
const counts = (record: Record<string, number>): string =>
  Object.entries(record)
    .filter(([, n]) => n !== 0)
    .map(([key, n]) => `${n} x ${key}`)
    .join(", ") || "none";
const p50p99 = (s: { p50: number; p99: number }, digits = 1): string =>
  `${fixed(s.p50, digits)} / ${fixed(s.p99, digits)}`;

/** One table row: the figure, juno's value, and the target or note beside it. */
function row(label: string, value: string, beside = ""): void {
  console.log(`${label.padEnd(46)}${value.padStart(16)}   ${beside}`);
}

const { starts: s, dispatch: d, endToEnd: e, chaos: c } = result;
console.log(
  `juno workflows benchmark: 3 juno nodes as real processes on this machine (${cpus().length} cores, ${process.version}); ` +
    `${TEAMS.length} teams x ${AGENTS_PER_TEAM} SDK agents (capacity ${CAPACITY}, instant handler answering null, every node's URL, ` +
    `tasks ${DELIVERY === "push" ? "pushed by the leader" : "taken by long-poll"}), one agents process per team; runs POSTed ` +
    "round robin over the nodes by a starter process. Other work on the machine makes the figures noisy.",
);
console.log("");
console.log(`${"".padEnd(46)}${"juno".padStart(16)}   target / note`);
/** The rows of a starts phase. */
function startsRows(label: string, s: Starts): void {
  const how =
    s.perRequest === 1
      ? `1-step runs at concurrency ${s.concurrency}`
      : `1-step runs, ${s.perRequest} per POST /workflows/bulk, ${s.concurrency} bulks at a time`;
  row(
    label,
    whole(s.startsPerSecond),
    `>= ${whole(STARTS_PER_SECOND_TARGET)} (${verdict(s.startsPerSecond >= STARTS_PER_SECOND_TARGET)}); ` +
      `${whole(s.runs)} ${how}, after ${whole(WARMUP)} warm-up`,
  );
  row(
    s.perRequest === 1 ? "  POST p50 / p99 ms" : "  POST (a whole bulk) p50 / p99 ms",
    p50p99(s.postMs),
    `max ${fixed(s.postMs.max)} ms; refused attempts (retried): ${counts(s.failures)}` +
      (s.givenUp > 0 ? `; ${whole(s.givenUp)} GIVEN UP` : ""),
  );
  row(
    "  runs succeeded /s (first POST .. last ended)",
    whole(s.finishedPerSecond),
    `${fixed(s.finishedSeconds)} s; ended: ${counts(s.counts)}`,
  );
  row(
    "  Raft entries per run",
    fixed(s.entriesPerRun, 2),
    s.perRequest === 1
      ? "create + task placed, then the agents' reports"
      : "one create entry per bulk, then the agents' reports",
  );
  row(
    "  CPU % of one core: leader",
    fixed(s.cpu.leader, 0),
    `followers ${s.cpu.followers.map((x) => fixed(x, 0)).join(", ")}; agents' processes ` +
      `${s.cpu.agents.map((x) => fixed(x, 0)).join(", ")}; starter ${fixed(s.cpu.starter, 0)}`,
  );
  /** CPU ms per run of a process that used `percent` of one core over the phase. */
  const cpuMsPerRun = (percent: number): number => ((percent / 100) * s.finishedSeconds * 1000) / s.runs;
  const allCpuMsPerRun = [s.cpu.leader, ...s.cpu.followers, ...s.cpu.agents, s.cpu.starter]
    .map(cpuMsPerRun)
    .reduce((a, b) => a + b, 0);
  row(
    "  CPU ms per run: leader",
    fixed(cpuMsPerRun(s.cpu.leader), 2),
    `followers ${s.cpu.followers.map((x) => fixed(cpuMsPerRun(x), 2)).join(", ")}; all processes ${fixed(allCpuMsPerRun, 2)}: ` +
      `${cpus().length} cores to ourselves would start at most ~${whole((cpus().length * 1000) / allCpuMsPerRun)}/s`,
  );
}

startsRows("1. workflow starts/s (POSTs answered)", s);
if (result.bulkStarts !== null) {
  console.log("");
  startsRows("1b. workflow starts/s in bulks", result.bulkStarts);
}
console.log("");
row(
  "2. step dispatch p50 / p99 ms",
  p50p99(d.queuedMs, 0),
  `p99 < ${DISPATCH_P99_TARGET_MS} (${verdict(d.queuedMs.p99 < DISPATCH_P99_TARGET_MS)}); step 1 completed_at .. step 2 ` +
    `created_at, ${whole(d.pairs)} pipelines (leader stamps, whole ms)`,
);
row("  .. step 2 assigned p50 / p99 ms", p50p99(d.assignedMs, 0), `max ${fixed(d.assignedMs.max, 0)} ms`);
row(
  "  .. step 2 started p50 / p99 ms",
  p50p99(d.startedMs, 0),
  `max ${fixed(d.startedMs.max, 0)} ms: its agent's poll took it${d.leftOut > 0 ? `; ${d.leftOut} pairs left out (retried or unstamped)` : ""}`,
);
console.log("");
row(
  "3. 3-team pipeline end to end p50 / p99 ms",
  p50p99(e.totalMs),
  `< ${E2E_TARGET_MS} (${verdict(e.totalMs.p99 < E2E_TARGET_MS)} at p99, ${verdict(e.totalMs.p50 < E2E_TARGET_MS)} at p50); ` +
    `${whole(e.runs)} runs one at a time, POST .. watch stream shows ended; ${counts(e.statuses)}`,
);
row("  POST answered p50 / p99 ms", p50p99(e.postMs), `then until ended: ${p50p99(e.afterPostMs)}`);
row(
  "  on the leader / a follower p50 ms",
  `${fixed(e.onLeaderMs.p50)} / ${fixed(e.onFollowerMs.p50)}`,
  `p99 ${fixed(e.onLeaderMs.p99)} / ${fixed(e.onFollowerMs.p99)}`,
);
console.log("");
row(
  `4. ${whole(c.runs)} x ${DAG_STEPS}-step DAGs, agents killed`,
  `${fixed(c.seconds)} s`,
  `${c.allEnded ? "every run ended" : `NOT ALL ENDED within the bound (${c.live} live)`}; ` +
    `${counts(c.counts)} (${verdict(c.allEnded && (c.counts["succeeded"] ?? 0) === c.runs)}: all succeed)`,
);
row(
  "  agent processes SIGKILLed and replaced",
  String(c.kills.length),
  c.kills
    .map((k) => `${k.team} at ${fixed(k.atSeconds)} s (new agents in ${whole(k.replacedMs)} ms)`)
    .join("; "),
);
row(
  "  tasks retried",
  `${whole(c.retried)} of ${whole(c.tasks)}`,
  `attempts: ${counts(c.attempts)} (a killed agent's tasks go back once it is seen failed)`,
);
for (const run of c.notSucceeded) console.log(`    not succeeded: ${run.id} ${run.status} ${run.failure}`);
if (Object.keys(c.startFailures).length > 0)
  console.log(`    refused start attempts (retried): ${counts(c.startFailures)}`);
console.log("");
if (result.live !== null) {
  const l = result.live;
  row(
    `5. ${whole(l.runs)} live runs waiting on an event`,
    `${fixed(l.seconds)} s`,
    `started ${Math.max(1, BULK)} per POST /workflows/bulk until every node held them; live runs per node ` +
      `${l.liveByNode.map(whole).join(", ")}${l.givenUp > 0 ? `; ${whole(l.givenUp)} GIVEN UP` : ""}` +
      (Object.keys(l.failures).length > 0 ? `; refused attempts (retried): ${counts(l.failures)}` : ""),
  );
  const most = Math.max(...l.rssMb);
  row(
    "  resident memory per node with them, MB",
    whole(most),
    `< 1,024 per node (${verdict(most < 1024)}); ${l.rssMb.map((mb) => `${whole(mb)} MB`).join(", ")} ` +
      `(before: ${l.rssBeforeMb.map((mb) => `${whole(mb)}`).join(", ")}; leader first; the earlier phases' runs are retained too)`,
  );
  console.log("");
}
row(
  "memory per node at the end",
  "",
  `${result.rssMb.map((mb) => `${whole(mb)} MB`).join(", ")} (leader ${result.leader} first)`,
);
row(
  "node warnings over the run (leader first)",
  "",
  `event loop blocked >= 50 ms ${result.loopBlocks.join(", ")} times; slow fsyncs ${result.slowFsyncs.join(", ")} ` +
    "(blocks with other work on the machine: the node was not run)",
);
console.log(`run took ${((performance.now() - runStarted) / 1000).toFixed(0)} s`);
console.log(
  JSON.stringify(
    {
      benchmark: "juno-workflows",
      startRuns: STARTS,
      concurrency: CONCURRENCY,
      pipelines: PIPELINES,
      e2eRuns: E2E_RUNS,
      dagRuns: DAG_RUNS,
      agentsPerTeam: AGENTS_PER_TEAM,
      delivery: DELIVERY,
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
