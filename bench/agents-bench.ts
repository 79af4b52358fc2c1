/**
 * `npm run bench:agents`: agents at scale on a 3-node juno cluster of real processes on this
 * machine, through the HTTP API users take, with the load spread over all three nodes.
 *
 * 1. Routing overhead: a tiny node:http echo server registered as an agent with skill "echo";
 *    GET straight to it against GET /api/v3/route/echo/x through a follower and through the
 *    leader, closed loop at concurrency 1 and 16: ops/s, p50, p99.
 * 2. Heartbeats: BENCH_AGENTS agents (default 10,000) registered at concurrency 64 (agents/s; each
 *    starts beating as soon as it is registered), then beating every second, agent i to node
 *    i mod 3, from BENCH_LOAD_PROCESSES separate load processes (bench/agents-load.ts, default 2)
 *    for a window of BENCH_SECONDS (default 20): achieved beats/s against the target, latency p50
 *    and p99, each node's CPU (utime + stime from /proc over the window, as % of one core), log
 *    entries per second (commit_index delta: only the periodic last_heartbeat batch should be
 *    there), agents not healthy at the end of the window (must be 0), and how fresh the replicated
 *    last_heartbeat is.
 * 3. Failure detection: 100 agents stop beating; the time until all 100 are `failed` (polling GET
 *    /agents?status=failed) against FAILURE_DETECTION_TIMEOUT + 10 %, and any other agent that
 *    became suspect, degraded or failed (a false positive).
 * 4. The etcd anchor, where `etcd` is on the PATH: a fresh 3-member etcd cluster per point keeping
 *    N leases alive through its HTTP gateway (POST /v3/lease/grant, then POST /v3/lease/keepalive
 *    once a second per lease, lease i to member i mod 3), for N = 2,000 and 10,000, driven by the
 *    same load processes on the same schedule: keep-alives/s, p50, p99, each member's CPU.
 *
 * FAILURE_DETECTION_TIMEOUT is 5 s here (the default is 15 s) to keep the run short; etcd's leases
 * get the same TTL. juno runs with its default Raft timings (heartbeat 100 ms, election 1 s).
 * Each system runs alone, juno first, so that the CPU figures are not shared. Speed is measured
 * and printed here, never asserted.
 *
 * Registration runs while the registered agents beat, as real agents do, so its rate falls as the
 * beat load grows; the first and the last tenth are printed apart. Each node's event-loop monitor
 * warnings during the window are counted (with the CPU the node used meanwhile), to tell a node
 * that was busy from one the machine did not run.
 *
 * Options (environment): BENCH_AGENTS, BENCH_SECONDS, BENCH_LOAD_PROCESSES, BENCH_ETCD_LEASES
 * (comma-separated, default "2000,10000"; "none" skips etcd), BENCH_ROUTE_MS (one routing point,
 * default 3000), BENCH_REGISTER_SECONDS (registration stops after this long and the agents
 * registered by then are measured, default 120). JUNO_CPU_PROF_DIR=dir profiles every juno node
 * (bench/profile-top.ts reads them); the run then prints when each phase began and ended on the
 * profiles' clock.
 */

import { fork, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { freePort } from "../src/cli/dev.js";
import { GiveUp, ProcessCluster, eventually } from "../test/integration/harness.js";
import type {
  LoadCommand,
  LoadKilled,
  LoadRegistered,
  LoadReport,
  LoadStart,
  LoadSystem,
  LoadWindow,
} from "./agents-load.js";
import { CpuMeter } from "./proc-stats.js";

const TOKEN = "integration-token";
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** A positive integer from the environment, or `fallback` when it is not set. */
function numberFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  const value = text === undefined ? fallback : Number(text);
  if (!(Number.isInteger(value) && value > 0)) fail(`${name} must be a positive integer, not "${text}"`);
  return value;
}

/** Says what is wrong with the options and how to give them, and exits. */
function fail(message: string): never {
  console.error(`agents-bench: ${message}`);
  console.error(
    "usage: [BENCH_AGENTS=10000] [BENCH_SECONDS=20] [BENCH_LOAD_PROCESSES=2] " +
      "[BENCH_ETCD_LEASES=2000,10000|none] [BENCH_ROUTE_MS=3000] [BENCH_REGISTER_SECONDS=120] " +
      "npm run bench:agents",
  );
  process.exit(2);
}

const AGENTS = numberFromEnv("BENCH_AGENTS", 10_000);
const WINDOW_SECONDS = numberFromEnv("BENCH_SECONDS", 20);
const LOAD_PROCESSES = numberFromEnv("BENCH_LOAD_PROCESSES", 2);
const ROUTE_MS = numberFromEnv("BENCH_ROUTE_MS", 3_000);
/** Registration stops after this long; the agents registered by then are the ones measured. */
const REGISTER_SECONDS = numberFromEnv("BENCH_REGISTER_SECONDS", 120);
const ETCD_LEASES = (process.env["BENCH_ETCD_LEASES"] ?? "2000,10000")
  .split(",")
  .filter((text) => text !== "none" && text !== "")
  .map((text) => {
    const value = Number(text);
    if (!(Number.isInteger(value) && value > 0)) fail(`BENCH_ETCD_LEASES has "${text}"`);
    return value;
  });

