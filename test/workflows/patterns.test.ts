// The coordination patterns of examples/workflows, run from their YAML files through a three-node
// cluster with SDK agents that handle the task types examples/agent.mjs handles (echo, sleep),
// plus a platform coordinator: a pipeline runs in order and compensates in reverse order of
// completion; a quorum join goes on at n of m (the rest run on, or are skipped and cancelled once
// n is out of reach) and a for_each step fans out per item; a trigger event starts a registered
// definition whose event and timer steps release; a sub-workflow and a delegated step's
// expansion run, and are cancelled with their parent; an approval step passes or fails on its votes.

import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { Agent, NonRetryableError, type TaskDelivery } from "../../src/client/index.js";
import { tasksState } from "../../src/tasks/index.js";
import { ApiCluster, type Member } from "../server/cluster.js";
import { call, stopAll, type Json } from "./http.js";
import { until } from "../support/local-node.js";

const EXAMPLES = new URL("../../examples/workflows/", import.meta.url);
const TERMINAL = ["succeeded", "failed", "cancelled"];

/** An example's YAML text, as a user would POST it. */
function exampleText(file: string): string {
  return readFileSync(new URL(file, EXAMPLES), "utf8");
}

/** An example parsed, to send inside a JSON create request with an input of its own. */
function exampleDefinition(file: string): Json {
  return parseYaml(exampleText(file), { schema: "core" }) as Json;
}

/** A task the agents ran: who ran it, for which run. */
interface Ran {
  readonly agent: string;
  readonly team: string;
  readonly type: string;
  readonly workflowId: string | null;
  readonly data: Json;
}

/** A task a test keeps running until it releases it (or the task is cancelled). */
interface Hold {
  readonly match: (task: TaskDelivery) => boolean;
  task: TaskDelivery | null;
  /** Whether the handler's signal aborted while it was held: the agent heard of the cancel. */
  aborted: boolean;
  release: () => void;
  readonly released: Promise<void>;
}

let cluster: ApiCluster;
let urls: string[] = [];
const agents: Agent[] = [];
let coordinator: Agent;
const ran: Ran[] = [];
const holds: Hold[] = [];
/** Expansions the coordinator started: the delegated task and the run it created for it. */
const expansions: { task: string; workflow: string }[] = [];

/** Holds the first task that matches, from when its handler starts until `release()`. */
function hold(match: (task: TaskDelivery) => boolean): Hold {
  let release = (): void => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const held: Hold = { match, task: null, aborted: false, release, released };
  holds.push(held);
  return held;
}

async function waitIfHeld(task: TaskDelivery, signal: AbortSignal): Promise<void> {
  const held = holds.find((h) => h.task === null && h.match(task));
  if (held === undefined) return;
  held.task = task;
  await new Promise<void>((resolve) => {
    void held.released.then(resolve);
    signal.addEventListener(
      "abort",
      () => {
        held.aborted = true;
        resolve();
      },
      { once: true },
    );
  });
}

const dataOf = (task: TaskDelivery): Json => (task.data ?? {}) as Json;

/** examples/agent.mjs's two handlers, with a hold before each and a record of what ran. */
function workerHandlers(agent: string, team: string) {
  const record = (task: TaskDelivery): void => {
    ran.push({ agent, team, type: task.task_type, workflowId: task.workflow_id, data: dataOf(task) });
  };
  return {
    echo: async (task: TaskDelivery, context: { signal: AbortSignal }) => {
      record(task);
      await waitIfHeld(task, context.signal);
      return task.data;
    },
    sleep: async (task: TaskDelivery, context: { signal: AbortSignal }) => {
      record(task);
      const ms = dataOf(task)["ms"];
      if (typeof ms !== "number" || !Number.isInteger(ms) || ms < 0 || ms > 3_600_000)
        throw new NonRetryableError(`sleep needs data {"ms": 0..3600000}, got ${JSON.stringify(task.data)}`);
      await waitIfHeld(task, context.signal);
      await new Promise((resolve) => setTimeout(resolve, ms));
      return { slept_ms: ms };
    },
  };
}

