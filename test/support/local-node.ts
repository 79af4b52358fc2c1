/** In-process juno nodes for tests: the production loop, modules and SQLite store, on a MemoryNetwork. */

import type { FastifyInstance } from "fastify";
import { join } from "node:path";
import type { AccessOptions } from "../../src/access/index.js";
import type { ClusterModule } from "../../src/cluster/index.js";
import type { AgentsOptions } from "../../src/agents/index.js";
import type { TasksOptions } from "../../src/tasks/index.js";
import { nodeModules } from "../../src/modules.js";
import type { RaftOptions } from "../../src/raft/index.js";
import type { MemoryNetwork } from "../../src/runtime/memory-transport.js";
import { JunoNode } from "../../src/runtime/node.js";
import { buildServer } from "../../src/server/app.js";
import { SqliteStore } from "../../src/store/sqlite/store.js";

/** One in-process node. */
export interface LocalNode {
  readonly id: string;
  readonly node: JunoNode;
  readonly store: SqliteStore;
  readonly cluster: ClusterModule;
}

/** How to build one. */
export interface LocalNodeOptions {
  readonly id: string;
  readonly dir: string;
  readonly network: MemoryNetwork;
  readonly founders: readonly string[] | null;
  readonly tickMs?: number;
  readonly raft?: Omit<RaftOptions, "id" | "random">;
  readonly requestTimeoutMs?: number;
  /** The HTTP address of each member, for the cluster directory (API tests). */
  readonly httpOf?: (id: string) => string | null;
  /** The agents module's settings (default: the production defaults, no active checks). */
  readonly agents?: AgentsOptions;
  /** The tasks module's settings (default: the production defaults). */
  readonly tasks?: TasksOptions;
  /** The access module's settings: this node's file tokens (default none). */
  readonly access?: AccessOptions;
}

/** Builds (but does not start) a node whose store lives in `dir`. */
export function createLocalNode(options: LocalNodeOptions): LocalNode {
  const { registry, cluster } = nodeModules(
    {
      self: options.id,
      advertise: { raft: `memory:${options.id}`, http: options.httpOf?.(options.id) ?? null },
    },
    [],
    options.agents ?? {},
    options.tasks ?? {},
    {},
    options.access ?? {},
  );
  const store = new SqliteStore(join(options.dir, `${options.id}.db`), registry);
  const node = new JunoNode({
    id: options.id,
    registry,
    storage: store,
    transport: options.network.transport(options.id),
    founders: options.founders,
    tickMs: options.tickMs ?? 10,
    raft: options.raft ?? { electionTicks: 10, heartbeatTicks: 1 },
    requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
  });
  return { id: options.id, node, store, cluster };
}

/** The node's HTTP app, strict about undeclared statuses, as API tests use it. */
export function createLocalApp(
  local: LocalNode,
  token: string | null,
  httpOf: (id: string) => string | null,
): Promise<FastifyInstance> {
  return buildServer({
    node: local.node,
    apiToken: token,
    httpAddressOf: (id) => httpOf(id),
    storeTimings: () => local.store.timings,
    strictResponses: true,
  });
}

/** Waits until `condition` holds, checking every few milliseconds, or fails after `ms`. */
export async function until(condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