const REGISTER_CONCURRENCY = 64;
const INTERVAL_MS = 1_000;
const FAILURE_TIMEOUT_S = 5;
const HEALTH_CHECK_INTERVAL_S = 10;
/** The target for stop-to-failed: the failure timeout plus 10 %. */
const DETECTION_TARGET_MS = FAILURE_TIMEOUT_S * 1_000 * 1.1;
const KILLED = Math.min(100, Math.floor(AGENTS / 2));
/** After registration, every agent beats this long before the window opens. */
const SETTLE_MS = 3_000;
const ROUTE_WARMUP_MS = 500;
const ROUTE_CONCURRENCY = [1, 16];
/** Changes in one agents.beats entry (the health controller's ENTRY_CHANGES): the periodic refresh takes this many per entry. */
const BEATS_PER_ENTRY = 500;
/** Connections per node per load process: enough for every beat of a slow second to be in flight. */
const LOAD_CONNECTIONS = 128;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * When each phase began and ended, in microseconds of the monotonic clock that a .cpuprofile's
 * startTime is in too, so that a profile (JUNO_CPU_PROF_DIR) can be cut to one phase.
 */
const phases: Record<string, [number, number]> = {};
async function phase<T>(name: string, run: () => Promise<T>): Promise<T> {
  const started = Number(process.hrtime.bigint() / 1000n);
  try {
    return await run();
  } finally {
    phases[name] = [started, Number(process.hrtime.bigint() / 1000n)];
  }
}

/** What a node's event-loop monitor reported in `output`: how often it was blocked, and its CPU meanwhile. */
function loopBlocks(output: string): { count: number; blockedMs: number; cpuMs: number } {
  const found = { count: 0, blockedMs: 0, cpuMs: 0 };
  for (const line of output.split("\n")) {
    if (!line.includes("event loop blocked")) continue;
    found.count++;
    try {
      const entry = JSON.parse(line) as { blockedMs?: number; cpuMs?: number };
      found.blockedMs += entry.blockedMs ?? 0;
      found.cpuMs += entry.cpuMs ?? 0;
    } catch {
      // A line that is not JSON (pretty printing) still counts.
    }
  }
  return found;
}

// ---------------------------------------------------------------- measuring helpers

/** The value at `share` (0..1) of sorted `values`; NaN when there are none. */
function percentile(sorted: ArrayLike<number>, share: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))]!;
}

/** Adds the counts of `record` into `into`. */
function sum(record: Record<string, number>, into: Record<string, number>): Record<string, number> {
  for (const [key, value] of Object.entries(record)) into[key] = (into[key] ?? 0) + value;
  return into;
}

/** One keep-alive pool per origin, for the bench's own requests. */
const pools = new Map<string, Pool>();
function pool(origin: string): Pool {
  let found = pools.get(origin);
  if (found === undefined) pools.set(origin, (found = new Pool(origin, { connections: 64, pipelining: 1 })));
  return found;
}

async function closePools(): Promise<void> {
  for (const p of pools.values()) await p.close();
  pools.clear();
}

/** GETs `origin` + `path`; the status, the answer's text and its headers. */
async function get(
  origin: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  const response = await pool(origin).request({ method: "GET", path, headers });
  return { status: response.statusCode, text: await response.body.text(), headers: response.headers };
}

