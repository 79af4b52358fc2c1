// Proves, end to end through the commands as `juno` runs them (the config file read from disk,
// in a temporary HOME, XDG_CONFIG_HOME or JUNO_CONFIG, never the real home), that a client
// command asks the nodes and sends the token the flag, else the variable, else the config file
// (its current or named context) says; that a bad config file or unknown context exits 2 with
// the file named, as JSON on stderr with --json; that with --json every failure is one JSON line
// on stderr in the API's error shape and stdout stays empty; that the token never shows in any
// output; that the exit codes are 0, 1, 2 and 3 as documented; and that `juno --help` and each
// command's help list the shared options once.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { agentsCommand } from "../../src/cli/agents.js";
import { membersCommand } from "../../src/cli/members.js";
import type { CommandIo } from "../../src/cli/output.js";
import { statusCommand } from "../../src/cli/status.js";
import { tasksCommand } from "../../src/cli/tasks.js";
import { auditCommand, tokensCommand } from "../../src/cli/tokens.js";
import { usage } from "../../src/cli/usage.js";
import { workflowsCommand } from "../../src/cli/workflows.js";
import { CLIENT_OPTIONS } from "../../src/config/client-options.js";
import { FakeCluster, refusingUrl } from "./fake-juno.js";

let cluster: FakeCluster;
let home: string;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "juno-client-config-"));
});
afterAll(() => {
  rmSync(home, { recursive: true, force: true });
});
beforeEach(async () => {
  cluster = await FakeCluster.start(2);
  cluster.registry.add({ name: "indexer-1", team: "search" });
});
afterEach(async () => {
  await cluster.close();
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

type Command = (
  argv: readonly string[],
  env: Record<string, string>,
  io: CommandIo,
  clientOptions: { sleep: () => Promise<void> },
) => Promise<number>;

/** Runs a command as `juno` does, with `env` as the whole environment; retries wait no time. */
async function run(
  argv: readonly string[],
  env: Record<string, string>,
  command: Command = agentsCommand,
): Promise<{ code: number; out: string; err: string }> {
  const io = buffers();
  const code = await command(argv, env, io, { sleep: () => Promise.resolve() });
  return { code, out: io.out(), err: io.err() };
}

/** Writes `content` (JSON unless a string) to `path` under the temporary home; the full path. */
function write(path: string, content: unknown): string {
  const full = join(home, path);
  mkdirSync(join(full, ".."), { recursive: true });
  writeFileSync(full, typeof content === "string" ? content : JSON.stringify(content));
  return full;
}

/** How many requests each fake node has seen. */
function requestCounts(): number[] {
  return [0, 1].map((index) => cluster.node(index).requests.length);
}

describe("where a command's nodes and token come from", () => {
  it("flag over variable over ~/.config/juno/config.json over the default", async () => {
    cluster.registry.token = "file-token";
    const [first, second] = cluster.urls;
    write("a/.config/juno/config.json", { nodes: [second], token: "file-token" });
    const env = { HOME: join(home, "a") };
    expect((await run(["ls", "--json"], env)).code).toBe(0);
    expect(requestCounts()).toEqual([0, 1]);
    expect((await run(["ls", "--json"], { ...env, JUNO_NODES: first ?? "" })).code).toBe(0);
    expect(requestCounts()).toEqual([1, 1]);
    expect(
      (await run(["ls", "--json", "--nodes", second ?? ""], { ...env, JUNO_NODES: first ?? "" })).code,
    ).toBe(0);
    expect(requestCounts()).toEqual([1, 2]);
    // The variable's token wins over the file's, and the cluster refuses it.
    const refused = await run(["ls", "--json"], { ...env, JUNO_API_TOKEN: "env-token" });
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.err)).toEqual({
      error: { code: "unauthorized", message: "a valid bearer token is required" },
    });
    expect(refused.out).toBe("");
  });

  it("XDG_CONFIG_HOME before HOME, JUNO_CONFIG and --config before both", async () => {
    const [first, second] = cluster.urls;
    write("b/.config/juno/config.json", { nodes: [first] });
    write("xdg/juno/config.json", { nodes: [second] });
    const explicit = write("explicit.json", { nodes: [first] });
    await run(["ls"], { HOME: join(home, "b"), XDG_CONFIG_HOME: join(home, "xdg") });
    expect(requestCounts()).toEqual([0, 1]);
    await run(["ls"], { XDG_CONFIG_HOME: join(home, "xdg"), JUNO_CONFIG: explicit });
    expect(requestCounts()).toEqual([1, 1]);
    await run(["ls", "--config", join(home, "xdg/juno/config.json")], { JUNO_CONFIG: explicit });
    expect(requestCounts()).toEqual([1, 2]);
  });

  it("the current context, or the one --context or JUNO_CONTEXT names", async () => {
    const [first, second] = cluster.urls;
    const file = write("contexts.json", {
      current: "one",
      contexts: { one: { nodes: [first] }, two: { nodes: [second], token: "two-token" } },
    });
    await run(["ls"], { JUNO_CONFIG: file });
    expect(requestCounts()).toEqual([1, 0]);
    await run(["ls"], { JUNO_CONFIG: file, JUNO_CONTEXT: "two" });
    expect(requestCounts()).toEqual([1, 1]);
    expect(cluster.node(1).requests[0]?.authorization).toBe("Bearer two-token");
    await run(["ls", "--context", "one"], { JUNO_CONFIG: file, JUNO_CONTEXT: "two" });
    expect(requestCounts()).toEqual([2, 1]);
  });
});

