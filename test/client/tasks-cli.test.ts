// Proves `juno tasks` end to end against a real three-node cluster in this process: submit prints
// the task and why it waits (or its JSON), the same idempotency key answers the same task, and
// --wait follows a task an Agent runs to its end (exit 0 only when it succeeded, 1 when it failed
// or the wait ran out, with wait_timeout); ls prints the counts and a filtered page, show one task's fields, cancel
// cancels (a second time exits 1 with task_finished), metrics the queue and the agents; an unknown
// task exits 3 and bad arguments exit 2.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tasksCommand, runTasks } from "../../src/cli/tasks.js";
import type { CommandIo } from "../../src/cli/agents.js";
import {
  Agent,
  JunoClient,
  NonRetryableError,
  type TaskStatusPage,
  type TaskView,
} from "../../src/client/index.js";
import { parseTasksCommand, type TasksCommand } from "../../src/config/tasks-command.js";
import { tasksState } from "../../src/tasks/index.js";
import { ApiCluster } from "../server/cluster.js";
import { until } from "../support/local-node.js";

let cluster: ApiCluster;
let urls: string[];
let agent: Agent;

beforeAll(async () => {
  cluster = await ApiCluster.start(
    null,
    ["n1", "n2", "n3"],
    { heartbeatIntervalMs: 100, failureTimeoutMs: 1_500, healthCheckIntervalMs: 300 },
    { settings: { breakerThreshold: 100 }, tickMs: 50, redispatchMs: 200 },
  );
  const leader = await cluster.leader();
  await until(() => leader.node.view.state(tasksState).settings.breakerThreshold === 100);
  urls = [...cluster.members.values()].map((member) => `http://${member.http}`);
  agent = new Agent({
    urls,
    name: "cli-worker",
    endpoint: "http://127.0.0.1:9/cli-worker",
    team: "build",
    skills: ["cli-echo"],
    capacity: 2,
    healthCheck: { type: "none" },
    pollWaitMs: 1_000,
    busyPollWaitMs: 200,
  });
  agent.handle("echo", (_task, context) => ({ echoed: context.data }));
  agent.handle("refuse", () => {
    throw new NonRetryableError("not today");
  });
  await agent.start();
});
afterAll(async () => {
  await agent.stop();
  // A poll cut short by stop() can leave a connection that never carried a request; let it go.
  for (const member of cluster.members.values()) member.app.server.closeAllConnections();
  await cluster.stop();
});

/** Buffers in place of stdout and stderr. */
function buffers(): CommandIo & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    out: () => out,
    err: () => err,
  };
}

function command(argv: readonly string[]): TasksCommand {
  const parsed = parseTasksCommand(argv, { JUNO_URL: urls.join(",") });
  if (parsed instanceof Error) throw parsed;
  return parsed;
}

/** Runs `juno tasks <argv>`; --wait reads the task every 20 ms. */
async function run(argv: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  const io = buffers();
  const code = await runTasks(command(argv), io, { sleep: () => Promise.resolve() }, { intervalMs: 20 });
  return { code, out: io.out(), err: io.err() };
}

/** The id in "submitted <id>: ..." (on stdout). */
function submittedId(text: string): string {
  const match = /submitted (?:\(same idempotency key\) )?([0-9a-f-]{36}):/.exec(text);
  if (match?.[1] === undefined) throw new Error(`no task id in ${JSON.stringify(text)}`);
  return match[1];
}

describe("juno tasks submit", () => {
  it("prints the task and why it waits; the same key answers the same task", async () => {
    const first = await run([
      "submit",
      "--type",
      "build",
      "--team",
      "cli-a",
      "--skill",
      "rust",
      "--skill=wasm",
      "--priority",
      "7",
      "--data",
      '{"repo":"web"}',
      "--idempotency-key",
      "cli-key-1",
    ]);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(
      /^submitted [0-9a-f-]{36}: queued for attempt 1\/3: no agent has skills rust, wasm\n$/,
    );
    const id = submittedId(first.out);
    const task = await new JunoClient({ urls }).getTask(id);
    expect(task).toMatchObject({
      priority: 7,
      team: "cli-a",
      data: { repo: "web" },
      requirements: { skills: ["rust", "wasm"] },
    });
    const again = await run([
      "submit",
      "--type",
      "build",
      "--team",
      "cli-a",
      "--idempotency-key",
      "cli-key-1",
    ]);
    expect(again.out).toMatch(new RegExp(`^already submitted \\(same idempotency key\\) ${id}: `));
    const json = await run([
      "submit",
      "--type",
      "build",
      "--team",
      "cli-a",
      "--json",
      "--idempotency-key=cli-key-1",
    ]);
    expect(JSON.parse(json.out)).toMatchObject({ created: false, task: { id } });
  });

  it("--wait follows the task an agent runs to its end, and exits 0 when it succeeded", async () => {
    const { code, out, err } = await run([
      "submit",
      "--type",
      "echo",
      "--team",
      "cli-b",
      "--skill",
      "cli-echo",
      "--data",
      "[1,2]",
      "--wait",
    ]);
    expect(code, err).toBe(0);
    // Without a terminal, nothing but the outcome is printed.
    expect(err).toBe("");
    expect(out).toMatch(/^succeeded in attempt 1\/3: [0-9a-f-]{36}\nresult: \{"echoed":\[1,2\]\}\n$/);
  });

  it("--wait exits 1 when the task failed, or is not finished in time", async () => {
    const failed = await run([
      "submit",
      "--type",
      "refuse",
      "--team",
      "cli-c",
      "--skill",
      "cli-echo",
      "--wait",
    ]);
    expect(failed.code).toBe(1);
    expect(failed.out).toMatch(/^failed in attempt 1\/3: not today: [0-9a-f-]{36}\n$/);
    const stuck = await run([
      "submit",
      "--type",
      "x",
      "--team",
      "cli-c",
      "--skill",
      "nobody",
      "--wait",
      "--wait-timeout",
      "1",
      "--json",
    ]);
    expect(stuck.code).toBe(1);
    const error = JSON.parse(stuck.err) as { error: { code: string; message: string } };
    expect(error.error.code).toBe("wait_timeout");
    expect(error.error.message).toMatch(/is not finished after 1 s \(queued\); it goes on$/);
    expect((JSON.parse(stuck.out) as { task: TaskView }).task.status).toBe("queued");
  });
});