/** GETs a JSON answer with the token; anything but 200 is an error. */
async function getJson<T>(origin: string, path: string): Promise<T> {
  const answer = await get(origin, path, AUTH);
  if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status} ${answer.text.slice(0, 300)}`);
  return JSON.parse(answer.text) as T;
}

// ---------------------------------------------------------------- the load processes

/** The load processes of one point, driven over IPC (bench/agents-load.ts says what they do). */
class Fleet {
  private constructor(readonly children: readonly ChildProcess[]) {}

  /** Forks the processes and has them register `agents` on `origins`; resolves once all are registered. */
  static async start(
    system: LoadSystem,
    origins: readonly string[],
    agents: number,
  ): Promise<{ fleet: Fleet; reports: LoadRegistered[] }> {
    const children = Array.from({ length: LOAD_PROCESSES }, () =>
      fork(join(import.meta.dirname, "agents-load.ts"), [], {
        execArgv: ["--import", "tsx"],
        serialization: "advanced",
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      }),
    );
    const fleet = new Fleet(children);
    try {
      const reports = await Promise.all(
        children.map((child, worker) => {
          const answer = fleet.reply<LoadRegistered>(child, "registered");
          const start: LoadStart = {
            type: "start",
            system,
            origins,
            agents,
            worker,
            workers: LOAD_PROCESSES,
            registerConcurrency: Math.ceil(REGISTER_CONCURRENCY / LOAD_PROCESSES),
            registerDeadlineAtMs: Date.now() + REGISTER_SECONDS * 1_000,
            intervalMs: INTERVAL_MS,
            connections: LOAD_CONNECTIONS,
            token: TOKEN,
            ttlSeconds: FAILURE_TIMEOUT_S,
          };
          child.send(start);
          return answer;
        }),
      );
      return { fleet, reports };
    } catch (error) {
      fleet.kill();
      throw error;
    }
  }

  pids(): (number | undefined)[] {
    return this.children.map((child) => child.pid);
  }

  begin(): void {
    this.send({ type: "begin" });
  }

  end(): Promise<LoadWindow[]> {
    return this.ask<LoadWindow>({ type: "end" }, "window");
  }

  stop(indices: readonly number[]): Promise<LoadKilled[]> {
    return this.ask<LoadKilled>({ type: "kill", indices }, "killed");
  }

  /** Asks every process to close its connections and exit; waits until they have. */
  async exit(): Promise<void> {
    await Promise.all(
      this.children.map((child) => {
        if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.send({ type: "exit" } satisfies LoadCommand);
        return exited;
      }),
    );
  }

  kill(): void {
    for (const child of this.children) child.kill("SIGKILL");
  }

  private send(command: LoadCommand): void {
    for (const child of this.children) child.send(command);
  }

  private ask<T extends LoadReport>(command: LoadCommand, type: T["type"]): Promise<T[]> {
    const answers = this.children.map((child) => this.reply<T>(child, type));
    this.send(command);
    return Promise.all(answers);
  }

  /** The next report of `child`, which must be of `type`. */
  private reply<T extends LoadReport>(child: ChildProcess, type: T["type"]): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: LoadReport): void => {
        child.off("exit", onExit);
        if (message.type === type) resolve(message as T);
        else reject(new Error(`a load process answered ${message.type}, not ${type}`));
      };
      const onExit = (code: number | null, signal: string | null): void => {
        child.off("message", onMessage);
        reject(new Error(`a load process exited (${code ?? signal}) instead of answering ${type}`));
      };
      child.once("message", onMessage);
      child.once("exit", onExit);
    });
  }
}

/** A measuring window merged over the load processes. */
interface Beating {
  readonly targetPerSecond: number;
  readonly achievedPerSecond: number;
  /** The slowest and the fastest whole second of the window (200 answers, all processes). */
  readonly perSecondMin: number;
  readonly perSecondMax: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly sent: number;
  readonly skipped: number;
  readonly failures: Record<string, number>;
  /** 200 answers saying "not healthy" (juno) or "lease expired" (etcd), by status. */
  readonly unwell: Record<string, number>;
  /** Agents (leases) with at least one such answer. */
  readonly unwellAgents: number;
  /** Each load process's schedule lag (p99, max), ms. */
  readonly loadLagMs: readonly (readonly [number, number])[];
}

/** Merges the load processes' windows; `agents` beating once per interval is the target. */
function merge(windows: readonly LoadWindow[], agents: number): Beating {
  const latencies = new Float64Array(windows.reduce((n, w) => n + w.latenciesMs.length, 0));
  let at = 0;
  for (const w of windows) {
    latencies.set(w.latenciesMs, at);
    at += w.latenciesMs.length;
  }
  latencies.sort();
  const seconds = Math.min(...windows.map((w) => w.perSecond.length));
  const perSecond = Array.from({ length: seconds }, (_, s) =>
    windows.reduce((n, w) => n + (w.perSecond[s] ?? 0), 0),
  );
  return {
    targetPerSecond: agents / (INTERVAL_MS / 1000),
    achievedPerSecond: windows.reduce((n, w) => n + w.ok / w.seconds, 0),
    perSecondMin: Math.min(...perSecond),
    perSecondMax: Math.max(...perSecond),
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    sent: windows.reduce((n, w) => n + w.sent, 0),
    skipped: windows.reduce((n, w) => n + w.skipped, 0),
    failures: windows.reduce((all, w) => sum(w.failures, all), {}),
    unwell: windows.reduce((all, w) => sum(w.unwell, all), {}),
    unwellAgents: windows.reduce((n, w) => n + w.unwellAgents, 0),
    loadLagMs: windows.map((w) => [w.lagMsP99, w.lagMsMax] as const),
  };
}

/** How registration went over the load processes. */
interface Registration {
  readonly wanted: number;
  readonly count: number;
  /** The span from the first start to the last answer. */
  readonly seconds: number;
  readonly agentsPerSecond: number;
  /**
   * The rate over the first and the last tenth of the agents: registered agents beat at once, so
   * the first tenth registers on a nearly idle cluster and the last under nearly the whole load.
   */
  readonly firstTenthPerSecond: number;
  readonly lastTenthPerSecond: number;
  readonly failures: Record<string, number>;
  /** The agents registered, by index (worker w registered its first `count` agents w, w + P, ...). */
  readonly indices: readonly number[];
}

/** Merges the load processes' registration reports. */
function registration(reports: readonly LoadRegistered[], wanted: number): Registration {
  const startedAtMs = Math.min(...reports.map((r) => r.startedAtMs));
  const answered = new Float64Array(reports.reduce((n, r) => n + r.answeredAtMs.length, 0));
  let at = 0;
  for (const r of reports) {
    answered.set(r.answeredAtMs, at);
    at += r.answeredAtMs.length;
  }
  answered.sort();
  const count = answered.length;
  const endedAtMs = answered[count - 1] ?? startedAtMs;
  const tenth = Math.max(1, Math.floor(count / 10));
  return {
    wanted,
    count,
    seconds: (endedAtMs - startedAtMs) / 1000,
    agentsPerSecond: (count / (endedAtMs - startedAtMs)) * 1000,
    firstTenthPerSecond: (tenth / ((answered[tenth - 1] ?? NaN) - startedAtMs)) * 1000,
    lastTenthPerSecond: (tenth / (endedAtMs - (answered[count - tenth - 1] ?? startedAtMs))) * 1000,
    failures: reports.reduce((all, r) => sum(r.failures, all), {}),
    indices: reports.flatMap((r, worker) =>
      Array.from({ length: r.count }, (_, j) => worker + j * reports.length),
    ),
  };
}

// ---------------------------------------------------------------- juno

/** CPU over a window: the leader, the followers, and the load processes, % of one core. */
interface CpuFigures {
  readonly leader: number;
  readonly followers: readonly number[];
  readonly load: readonly number[];
}

/** What the heartbeat and failure-detection phases measured. */
interface AgentsResult {
  readonly registration: Registration;
  readonly beating: Beating;
  readonly cpu: CpuFigures;
  readonly entriesPerSecond: number;
  /** Agents by status at the end of the window. */
  readonly statusAtEnd: Record<string, number>;
  readonly notHealthyAtEnd: number;
  /** The replicated last_heartbeat at the end of the window: never written, or older than two refreshes. */
  readonly lastHeartbeatNull: number;
  readonly lastHeartbeatStale: number;
  readonly detection: Detection;
  readonly leaderChanged: boolean;
  /** Each node's event-loop-blocked warnings during the window, the leader first. */
  readonly loopBlocks: readonly (ReturnType<typeof loopBlocks> & { id: string })[];
}

/** How long failure detection took for the stopped agents, and who else was caught. */
interface Detection {
  readonly killed: number;
  readonly firstFailedMs: number;
  /** NaN when not all were failed before the bench gave up waiting. */
  readonly allFailedMs: number;
  readonly failedInTime: number;
  /** For each stopped agent, from its own last beat sent to failed: the median and the slowest. */
  readonly sinceLastBeatMsP50: number;
  readonly sinceLastBeatMsMax: number;
  /** Agents not stopped that were suspect, degraded or failed at any poll, or at the end. */
  readonly falsePositives: number;
  readonly statusAtEnd: Record<string, number>;
}

/** One routing measurement: one path at one concurrency. */
interface RoutePoint {
  readonly path: "direct" | "follower" | "leader";
  readonly concurrency: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

/** Everything measured on juno. */
interface JunoResult {
  readonly routing: RoutePoint[];
  readonly agents: AgentsResult;
}

const origin = (cluster: ProcessCluster, id: string): string => `http://127.0.0.1:${cluster.node(id).http}`;

