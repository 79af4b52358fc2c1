/**
 * The agents: a table by team with status and since when, load against capacity, skills, breaker
 * and where each came from, filtered by team, status and skill; and one agent's health, with the
 * history of the statuses the log gave it.
 */

import { markup } from "../markup.js";
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import type { Connection } from "../connection.js";
import { ago, clock, count } from "../format.js";
import { useFetched, useNow, useTick } from "../hooks.js";
import { hrefOf } from "../route.js";
import { Badge, label } from "../status.js";
import { useStore } from "../store.js";
import type { Agent, AgentHealth, Overview, TaskMetrics } from "../types.js";
import type { AgentStatusChange } from "../../../client/types.js";

/** Agents the page loads at most (pages of 500). */
const MAX_AGENTS = 2_000;
const HEALTH_POLL_MS = 2_000;

const SOURCES: Readonly<Record<string, string>> = {
  custom: "registry",
  dns: "DNS",
  consul: "Consul",
  kubernetes: "Kubernetes",
  agent_card: "A2A card",
};

interface Loaded {
  readonly agents: readonly Agent[];
  readonly load: ReadonlyMap<string, TaskMetrics["agents"][number]>;
  readonly truncated: boolean;
}

interface Filters {
  readonly team: string;
  readonly status: string;
  readonly skill: string;
}

export function AgentsView({
  connection,
  agentId,
}: {
  connection: Connection;
  agentId: string | null;
}): VNode {
  const overview = useStore(connection.overview);
  const key = `${overview?.node.id ?? ""}|${overview?.agents.revision ?? 0}|${overview?.tasks.revision ?? 0}`;
  const loaded = useFetched(() => loadAgents(connection), key, 1_000, overview !== null);
  const [filters, setFilters] = useState<Filters>({ team: "", status: "", skill: "" });
  const agents = loaded.data?.agents ?? [];
  const teams = [...new Set(agents.map((agent) => agent.team))].sort();
  const skills = [...new Set(agents.flatMap((agent) => agent.capabilities.skills))].sort();
  const shown = agents.filter(
    (agent) =>
      (filters.team === "" || agent.team === filters.team) &&
      (filters.status === "" || agent.status === filters.status) &&
      (filters.skill === "" || agent.capabilities.skills.includes(filters.skill)),
  );
  const selected = agentId === null ? null : (agents.find((agent) => agent.id === agentId) ?? null);
  return markup`<section aria-labelledby="agents-title">
    <h1 id="agents-title">
      Agents
      <small>${subtitleOf(overview)}</small>
    </h1>
    <form class="filters" onSubmit=${(event: Event) => event.preventDefault()} aria-label="Filter agents">
      <${Select}
        label="Team"
        value=${filters.team}
        options=${teams}
        onChange=${(team: string) => setFilters({ ...filters, team })}
      />
      <${Select}
        label="Status"
        value=${filters.status}
        options=${["healthy", "degraded", "suspect", "failed"]}
        onChange=${(status: string) => setFilters({ ...filters, status })}
      />
      <${Select}
        label="Skill"
        value=${filters.skill}
        options=${skills}
        onChange=${(skill: string) => setFilters({ ...filters, skill })}
      />
      <span class="hint" aria-live="polite">${shownText(shown.length, agents.length, loaded.data?.truncated === true)}</span>
    </form>
    ${loaded.error !== null ? markup`<p class="error" role="alert">${loaded.error}</p>` : null}
    <div class="split">
      <${AgentTable}
        agents=${shown}
        load=${loaded.data?.load ?? new Map()}
        selected=${agentId}
        loading=${loaded.data === null}
      />
      ${agentId === null ? null : markup`<${AgentDetail} connection=${connection} agentId=${agentId} agent=${selected} />`}
    </div>
  </section>`;
}

function subtitleOf(overview: Overview | null): string {
  if (overview === null) return "";
  const open = overview.agents.breakers_open;
  return `${count(overview.agents.total)} registered${open > 0 ? `, ${open} breaker${open === 1 ? "" : "s"} open` : ""}`;
}

