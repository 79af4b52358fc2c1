/**
 * `npm run bench:snapshot`: snapshots of a large replicated state, on real juno processes (the
 * compiled CLI). It fills the state with SNAPSHOT_ROWS decisions (1,000,000 by default; each is a
 * row of the decisions module with its voters), then measures, per node, the longest the event
 * loop was held (prom-client's nodejs_eventloop_lag_max_seconds, polled through the phase, and
 * the node's own "event loop blocked" warnings, logged from 50 ms) while:
 *   1. every node takes a snapshot of that state, under a light write load;
 *   2. a fourth node joins and installs the snapshot from the leader (whose log is compacted);
 *   3. a founder restarts and catches up from its stored snapshot.
 * The target: no step of taking or installing a snapshot holds the loop for more than 50 ms.
 * Speed is measured here, never asserted in tests.
 */

import { Pool } from "undici";
import { ProcessCluster, eventually, type ProcessNode } from "../test/integration/harness.js";

const ROWS = Number(process.env["SNAPSHOT_ROWS"] ?? 1_000_000);
/** Entries written after the fill, at low concurrency, to cross the compaction threshold. */
const CROSSING = 20_000;
const headers = { authorization: "Bearer integration-token", "content-type": "application/json" };

const pools = new Map<number, Pool>();
function pool(port: number): Pool {
  let found = pools.get(port);
  if (found === undefined)
    pools.set(port, (found = new Pool(`http://127.0.0.1:${port}`, { connections: 128 })));
  return found;
}

async function request(
  port: number,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const response = await pool(port).request({
    method,
    path,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.statusCode, text: await response.body.text() };
}

/** Writes `count` entries spread over `ports` with `concurrency` workers, retrying refusals; returns writes/s. */
async function load(
  ports: readonly number[],
  count: number,
  concurrency: number,
  body: (i: number) => unknown,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = next++; i < count; i = next++) {
        for (let attempt = 0; ; attempt++) {
          const port = ports[(worker + i + attempt) % ports.length]!;
          const { status } = await request(port, "POST", "/api/v3/consensus/propose", body(i)).catch(() => ({
            status: 0,
          }));
          if (status === 201 || status === 202) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

/** A metric's value from a node's exposition text. */
function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(" ") + 1));
}

async function metrics(port: number): Promise<string> {
  return (await request(port, "GET", "/metrics")).text;
}

/**
 * The longest event-loop delay a node saw during a phase: nodejs_eventloop_lag_max_seconds
 * covers the time since the previous scrape, so polling every 250 ms and keeping the largest gives
 * the phase's worst. The node's own warnings (from 50 ms) are counted beside it.
 */
function watch(node: ProcessNode): { stop(): Promise<string> } {
  let worst = 0;
  let running = true;
  const from = node.output.length;
  void metrics(node.http).catch(() => ""); // starts the phase with a fresh histogram
  const polling = (async () => {
    while (running) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const lag = metric(await metrics(node.http).catch(() => ""), "nodejs_eventloop_lag_max_seconds");
      if (Number.isFinite(lag)) worst = Math.max(worst, lag);
    }
  })();
  return {
    async stop() {
      running = false;
      await polling;
      const warnings = node.output
        .slice(from)
        .split("\n")
        .filter((line) => line.includes('"event loop blocked"'));
      const blocks = warnings.map((line) => ({
        ms: Number(/"blockedMs":(\d+)/.exec(line)?.[1] ?? 0),
        gcMs: Number(/"gcMs":(\d+)/.exec(line)?.[1] ?? 0),
      }));
      const longest = blocks.reduce((a, b) => (b.ms > a.ms ? b : a), { ms: 0, gcMs: 0 });
      const summary =
        blocks.length === 0
          ? "no block of 50 ms or more"
          : `${blocks.length} blocks of 50 ms or more, the longest ${longest.ms} ms (${longest.gcMs} ms of it garbage collection)`;
      return `longest event-loop delay ${(worst * 1000).toFixed(0)} ms; ${summary}`;
    },
  };
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

console.log(
  `snapshot benchmark: ${ROWS.toLocaleString("en")} decisions on 3 nodes, then a 4th (${process.version})`,
);
/**
 * Snapshots are taken every THRESHOLD entries during the fill too (every 10,000, the default,
 * would mean a hundred snapshots of a growing state just to fill it): four during the fill, and
 * the measured fifth when the crossing load passes the next multiple.
 */