/** The commit index `at` knows of (a stale read: no ReadIndex round). */
async function commitIndex(at: string): Promise<number> {
  const status = await getJson<{ commit_index: number }>(at, "/api/v3/consensus/status?consistency=stale");
  return status.commit_index;
}

/** The answer of GET /agents/health, as far as it is read here. */
interface Health {
  total: number;
  by_status: Record<string, number>;
}

/** Starts a juno cluster with the bench's settings and measures routing, then agents. */
async function benchJuno(): Promise<JunoResult> {
  const cluster = await ProcessCluster.start(3, {
    RAFT_HEARTBEAT_INTERVAL: "100",
    RAFT_ELECTION_TIMEOUT: "1000",
    AGENT_HEARTBEAT_INTERVAL: String(INTERVAL_MS / 1000),
    FAILURE_DETECTION_TIMEOUT: String(FAILURE_TIMEOUT_S),
    HEALTH_CHECK_INTERVAL: String(HEALTH_CHECK_INTERVAL_S),
  });
  try {
    const leader = await cluster.leader();
    const routing = await phase("routing", () => benchRouting(cluster, leader));
    const agents = await benchAgents(cluster, await cluster.leader());
    return { routing, agents };
  } finally {
    await cluster.stop();
  }
}

/** Closed loop: `concurrency` workers GETting back to back for `ms`. */
async function closedLoop(
  concurrency: number,
  ms: number,
  at: string,
  path: string,
  headers: Record<string, string>,
): Promise<Omit<RoutePoint, "path">> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        const status = await get(at, path, headers).then(
          (answer) => answer.status,
          () => 0,
        );
        if (status === 200) latencies.push(performance.now() - started);
        else errors++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    concurrency,
    opsPerSecond: (latencies.length / ms) * 1000,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    errors,
  };
}

