/**
 * Network partition: every Raft link goes through its own TCP proxy (proxy.ts), so the script can
 * isolate the leader from the others. Expects: the isolated node never acknowledges a write, the
 * majority elects a leader and keeps committing, a default (linearizable) read on the isolated
 * node fails or is fresh, and after healing every node holds the same log with every acknowledged
 * write in it.
 *
 *   npx tsx test/chaos/network_partition.ts [--quick]
 */

import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ProcessCluster } from "../integration/harness.js";
import { LinkProxy } from "./proxy.js";
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
import { scriptPath } from "../support/compiled.js";

const SIZE = 3;
const ROUNDS = quick ? 1 : 2;
const PARTITION_MS = quick ? 5_000 : 12_000;
const HOOK = pathToFileURL(scriptPath(join(import.meta.dirname, "dial-hook.ts"))).href;

await runScript("network_partition", quick ? 45_000 : 85_000, async (checks, cleanup) => {
  const cluster = await ProcessCluster.start(0, NO_COMPACTION);
  cleanup(() => cluster.stop());
  const ids = Array.from({ length: SIZE }, (_, i) => `n${i + 1}`);
  for (const id of ids) await cluster.allocate(id);
  // links.get(`${from}>${to}`): the proxy `from` dials to reach `to`.
  const links = new Map<string, LinkProxy>();
  cleanup(async () => {
    for (const proxy of links.values()) await proxy.close();
  });
  for (const from of ids)
    for (const to of ids) {
      if (from === to) continue;
      const proxy = new LinkProxy(`${from}>${to}`, cluster.node(to).raft);
      await proxy.listen();
      links.set(proxy.name, proxy);
    }
  await Promise.all(
    ids.map((id) => {
      const others = ids.filter((o) => o !== id);
      const peers = [
        `${id}=127.0.0.1:${cluster.node(id).raft}`,
        ...others.map((o) => `${o}=127.0.0.1:${links.get(`${id}>${o}`)!.port}`),
      ].join(",");
      const dial = Object.fromEntries(
        others.map((o) => [`127.0.0.1:${cluster.node(o).raft}`, links.get(`${id}>${o}`)!.port]),
      );
      return cluster.launch(cluster.node(id), cluster.founders(), false, {
        peers,
        nodeArgs: ["--import", HOOK],
        env: { JUNO_CHAOS_DIAL: JSON.stringify(dial) },
      });
    }),
  );
  say(`started ${ids.join(", ")}; every Raft link through its own proxy (${links.size} links)`);

  const acks = new Acks(checks);
  let majority: readonly string[] = ids;
  const load = new WriteLoad(cluster, acks, "p", () => majority, 3_000);
  load.add(8);

  for (let round = 1; round <= ROUNDS; round++) {
    const isolated = await cluster.leader(ids);
    majority = ids.filter((id) => id !== isolated);
    await sleep(quick ? 1_500 : 3_000);
    const before = acks.byIndex.size;
    say(`round ${round}: leader ${isolated}; ${before} writes acknowledged so far; cutting its links`);
    const cutAt = Date.now();
    for (const proxy of links.values())
      if (proxy.name.startsWith(`${isolated}>`) || proxy.name.endsWith(`>${isolated}`)) proxy.cut();

    const fresh = await cluster.leader(majority);
    const electedAfter = Date.now() - cutAt;
    const firstAck = acks.byIndex.size;
    say(`majority ${majority.join(", ")} elected ${fresh} ${electedAfter} ms after the cut`);

    // Probe the isolated node while the majority commits.
    const writeAnswers = new Map<string, number>();
    let reads = 0;
    let freshReads = 0;
    let staleReads = 0;
    const until = cutAt + PARTITION_MS;
    let probe = 0;
    while (Date.now() < until) {
      const data = `isolated-${round}-${probe++}`;
      const [write, read] = await Promise.all([
        cluster.request(isolated, "POST", "/api/v3/consensus/propose", { entry_type: "chaos", data }, 2_000),
        (async () => {
          // The newest write the majority acknowledged: a fresh read sees it.
          const newest = Math.max(...acks.byIndex.keys());
          const answer = await cluster.request(
            isolated,
            "GET",
            `/api/v3/consensus/log?from=${newest}&limit=1`,
            undefined,
            2_000,
          );
          return { answer, newest, data: acks.byIndex.get(newest) };
        })(),
      ]);
      const code = (write.body["error"] as { code?: string } | undefined)?.code ?? "";
      const key = `${write.status}${code === "" ? "" : ` ${code}`}`;
      writeAnswers.set(key, (writeAnswers.get(key) ?? 0) + 1);
      if (write.status === 201) checks.fail(`isolated ${isolated} acknowledged write ${data}`);
      else if (write.status !== 0 && ![503, 504].includes(write.status))
        checks.fail(
          `isolated ${isolated} refused a write with ${write.status} ${JSON.stringify(write.body)}`,
        );
      reads++;
      if (read.answer.status === 200) {
        const entry = (read.answer.body["entries"] as { index: number; data: unknown }[])[0];
        if (entry?.index === read.newest && entry.data === read.data) freshReads++;
        else {
          staleReads++;
          checks.fail(
            `isolated ${isolated} served a stale read of index ${read.newest}: ${JSON.stringify(entry)}`,
          );
        }
      }
      await sleep(200);
    }
    const during = acks.byIndex.size - firstAck;
    checks.expect(
      writeAnswers.get("201") === undefined,
      `isolated ${isolated} acknowledged no write (${[...writeAnswers].map(([k, v]) => `${k}: ${v}`).join(", ")})`,
    );
    checks.expect(
      staleReads === 0,
      `isolated ${isolated}: ${reads} default reads, ${freshReads} fresh, ${staleReads} stale, ${reads - freshReads - staleReads} refused or timed out`,
    );
    checks.expect(during > 0, `majority committed ${during} writes while ${isolated} was cut off`);

    say(`round ${round}: healing`);
    const healAt = Date.now();
    for (const proxy of links.values()) proxy.heal();
    majority = ids;
    const leader = await cluster.leader(ids);
    say(`after healing, all agree on leader ${leader} within ${Date.now() - healAt} ms`);
  }

  await sleep(quick ? 1_000 : 2_000);
  await load.stop();
  const lat = load.samples.filter((s) => s.status === 201).map((s) => s.latency);
  say(
    `load: ${statusSummary(load.samples)}; write p50 ${ms(percentile(lat, 50))}, p99 ${ms(percentile(lat, 99))}`,
  );
  let refused = 0;
  for (const proxy of links.values()) refused += proxy.refused;
  say(`proxies refused ${refused} connections while cut`);
  await auditLogs(cluster, acks, checks);
});
