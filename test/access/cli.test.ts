// Proves `juno tokens create | ls | revoke` and `juno audit` against a real node: create prints
// the secret alone on stdout (and works as a token at once), ls lists it without a secret, revoke
// stops it, audit lists what was done and by whom, filtered; --json prints the API's answers; a
// command without an admin token is refused with the server's code (exit 1), and bad flags exit 2.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommandIo } from "../../src/cli/output.js";
import { runAudit, runTokens } from "../../src/cli/tokens.js";
import { parseAuditCommand, parseTokensCommand } from "../../src/config/tokens-command.js";
import { ADMIN_TOKEN, AccessCluster, bearer } from "./cluster.js";

let cluster: AccessCluster;
let env: Record<string, string>;

beforeAll(async () => {
  cluster = await AccessCluster.start();
  const leader = await cluster.leader();
  env = { JUNO_NODES: leader.http, JUNO_API_TOKEN: ADMIN_TOKEN };
});
afterAll(async () => {
  await cluster.stop();
});

function buffers(): CommandIo & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text), isTTY: false, columns: 200 },
    out: () => out,
    err: () => err,
  };
}

async function tokens(argv: string[], environment = env) {
  const command = parseTokensCommand(argv, environment);
  if (command instanceof Error) return { code: 2, out: "", err: command.message };
  const io = buffers();
  const code = await runTokens(command, io);
  return { code, out: io.out(), err: io.err() };
}

async function audit(argv: string[]) {
  const command = parseAuditCommand(argv, env);
  if (command instanceof Error) throw command;
  const io = buffers();
  const code = await runAudit(command, io);
  return { code, out: io.out(), err: io.err() };
}

describe("juno tokens and juno audit", () => {
  it("create prints the secret alone, ls lists the token without it, revoke stops it, audit shows who did what", async () => {
    const made = await tokens(["create", "--name", "ci-bot", "--role", "operator", "--expires-in", "3600"]);
    expect(made.code).toBe(0);
    const secret = made.out.trim();
    expect(secret).toMatch(/^juno_[A-Za-z0-9_-]{43}$/);
    expect(made.err).toContain("operator token ci-bot");
    const member = await cluster.leader();
    const used = await member.app.inject({ url: "/api/v3/agents", headers: bearer(secret) });
    expect(used.statusCode).toBe(200);

    const listed = await tokens(["ls"]);
    expect(listed.out).toContain("ci-bot");
    expect(listed.out).not.toContain(secret);
    const { tokens: all } = JSON.parse((await tokens(["ls", "--json"])).out) as {
      tokens: { id: string; name: string }[];
    };
    const id = all.find((token) => token.name === "ci-bot")!.id;

    const revoked = await tokens(["revoke", id]);
    expect(revoked).toMatchObject({ code: 0, out: `revoked ${id} (ci-bot, operator)\n` });
    expect((await member.app.inject({ url: "/api/v3/agents", headers: bearer(secret) })).statusCode).toBe(
      401,
    );

    const log = await audit([]);
    expect(log.out).toMatch(/JUNO_API_TOKEN\s+admin\s+token\.revoke/);
    expect(log.out).toMatch(/JUNO_API_TOKEN\s+admin\s+token\.create/);
    const creates = JSON.parse((await audit(["--action", "token.create", "--json"])).out) as {
      entries: { action: string; detail: string }[];
    };
    expect(creates.entries).toHaveLength(1);
    expect(creates.entries[0]!.detail).toBe("operator token ci-bot");
  });

  it("makes agent tokens bound to a fresh agent id unless one is given", async () => {
    const made = JSON.parse((await tokens(["create", "--name", "bot", "--role", "agent", "--json"])).out) as {
      token: { agent_id: string };
    };
    expect(made.token.agent_id).toMatch(/^[0-9a-f-]{36}$/);
    const given = "7d1f0a52-0000-4000-8000-000000000001";
    const bound = JSON.parse(
      (await tokens(["create", "--name", "bot-2", "--role", "agent", "--agent-id", given, "--json"])).out,
    ) as { token: { agent_id: string } };
    expect(bound.token.agent_id).toBe(given);
  });

  it("refuses without an admin token (exit 1, the server's code) and refuses bad flags (exit 2)", async () => {
    const refused = await tokens(["ls"], { ...env, JUNO_API_TOKEN: "wrong" });
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("unauthorized");
    expect((await tokens(["create", "--role", "reader"])).code).toBe(2);
    expect((await tokens(["create", "--name", "x", "--role", "root"])).code).toBe(2);
    expect(
      (
        await tokens([
          "create",
          "--name",
          "x",
          "--role",
          "reader",
          "--agent-id",
          "7d1f0a52-0000-4000-8000-000000000001",
        ])
      ).code,
    ).toBe(2);
    expect((await tokens(["revoke"])).code).toBe(2);
    expect((await tokens(["rotate"])).code).toBe(2);
  });
});