/** Routing overhead: an echo agent reached directly, and through a follower's and the leader's proxy. */
async function benchRouting(cluster: ProcessCluster, leader: string): Promise<RoutePoint[]> {
  const server = createServer((request, response) => {
    response.writeHead(200, { "content-type": "text/plain" });
    response.end(`echo ${request.url ?? ""}`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const echo = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const follower = cluster.running().find((id) => id !== leader)!;
  let beating: NodeJS.Timeout | null = null;
  let agentId: string | null = null;
  try {
    const registered = await cluster.request(leader, "POST", "/api/v3/agents/register", {
      name: "bench-echo",
      endpoint: echo,
      team: "bench",
      capabilities: { skills: ["echo"], capacity: 1_000 },
      health_check: { type: "none" },
    });
    if (registered.status !== 201) throw new Error(`echo agent: ${JSON.stringify(registered.body)}`);
    const id = (registered.body["agent"] as { id: string }).id;
    agentId = id;
    const beat = (): void =>
      void cluster.request(leader, "POST", `/api/v3/agents/${id}/heartbeat`, {}, 1_000).catch(() => {});
    beat();
    beating = setInterval(beat, INTERVAL_MS);
    const routes = [
      { path: "direct", at: echo, url: "/x", headers: {} },
      { path: "follower", at: origin(cluster, follower), url: "/api/v3/route/echo/x", headers: AUTH },
      { path: "leader", at: origin(cluster, leader), url: "/api/v3/route/echo/x", headers: AUTH },
    ] as const;
    // Both proxies must see the agent in their replicated view before anything is measured.
    for (const route of routes)
      await eventually(
        async () => {
          const answer = await get(route.at, route.url, route.headers);
          return answer.status === 200 && (route.path === "direct" || answer.headers["x-juno-agent"] === id)
            ? true
            : undefined;
        },
        10_000,
        50,
        `the echo agent through ${route.path}`,
      );
    const points: RoutePoint[] = [];
    for (const concurrency of ROUTE_CONCURRENCY)
      for (const route of routes) {
        await closedLoop(concurrency, ROUTE_WARMUP_MS, route.at, route.url, route.headers);
        const figures = await closedLoop(concurrency, ROUTE_MS, route.at, route.url, route.headers);
        points.push({ path: route.path, ...figures });
      }
    return points;
  } finally {
    if (beating !== null) clearInterval(beating);
    // Out of the registry, so that the agents phase counts only its own agents.
    if (agentId !== null) await cluster.request(leader, "DELETE", `/api/v3/agents/${agentId}`);
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Pages through GET /agents (optionally with a status) and returns what `pick` takes of each. */
async function listAgents<T>(
  at: string,
  status: string | null,
  pick: (agent: { id: string; status: string; last_heartbeat: string | null }) => T,
): Promise<T[]> {
  const found: T[] = [];
  let cursor: string | null = null;
  do {
    const query = `limit=500${status === null ? "" : `&status=${status}`}${cursor === null ? "" : `&cursor=${cursor}`}`;
    const page: {
      agents: { id: string; status: string; last_heartbeat: string | null }[];
      next_cursor: string | null;
    } = await getJson(at, `/api/v3/agents?${query}`);
    for (const agent of page.agents) found.push(pick(agent));
    cursor = page.next_cursor;
  } while (cursor !== null);
  return found;
}

/** Registers and beats the agents, measures the window, then times failure detection. */
async function benchAgents(cluster: ProcessCluster, leader: string): Promise<AgentsResult> {
  const ids = cluster.founders().map((node) => node.id);
  const origins = ids.map((id) => origin(cluster, id));
  const leaderOrigin = origin(cluster, leader);
  const { fleet, reports } = await phase("registration", () => Fleet.start("juno", origins, AGENTS));
  try {
    const registered = registration(reports, AGENTS);
    await sleep(SETTLE_MS);

    const pids = [leader, ...ids.filter((id) => id !== leader)].map((id) => cluster.node(id).child?.pid);
    const meter = new CpuMeter([...pids, ...fleet.pids()]);
    const commitBefore = await commitIndex(leaderOrigin);
    const windowStarted = performance.now();
    const outputAt = ids.map((id) => cluster.node(id).output.length);
    const windows = await phase("window", async () => {
      fleet.begin();
      await sleep(WINDOW_SECONDS * 1_000);
      return fleet.end();
    });
    const cpu = meter.percentages();
    const blocks = ids.map((id, i) => ({ id, ...loopBlocks(cluster.node(id).output.slice(outputAt[i])) }));
    const entriesPerSecond =
      ((await commitIndex(leaderOrigin)) - commitBefore) / ((performance.now() - windowStarted) / 1000);
    const health = await getJson<Health>(leaderOrigin, "/api/v3/agents/health");
    const nowMs = Date.now();
    const beats = await listAgents(leaderOrigin, null, (agent) => agent.last_heartbeat);
    const staleAfterMs = 2 * HEALTH_CHECK_INTERVAL_S * 1_000 + 2_000;

    const detection = await phase("detection", () => detectFailures(fleet, leaderOrigin, registered.indices));
    const leaderAfter = await cluster.leader();
    return {
      registration: registered,
      beating: merge(windows, registered.count),
      cpu: { leader: cpu[0]!, followers: cpu.slice(1, 3), load: cpu.slice(3) },
      entriesPerSecond,
      statusAtEnd: health.by_status,
      notHealthyAtEnd: health.total - (health.by_status["healthy"] ?? 0),
      lastHeartbeatNull: beats.filter((at) => at === null).length,
      lastHeartbeatStale: beats.filter((at) => at !== null && nowMs - Date.parse(at) > staleAfterMs).length,
      detection,
      leaderChanged: leaderAfter !== leader,
      loopBlocks: [blocks.find((b) => b.id === leader)!, ...blocks.filter((b) => b.id !== leader)],
    };
  } finally {
    await fleet.exit();
  }
}

/**
 * Stops the beats of KILLED agents spread over the id space (so over the nodes and the load
 * processes) and polls until all of them are failed; the others keep beating throughout.
 */
async function detectFailures(
  fleet: Fleet,
  leaderOrigin: string,
  registered: readonly number[],
): Promise<Detection> {
  const indices = Array.from(
    { length: Math.min(KILLED, registered.length) },
    (_, k) => registered[Math.floor((k * registered.length) / KILLED)]!,
  );
  const reports = await fleet.stop(indices);
  const lastSent = new Map(reports.flatMap((r) => r.ids.map((id, i) => [id, r.lastSentAtMs[i]!] as const)));
  // The stop: the moment the last beat of the stopped agents had been answered.
  const stoppedAtMs = Math.max(...reports.map((r) => r.stoppedAtMs));
  const falsePositives = new Set<string>();
  const lookForFalsePositives = async (): Promise<void> => {
    for (const status of ["failed", "suspect", "degraded"])
      for (const id of await listAgents(leaderOrigin, status, (agent) => agent.id))
        if (!lastSent.has(id)) falsePositives.add(id);
  };
  const failedAt = new Map<string, number>();
  const deadline = stoppedAtMs + 3 * DETECTION_TARGET_MS;
  let polls = 0;
  while (failedAt.size < lastSent.size && Date.now() < deadline) {
    const listed = await listAgents(leaderOrigin, "failed", (agent) => agent.id);
    const now = Date.now();
    for (const id of listed) {
      if (!lastSent.has(id)) falsePositives.add(id);
      else if (!failedAt.has(id)) failedAt.set(id, now);
    }
    // Suspect and degraded are looked at too, less often: the failed list is what is timed.
    if (++polls % 10 === 0) await lookForFalsePositives();
    await sleep(20);
  }
  // A last look, after the failures' own entries have settled.
  await sleep(1_000);
  await lookForFalsePositives();
  const health = await getJson<Health>(leaderOrigin, "/api/v3/agents/health");
  const times = [...failedAt.values()].map((at) => at - stoppedAtMs).sort((a, b) => a - b);
  const sinceLastBeat = [...failedAt].map(([id, at]) => at - lastSent.get(id)!).sort((a, b) => a - b);
  return {
    killed: lastSent.size,
    firstFailedMs: times[0] ?? NaN,
    allFailedMs: failedAt.size === lastSent.size ? times.at(-1)! : NaN,
    failedInTime: times.filter((ms) => ms <= DETECTION_TARGET_MS).length,
    sinceLastBeatMsP50: percentile(sinceLastBeat, 0.5),
    sinceLastBeatMsMax: sinceLastBeat.at(-1) ?? NaN,
    falsePositives: falsePositives.size,
    statusAtEnd: health.by_status,
  };
}

// ---------------------------------------------------------------- etcd

/** A running 3-member etcd cluster. */
interface Etcd {
  readonly clients: readonly string[];
  readonly pids: () => (number | undefined)[];
  /** Index of the leader in `clients`, and the raft index it has. */
  readonly status: () => Promise<{ leader: number; raftIndex: number }>;
  readonly stop: () => void;
}

/**
 * Starts a 3-member etcd cluster on free loopback ports (as bench/cluster-bench.ts does), or
 * returns null when etcd is not installed. A start that fails (a port taken meanwhile) is torn
 * down and tried again on fresh ports, up to three times.
 */
async function startEtcd(): Promise<Etcd | null> {
  if (spawnSync("etcd", ["--version"], { stdio: "ignore" }).status !== 0) return null;
  let lastError: unknown = null;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), "juno-etcd-"));
    const members = [];
    for (let i = 1; i <= 3; i++)
      members.push({ name: `e${i}`, client: await freePort(), peer: await freePort() });
    const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(",");
    let output = "";
    const children: ChildProcess[] = members.map((m) => {
      const child = spawn(
        "etcd",
        [
          `--name=${m.name}`,
          `--data-dir=${join(dir, m.name)}`,
          `--listen-client-urls=http://127.0.0.1:${m.client}`,
          `--advertise-client-urls=http://127.0.0.1:${m.client}`,
          `--listen-peer-urls=http://127.0.0.1:${m.peer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${m.peer}`,
          `--initial-cluster=${initial}`,
          "--initial-cluster-state=new",
          "--log-level=error",
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      child.stderr?.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000)));
      return child;
    });
    const stop = (): void => {
      for (const child of children) child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    };
    let exited: string | null = null;
    for (const child of children) child.once("exit", (code, signal) => (exited ??= String(code ?? signal)));
    const clients = members.map((m) => `http://127.0.0.1:${m.client}`);
    const statusOnce = async (): Promise<{ leader: number; raftIndex: number } | undefined> => {
      for (let i = 0; i < clients.length; i++) {
        const response = await fetch(`${clients[i]}/v3/maintenance/status`, { method: "POST", body: "{}" });
        const status = (await response.json()) as {
          header?: { member_id?: string };
          leader?: string;
          raftIndex?: string;
        };
        if (status.leader !== undefined && status.leader === status.header?.member_id)
          return { leader: i, raftIndex: Number(status.raftIndex) };
      }
      return undefined;
    };
    try {
      await eventually(
        async () => {
          // A member that exited will never answer: give up on this attempt at once.
          if (exited !== null) throw new GiveUp(`an etcd member exited (${exited}) at start:\n${output}`);
          return statusOnce();
        },
        30_000,
        50,
        "an etcd leader",
      );
      return {
        clients,
        pids: () => children.map((child) => child.pid),
        status: () => eventually(statusOnce, 30_000, 50, "an etcd leader"),
        stop,
      };
    } catch (error) {
      lastError = error;
      stop();
    }
  }
  throw lastError instanceof Error ? lastError : new Error("the etcd cluster did not start");
}

