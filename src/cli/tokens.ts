/**
 * `juno tokens create | ls | revoke <id>` and `juno audit`: scoped tokens and the audit log, as
 * an admin manages and reads them through any node. Their options are the tables in
 * src/config/tokens-command.ts and the shared client options.
 *
 * --json prints the API's answers: create `{"token", "secret"}`, ls `{"tokens": [...]}` (every
 * page), revoke `{"token"}`, audit `{"entries": [...]}`. Without --json, create prints the
 * secret alone on stdout (so `$(juno tokens create ...)` captures it) and the rest on stderr.
 */

import { clientCommand } from "./entry.js";
import type { JunoClient, JunoClientOptions } from "../client/index.js";
import { isRecord } from "../client/errors.js";
import {
  auditHelpText,
  parseAuditCommand,
  parseTokensCommand,
  tokensHelpText,
  type AuditCommand,
  type TokensCommand,
} from "../config/tokens-command.js";
import { clientOf } from "./connect.js";
import { EXIT, cell, json, printable, reportFailure, table, type CommandIo } from "./output.js";

/** The most pages `tokens ls` and `audit` read (500 records each at most). */
const PAGES_MAX = 100;

/** `juno tokens ...`: help, a refusal (exit 2), or the command run. */
export const tokensCommand = clientCommand({
  name: "juno tokens",
  help: tokensHelpText,
  parse: parseTokensCommand,
  run: (command, io, clientOptions) => runTokens(command, io, clientOptions),
});

/** `juno audit ...`: help, a refusal (exit 2), or the command run. */
export const auditCommand = clientCommand({
  name: "juno audit",
  help: () => auditHelpText(),
  parse: parseAuditCommand,
  run: (command, io, clientOptions) => runAudit(command, io, clientOptions),
});

/** One token as the API shows it. */
interface TokenView {
  readonly id: string;
  readonly name: string;
  readonly role: string;
  readonly agent_id: string | null;
  readonly source: string;
  readonly created_by: string | null;
  readonly expires_at: string | null;
  readonly expired: boolean;
}

/** Runs a parsed `juno tokens` command; the exit code (src/cli/output.ts). */
export async function runTokens(
  command: TokensCommand,
  io: CommandIo,
  clientOptions: Partial<JunoClientOptions> = {},
): Promise<number> {
  const context = {
    command: `juno tokens ${command.action}`,
    json: command.json,
    origin: command.connection.origin,
  };
  try {
    const client = clientOf(command.connection, clientOptions);
    io.stdout.write(await tokensOutput(command, client, io));
    return EXIT.ok;
  } catch (error) {
    return reportFailure(io, context, error);
  }
}

async function tokensOutput(command: TokensCommand, client: JunoClient, io: CommandIo): Promise<string> {
  switch (command.action) {
    case "create": {
      const { body } = await client.request({
        method: "POST",
        path: "/api/v3/tokens",
        body: {
          name: command.name,
          role: command.role,
          ...(command.agentId === null ? {} : { agent_id: command.agentId }),
          ...(command.expiresInMs === null
            ? {}
            : { expires_at: new Date(Date.now() + command.expiresInMs).toISOString() }),
        },
      });
      const answer = record(body);
      if (command.json) return json(answer);
      const token = answer["token"] as TokenView;
      if (!command.quiet) {
        const agent = token.agent_id === null ? "" : ` for agent ${token.agent_id}`;
        io.stderr.write(
          `made ${token.role} token ${printable(token.name)} (${token.id})${agent}; its secret follows, shown this once\n`,
        );
      }
      return `${String(answer["secret"])}\n`;
    }
    case "ls": {
      const tokens = await allPages(client, "/api/v3/tokens", "tokens", {});
      if (command.json) return json({ tokens });
      return tokensTable(tokens as TokenView[]);
    }
    case "revoke": {
      const { body } = await client.request({
        method: "DELETE",
        path: `/api/v3/tokens/${encodeURIComponent(command.id)}`,
      });
      const answer = record(body);
      if (command.json) return json(answer);
      const token = answer["token"] as TokenView;
      return `revoked ${token.id} (${printable(token.name)}, ${token.role})\n`;
    }
  }
}

/** Tokens as a table. */
export function tokensTable(tokens: readonly TokenView[]): string {
  if (tokens.length === 0) return "no tokens\n";
  const header = ["ID", "NAME", "ROLE", "AGENT", "SOURCE", "EXPIRES", "MADE BY"];
  const rows = tokens.map((token) => [
    printable(token.id),
    cell(token.name),
    token.role,
    token.agent_id ?? "-",
    token.source,
    token.expires_at === null ? "never" : `${token.expires_at}${token.expired ? " (expired)" : ""}`,
    cell(token.created_by ?? "-"),
  ]);
  return table(header, rows);
}

/** Runs a parsed `juno audit` command; the exit code. */
export async function runAudit(
  command: AuditCommand,
  io: CommandIo,
  clientOptions: Partial<JunoClientOptions> = {},
): Promise<number> {
  const context = { command: "juno audit", json: command.json, origin: command.connection.origin };
  try {
    const client = clientOf(command.connection, clientOptions);
    const query = {
      ...(command.action === null ? {} : { action: command.action }),
      ...(command.actor === null ? {} : { actor: command.actor }),
    };
    const entries = (await allPages(client, "/api/v3/audit", "entries", query, command.limit)).slice(
      0,
      command.limit,
    );
    io.stdout.write(command.json ? json({ entries }) : auditTable(entries as AuditView[]));
    return EXIT.ok;
  } catch (error) {
    return reportFailure(io, context, error);
  }
}

/** One audit record as the API shows it. */
interface AuditView {
  readonly at: string;
  readonly action: string;
  readonly target: string | null;
  readonly detail: string | null;
  readonly outcome: string;
  readonly actor: { readonly name: string; readonly role: string } | null;
}

/** Audit records as a table, newest first. */
export function auditTable(entries: readonly AuditView[]): string {
  if (entries.length === 0) return "no audit records\n";
  const header = ["TIME", "ACTOR", "ROLE", "ACTION", "TARGET", "OUTCOME", "DETAIL"];
  const rows = entries.map((entry) => [
    entry.at,
    cell(entry.actor?.name ?? "-"),
    entry.actor?.role ?? "-",
    entry.action,
    cell(entry.target ?? "-"),
    entry.outcome,
    cell(entry.detail ?? ""),
  ]);
  return table(header, rows);
}

/** Every page of a list route, up to `max` items (and PAGES_MAX pages). */
async function allPages(
  client: JunoClient,
  path: string,
  field: string,
  query: Readonly<Record<string, string>>,
  max = Number.POSITIVE_INFINITY,
): Promise<unknown[]> {
  const items: unknown[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < PAGES_MAX && items.length < max; page++) {
    const { body } = await client.request({
      method: "GET",
      path,
      query: {
        ...query,
        limit: String(Math.min(500, max - items.length)),
        ...(cursor === null ? {} : { cursor }),
      },
    });
    const answer = record(body);
    const found = answer[field];
    if (Array.isArray(found)) items.push(...(found as unknown[]));
    cursor = typeof answer["next_cursor"] === "string" ? answer["next_cursor"] : null;
    if (cursor === null) break;
  }
  return items;
}

function record(body: unknown): Readonly<Record<string, unknown>> {
  return isRecord(body) ? body : {};
}
