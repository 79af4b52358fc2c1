/**
 * The dashboard's overview of one node: the cluster as this node sees it, and the agents, the
 * task queue and the workflows at a glance. Read from the node's local state (like a
 * `consistency=stale` read), so it costs no quorum round and works in a partition; the node it
 * comes from says how far its state goes (`node.applied_index`).
 *
 * Each domain carries a `revision` that changes whenever its state does, so the page refetches a
 * view's details (GET /agents, /tasks/metrics, /workflows) only when something moved.
 */

import Type, { type Static } from "typebox";
import { agentsState } from "../agents/module.js";
import { AGENT_STATUSES } from "../agents/state.js";
import { countAgents } from "../agents/views.js";
import { breakerState } from "../faults/breaker.js";
import type { NodeId } from "../raft/types.js";
import type { NodeView } from "../runtime/view.js";
import { isoTime } from "../server/route-helpers.js";
import { tasksState } from "../tasks/module.js";
import { TASK_STATUSES } from "../tasks/task.js";
import { workflowsState } from "../workflows/module.js";
import { WORKFLOW_STATUSES } from "../workflows/run.js";

const Counts = Type.Record(Type.String(), Type.Integer());
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);

/** One member as the serving node sees it (replication figures only on the leader). */
export const OverviewMember = Type.Object({
  id: Type.String(),
  http_addr: NullableString,
  voter: Type.Boolean(),
  leader: Type.Boolean(),
  match_index: Type.Union([Type.Integer(), Type.Null()]),
  lag_entries: Type.Union([Type.Integer(), Type.Null()]),
  last_contact_ms: NullableNumber,
});

/** The overview the dashboard's stream sends. */
export const Overview = Type.Object({
  at: Type.String({ format: "date-time" }),
  node: Type.Object({
    id: Type.String({ description: "the node serving this overview" }),
    role: Type.String(),
    term: Type.Integer(),
    leader_id: NullableString,
    commit_index: Type.Integer(),
    applied_index: Type.Integer(),
    http_addr: NullableString,
  }),
  members: Type.Array(OverviewMember),
  timeline_revision: Type.Integer({ description: "grows with every event of GET /cluster/timeline" }),
  agents: Type.Object({
    revision: Type.Integer({ description: "changes whenever any agent does" }),
    total: Type.Integer(),
    by_status: Counts,
    by_team: Type.Record(Type.String(), Counts),
    breakers_open: Type.Integer({ description: "agents whose breaker is open or half open" }),
  }),
  tasks: Type.Object({
    revision: Type.Integer({ description: "changes whenever any task does" }),
    counts: Counts,
    queue: Type.Object({
      depth: Type.Integer(),
      by_priority: Counts,
      by_team: Counts,
      oldest_waiting_ms: NullableNumber,
      oldest_task_id: NullableString,
    }),
    running_by_team: Counts,
    assignment_latency_ms: Type.Object({ p50: NullableNumber, p99: NullableNumber }),
    completed_last_minute: Type.Integer(),
  }),
  workflows: Type.Object({
    revision: Type.Integer({ description: "changes whenever any run does" }),
    counts: Counts,
    total: Type.Integer(),
    live: Type.Integer(),
  }),
});
export type Overview = Static<typeof Overview>;

/** Builds the overview of `view` now; `httpAddressOf` says where each member serves HTTP. */
export function overviewOf(
  view: NodeView,
  httpAddressOf: (id: NodeId) => string | null,
  timelineRevision: number,
  nowMs: number,
): Overview {
  const status = view.status();
  const progress = new Map(status.progress.map((p) => [p.id, p]));
  const ids = [...status.membership.voters, ...status.membership.learners];
  return {
    at: isoTime(nowMs),
    node: {
      id: status.id,
      role: status.role,
      term: status.term,
      leader_id: status.leaderId,
      commit_index: status.commitIndex,
      applied_index: view.appliedIndex(),
      http_addr: httpAddressOf(status.id),
    },
    members: ids.map((id) => {
      const p = progress.get(id);
      return {
        id,
        http_addr: httpAddressOf(id),
        voter: status.membership.voters.includes(id),
        leader: id === status.leaderId,
        match_index: p?.match ?? null,
        lag_entries: p === undefined ? null : Math.max(0, status.lastIndex - p.match),
        last_contact_ms: p === undefined ? null : p.ticksSinceContact * view.tickMs,
      };
    }),
    timeline_revision: timelineRevision,
    agents: agentsOverview(view, nowMs),
    tasks: tasksOverview(view, nowMs),
    workflows: workflowsOverview(view),
  };
}

function agentsOverview(view: NodeView, nowMs: number): Overview["agents"] {
  const agents = view.state(agentsState);
  const tasks = view.state(tasksState);
  const { total, byStatus, byTeam } = countAgents(agents.all(), AGENT_STATUSES);
  const settings = tasks.breakerSettings;
  let breakersOpen = 0;
  for (const breaker of tasks.breakers.values())
    if (breakerState(breaker, settings, nowMs) !== "closed") breakersOpen++;
  return {
    revision: agents.version,
    total,
    by_status: Object.fromEntries(byStatus),
    by_team: Object.fromEntries(
      [...byTeam].sort(byName).map(([team, counts]) => [team, Object.fromEntries(counts)]),
    ),
    breakers_open: breakersOpen,
  };
}

function tasksOverview(view: NodeView, nowMs: number): Overview["tasks"] {
  const tasks = view.state(tasksState);
  const oldest = tasks.queue.oldest();
  return {
    revision: tasks.version,
    counts: Object.fromEntries(TASK_STATUSES.map((status) => [status, tasks.count(status)])),
    queue: {
      depth: tasks.queue.size,
      by_priority: Object.fromEntries(
        tasks.queue.depthByPriority().map((depth, priority) => [String(priority), depth]),
      ),
      by_team: Object.fromEntries(tasks.queue.depthByTeam()),
      oldest_waiting_ms: oldest === null ? null : Math.max(0, nowMs - oldest.enqueuedAtMs),
      oldest_task_id: oldest?.id ?? null,
    },
    running_by_team: Object.fromEntries([...tasks.runningByTeam()].sort(byName)),
    assignment_latency_ms: {
      p50: tasks.stats.latencyPercentileMs(0.5),
      p99: tasks.stats.latencyPercentileMs(0.99),
    },
    completed_last_minute: tasks.stats.completedLastMinute(nowMs),
  };
}

function workflowsOverview(view: NodeView): Overview["workflows"] {
  const workflows = view.state(workflowsState);
  return {
    revision: workflows.version,
    counts: Object.fromEntries(WORKFLOW_STATUSES.map((status) => [status, workflows.count(status)])),
    total: workflows.runs.size,
    live: workflows.liveCount,
  };
}

function byName(a: readonly [string, unknown], b: readonly [string, unknown]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** What says cheaply that the overview may differ: any index, term, leader or role moved. */
export function overviewKey(view: NodeView): string {
  return `${view.appliedIndex()}/${view.commitIndex()}/${view.term()}/${view.leaderId() ?? ""}/${view.role()}`;
}