/** What one etcd point measured. */
interface EtcdResult {
  readonly leases: number;
  readonly grant: Registration;
  readonly beating: Beating;
  readonly cpu: CpuFigures;
  readonly entriesPerSecond: number;
  readonly leaderChanged: boolean;
}

/** `leases` leases kept alive once a second on a fresh etcd cluster; null without etcd. */
async function benchEtcd(leases: number): Promise<EtcdResult | null> {
  const etcd = await startEtcd();
  if (etcd === null) return null;
  try {
    const { fleet, reports } = await Fleet.start("etcd", etcd.clients, leases);
    try {
      const granted = registration(reports, leases);
      await sleep(SETTLE_MS);
      const before = await etcd.status();
      const members = etcd.pids();
      const pids = [members[before.leader], ...members.filter((_, i) => i !== before.leader)];
      const meter = new CpuMeter([...pids, ...fleet.pids()]);
      const started = performance.now();
      fleet.begin();
      await sleep(WINDOW_SECONDS * 1_000);
      const windows = await fleet.end();
      const cpu = meter.percentages();
      const after = await etcd.status();
      return {
        leases,
        grant: granted,
        beating: merge(windows, granted.count),
        cpu: { leader: cpu[0]!, followers: cpu.slice(1, 3), load: cpu.slice(3) },
        entriesPerSecond: (after.raftIndex - before.raftIndex) / ((performance.now() - started) / 1000),
        leaderChanged: after.leader !== before.leader,
      };
    } finally {
      await fleet.exit();
    }
  } finally {
    etcd.stop();
  }
}

// ---------------------------------------------------------------- run

