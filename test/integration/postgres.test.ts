// Proves a cluster of real juno processes on PostgreSQL keeps every acknowledged write through the
// faults production sees: three nodes share one server, each in its own schema; clients write
// through every node while the leader is killed with SIGKILL and restarted, and while the
// PostgreSQL server itself crashes and comes back. Afterwards every node's log holds every
// acknowledged write exactly once, the logs agree, and each node's consensus_log table in
// PostgreSQL matches what its API shows.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query, startPostgres, type PostgresServer } from "../support/postgres.js";
import { ProcessCluster, eventually } from "./harness.js";

let server: PostgresServer;
let cluster: ProcessCluster | null = null;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await cluster?.stop();
  await server.destroy();
});

describe("a cluster on PostgreSQL", () => {
  it("loses no acknowledged write across SIGKILL of its leader and a crash of the PostgreSQL server", async () => {
    await query(server.url, "CREATE DATABASE faults");
    const url = server.url.replace(/\/juno$/, "/faults");
    cluster = await ProcessCluster.start(3, { JUNO_STORAGE: url });
    const c = cluster;
    await c.leader();
    const acknowledged: string[] = [];
    let stop = false;
    // One client per node, each writing its own numbered values one after another; a value
    // counts only once the node answered 201 (committed and applied).
    const clients = ["n1", "n2", "n3"].map(async (id) => {
      for (let i = 0; !stop; i++) {
        const value = `${id}-${i}`;
        const answer = await c.request(id, "POST", "/api/v3/consensus/propose", {
          entry_type: "pg",
          data: value,
        });
        if (answer.status === 201) acknowledged.push(value);
        else await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    const grown = (count: number, what: string) =>
      eventually(() => Promise.resolve(acknowledged.length >= count ? true : undefined), 30_000, 20, what);

    await grown(30, "writes before the faults");
    const leader = await c.leader();
    await c.signal(leader, "SIGKILL");
    await grown(acknowledged.length + 30, "writes with the leader gone");
    await c.restart(leader);

    await grown(acknowledged.length + 20, "writes after the restart");
    await server.stop("immediate");
    // While the server is down nothing is acknowledged, and the nodes say they are not ready.
    await eventually(
      async () => {
        const answers = await Promise.all(c.running().map((id) => c.request(id, "GET", "/readyz")));
        return answers.every((a) => a.body["storage_available"] === false) ? true : undefined;
      },
      20_000,
      20,
      "every node reports its store unavailable",
    );
    const during = acknowledged.length;
    await server.start();
    await grown(during + 30, "writes after PostgreSQL came back");
    stop = true;
    await Promise.all(clients);

    const logs = await Promise.all(c.running().map((id) => c.log(id)));
    const shortest = Math.min(...logs.map((log) => log.length));
    for (const log of logs) expect(log.slice(0, shortest)).toEqual(logs[0]!.slice(0, shortest));
    for (const log of logs) {
      const values = log.filter((e) => e.entry_type === "pg").map((e) => e.data as string);
      expect(new Set(values).size, "no write applied twice").toBe(values.length);
      const missing = acknowledged.filter((value) => !values.includes(value));
      expect(missing, "every acknowledged write is in the log").toEqual([]);
    }
    // The table the API reads from is PostgreSQL's: every node's schema has its log.
    for (const [i, id] of c.running().entries()) {
      const [row] = await query<{ count: number }>(
        url,
        `SELECT count(*)::int AS count FROM "juno_${id}".consensus_log WHERE entry_type = 'pg'`,
      );
      expect(row?.count).toBeGreaterThanOrEqual(logs[i]!.filter((e) => e.entry_type === "pg").length);
    }
  });
});
