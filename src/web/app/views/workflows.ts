/** The workflow runs, newest first, with their progress; a run opens in its DAG view. */

import { markup } from "../markup.js";
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import type { Connection } from "../connection.js";
import { ago, count, duration } from "../format.js";
import { useFetched, useNow } from "../hooks.js";
import { hrefOf } from "../route.js";
import { Badge, label } from "../status.js";
import { useStore } from "../store.js";
import type { WorkflowProgress, WorkflowSummary } from "../types.js";

const SHOWN = 100;
const STATUSES = ["created", "running", "succeeded", "failed", "cancelled"];

export function WorkflowsView({ connection }: { connection: Connection }): VNode {
  const overview = useStore(connection.overview);
  const [status, setStatus] = useState("");
  const now = useNow();
  const list = useFetched(
    () =>
      connection.request<{ workflows: WorkflowSummary[] }>(
        `/workflows?consistency=stale&limit=${SHOWN}${status === "" ? "" : `&status=${status}`}`,
      ),
    `${overview?.node.id ?? ""}|${overview?.workflows.revision ?? 0}|${status}`,
    1_000,
    overview !== null,
  );
  const counts = overview?.workflows.counts ?? {};
  return markup`<section aria-labelledby="workflows-title">
    <h1 id="workflows-title">
      Workflows <small>${count(overview?.workflows.live)} live of ${count(overview?.workflows.total)}</small>
    </h1>
    <form class="filters" onSubmit=${(event: Event) => event.preventDefault()} aria-label="Filter workflows">
      <div class="field">
        <label for="filter-workflow-status">Status</label>
        <select
          id="filter-workflow-status"
          value=${status}
          onChange=${(event: Event) => setStatus((event.currentTarget as HTMLSelectElement).value)}
        >
          <option value="">all</option>
          ${STATUSES.map((name) => markup`<option value=${name}>${label(name)} (${counts[name] ?? 0})</option>`)}
        </select>
      </div>
    </form>
    ${list.error !== null ? markup`<p class="error" role="alert">${list.error}</p>` : null}
    ${
      list.data === null
        ? markup`<p class="empty">Loading…</p>`
        : list.data.workflows.length === 0
          ? markup`<p class="empty">No workflow runs${status === "" ? "" : ` ${label(status)}`}.</p>`
          : markup`<div class="table-wrap">
              <table class="workflows">
                <thead>
                  <tr>
                    <th scope="col">Run</th>
                    <th scope="col">Status</th>
                    <th scope="col">Teams</th>
                    <th scope="col">Progress</th>
                    <th scope="col">Started</th>
                    <th scope="col">Took</th>
                  </tr>
                </thead>
                <tbody>
                  ${list.data.workflows.map(
                    (run) =>
                      markup`<tr data-workflow=${run.name}>
                        <th scope="row">
                          <a href=${hrefOf({ view: "workflow", workflowId: run.id })}>${run.name}</a>${" "}
                          <small>v${run.version}</small>${run.parent_id === null ? null : markup` <span class="tag">sub-workflow</span>`}
                        </th>
                        <td><${Badge} status=${run.status} /></td>
                        <td>${run.teams.map((team) => markup`<span class="chip">${team}</span>`)}</td>
                        <td><${ProgressBar} progress=${run.progress} /></td>
                        <td>${run.started_at === null ? "not started" : ago(run.started_at, now)}</td>
                        <td>
                          ${run.started_at === null ? "—" : duration((run.ended_at === null ? now : Date.parse(run.ended_at)) - Date.parse(run.started_at))}
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
    }
  </section>`;
}

/** A run's progress: a bar with the share of steps done, and the counts in words. */
export function ProgressBar({ progress }: { progress: WorkflowProgress }): VNode {
  const running = (progress.by_status["running"] ?? 0) + (progress.by_status["waiting"] ?? 0);
  const failed = progress.by_status["failed"] ?? 0;
  return markup`<span class="progress">
    <progress
      class=${failed > 0 ? "with-failures" : ""}
      max="100"
      value=${progress.percent}
      aria-label=${`${progress.percent}% of steps done`}
    ></progress>
    <small>${progressText(progress.done, progress.total, running, failed)}</small>
  </span>`;
}

function progressText(done: number, total: number, running: number, failed: number): string {
  return `${done}/${total} steps${running > 0 ? `, ${running} running` : ""}${failed > 0 ? `, ${failed} failed` : ""}`;
}
