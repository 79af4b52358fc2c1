/** In-process juno clusters for the access tests: the production node and app, with file tokens and rate limits. */

import type { FastifyInstance } from "fastify";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FileToken } from "../../src/access/index.js";
import { secretDigest } from "../../src/access/index.js";
import { clusterState } from "../../src/cluster/index.js";
import { MemoryNetwork } from "../../src/runtime/memory-transport.js";
import { buildServer } from "../../src/server/app.js";
import type { RateLimitOptions } from "../../src/server/rate-limit.js";
import { createLocalNode, until, type LocalNode } from "../support/local-node.js";

/** The admin token every access cluster starts with (JUNO_API_TOKEN). */
export const ADMIN_TOKEN = "access-admin-token";

/** One member. */
export interface AccessMember {
  readonly local: LocalNode;
  app: FastifyInstance;
  http: string;
}

/** How to start one. */
export interface AccessClusterOptions {
  readonly ids?: readonly string[];
  readonly fileTokens?: readonly FileToken[];
  readonly rateLimit?: RateLimitOptions;
}

/** A file token with its secret in clear, for tests. */
export function fileToken(
  name: string,
  role: FileToken["role"],
  secret: string,
  extra: Partial<Pick<FileToken, "agentId" | "expiresAtMs">> = {},
): FileToken {
  return {
    name,
    role,
    digest: secretDigest(secret),
    agentId: extra.agentId ?? null,
    expiresAtMs: extra.expiresAtMs ?? null,
  };
}

/** A cluster whose servers listen on free loopback ports. */
export class AccessCluster {
  readonly network = new MemoryNetwork();
  readonly members = new Map<string, AccessMember>();
  readonly dir = mkdtempSync(join(tmpdir(), "juno-access-"));
  private readonly ids: readonly string[];

  private constructor(private readonly options: AccessClusterOptions) {
    this.ids = options.ids ?? ["n1"];
  }

  static async start(options: AccessClusterOptions = {}): Promise<AccessCluster> {
    const cluster = new AccessCluster(options);
    for (const id of cluster.ids) await cluster.startMember(id);
    return cluster;
  }

  /** Starts member `id` (again, after stopMember: from its store). */
  async startMember(id: string): Promise<AccessMember> {
    const httpOf = (member: string): string | null => this.members.get(member)?.http ?? null;
    const local = createLocalNode({
      id,
      dir: this.dir,
      network: this.network,
      founders: this.ids,
      httpOf,
      access: { fileTokens: this.options.fileTokens ?? [] },
    });
    const app = await buildServer({
      node: local.node,
      apiToken: ADMIN_TOKEN,
      httpAddressOf: httpOf,
      storeTimings: () => local.store.timings,
      strictResponses: true,
      ...(this.options.rateLimit === undefined ? {} : { rateLimit: this.options.rateLimit }),
    });
    const member: AccessMember = { local, app, http: "" };
    this.members.set(id, member);
    local.node.start();
    member.http = (await app.listen({ host: "127.0.0.1", port: 0 })).replace("http://", "");
    return member;
  }

  /** Stops member `id` and closes its store (startMember brings it back). */
  async stopMember(id: string): Promise<void> {
    const member = this.members.get(id)!;
    member.local.node.stop();
    await member.app.close();
    await member.local.store.close();
    this.members.delete(id);
  }

  /** The leader, once it has recorded its own address. */
  async leader(): Promise<AccessMember> {
    let found: AccessMember | undefined;
    await until(() => {
      found = [...this.members.values()].find((m) => m.local.node.isLeader());
      return found !== undefined && found.local.node.view.state(clusterState).members.has(found.local.id);
    });
    return found!;
  }

  /** A member that does not lead. */
  async follower(): Promise<AccessMember> {
    const leader = await this.leader();
    return [...this.members.values()].find((m) => m !== leader)!;
  }

  async stop(): Promise<void> {
    for (const id of [...this.members.keys()]) await this.stopMember(id);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The headers of a request with `token` (none for null). */
export function bearer(token: string | null): Record<string, string> {
  return token === null ? {} : { authorization: `Bearer ${token}` };
}
