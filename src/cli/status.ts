/** `juno status`: who leads, the term, and each member's replication, asked of any node. */

import { parseArgs } from "node:util";

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

/** Prints the cluster's status as one node sees it; returns the exit code. */
export async function statusCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { http: { type: "string", default: "127.0.0.1:8080" }, json: { type: "boolean" } },
  });
  const token = process.env["JUNO_API_TOKEN"];
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  let response: Response;
  try {
    response = await fetch(`http://${values.http}/api/v3/consensus/status`, {
      headers,
      signal: AbortSignal.timeout(5_000),
    });
  } catch (error) {
    process.stderr.write(`juno status: cannot reach ${values.http}: ${(error as Error).message}\n`);
    return 1;
  }
  const body = (await response.json()) as Record<string, unknown>;
  if (!response.ok) {
    process.stderr.write(`juno status: ${JSON.stringify(body)}\n`);
    return 1;
  }
  if (values.json === true) {
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
