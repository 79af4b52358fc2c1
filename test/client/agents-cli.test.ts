// Proves `juno agents` end to end against fake juno nodes: ls prints every page as a table or
// JSON with its filters sent, show and rm act on one agent, a dead first node is failed over,
// and refusals and unreachable clusters exit 1 (3 for an unknown agent, 2 for bad arguments) with
// the error's code.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentsCommand, runAgents, type CommandIo } from "../../src/cli/agents.js";
import { parseAgentsCommand, type AgentsCommand } from "../../src/config/agents-command.js";
import { FakeCluster, refusingUrl } from "./fake-juno.js";

let cluster: FakeCluster;
beforeEach(async () => {
  cluster = await FakeCluster.start(2);
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

function command(argv: readonly string[]): AgentsCommand {
  const parsed = parseAgentsCommand(argv, { JUNO_URL: cluster.urls.join(",") });
  if (parsed instanceof Error) throw parsed;
  return parsed;
}

/** Runs `juno agents <argv>` with backoff waits skipped. */
async function run(argv: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  const io = buffers();
  const code = await runAgents(command(argv), io, { sleep: () => Promise.resolve() });
  return { code, out: io.out(), err: io.err() };
}

function seed(): void {
  cluster.registry.pageSize = 2;
  cluster.registry.add({
    name: "summariser-1",
    team: "search",
    capabilities: { skills: ["summarise", "translate"], capacity: 4, weight: 1, labels: { zone: "eu" } },
    last_heartbeat: "2025-01-01T00:00:00.000Z",
  });
  cluster.registry.add({ name: "ranker-1", team: "ads", status: "degraded", draining: true });
  cluster.registry.add({ name: "bad\u001b[2Jname", team: "ads" });
}

describe("juno agents ls", () => {
  it("prints every page as a table", async () => {
    seed();
    const { code, out } = await run(["ls"]);
    expect(code).toBe(0);
    const lines = out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+NAME\s+TEAM\s+STATUS\s+SKILLS\s+CAPACITY\s+LAST HEARTBEAT$/);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(
      /summariser-1\s+search\s+healthy\s+summarise,translate\s+4\s+2025-01-01T00:00:00.000Z$/,
    );
    expect(lines[2]).toMatch(/ranker-1\s+ads\s+degraded \(draining\)\s+1\s+never$/);
    // A terminal escape in a name is shown, not obeyed.
    expect(lines[3]).toContain("bad?[2Jname");
    expect(cluster.node(0).requests).toHaveLength(2);
  });

  it("prints JSON and sends its filters", async () => {
    seed();
    const { code, out } = await run(["ls", "--json", "--team", "search", "--label", "zone=eu"]);
    expect(code).toBe(0);
    const listing = JSON.parse(out) as { agents: { name: string }[]; truncated: boolean };
    expect(listing.truncated).toBe(false);
    expect(listing.agents.map((agent) => agent.name)).toEqual(["summariser-1"]);
    const query = cluster.node(0).requests[0]?.query;
    expect(query?.get("team")).toBe("search");
    expect(query?.getAll("label")).toEqual(["zone=eu"]);
  });

  it("says so when nothing matches", async () => {
    expect((await run(["ls", "--status", "failed"])).out).toBe("no agents\n");
  });

  it("fails over past a dead first node", async () => {
    seed();
    const io = buffers();
    const parsed = parseAgentsCommand(["ls", "--url", await refusingUrl(), "--url", cluster.node(1).url], {});
    if (parsed instanceof Error) throw parsed;
    expect(await runAgents(parsed, io, { sleep: () => Promise.resolve() })).toBe(0);
    expect(io.out()).toContain("summariser-1");
  });
});

describe("juno agents show and rm", () => {
  it("show prints one agent's fields, or its JSON", async () => {
    seed();
    const [first] = cluster.registry.agents.keys();
    const { code, out } = await run(["show", first ?? ""]);
    expect(code).toBe(0);
    expect(out).toMatch(/^id\s+/);
    expect(out).toMatch(/labels\s+zone=eu/);
    expect(out).toMatch(/last heartbeat\s+2025-01-01T00:00:00.000Z/);
    const shown = await run(["show", first ?? "", "--json"]);
    expect((JSON.parse(shown.out) as { agent: { id: string } }).agent.id).toBe(first);
  });

  it("rm deregisters the agent", async () => {
    seed();
    const [first] = cluster.registry.agents.keys();
    const { code, out } = await run(["rm", first ?? ""]);
    expect(code).toBe(0);
    expect(out).toBe(`deregistered ${first} (summariser-1)\n`);
    expect(cluster.registry.agents.has(first ?? "")).toBe(false);
  });

  it("exits 3 for an unknown agent and 1 for a refused token, with the server's code", async () => {
    const missing = await run(["show", "no-such-agent"]);
    expect(missing.code).toBe(3);
    expect(missing.err).toMatch(/^juno agents show: error \[agent_not_found\]: /);
    cluster.registry.token = "right";
    const refused = await run(["rm", "x", "--token", "wrong"]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("[unauthorized]");
    expect(refused.err).not.toContain("wrong");
  });

  it("exits 1 with unreachable when no node answers", async () => {
    const io = buffers();
    const parsed = parseAgentsCommand(["ls", "--url", await refusingUrl()], {});
    if (parsed instanceof Error) throw parsed;
    expect(await runAgents(parsed, io, { sleep: () => Promise.resolve() })).toBe(1);
    expect(io.err()).toContain("[unreachable]");
  });
});

describe("agentsCommand", () => {
  it("prints help, and refuses bad arguments with exit 2", async () => {
    const help = buffers();
    expect(await agentsCommand(["ls", "--help"], {}, help)).toBe(0);
    expect(help.out()).toContain("usage: juno agents ls [flags]");
    const bad = buffers();
    expect(await agentsCommand(["ls", "--status", "asleep"], {}, bad)).toBe(2);
    expect(bad.err()).toMatch(/^juno agents: error \[out_of_range\]: --status: /);
  });

  it("runs a parsed command", async () => {
    seed();
    const io = buffers();
    expect(await agentsCommand(["ls", "--json"], { JUNO_URL: cluster.node(0).url }, io)).toBe(0);
    expect((JSON.parse(io.out()) as { agents: unknown[] }).agents).toHaveLength(3);
  });
});
