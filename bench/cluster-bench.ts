/**
 * `npm run bench:cluster`: a closed-loop load through POST /api/v3/consensus/propose on a 3-node
 * juno cluster of real processes on this machine, at concurrency 1, 16, 64 and 256 with 64-byte
 * values: ops/s, p50, p99. Each point is measured under two loads:
 *
 * - "leader": every request goes to the leader;
 * - "spread": requests are spread evenly over every node, as a Kubernetes Service or a client
 *   list does: round robin per request over the three HTTP addresses, each worker starting at a
 *   different node, through the same keep-alive pools. Followers forward to the leader.
 *
 * At each concurrency the loads run one after the other on the same cluster, so both see the
 * same log and store size. Where `etcd` is on the PATH (scripts/install-etcd.sh), a 3-member etcd
 * cluster's HTTP gateway (/v3/kv/put; its members forward to their leader) takes the same loads
 * and the ratios are printed. This machine's speed drifts from minute to minute, so both clusters
 * start up front and run side by side on separate free ports for the whole run, and every point
 * is measured on juno and on etcd back to back (each after its own warm-up, the other cluster
 * idle meanwhile), alternating which goes first from point to point. Concurrency 1, latency-bound
 * and the noisiest, takes three such rounds per load and reports the median of each figure per
 * system. Only then, for each system, failover (leader SIGKILL to the first successful write
 * through a survivor), and each juno node's resident memory. Speed is measured here, never
 * asserted in tests.
 *
 * Options: --load leader|spread|both (default both), --concurrency (a subset such as 1 or 1,64;
 * default all four), --million (write a million entries before
 * measuring memory). BENCH_MEASURE_MS sets the length of one measured point (default 4000); each
 * of the three concurrency-1 rounds measures half of it.
 */

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../src/cli/dev.js";
import { GiveUp, ProcessCluster, eventually } from "../test/integration/harness.js";
import {
  closePools,
  closedLoop,
  post,
  type Figures,
  type Load,
  type Round,
  type Target,
} from "./closed-loop.js";
import { rssMb } from "./proc-stats.js";

const ALL_CONCURRENCY = [1, 16, 64, 256];
const WARMUP_MS = 1_000;
const MEASURE_MS = Number(process.env["BENCH_MEASURE_MS"] ?? 4_000);
/** Concurrency 1: this many alternating juno/etcd rounds, each measuring this long; medians reported. */
const C1_ROUNDS = 3;
const C1_ROUND_MS = Math.max(1, Math.round(MEASURE_MS / 2));
const VALUE = "v".repeat(64);
const INSTALL_ETCD = "scripts/install-etcd.sh";

/** Reads the command line; anything unknown is an error rather than silently ignored. */
function parseArgs(argv: readonly string[]): { loads: Load[]; million: boolean; concurrency: number[] } {
  let load = "both";
  let million = false;
  let concurrency = ALL_CONCURRENCY;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--million") million = true;
    else if (arg === "--load") load = argv[++i] ?? "";
    else if (arg.startsWith("--load=")) load = arg.slice("--load=".length);
    else if (arg === "--concurrency") concurrency = parseConcurrency(argv[++i] ?? "");
    else if (arg.startsWith("--concurrency="))
      concurrency = parseConcurrency(arg.slice("--concurrency=".length));
    else fail(`unknown argument ${arg}`);
  }
  const loads: Record<string, Load[]> = {
    leader: ["leader"],
    spread: ["spread"],
    both: ["leader", "spread"],
  };
  if (!Object.hasOwn(loads, load)) fail(`--load must be leader, spread or both, not "${load}"`);
  if (!Number.isFinite(MEASURE_MS) || MEASURE_MS <= 0) fail("BENCH_MEASURE_MS must be a positive number");
  return { loads: loads[load]!, million, concurrency };
}

