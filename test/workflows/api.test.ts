// The workflows API through a three-node cluster with SDK agents of three teams: a pipeline runs
// its steps in order on each team's agents, carrying outputs through templates; YAML bodies;
// created runs start on execute; cancel stops running tasks and skips the rest; events and
// timers release waiting steps; registered definitions start by name and by trigger event; an
// approval step becomes a decision votes decide; sub-workflows; team step limits; bad input.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent } from "../../src/client/index.js";
import { tasksState } from "../../src/tasks/index.js";
import { workflowsState } from "../../src/workflows/index.js";
import { ApiCluster, type Member } from "../server/cluster.js";
import { call, stopAll, type Json } from "./http.js";
import { until } from "../support/local-node.js";

let cluster: ApiCluster;
const agents: Agent[] = [];
/** Tasks the agents ran, by type, in the order they started. */
const ran: { type: string; team: string; data: unknown }[] = [];
/** Task types whose handler waits until released (cancel tests). */
const held = new Map<string, () => void>();

beforeAll(async () => {
  cluster = await ApiCluster.start(
    null,
    ["n1", "n2", "n3"],
    { heartbeatIntervalMs: 100, failureTimeoutMs: 3_000 },
    { tickMs: 50, redispatchMs: 200 },
  );
  const leader = await cluster.leader();
  const urls = [...cluster.members.values()].map((member) => `http://${member.http}`);
  for (const team of ["build", "test", "deploy", "platform"]) {
    const agent = new Agent({
      urls,
      name: `${team}-agent`,
      endpoint: `http://127.0.0.1:1/${team}`,
      team,
      skills: team === "platform" ? ["coordinator", "work"] : ["work"],
      capacity: 8,
      healthCheck: { type: "none" },
      pollWaitMs: 1_000,
    });
    const handler = async (task: { task_type: string; data: unknown }, context: { signal: AbortSignal }) => {
      ran.push({ type: task.task_type, team, data: task.data });
      if (task.task_type === "hold") {
        await new Promise<void>((resolve) => {
          held.set(JSON.stringify(task.data), resolve);
          context.signal.addEventListener("abort", () => resolve());
        });
        return { held: true };
      }
      if (task.task_type === "boom") throw new Error("it went boom");
      return { team, echo: task.data, image: `${team}:1` };
    };
    for (const type of ["build", "test", "deploy", "hold", "boom", "undo", "plan"])
      agent.handle(type, handler);
    agents.push(agent);
    await agent.start();
  }
  await until(() => leader.node.view.state(tasksState).liveCount === 0);
});

afterAll(() => stopAll(agents, cluster), 30_000);

async function ended(member: Member, id: string): Promise<Json> {
  let workflow: Json = {};
  await until(async () => {
    const answer = await call(member, "GET", `/workflows/${id}`);
    workflow = answer.json["workflow"] as Json;
    return ["succeeded", "failed", "cancelled"].includes(workflow["status"] as string);
  }, 20_000);
  return workflow;
}

const step = (workflow: Json, id: string): Json => (workflow["steps"] as Json[]).find((s) => s["id"] === id)!;

const pipeline = {
  name: "release",
  teams: ["build", "test", "deploy"],
  pattern: "pipeline",
  input: { version: "1.0" },
  steps: [
    { id: "build", team: "build", task_type: "build", input: { version: "{{input.version}}" } },
    { id: "test", team: "test", task_type: "test", input: { image: "{{steps.build.output.image}}" } },
    {
      id: "deploy",
      team: "deploy",
      task_type: "deploy",
      input: { image: "{{steps.test.output.echo.image}}" },
    },
  ],
};

