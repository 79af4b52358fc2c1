// Proves `juno members` and `juno status` against a real three-node cluster in this process: ls
// lists every member with its role and replication as the leader sees it (asked through a
// follower too); add takes a fourth node that joins, and --wait returns once the leader has
// promoted it; transfer --wait returns once the member leads; rm removes; a member that does not
// exist exits 3 (member_not_found). Status shows the leader, the members and the agents, tasks
// and workflows by status, or the cluster alone. The --json output of every command and action
// of the CLI parses (NDJSON for watches), and progress lines appear on stderr only when it is a
// terminal, never with --json or --quiet, and never on stdout.

import type { FastifyInstance } from "fastify";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAgents } from "../../src/cli/agents.js";
import { runMembers } from "../../src/cli/members.js";
import type { CommandIo } from "../../src/cli/output.js";
import { runStatus } from "../../src/cli/status.js";
import { runTasks } from "../../src/cli/tasks.js";
import { runWorkflows } from "../../src/cli/workflows.js";
import { JunoClient } from "../../src/client/index.js";
import { parseAgentsCommand } from "../../src/config/agents-command.js";
import { parseMembersCommand } from "../../src/config/members-command.js";
import { parseStatusCommand } from "../../src/config/status-command.js";
import { parseTasksCommand } from "../../src/config/tasks-command.js";
import { parseWorkflowsCommand } from "../../src/config/workflows-command.js";
import { ApiCluster, type Member } from "../server/cluster.js";
import { refusingUrl } from "./fake-juno.js";
import { createLocalApp, createLocalNode, until } from "../support/local-node.js";

let cluster: ApiCluster;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  cluster = await ApiCluster.start();
  await cluster.leader();
  dir = mkdtempSync(join(tmpdir(), "juno-members-cli-"));
  env = { JUNO_NODES: [...cluster.members.values()].map((member) => member.http).join(",") };
});

afterAll(async () => {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Buffers in place of stdout and stderr; stderr says it is a terminal when `terminal`. */
function buffers(terminal = false): CommandIo & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text), isTTY: terminal, columns: 200 },
    out: () => out,
    err: () => err,
  };
}

