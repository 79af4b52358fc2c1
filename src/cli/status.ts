/**
 * `juno status`: who leads, the term, and each member's replication, asked of any node. Its
 * options are the table STATUS_COMMAND in src/config.
 */

import {
  ConfigError,
  STATUS_COMMAND,
  commandHelpText,
  formatAddress,
  localDialAddress,
  parseCommand,
  refusalText,
  wantsHelp,
  type Environment,
} from "../config/index.js";

interface MemberView {
  id: string;
  voter: boolean;
  http_addr: string | null;
  match_index: number | null;
  lag_entries: number | null;
  last_contact_ms: number | null;
}

interface StatusBody {
  node_id: string;
  role: string;
  term: number;
  leader_id: string | null;
  commit_index: number;
  applied_index: number;
  members: MemberView[];
}

/** Prints the cluster's status as one node sees it; returns the exit code (2 when the arguments are refused). */
export async function statusCommand(
  argv: readonly string[],
  env: Environment = process.env,
): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(commandHelpText(STATUS_COMMAND));
    return 0;
  }
  const settings = parseCommand(STATUS_COMMAND, argv, env);
  if (settings instanceof ConfigError) {
    process.stderr.write(refusalText(STATUS_COMMAND.name, settings));
    return 2;
  }
  const address = formatAddress(localDialAddress(settings.http));
  const token = settings.apiToken;
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token.reveal()}` };
  let response: Response;
  try {
    response = await fetch(`http://${address}/api/v3/consensus/status`, {
      headers,
      signal: AbortSignal.timeout(5_000),
    });
  } catch (error) {
    process.stderr.write(`juno status: cannot reach ${address}: ${(error as Error).message}\n`);
    return 1;
  }
  const body = (await response.json()) as Record<string, unknown>;
  if (!response.ok) {
    process.stderr.write(`juno status: ${JSON.stringify(body)}\n`);
    return 1;
  }
  if (settings.json) {
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    return 0;
  }
  const status = body as unknown as StatusBody;
  const members = status.members;
  const lines = [
    `node ${status.node_id} is ${status.role} in term ${status.term}; leader: ${status.leader_id ?? "none"}`,
    `commit index ${status.commit_index}, applied ${status.applied_index}`,
    "",
    "member  voter  http                   match   lag  last contact",
    ...members.map(
      (m) =>
        `${m.id.padEnd(7)} ${(m.voter ? "yes" : "no").padEnd(6)} ${(m.http_addr ?? "?").padEnd(22)} ${String(m.match_index ?? "-").padStart(5)} ${String(m.lag_entries ?? "-").padStart(5)}  ${m.last_contact_ms === null ? "-" : `${m.last_contact_ms} ms`}`,
    ),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}
