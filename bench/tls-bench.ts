/**
 * `npm run bench:tls`: what TLS costs. The same closed-loop write load (POST
 * /api/v3/consensus/propose, 64-byte values, spread round robin over all three nodes as a
 * Kubernetes Service spreads it, so followers hand writes to the leader over the peer transport)
 * on four 3-node juno clusters of real processes: plain text everywhere, TLS on the API only,
 * mutual TLS between the peers only, and both. Certificates come from a throw-away CA made at the
 * start (RSA 2048, what `juno dev --tls` makes). The clusters run side by side for the whole run;
 * at each concurrency (1, 64, 256) they are measured back to back, the order rotating from point
 * to point. Keep-alive pools, so the API's figures are TLS's steady cost (record encryption), not
 * a handshake per request. Prints ops/s and p50 (p99 too) per cluster and the ratios to plain
 * text, then one JSON line. BENCH_MEASURE_MS sets the length of one point (default 4000).
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { tlsFetch } from "../src/client/tls.js";
import { LOOPBACK_NAMES, createCertificateAuthority, issueCertificate } from "../src/tls/certificates.js";
import { ProcessCluster, type ApiAccess } from "../test/integration/harness.js";
import { closePools, measureSideBySide, post, type Figures, type Target } from "./closed-loop.js";

const CONCURRENCY = [1, 64, 256];
const WARMUP_MS = 1_000;
const MEASURE_MS = Number(process.env["BENCH_MEASURE_MS"] ?? 4_000);
const BODY = JSON.stringify({ entry_type: "bench", data: "v".repeat(64) });
const HEADERS = { "content-type": "application/json", authorization: "Bearer integration-token" };

/** Which parts of a cluster run TLS. */
interface Variant {
  readonly name: "plain" | "api-tls" | "peer-tls" | "both";
  readonly api: boolean;
  readonly peers: boolean;
}

const VARIANTS: readonly Variant[] = [
  { name: "plain", api: false, peers: false },
  { name: "api-tls", api: true, peers: false },
  { name: "peer-tls", api: false, peers: true },
  { name: "both", api: true, peers: true },
];

interface System {
  readonly variant: Variant;
  readonly cluster: ProcessCluster;
  readonly target: Target;
  readonly figures: Figures[];
}

const dir = mkdtempSync(join(tmpdir(), "juno-tls-bench-"));
const ca = createCertificateAuthority({ commonName: "juno tls-bench CA" });
const member = issueCertificate(ca, { commonName: "member", ...LOOPBACK_NAMES });
const files = { ca: join(dir, "ca.crt"), cert: join(dir, "member.crt"), key: join(dir, "member.key") };
writeFileSync(files.ca, ca.certPem);
writeFileSync(files.cert, member.certPem);
writeFileSync(files.key, member.keyPem, { mode: 0o600 });

/** HTTPS pools trusting the CA, one per origin, as closed-loop.ts keeps plain ones. */
const tlsPools = new Map<string, Pool>();
async function postTls(origin: string): Promise<number> {
  let pool = tlsPools.get(origin);
  if (pool === undefined) {
    pool = new Pool(origin, { connections: 512, pipelining: 1, connect: { ca: ca.certPem } });
    tlsPools.set(origin, pool);
  }
  const response = await pool.request({
    method: "POST",
    path: "/api/v3/consensus/propose",
    body: BODY,
    headers: HEADERS,
  });
  await response.body.dump();
  return response.statusCode;
}

/** The variables that turn on what `variant` asks for. */
function tlsEnv(variant: Variant): Record<string, string> {
  return {
    ...(variant.api ? { JUNO_TLS_CERT: files.cert, JUNO_TLS_KEY: files.key } : {}),
    ...(variant.peers
      ? { JUNO_PEER_TLS_CERT: files.cert, JUNO_PEER_TLS_KEY: files.key, JUNO_PEER_TLS_CA: files.ca }
      : {}),
  };
}

async function startSystem(variant: Variant): Promise<System> {
  const access: ApiAccess = variant.api
    ? { scheme: "https", fetch: tlsFetch({ ca: ca.certPem }) }
    : { scheme: "http", fetch: (input, init) => fetch(input, init) };
  const cluster = await ProcessCluster.start(
    3,
    { RAFT_HEARTBEAT_INTERVAL: "100", RAFT_ELECTION_TIMEOUT: "1000", ...tlsEnv(variant) },
    access,
  );
  await cluster.leader();
  const origins = cluster.founders().map((node) => cluster.origin(node.id));
  return {
    variant,
    cluster,
    target: {
      origins,
      leader: 0,
      write: variant.api ? postTls : (at) => post(at, "/api/v3/consensus/propose", BODY, HEADERS),
      expected: 201,
    },
    figures: [],
  };
}

const systems: System[] = [];
try {
  for (const variant of VARIANTS) systems.push(await startSystem(variant));
  await measureSideBySide(systems, CONCURRENCY, WARMUP_MS, MEASURE_MS);
} finally {
  for (const system of systems) await system.cluster.stop();
  await closePools();
  for (const pool of tlsPools.values()) await pool.close();
  rmSync(dir, { recursive: true, force: true });
}

const cell = (value: string | number, width = 10): string => String(value).padStart(width);
const plain = systems.find((system) => system.variant.name === "plain")!;
console.log(
  `juno TLS benchmark: four 3-node clusters on this machine (${process.version}), load spread over every node, ` +
    `64-byte values, ${MEASURE_MS} ms per point after ${WARMUP_MS} ms warm-up, clusters measured back to back`,
);
console.log(
  [
    cell("cluster", 9),
    cell("conc.", 6),
    cell("op/s"),
    cell("p50 ms"),
    cell("p99 ms"),
    cell("errors", 7),
    cell("op/s ÷ plain", 13),
    cell("p50 ÷ plain", 12),
  ].join(" "),
);
for (const system of systems) {
  system.figures.forEach((figures, i) => {
    const base = plain.figures[i]!;
    console.log(
      [
        cell(system.variant.name, 9),
        cell(figures.concurrency, 6),
        cell(Math.round(figures.opsPerSecond).toLocaleString("en-US")),
        cell(figures.p50Ms.toFixed(2)),
        cell(figures.p99Ms.toFixed(1)),
        cell(figures.errors, 7),
        cell((figures.opsPerSecond / base.opsPerSecond).toFixed(2), 13),
        cell((figures.p50Ms / base.p50Ms).toFixed(2), 12),
      ].join(" "),
    );
  });
}
console.log(
  JSON.stringify({
    bench: "tls",
    measureMs: MEASURE_MS,
    points: systems.map((system) => ({ cluster: system.variant.name, figures: system.figures })),
  }),
);
