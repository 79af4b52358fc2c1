/**
 * `npm run bench:cluster`: a closed-loop load through POST /api/v3/consensus/propose on a 3-node
 * juno cluster of real processes on this machine, at concurrency 1, 16, 64 and 256 with 64-byte
 * values: ops/s, p50, p99. Then failover (leader SIGKILL to the first successful write through a
 * survivor) and each node's resident memory. Where `etcd` is on the PATH, the same load runs
 * against a 3-member etcd cluster's HTTP gateway (/v3/kv/put) in the same run, and the ratios are
 * printed. Speed is measured here, never asserted in tests.
 */

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { freePort } from "../src/cli/dev.js";
import { ProcessCluster, eventually } from "../test/integration/harness.js";

const CONCURRENCY = [1, 16, 64, 256];
const WARMUP_MS = 1_000;
const MEASURE_MS = Number(process.env["BENCH_MEASURE_MS"] ?? 4_000);
const VALUE = "v".repeat(64);
/** --million: also write a million entries before measuring resident memory. */
const MILLION = process.argv.includes("--million");

/** One keep-alive connection pool per target, sized for the highest concurrency. */
const pools = new Map<string, Pool>();
function pool(origin: string): Pool {
  let found = pools.get(origin);
  if (found === undefined) pools.set(origin, (found = new Pool(origin, { connections: 512, pipelining: 1 })));
  return found;
}

/** POSTs `body` to `origin` + `path`; resolves with the status after reading the answer. */
async function post(
  origin: string,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const response = await pool(origin).request({
    method: "POST",
    path,
    body,
    headers: { "content-type": "application/json", ...headers },
  });
  await response.body.dump();
  return response.statusCode;
}

/** One measurement. */
interface Figures {
  readonly concurrency: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

/** Runs `concurrency` workers calling `op` back to back for `ms`; latencies of successful calls. */
async function closedLoop(concurrency: number, ms: number, op: () => Promise<boolean>): Promise<Figures> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        const ok = await op().catch(() => false);
        if (ok) latencies.push(performance.now() - started);
        else errors++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    concurrency,
    opsPerSecond: (latencies.length / ms) * 1000,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    errors,
  };
}

/** Warms up, then measures each concurrency. */
async function loadSeries(op: () => Promise<boolean>): Promise<Figures[]> {
  const out: Figures[] = [];
  for (const concurrency of CONCURRENCY) {
    await closedLoop(concurrency, WARMUP_MS, op);
    out.push(await closedLoop(concurrency, MEASURE_MS, op));
  }
  return out;
}

function rssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return kb / 1024;
  } catch {
    return NaN;
  }
}