/** A comma-separated subset of the measured concurrencies, e.g. "1" or "1,64". */
function parseConcurrency(text: string): number[] {
  const chosen = text.split(",").map(Number);
  for (const value of chosen)
    if (!ALL_CONCURRENCY.includes(value)) fail(`--concurrency takes some of ${ALL_CONCURRENCY.join(",")}`);
  return ALL_CONCURRENCY.filter((value) => chosen.includes(value));
}

function fail(message: string): never {
  console.error(`cluster-bench: ${message}`);
  console.error(
    "usage: npm run bench:cluster -- [--load leader|spread|both] [--concurrency 1,16,64,256] [--million]",
  );
  process.exit(2);
}

const { loads: LOADS, million: MILLION, concurrency: CONCURRENCY } = parseArgs(process.argv.slice(2));

type Series = Partial<Record<Load, Figures[]>>;

/** Who leads, as an index into the target's origins, and in which term. */
interface Leadership {
  readonly leader: number;
  readonly term: number;
}

/** A running cluster under test, kept up from the first point to its failover. */
interface System {
  readonly name: "juno" | "etcd";
  readonly target: Target;
  /** Every port its processes listen on. */
  readonly ports: readonly number[];
  /** Waits until the cluster agrees on a leader. */
  readonly leadership: () => Promise<Leadership>;
  /** SIGKILLs the current leader; resolves with the ms until a survivor takes a write. */
  readonly failover: () => Promise<number>;
  readonly stop: () => Promise<void>;
  /** The leadership seen before the first point and before each point since. */
  readonly seen: Leadership[];
  readonly loads: Series;
}

interface Juno extends System {
  /** Resident memory of each node, in MB. */
  readonly rssMb: () => number[];
  /** Writes a million entries to the leader, 256 at a time. */
  readonly writeMillion: () => Promise<void>;
}

