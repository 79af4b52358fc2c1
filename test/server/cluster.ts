/** A three-node juno cluster in one process with real HTTP servers on free loopback ports, for API tests. */

import type { FastifyInstance } from "fastify";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TasksOptions } from "../../src/tasks/index.js";
import type { AgentsOptions } from "../../src/agents/index.js";
import { clusterState } from "../../src/cluster/index.js";
import { MemoryNetwork } from "../../src/runtime/memory-transport.js";
import type { JunoNode } from "../../src/runtime/node.js";
import type { SqliteStore } from "../../src/store/sqlite/store.js";
import { createLocalApp, createLocalNode, until } from "../support/local-node.js";

export { until } from "../support/local-node.js";

/** One member: its node, store and server. */
export interface Member {
  readonly node: JunoNode;
  readonly store: SqliteStore;
  readonly app: FastifyInstance;
  http: string;
}

/** An API answer as the tests read it. */
export interface ApiAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly json: Record<string, unknown>;
}

/**
 * One call to `/api/v3{path}` on `member`: a body is sent as JSON (a string as it is, to send
 * malformed JSON), with `token` as the bearer token when given.
 */
export async function callApi(
  member: Pick<Member, "http">,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<ApiAnswer> {
  const response = await fetch(`http://${member.http}/api/v3${path}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return {
    status: response.status,
    headers: response.headers,
    json: (await response.json()) as Record<string, unknown>,
  };
}

/** Three nodes with HTTP servers; `token` protects /api/v3 when given. */
export class ApiCluster {
  readonly network = new MemoryNetwork();
  readonly members = new Map<string, Member>();
  private readonly dir = mkdtempSync(join(tmpdir(), "juno-api-"));

  static async start(
    token: string | null = null,
    ids = ["n1", "n2", "n3"],
    agents: AgentsOptions = {},
    tasks: TasksOptions = {},
  ): Promise<ApiCluster> {
    const cluster = new ApiCluster();
    const httpOf = (id: string): string | null => cluster.members.get(id)?.http ?? null;
    for (const id of ids) {
      const local = createLocalNode({
        id,
        dir: cluster.dir,
        network: cluster.network,
        founders: ids,
        httpOf,
        agents,
        tasks,
      });
      const app = await createLocalApp(local, token, httpOf);
      const member: Member = { node: local.node, store: local.store, app, http: "" };
      cluster.members.set(id, member);
      local.node.start();
      const address = await app.listen({ host: "127.0.0.1", port: 0 });
      member.http = address.replace("http://", "");
    }
    return cluster;
  }

  /** The leader, once there is one and it has recorded its own address (so no write of its own is pending). */
  async leader(): Promise<Member> {
    let found: Member | undefined;
    await until(() => {
      found = [...this.members.values()].find((m) => m.node.isLeader());
      return found !== undefined && found.node.view.state(clusterState).members.has(found.node.id);
    });
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
      await member.store.close();
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