function shownText(shown: number, loaded: number, truncated: boolean): string {
  return `${shown} of ${loaded} shown${truncated ? ` (the first ${MAX_AGENTS} loaded)` : ""}`;
}

function Select({
  label: name,
  value,
  options,
  onChange,
}: {
  label: string;
  value: string;
  options: readonly string[];
  onChange: (value: string) => void;
}): VNode {
  const id = `filter-${name.toLowerCase()}`;
  return markup`<div class="field">
    <label for=${id}>${name}</label>
    <select
      id=${id}
      value=${value}
      onChange=${(event: Event) => onChange((event.currentTarget as HTMLSelectElement).value)}
    >
      <option value="">all</option>
      ${options.map((option) => markup`<option value=${option}>${label(option)}</option>`)}
    </select>
  </div>`;
}

function AgentTable({
  agents,
  load,
  selected,
  loading,
}: {
  agents: readonly Agent[];
  load: ReadonlyMap<string, TaskMetrics["agents"][number]>;
  selected: string | null;
  loading: boolean;
}): VNode {
  const now = useNow();
  if (loading) return markup`<p class="empty">Loading agents…</p>`;
  if (agents.length === 0) return markup`<p class="empty">No agents match.</p>`;
  const byTeam = new Map<string, Agent[]>();
  for (const agent of agents) {
    const team = byTeam.get(agent.team) ?? [];
    team.push(agent);
    byTeam.set(agent.team, team);
  }
  return markup`<div class="table-wrap">
    <table class="agents">
      <thead>
        <tr>
          <th scope="col">Agent</th>
          <th scope="col">Status</th>
          <th scope="col">Load</th>
          <th scope="col">Skills</th>
          <th scope="col">Breaker</th>
          <th scope="col">Source</th>
          <th scope="col">Last beat</th>
        </tr>
      </thead>
      ${[...byTeam]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(
          ([team, members]) =>
            markup`<tbody data-team=${team}>
              <tr class="group">
                <th colspan="7" scope="rowgroup">
                  Team ${team}${" "}
                  <small>${members.length} agent${members.length === 1 ? "" : "s"},${" "}
                    ${members.filter((agent) => agent.status === "healthy").length} healthy</small>
                </th>
              </tr>
              ${members
                .sort((a, b) => (a.name < b.name ? -1 : 1))
                .map((agent) => {
                  const figures = load.get(agent.id);
                  const active = figures?.active ?? 0;
                  const capacity = agent.capabilities.capacity;
                  return markup`<tr data-agent=${agent.name} class=${agent.id === selected ? "selected" : ""}>
                    <th scope="row">
                      <a href=${hrefOf({ view: "agents", agentId: agent.id })}>${agent.name}</a
                      >${agent.draining ? markup` <span class="tag">draining</span>` : null}
                    </th>
                    <td>
                      <${Badge} status=${agent.status} />${" "}
                      <small title=${agent.status_since}>since ${ago(agent.status_since, now)}</small>
                    </td>
                    <td>
                      <span class="load">
                        <meter min="0" max=${capacity} value=${active} aria-label=${`load of ${agent.name}`}></meter>
                        <span>${active} / ${capacity}</span>
                      </span>
                    </td>
                    <td>
                      ${agent.capabilities.skills.map((skill) => markup`<span class="chip">${skill}</span>`)}
                    </td>
                    <td>
                      <${Badge}
                        status=${figures?.breaker ?? "closed"}
                      />${figures !== undefined && figures.consecutive_failures > 0 ? markup` <small>${figures.consecutive_failures} failures</small>` : null}
                    </td>
                    <td>${SOURCES[agent.source] ?? agent.source}</td>
                    <td><small>${ago(agent.last_heartbeat, now)}</small></td>
                  </tr>`;
                })}
            </tbody>`,
        )}
    </table>
  </div>`;
}

