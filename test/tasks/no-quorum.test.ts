// Proves the tasks API's graceful degradation on a node cut off from the majority: it never
// acknowledges a submission nor hands out a task it could not commit (writes and polls answer
// 503/504 with the JSON error shape), a default read refuses rather than answer stale, and a read
// with consistency=stale answers from its own state saying so in its headers. Once healed, a
// submission refused there and sent again under its idempotency key makes exactly one task.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tasksState } from "../../src/tasks/index.js";
import { ApiCluster, callApi, until, type Member } from "../server/cluster.js";

let cluster: ApiCluster;
beforeAll(async () => {
  cluster = await ApiCluster.start(null, ["n1", "n2", "n3"], {
    heartbeatIntervalMs: 100,
    failureTimeoutMs: 60_000,
    healthCheckIntervalMs: 1_000,
  });
  await cluster.leader();
});
afterAll(async () => {
  await cluster.stop();
});

type Json = Record<string, unknown>;

const call = callApi;

function idOf(member: Member): string {
  return member.node.id;
}

describe("tasks without a quorum", () => {
  it("a cut-off node commits nothing, refuses default reads, answers stale ones flagged, and a retried key makes one task", async () => {
    const leader = await cluster.leader();
    const registered = await call(leader, "POST", "/agents/register", {
      name: "quorum-agent",
      endpoint: "http://10.9.0.1:9000/quorum-agent",
      team: "ops",
      capabilities: { skills: ["quorum"], capacity: 2 },
      health_check: { type: "none" },
    });
    expect(registered.status).toBe(201);
    const agentId = (registered.json["agent"] as Json)["id"] as string;
    const placed = await call(leader, "POST", "/tasks/distribute", {
      task_type: "q",
      team: "quorum",
      requirements: { skills: ["quorum"] },
    });
    expect(placed.status).toBe(201);
    const taskId = (placed.json["task"] as Json)["id"] as string;
    // Every node has applied it before the cut.
    await until(() =>
      [...cluster.members.values()].every(
        (member) => member.node.view.state(tasksState).get(taskId)?.status === "assigned",
      ),
    );

    const cut = leader;
    cluster.network.isolate(idOf(cut));
    const [submitted, polled, strict, stale] = await Promise.all([
      call(cut, "POST", "/tasks/distribute", {
        task_type: "q",
        team: "quorum",
        requirements: { skills: ["nobody"] },
        idempotency_key: "cut-off-once",
      }),
      call(cut, "POST", "/tasks/poll", { agent_id: agentId, max_tasks: 2 }),
      call(cut, "GET", `/tasks/${taskId}`),
      call(cut, "GET", `/tasks/${taskId}?consistency=stale`),
    ]);
    for (const [name, answer] of [
      ["submission", submitted],
      ["poll", polled],
      ["default read", strict],
    ] as const) {
      expect([503, 504], `${name}: ${JSON.stringify(answer.json)}`).toContain(answer.status);
      expect((answer.json["error"] as Json)["code"], name).toEqual(expect.any(String));
    }
    expect(stale.status).toBe(200);
    expect(stale.headers.get("x-juno-consistency")).toBe("stale");
    expect(Number(stale.headers.get("x-juno-applied-index"))).toBeGreaterThan(0);
    expect((stale.json["task"] as Json)["status"]).toBe("assigned");

    // The majority went on; the task was never started (the cut node's poll delivered nothing).
    cluster.network.heal(idOf(cut));
    // The cut node no longer believes it leads (it stepped down without a quorum, or hears the new term).
    await until(() => !cut.node.isLeader());
    const current = await cluster.leader();
    expect((await call(current, "GET", `/tasks/${taskId}`)).json["task"]).toMatchObject({
      status: "assigned",
      attempt: 1,
    });
    const again = await call(current, "POST", "/tasks/distribute", {
      task_type: "q",
      team: "quorum",
      requirements: { skills: ["nobody"] },
      idempotency_key: "cut-off-once",
    });
    expect([200, 201]).toContain(again.status);
    const keyed = (await call(current, "GET", "/tasks/status?team=quorum&limit=500")).json["tasks"] as Json[];
    expect(keyed.filter((task) => task["id"] === (again.json["task"] as Json)["id"])).toHaveLength(1);
    expect(keyed).toHaveLength(2);
  });
});
