// Proves `juno workflows` and the SDK's workflow methods end to end against a real three-node
// cluster in this process with SDK agents of three teams: a YAML pipeline submitted with --watch
// runs to success, drawn as appended lines (or redrawn on a terminal) with a line per step and a
// bar per team, exit 0; ls, show, watch, cancel, event, trigger and definitions do what they say,
// each with --json; an invalid definition exits 1 printing every problem's path; bad arguments
// and unreadable files exit 2; watchWorkflow hands on every change in revision order and moves to
// the next node when its stream breaks (its event-stream reader reads events cut anywhere); a
// delegated step's coordinator expands its task into a
// sub-workflow with context.expand, and the step ends with the sub-workflow's output or failure.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runWorkflows, workflowsCommand, type WorkflowsIo } from "../../src/cli/workflows.js";
import {
  Agent,
  JunoClient,
  NonRetryableError,
  type DefinitionSummary,
  type WorkflowDefinitionInput,
  type WorkflowPage,
  type WorkflowView,
} from "../../src/client/index.js";
import { EventStreamReader, type StreamEvent } from "../../src/client/event-stream.js";
import { parseWorkflowsCommand, type WorkflowsCommand } from "../../src/config/workflows-command.js";
import { ApiCluster } from "../server/cluster.js";

let cluster: ApiCluster;
let urls: string[];
let dir: string;
const agents: Agent[] = [];
/** The ids of the agents, by team. */
const agentIds = new Map<string, string>();

/** The sub-workflow a coordinator expands a `rollout` task into; `fail` makes its step fail. */
function rolloutPlan(fail: boolean): WorkflowDefinitionInput {
  return {
    name: "wf-cli-rollout-plan",
    teams: ["platform"],
    steps: [
      {
        id: "staging",
        team: "platform",
        task_type: "wf-echo",
        skills: ["wf-echo"],
        input: "{{input.image}}",
      },
      {
        id: "production",
        team: "platform",
        task_type: fail ? "wf-boom" : "wf-echo",
        skills: ["wf-echo"],
        depends_on: ["staging"],
        input: "{{steps.staging.output.echoed}}",
      },
    ],
    output: { deployed: "{{steps.production.output.echoed}}" },
  };
}

beforeAll(async () => {
  cluster = await ApiCluster.start(
    null,
    ["n1", "n2", "n3"],
    { heartbeatIntervalMs: 100, failureTimeoutMs: 3_000 },
    { tickMs: 50, redispatchMs: 200 },
  );
  await cluster.leader();
  urls = [...cluster.members.values()].map((member) => `http://${member.http}`);
  dir = mkdtempSync(join(tmpdir(), "juno-workflows-cli-"));
  for (const team of ["build", "test", "platform"]) {
    const agent = new Agent({
      urls,
      name: `wf-cli-${team}`,
      endpoint: `http://127.0.0.1:9/wf-cli-${team}`,
      team,
      skills: team === "platform" ? ["wf-echo", "coordinator"] : ["wf-echo"],
      capacity: 4,
      healthCheck: { type: "none" },
      pollWaitMs: 1_000,
      busyPollWaitMs: 200,
    });
    agent.handle("wf-echo", (_task, context) => ({ team, echoed: context.data }));
    agent.handle("wf-boom", () => {
      throw new NonRetryableError("it went boom");
    });
    agent.handle(
      "wf-hold",
      (_task, context) => new Promise((resolve) => context.signal.addEventListener("abort", resolve)),
    );
    agent.handle("rollout", (_task, context) => {
      const data = context.data as { image: string; fail?: boolean };
      return context.expand(rolloutPlan(data.fail === true), { image: data.image });
    });
    await agent.start();
    agents.push(agent);
    agentIds.set(team, agent.id ?? "");
  }
});

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.stop()));
  // A poll cut short by stop() can leave a connection that never carried a request; let it go.
  for (const member of cluster.members.values()) member.app.server.closeAllConnections();
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

/** Buffers in place of stdout and stderr; stdout says it is a terminal when `terminal`. */
function buffers(terminal = false, stdin = ""): WorkflowsIo & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    stdout: { write: (text: string) => (out += text), isTTY: terminal, columns: 200 },
    stderr: { write: (text: string) => (err += text) },
    stdin: Readable.from([stdin]),
    out: () => out,
    err: () => err,
  };
}

function command(argv: readonly string[]): WorkflowsCommand {
  const parsed = parseWorkflowsCommand(argv, { JUNO_URL: urls.join(",") });
  if (parsed instanceof Error) throw parsed;
  return parsed;
}

