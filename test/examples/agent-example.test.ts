// Proves examples/agent.mjs does what its README says, run as a user runs it (`node
// examples/agent.mjs` with JUNO_URL and JUNO_API_TOKEN) against a three-node cluster: it
// registers, runs an "echo" task (the result is the task's data) and a "sleep" one, fails a
// "sleep" with bad data at once (not retried), and on SIGTERM while a sleep runs it drains: the
// running task still succeeds, then the agent deregisters and the process exits 0.

import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, loaderArgs, scriptPath } from "../support/compiled.js";
import { ApiCluster, callApi } from "../server/cluster.js";

const TOKEN = "example-token";
let cluster: ApiCluster;
let agent: ChildProcess | null = null;
let output = "";

beforeAll(async () => {
  cluster = await ApiCluster.start(TOKEN);
  await cluster.leader();
});
afterAll(async () => {
  agent?.kill("SIGKILL");
  await cluster.stop();
});

type Json = Record<string, unknown>;

/** Polls `probe` until it gives a value, for at most `ms`. */
async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms; the example said:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function call(method: string, path: string, body?: unknown) {
  return callApi(await cluster.follower(), method, path, body, TOKEN);
}

async function submit(taskType: string, data: unknown): Promise<string> {
  const answer = await call("POST", "/tasks/distribute", {
    task_type: taskType,
    team: "example-test",
    requirements: { skills: [taskType] },
    data,
  });
  expect(answer.status).toBe(201);
  return (answer.json["task"] as Json)["id"] as string;
}

async function finished(id: string): Promise<Json> {
  return eventually(async () => {
    const task = (await call("GET", `/tasks/${id}`)).json["task"] as Json;
    return ["succeeded", "failed", "dead_lettered", "cancelled"].includes(task["status"] as string)
      ? task
      : undefined;
  }, 20_000);
}

/** The example's JSON log lines with this event. */
function events(event: string): Json[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Json)
    .filter((line) => line["event"] === event);
}

describe("examples/agent.mjs", () => {
  it("registers, runs echo and sleep, refuses bad sleep data at once, and drains on SIGTERM", async () => {
    const urls = [...cluster.members.values()].map((member) => `http://${member.http}`).join(",");
    agent = spawn(
      process.execPath,
      [
        ...loaderArgs(),
        "--import",
        scriptPath(join(ROOT, "test", "support", "juno-client-hook.ts")),
        "examples/agent.mjs",
      ],
      {
        cwd: ROOT,
        env: { ...process.env, JUNO_URL: urls, JUNO_API_TOKEN: TOKEN, AGENT_NAME: "example-under-test" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    agent.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    agent.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => agent!.once("exit", (code) => resolve(code)));
    await eventually(() => (events("registered").length > 0 ? true : undefined), 30_000);
    const id = events("registered")[0]!["id"] as string;

    const echo = await finished(await submit("echo", { hello: "juno" }));
    expect(echo).toMatchObject({ status: "succeeded", result: { hello: "juno" }, attempt: 1 });
    const bad = await finished(await submit("sleep", { ms: "soon" }));
    expect(bad["status"]).toBe("failed");
    expect(bad["attempt"]).toBe(1);

    // SIGTERM while a sleep runs: it still succeeds, then the agent deregisters and exits 0.
    const sleeping = await submit("sleep", { ms: 1_500 });
    await eventually(async () => {
      const task = (await call("GET", `/tasks/${sleeping}`)).json["task"] as Json;
      return task["status"] === "running" ? true : undefined;
    }, 20_000);
    agent.kill("SIGTERM");
    expect(await exited).toBe(0);
    agent = null;
    expect(await finished(sleeping)).toMatchObject({ status: "succeeded", result: { slept_ms: 1_500 } });
    expect(events("stopped")).toEqual([expect.objectContaining({ deregistered: true })]);
    expect((await call("GET", `/agents/${id}`)).status).toBe(404);
  });
});