interface Result {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** What each command's argv goes through: parse it as `juno` would, then run it with retries that wait no time. */
const COMMANDS = {
  members: async (argv: readonly string[], io: CommandIo) => {
    const parsed = parseMembersCommand(argv, env);
    if (parsed instanceof Error) throw parsed;
    return runMembers(parsed, io, { sleep: () => Promise.resolve() }, { intervalMs: 20 });
  },
  status: async (argv: readonly string[], io: CommandIo) => {
    const parsed = parseStatusCommand(argv, env);
    if (parsed instanceof Error) throw parsed;
    return runStatus(parsed, io, { sleep: () => Promise.resolve() }, { intervalMs: 20 });
  },
  agents: async (argv: readonly string[], io: CommandIo) => {
    const parsed = parseAgentsCommand(argv, env);
    if (parsed instanceof Error) throw parsed;
    return runAgents(parsed, io, { sleep: () => Promise.resolve() });
  },
  tasks: async (argv: readonly string[], io: CommandIo) => {
    const parsed = parseTasksCommand(argv, env);
    if (parsed instanceof Error) throw parsed;
    return runTasks(parsed, io, { sleep: () => Promise.resolve() }, { intervalMs: 20 });
  },
  workflows: async (argv: readonly string[], io: CommandIo) => {
    const parsed = parseWorkflowsCommand(argv, env);
    if (parsed instanceof Error) throw parsed;
    return runWorkflows(
      { ...parsed },
      { ...io, stdin: Readable.from([""]) },
      { sleep: () => Promise.resolve() },
    );
  },
} as const;

/** Runs `juno <command> <argv>`; stderr is a terminal when `terminal`. */
async function juno(
  command: keyof typeof COMMANDS,
  argv: readonly string[],
  terminal = false,
): Promise<Result> {
  const io = buffers(terminal);
  const code = await COMMANDS[command](argv, io);
  return { code, out: io.out(), err: io.err() };
}

/** Starts a node that joins the cluster (it waits to be added), with its own HTTP server. */
async function startJoiner(id: string): Promise<Member> {
  const httpOf = (memberId: string): string | null => cluster.members.get(memberId)?.http ?? null;
  const local = createLocalNode({ id, dir, network: cluster.network, founders: null, httpOf });
  const app: FastifyInstance = await createLocalApp(local, null, httpOf);
  const member: Member = { node: local.node, store: local.store, app, http: "" };
  cluster.members.set(id, member);
  local.node.start();
  member.http = (await app.listen({ host: "127.0.0.1", port: 0 })).replace("http://", "");
  return member;
}

interface MembersJson {
  node_id: string;
  leader_id: string;
  term: number;
  members: {
    id: string;
    role: string;
    voter: boolean;
    http_addr: string | null;
    lag_entries: number | null;
  }[];
}

describe("juno members", () => {
  it("ls lists the members with their roles and replication, as the leader sees it", async () => {
    const leader = await cluster.leader();
    const { code, out } = await juno("members", ["ls"]);
    expect(code).toBe(0);
    const lines = out.trimEnd().split("\n");
    expect(lines[0]).toMatch(
      new RegExp(`^leader ${leader.node.id}, term \\d+, .*\\(as the leader sees it\\)$`),
    );
    expect(lines[2]).toMatch(/^MEMBER\s+ROLE\s+RAFT\s+HTTP\s+MATCH\s+LAG\s+LAST CONTACT$/);
    expect(lines.find((line) => line.startsWith(leader.node.id))).toMatch(/\s+leader\s+/);
    expect(lines.filter((line) => /^n\d\s+voter\s+/.test(line))).toHaveLength(2);
    // Asked a follower first, the command finds the leader among the nodes given and shows its view.
    const follower = await cluster.follower();
    const nodes = `${follower.http},${leader.http}`;
    const listing = JSON.parse(
      (await juno("members", ["ls", "--json", "--nodes", nodes])).out,
    ) as MembersJson;
    expect(listing.node_id).toBe(leader.node.id);
    expect(listing.members.map((member) => member.role).sort()).toEqual(["leader", "voter", "voter"]);
    expect(listing.members.every((member) => member.lag_entries !== null)).toBe(true);
  });

  it("add --wait takes a joining node and returns once it is promoted; transfer --wait once it leads; rm removes it", async () => {
    const joiner = await startJoiner("n4");
    const added = await juno("members", [
      "add",
      "n4",
      "--raft",
      "127.0.0.1:9",
      "--http",
      joiner.http,
      "--wait",
      "--json",
    ]);
    expect(added.code, added.err).toBe(0);
    expect(JSON.parse(added.out)).toMatchObject({ id: "n4", voter: true });
    const listing = JSON.parse((await juno("members", ["ls", "--json"])).out) as MembersJson;
    expect(listing.members.find((member) => member.id === "n4")).toMatchObject({
      voter: true,
      http_addr: joiner.http,
    });

    const target = (await cluster.follower()).node.id;
    const transferred = await juno("members", ["transfer", target, "--wait", "--json"]);
    expect(transferred.code, transferred.err).toBe(0);
    expect(JSON.parse(transferred.out)).toMatchObject({ transferring_to: target, leader_id: target });
    await until(() => cluster.members.get(target)?.node.isLeader() === true);
    expect((await juno("members", ["transfer", target, "--wait"])).out).toMatch(
      new RegExp(`^${target} leads, term \\d+\\n$`),
    );

    const removed = await juno("members", ["rm", "n4"]);
    expect(removed.code, removed.err).toBe(0);
    expect(removed.out).toMatch(/^removed n4 \(log entry \d+\)\n$/);
    joiner.node.stop();
    await joiner.app.close();
    await joiner.store.close();
    cluster.members.delete("n4");
    cluster.network.remove("n4");
  });

  it("a member that does not exist exits 3 with member_not_found; a refusal of the cluster exits 1", async () => {
    const missing = await juno("members", ["rm", "n9"]);
    expect([missing.code, missing.err]).toEqual([
      3,
      "juno members rm: error [member_not_found]: n9 is not a member of the cluster\n",
    ]);
    const json = await juno("members", ["transfer", "n9", "--json"]);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.err)).toEqual({
      error: { code: "member_not_found", message: "n9 is not a member of the cluster", source: "n9" },
    });
    const leader = await cluster.leader();
    const again = await juno("members", ["add", leader.node.id, "--raft", "127.0.0.1:9"]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^juno members add: error \[invalid_config_change\]: /);
  });
});