describe("a bad config file", () => {
  it("exits 2 naming the file and the problem, in text or as JSON, before any request", async () => {
    const file = write("bad.json", '{"nodes": ["http://a:1"], "tokn": "x"}');
    const text = await run(["ls"], { JUNO_CONFIG: file });
    expect(text.code).toBe(2);
    expect(text.err).toBe(
      `juno agents: error [bad_config_file]: config file ${file}: unknown key "tokn" (a config file has nodes, token, timeout, ca, cert, key, current, contexts)\n`,
    );
    const json = await run(["ls", "--json"], { JUNO_CONFIG: file });
    expect(json.code).toBe(2);
    expect(JSON.parse(json.err)).toMatchObject({ error: { code: "bad_config_file", source: file } });
    expect(json.out).toBe("");
    const context = await run(["ls", "--context", "prod"], {
      JUNO_CONFIG: write("plain.json", { nodes: ["a:1"] }),
    });
    expect(context.code).toBe(2);
    expect(context.err).toContain("[unknown_context]");
    const missing = await run(["ls"], { JUNO_CONFIG: join(home, "no-such.json") });
    expect([missing.code, missing.err]).toEqual([
      2,
      `juno agents: error [bad_config_file]: config file ${join(home, "no-such.json")}: there is no such file\n`,
    ]);
    expect(requestCounts()).toEqual([0, 0]);
  });

  it("never shows the token it holds", async () => {
    const file = write("leaky.json", '{"nodes": ["a:1"], "token": hunter2}');
    const result = await run(["ls", "--json"], { JUNO_CONFIG: file });
    expect(result.code).toBe(2);
    expect(result.err).not.toContain("hunter2");
  });
});

describe("every client command, the same way", () => {
  const commands: readonly (readonly [string, Command, readonly string[]])[] = [
    ["status", statusCommand, []],
    ["members", membersCommand, ["ls"]],
    ["agents", agentsCommand, ["ls"]],
    ["tasks", tasksCommand, ["ls"]],
    ["workflows", workflowsCommand, ["ls"]],
    ["tokens", tokensCommand, ["ls"]],
    ["audit", auditCommand, []],
  ];

  it.each(commands)(
    "%s: a refused flag exits 2, as JSON with --json; unreachable nodes exit 1",
    async (name, command, action) => {
      const bad = await run([...action, "--bogus"], {}, command);
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(new RegExp(`^juno ${name}: error \\[unknown_flag\\]: unknown flag --bogus`));
      const badJson = await run([...action, "--bogus", "--json"], {}, command);
      expect(badJson.code).toBe(2);
      expect(JSON.parse(badJson.err)).toMatchObject({ error: { code: "unknown_flag", source: "--bogus" } });
      const down = await run(
        [...action, "--json", "--nodes", await refusingUrl(), "--timeout", "0.2"],
        {},
        command,
      );
      expect(down.code).toBe(1);
      expect(down.out).toBe("");
      const error = (JSON.parse(down.err) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe("unreachable");
      expect(error.message).toContain("(the nodes come from --nodes)");
    },
  );

  it("juno --help lists every command, and the shared options once, within 100 columns", () => {
    const help = usage();
    for (const name of [
      "start",
      "dev",
      "demo",
      "status",
      "members",
      "agents",
      "tasks",
      "workflows",
      "tokens",
      "audit",
    ]) {
      expect(help).toMatch(new RegExp(`\\n  ${name} +\\S`));
    }
    for (const option of Object.values(CLIENT_OPTIONS)) {
      expect(help.split(`\n  ${option.flag}`).length - 1, option.flag).toBe(1);
    }
    expect(help).toContain("Exit codes: 0 done;");
    for (const line of help.split("\n")) expect(line.length, line).toBeLessThanOrEqual(100);
  });

  it.each(commands)("%s --help lists the shared options", async (_name, command, action) => {
    const help = await run([...action, "--help"], {}, command);
    expect(help.code).toBe(0);
    expect(help.out).toContain("Client options");
    expect(help.out).toContain("--nodes <node,...>  or  JUNO_NODES=<node,...>");
  });

  it("never prints the token, in output, errors or help", async () => {
    cluster.registry.token = "sekret-token";
    const env = { JUNO_NODES: cluster.urls.join(","), JUNO_API_TOKEN: "sekret-token" };
    const outputs = [
      await run(["ls", "--json"], env),
      await run(["ls"], env),
      await run(["show", "missing", "--json"], env),
      await run(["ls", "--bogus"], env),
      await run(["ls", "--help"], env),
    ];
    for (const output of outputs) expect(`${output.out}${output.err}`).not.toContain("sekret");
    expect(outputs[2]?.code).toBe(3);
  });
});