/** Runs `juno workflows <argv>`. */
async function run(
  argv: readonly string[],
  options: { terminal?: boolean; stdin?: string } = {},
): Promise<{ code: number; out: string; err: string }> {
  const io = buffers(options.terminal, options.stdin);
  const code = await runWorkflows(command(argv), io, { sleep: () => Promise.resolve() });
  return { code, out: io.out(), err: io.err() };
}

/** Writes `text` to a file of the test's directory; its path. */
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The run id in "created <id> (...)" or "workflow <id> (...)". */
function runId(text: string): string {
  const match = /(?:created|workflow|started) ([0-9a-f-]{36}) \(/.exec(text);
  if (match?.[1] === undefined) throw new Error(`no run id in ${JSON.stringify(text)}`);
  return match[1];
}

const PIPELINE = `# build, then test
---
name: wf-cli-pipeline
teams: [build, test]
pattern: pipeline
input:
  service: api
steps:
  - id: build
    team: build
    task_type: wf-echo
    skills: [wf-echo]
    input: { image: "registry/{{input.service}}" }
  - id: test
    team: test
    task_type: wf-echo
    skills: [wf-echo]
    input: "{{steps.build.output.echoed.image}}"
output:
  tested: "{{steps.test.output.echoed}}"
`;

describe("juno workflows submit", () => {
  it("--watch follows a YAML pipeline to success in appended lines, and exits 0", async () => {
    const path = file("pipeline.yaml", PIPELINE);
    const { code, out, err } = await run(["submit", "-f", path, "--input", "service=web", "--watch"]);
    expect(code, err).toBe(0);
    // Without a terminal on stderr no progress is shown there; the drawing is the output.
    expect(err).toBe("");
    const id = runId(out);
    const lines = out.trimEnd().split("\n");
    expect(lines[0]).toMatch(
      new RegExp(`^workflow ${id} \\(wf-cli-pipeline v1\\): running, 0% \\(0/2 steps\\)$`),
    );
    expect(lines).toContain("team build: [..........] 0% (0/1)");
    expect(lines).toContain(`step build: succeeded (team build, attempts 1, agent ${agentIds.get("build")})`);
    expect(lines).toContain(`step test: succeeded (team test, attempts 1, agent ${agentIds.get("test")})`);
    expect(lines).toContain("team build: [##########] 100% (1/1)");
    expect(lines).toContain("team test: [##########] 100% (1/1)");
    // Appended lines say only what changed: the first drawing of a line is never repeated.
    expect(lines.filter((line) => line === "team build: [..........] 0% (0/1)")).toHaveLength(1);
    expect(lines.slice(-2)).toEqual([`succeeded: ${id}`, 'output: {"tested":"registry/web"}']);
  });

  it("--watch on a terminal redraws the drawing in place; --json prints a line of JSON per change", async () => {
    const shown = await run(["submit", "-f", file("redraw.yaml", PIPELINE), "--watch"], { terminal: true });
    expect(shown.code, shown.err).toBe(0);
    expect(shown.out).toContain("\u001b[");
    expect(shown.out).toMatch(/ {2}STEP\s+STATUS\s+TEAM\s+ATTEMPTS\s+AGENT\n/);
    expect(shown.out).toMatch(/ {2}team build {2}\[##########\] 100% {2}1\/1 done\n/);
    const quiet = await run(["submit", "-f", file("quiet.yaml", PIPELINE), "--watch", "--json"], {
      terminal: true,
    });
    expect(quiet.code).toBe(0);
    const lines = quiet.out
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as { workflow: WorkflowView });
    // The first line is the creation's answer, then the run after each change; the last as it ended.
    expect(lines[0]).toMatchObject({ created: true, workflow: { status: "running" } });
    const final = lines.at(-1)?.workflow;
    expect(final).toMatchObject({ status: "succeeded", output: { tested: "registry/api" } });
    const revisions = lines.slice(1).map((line) => line.workflow.revision);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    expect(quiet.err).toBe("");
  });

  it("reads JSON from stdin; --no-execute leaves the run created; a key answers the same run", async () => {
    const definition = JSON.stringify({
      name: "wf-cli-created",
      teams: ["build"],
      steps: [{ id: "only", team: "build", task_type: "wf-echo", skills: ["wf-echo"] }],
    });
    const argv = ["submit", "-f", "-", "--no-execute", "--team", "build", "--idempotency-key", "wf-cli-1"];
    const first = await run(argv, { stdin: definition });
    expect(first.code, first.err).toBe(0);
    const id = runId(first.out);
    expect(first.out).toBe(`created ${id} (wf-cli-created v1): created\n`);
    const again = await run([...argv, "--json"], { stdin: definition });
    expect(JSON.parse(again.out)).toMatchObject({ created: false, workflow: { id, status: "created" } });
  });

  it("refuses an invalid definition with every problem's path, exit 1", async () => {
    const path = file(
      "bad.yaml",
      "name: wf-cli-bad\nteams: [build]\nsteps:\n  - { id: a, team: build, task_type: x }\n" +
        "  - { id: b, team: nowhere, task_type: x, depends_on: [missing] }\n",
    );
    const { code, out, err } = await run(["submit", "-f", path]);
    expect(code).toBe(1);
    expect(out).toBe("");
    const lines = err.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^juno workflows submit: error \[invalid_definition\]: .* \(and 1 more\)$/);
    expect(lines.slice(1)).toEqual([
      '  /steps/1/team: step "b": team "nowhere" is not in teams [unknown_team]',
      '  /steps/1/depends_on/0: step "b" depends on unknown step "missing" [unknown_dependency]',
    ]);
    const syntax = await run(["submit", "-f", file("broken.yaml", "name: [x\nsteps: 1\n")]);
    expect(syntax.code).toBe(1);
    expect(syntax.err).toMatch(
      /error \[invalid_definition\]: not valid YAML: .*\n {2}\/: .* \[invalid_syntax\]\n$/,
    );
  });
});

describe("juno workflows ls, show, watch, cancel, event", () => {
  it("ls lists runs of a status and team; show prints a run; cancel cancels it once", async () => {
    const definition = file(
      "hold.yaml",
      "name: wf-cli-hold\nteams: [build]\nsteps:\n  - { id: hold, team: build, task_type: wf-hold, skills: [wf-echo] }\n",
    );
    const submitted = await run(["submit", "-f", definition]);
    const id = runId(submitted.out);
    const listed = await run(["ls", "--status", "running", "--team", "build"]);
    expect(listed.code).toBe(0);
    const lines = listed.out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^\d+ runs: .*running \d+/);
    expect(lines[1]).toMatch(/^ID\s+NAME\s+VERSION\s+STATUS\s+TEAM\s+PROGRESS\s+CREATED$/);
    expect(lines.find((line) => line.startsWith(id))).toMatch(
      /\s+wf-cli-hold\s+1\s+running\s+build\s+0% \(0\/1\)\s+/,
    );
    const page = JSON.parse((await run(["ls", "--name", "wf-cli-hold", "--json"])).out) as WorkflowPage;
    expect(page.workflows.map((workflow) => workflow.id)).toEqual([id]);
    const shown = await run(["show", id]);
    expect(shown.out).toMatch(new RegExp(`^id\\s+${id}\\n`));
    expect(shown.out).toMatch(/\nstatus\s+running \(forward\)\n/);
    expect(shown.out).toMatch(/\n {2}hold\s+running\s+build\s+1\s+[0-9a-f-]{36}\n/);
    expect(JSON.parse((await run(["show", id, "--json"])).out)).toMatchObject({ workflow: { id } });
    const cancelled = await run(["cancel", id, "--reason", "enough"]);
    expect(cancelled).toMatchObject({ code: 0, out: `cancelled ${id}\n` });
    const again = await run(["cancel", id]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^juno workflows cancel: error \[workflow_ended\]: /);
    const watched = await run(["watch", id]);
    expect(watched.code).toBe(1);
    expect(watched.out.trimEnd().split("\n").at(-1)).toBe(`cancelled: ${id}`);
    const missing = await run(["show", "00000000-0000-4000-8000-000000000000"]);
    expect(missing.code).toBe(3);
    expect(missing.err).toMatch(/^juno workflows show: error \[workflow_not_found\]: /);
  });

  it("event delivers once; the step waiting for it takes its data and the run goes on", async () => {
    const definition = file(
      "event.yaml",
      [
        "name: wf-cli-event",
        "teams: [build]",
        "steps:",
        "  - { id: approval, team: build, type: event, event: go }",
        "  - { id: after, team: build, task_type: wf-echo, skills: [wf-echo], depends_on: [approval], input: '{{steps.approval.output}}' }",
        "",
      ].join("\n"),
    );
    const id = runId((await run(["submit", "-f", definition])).out);
    const sent = await run(["event", id, "go", "--data-json", '{"by":"ops"}']);
    expect(sent.code, sent.err).toBe(0);
    expect(sent.out).toMatch(new RegExp(`^delivered event go to ${id}; the run is (running|succeeded)\\n$`));
    const repeat = await run(["event", id, "go", "--json"]);
    expect(JSON.parse(repeat.out)).toMatchObject({ applied: false, ignored: { code: "duplicate_event" } });
    const watched = await run(["watch", id]);
    expect(watched.code).toBe(0);
    expect(watched.out).toContain('output: {"after":{"team":"build","echoed":{"by":"ops"}}}');
  });
});

