/** A three-node juno cluster in one process with real HTTP servers on free loopback ports, for API tests. */

import type { FastifyInstance } from "fastify";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JunoNode } from "../../src/runtime/node.js";
import { MemoryNetwork } from "../../src/runtime/memory-transport.js";
import { buildServer } from "../../src/server/app.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";

/** Waits until `condition` holds, checking every few milliseconds, or fails after `ms`. */
export async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** One member: its node, store and server. */
export interface Member {
  readonly node: JunoNode;
  readonly store: SqliteStore;
  readonly app: FastifyInstance;
  http: string;
}

/** Three nodes with HTTP servers; `token` protects /api/v3 when given. */
export class ApiCluster {
  readonly network = new MemoryNetwork();
  readonly members = new Map<string, Member>();
  private readonly dir = mkdtempSync(join(tmpdir(), "juno-api-"));

  static async start(token: string | null = null, ids = ["n1", "n2", "n3"]): Promise<ApiCluster> {
    const cluster = new ApiCluster();
    for (const id of ids) {
      const store = new SqliteStore(join(cluster.dir, `${id}.db`));
      const node = new JunoNode({
        id,
        store,
        transport: cluster.network.transport(id),
        founders: ids,
        tickMs: 10,
        requestTimeoutMs: 5_000,
      });
      const app = buildServer({
        node,
        store,
        apiToken: token,
        addresses: (peer) => ({ raft: `memory:${peer}`, http: cluster.members.get(peer)?.http ?? null }),
      });
      const member: Member = { node, store, app, http: "" };
      cluster.members.set(id, member);
      const address = await app.listen({ host: "127.0.0.1", port: 0 });
      member.http = address.replace("http://", "");
      node.start();
    }
    return cluster;
  }

  /** The leader, once there is one. */
  async leader(): Promise<Member> {
    let found: Member | undefined;
    await until(() => (found = [...this.members.values()].find((m) => m.node.isLeader())) !== undefined);
    return found!;
  }

  /** A member that is not the leader. */
  async follower(): Promise<Member> {
    const leader = await this.leader();
    return [...this.members.values()].find((m) => m !== leader)!;
  }

  async stop(): Promise<void> {
    for (const member of this.members.values()) {
      member.node.stop();
      await member.app.close();
      member.store.close();
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