const runStarted = performance.now();
let juno: JunoResult;
const etcd: EtcdResult[] = [];
let etcdMissing = false;
try {
  juno = await benchJuno();
  for (const leases of ETCD_LEASES) {
    const result = await benchEtcd(leases);
    if (result === null) {
      etcdMissing = true;
      break;
    }
    etcd.push(result);
  }
} finally {
  await closePools();
}

// ---------------------------------------------------------------- report

const whole = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");
const fixed = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");
const counts = (record: Record<string, number>): string =>
  Object.entries(record)
    .map(([key, n]) => `${n} x ${key}`)
    .join(", ") || "none";

/** One table row: the first cell left-aligned, the others right-aligned. */
function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[0]!) : c.padStart(widths[i] ?? 12))).join("");
}

const agents = juno.agents;
const reg = agents.registration;
const thousands = (n: number): string => n.toLocaleString("en-US");
const verdict = (ok: boolean): string => (ok ? "met" : "MISSED");
const expectedEntries = Math.ceil(reg.count / BEATS_PER_ENTRY) / HEALTH_CHECK_INTERVAL_S;
console.log(
  `juno agents benchmark: 3 juno nodes as real processes on this machine (${cpus().length} cores, ` +
    `${process.version}), juno's default Raft timings; ${thousands(AGENTS)} agents beating ` +
    `every ${INTERVAL_MS / 1000} s, agent i to node i mod 3, from ${LOAD_PROCESSES} load processes ` +
    `(undici pools, keep-alive, ${LOAD_CONNECTIONS} connections per node each); a ${WINDOW_SECONDS} s window ` +
    `after ${SETTLE_MS / 1000} s of settling. FAILURE_DETECTION_TIMEOUT=${FAILURE_TIMEOUT_S} s ` +
    `(default 15 s) to keep the bench short, HEALTH_CHECK_INTERVAL=${HEALTH_CHECK_INTERVAL_S} s; ` +
    `etcd leases get TTL ${FAILURE_TIMEOUT_S} s. Each system runs alone (juno first), so CPU is not shared.`,
);

console.log("");
const registrationLine = (what: string, r: Registration, unit: string): string =>
  `${what}: ${thousands(r.count)}${r.count < r.wanted ? ` of ${thousands(r.wanted)} (BENCH_REGISTER_SECONDS ran out)` : ""} ` +
  `in ${fixed(r.seconds, 1)} s at concurrency ${REGISTER_CONCURRENCY} over the 3 nodes: ${whole(r.agentsPerSecond)} ${unit}/s; ` +
  `the first tenth at ${whole(r.firstTenthPerSecond)}/s, the last tenth at ${whole(r.lastTenthPerSecond)}/s ` +
  `(each beats from its registration on, so the last tenth registers under nearly the whole beat load); ` +
  `refused attempts (retried): ${counts(r.failures)}`;
console.log(registrationLine("juno registration", reg, "agents"));
for (const e of etcd)
  console.log(registrationLine(`etcd lease grants (${thousands(e.leases)})`, e.grant, "grants"));

console.log("");
console.log(
  `juno log entries during the window: ${fixed(agents.entriesPerSecond)}/s; expected only the periodic ` +
    `last_heartbeat batch, ${Math.ceil(reg.count / BEATS_PER_ENTRY)} entr${reg.count > BEATS_PER_ENTRY ? "ies" : "y"} ` +
    `every ${HEALTH_CHECK_INTERVAL_S} s = ${fixed(expectedEntries)}/s ` +
    `(${verdict(agents.entriesPerSecond <= expectedEntries * 1.5 + 0.1)})`,
);
console.log(
  `juno agents not healthy at the end of the window: ${agents.notHealthyAtEnd} (must be 0: ` +
    `${verdict(agents.notHealthyAtEnd === 0)}); by status ${JSON.stringify(agents.statusAtEnd)}; ` +
    `${agents.beating.unwellAgents} agents were answered not healthy at least once during the window`,
);
console.log(
  `juno replicated last_heartbeat at the end of the window: ${agents.lastHeartbeatNull} never written, ` +
    `${agents.lastHeartbeatStale} older than 2 x HEALTH_CHECK_INTERVAL + 2 s, of ${thousands(reg.count)}`,
);
const d = agents.detection;
console.log(
  `failure detection: ${d.killed} agents stopped beating; first failed after ${fixed(d.firstFailedMs / 1000)} s, ` +
    `all ${d.killed} after ${fixed(d.allFailedMs / 1000)} s (target FAILURE_DETECTION_TIMEOUT + 10 % = ` +
    `${fixed(DETECTION_TARGET_MS / 1000, 1)} s: ${d.failedInTime === d.killed ? "met" : `MISSED, ${d.failedInTime} in time`}); ` +
    `from each one's last beat sent to failed: p50 ${fixed(d.sinceLastBeatMsP50 / 1000)} s, max ` +
    `${fixed(d.sinceLastBeatMsMax / 1000)} s`,
);
console.log(
  `false positives (other agents suspect, degraded or failed while the 100 were detected): ${d.falsePositives} ` +
    `(must be 0: ${verdict(d.falsePositives === 0)}); by status after: ${JSON.stringify(d.statusAtEnd)}`,
);
console.log(
  "juno event loop blocked >= 50 ms during the window (leader first): " +
    agents.loopBlocks
      .map(
        (b) =>
          `${b.id} ${b.count} times, ${whole(b.blockedMs)} ms blocked with ${whole(b.cpuMs)} ms of its CPU`,
      )
      .join("; ") +
    " (CPU well below the blocked time: the machine did not run the process, or it waited on the disk)",
);
if (agents.leaderChanged) console.log("warning: the juno leader changed during the agents phase");
for (const e of etcd)
  if (e.leaderChanged) console.log(`warning: the etcd leader changed during the ${e.leases} leases window`);