/**
 * The platform coordinator's handler for delegated `rollout` tasks: it expands the task into a
 * sub-workflow, one deploy per environment, by raw HTTP with `expands_task`, follows it until it
 * ends, and completes the task with its output.
 */
async function coordinate(task: TaskDelivery, context: { signal: AbortSignal }): Promise<unknown> {
  ran.push({
    agent: "coordinator",
    team: "platform",
    type: task.task_type,
    workflowId: task.workflow_id,
    data: dataOf(task),
  });
  const definition = {
    name: "rollout-expansion",
    teams: ["platform"],
    steps: [
      {
        id: "deploy",
        team: "platform",
        task_type: "echo",
        skills: ["echo"],
        for_each: "{{input.environments}}",
        input: { image: "{{input.image}}", environment: "{{item}}" },
      },
    ],
    output: { deployed: "{{steps.deploy.output}}" },
  };
  const created = await fetch(`${urls[0]}/api/v3/workflows`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ definition, input: dataOf(task), execute: true, expands_task: task.id }),
    signal: context.signal,
  });
  if (created.status !== 201) throw new Error(`expansion refused: ${created.status} ${await created.text()}`);
  const id = ((await created.json()) as { workflow: Json }).workflow["id"] as string;
  expansions.push({ task: task.id, workflow: id });
  let workflow: Json = {};
  await until(async () => {
    if (context.signal.aborted) return true;
    const answer = await fetch(`${urls[0]}/api/v3/workflows/${id}`);
    workflow = ((await answer.json()) as { workflow: Json }).workflow;
    return TERMINAL.includes(workflow["status"] as string);
  }, 20_000);
  if (context.signal.aborted) throw new Error("the delegated task was cancelled");
  if (workflow["status"] !== "succeeded")
    throw new NonRetryableError(`expansion ${id} ${String(workflow["status"])}`);
  return workflow["output"];
}

beforeAll(async () => {
  cluster = await ApiCluster.start(
    null,
    ["n1", "n2", "n3"],
    { heartbeatIntervalMs: 100, failureTimeoutMs: 3_000 },
    { tickMs: 50, redispatchMs: 200 },
  );
  const leader = await cluster.leader();
  urls = [...cluster.members.values()].map((member) => `http://${member.http}`);
  const common = { urls, capacity: 8, healthCheck: { type: "none" as const }, pollWaitMs: 1_000 };
  for (const team of ["build", "test", "deploy", "platform"]) {
    const name = `${team}-agent`;
    const agent = new Agent({
      ...common,
      name,
      endpoint: `http://127.0.0.1:1/${name}`,
      team,
      skills: ["echo", "sleep"],
    });
    const handlers = workerHandlers(name, team);
    agent.handle("echo", handlers.echo);
    agent.handle("sleep", handlers.sleep);
    agents.push(agent);
  }
  coordinator = new Agent({
    ...common,
    name: "platform-coordinator",
    endpoint: "http://127.0.0.1:1/platform-coordinator",
    team: "platform",
    skills: ["coordinator"],
  });
  coordinator.handle("rollout", coordinate);
  agents.push(coordinator);
  await Promise.all(agents.map((agent) => agent.start()));
  await until(() => leader.node.view.state(tasksState).liveCount === 0);
});

afterEach(() => {
  for (const held of holds) held.release();
  holds.length = 0;
});

afterAll(() => stopAll(agents, cluster), 30_000);

/** POSTs an example's YAML as the README's curl does (`?execute=true`); the new run's id. */
async function submitYaml(member: Member, file: string): Promise<string> {
  const created = await call(
    member,
    "POST",
    "/workflows?execute=true",
    exampleText(file),
    "application/yaml",
  );
  expect(created.status).toBe(201);
  return (created.json["workflow"] as Json)["id"] as string;
}

/** Starts an example with an input of its own (a JSON create request); the new run's id. */
async function submitWithInput(member: Member, file: string, input: Json): Promise<string> {
  const created = await call(member, "POST", "/workflows", {
    definition: exampleDefinition(file),
    input,
    execute: true,
  });
  expect(created.status).toBe(201);
  return (created.json["workflow"] as Json)["id"] as string;
}