describe("juno workflows definitions and trigger", () => {
  it("registers a definition once, lists it, and a trigger starts it with the data as input", async () => {
    const definition = file(
      "triggered.yml",
      [
        "name: wf-cli-triggered",
        "version: 1",
        "teams: [test]",
        "trigger: { event: wf-cli-deploy-requested }",
        "steps:",
        "  - { id: check, team: test, task_type: wf-echo, skills: [wf-echo], input: '{{input.service}}' }",
        "",
      ].join("\n"),
    );
    const registered = await run(["definitions", "register", "-f", definition]);
    expect(registered).toMatchObject({ code: 0, out: "registered wf-cli-triggered version 1\n" });
    const again = await run(["definitions", "register", "--file", definition, "--json"]);
    expect(JSON.parse(again.out)).toEqual({ name: "wf-cli-triggered", version: 1, created: false });
    const listed = await run(["definitions", "ls"]);
    expect(listed.out).toMatch(/^NAME\s+VERSION\s+TEAMS\s+STEPS\s+TRIGGER\s+REGISTERED\n/);
    expect(listed.out).toMatch(/\nwf-cli-triggered\s+1\s+test\s+1\s+wf-cli-deploy-requested\s+\d{4}-/);
    const json = JSON.parse(
      (await run(["definitions", "ls", "--name", "wf-cli-triggered", "--json"])).out,
    ) as {
      definitions: DefinitionSummary[];
    };
    expect(json.definitions.map((summary) => summary.version)).toEqual([1]);
    const triggered = await run([
      "trigger",
      "wf-cli-deploy-requested",
      "--data-json",
      '{"service":"billing"}',
    ]);
    expect(triggered.code, triggered.err).toBe(0);
    expect(triggered.out).toMatch(/^started [0-9a-f-]{36} \(wf-cli-triggered v1\)\n$/);
    const watched = await run(["watch", runId(triggered.out), "--json"]);
    expect(JSON.parse(watched.out.trimEnd().split("\n").at(-1) ?? "")).toMatchObject({
      workflow: { status: "succeeded", registered: true, output: { check: { echoed: "billing" } } },
    });
    const nothing = await run(["trigger", "wf-cli-nobody-listens"]);
    expect(nothing.out).toBe("no registered definition starts on wf-cli-nobody-listens\n");
  });
});

