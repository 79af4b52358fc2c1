/**
 * `juno agents ls | show <id> | rm <id>`: the agent registry as an operator sees it, asked of any
 * of the nodes given, with the SDK's failover. Its options are the AGENTS_*_COMMAND tables in
 * src/config/agents-command.ts.
 */

import { JunoApiError, JunoClient, type AgentView, type JunoClientOptions } from "../client/index.js";
import { agentsHelpText, parseAgentsCommand, type AgentsCommand } from "../config/agents-command.js";
import { ConfigError, refusalText, wantsHelp, type Environment } from "../config/index.js";

/** Where a command writes: process.stdout and process.stderr, or a test's buffers. */
export interface CommandIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

/** Cells longer than this are cut in tables (ids never are), so one odd name cannot wreck the layout. */
const CELL_LENGTH_MAX = 40;

/** Parses the words after `juno agents`, prints help or a refusal (exit 2), or runs the command. */
export async function agentsCommand(
  argv: readonly string[],
  env: Environment = process.env,
  io: CommandIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  if (wantsHelp(argv)) {
    io.stdout.write(agentsHelpText(argv));
    return 0;
  }
  const command = parseAgentsCommand(argv, env);
  if (command instanceof ConfigError) {
    io.stderr.write(refusalText("agents", command));
    return 2;
  }
  return runAgents(command, io);
}

/**
 * Runs a parsed command; returns the exit code: 0 done, 1 when the cluster refused or could not
 * be reached, 2 when the command cannot be run as given. `clientOptions` is for tests (timers,
 * sleep); the command's URLs and token win over it.
 */
export async function runAgents(
  command: AgentsCommand,
  io: CommandIo,
  clientOptions: Partial<JunoClientOptions> = {},
): Promise<number> {
  const token = command.connection.token;
  let client: JunoClient;
  try {
    client = new JunoClient({
      ...clientOptions,
      urls: command.connection.urls,
      ...(token === null ? {} : { token: token.reveal() }),
    });
  } catch (error) {
    io.stderr.write(`juno agents ${command.action}: ${(error as Error).message}\n`);
    return 2;
  }
  try {
    io.stdout.write(await outputOf(command, client, io));
    return 0;
  } catch (error) {
    if (!(error instanceof JunoApiError)) throw error;
    io.stderr.write(`juno agents ${command.action}: error [${error.code}]: ${printable(error.message)}\n`);
    return 1;
  }
}

/** What the command prints on success. */
async function outputOf(command: AgentsCommand, client: JunoClient, io: CommandIo): Promise<string> {
  switch (command.action) {
    case "ls": {
      const { team, skill, status, label } = command.filter;
      const listing = await client.listAllAgents({
        ...(team === null ? {} : { team }),
        ...(skill === null ? {} : { skill }),
        ...(status === null ? {} : { status }),
        ...(label === null ? {} : { label }),
      });
      if (listing.truncated) {
        io.stderr.write(
          `juno agents ls: stopped after the page limit with ${listing.agents.length} agents; more exist, narrow the filters\n`,
        );
      }
      return command.json ? json(listing) : agentsTable(listing.agents);
    }
    case "show": {
      const agent = await client.getAgent(command.id);
      return command.json ? json({ agent }) : agentDetails(agent);
    }
    case "rm": {
      const agent = await client.deregisterAgent(command.id);
      return command.json ? json({ agent }) : `deregistered ${agent.id} (${printable(agent.name)})\n`;
    }
  }
}

/** Agents as a table: id, name, team, status, skills, capacity, last heartbeat. */
export function agentsTable(agents: readonly AgentView[]): string {
  if (agents.length === 0) return "no agents\n";
  const header = ["ID", "NAME", "TEAM", "STATUS", "SKILLS", "CAPACITY", "LAST HEARTBEAT"];
  const rows = agents.map((agent) => [
    printable(agent.id),
    cell(agent.name),
    cell(agent.team),
    agent.draining ? `${agent.status} (draining)` : agent.status,
    cell(agent.capabilities.skills.join(",")),
    String(agent.capabilities.capacity),
    agent.last_heartbeat ?? "never",
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((text, column) => (column === cells.length - 1 ? text : text.padEnd(widths[column] ?? 0)))
      .join("  ");
  return `${[header, ...rows].map(line).join("\n")}\n`;
}

/** One agent, a field per line. */
export function agentDetails(agent: AgentView): string {
  const labels = Object.entries(agent.capabilities.labels).map(([key, value]) => `${key}=${value}`);
  const reason = agent.status_reason === null ? "" : ` (${agent.status_reason})`;
  const fields: [string, string][] = [
    ["id", agent.id],
    ["name", agent.name],
    ["endpoint", agent.endpoint],
    ["team", agent.team],
    ["status", `${agent.status} since ${agent.status_since}${reason}`],
    ["draining", agent.draining ? "yes" : "no"],
    ["skills", agent.capabilities.skills.join(", ") || "-"],
    ["capacity", String(agent.capabilities.capacity)],
    ["weight", agent.capabilities.weight === null ? "-" : String(agent.capabilities.weight)],
    ["labels", labels.join(", ") || "-"],
    ["last heartbeat", agent.last_heartbeat ?? "never"],
    ["registered", agent.registered_at],
    ["updated", agent.updated_at],
    ["source", agent.source],
    ["metadata", JSON.stringify(agent.metadata)],
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  return `${fields.map(([name, value]) => `${name.padEnd(width)}  ${printable(value)}`).join("\n")}\n`;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** A table cell: printable, and cut to CELL_LENGTH_MAX characters. */
function cell(text: string): string {
  const shown = printable(text);
  return shown.length > CELL_LENGTH_MAX ? `${shown.slice(0, CELL_LENGTH_MAX - 3)}...` : shown;
}

/**
 * Text from the registry with control characters replaced: agents name themselves, and a name
 * carrying terminal escapes must not rewrite the operator's screen.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}
