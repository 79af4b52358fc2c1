// What the workflow API tests share: a call to one member's API, and the teardown of a cluster
// with SDK agents.

import type { Agent } from "../../src/client/index.js";
import type { ApiCluster, Member } from "../server/cluster.js";

export type Json = Record<string, unknown>;

/** One request to `member`'s /api/v3; a string body goes as it is (YAML), anything else as JSON. */
export async function call(
  member: Member,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<{ status: number; json: Json }> {
  const response = await fetch(`http://${member.http}/api/v3${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": contentType },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Json };
}

/** Stops the agents, then the cluster. */
export async function stopAll(agents: readonly Agent[], cluster: ApiCluster): Promise<void> {
  await Promise.all(agents.map((agent) => agent.stop()));
  // A poll cut short by stop() can leave a connection that never carried a request; let it go.
  for (const member of cluster.members.values()) member.app.server.closeAllConnections();
  await cluster.stop();
}
