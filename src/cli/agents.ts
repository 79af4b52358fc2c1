/**
 * `juno agents ls | show <id> | rm <id>`: the agent registry as an operator sees it, asked of any
 * of the nodes given, with the SDK's failover. Its options are the AGENTS_*_COMMAND tables in
 * src/config/agents-command.ts and the shared client options.
 */

import { clientCommand } from "./entry.js";
import type { AgentView, JunoClient, JunoClientOptions } from "../client/index.js";
import { agentsHelpText, parseAgentsCommand, type AgentsCommand } from "../config/agents-command.js";
import { clientOf } from "./connect.js";
import { EXIT, cell, fieldLines, json, printable, reportFailure, table, type CommandIo } from "./output.js";

export { printable, type CommandIo } from "./output.js";

/**
 * Parses the words after `juno agents`, prints help or a refusal (exit 2), or runs the command.
 * `clientOptions` is for tests (timers, sleeps).
 */
export const agentsCommand = clientCommand({
  name: "juno agents",
  help: agentsHelpText,
  parse: parseAgentsCommand,
  run: (command, io, clientOptions) => runAgents(command, io, clientOptions),
});

/**
 * Runs a parsed command; returns the exit code (src/cli/output.ts): 0 done, 1 when the cluster
 * refused or could not be reached, 3 when the agent does not exist. `clientOptions` is for tests
 * (timers, sleep); the command's nodes, token and timeout win over it.
 */
export async function runAgents(
  command: AgentsCommand,
  io: CommandIo,
  clientOptions: Partial<JunoClientOptions> = {},
): Promise<number> {
  const context = {
    command: `juno agents ${command.action}`,
    json: command.json,
    origin: command.connection.origin,
  };
  try {
    const client = clientOf(command.connection, clientOptions);
    io.stdout.write(await outputOf(command, client, io));
    return EXIT.ok;
  } catch (error) {
    return reportFailure(io, context, error);
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
      if (command.json) return json(listing);
      if (listing.truncated && !command.quiet) {
        io.stderr.write(
          `juno agents ls: stopped after the page limit with ${listing.agents.length} agents; more exist, narrow the filters\n`,
        );
      }
      return agentsTable(listing.agents);
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
  return table(header, rows);
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
  return fieldLines(fields);
}