async function benchJuno(): Promise<{ load: Figures[]; failoverMs: number; rssMb: number[] }> {
  const cluster = await ProcessCluster.start(3, {
    RAFT_HEARTBEAT_INTERVAL: "100",
    RAFT_ELECTION_TIMEOUT: "1000",
  });
  try {
    const leader = await cluster.leader();
    const origin = `http://127.0.0.1:${cluster.node(leader).http}`;
    const body = JSON.stringify({ entry_type: "bench", data: VALUE });
    const headers = { authorization: "Bearer integration-token" };
    const propose = async (at: string): Promise<boolean> =>
      (await post(at, "/api/v3/consensus/propose", body, headers)) === 201;
    const load = await loadSeries(() => propose(origin));
    if (MILLION) {
      // Memory after a million entries: snapshots every 10,000 keep the log bounded.
      const started = performance.now();
      let done = 0;
      await Promise.all(
        Array.from({ length: 256 }, async () => {
          while (done < 1_000_000) {
            done++;
            if (!(await propose(origin).catch(() => false))) done--;
          }
        }),
      );
      console.log(`wrote 1,000,000 entries in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    const rss = cluster.founders().map((n) => rssMb(n.child?.pid));
    // Failover: the leader dies; how long until a survivor takes a write?
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
    return { load, failoverMs: performance.now() - killedAt, rssMb: rss };
  } finally {
    await cluster.stop();
  }
}

/** Starts a 3-member etcd cluster on free loopback ports, or returns null when etcd is not installed. */
async function startEtcd(): Promise<{
  clients: string[];
  leaderOf: () => Promise<number>;
  stop: () => void;
  children: ChildProcess[];
} | null> {
  if (spawnSync("etcd", ["--version"], { stdio: "ignore" }).status !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), "juno-etcd-"));
  const members = [];
  for (let i = 1; i <= 3; i++)
    members.push({ name: `e${i}`, client: await freePort(), peer: await freePort() });
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(",");
  const children = members.map((m) =>
    spawn(
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
      { stdio: "ignore" },
    ),
  );
  const clients = members.map((m) => `http://127.0.0.1:${m.client}`);
  const leaderOf = async (): Promise<number> =>
    eventually(
      async () => {
        for (let i = 0; i < clients.length; i++) {
          const response = await fetch(`${clients[i]}/v3/maintenance/status`, { method: "POST", body: "{}" });
          const status = (await response.json()) as { header?: { member_id?: string }; leader?: string };
          if (status.leader !== undefined && status.leader === status.header?.member_id) return i;
        }
        return undefined;
      },
      30_000,
      50,
      "an etcd leader",
    );
  await leaderOf();
  return {
    clients,
    leaderOf,
    children,
    stop: () => {
      for (const child of children) child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function benchEtcd(): Promise<{ load: Figures[]; failoverMs: number } | null> {
  const etcd = await startEtcd();
  if (etcd === null) return null;
  try {
    const leader = await etcd.leaderOf();
    const value = Buffer.from(VALUE).toString("base64");
    let n = 0;
    const put = async (client: string): Promise<boolean> => {
      const key = Buffer.from(`bench/${n++ % 10_000}`).toString("base64");
      return (await post(client, "/v3/kv/put", JSON.stringify({ key, value }))) === 200;
    };
    const load = await loadSeries(() => put(etcd.clients[leader]!));
    const survivor = etcd.clients[(leader + 1) % 3]!;
    const killedAt = performance.now();
    etcd.children[leader]!.kill("SIGKILL");
    await eventually(
      async () => ((await put(survivor).catch(() => false)) ? true : undefined),
      30_000,
      5,
      "an etcd write after failover",
    );
    return { load, failoverMs: performance.now() - killedAt };
  } finally {
    etcd.stop();
  }
}

function row(cells: (string | number)[]): string {
  return cells.map((c, i) => String(c).padStart(i === 0 ? 12 : 11)).join("");
}

const juno = await benchJuno();
for (const p of pools.values()) await p.close();
pools.clear();
const etcd = await benchEtcd();
console.log(
  `juno cluster benchmark: 3 nodes on this machine (${process.version}), closed loop, 64-byte values, ${MEASURE_MS} ms per point`,
);
console.log(
  row([
    "concurrency",
    "juno ops/s",
    "p50 ms",
    "p99 ms",
    ...(etcd ? ["etcd ops/s", "p50 ms", "p99 ms", "ops ratio", "p50 ratio"] : []),
  ]),
);
juno.load.forEach((j, i) => {
  const e = etcd?.load[i];
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
            (j.opsPerSecond / e.opsPerSecond).toFixed(2),
            (j.p50Ms / e.p50Ms).toFixed(2),
          ]
        : []),
    ]),
  );
});
console.log(
  `failover (leader SIGKILL to first write through a survivor): juno ${Math.round(juno.failoverMs)} ms${etcd ? `, etcd ${Math.round(etcd.failoverMs)} ms` : ""}`,
);
console.log(
  `resident memory per juno node after the load${MILLION ? " and a million entries" : ""}: ${juno.rssMb.map((mb) => `${mb.toFixed(0)} MB`).join(", ")}`,
);
if (etcd === null)
  console.log("etcd is not on the PATH (apt-get install etcd-server): no comparison in this run");
console.log(JSON.stringify({ benchmark: "juno-cluster", juno, etcd }));
for (const p of pools.values()) await p.close();