describe("workflowsCommand", () => {
  it("prints help, and refuses bad arguments and unreadable files with exit 2", async () => {
    const help = buffers();
    expect(await workflowsCommand(["submit", "--help"], {}, help)).toBe(0);
    expect(help.out()).toContain("usage: juno workflows submit -f <file> [flags]");
    const all = buffers();
    expect(await workflowsCommand(["--help"], {}, all)).toBe(0);
    expect(all.out()).toContain("definitions register -f <file>");
    const missing = buffers();
    expect(await workflowsCommand(["submit"], {}, missing)).toBe(2);
    expect(missing.err()).toMatch(/^juno workflows: error \[missing_required\]: /);
    const conflicting = buffers();
    expect(
      await workflowsCommand(["submit", "-f", "x.yaml", "--watch", "--no-execute"], {}, conflicting),
    ).toBe(2);
    expect(conflicting.err()).toContain("[conflicting_settings]");
    const pair = buffers();
    expect(await workflowsCommand(["submit", "-f", "x.yaml", "--input", "novalue"], {}, pair)).toBe(2);
    expect(pair.err()).toContain("[missing_value]");
    const unreadable = await run(["submit", "-f", join(dir, "no-such-file.yaml")]);
    expect(unreadable.code).toBe(2);
    expect(unreadable.err).toMatch(
      /^juno workflows submit: error \[unreadable_file\]: cannot read .*no-such-file\.yaml: /,
    );
    const notJson = await run(["submit", "-f", file("broken.json", "{nope")]);
    expect(notJson.code).toBe(2);
    expect(notJson.err).toMatch(/broken\.json is not JSON: /);
  });
});