describe("juno status", () => {
  it("shows the leader, the members, and the agents, tasks and workflows by status", async () => {
    const client = new JunoClient({
      urls: env["JUNO_NODES"]?.split(",").map((node) => `http://${node}`) ?? [],
    });
    await client.registerAgent({
      name: "status-agent",
      endpoint: "http://127.0.0.1:9/status-agent",
      team: "ops",
      capabilities: { skills: ["nothing-here"], capacity: 1 },
      health_check: { type: "none" },
    });
    await client.submitTask({ task_type: "status-task", team: "ops", requirements: { skills: ["nobody"] } });
    const { code, out } = await juno("status", []);
    expect(code).toBe(0);
    expect(out).toMatch(
      /^leader n\d, term \d+, commit index \d+, applied \d+ \(as the leader sees it\)\n\nMEMBER/,
    );
    expect(out).toMatch(/\nagents {5}\d+: .*healthy \d+/);
    expect(out).toMatch(/\ntasks {6}\d+: .*queued \d+/);
    expect(out).toMatch(/\nworkflows {2}\d+: /);
    const json = JSON.parse((await juno("status", ["--json"])).out) as {
      role: string;
      leader_id: string;
      members: unknown[];
      summary: {
        agents: { total: number };
        tasks: { total: number; counts: { queued: number } };
        workflows: { total: number };
      };
    };
    expect(json.role).toBe("leader");
    expect(json.members).toHaveLength(3);
    expect(json.summary.agents.total).toBeGreaterThanOrEqual(1);
    expect(json.summary.tasks.counts.queued).toBeGreaterThanOrEqual(1);
    expect(Object.keys(json.summary.tasks).sort()).toEqual(["counts", "total"]);
    expect(typeof json.summary.workflows.total).toBe("number");
    const alone = await juno("status", ["--cluster-only"]);
    expect(alone.out).not.toContain("agents");
    expect(
      (JSON.parse((await juno("status", ["--cluster-only", "--json"])).out) as { summary: unknown }).summary,
    ).toBeNull();
    // The old flag still names the node to ask. Here no node announces its HTTP address, so the
    // leader cannot be found from a follower alone, and the follower's view is shown, saying so.
    const follower = await cluster.follower();
    const old = await juno("status", ["--http", follower.http, "--cluster-only"]);
    expect(old.out).toMatch(
      new RegExp(
        `^leader n\\d, .*\\(as ${follower.node.id} \\(follower\\) sees it; the leader n\\d has no known HTTP address`,
      ),
    );
  });

  it("--wait returns at once when there is a leader", async () => {
    const waited = await juno("status", ["--wait", "--cluster-only"], true);
    expect(waited.code).toBe(0);
    expect(waited.err).toBe("");
  });
});

describe("--json everywhere", () => {
  it("the output of every command and action parses as JSON, a line each for watches", async () => {
    const definition = join(dir, "json.yaml");
    writeFileSync(
      definition,
      "name: json-sweep\nteams: [ops]\ntrigger: { event: json-sweep-go }\nsteps:\n  - { id: wait, team: ops, type: event, event: go }\n",
    );
    const documents: [keyof typeof COMMANDS, string[]][] = [
      ["status", []],
      ["members", ["ls"]],
      ["agents", ["ls"]],
      ["tasks", ["submit", "--type", "json", "--team", "ops", "--skill", "nobody"]],
      ["tasks", ["ls"]],
      ["tasks", ["metrics"]],
      ["workflows", ["submit", "-f", definition]],
      ["workflows", ["ls"]],
      ["workflows", ["definitions", "register", "-f", definition]],
      ["workflows", ["definitions", "ls"]],
      ["workflows", ["trigger", "json-sweep-go"]],
    ];
    const parsed = new Map<string, Record<string, unknown>>();
    for (const [command, argv] of documents) {
      const result = await juno(command, [...argv, "--json"], true);
      expect(result.code, `${command} ${argv.join(" ")}: ${result.err}`).toBe(0);
      // No progress, no hints: stderr stays empty even on a terminal.
      expect(result.err, `${command} ${argv.join(" ")}`).toBe("");
      parsed.set(`${command} ${argv[0] ?? ""}`, JSON.parse(result.out) as Record<string, unknown>);
    }
    const agentId = ((parsed.get("agents ls")?.["agents"] as { id: string }[])[0] ?? { id: "" }).id;
    const taskId = (parsed.get("tasks submit")?.["task"] as { id: string }).id;
    const runId = (parsed.get("workflows submit")?.["workflow"] as { id: string }).id;
    const more: [keyof typeof COMMANDS, string[]][] = [
      ["agents", ["show", agentId]],
      ["tasks", ["show", taskId]],
      ["tasks", ["cancel", taskId]],
      ["workflows", ["show", runId]],
      ["workflows", ["event", runId, "go"]],
      ["agents", ["rm", agentId]],
    ];
    for (const [command, argv] of more) {
      const result = await juno(command, [...argv, "--json"]);
      expect(result.code, `${command} ${argv.join(" ")}: ${result.err}`).toBe(0);
      expect(() => JSON.parse(result.out) as unknown, `${command} ${argv.join(" ")}`).not.toThrow();
    }
    // A watch prints a line of JSON per change, the last one the run as it ended.
    const watched = await juno("workflows", ["watch", runId, "--json"]);
    const lines = watched.out
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as { workflow: { status: string } });
    expect(lines.at(-1)?.workflow.status).toBe("succeeded");
    const cancelled = await juno("workflows", ["cancel", runId, "--json"]);
    expect(cancelled.code).toBe(1);
    expect(JSON.parse(cancelled.err)).toMatchObject({ error: { code: "workflow_ended" } });
  });
});