/** One agent's health, polled; the transitions the page saw while it watched. */
function AgentDetail({
  connection,
  agentId,
  agent,
}: {
  connection: Connection;
  agentId: string;
  agent: Agent | null;
}): VNode {
  const tick = useTick(HEALTH_POLL_MS);
  const now = useNow();
  const health = useFetched(
    () => connection.request<AgentHealth>(`/agents/${encodeURIComponent(agentId)}/health`),
    `${agentId}|${tick}`,
    HEALTH_POLL_MS / 2,
  );
  const report = health.data !== null && health.data.id === agentId ? health.data : null;
  // The statuses the log set, then the leader's judgment when it has moved on and is not
  // replicated yet.
  const history: AgentStatusChange[] = [...(report?.history ?? [])];
  const last = history.at(-1);
  if (report !== null && (last === undefined || last.status !== report.status))
    history.push({ status: report.status, since: report.since, reason: report.reason ?? "" });
  return markup`<aside class="detail" aria-labelledby="agent-detail-title">
    <header>
      <h2 id="agent-detail-title">${agent?.name ?? agentId}</h2>
      <a class="close" href=${hrefOf({ view: "agents", agentId: null })} aria-label="Close the agent's health"
        >×</a
      >
    </header>
    ${health.error !== null ? markup`<p class="error" role="alert">${health.error}</p>` : null}
    ${
      report === null
        ? markup`<p class="empty">Loading health…</p>`
        : markup`<dl class="facts">
              <dt>Status</dt>
              <dd><${Badge} status=${report.status} /> since ${ago(report.since, now)}</dd>
              <dt>Reason</dt>
              <dd>${report.reason || "—"}</dd>
              <dt>Suspicion (φ)</dt>
              <dd>${report.phi === null ? "—" : report.phi.toFixed(2)}</dd>
              <dt>Last heartbeat</dt>
              <dd>${ago(report.last_heartbeat, now)}</dd>
              <dt>Lease ends</dt>
              <dd>${report.lease_expires_at === null ? "—" : clock(report.lease_expires_at)}</dd>
              <dt>Judged by</dt>
              <dd>${report.observed_by ?? "the replicated status only"}</dd>
              ${
                agent === null
                  ? null
                  : markup`<dt>Team</dt>
                      <dd>${agent.team}</dd>
                      <dt>Endpoint</dt>
                      <dd><code>${agent.endpoint}</code></dd>
                      <dt>Delivery</dt>
                      <dd>${agent.delivery.mode}</dd>`
              }
            </dl>
            <h3>Health history</h3>
            <ol class="history">
              ${history.reverse().map(
                (entry) =>
                  markup`<li>
                      <time datetime=${entry.since}>${clock(entry.since)}</time>${" "}
                      <${Badge} status=${entry.status} /> ${entry.reason}
                    </li>`,
              )}
            </ol>
            <h3>Recent checks</h3>
            ${
              report.checks.length === 0
                ? markup`<p class="empty">No active checks (heartbeats only).</p>`
                : markup`<table class="checks">
                    <thead>
                      <tr>
                        <th scope="col">When</th>
                        <th scope="col">Result</th>
                        <th scope="col">Latency</th>
                        <th scope="col">Detail</th>
                      </tr>
                    </thead>
                    <tbody>
                      ${[...report.checks].reverse().map(
                        (check) =>
                          markup`<tr>
                            <td>${clock(check.at)}</td>
                            <td>
                              <${Badge}
                                status=${check.ok ? "succeeded" : "failed"}
                                text=${check.ok ? "passed" : "failed"}
                              />
                            </td>
                            <td>${Math.round(check.latency_ms)} ms</td>
                            <td>${check.detail}</td>
                          </tr>`,
                      )}
                    </tbody>
                  </table>`
            }`
    }
  </aside>`;
}

async function loadAgents(connection: Connection): Promise<Loaded> {
  const agents: Agent[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `/agents?consistency=stale&limit=500${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`;
    const page: { agents: Agent[]; next_cursor: string | null } = await connection.request(query);
    agents.push(...page.agents);
    cursor = page.next_cursor;
  } while (cursor !== null && agents.length < MAX_AGENTS);
  const metrics = await connection.request<TaskMetrics>("/tasks/metrics?consistency=stale");
  return {
    agents,
    load: new Map(metrics.agents.map((entry) => [entry.id, entry])),
    truncated: cursor !== null,
  };
}