async function startJuno(): Promise<Juno> {
  const cluster = await ProcessCluster.start(3, {
    RAFT_HEARTBEAT_INTERVAL: "100",
    RAFT_ELECTION_TIMEOUT: "1000",
  });
  try {
    const ids = cluster.founders().map((n) => n.id);
    const origins = cluster.founders().map((n) => `http://127.0.0.1:${n.http}`);
    const body = JSON.stringify({ entry_type: "bench", data: VALUE });
    const headers = { authorization: "Bearer integration-token" };
    const leadership = async (): Promise<Leadership> => {
      const leader = await cluster.leader();
      const status = await cluster.request(leader, "GET", "/api/v3/consensus/status?consistency=stale");
      return { leader: ids.indexOf(leader), term: Number(status.body["term"]) };
    };
    const first = await leadership();
    const target: Target = {
      origins,
      leader: first.leader,
      write: (at) => post(at, "/api/v3/consensus/propose", body, headers),
      expected: 201,
    };
    const propose = async (at: string): Promise<boolean> => (await target.write(at)) === 201;
    return {
      name: "juno",
      target,
      ports: cluster.founders().flatMap((n) => [n.http, n.raft]),
      leadership,
      seen: [first],
      loads: {},
      rssMb: () => cluster.founders().map((n) => rssMb(n.child?.pid)),
      writeMillion: async () => {
        // Memory after a million entries: snapshots every 10,000 keep the log bounded.
        const leader = origins[(await leadership()).leader]!;
        let done = 0;
        await Promise.all(
          Array.from({ length: 256 }, async () => {
            while (done < 1_000_000) {
              done++;
              if (!(await propose(leader).catch(() => false))) done--;
            }
          }),
        );
      },
      failover: async () => {
        const leader = ids[(await leadership()).leader]!;
        const survivor = cluster.running().find((id) => id !== leader)!;
        const survivorOrigin = `http://127.0.0.1:${cluster.node(survivor).http}`;
        const killedAt = performance.now();
        cluster.node(leader).child?.kill("SIGKILL");
        await eventually(
          async () => ((await propose(survivorOrigin).catch(() => false)) ? true : undefined),
          30_000,
          5,
          "a write after failover",
        );
        return performance.now() - killedAt;
      },
      stop: () => cluster.stop(),
    };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/**
 * Starts a 3-member etcd cluster on free loopback ports none of `taken` (juno's, listening
 * already), or returns null when etcd is not installed. Like the juno harness, a start that fails
 * (a port taken meanwhile) is torn down and tried again on fresh ports, up to three times.
 */
async function startEtcd(taken: readonly number[]): Promise<System | null> {
  if (spawnSync("etcd", ["--version"], { stdio: "ignore" }).status !== 0) return null;
  let lastError: unknown = null;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const used = new Set(taken);
    const port = async (): Promise<number> => {
      for (;;) {
        const p = await freePort();
        if (!used.has(p)) {
          used.add(p);
          return p;
        }
      }
    };
    const dir = mkdtempSync(join(tmpdir(), "juno-etcd-"));
    const members = [];
    for (let i = 1; i <= 3; i++) members.push({ name: `e${i}`, client: await port(), peer: await port() });
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
    const kill = (): void => {
      for (const child of children) child.kill("SIGKILL");
    };
    const clients = members.map((m) => `http://127.0.0.1:${m.client}`);
    let exited: string | null = null;
    for (const child of children) child.once("exit", (code, signal) => (exited ??= String(code ?? signal)));
    const leadershipOnce = async (): Promise<Leadership | undefined> => {
      for (let i = 0; i < clients.length; i++) {
        const response = await fetch(`${clients[i]}/v3/maintenance/status`, { method: "POST", body: "{}" });
        const status = (await response.json()) as {
          header?: { member_id?: string };
          leader?: string;
          raftTerm?: string;
        };
        if (status.leader !== undefined && status.leader === status.header?.member_id)
          return { leader: i, term: Number(status.raftTerm) };
      }
      return undefined;
    };
    const leadership = (): Promise<Leadership> => eventually(leadershipOnce, 30_000, 50, "an etcd leader");
    try {
      const first = await eventually(
        async () => {
          // A member that exited will never answer: give up on this attempt at once.
          if (exited !== null) throw new GiveUp(`an etcd member exited (${exited}) at start:\n${output}`);
          return leadershipOnce();
        },
        30_000,
        50,
        "an etcd leader",
      );
      const value = Buffer.from(VALUE).toString("base64");
      let n = 0;
      const target: Target = {
        origins: clients,
        leader: first.leader,
        write: (client) => {
          const key = Buffer.from(`bench/${n++ % 10_000}`).toString("base64");
          return post(client, "/v3/kv/put", JSON.stringify({ key, value }));
        },
        expected: 200,
      };
      return {
        name: "etcd",
        target,
        ports: members.flatMap((m) => [m.client, m.peer]),
        leadership,
        seen: [first],
        loads: {},
        failover: async () => {
          const leader = (await leadership()).leader;
          const survivor = clients[(leader + 1) % 3]!;
          const killedAt = performance.now();
          children[leader]!.kill("SIGKILL");
          await eventually(
            async () => ((await target.write(survivor).catch(() => 0)) === 200 ? true : undefined),
            30_000,
            5,
            "an etcd write after failover",
          );
          return performance.now() - killedAt;
        },
        stop: () => {
          kill();
          rmSync(dir, { recursive: true, force: true });
          return Promise.resolve();
        },
      };
    } catch (error) {
      lastError = error;
      kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  throw lastError instanceof Error ? lastError : new Error("the etcd cluster did not start");
}

/** One point on one system: the leader looked up again, a warm-up, then the measurement. */
async function measure(system: System, concurrency: number, load: Load, ms: number): Promise<Figures> {
  const now = await system.leadership();
  system.seen.push(now);
  system.target.leader = now.leader;
  await closedLoop(concurrency, WARMUP_MS, load, system.target);
  return closedLoop(concurrency, ms, load, system.target);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The medians of several rounds of one point, the errors summed. */
function combine(rounds: { figures: Figures; first: boolean }[]): Figures {
  if (rounds.length === 1) return rounds[0]!.figures;
  const failures: Record<string, number> = {};
  for (const { figures } of rounds)
    for (const [status, count] of Object.entries(figures.failures))
      failures[status] = (failures[status] ?? 0) + count;
  const all = rounds.map((r) => r.figures);
  return {
    concurrency: all[0]!.concurrency,
    opsPerSecond: median(all.map((f) => f.opsPerSecond)),
    p50Ms: median(all.map((f) => f.p50Ms)),
    p99Ms: median(all.map((f) => f.p99Ms)),
    errors: all.reduce((sum, f) => sum + f.errors, 0),
    failures,
    rounds: rounds.map(({ figures: f, first }) => ({
      opsPerSecond: f.opsPerSecond,
      p50Ms: f.p50Ms,
      p99Ms: f.p99Ms,
      errors: f.errors,
      first,
    })),
  };
}

/**
 * Measures every concurrency under every load on every system. At each point the systems run
 * back to back, the one that goes first alternating from point (or round) to point, so drift in
 * the machine's speed hits both alike; concurrency 1 takes C1_ROUNDS rounds.
 */
async function measureAll(systems: readonly System[]): Promise<void> {
  let flip = false;
  for (const concurrency of CONCURRENCY) {
    for (const load of LOADS) {
      const rounds = concurrency === 1 ? C1_ROUNDS : 1;
      const ms = concurrency === 1 ? C1_ROUND_MS : MEASURE_MS;
      const measured = new Map(systems.map((s) => [s, [] as { figures: Figures; first: boolean }[]]));
      for (let round = 0; round < rounds; round++) {
        const order = flip ? [...systems].reverse() : systems;
        flip = !flip;
        for (const [position, system] of order.entries())
          measured.get(system)!.push({
            figures: await measure(system, concurrency, load, ms),
            first: position === 0,
          });
      }
      for (const system of systems) (system.loads[load] ??= []).push(combine(measured.get(system)!));
    }
  }
}

interface Result {
  readonly loads: Series;
  readonly failoverMs: number;
  /** Set when the leader was not the same node at every point. */
  readonly leaderChanged: boolean;
  /** The term before the first point and before failover: an election between them if they differ. */
  readonly terms: readonly [number, number];
}

function result(system: System, failoverMs: number): Result {
  const first = system.seen[0]!;
  const last = system.seen.at(-1)!;
  return {
    loads: system.loads,
    failoverMs,
    leaderChanged: system.seen.some((s) => s.leader !== first.leader),
    terms: [first.term, last.term],
  };
}

const runStarted = performance.now();
const junoSystem = await startJuno();
let etcdSystem: System | null = null;
let juno: Result & { rssMb: number[] };
let etcd: Result | null = null;
let millionSeconds: number | null = null;
try {
  etcdSystem = await startEtcd(junoSystem.ports);
  const systems = etcdSystem === null ? [junoSystem] : [junoSystem, etcdSystem];
  // Side by side on loopback: no port may be shared (each start also checked its own members).
  const ports = systems.flatMap((s) => s.ports);
  if (new Set(ports).size !== ports.length) throw new Error(`a port is shared: ${ports.join(", ")}`);
  await measureAll(systems);
  // Whatever destroys a cluster's state or leader comes after every load point of both.
  for (const system of systems) system.seen.push(await system.leadership());
  if (MILLION) {
    const started = performance.now();
    await junoSystem.writeMillion();
    millionSeconds = (performance.now() - started) / 1000;
  }
  const rss = junoSystem.rssMb();
  juno = { ...result(junoSystem, await junoSystem.failover()), rssMb: rss };
  if (etcdSystem !== null) etcd = result(etcdSystem, await etcdSystem.failover());
} finally {
  await junoSystem.stop();
  await etcdSystem?.stop();
  await closePools();
}

// ---------------------------------------------------------------- report

function row(cells: (string | number)[]): string {
  return cells.map((c, i) => String(c).padStart(i === 0 ? 12 : 11)).join("");
}

const ratio = (a: number, b: number): string => (Number.isFinite(a / b) ? (a / b).toFixed(2) : "n/a");
const at = (series: Figures[] | undefined, concurrency: number): Figures | undefined =>
  series?.find((f) => f.concurrency === concurrency);
const DESCRIPTION: Record<Load, string> = {
  leader: "every request to the leader",
  spread: "requests round robin over all 3 nodes, each worker starting at a different node",
};

function printTable(load: Load, juno: Figures[], etcd: Figures[] | undefined): void {
  console.log("");
  console.log(`load "${load}": ${DESCRIPTION[load]}`);
  console.log(
    row([
      "concurrency",
      "juno ops/s",
      "p50 ms",
      "p99 ms",
      ...(etcd ? ["etcd ops/s", "p50 ms", "p99 ms", "ops ratio", "p50 ratio"] : []),
    ]),
  );
  juno.forEach((j, i) => {
    const e = etcd?.[i];
    console.log(
      row([
        j.concurrency,
        Math.round(j.opsPerSecond),
        j.p50Ms.toFixed(2),
        j.p99Ms.toFixed(2),
        ...(e
          ? [
              Math.round(e.opsPerSecond),
              e.p50Ms.toFixed(2),
              e.p99Ms.toFixed(2),
              ratio(j.opsPerSecond, e.opsPerSecond),
              ratio(j.p50Ms, e.p50Ms),
            ]
          : []),
      ]),
    );
  });
  const j1 = juno.find((f) => f.rounds !== undefined);
  if (j1?.rounds !== undefined) {
    const e1 = etcd?.find((f) => f.concurrency === j1.concurrency)?.rounds;
    const p50s = (rounds: readonly Round[]): string => rounds.map((r) => r.p50Ms.toFixed(2)).join(", ");
    const first = j1.rounds.flatMap((r, i) => (r.first ? [String(i + 1)] : []));
    console.log(
      `  concurrency ${j1.concurrency}, ${j1.rounds.length} rounds of ${C1_ROUND_MS} ms, medians above: ` +
        `juno p50 ${p50s(j1.rounds)} ms` +
        (e1 === undefined
          ? ""
          : `; etcd p50 ${p50s(e1)} ms; juno/etcd per round ` +
            j1.rounds.map((r, i) => ratio(r.p50Ms, e1[i]!.p50Ms)).join(", ") +
            `; juno first in round${first.length === 1 ? "" : "s"} ${first.join(", ") || "none"}`),
    );
  }
  for (const [system, series] of [
    ["juno", juno],
    ["etcd", etcd ?? []],
  ] as const) {
    for (const f of series) {
      if (f.errors === 0) continue;
      const what = Object.entries(f.failures)
        .map(([status, count]) => `${count} x ${status}`)
        .join(", ");
      console.log(`  ${system} at concurrency ${f.concurrency}: ${f.errors} failed requests (${what})`);
    }
  }
}

/** One derived figure: a ratio per concurrency, and whether each meets its target when it has one. */
interface Derived {
  readonly what: string;
  readonly ratios: Record<string, number>;
  readonly target?: string;
  readonly met?: boolean;
}

function derive(
  what: string,
  concurrencies: number[],
  value: (c: number) => number | undefined,
  target?: { label: string; ok: (r: number) => boolean },
): Derived | null {
  const ratios: Record<string, number> = {};
  for (const c of concurrencies) {
    const r = value(c);
    if (r === undefined) return null;
    ratios[String(c)] = r;
  }
  if (target === undefined) return { what, ratios };
  const met = Object.values(ratios).every((r) => Number.isFinite(r) && target.ok(r));
  return { what, ratios, target: target.label, met };
}

function printDerived(d: Derived): void {
  const figures = Object.entries(d.ratios)
    .map(([c, r]) => `${c}: ${Number.isFinite(r) ? r.toFixed(2) : "n/a"}`)
    .join(", ");
  const verdict = d.target === undefined ? "" : ` (target ${d.target}: ${d.met ? "met" : "MISSED"})`;
  console.log(`${d.what} at concurrency ${figures}${verdict}`);
}

if (millionSeconds !== null) console.log(`wrote 1,000,000 entries in ${millionSeconds.toFixed(1)} s`);
console.log(
  `juno cluster benchmark: 3 nodes on this machine (${process.version}), closed loop, 64-byte values, ` +
    `${MEASURE_MS} ms per point after ${WARMUP_MS} ms warm-up (concurrency 1: ${C1_ROUNDS} rounds of ` +
    `${C1_ROUND_MS} ms per system, each after its own warm-up, medians reported), loads: ${LOADS.join(", ")}`,
);
if (etcd !== null)
  console.log(
    "juno and etcd run side by side on separate ports for the whole run; each point is measured on " +
      "both back to back, alternating which goes first; failover last",
  );
for (const load of LOADS) printTable(load, juno.loads[load]!, etcd?.loads[load]);

const opsRatio =
  (a: Figures[] | undefined, b: Figures[] | undefined) =>
  (c: number): number | undefined => {
    const x = at(a, c);
    const y = at(b, c);
    return x && y ? x.opsPerSecond / y.opsPerSecond : undefined;
  };
const derived = [
  derive("juno spread/leader ops/s", [64, 256], opsRatio(juno.loads.spread, juno.loads.leader), {
    label: ">= 0.8",
    ok: (r) => r >= 0.8,
  }),
  derive("etcd spread/leader ops/s", [64, 256], opsRatio(etcd?.loads.spread, etcd?.loads.leader)),
  derive("juno/etcd ops/s under spread", [16, 64, 256], opsRatio(juno.loads.spread, etcd?.loads.spread), {
    label: ">= 1.0",
    ok: (r) => r >= 1.0,
  }),
  derive(
    "juno/etcd p50 under spread",
    [1],
    (c) => {
      const j = at(juno.loads.spread, c);
      const e = at(etcd?.loads.spread, c);
      return j && e ? j.p50Ms / e.p50Ms : undefined;
    },
    { label: "<= 1.2", ok: (r) => r <= 1.2 },
  ),
].filter((d): d is Derived => d !== null);
if (derived.length > 0) console.log("");
for (const d of derived) printDerived(d);

console.log("");
console.log(
  `failover (leader SIGKILL to first write through a survivor): juno ${Math.round(juno.failoverMs)} ms${etcd ? `, etcd ${Math.round(etcd.failoverMs)} ms` : ""}`,
);
console.log(
  `resident memory per juno node after the load${MILLION ? " and a million entries" : ""}: ${juno.rssMb.map((mb) => `${mb.toFixed(0)} MB`).join(", ")}`,
);
for (const [system, result] of [
  ["juno", juno],
  ["etcd", etcd],
] as const) {
  if (result?.leaderChanged)
    console.log(`warning: the ${system} leader changed during the load; its figures mix two leaders`);
  else if (result !== null && result.terms[0] !== result.terms[1])
    console.log(
      `warning: the ${system} term went from ${result.terms[0]} to ${result.terms[1]} during the load (an election)`,
    );
}
if (etcd === null)
  console.log(
    `etcd is not on the PATH: no comparison in this run (install it with ${INSTALL_ETCD}, ` +
      "or apt-get install etcd-server on Debian)",
  );
console.log(`run took ${((performance.now() - runStarted) / 1000).toFixed(0)} s`);
// The leader series stays under `load` as before; `loads` holds every measured load.
console.log(
  JSON.stringify(
    {
      benchmark: "juno-cluster",
      measureMs: MEASURE_MS,
      warmupMs: WARMUP_MS,
      c1Rounds: C1_ROUNDS,
      c1RoundMs: C1_ROUND_MS,
      interleaved: true,
      loads: LOADS,
      juno: { load: juno.loads.leader, ...juno },
      etcd: etcd === null ? null : { load: etcd.loads.leader, ...etcd },
      derived,
    },
    (_key, value: unknown) =>
      // Microsecond precision is plenty, and keeps the line readable.
      typeof value === "number" && !Number.isInteger(value) ? Math.round(value * 1000) / 1000 : value,
  ),
);