const THRESHOLD = Number(process.env["SNAPSHOT_THRESHOLD"] ?? Math.ceil((ROWS + CROSSING / 2) / 5));
const cluster = await ProcessCluster.start(3, {
  RAFT_HEARTBEAT_INTERVAL: "100",
  RAFT_ELECTION_TIMEOUT: "2000",
  RAFT_LOG_COMPACTION_THRESHOLD: String(THRESHOLD),
});
try {
  const founders = cluster.running().map((id) => cluster.node(id));
  const ports = founders.map((node) => node.http);
  await cluster.leader();

  const fillRate = await load(ports, ROWS, 256, (i) => ({
    entry_type: "bench",
    data: { n: i, payload: "v".repeat(32) },
    approval: { voters: ["alice", "bob", "carol"], quorum: 2 },
  }));
  const rss = await Promise.all(
    ports.map(async (port) => metric(await metrics(port), "process_resident_memory_bytes")),
  );
  console.log(
    `filled at ${fillRate.toFixed(0)} decisions/s; resident memory per node ${rss.map((b) => `${(b / 1e6).toFixed(0)} MB`).join(", ")}`,
  );

  // 1. Take: a light load until every node has taken its next snapshot (each counts from its own
  // last one, and paces itself, so they need not all come at the same index).
  const before = await Promise.all(
    ports.map(async (port) => metric(await metrics(port), "juno_snapshots_taken_total")),
  );
  const takeWatches = founders.map(watch);
  const takeStarted = performance.now();
  let crossing = 0;
  for (;;) {
    await load(ports, CROSSING / 4, 16, (i) => ({ entry_type: "cross", data: crossing + i }));
    crossing += CROSSING / 4;
    const texts = await Promise.all(ports.map(metrics));
    if (texts.every((text, i) => metric(text, "juno_snapshots_taken_total") > before[i]!)) break;
    if (crossing > 2 * THRESHOLD) throw new Error("the nodes did not take a snapshot");
  }
  console.log(
    `\n1. every node takes a snapshot (${seconds(performance.now() - takeStarted)} including ${crossing.toLocaleString("en")} writes at concurrency 16; snapshots every ${THRESHOLD.toLocaleString("en")} entries):`,
  );
  for (let i = 0; i < founders.length; i++) {
    const text = await metrics(ports[i]!);
    console.log(
      `   ${founders[i]!.id}: ${(metric(text, "juno_snapshot_bytes") / 1e6).toFixed(0)} MB written in ${seconds(metric(text, "juno_snapshot_duration_seconds") * 1000)}; ${await takeWatches[i]!.stop()}`,
    );
  }

  // 2. Install: a new node joins; the leader's log is compacted, so it is sent the snapshot.
  const leader = cluster.node(await cluster.leader());
  const n4 = await cluster.allocate("n4");
  await request(leader.http, "POST", "/api/v3/cluster/members", {
    id: "n4",
    raft_addr: `127.0.0.1:${n4.raft}`,
    http_addr: `127.0.0.1:${n4.http}`,
  });
  const leaderWatch = watch(leader);
  const installStarted = performance.now();
  await cluster.launch(n4, cluster.founders(), true);
  const n4Watch = watch(n4);
  const writes = load(ports, 5_000, 8, (i) => ({ entry_type: "during", data: i }));
  await eventually(
    async () => (metric(await metrics(n4.http), "juno_snapshots_installed_total") >= 1 ? true : undefined),
    600_000,
    250,
    "n4 installed the snapshot",
  );
  const installedMs = performance.now() - installStarted;
  const duringRate = await writes;
  const installed = await metrics(n4.http);
  console.log(`\n2. a new node installs it (${seconds(installedMs)} from the new node's start):`);
  console.log(
    `   n4: ${(metric(installed, "juno_snapshot_bytes") / 1e6).toFixed(0)} MB read and installed in ${seconds(metric(installed, "juno_snapshot_duration_seconds") * 1000)}; ${await n4Watch.stop()}`,
  );
  console.log(
    `   ${leader.id} (sending it, and taking writes at ${duringRate.toFixed(0)}/s meanwhile): ${await leaderWatch.stop()}`,
  );

  // 3. Restart: a founder stops and starts again from its stored snapshot.
  const restarted = founders.find((node) => node !== leader)!;
  await cluster.signal(restarted.id, "SIGTERM");
  const restartStarted = performance.now();
  await cluster.restart(restarted.id);
  const servingMs = performance.now() - restartStarted;
  const restartWatch = watch(restarted);
  await eventually(
    async () => {
      const status = JSON.parse(
        (await request(restarted.http, "GET", "/api/v3/consensus/status?consistency=stale")).text,
      ) as {
        applied_index: number;
        commit_index: number;
        leader_id: string | null;
      };
      return status.leader_id !== null && status.applied_index >= status.commit_index ? true : undefined;
    },
    600_000,
    200,
    `${restarted.id} caught up`,
  );
  console.log(
    `\n3. ${restarted.id} restarts: serving after ${seconds(servingMs)} (it reads its stored snapshot before it listens), caught up after ${seconds(performance.now() - restartStarted)}; once serving, ${await restartWatch.stop()}`,
  );
} finally {
  for (const p of pools.values()) await p.close();
  const outputDir = process.env["SNAPSHOT_OUTPUT_DIR"];
  if (outputDir !== undefined) {
    const { writeFileSync } = await import("node:fs");
    for (const id of cluster.running()) writeFileSync(`${outputDir}/${id}.log`, cluster.node(id).output);
  }
  await cluster.stop();
}
