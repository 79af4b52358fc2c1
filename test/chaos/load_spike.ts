/**
 * Load spike: a baseline of 64 concurrent writers, then 10x (640) for a while, then the baseline
 * again. Expects no crash (every process alive, /healthz 200), refusals only as 429/503/504 with
 * the JSON error shape (never a 500, never a hang beyond the node's request timeout), and prints
 * p50 latency after the spike against the baseline (warns, does not fail, beyond 3x).
 *
 * `juno start` does not expose maxPendingRequests or requestTimeoutMs; the node defaults apply
 * (10 000 pending, 10 s).
 *
 *   npx tsx test/chaos/load_spike.ts [--quick]
 */

import { ProcessCluster } from "../integration/harness.js";
import {
  Acks,
  NO_COMPACTION,
  WriteLoad,
  auditLogs,
  ms,
  percentile,
  quick,
  runScript,
  say,
  sleep,
  statusSummary,
  type Sample,
} from "./common.js";

const BASE = 64;
const SPIKE = 640;
const BASELINE_MS = quick ? 4_000 : 12_000;
const SPIKE_MS = quick ? 5_000 : 15_000;
const RECOVERY_MS = quick ? 5_000 : 12_000;
/** Requests a node may hold waiting (JUNO_MAX_PENDING_REQUESTS): above a node's share of the baseline (about 21), far below its share of the spike (about 213). */
const MAX_PENDING = 60;
/** The node's request timeout (src/runtime/node.ts) plus a margin: an answer later than this is a hang. */
const HANG_MS = 10_000 + 2_000;

await runScript("load_spike", quick ? 45_000 : 85_000, async (checks, cleanup) => {
  // A small bound on waiting requests, so the spike meets it and the refusal path is exercised.
  const cluster = await ProcessCluster.start(3, {
    ...NO_COMPACTION,
    JUNO_MAX_PENDING_REQUESTS: String(MAX_PENDING),
  });
  cleanup(() => cluster.stop());
  const ids = [...cluster.nodes.keys()];
  await cluster.leader(ids);
  say(`started ${ids.join(", ")}`);
  const acks = new Acks(checks);
  const base = new WriteLoad(cluster, acks, "b", () => ids, HANG_MS);
  const spike = new WriteLoad(cluster, acks, "s", () => ids, HANG_MS);

  const phase = (samples: readonly Sample[], from: number, to: number): Sample[] =>
    samples.filter((s) => s.at >= from && s.at < to);
  const report = (name: string, samples: readonly Sample[], seconds: number): number => {
    const lat = samples.filter((s) => s.status === 201).map((s) => s.latency);
    const p50 = percentile(lat, 50);
    say(
      `${name}: ${(lat.length / seconds).toFixed(0)} writes/s, p50 ${ms(p50)}, p99 ${ms(percentile(lat, 99))}, max ${ms(Math.max(0, ...samples.map((s) => s.latency)))}; ${statusSummary(samples)}`,
    );
    return p50;
  };

  say(`baseline: ${BASE} writers for ${BASELINE_MS / 1000} s`);
  base.add(BASE);
  await sleep(1_000); // warm-up, not measured
  const t0 = Date.now();
  await sleep(BASELINE_MS - 1_000);
  const t1 = Date.now();
  say(`spike: ${SPIKE} writers (${BASE} + ${SPIKE - BASE}) for ${SPIKE_MS / 1000} s`);
  spike.add(SPIKE - BASE);
  await sleep(SPIKE_MS);
  say(`back to ${BASE} writers for ${RECOVERY_MS / 1000} s`);
  await spike.stop();
  const t3 = Date.now();
  await sleep(RECOVERY_MS);
  await base.stop();
  const t4 = Date.now();

  const all = [...base.samples, ...spike.samples];
  const baseP50 = report("baseline", phase(base.samples, t0, t1), (t1 - t0) / 1000);
  report("spike", phase(all, t1, t3), (t3 - t1) / 1000);
  // The first second after the spike drains what the spike left queued; measure the rest.
  const afterP50 = report("after", phase(all, t3 + 1_000, t4), (t4 - t3 - 1_000) / 1000);

  const wrong = all.filter(
    (s) =>
      s.status !== 201 &&
      !([429, 503, 504].includes(s.status) && s.code !== null && s.code !== "unreachable"),
  );
  checks.expect(
    wrong.length === 0,
    `every refusal is 429/503/504 with the JSON error shape (${wrong.length} others${wrong.length > 0 ? `: ${statusSummary(wrong.slice(0, 20))}` : ""})`,
  );
  checks.expect(
    all.every((s) => s.status !== 500),
    "no 500",
  );
  const overloaded = all.filter((s) => s.status === 503 && s.code === "overloaded").length;
  checks.expect(
    overloaded > 0,
    `the bound on waiting requests answered 503 overloaded during the spike (${overloaded} times)`,
  );
  const slowest = Math.max(...all.map((s) => s.latency));
  checks.expect(slowest < HANG_MS, `no answer took longer than the request timeout (slowest ${ms(slowest)})`);
  for (const id of ids) {
    const node = cluster.node(id);
    const alive = node.child !== null && node.child.exitCode === null && node.child.signalCode === null;
    const health = await cluster.request(id, "GET", "/healthz", undefined, 2_000);
    checks.expect(alive && health.status === 200, `${id} alive and /healthz ${health.status}`);
  }
  const ratio = afterP50 / baseP50;
  const line = `p50 after the spike ${ms(afterP50)} vs baseline ${ms(baseP50)} (${ratio.toFixed(2)}x)`;
  if (Number.isFinite(ratio) && ratio <= 3) say(`ok: ${line}, within 3x`);
  else say(`WARNING (not failing on timing): ${line}, beyond 3x`);
  await auditLogs(cluster, acks, checks);
});
