/**
 * Node failure: under a steady write load, repeatedly SIGKILL, SIGSTOP then SIGCONT, or SIGTERM one
 * node of three (never more than a minority at once; every other fault hits the leader), then
 * bring it back. Prints the failover times seen; expects every acknowledged write in every node's
 * log, once, at its index, and identical logs.
 *
 *   npx tsx test/chaos/node_failure.ts [--quick]
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
} from "./common.js";

const ROUNDS = quick ? 5 : 9;
const FAULTS = ["SIGKILL", "SIGSTOP", "SIGTERM"] as const;

await runScript("node_failure", quick ? 75_000 : 85_000, async (checks, cleanup) => {
  const cluster = await ProcessCluster.start(3, NO_COMPACTION);
  cleanup(() => cluster.stop());
  const ids = [...cluster.nodes.keys()];
  say(`started ${ids.join(", ")}`);
  const acks = new Acks(checks);
  const down = new Set<string>();
  const load = new WriteLoad(cluster, acks, "f", () => ids.filter((id) => !down.has(id)), 3_000);
  load.add(6);
  const failovers: { fault: string; ms: number }[] = [];

  for (let round = 1; round <= ROUNDS; round++) {
    const leader = await cluster.leader(ids);
    await sleep(quick ? 500 : 1_000);
    const fault = FAULTS[(round - 1) % FAULTS.length]!;
    const target =
      round % 2 === 1 ? leader : ids.filter((id) => id !== leader)[Math.floor(Math.random() * 2)]!;
    const others = ids.filter((id) => id !== target);
    const acked = acks.byIndex.size;
    const at = Date.now();
    down.add(target);
    const gone = cluster.signal(target, fault);
    if (fault === "SIGTERM") {
      // A graceful stop must end; a node that hangs in shutdown is a finding, then killed.
      const exited = await Promise.race([gone.then(() => true), sleep(10_000).then(() => false)]);
      if (!exited) {
        checks.fail(`${target} did not exit within 10 s of SIGTERM; sending SIGKILL`);
        say(
          `  ${target} output, last lines:\n${cluster.node(target).output.split("\n").slice(-15).join("\n")}`,
        );
        cluster.node(target).child?.kill("SIGKILL");
      }
    }
    await gone;
    say(
      `round ${round}: ${fault} ${target}${target === leader ? " (the leader)" : ""}; ${acked} writes acknowledged so far`,
    );
    if (target === leader) {
      const next = await cluster.leader(others);
      const elected = Date.now() - at;
      // Failover ends with the first write acknowledged after the fault.
      const deadline = Date.now() + 20_000;
      while (acks.byIndex.size === acked && Date.now() < deadline) await sleep(10);
      const resumed = Date.now() - at;
      failovers.push({ fault, ms: resumed });
      say(`  ${next} leads ${elected} ms after the fault; writes resumed after ${resumed} ms`);
    }
    await sleep(quick ? 1_000 : 2_000);
    if (fault === "SIGSTOP") await cluster.signal(target, "SIGCONT");
    else await cluster.restart(target);
    down.delete(target);
    say(`  ${target} back (${fault === "SIGSTOP" ? "SIGCONT" : "restarted"}) after ${Date.now() - at} ms`);
  }

  await cluster.leader(ids);
  await sleep(1_000);
  await load.stop();
  const lat = load.samples.filter((s) => s.status === 201).map((s) => s.latency);
  say(
    `load: ${statusSummary(load.samples)}; write p50 ${ms(percentile(lat, 50))}, p99 ${ms(percentile(lat, 99))}`,
  );
  const bad = load.samples.filter((s) => s.status >= 400 && s.status < 500 && s.status !== 429);
  checks.expect(bad.length === 0, `no write refused as the client's fault (${bad.length})`);
  say(
    `failover (fault on the leader to first acknowledged write): ${failovers.map((f) => `${f.fault} ${f.ms} ms`).join(", ")}`,
  );
  for (const f of failovers)
    checks.expect(f.ms < 15_000, `failover after ${f.fault} within 15 s (${f.ms} ms)`);
  for (const id of ids) {
    const health = await cluster.request(id, "GET", "/healthz", undefined, 2_000);
    checks.expect(health.status === 200, `${id} healthy at the end`);
  }
  await auditLogs(cluster, acks, checks);
});