async function read(member: Member, id: string): Promise<Json> {
  const answer = await call(member, "GET", `/workflows/${id}`);
  expect(answer.status).toBe(200);
  return answer.json["workflow"] as Json;
}

/** The run once `check` holds for it. */
async function once(member: Member, id: string, check: (workflow: Json) => boolean): Promise<Json> {
  let workflow: Json = {};
  await until(async () => {
    workflow = await read(member, id);
    return check(workflow);
  }, 20_000);
  return workflow;
}

const ended = (member: Member, id: string): Promise<Json> =>
  once(member, id, (workflow) => TERMINAL.includes(workflow["status"] as string));

const step = (workflow: Json, id: string): Json => {
  const found = (workflow["steps"] as Json[]).find((s) => s["id"] === id);
  if (found === undefined) throw new Error(`no step ${id}`);
  return found;
};

const status = (workflow: Json, id: string): unknown => step(workflow, id)["status"];

async function taskStatus(member: Member, taskId: string): Promise<string> {
  const answer = await call(member, "GET", `/tasks/${taskId}`);
  return (answer.json["task"] as Json)["status"] as string;
}

/** What the agents ran for one run's tasks, in the order the handlers started. */
const ranFor = (id: string): Ran[] => ran.filter((r) => r.workflowId === id);

describe("pipeline.yaml", () => {
  it("runs build -> test -> deploy -> smoke in order on each team's agents, outputs carried by templates", async () => {
    const member = await cluster.follower();
    const id = await submitYaml(member, "pipeline.yaml");
    const workflow = await ended(member, id);
    expect(workflow["status"]).toBe("succeeded");
    expect(ranFor(id).map((r) => `${r.type}@${r.agent}`)).toEqual([
      "echo@build-agent",
      "echo@test-agent",
      "echo@deploy-agent",
      "sleep@test-agent",
    ]);
    const image = "registry.local/api:1.4.2";
    expect(step(workflow, "test")["output"]).toEqual({ image, suite: "integration" });
    expect(step(workflow, "deploy")["output"]).toEqual({ image, environment: "staging" });
    expect(workflow["output"]).toEqual({ image, environment: "staging", smoke: { slept_ms: 200 } });
    // Nothing failed, so nothing was compensated.
    expect(status(workflow, "rollback")).toBe("skipped");
    expect(status(workflow, "discard_image")).toBe("skipped");
  });

  it("compensates in reverse order of completion when a later step fails", async () => {
    const member = await cluster.follower();
    const registered = await call(
      member,
      "POST",
      "/workflows/definitions",
      exampleText("pipeline.yaml"),
      "application/yaml",
    );
    expect(registered.status).toBe(201);
    expect(registered.json).toEqual({ name: "release-pipeline", version: 1 });
    // The example agent's sleep fails at once (not retryably) on a negative wait.
    const created = await call(member, "POST", "/workflows", {
      workflow: { name: "release-pipeline" },
      input: { smoke_ms: -1 },
      execute: true,
    });
    expect(created.status).toBe(201);
    const id = (created.json["workflow"] as Json)["id"] as string;
    const workflow = await ended(member, id);
    expect(workflow["status"]).toBe("failed");
    expect(workflow["failure"]).toMatchObject({ code: "step_failed", step: "smoke" });
    expect(step(workflow, "smoke")["error"]).toMatchObject({ code: "task_failed", retryable: false });
    const image = "registry.local/api:1.4.2";
    // deploy completed after build, so its rollback runs first; test has no compensation.
    expect(ranFor(id).map((r) => [r.type, r.team, r.data])).toEqual([
      ["echo", "build", { image }],
      ["echo", "test", { image, suite: "integration" }],
      ["echo", "deploy", { image, environment: "staging" }],
      ["sleep", "test", { ms: -1 }],
      ["echo", "deploy", { undeploy: image, environment: "staging" }],
      ["echo", "build", { delete: image }],
    ]);
    expect(status(workflow, "rollback")).toBe("succeeded");
    expect(status(workflow, "discard_image")).toBe("succeeded");
    expect(step(workflow, "rollback")["compensates"]).toBe("deploy");
    expect(Date.parse(step(workflow, "rollback")["ended_at"] as string)).toBeLessThanOrEqual(
      Date.parse(step(workflow, "discard_image")["started_at"] as string),
    );
    expect(workflow["output"]).toBeNull();
  });
});

