// Proves the consensus API as a client uses it: proposals commit with their index and term on
// any node (followers forward to the leader), decisions gather votes to a quorum either way,
// the log pages through committed entries, status shows the cluster, and every error comes in
// one shape with the right status.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiCluster } from "./cluster.js";

let cluster: ApiCluster;
beforeAll(async () => {
  cluster = await ApiCluster.start();
});
afterAll(async () => {
  await cluster.stop();
});

async function post(
  http: string,
  path: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`http://${http}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe("consensus API", () => {
  it("a proposal on the leader answers 201 with its index and term once committed", async () => {
    const leader = await cluster.leader();
    const response = await leader.app.inject({
      method: "POST",
      url: "/api/v3/consensus/propose",
      payload: { entry_type: "deploy", data: { service: "api", version: 3 } },
    });
    expect(response.statusCode).toBe(201);
    const body = response.json<{ index: number; term: number }>();
    expect(body.index).toBeGreaterThan(1);
    expect(body.term).toBe(leader.node.raft.term);
  });

  it("a proposal on a follower is forwarded to the leader", async () => {
    const follower = await cluster.follower();
    const { status, json } = await post(follower.http, "/api/v3/consensus/propose", {
      entry_type: "note",
      data: "via follower",
    });
    expect(status).toBe(201);
    expect(typeof json["index"]).toBe("number");
  });

  it("a decision needs votes: 202 pending, then approved at the quorum; duplicate and unknown voters refused", async () => {
    const leader = await cluster.leader();
    const follower = await cluster.follower();
    const proposed = await post(follower.http, "/api/v3/consensus/propose", {
      entry_type: "release",
      data: { version: "1.2" },
      approval: { voters: ["alice", "bob", "carol"], quorum: 2 },
    });
    expect(proposed.status).toBe(202);
    expect(proposed.json["status"]).toBe("pending");
    const proposal = proposed.json["index"] as number;

    const first = await post(follower.http, "/api/v3/consensus/vote", {
      proposal,
      voter: "alice",
      vote: "approve",
    });
    expect(first.status).toBe(200);
    expect(first.json["status"]).toBe("pending");
    const again = await post(leader.http, "/api/v3/consensus/vote", {
      proposal,
      voter: "alice",
      vote: "reject",
    });
    expect(again.status).toBe(409);
    expect((again.json["error"] as { code: string }).code).toBe("duplicate_vote");
    const stranger = await post(leader.http, "/api/v3/consensus/vote", {
      proposal,
      voter: "mallory",
      vote: "approve",
    });
    expect((stranger.json["error"] as { code: string }).code).toBe("unknown_voter");
    const second = await post(leader.http, "/api/v3/consensus/vote", {
      proposal,
      voter: "bob",
      vote: "approve",
    });
    expect(second.json["status"]).toBe("approved");

    // Every node reads the decision linearizably.
    for (const member of cluster.members.values()) {
      const read = await member.app.inject({ method: "GET", url: `/api/v3/consensus/decisions/${proposal}` });
      expect(read.json<{ status: string }>().status).toBe("approved");
    }
    const unknown = await post(leader.http, "/api/v3/consensus/vote", {
      proposal: 999_999,
      voter: "alice",
      vote: "approve",
    });
    expect(unknown.status).toBe(404);
  });

  it("the log pages through committed entries only", async () => {
    const leader = await cluster.leader();
    for (let i = 0; i < 5; i++) {
      await leader.app.inject({
        method: "POST",
        url: "/api/v3/consensus/propose",
        payload: { entry_type: "page", data: i },
      });
    }
    const follower = await cluster.follower();
    const page = await follower.app.inject({ method: "GET", url: "/api/v3/consensus/log?from=1&limit=3" });
    expect(page.statusCode).toBe(200);
    const body = page.json<{
      entries: { index: number; entry_type: string; committed: boolean }[];
      first_index: number;
      commit_index: number;
    }>();
    expect(body.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(body.entries[0]!.entry_type).toBe("raft.config");
    expect(body.entries.every((e) => e.committed)).toBe(true);
    const all = await follower.app.inject({ method: "GET", url: "/api/v3/consensus/log?from=1&limit=1000" });
    const entries = all.json<{ entries: { index: number; entry_type: string; data: unknown }[] }>().entries;
    expect(entries.filter((e) => e.entry_type === "page").map((e) => e.data)).toEqual([0, 1, 2, 3, 4]);
    expect(entries.at(-1)!.index).toBeLessThanOrEqual(body.commit_index + 10);
  });

  it("status names the leader, the term and every member", async () => {
    const leader = await cluster.leader();
    const response = await leader.app.inject({ method: "GET", url: "/api/v3/consensus/status" });
    const status = response.json<{
      node_id: string;
      role: string;
      leader_id: string;
      members: { id: string; voter: boolean; lag_entries: number }[];
    }>();
    expect(status.role).toBe("leader");
    expect(status.leader_id).toBe(leader.node.id);
    expect(status.members.map((m) => m.id).sort()).toEqual(["n1", "n2", "n3"]);
    expect(status.members.every((m) => m.voter)).toBe(true);
  });

  it("health, readiness and metrics", async () => {
    const leader = await cluster.leader();
    expect((await leader.app.inject({ url: "/healthz" })).statusCode).toBe(200);
    expect((await leader.app.inject({ url: "/readyz" })).statusCode).toBe(200);
    const metrics = await leader.app.inject({ url: "/metrics" });
    expect(metrics.body).toContain("juno_raft_term");
    expect(metrics.body).toContain("juno_store_write_seconds");
    expect(metrics.body).toContain("nodejs_eventloop_lag_seconds");
    expect(metrics.body).toContain("juno_http_request_seconds");
  });
});