describe("juno tasks ls, show, cancel, metrics", () => {
  it("ls prints the counts and a filtered page, and says where the next page starts", async () => {
    for (const n of [1, 2]) {
      await run(["submit", "--type", `ls-${n}`, "--team", "cli-ls", "--skill", "nobody"]);
    }
    const { code, out } = await run(["ls", "--team", "cli-ls", "--status", "queued"]);
    expect(code).toBe(0);
    const lines = out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^\d+ tasks: queued \d+/);
    expect(lines[1]).toMatch(/^ID\s+TYPE\s+TEAM\s+PRIORITY\s+STATUS\s+ATTEMPT\s+AGENT\s+CREATED$/);
    expect(lines.slice(2).map((line) => line.split(/\s+/)[1])).toEqual(["ls-1", "ls-2"]);
    expect(lines[2]).toMatch(/\s+cli-ls\s+5\s+queued\s+0\/3\s+-\s+\d{4}-/);
    const paged = await run(["ls", "--team", "cli-ls", "--limit", "1", "--json"]);
    const page = JSON.parse(paged.out) as TaskStatusPage;
    expect(page.tasks.map((task) => task.task_type)).toEqual(["ls-1"]);
    // With --json the cursor is in the document, and stderr stays empty.
    expect(paged.err).toBe("");
    const hinted = await run(["ls", "--team", "cli-ls", "--limit", "1"]);
    expect(hinted.err).toBe(`juno tasks ls: more tasks follow: --cursor ${page.next_cursor}\n`);
    expect((await run(["ls", "--team", "cli-ls", "--limit", "1", "--quiet"])).err).toBe("");
    const next = await run(["ls", "--team", "cli-ls", "--cursor", page.next_cursor ?? ""]);
    expect(next.out).toContain("ls-2");
    expect(next.out).not.toContain("ls-1");
    expect((await run(["ls", "--team", "no-such-team"])).out).toMatch(/\nno tasks match\n$/);
  });

  it("show prints one task's fields or its JSON; cancel cancels it once", async () => {
    const submitted = await run([
      "submit",
      "--type",
      "show",
      "--team",
      "cli-show",
      "--skill",
      "nobody",
      "--data",
      '{"a":1}',
    ]);
    const id = submittedId(submitted.out);
    const shown = await run(["show", id]);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(new RegExp(`^id\\s+${id}\\n`));
    expect(shown.out).toMatch(/\nstatus\s+queued for attempt 1\/3: no agent has skills nobody\n/);
    expect(shown.out).toMatch(/\ndata\s+\{"a":1\}\n/);
    expect(JSON.parse((await run(["show", id, "--json"])).out)).toMatchObject({
      task: { id, status: "queued" },
    });
    const cancelled = await run(["cancel", id]);
    expect(cancelled).toMatchObject({ code: 0, out: `cancelled ${id}\n` });
    const again = await run(["cancel", id]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^juno tasks cancel: error \[task_finished\]: /);
    const missing = await run(["show", "00000000-0000-4000-8000-000000000000"]);
    expect(missing.code).toBe(3);
    expect(missing.err).toMatch(/^juno tasks show: error \[task_not_found\]: /);
  });

  it("metrics prints the queue and the agents holding tasks, or their JSON", async () => {
    await run(["submit", "--type", "m", "--team", "cli-metrics", "--skill", "nobody"]);
    const { code, out } = await run(["metrics"]);
    expect(code).toBe(0);
    expect(out).toMatch(/^tasks\s+.*queued: \d+/);
    expect(out).toMatch(/\nqueue depth\s+\d+ \(oldest [0-9a-f-]{36}, waiting \d+ ms\)\n/);
    expect(out).toMatch(/\nby team\s+.*cli-metrics: 1/);
    expect(out).toMatch(
      /\nassignment\s+(no placements yet|p50 [\d.]+ ms, p99 [\d.]+ ms \(last \d+ placements\))\n/,
    );
    expect(out).toMatch(/\ncompleted\s+\d+ in the last minute\n/);
    expect(out).toMatch(
      /\nsince start\s+assigned \d+, started \d+ \(\d+ by reports\), completed \d+, retried \d+, dead-lettered \d+\n/,
    );
    const metrics = JSON.parse((await run(["metrics", "--json"])).out) as {
      queue: { by_team: Record<string, number> };
    };
    expect(metrics.queue.by_team["cli-metrics"]).toBe(1);
  });
});

describe("tasksCommand", () => {
  it("prints help, and refuses bad arguments with exit 2", async () => {
    const help = buffers();
    expect(await tasksCommand(["submit", "--help"], {}, help)).toBe(0);
    expect(help.out()).toContain("usage: juno tasks submit [flags]");
    const bad = buffers();
    expect(await tasksCommand(["submit", "--type", "x"], {}, bad)).toBe(2);
    expect(bad.err()).toMatch(/^juno tasks: error \[missing_required\]: juno tasks submit needs --team/);
    const unreachable = buffers();
    expect(await tasksCommand(["ls", "--url", "http://127.0.0.1:1"], {}, unreachable)).toBe(1);
    expect(unreachable.err()).toContain("[unreachable]");
  });
});