describe("parallel.yaml", () => {
  const checks = (unit: number, security: number, load: number) => ({
    checks_ms: { unit, security, load },
  });
  const heldLoadTest = (ms: number): Hold =>
    hold((task) => task.task_type === "sleep" && task.team === "test" && dataOf(task)["ms"] === ms);

  it("opens the 2-of-3 gate while the third check still runs, and ends only after it", async () => {
    const member = await cluster.follower();
    const load = heldLoadTest(7);
    const id = await submitWithInput(member, "parallel.yaml", checks(0, 0, 7));
    const early = await once(member, id, (w) => status(w, "summary") === "succeeded");
    // The engine lets the check the gate did not wait for run on; the run waits for it.
    expect(early["status"]).toBe("running");
    expect(status(early, "load_test")).toBe("running");
    expect(load.task).not.toBeNull();
    expect(step(early, "release_gate")["output"]).toMatchObject({
      checks: { unit: "succeeded", security: "succeeded", load: "running" },
    });
    load.release();
    const workflow = await ended(member, id);
    expect(workflow["status"]).toBe("succeeded");
    expect(status(workflow, "load_test")).toBe("succeeded");
    expect(load.aborted).toBe(false);
  });

  it("one failing check is handled, as the other two make the quorum: the run succeeds", async () => {
    const member = await cluster.follower();
    const id = await submitWithInput(member, "parallel.yaml", checks(0, 0, -1));
    const workflow = await ended(member, id);
    expect(workflow["status"]).toBe("succeeded");
    expect(status(workflow, "load_test")).toBe("failed");
    expect(status(workflow, "release_gate")).toBe("succeeded");
    expect(workflow["failure"]).toBeNull();
  });

  it("when two checks fail the quorum cannot be reached: the gate is skipped, the third cancelled", async () => {
    const member = await cluster.follower();
    const load = heldLoadTest(8);
    const id = await submitWithInput(member, "parallel.yaml", checks(-1, -1, 8));
    const workflow = await ended(member, id);
    expect(workflow["status"]).toBe("failed");
    expect(workflow["failure"]).toMatchObject({ code: "step_failed" });
    expect(status(workflow, "unit_tests")).toBe("failed");
    expect(status(workflow, "security_scan")).toBe("failed");
    expect(status(workflow, "load_test")).toBe("cancelled");
    for (const later of ["release_gate", "rollout", "summary"])
      expect(status(workflow, later)).toBe("skipped");
    const loadTask = step(workflow, "load_test")["task_id"] as string;
    await until(async () => (await taskStatus(member, loadTask)) === "cancelled");
    // The load test's task may be cancelled before any agent took it; if one did, it heard.
    if (load.task !== null) await until(() => load.aborted);
  });

  it("for_each runs one task per region and outputs their results in input order", async () => {
    const member = await cluster.follower();
    // The first region finishes last, so completion order differs from input order.
    const first = hold((task) => task.task_type === "echo" && dataOf(task)["region"] === "eu-west");
    const id = await submitWithInput(member, "parallel.yaml", checks(0, 0, 0));
    const waiting = await once(member, id, (w) => {
      const items = step(w, "rollout")["items"] as Json[] | null;
      return items !== null && items[1]!["status"] === "succeeded" && items[2]!["status"] === "succeeded";
    });
    expect((step(waiting, "rollout")["items"] as Json[])[0]!["status"]).toBe("running");
    expect(status(waiting, "rollout")).toBe("running");
    first.release();
    const workflow = await ended(member, id);
    expect(workflow["status"]).toBe("succeeded");
    const image = "registry.local/api:1.4.2";
    const outputs = [
      { image, region: "eu-west", wave: 0 },
      { image, region: "us-east", wave: 1 },
      { image, region: "ap-south", wave: 2 },
    ];
    expect(step(workflow, "rollout")["output"]).toEqual(outputs);
    expect(workflow["output"]).toMatchObject({ regions: outputs });
    const items = step(workflow, "rollout")["items"] as Json[];
    expect(items.map((item) => item["item"])).toEqual(["eu-west", "us-east", "ap-south"]);
    const taskIds = items.map((item) => item["task_id"] as string);
    expect(new Set(taskIds).size).toBe(3);
    const rollouts = ranFor(id).filter((r) => r.data["region"] !== undefined);
    expect(rollouts.map((r) => r.data["region"]).sort()).toEqual(["ap-south", "eu-west", "us-east"]);
    expect(rollouts.every((r) => r.team === "deploy")).toBe(true);
    const tasks = (await call(member, "GET", `/tasks/status?workflow_id=${id}`)).json["tasks"] as Json[];
    expect(tasks.filter((t) => taskIds.includes(t["id"] as string)).map((t) => t["status"])).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
  });
});