console.log("");
console.log(
  `routing overhead: GET to a node:http echo agent, closed loop, ${ROUTE_MS} ms per point after ` +
    `${ROUTE_WARMUP_MS} ms warm-up (direct, or /api/v3/route/echo/x through a follower or the leader):`,
);
const routeWidths = [12, 10, 12, 10, 10, 14, 14, 8];
console.log(
  row(
    ["concurrency", "path", "ops/s", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms", "errors"],
    routeWidths,
  ),
);
for (const p of juno.routing) {
  const direct = juno.routing.find((q) => q.path === "direct" && q.concurrency === p.concurrency)!;
  const added = (value: number): string => (p.path === "direct" ? "" : fixed(value));
  console.log(
    row(
      [
        String(p.concurrency),
        p.path,
        whole(p.opsPerSecond),
        fixed(p.p50Ms),
        fixed(p.p99Ms),
        added(p.p50Ms - direct.p50Ms),
        added(p.p99Ms - direct.p99Ms),
        String(p.errors),
      ],
      routeWidths,
    ),
  );
}

console.log("");
if (etcdMissing)
  console.log(
    "etcd is not on the PATH: no comparison in this run (scripts/install-etcd.sh, or apt-get install etcd-server)",
  );
else if (ETCD_LEASES.length === 0) console.log("BENCH_ETCD_LEASES=none: no etcd comparison in this run");
console.log(
  `juno heartbeats and etcd lease keep-alives side by side, one ${WINDOW_SECONDS} s window each ` +
    "(CPU as % of one core over the window; lease/agent i to member i mod 3):",
);
const columns = [
  { name: `juno ${thousands(reg.count)} agents`, beating: agents.beating, cpu: agents.cpu },
  ...etcd.map((e) => ({ name: `etcd ${thousands(e.grant.count)} leases`, beating: e.beating, cpu: e.cpu })),
];
const widths = [34, ...columns.map((c) => Math.max(22, c.name.length + 2))];
const line = (label: string, cell: (c: (typeof columns)[number], i: number) => string): void =>
  console.log(row([label, ...columns.map(cell)], widths));
const total = (record: Record<string, number>): number => Object.values(record).reduce((a, b) => a + b, 0);
line("", (c) => c.name);
line("target beats (keep-alives)/s", (c) => whole(c.beating.targetPerSecond));
line(
  "achieved /s",
  (c) =>
    `${whole(c.beating.achievedPerSecond)} (${fixed((c.beating.achievedPerSecond / c.beating.targetPerSecond) * 100, 1)} %)`,
);
line(
  "  slowest .. fastest second",
  (c) => `${whole(c.beating.perSecondMin)} .. ${whole(c.beating.perSecondMax)}`,
);
line("latency p50 ms", (c) => fixed(c.beating.p50Ms));
line("latency p99 ms", (c) => fixed(c.beating.p99Ms));
line("skipped (previous unanswered)", (c) => whole(c.beating.skipped));
line("failed requests", (c) => whole(total(c.beating.failures)));
line("not healthy / expired: answers", (c) => whole(total(c.beating.unwell)));
line("  distinct agents / leases", (c) => whole(c.beating.unwellAgents));
line("CPU leader %", (c) => fixed(c.cpu.leader, 0));
line("CPU followers %", (c) => c.cpu.followers.map((f) => fixed(f, 0)).join(", "));
line("CPU per member, mean %", (c) =>
  fixed((c.cpu.leader + c.cpu.followers.reduce((a, b) => a + b, 0)) / 3, 0),
);
line("log entries/s", (_c, i) => fixed(i === 0 ? agents.entriesPerSecond : etcd[i - 1]!.entriesPerSecond));
line("CPU load processes %", (c) => c.cpu.load.map((f) => fixed(f, 0)).join(", "));
line("load schedule lag p99/max ms", (c) =>
  c.beating.loadLagMs.map(([p99, max]) => `${fixed(p99, 0)}/${fixed(max, 0)}`).join(", "),
);
for (const c of columns) {
  if (Object.keys(c.beating.failures).length > 0)
    console.log(`  ${c.name}: failed requests ${counts(c.beating.failures)}`);
  if (Object.keys(c.beating.unwell).length > 0)
    console.log(`  ${c.name}: answers ${counts(c.beating.unwell)}`);
  // A load process that is itself busy, or late on its own schedule, would understate the cluster.
  const loadBusy = c.cpu.load.some((cpu) => cpu > 80) || c.beating.loadLagMs.some(([p99]) => p99 > 100);
  if (loadBusy)
    console.log(
      `  ${c.name}: a load process was busy (> 80 % CPU) or late (schedule lag p99 > 100 ms): ` +
        "the figures may understate the cluster",
    );
}
if (process.env["JUNO_CPU_PROF_DIR"] !== undefined)
  console.log(`profile phases (monotonic us, as a .cpuprofile's startTime): ${JSON.stringify(phases)}`);
console.log(`run took ${((performance.now() - runStarted) / 1000).toFixed(0)} s`);
console.log(
  JSON.stringify(
    {
      benchmark: "juno-agents",
      agents: AGENTS,
      windowSeconds: WINDOW_SECONDS,
      loadProcesses: LOAD_PROCESSES,
      failureTimeoutSeconds: FAILURE_TIMEOUT_S,
      juno,
      etcd,
    },
    (_key, value: unknown) =>
      typeof value === "number" && !Number.isInteger(value) ? Math.round(value * 1000) / 1000 : value,
  ),
);
