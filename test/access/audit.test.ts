// Proves the audit log and tokens on a three-node cluster: every administrative action (a task
// cancelled, an agent deregistered, a token made and revoked, a member added and removed, a
// leadership transfer) is recorded with who did it, when and how it ended, whichever node took
// it, and every node answers GET /audit alike, after a leader change and after a member restarts
// from its store; filters and cursors page through it; a token made on one node works on every
// node and stops working everywhere once revoked. And the SDK's agent runs with an agent token
// end to end: it registers under the token's agent id, takes and completes its task, and stops.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessState } from "../../src/access/index.js";
import { Agent, JunoClient } from "../../src/client/index.js";
import { ADMIN_TOKEN, AccessCluster, bearer, fileToken, type AccessMember } from "./cluster.js";
import { until } from "../support/local-node.js";

const OPS = "operator-file-secret-1";

interface AuditEntry {
  seq: number;
  action: string;
  target: string | null;
  outcome: string;
  at: string;
  actor: { id: string; name: string; role: string; agent_id: string | null } | null;
}

let cluster: AccessCluster;

beforeAll(async () => {
  cluster = await AccessCluster.start({
    ids: ["n1", "n2", "n3"],
    fileTokens: [fileToken("ops", "operator", OPS)],
  });
  await cluster.leader();
});
afterAll(async () => {
  for (const member of cluster.members.values()) member.app.server.closeAllConnections();
  await cluster.stop();
});