describe("event-driven.yaml", () => {
  beforeAll(async () => {
    const member = await cluster.leader();
    const registered = await call(
      member,
      "POST",
      "/workflows/definitions",
      exampleText("event-driven.yaml"),
      "application/yaml",
    );
    expect(registered.status).toBe(201);
    expect(registered.json).toEqual({ name: "canary-release", version: 1 });
  });

  it("is started by its trigger event, waits for the event step, then the timer", async () => {
    const member = await cluster.follower();
    const triggered = await call(member, "POST", "/workflows/events", {
      name: "artifact-published",
      data: { service: "billing", version: "2.0.0" },
    });
    expect(triggered.status).toBe(200);
    const started = triggered.json["started"] as Json[];
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({ name: "canary-release", version: 1 });
    const id = started[0]!["id"] as string;

    const waiting = await once(member, id, (w) => status(w, "canary_healthy") === "waiting");
    expect(waiting["status"]).toBe("running");
    expect(waiting["input"]).toEqual({ service: "billing", version: "2.0.0" });
    expect(step(waiting, "canary")["output"]).toEqual({
      service: "billing",
      version: "2.0.0",
      traffic_percent: 5,
    });
    expect(status(waiting, "bake")).toBe("pending");
    expect(status(waiting, "promote")).toBe("pending");

    const sent = await call(member, "POST", `/workflows/${id}/events`, {
      name: "canary-healthy",
      data: { checked_by: "monitor", error_rate: 0 },
    });
    expect(sent.status).toBe(202);
    expect(sent.json["applied"]).toBe(true);
    const baking = await once(member, id, (w) => status(w, "bake") !== "pending");
    expect(step(baking, "canary_healthy")["output"]).toEqual({ checked_by: "monitor", error_rate: 0 });

    const workflow = await ended(member, id);
    expect(workflow["status"]).toBe("succeeded");
    const bake = step(workflow, "bake");
    const firedAt = (bake["output"] as { fired_at: number }).fired_at;
    expect(firedAt - Date.parse(bake["started_at"] as string)).toBeGreaterThanOrEqual(500);
    expect(Date.parse(step(workflow, "promote")["started_at"] as string)).toBeGreaterThanOrEqual(firedAt);
    expect(step(workflow, "promote")["output"]).toEqual({
      service: "billing",
      version: "2.0.0",
      traffic_percent: 100,
      checked_by: "monitor",
    });
    expect(ranFor(id).map((r) => r.data["traffic_percent"])).toEqual([5, 100]);
  });

  it("keeps an event sent before its step is reached, and ignores a second one", async () => {
    const member = await cluster.follower();
    const canary = hold((task) => task.task_type === "echo" && dataOf(task)["service"] === "search");
    const triggered = await call(member, "POST", "/workflows/events", {
      name: "artifact-published",
      data: { service: "search", version: "3.1.0" },
    });
    const id = (triggered.json["started"] as Json[])[0]!["id"] as string;
    await until(() => canary.task !== null);
    const early = await call(member, "POST", `/workflows/${id}/events`, {
      name: "canary-healthy",
      data: { checked_by: "early" },
    });
    expect(early.json["applied"]).toBe(true);
    expect(status(early.json["workflow"] as Json, "canary_healthy")).toBe("pending");
    const again = await call(member, "POST", `/workflows/${id}/events`, {
      name: "canary-healthy",
      data: { checked_by: "late" },
    });
    expect(again.json["applied"]).toBe(false);
    expect(again.json["ignored"]).toMatchObject({ code: "duplicate_event" });
    canary.release();
    const workflow = await ended(member, id);
    expect(workflow["status"]).toBe("succeeded");
    expect(step(workflow, "canary_healthy")["output"]).toEqual({ checked_by: "early" });
    expect(step(workflow, "promote")["output"]).toMatchObject({ checked_by: "early" });
  });
});

