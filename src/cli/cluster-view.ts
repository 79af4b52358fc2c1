/**
 * The cluster as `juno status` and `juno members` show it. Any node answers GET
 * /consensus/status, but only the leader knows each member's replication (match index, lag,
 * last contact), so when a follower answers, the leader is looked for and asked too, once and
 * briefly; its answer is shown when it comes, the follower's otherwise.
 */

import {
  JunoApiError,
  type ConsensusMember,
  type ConsensusStatus,
  type JunoClient,
  type JunoClientOptions,
} from "../client/index.js";
import type { ClientConnection } from "../config/client-options.js";
import { clientOf } from "./connect.js";
import { printable, tableLines } from "./output.js";

/** The longest the leader is waited for when a follower answered first; the follower's view is shown otherwise. */
const LEADER_TIMEOUT_MS_MAX = 3_000;

/** What one reading of the cluster gave. */
export interface ClusterView {
  /** The status as the leader sees it, or as the node that answered does when the leader could not be asked. */
  readonly status: ConsensusStatus;
  /** Why the leader's own view is not shown, or null when it is (or there is no leader). */
  readonly leaderMissed: string | null;
}

/** A member's role: the leader, another voter, or a learner (not voting yet). */
export type MemberRole = "leader" | "voter" | "learner";

/**
 * Reads the cluster through `client`; when a follower answered, asks the leader too: at the HTTP
 * address the follower knows for it, and at each other node of the command's list, all at once,
 * one brief try each. The first that answers as leader is shown, in that order.
 */
export async function readClusterView(
  client: JunoClient,
  connection: ClientConnection,
  clientOptions: Partial<JunoClientOptions>,
): Promise<ClusterView> {
  const first = await client.status();
  if (first.role === "leader" || first.leader_id === null) return { status: first, leaderMissed: null };
  const answered = client.preferredUrl;
  const leader = first.members.find((member) => member.id === first.leader_id);
  const known = leader?.http_addr == null ? [] : [`${new URL(answered).protocol}//${leader.http_addr}`];
  const candidates = [...new Set([...known, ...connection.urls])].filter((url) => url !== answered);
  const timeoutMs = Math.min(connection.timeoutMs, LEADER_TIMEOUT_MS_MAX);
  const answers = await Promise.all(
    candidates.map((url) =>
      clientOf({ ...connection, urls: [url], timeoutMs }, { ...clientOptions, retry: { maxAttempts: 1 } })
        .status()
        .catch((error: unknown) => {
          if (error instanceof JunoApiError) return null;
          throw error;
        }),
    ),
  );
  const status = answers.find((answer) => answer?.role === "leader" && answer.leader_id === answer.node_id);
  if (status != null) return { status, leaderMissed: null };
  const why =
    known.length === 0
      ? `the leader ${first.leader_id} has no known HTTP address and is not among the nodes given`
      : `the leader ${first.leader_id} did not answer at ${known[0]}`;
  return { status: first, leaderMissed: why };
}

/** A member's role in `status`. */
export function roleOf(member: ConsensusMember, status: ConsensusStatus): MemberRole {
  if (member.id === status.leader_id) return "leader";
  return member.voter ? "voter" : "learner";
}

/** The members as a table: id, role, addresses, and replication as the leader reports it. */
export function membersTable(status: ConsensusStatus): string[] {
  const rows = status.members.map((member) => [
    printable(member.id),
    roleOf(member, status),
    printable(member.raft_addr ?? "-"),
    printable(member.http_addr ?? "-"),
    member.match_index === null ? "-" : String(member.match_index),
    member.lag_entries === null ? "-" : String(member.lag_entries),
    member.last_contact_ms === null ? "-" : `${member.last_contact_ms} ms`,
  ]);
  return tableLines(["MEMBER", "ROLE", "RAFT", "HTTP", "MATCH", "LAG", "LAST CONTACT"], rows);
}

/** Who leads and in which term, and whose view this is, in one line. */
export function leadershipLine(view: ClusterView): string {
  const { status } = view;
  const leader = status.leader_id === null ? "no leader" : `leader ${printable(status.leader_id)}`;
  const seen =
    status.role === "leader"
      ? "as the leader sees it"
      : `as ${printable(status.node_id)} (${status.role}) sees it${view.leaderMissed === null ? "" : `; ${printable(view.leaderMissed)}`}`;
  return `${leader}, term ${status.term}, commit index ${status.commit_index}, applied ${status.applied_index} (${seen})`;
}
