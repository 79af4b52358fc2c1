/**
 * The cluster: every member with its role, term, commit and applied index (each member's own
 * word, read from it directly), its replication lag and last contact (the leader's word), the
 * elections and leader changes the serving node saw, and which node serves the page.
 */

import { markup } from "../markup.js";
import type { VNode } from "preact";
import type { Connection } from "../connection.js";
import { ago, clock, count, duration } from "../format.js";
import { errorText, useFetched, useNow, useTick } from "../hooks.js";
import { Badge } from "../status.js";
import { useStore } from "../store.js";
import type { ConsensusStatus, Overview, OverviewMember, Timeline } from "../types.js";

/** How often each member is asked for its own status. */
const MEMBER_POLL_MS = 2_000;

type MemberReport =
  { readonly ok: true; readonly status: ConsensusStatus } | { readonly ok: false; readonly error: string };

export function ClusterView({ connection }: { connection: Connection }): VNode {
  const overview = useStore(connection.overview);
  const tick = useTick(MEMBER_POLL_MS);
  const members = overview?.members ?? [];
  const addresses = members.map((member) => member.http_addr ?? "").join(",");
  const reports = useFetched(
    () => readMembers(connection, members),
    `${tick}|${addresses}`,
    MEMBER_POLL_MS / 2,
  );
  const timeline = useFetched(
    () => connection.request<Timeline>("/cluster/timeline"),
    `${overview?.node.id ?? ""}|${overview?.timeline_revision ?? 0}`,
    1_000,
    overview !== null,
  );
  if (overview === null) return markup`<p class="empty">Waiting for the cluster…</p>`;
  const byId = reports.data ?? new Map<string, MemberReport>();
  const leaderReport = [...byId.values()].find(
    (report): report is { ok: true; status: ConsensusStatus } => report.ok && report.status.role === "leader",
  );
  return markup`<section aria-labelledby="cluster-title">
    <h1 id="cluster-title">Cluster</h1>
    <${Summary} overview=${overview} connection=${connection} />
    <h2>Members</h2>
    <${MembersTable} overview=${overview} reports=${byId} leader=${leaderReport?.status ?? null} />
    <h2>
      Elections and leader changes <small>as ${timeline.data?.node_id ?? overview.node.id} saw them</small>
    </h2>
    ${timeline.error !== null ? markup`<p class="error" role="alert">Timeline: ${timeline.error}</p>` : null}
    <${TimelineList} timeline=${timeline.data} />
  </section>`;
}

function Summary({ overview, connection }: { overview: Overview; connection: Connection }): VNode {
  const node = overview.node;
  const voters = overview.members.filter((member) => member.voter).length;
  const servingFrom = new URL(connection.currentBase()).host;
  return markup`<dl class="cards">
    <div class="card">
      <dt>Leader</dt>
      <dd data-testid="leader">${node.leader_id ?? markup`<${Badge} status="failed" text="none" />`}</dd>
    </div>
    <div class="card">
      <dt>Term</dt>
      <dd data-testid="term">${node.term}</dd>
    </div>
    <div class="card">
      <dt>Commit index</dt>
      <dd>${count(node.commit_index)}</dd>
    </div>
    <div class="card">
      <dt>Members</dt>
      <dd>${membersText(voters, overview.members.length - voters)}</dd>
    </div>
    <div class="card">
      <dt>Serving this page</dt>
      <dd data-testid="serving">${node.id} <small>(${node.role}, ${servingFrom})</small></dd>
    </div>
    <div class="card">
      <dt>Page loaded from</dt>
      <dd>${location.host}</dd>
    </div>
  </dl>`;
}