describe("the SDK's workflows", () => {
  it("watchWorkflow hands on every change in revision order, and moves on when a stream breaks", async () => {
    const watched: string[] = [];
    let broken = false;
    // The first stream is cut after its first chunk, as a node that dies mid-stream would cut it.
    const cutting: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      // The client calls fetch with the URL as a string.
      const url = input as string;
      if (!url.endsWith("/watch")) return response;
      watched.push(new URL(url).host);
      if (broken || response.body === null) return response;
      broken = true;
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent) {
            await reader.cancel();
            controller.error(new Error("the connection broke"));
            return;
          }
          sent = true;
          const chunk = await reader.read();
          if (chunk.value !== undefined) controller.enqueue(chunk.value);
        },
      });
      return new Response(body, { status: response.status, headers: response.headers });
    };
    const client = new JunoClient({ urls, fetch: cutting, retry: { initialMs: 10, maxMs: 50 } });
    const { workflow } = await client.createWorkflow({
      definition: {
        name: "wf-cli-sdk-watch",
        teams: ["build", "test"],
        pattern: "pipeline",
        steps: [
          { id: "one", team: "build", task_type: "wf-echo", skills: ["wf-echo"], input: 1 },
          { id: "two", team: "test", task_type: "wf-echo", skills: ["wf-echo"], input: 2 },
        ],
      },
      execute: true,
    });
    const revisions: number[] = [];
    const final = await client.watchWorkflow(workflow.id, (view) => revisions.push(view.revision));
    expect(final.status).toBe("succeeded");
    expect(final.steps.map((step) => step.output)).toEqual([
      { team: "build", echoed: 1 },
      { team: "test", echoed: 2 },
    ]);
    expect(revisions.at(-1)).toBe(final.revision);
    expect(revisions).toEqual([...new Set(revisions)].sort((a, b) => a - b));
    expect(watched.length).toBeGreaterThanOrEqual(2);
    expect(watched[1]).not.toBe(watched[0]);
    const aborted = new AbortController();
    aborted.abort();
    await expect(
      client.watchWorkflow(workflow.id, () => undefined, { signal: aborted.signal }),
    ).rejects.toMatchObject({
      code: "aborted",
    });
  });

  it("a coordinator's context.expand runs a sub-workflow whose output ends the delegated step", async () => {
    const client = new JunoClient({ urls });
    const parent = (fail: boolean): WorkflowDefinitionInput => ({
      name: "wf-cli-delegating",
      teams: ["build", "platform"],
      steps: [
        {
          id: "rollout",
          team: "build",
          delegate_to: "platform",
          task_type: "rollout",
          input: { image: "registry/api:2", fail },
        },
      ],
      output: { rollout: "{{steps.rollout.output}}" },
    });
    const { workflow } = await client.createWorkflow({ definition: parent(false), execute: true });
    const final = await client.watchWorkflow(workflow.id, () => undefined);
    expect(final.status, JSON.stringify(final.failure)).toBe("succeeded");
    const step = final.steps[0];
    expect(step).toMatchObject({
      status: "succeeded",
      delegate_to: "platform",
      agent_id: agentIds.get("platform"),
    });
    expect(final.output).toEqual({ rollout: { deployed: "registry/api:2" } });
    const children = await client.listWorkflows({ name: "wf-cli-rollout-plan" });
    const child = await client.getWorkflow(children.workflows[0]?.id ?? "");
    expect(child).toMatchObject({
      status: "succeeded",
      expands_task: step?.task_id,
      idempotency_key: `expand:${step?.task_id}`,
    });

    const failing = await client.createWorkflow({ definition: parent(true), execute: true });
    const failed = await client.watchWorkflow(failing.workflow.id, () => undefined);
    expect(failed.status).toBe("failed");
    expect(failed.steps[0]?.error?.message).toMatch(
      /^the sub-workflow [0-9a-f-]{36} expanding this task failed/,
    );
  });
});

describe("EventStreamReader", () => {
  it("reads the same events however the stream is cut, and refuses an event past its bound", () => {
    const stream =
      ': keep-alive\r\n\r\nevent: workflow\r\nid: 7\r\ndata: {"a":\r\ndata:1}\r\n\r\n' +
      "event: end\rdata: {}\r\r: done\n";
    const expected: StreamEvent[] = [
      { name: "workflow", data: '{"a":\n1}', id: "7" },
      { name: "end", data: "{}", id: "7" },
    ];
    for (let cut = 0; cut <= stream.length; cut++) {
      const reader = new EventStreamReader(1_000);
      const events = [...reader.push(stream.slice(0, cut)), ...reader.push(stream.slice(cut))];
      expect(events, `cut at ${cut}`).toEqual(expected);
    }
    const bounded = new EventStreamReader(10);
    expect(() => bounded.push("data: 0123456789\n")).toThrow(RangeError);
  });
});