describe("hierarchical.yaml", () => {
  beforeAll(async () => {
    const member = await cluster.leader();
    const registered = await call(
      member,
      "POST",
      "/workflows/definitions",
      exampleText("hierarchical-child.yaml"),
      "application/yaml",
    );
    expect(registered.status).toBe(201);
    expect(registered.json).toEqual({ name: "integration-suite", version: 1 });
  });

  it("runs the test team's sub-workflow and the platform coordinator's expansion", async () => {
    const member = await cluster.follower();
    const id = await submitYaml(member, "hierarchical.yaml");
    const workflow = await ended(member, id);
    expect(workflow["status"]).toBe("succeeded");
    const image = "registry.local/api:1.4.2";

    const childId = step(workflow, "integration")["workflow_id"] as string;
    const child = await read(member, childId);
    expect(child).toMatchObject({
      status: "succeeded",
      name: "integration-suite",
      team: "test",
      parent_id: id,
      parent: { workflow_id: id, step: "integration", index: null },
    });
    const children = (await call(member, "GET", `/workflows?parent_id=${id}`)).json["workflows"] as Json[];
    expect(children.map((c) => c["id"])).toEqual([childId]);
    const report = { image, passed: ["api", "ui"] };
    expect(step(workflow, "integration")["output"]).toEqual({ report });

    // The delegated task went to the platform coordinator, not to the build team's agents.
    const rollout = step(workflow, "rollout");
    expect(rollout["delegate_to"]).toBe("platform");
    expect(rollout["agent_id"]).toBe(coordinator.id);
    const delegated = ranFor(id).filter((r) => r.type === "rollout");
    expect(delegated).toEqual([
      {
        agent: "coordinator",
        team: "platform",
        type: "rollout",
        workflowId: id,
        data: { image, environments: ["staging", "production"] },
      },
    ]);
    const taskId = rollout["task_id"] as string;
    const task = (await call(member, "GET", `/tasks/${taskId}`)).json["task"] as Json;
    expect(task).toMatchObject({
      team: "build",
      requirements: { team: "platform", skills: ["coordinator"] },
    });

    const expansion = expansions.find((e) => e.task === taskId);
    expect(expansion).toBeDefined();
    const expanded = await read(member, expansion!.workflow);
    expect(expanded).toMatchObject({ status: "succeeded", expands_task: taskId });
    const deployed = [
      { image, environment: "staging" },
      { image, environment: "production" },
    ];
    expect(rollout["output"]).toEqual({ deployed });
    expect(workflow["output"]).toEqual({ tests: report, rollout: { deployed } });
    expect(
      ranFor(expansion!.workflow)
        .map((r) => `${r.agent}:${String(r.data["environment"])}`)
        .sort(),
    ).toEqual(["platform-agent:production", "platform-agent:staging"]);
  });

  it("cancelling the parent cancels the running sub-workflow and its task", async () => {
    const member = await cluster.follower();
    const api = hold(
      (task) => task.task_type === "echo" && task.team === "test" && dataOf(task)["suite"] === "api",
    );
    const id = await submitYaml(member, "hierarchical.yaml");
    await until(() => api.task !== null);
    const running = await read(member, id);
    const childId = step(running, "integration")["workflow_id"] as string;
    expect(status(running, "integration")).toBe("running");

    const cancelled = await call(member, "DELETE", `/workflows/${id}`);
    expect(cancelled.status).toBe(200);
    const workflow = await ended(member, id);
    expect(workflow["status"]).toBe("cancelled");
    expect(status(workflow, "integration")).toBe("cancelled");
    expect(status(workflow, "rollout")).toBe("skipped");

    const child = await ended(member, childId);
    expect(child["status"]).toBe("cancelled");
    expect(status(child, "api_tests")).toBe("cancelled");
    expect(status(child, "report")).toBe("skipped");
    const childTask = step(child, "api_tests")["task_id"] as string;
    expect(childTask).toBe(api.task!.id);
    await until(async () => (await taskStatus(member, childTask)) === "cancelled");
    await until(() => api.aborted);
  });

  it("cancelling the parent while the expansion runs cancels the delegated task and the expansion", async () => {
    const member = await cluster.follower();
    const production = hold(
      (task) =>
        task.task_type === "echo" && task.team === "platform" && dataOf(task)["environment"] === "production",
    );
    const id = await submitYaml(member, "hierarchical.yaml");
    await until(() => production.task !== null);
    const running = await read(member, id);
    expect(status(running, "rollout")).toBe("running");
    const taskId = step(running, "rollout")["task_id"] as string;
    const expansion = expansions.find((e) => e.task === taskId)!;
    expect(expansion).toBeDefined();
    expect(production.task!.workflow_id).toBe(expansion.workflow);

    const cancelled = await call(member, "DELETE", `/workflows/${id}`);
    expect(cancelled.status).toBe(200);
    const workflow = await ended(member, id);
    expect(workflow["status"]).toBe("cancelled");
    expect(status(workflow, "rollout")).toBe("cancelled");
    await until(async () => (await taskStatus(member, taskId)) === "cancelled");

    const expanded = await ended(member, expansion.workflow);
    expect(expanded["status"]).toBe("cancelled");
    expect(status(expanded, "deploy")).toBe("cancelled");
    const heldTask = production.task!.id;
    await until(async () => (await taskStatus(member, heldTask)) === "cancelled");
    await until(() => production.aborted);
  });
});

