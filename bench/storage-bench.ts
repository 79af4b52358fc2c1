/**
 * `npm run bench:storage`: the same closed-loop write load (POST /api/v3/consensus/propose,
 * 64-byte values, spread round robin over all three nodes as a Kubernetes Service spreads it) on
 * two 3-node juno clusters of real processes, one keeping its log in SQLite and one in
 * PostgreSQL (Debian's server, started by scripts/postgres.sh in a temporary directory, fsync and
 * synchronous_commit on, the three nodes in three schemas of one database as a shared production
 * server would hold them). Both clusters run side by side for the whole run; at each concurrency
 * (1, 64, 256) they are measured back to back, alternating which goes first. Prints ops/s, p50
 * and p99 for each and PostgreSQL/SQLite ratios, then one JSON line. BENCH_MEASURE_MS sets the
 * length of one point (default 4000).
 */

import { startPostgres } from "../test/support/postgres.js";
import { ProcessCluster } from "../test/integration/harness.js";
import { closePools, measureSideBySide, post, type Figures, type Target } from "./closed-loop.js";

const CONCURRENCY = [1, 64, 256];
const WARMUP_MS = 1_000;
const MEASURE_MS = Number(process.env["BENCH_MEASURE_MS"] ?? 4_000);
const BODY = JSON.stringify({ entry_type: "bench", data: "v".repeat(64) });
const HEADERS = { authorization: "Bearer integration-token" };

interface System {
  readonly name: "sqlite" | "postgres";
  readonly cluster: ProcessCluster;
  readonly target: Target;
  readonly figures: Figures[];
}

async function startSystem(name: System["name"], env: Record<string, string>): Promise<System> {
  const cluster = await ProcessCluster.start(3, {
    RAFT_HEARTBEAT_INTERVAL: "100",
    RAFT_ELECTION_TIMEOUT: "1000",
    ...env,
  });
  await cluster.leader();
  const origins = cluster.founders().map((n) => `http://127.0.0.1:${n.http}`);
  return {
    name,
    cluster,
    target: {
      origins,
      leader: 0,
      write: (at) => post(at, "/api/v3/consensus/propose", BODY, HEADERS),
      expected: 201,
    },
    figures: [],
  };
}

const server = await startPostgres();
const systems: System[] = [];
try {
  systems.push(await startSystem("sqlite", {}));
  systems.push(await startSystem("postgres", { JUNO_STORAGE: server.url }));
  await measureSideBySide(systems, CONCURRENCY, WARMUP_MS, MEASURE_MS);
} finally {
  for (const system of systems) await system.cluster.stop();
  await closePools();
  await server.destroy();
}

const [sqlite, postgres] = systems as [System, System];
const cell = (value: string | number, width = 11): string => String(value).padStart(width);
console.log(
  `juno storage benchmark: 3 nodes per cluster on this machine (${process.version}), load spread over every node, ` +
    `64-byte values, ${MEASURE_MS} ms per point after ${WARMUP_MS} ms warm-up, clusters measured back to back`,
);
console.log(
  [
    cell("concurrency", 12),
    cell("sqlite op/s"),
    cell("p50 ms"),
    cell("p99 ms"),
    cell("pg op/s"),
    cell("p50 ms"),
    cell("p99 ms"),
    cell("pg/sqlite"),
    cell("p50 ratio"),
  ].join(""),
);
sqlite.figures.forEach((s, i) => {
  const p = postgres.figures[i]!;
  console.log(
    [
      cell(s.concurrency, 12),
      cell(Math.round(s.opsPerSecond)),
      cell(s.p50Ms.toFixed(2)),
      cell(s.p99Ms.toFixed(2)),
      cell(Math.round(p.opsPerSecond)),
      cell(p.p50Ms.toFixed(2)),
      cell(p.p99Ms.toFixed(2)),
      cell((p.opsPerSecond / s.opsPerSecond).toFixed(2)),
      cell((p.p50Ms / s.p50Ms).toFixed(2)),
    ].join(""),
  );
  for (const f of [s, p])
    if (f.errors > 0) console.log(`  ${f === s ? "sqlite" : "postgres"}: ${f.errors} failed requests`);
});
console.log(
  JSON.stringify({
    benchmark: "juno-storage",
    measureMs: MEASURE_MS,
    sqlite: sqlite.figures,
    postgres: postgres.figures,
  }),
);