function MembersTable({
  overview,
  reports,
  leader,
}: {
  overview: Overview;
  reports: ReadonlyMap<string, MemberReport>;
  leader: ConsensusStatus | null;
}): VNode {
  const now = useNow();
  return markup`<div class="table-wrap">
      <table class="members">
        <thead>
          <tr>
            <th scope="col">Member</th>
            <th scope="col">Role</th>
            <th scope="col">Term</th>
            <th scope="col">Commit</th>
            <th scope="col">Applied</th>
            <th scope="col">Match</th>
            <th scope="col">Lag</th>
            <th scope="col">Last contact</th>
            <th scope="col">HTTP address</th>
          </tr>
        </thead>
        <tbody>
          ${overview.members.map((member) => {
            const report = reports.get(member.id);
            const replication = replicationOf(member, overview, leader);
            const serving = member.id === overview.node.id;
            return markup`<tr data-member=${member.id} class=${serving ? "serving" : ""}>
              <th scope="row">
                ${member.id}${serving ? markup` <span class="tag">serving</span>` : null}${member.voter ? null : markup` <span class="tag">learner</span>`}
              </th>
              <td>
                ${report === undefined ? "…" : report.ok ? markup`<${Badge} status=${report.status.role} />` : markup`<span title=${report.error}><${Badge} status="unreachable" /></span>`}
              </td>
              <td>${report?.ok === true ? report.status.term : "—"}</td>
              <td>${report?.ok === true ? count(report.status.commit_index) : "—"}</td>
              <td>${report?.ok === true ? count(report.status.applied_index) : "—"}</td>
              <td>${count(replication?.match_index)}</td>
              <td>${lagText(replication)}</td>
              <td>${member.leader ? "— (leads)" : contactText(replication)}</td>
              <td><code>${member.http_addr ?? "unknown"}</code></td>
            </tr>`;
          })}
        </tbody>
      </table>
    </div>
    <p class="hint">${hintText(ago(overview.at, now))}</p>`;
}

function membersText(voters: number, learners: number): string {
  return `${voters} voters${learners > 0 ? `, ${learners} learners` : ""}`;
}

type Replication = { match_index: number | null; lag_entries: number | null; last_contact_ms: number | null };

function lagText(replication: Replication | null): string {
  return replication?.lag_entries == null ? "—" : `${count(replication.lag_entries)} entries`;
}

function contactText(replication: Replication | null): string {
  return replication?.last_contact_ms == null ? "—" : `${duration(replication.last_contact_ms)} ago`;
}

function hintText(overviewAge: string): string {
  return `Role, term and indexes are each member's own answer (read every ${MEMBER_POLL_MS / 1000} s; the serving node's overview came ${overviewAge}). Match, lag and last contact are the leader's.`;
}

/** The leader's replication figures for `member`: from the serving node if it leads, else from the leader's own status. */
function replicationOf(
  member: OverviewMember,
  overview: Overview,
  leader: ConsensusStatus | null,
): Replication | null {
  if (overview.node.role === "leader") return member;
  return leader?.members.find((m) => m.id === member.id) ?? null;
}

function TimelineList({ timeline }: { timeline: Timeline | null }): VNode {
  const now = useNow();
  if (timeline === null) return markup`<p class="empty">Loading…</p>`;
  const events = [...timeline.events].reverse();
  if (events.length === 0) return markup`<p class="empty">No elections seen yet.</p>`;
  return markup`<ol class="timeline" reversed>
    ${events.map(
      (event) =>
        markup`<li data-kind=${event.kind}>
          <time datetime=${event.at} title=${event.at}>${clock(event.at)}</time>
          <span class="ago">${ago(event.at, now)}</span>
          <span class=${`marker kind-${event.kind}`} aria-hidden="true"></span>
          <span>${describe(event)}</span>
        </li>`,
    )}
  </ol>`;
}

function describe(event: Timeline["events"][number]): string {
  switch (event.kind) {
    case "observed":
      return event.leader_id === null
        ? `Started watching in term ${event.term}, no leader known`
        : `Started watching: ${event.leader_id} leads term ${event.term}`;
    case "election":
      return `Election: term ${event.term} began`;
    case "leader":
      return `${event.leader_id ?? "?"} became leader of term ${event.term}`;
    case "no_leader":
      return `Leader lost in term ${event.term}`;
  }
}

async function readMembers(
  connection: Connection,
  members: readonly OverviewMember[],
): Promise<Map<string, MemberReport>> {
  const reports = await Promise.all(
    members.map(async (member): Promise<[string, MemberReport]> => {
      if (member.http_addr === null) return [member.id, { ok: false, error: "no HTTP address known" }];
      try {
        const status = await connection.request<ConsensusStatus>(
          "/consensus/status",
          { timeoutMs: MEMBER_POLL_MS },
          connection.memberBase(member.http_addr),
        );
        return [member.id, { ok: true, status }];
      } catch (error) {
        return [member.id, { ok: false, error: errorText(error) }];
      }
    }),
  );
  return new Map(reports);
}