describe("approval.yaml", () => {
  const voters = ["alice", "bob", "carol"];

  /** Runs approval.yaml and casts `votes` (in voter order) once its decision is open. */
  async function decide(votes: string[]): Promise<Json> {
    const member = await cluster.follower();
    const id = await submitYaml(member, "approval.yaml");
    const open = await once(
      member,
      id,
      (w) => ((step(w, "change_approval")["approval"] as Json | null)?.["decision"] ?? null) !== null,
    );
    const approval = step(open, "change_approval")["approval"] as Json;
    expect(approval).toMatchObject({ voters, quorum: 2 });
    expect(status(open, "release")).toBe("pending");
    for (const [i, vote] of votes.entries()) {
      const voted = await call(member, "POST", "/consensus/vote", {
        proposal: approval["decision"],
        voter: voters[i],
        vote,
      });
      expect(voted.status).toBe(200);
    }
    return ended(member, id);
  }

  it("two approvals pass the gate and the release runs", async () => {
    const workflow = await decide(["approve", "approve"]);
    expect(workflow["status"]).toBe("succeeded");
    expect(step(workflow, "change_approval")["output"]).toMatchObject({
      approved: true,
      votes: { alice: "approve", bob: "approve" },
    });
    expect(step(workflow, "release")["output"]).toEqual({
      service: "api",
      version: "1.4.2",
      votes: { alice: "approve", bob: "approve" },
    });
    expect(status(workflow, "unstage")).toBe("skipped");
  });

  it("two rejections fail the gate: the release is skipped and the staging withdrawn", async () => {
    const workflow = await decide(["reject", "approve", "reject"]);
    expect(workflow["status"]).toBe("failed");
    expect(step(workflow, "change_approval")).toMatchObject({
      status: "failed",
      error: { code: "approval_rejected" },
    });
    expect(status(workflow, "release")).toBe("skipped");
    expect(status(workflow, "unstage")).toBe("succeeded");
    expect(step(workflow, "unstage")["output"]).toEqual({ withdraw: "1.4.2" });
  });
});