describe("workflows API", () => {
  it("runs a three-team pipeline in order through a follower, templates carrying outputs", async () => {
    const follower = await cluster.follower();
    const created = await call(follower, "POST", "/workflows", {
      definition: pipeline,
      execute: true,
      input: { version: "2.0" },
    });
    expect(created.status).toBe(201);
    const id = (created.json["workflow"] as Json)["id"] as string;
    const workflow = await ended(follower, id);
    expect(workflow["status"]).toBe("succeeded");
    expect(step(workflow, "build")["output"]).toMatchObject({ team: "build", echo: { version: "2.0" } });
    expect(step(workflow, "deploy")["output"]).toMatchObject({ team: "deploy", echo: { image: "build:1" } });
    expect(step(workflow, "test")["agent_id"]).toEqual(expect.any(String));
    const order = ran
      .filter((r) => ["build", "test", "deploy"].includes(r.type))
      .map((r) => `${r.type}@${r.team}`);
    expect(order).toEqual(["build@build", "test@test", "deploy@deploy"]);
    expect(workflow["progress"]).toMatchObject({ total: 3, done: 3, percent: 100 });
    const tasks = await call(follower, "GET", `/tasks/status?workflow_id=${id}`);
    expect((tasks.json["tasks"] as Json[]).map((t) => t["status"])).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
    // The seed's table holds the run.
    const leader = await cluster.leader();
    expect(leader.node.view.state(workflowsState).get(id)?.run.status).toBe("succeeded");
  });

  it("takes YAML, creates without starting, and starts on execute", async () => {
    const member = await cluster.leader();
    const yaml = [
      "name: yaml-flow",
      "teams: [build]",
      "steps:",
      "  - id: only",
      "    team: build",
      "    task_type: build",
      "    input: {n: 1}",
    ].join("\n");
    const created = await call(member, "POST", "/workflows?idempotency_key=yaml-1", yaml, "application/yaml");
    expect(created.status).toBe(201);
    const repeated = await call(
      member,
      "POST",
      "/workflows?idempotency_key=yaml-1",
      yaml,
      "application/yaml",
    );
    expect(repeated.status).toBe(200);
    expect((repeated.json["workflow"] as Json)["id"]).toBe((created.json["workflow"] as Json)["id"]);
    const workflow = created.json["workflow"] as Json;
    expect(workflow["status"]).toBe("created");
    const started = await call(member, "POST", `/workflows/${workflow["id"] as string}/execute`);
    expect(started.status).toBe(200);
    expect((await ended(member, workflow["id"] as string))["status"]).toBe("succeeded");
    const again = await call(member, "POST", `/workflows/${workflow["id"] as string}/execute`);
    expect(again.status).toBe(409);
    expect((again.json["error"] as Json)["code"]).toBe("workflow_ended");
  });

  it("cancels: the running task is cancelled, pending steps skipped", async () => {
    const member = await cluster.follower();
    const definition = {
      name: "cancel-me",
      teams: ["build"],
      pattern: "pipeline",
      steps: [
        { id: "long", team: "build", task_type: "hold", input: { key: "cancel-me" } },
        { id: "after", team: "build", task_type: "build" },
      ],
    };
    const created = await call(member, "POST", "/workflows", { definition, execute: true });
    const id = (created.json["workflow"] as Json)["id"] as string;
    await until(() => held.has(JSON.stringify({ key: "cancel-me" })));
    const cancelled = await call(member, "DELETE", `/workflows/${id}`);
    expect(cancelled.status).toBe(200);
    const workflow = await ended(member, id);
    expect(workflow["status"]).toBe("cancelled");
    expect(step(workflow, "long")["status"]).toBe("cancelled");
    expect(step(workflow, "after")["status"]).toBe("skipped");
    const taskId = step(workflow, "long")["task_id"] as string;
    const task = await call(member, "GET", `/tasks/${taskId}`);
    expect((task.json["task"] as Json)["status"]).toBe("cancelled");
    const twice = await call(member, "DELETE", `/workflows/${id}`);
    expect(twice.status).toBe(409);
  });

  it("waits for events and timers", async () => {
    const member = await cluster.follower();
    const definition = {
      name: "wait-for-it",
      teams: ["build"],
      steps: [
        { id: "approved", type: "event", team: "build", event: "go" },
        { id: "pause", type: "timer", team: "build", duration_ms: 200, depends_on: ["approved"] },
        {
          id: "ship",
          team: "build",
          task_type: "build",
          input: { by: "{{steps.approved.output.who}}" },
          depends_on: ["pause"],
        },
      ],
    };
    const created = await call(member, "POST", "/workflows", { definition, execute: true });
    const id = (created.json["workflow"] as Json)["id"] as string;
    expect(step(created.json["workflow"] as Json, "approved")["status"]).toBe("waiting");
    const unknown = await call(member, "POST", `/workflows/${id}/events`, { name: "nobody-waits", data: {} });
    expect(unknown.status).toBe(202);
    expect(unknown.json["applied"]).toBe(false);
    const sent = await call(member, "POST", `/workflows/${id}/events`, { name: "go", data: { who: "ana" } });
    expect(sent.status).toBe(202);
    expect(sent.json["applied"]).toBe(true);
    const workflow = await ended(member, id);
    expect(workflow["status"]).toBe("succeeded");
    expect(step(workflow, "ship")["output"]).toMatchObject({ echo: { by: "ana" } });
  });

  it("registers definitions by version, starts them by name and by trigger event", async () => {
    const member = await cluster.follower();
    const definition = { ...pipeline, name: "registered-release", trigger: { event: "release-wanted" } };
    const first = await call(member, "POST", "/workflows/definitions", definition);
    expect(first.status).toBe(201);
    expect(first.json).toEqual({ name: "registered-release", version: 1 });
    const second = await call(member, "POST", "/workflows/definitions", { ...definition, description: "v2" });
    expect(second.json).toEqual({ name: "registered-release", version: 2 });
    // The same definition again without a version is the latest version: a retry registers nothing.
    const again = await call(member, "POST", "/workflows/definitions", { ...definition, description: "v2" });
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ name: "registered-release", version: 2 });
    const conflict = await call(member, "POST", "/workflows/definitions", {
      ...definition,
      version: 1,
      description: "other",
    });
    expect(conflict.status).toBe(409);
    expect((conflict.json["error"] as Json)["code"]).toBe("version_exists");
    const byName = await call(member, "POST", "/workflows", {
      workflow: { name: "registered-release", version: 1 },
      execute: true,
    });
    expect(byName.status).toBe(201);
    expect((byName.json["workflow"] as Json)["version"]).toBe(1);
    expect((await ended(member, (byName.json["workflow"] as Json)["id"] as string))["status"]).toBe(
      "succeeded",
    );
    const event = { name: "release-wanted", data: { version: "9" }, idempotency_key: "release-9" };
    const triggered = await call(member, "POST", "/workflows/events", event);
    expect(triggered.status).toBe(200);
    const started = triggered.json["started"] as Json[];
    const retried = await call(member, "POST", "/workflows/events", event);
    expect(retried.json["started"]).toEqual(started);
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({ name: "registered-release", version: 2 });
    const run = await ended(member, started[0]!["id"] as string);
    expect(step(run, "build")["output"]).toMatchObject({ echo: { version: "9" } });
    const missing = await call(member, "POST", "/workflows", { workflow: { name: "nope" } });
    expect(missing.status).toBe(404);
    expect((missing.json["error"] as Json)["code"]).toBe("definition_not_found");
  });

  it("an approval step is a decision: approved continues, rejected fails", async () => {
    const member = await cluster.follower();
    const definition = {
      name: "gated",
      teams: ["deploy"],
      steps: [
        { id: "gate", type: "approval", team: "deploy", voters: ["ana", "bo", "cy"], quorum: 2 },
        { id: "ship", team: "deploy", task_type: "deploy", depends_on: ["gate"] },
      ],
    };
    const run = async (votes: string[]): Promise<Json> => {
      const created = await call(member, "POST", "/workflows", { definition, execute: true });
      const id = (created.json["workflow"] as Json)["id"] as string;
      let decision = 0;
      await until(async () => {
        const answer = await call(member, "GET", `/workflows/${id}`);
        decision =
          ((step(answer.json["workflow"] as Json, "gate")["approval"] as Json | null)?.[
            "decision"
          ] as number) ?? 0;
        return decision > 0;
      });
      for (const [i, vote] of votes.entries()) {
        const voted = await call(member, "POST", "/consensus/vote", {
          proposal: decision,
          voter: ["ana", "bo", "cy"][i],
          vote,
        });
        expect(voted.status).toBe(200);
      }
      return ended(member, id);
    };
    const approved = await run(["approve", "approve"]);
    expect(approved["status"]).toBe("succeeded");
    expect(step(approved, "gate")["output"]).toMatchObject({ approved: true });
    const rejected = await run(["reject", "reject"]);
    expect(rejected["status"]).toBe("failed");
    expect(step(rejected, "gate")["status"]).toBe("failed");
    expect(step(rejected, "ship")["status"]).toBe("skipped");
  });

  it("runs a registered sub-workflow as a step, owned by another team", async () => {
    const member = await cluster.follower();
    const child = {
      name: "child-flow",
      teams: ["test"],
      steps: [{ id: "t", team: "test", task_type: "test", input: { from: "{{input.from}}" } }],
    };
    expect((await call(member, "POST", "/workflows/definitions", child)).status).toBe(201);
    const parent = {
      name: "parent-flow",
      teams: ["build", "test"],
      steps: [
        { id: "b", team: "build", task_type: "build" },
        {
          id: "sub",
          type: "workflow",
          team: "test",
          workflow: { name: "child-flow" },
          input: { from: "{{steps.b.output.image}}" },
          depends_on: ["b"],
        },
      ],
    };
    const created = await call(member, "POST", "/workflows", { definition: parent, execute: true });
    const id = (created.json["workflow"] as Json)["id"] as string;
    const workflow = await ended(member, id);
    expect(workflow["status"]).toBe("succeeded");
    const childId = step(workflow, "sub")["workflow_id"] as string;
    const childRun = (await call(member, "GET", `/workflows/${childId}`)).json["workflow"] as Json;
    expect(childRun["status"]).toBe("succeeded");
    expect(childRun["parent_id"]).toBe(id);
    expect(step(childRun, "t")["output"]).toMatchObject({ echo: { from: "build:1" } });
  });

  it("refuses bad definitions with codes that point at the problem, and changes nothing", async () => {
    const member = await cluster.follower();
    const before = (await call(member, "GET", "/workflows/status")).json["total"];
    const cycle = {
      name: "loop",
      teams: ["build"],
      steps: [
        { id: "a", team: "build", task_type: "x", depends_on: ["b"] },
        { id: "b", team: "build", task_type: "x", depends_on: ["a"] },
      ],
    };
    const answer = await call(member, "POST", "/workflows", cycle);
    expect(answer.status).toBe(422);
    const error = answer.json["error"] as Json;
    expect(error["code"]).toBe("invalid_definition");
    expect((error["errors"] as Json[])[0]).toMatchObject({ code: "cycle" });
    const unknownTeam = await call(member, "POST", "/workflows", { ...pipeline, teams: ["build"] });
    expect(((unknownTeam.json["error"] as Json)["errors"] as Json[]).map((e) => e["code"])).toContain(
      "unknown_team",
    );
    const yaml = await call(member, "POST", "/workflows", "steps: [oops", "application/yaml");
    expect(yaml.status).toBe(422);
    const notFound = await call(member, "GET", "/workflows/00000000-0000-4000-8000-000000000000");
    expect(notFound.status).toBe(404);
    expect((await call(member, "GET", "/workflows/status")).json["total"]).toBe(before);
  });

  it("creates many runs in one request: each taken or refused on its own, keys found again", async () => {
    const follower = await cluster.follower();
    const one = {
      name: "one-step",
      teams: ["build"],
      steps: [{ id: "only", team: "build", task_type: "build", input: { n: "{{input.n}}" } }],
    };
    const workflows = [
      ...Array.from({ length: 5 }, (_, n) => ({
        definition: one,
        input: { n },
        execute: true,
        idempotency_key: `bulk-${n}`,
      })),
      { workflow: { name: "nobody-registered-this" }, execute: true },
      { definition: one, input: { n: 0 }, execute: true, idempotency_key: "bulk-0" },
    ];
    const answer = await call(follower, "POST", "/workflows/bulk", { workflows });
    expect(answer.status).toBe(200);
    const results = answer.json["results"] as Json[];
    expect(results).toHaveLength(7);
    expect(results.slice(0, 5).map((r) => [r["ok"], r["created"]])).toEqual(Array(5).fill([true, true]));
    expect(results[5]).toMatchObject({ ok: false, error: { code: "definition_not_found" } });
    // The key named twice in one bulk finds the run its first use made.
    const id = (r: Json): string => (r["workflow"] as Json)["id"] as string;
    expect(results[6]).toMatchObject({ ok: true, created: false });
    expect(id(results[6]!)).toBe(id(results[0]!));
    for (const [n, result] of results.slice(0, 5).entries()) {
      const workflow = await ended(follower, id(result));
      expect(workflow["status"]).toBe("succeeded");
      expect(step(workflow, "only")["output"]).toMatchObject({ echo: { n } });
    }
    // Sent again, the bulk finds every run by its key and makes none.
    const again = await call(follower, "POST", "/workflows/bulk", { workflows: workflows.slice(0, 5) });
    expect((again.json["results"] as Json[]).map((r) => [r["created"], id(r)])).toEqual(
      results.slice(0, 5).map((r) => [false, id(r)]),
    );
  });

  it("refuses a bulk with a bad run whole, naming it, and changes nothing", async () => {
    const member = await cluster.leader();
    const before = (await call(member, "GET", "/workflows/status")).json["total"];
    const good = { definition: pipeline };
    const cycle = {
      definition: {
        name: "loop",
        teams: ["build"],
        steps: [
          { id: "a", team: "build", task_type: "x", depends_on: ["b"] },
          { id: "b", team: "build", task_type: "x", depends_on: ["a"] },
        ],
      },
    };
    const invalid = await call(member, "POST", "/workflows/bulk", { workflows: [good, cycle] });
    expect(invalid.status).toBe(422);
    const error = invalid.json["error"] as Json;
    expect(error).toMatchObject({ code: "invalid_definition" });
    expect(error["message"]).toMatch(/^workflows\[1\]: /);
    expect((error["errors"] as Json[])[0]).toMatchObject({ code: "cycle" });
    expect(((error["errors"] as Json[])[0]!["path"] as string).startsWith("/workflows/1/definition")).toBe(
      true,
    );
    const both = await call(member, "POST", "/workflows/bulk", {
      workflows: [good, { ...good, workflow: { name: "release" } }],
    });
    expect(both.status).toBe(400);
    expect((both.json["error"] as Json)["message"]).toMatch(/^workflows\[1\]: /);
    const badInput = await call(member, "POST", "/workflows/bulk", {
      workflows: [{ ...good, input: { big: "x".repeat(300_000) } }],
    });
    expect([400, 413]).toContain(badInput.status);
    const empty = await call(member, "POST", "/workflows/bulk", { workflows: [] });
    expect(empty.status).toBe(400);
    const expanding = await call(member, "POST", "/workflows/bulk", {
      workflows: [{ ...good, expands_task: "00000000-0000-4000-8000-000000000000" }],
    });
    expect(expanding.status).toBe(400);
    expect((await call(member, "GET", "/workflows/status")).json["total"]).toBe(before);
  });

  it("lists and counts", async () => {
    const member = await cluster.follower();
    const status = await call(member, "GET", "/workflows/status");
    expect(status.status).toBe(200);
    expect((status.json["counts"] as Json)["succeeded"]).toBeGreaterThan(3);
    const page = await call(member, "GET", "/workflows?status=succeeded&limit=2");
    expect((page.json["workflows"] as Json[]).length).toBe(2);
    expect(page.json["next_cursor"]).toEqual(expect.any(String));
    const next = await call(
      member,
      "GET",
      `/workflows?status=succeeded&limit=2&cursor=${page.json["next_cursor"] as string}`,
    );
    const ids = new Set(
      [...(page.json["workflows"] as Json[]), ...(next.json["workflows"] as Json[])].map((w) => w["id"]),
    );
    expect(ids.size).toBe(4);
  });
});
