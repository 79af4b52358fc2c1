/**
 * PostgreSQL failure: three nodes keep their logs in one PostgreSQL server (Debian's, started by
 * scripts/postgres.sh in a temporary directory), each in its own schema, under a steady write
 * load. Rounds alternate: SIGKILL of the leader, SIGKILL of a follower, a crash of the PostgreSQL
 * server (immediate stop: no checkpoint, recovery on start) and a clean restart of it. Expects
 * every acknowledged write in every node's log, once, at its index, identical logs, and writes
 * resuming after each fault.
 *
 *   npx tsx test/chaos/postgres_failure.ts [--quick]     (npm run chaos:postgres)
 */

import { startPostgres } from "../support/postgres.js";
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
} from "./common.js";

const FAULTS = ["kill leader", "crash postgres", "kill follower", "restart postgres"] as const;
const ROUNDS = quick ? 4 : 8;

await runScript("postgres_failure", quick ? 80_000 : 120_000, async (checks, cleanup) => {
  const server = await startPostgres();
  cleanup(() => server.destroy());
  const cluster = await ProcessCluster.start(3, { ...NO_COMPACTION, JUNO_STORAGE: server.url });
  cleanup(() => cluster.stop());
  const ids = [...cluster.nodes.keys()];
  say(`started ${ids.join(", ")} on PostgreSQL at 127.0.0.1:${server.port}`);
  const acks = new Acks(checks);
  const down = new Set<string>();
  const load = new WriteLoad(cluster, acks, "p", () => ids.filter((id) => !down.has(id)), 3_000);
  load.add(6);
  const resumedAfter: { fault: string; ms: number }[] = [];

  for (let round = 1; round <= ROUNDS; round++) {
    const leader = await cluster.leader(ids);
    await sleep(quick ? 500 : 1_000);
    const fault = FAULTS[(round - 1) % FAULTS.length]!;
    const acked = acks.byIndex.size;
    const at = Date.now();
    say(`round ${round}: ${fault}; ${acked} writes acknowledged so far`);
    let victim: string | null = null;
    if (fault === "kill leader" || fault === "kill follower") {
      victim = fault === "kill leader" ? leader : ids.find((id) => id !== leader)!;
      down.add(victim);
      await cluster.signal(victim, "SIGKILL");
    } else {
      await server.stop(fault === "crash postgres" ? "immediate" : "fast");
      await sleep(quick ? 300 : 1_000);
      await server.start();
    }
    // Writes resume: the first write acknowledged after the fault.
    const deadline = Date.now() + 20_000;
    while (acks.byIndex.size === acked && Date.now() < deadline) await sleep(10);
    const resumed = Date.now() - at;
    resumedAfter.push({ fault, ms: resumed });
    say(`  writes resumed ${resumed} ms after the fault`);
    if (victim !== null) {
      await sleep(quick ? 500 : 1_500);
      await cluster.restart(victim);
      down.delete(victim);
      say(`  ${victim} restarted ${Date.now() - at} ms after the fault`);
    }
  }

  await cluster.leader(ids);
  await sleep(1_000);
  await load.stop();
  const latencies = load.samples.filter((s) => s.status === 201).map((s) => s.latency);
  say(
    `load: ${statusSummary(load.samples)}; write p50 ${ms(percentile(latencies, 50))}, p99 ${ms(percentile(latencies, 99))}`,
  );
  const bad = load.samples.filter((s) => s.status >= 400 && s.status < 500 && s.status !== 429);
  checks.expect(bad.length === 0, `no write refused as the client's fault (${bad.length})`);
  for (const r of resumedAfter)
    checks.expect(r.ms < 15_000, `writes resumed within 15 s of "${r.fault}" (${r.ms} ms)`);
  for (const id of ids) {
    const ready = await cluster.request(id, "GET", "/readyz", undefined, 2_000);
    checks.expect(ready.status === 200, `${id} ready at the end, its store available`);
  }
  await auditLogs(cluster, acks, checks);
});