describe("progress", () => {
  /** A clock that moves only when the command sleeps, so the seconds shown are exact. */
  function manualClock(): { now: () => number; sleep: (ms: number) => Promise<void> } {
    let nowMs = 0;
    return {
      now: () => nowMs,
      sleep: (ms) => {
        nowMs += ms;
        return Promise.resolve();
      },
    };
  }

  /** `juno tasks submit --wait` of a task no agent can take, waiting 1 s on a manual clock. */
  async function waitForNothing(extra: readonly string[], terminal: boolean): Promise<Result> {
    const parsed = parseTasksCommand(
      [
        "submit",
        "--type",
        "never",
        "--team",
        "ops",
        "--skill",
        "nobody",
        "--wait",
        "--wait-timeout",
        "1",
        ...extra,
      ],
      env,
    );
    if (parsed instanceof Error) throw parsed;
    const io = buffers(terminal);
    const clock = manualClock();
    const code = await runTasks(
      parsed,
      io,
      { sleep: () => Promise.resolve() },
      { intervalMs: 500, ...clock },
    );
    return { code, out: io.out(), err: io.err() };
  }

  it("shows on a terminal: the submission, then where the wait stands with the seconds waited", async () => {
    const { code, out, err } = await waitForNothing([], true);
    expect(code).toBe(1);
    expect(out).toBe("");
    const id = /submitted ([0-9a-f-]{36}): queued/.exec(err)?.[1] ?? "";
    expect(id).not.toBe("");
    expect(err).toContain(`- waiting for ${id}: queued (0 s)`);
    expect(err).toContain(`waiting for ${id}: queued (1 s)`);
    // The status line is erased before the error, which ends the output on a line of its own.
    const erased = "\r\u001b[2K";
    expect(err).toContain(
      `${erased}juno tasks submit: error [wait_timeout]: ${id} is not finished after 1 s`,
    );
    expect(err.endsWith("(queued); it goes on\n")).toBe(true);
  });

  it("never shows off a terminal, with --quiet, or with --json", async () => {
    for (const [extra, terminal] of [
      [[], false],
      [["--quiet"], true],
    ] as const) {
      const { code, err } = await waitForNothing(extra, terminal);
      expect(code).toBe(1);
      expect(err).toMatch(
        /^juno tasks submit: error \[wait_timeout\]: [0-9a-f-]{36} is not finished after 1 s \(queued\); it goes on\n$/,
      );
    }
    const json = await waitForNothing(["--json"], true);
    expect(JSON.parse(json.err)).toMatchObject({ error: { code: "wait_timeout" } });
    expect(JSON.parse(json.out)).toMatchObject({ task: { status: "queued" }, created: true });
  });

  it("status --wait waits for a node to answer, saying so on a terminal, and exits 1 when none does", async () => {
    const parsed = parseStatusCommand(["--wait", "--wait-timeout", "1", "--nodes", await refusingUrl()], {});
    if (parsed instanceof Error) throw parsed;
    const io = buffers(true);
    const code = await runStatus(
      parsed,
      io,
      { sleep: () => Promise.resolve() },
      { intervalMs: 500, ...manualClock() },
    );
    expect(code).toBe(1);
    expect(io.out()).toBe("");
    expect(io.err()).toContain("- waiting for a node to answer (unreachable) (0 s)");
    expect(io.err()).toMatch(
      /juno status: error \[wait_timeout\]: no node answered \(unreachable\) after 1 s\n$/,
    );
  });

  it("members add --wait says what it added on a terminal, and nothing elsewhere", async () => {
    const joiner = await startJoiner("n5");
    const shown = await juno("members", ["add", "n5", "--raft", "127.0.0.1:9", "--wait"], true);
    expect(shown.code, shown.err).toBe(0);
    expect(shown.err).toMatch(/^added n5 as a learner \(log entry \d+\)\n/);
    expect(shown.out).toMatch(/^added n5 as a learner \(log entry \d+\); promoted to voter\n$/);
    const removed = await juno("members", ["rm", "n5"], true);
    expect([removed.code, removed.err]).toEqual([0, ""]);
    joiner.node.stop();
    await joiner.app.close();
    await joiner.store.close();
    cluster.members.delete("n5");
    cluster.network.remove("n5");
  });
});
