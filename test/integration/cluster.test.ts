// Proves a cluster of real juno processes does what a user relies on: it elects a leader and
// takes writes through every node; survives SIGKILL of its leader, whose restart catches up;
// transfers leadership on request; adds a node and removes the leader while a client writes; and
// catches up a node whose missing entries were compacted, by snapshot.

import { afterEach, describe, expect, it } from "vitest";
import { ProcessCluster, eventually } from "./harness.js";

let cluster: ProcessCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

/** Every running node's committed log agrees with the others', entry for entry. */
async function expectSameLogs(c: ProcessCluster, ids = c.running()): Promise<void> {
  const logs = await Promise.all(ids.map((id) => c.log(id)));
  const shortest = Math.min(...logs.map((log) => log.length));
  for (const log of logs) expect(log.slice(0, shortest)).toEqual(logs[0]!.slice(0, shortest));
}

describe("a cluster of real processes", () => {
  it("elects a leader and takes writes through every node", async () => {
    cluster = await ProcessCluster.start(3);
    await cluster.leader();
    const indexes: number[] = [];
    for (const id of ["n1", "n2", "n3"]) indexes.push(await cluster.write(id, { via: id }));
    expect(new Set(indexes).size).toBe(3);
    for (const id of cluster.running()) {
      const log = await cluster.log(id);
      expect(log.filter((e) => e.entry_type === "it").map((e) => e.data)).toEqual([
        { via: "n1" },
        { via: "n2" },
        { via: "n3" },
      ]);
    }
    // The seed's monitoring URLs all answer, on every node.
    for (const id of cluster.running()) {
      const node = cluster.nodes.get(id)!;
      const consensus = await fetch(`http://127.0.0.1:${node.raft}/metrics/consensus`);
      expect(consensus.status).toBe(200);
      const text = await consensus.text();
      expect(text).toMatch(/^juno_raft_term\{[^}]*\} \d+$/m);
      expect(text).toMatch(/^juno_proposals_total/m);
      expect(text).not.toMatch(/^juno_tasks/m);
      expect((await cluster.request(id, "GET", "/api/v3/agents/health")).status).toBe(200);
      expect((await cluster.request(id, "GET", "/api/v3/workflows/status")).status).toBe(200);
      const performance = await cluster.request(id, "GET", "/api/v3/metrics/performance");
      expect(performance.status).toBe(200);
      const figures = performance.body["figures"] as Record<string, { value: unknown; target: string }>;
      // This node took a write, so it measured one; it saw the start-up election end.
      expect(figures["consensus_latency_ms"]!.value).toEqual(expect.any(Number));
      expect(figures["consensus_latency_ms"]!.target).toBe("< 100 ms");
      expect(figures["leader_election_ms"]!.value).toEqual(expect.any(Number));
      for (const name of ["task_allocation_ms", "concurrent_workflows", "agent_cluster_size"])
        expect(Object.keys(figures)).toContain(name);
    }
  });

  it("survives SIGKILL of its leader; the old leader restarts and catches up", async () => {
    cluster = await ProcessCluster.start(3);
    const first = await cluster.leader();
    await cluster.write(first, "before");
    await cluster.signal(first, "SIGKILL");
    const survivors = cluster.running();
    const second = await cluster.leader(survivors);
    expect(second).not.toBe(first);
    const index = await cluster.write(
      survivors.find((id) => id !== second)!,
      "after",
    );
    await cluster.restart(first);
    await eventually(
      async () => {
        const log = await cluster!.log(first);
        return log.some((e) => e.index === index && e.data === "after") ? true : undefined;
      },
      20_000,
      50,
      "old leader catches up",
    );
    await expectSameLogs(cluster);
  });

  it("transfers leadership on request", async () => {
    cluster = await ProcessCluster.start(3);
    const leader = await cluster.leader();
    const target = cluster.running().find((id) => id !== leader)!;
    const answer = await cluster.request(leader, "POST", "/api/v3/cluster/leader", { id: target });
    expect(answer.status).toBe(202);
    await eventually(
      async () => ((await cluster!.leader()) === target ? true : undefined),
      20_000,
      50,
      "transfer to target",
    );
    await cluster.write(leader, "after transfer");
  });

  it("adds a node and removes another (the leader) while a client writes", async () => {
    cluster = await ProcessCluster.start(3);
    await cluster.leader();
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await cluster.write("n1", { n: written });
        written++;
      }
    })();
    const n4 = await cluster.allocate("n4");
    await cluster.launch(n4, cluster.founders(), true);
    const added = await cluster.request("n2", "POST", "/api/v3/cluster/members", {
      id: "n4",
      raft_addr: `127.0.0.1:${n4.raft}`,
      http_addr: `127.0.0.1:${n4.http}`,
    });
    expect(added.status).toBe(201);
    await eventually(
      async () => {
        const members = (await cluster!.request("n1", "GET", "/api/v3/cluster/members")).body["members"] as {
          id: string;
          voter: boolean;
        }[];
        return members.some((m) => m.id === "n4" && m.voter) ? true : undefined;
      },
      20_000,
      50,
      "n4 promoted to voter",
    );
    // Remove the leader itself, the harder case: it leads until its removal commits.
    await cluster.request("n1", "POST", "/api/v3/cluster/leader", { id: "n3" });
    await eventually(
      async () => ((await cluster!.leader()) === "n3" ? true : undefined),
      20_000,
      50,
      "n3 leads",
    );
    const attempts: string[] = [];
    const removed = await eventually(
      async () => {
        const answer = await cluster!.request("n4", "DELETE", "/api/v3/cluster/members/n3");
        attempts.push(`${answer.status} ${JSON.stringify(answer.body)}`);
        if (answer.status !== 200) throw new Error(attempts.slice(0, 3).join(" | "));
        return answer;
      },
      20_000,
      50,
      "n3 removed",
    );
    expect(removed.body["removed"]).toBe(true);
    writing = false;
    await writer;
    expect(written).toBeGreaterThan(0);
    const members = (await cluster.request("n1", "GET", "/api/v3/cluster/members")).body["members"] as {
      id: string;
    }[];
    expect(members.map((m) => m.id).sort()).toEqual(["n1", "n2", "n4"]);
    await cluster.signal("n3", "SIGKILL");
    await cluster.write("n4", "after membership changes");
    await expectSameLogs(cluster, ["n1", "n2", "n4"]);
  });

  it("a node restarted after its log was compacted catches up by snapshot", async () => {
    // A snapshot keeps 1,000 entries behind it for slightly lagging followers: write past that.
    cluster = await ProcessCluster.start(3, { RAFT_LOG_COMPACTION_THRESHOLD: "200" });
    const leader = await cluster.leader();
    const lagging = cluster.running().find((id) => id !== leader)!;
    await cluster.signal(lagging, "SIGKILL");
    const total = 1_500;
    for (let batch = 0; batch < total; batch += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => cluster!.write(leader, { i: batch + k })));
    }
    const last = await cluster.write(leader, { i: "last" });
    const first = await cluster.request(leader, "GET", "/api/v3/consensus/log?from=1");
    expect(first.status).toBe(410);
    // The leader's send queue to the dead node still holds the appends it pipelined before it
    // noticed (Raft tolerates such stale messages): restart the leader, so the lagging node can
    // only catch up from whoever leads next, which holds the compacted log and a snapshot.
    await cluster.signal(leader, "SIGTERM");
    await cluster.restart(leader);
    await cluster.restart(lagging);
    await eventually(
      async () => {
        const status = await cluster!.request(lagging, "GET", "/api/v3/consensus/status?consistency=stale");
        return (status.body["applied_index"] as number) >= last ? true : undefined;
      },
      20_000,
      50,
      "lagging node catches up",
    );
    const read = await cluster.request(lagging, "GET", `/api/v3/consensus/log?from=${last}`);
    expect((read.body["entries"] as { data: unknown }[])[0]?.data).toEqual({ i: "last" });
    // It took the snapshot: its own log starts after the compacted range too.
    expect((await cluster.request(lagging, "GET", "/api/v3/consensus/log?from=1")).status).toBe(410);
    const metrics = await (await fetch(`http://127.0.0.1:${cluster.node(lagging).http}/metrics`)).text();
    expect(metrics).toMatch(/^juno_snapshots_installed_total\{[^}]*\} [1-9]/m);
  });
});