async function call(member: AccessMember, method: string, url: string, token: string, payload?: unknown) {
  const answer = await member.app.inject({
    method: method as "GET",
    url,
    headers: bearer(token),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: answer.statusCode, json: answer.json<Record<string, unknown>>() };
}

async function audit(member: AccessMember, query = ""): Promise<AuditEntry[]> {
  const answer = await call(member, "GET", `/api/v3/audit?limit=500${query}`, ADMIN_TOKEN);
  expect(answer.status).toBe(200);
  return answer.json["entries"] as AuditEntry[];
}

/** Waits until every member's audit log holds `count` records, then returns each one's. */
async function everyAudit(count: number): Promise<AuditEntry[][]> {
  const members = [...cluster.members.values()];
  await until(() => members.every((m) => m.local.node.view.state(accessState).auditCount >= count));
  return Promise.all(members.map((member) => audit(member, "&consistency=stale")));
}

describe("the audit log", () => {
  it("records who cancelled, deregistered, made and revoked, on whichever node, and every node agrees", async () => {
    const follower = await cluster.follower();
    const submitted = await call(follower, "POST", "/api/v3/tasks/distribute", OPS, {
      task_type: "index",
      team: "search",
      requirements: { skills: ["nobody-has-this"] },
    });
    const taskId = (submitted.json["task"] as { id: string }).id;
    expect((await call(follower, "DELETE", `/api/v3/tasks/${taskId}`, OPS)).status).toBe(200);
    // A refused cancellation is recorded with its code.
    expect((await call(follower, "DELETE", `/api/v3/tasks/${taskId}`, OPS)).status).toBe(409);
    const registered = await call(follower, "POST", "/api/v3/agents/register", OPS, {
      name: "gone",
      endpoint: "http://127.0.0.1:9/gone",
      team: "search",
      capabilities: { skills: ["x"], capacity: 1 },
      health_check: { type: "none" },
    });
    const agentId = (registered.json["agent"] as { id: string }).id;
    expect((await call(follower, "DELETE", `/api/v3/agents/${agentId}`, ADMIN_TOKEN)).status).toBe(200);

    const made = await call(follower, "POST", "/api/v3/tokens", ADMIN_TOKEN, {
      name: "temp",
      role: "reader",
    });
    expect(made.status).toBe(201);
    const token = made.json["token"] as { id: string; created_by: string };
    expect(token.created_by).toBe("JUNO_API_TOKEN");
    const secret = made.json["secret"] as string;
    // The token works on every node once its entry applied there, and stops working everywhere once revoked.
    const members = [...cluster.members.values()];
    await until(async () => {
      const answers = await Promise.all(
        members.map((m) => call(m, "GET", "/api/v3/agents?consistency=stale", secret)),
      );
      return answers.every((answer) => answer.status === 200);
    });
    const other = members.find((m) => m !== follower)!;
    expect((await call(other, "DELETE", `/api/v3/tokens/${token.id}`, ADMIN_TOKEN)).status).toBe(200);
    await until(async () => {
      const answers = await Promise.all(
        members.map((m) => call(m, "GET", "/api/v3/agents?consistency=stale", secret)),
      );
      return answers.every((answer) => answer.status === 401);
    });

    const logs = await everyAudit(5);
    for (const log of logs) expect(log).toEqual(logs[0]);
    const actions = logs[0]!.map((entry) => [entry.action, entry.outcome, entry.actor?.name]);
    expect(actions).toEqual([
      ["token.revoke", "ok", "JUNO_API_TOKEN"],
      ["token.create", "ok", "JUNO_API_TOKEN"],
      ["agent.deregister", "ok", "JUNO_API_TOKEN"],
      ["task.cancel", "task_finished", "ops"],
      ["task.cancel", "ok", "ops"],
    ]);
    expect(logs[0]![4]).toMatchObject({
      target: taskId,
      actor: { id: "file:ops", name: "ops", role: "operator", agent_id: null },
    });
    expect(Date.parse(logs[0]![4]!.at)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("records membership changes and a leadership transfer, and survives the leader change and a restart", async () => {
    const leader = await cluster.leader();
    const follower = await cluster.follower();
    const added = await call(follower, "POST", "/api/v3/cluster/members", ADMIN_TOKEN, {
      id: "n9",
      raft_addr: "127.0.0.1:1",
    });
    expect(added.status).toBe(201);
    expect((await call(follower, "DELETE", "/api/v3/cluster/members/n9", ADMIN_TOKEN)).status).toBe(200);
    const target = [...cluster.members.values()].find((m) => m !== leader)!;
    const moved = await call(follower, "POST", "/api/v3/cluster/leader", ADMIN_TOKEN, {
      id: target.local.id,
    });
    expect(moved.status).toBe(202);
    await until(() => target.local.node.isLeader());

    // requested + ok for each of the three; the outcome of the transfer is recorded by the new leader's log.
    const before = (await everyAudit(11))[0]!;
    const membership = before.filter(
      (entry) => entry.action.startsWith("member.") || entry.action === "leader.transfer",
    );
    expect(membership.map((entry) => [entry.action, entry.outcome]).reverse()).toEqual([
      ["member.add", "requested"],
      ["member.add", "ok"],
      ["member.remove", "requested"],
      ["member.remove", "ok"],
      ["leader.transfer", "requested"],
      ["leader.transfer", "ok"],
    ]);
    expect(membership.every((entry) => entry.actor?.role === "admin")).toBe(true);

    // A member restarted from its store reads the same log (its entries and snapshot are replayed).
    const restarted = [...cluster.members.values()].find((m) => !m.local.node.isLeader())!.local.id;
    await cluster.stopMember(restarted);
    const back = await cluster.startMember(restarted);
    await until(() => back.local.node.view.state(accessState).auditCount >= before.length);
    const newLeader = await cluster.leader();
    expect(await audit(back, "&consistency=stale")).toEqual(before);
    expect(await audit(newLeader)).toEqual(before);
  });

  it("filters by action and actor, and pages newest first with a cursor", async () => {
    const member = await cluster.leader();
    const cancels = await audit(member, "&action=task.cancel");
    expect(cancels.map((entry) => entry.outcome)).toEqual(["task_finished", "ok"]);
    expect((await audit(member, "&actor=ops")).every((entry) => entry.actor?.name === "ops")).toBe(true);
    expect(await audit(member, "&actor=file:ops")).toEqual(await audit(member, "&actor=ops"));
    const all = await audit(member);
    const seen: AuditEntry[] = [];
    let cursor: string | null = null;
    do {
      const page = await call(
        member,
        "GET",
        `/api/v3/audit?limit=4${cursor === null ? "" : `&cursor=${cursor}`}`,
        ADMIN_TOKEN,
      );
      seen.push(...(page.json["entries"] as AuditEntry[]));
      cursor = page.json["next_cursor"] as string | null;
    } while (cursor !== null);
    expect(seen).toEqual(all);
  });
});

describe("the SDK with an agent token", () => {
  it("registers under the token's agent id, takes and completes its task, and deregisters itself", async () => {
    const leader = await cluster.leader();
    const made = await call(leader, "POST", "/api/v3/tokens", ADMIN_TOKEN, {
      name: "worker-1",
      role: "agent",
    });
    expect(made.status).toBe(201);
    const { agent_id: agentId } = made.json["token"] as { agent_id: string };
    expect(agentId).toMatch(/^[0-9a-f-]{36}$/);
    const urls = [...cluster.members.values()].map((member) => `http://${member.http}`);
    const worker = new Agent({
      urls,
      token: made.json["secret"] as string,
      name: "worker-1",
      endpoint: "http://127.0.0.1:9/worker-1",
      team: "build",
      skills: ["sdk-e2e"],
      capacity: 1,
      healthCheck: { type: "none" },
      pollWaitMs: 500,
    });
    worker.handle("compile", (task) => Promise.resolve({ compiled: task.data }));
    await worker.start();
    expect(worker.id).toBe(agentId);
    const admin = new JunoClient({ urls, token: ADMIN_TOKEN });
    const { task } = await admin.tasks.submit({
      task_type: "compile",
      team: "build",
      data: { file: "a.c" },
      requirements: { skills: ["sdk-e2e"] },
    });
    let status = "";
    await until(async () => {
      const current = await admin.getTask(task.id);
      status = current.status;
      return current.status === "succeeded";
    });
    expect(status).toBe("succeeded");
    expect((await admin.getTask(task.id)).result).toEqual({ compiled: { file: "a.c" } });
    await worker.stop();
    const log = await audit(leader);
    expect(log[0]).toMatchObject({
      action: "agent.deregister",
      target: agentId,
      outcome: "ok",
      actor: { name: "worker-1", role: "agent", agent_id: agentId },
    });
  });
});
