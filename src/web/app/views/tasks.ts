/**
 * The tasks: queue depth by priority and by team, throughput and assignment latency over time
 * (from the node's samples: counters whose differences are rates), the oldest waiting task and
 * the dead letters.
 */

import { markup } from "../markup.js";
import type { VNode } from "preact";
import { Chart, type Line } from "../chart.js";
import type { Connection } from "../connection.js";
import { ago, count, duration, shortId } from "../format.js";
import { useFetched, useNow } from "../hooks.js";
import { hrefOf } from "../route.js";
import { Badge } from "../status.js";
import { useStore } from "../store.js";
import type { Counts, Task, TaskSample } from "../types.js";

const DEAD_LETTERS_SHOWN = 20;

const THROUGHPUT: readonly Line[] = [
  { label: "completed", stroke: "#1f8a4c", unit: "/s" },
  { label: "assigned", stroke: "#2f6fdb", unit: "/s" },
];
const LATENCY: readonly Line[] = [
  { label: "p50", stroke: "#2f6fdb", unit: "ms" },
  { label: "p99", stroke: "#c2410c", unit: "ms" },
];
const DEPTH: readonly Line[] = [
  { label: "queued", stroke: "#7c3aed", unit: "" },
  { label: "running", stroke: "#0e7490", unit: "" },
];

export function TasksView({ connection }: { connection: Connection }): VNode {
  const overview = useStore(connection.overview);
  const samples = useStore(connection.samples);
  const now = useNow();
  const revision = `${overview?.node.id ?? ""}|${overview?.tasks.revision ?? 0}`;
  const oldestId = overview?.tasks.queue.oldest_task_id ?? null;
  const oldest = useFetched(
    async () =>
      oldestId === null
        ? null
        : (await connection.request<{ task: Task }>(`/tasks/${oldestId}?consistency=stale`)).task,
    `${oldestId ?? ""}|${overview?.node.id ?? ""}`,
    1_000,
    overview !== null,
  );
  const dead = useFetched(
    () =>
      connection.request<{ tasks: Task[]; counts: Counts }>(
        `/tasks/status?status=dead_lettered&limit=${DEAD_LETTERS_SHOWN}&consistency=stale`,
      ),
    revision,
    1_000,
    overview !== null,
  );
  if (overview === null) return markup`<p class="empty">Waiting for the cluster…</p>`;
  const tasks = overview.tasks;
  const rates = ratesOf(samples);
  return markup`<section aria-labelledby="tasks-title">
    <h1 id="tasks-title">Tasks</h1>
    <dl class="cards">
      <div class="card">
        <dt>Queued</dt>
        <dd data-testid="queue-depth">${count(tasks.queue.depth)}</dd>
      </div>
      <div class="card">
        <dt>Running</dt>
        <dd>${count(tasks.counts["running"])}</dd>
      </div>
      <div class="card">
        <dt>Completed, last minute</dt>
        <dd>${count(tasks.completed_last_minute)}</dd>
      </div>
      <div class="card">
        <dt>Assignment latency</dt>
        <dd>
          p50 ${duration(tasks.assignment_latency_ms.p50)} · p99 ${duration(tasks.assignment_latency_ms.p99)}
        </dd>
      </div>
      <div class="card">
        <dt>Succeeded</dt>
        <dd>${count(tasks.counts["succeeded"])}</dd>
      </div>
      <div class="card">
        <dt>Dead letters</dt>
        <dd data-testid="dead-letters">${count(tasks.counts["dead_lettered"])}</dd>
      </div>
    </dl>
    <div class="grid-3">
      <${Bars}
        title="Queue by priority"
        rows=${priorityRows(tasks.queue.by_priority)}
        empty="The queue is empty."
      />
      <${Bars}
        title="Queue by team"
        rows=${Object.entries(tasks.queue.by_team)}
        empty="The queue is empty."
      />
      <${Bars} title="Running by team" rows=${Object.entries(tasks.running_by_team)} empty="Nothing runs." />
    </div>
    <div class="grid-3 charts">
      <${Chart}
        title="Throughput (tasks per second)"
        lines=${THROUGHPUT}
        times=${rates.times}
        values=${[rates.completed, rates.assigned]}
      />
      <${Chart}
        title="Assignment latency (ms, recent placements)"
        lines=${LATENCY}
        times=${rates.times}
        values=${[rates.p50, rates.p99]}
      />
      <${Chart}
        title="Queue depth"
        lines=${DEPTH}
        times=${rates.times}
        values=${[rates.queued, rates.running]}
      />
    </div>
    <h2>Oldest waiting task</h2>
    ${
      oldestId === null
        ? markup`<p class="empty">No task is waiting.</p>`
        : oldest.data === null || oldest.data === undefined
          ? markup`<p class="empty">Loading…</p>`
          : markup`<dl class="facts wide" data-testid="oldest">
              <dt>Task</dt>
              <dd>
                <code title=${oldest.data.id}>${shortId(oldest.data.id)}</code> ${oldest.data.task_type}
              </dd>
              <dt>Team</dt>
              <dd>${oldest.data.team}</dd>
              <dt>Priority</dt>
              <dd>${oldest.data.priority}</dd>
              <dt>Waiting for</dt>
              <dd>${duration(tasks.queue.oldest_waiting_ms)} (since ${ago(oldest.data.created_at, now)})</dd>
              <dt>Needs</dt>
              <dd>
                ${oldest.data.requirements.skills.length === 0 ? "any agent" : oldest.data.requirements.skills.map((skill) => markup`<span class="chip">${skill}</span>`)}${oldest.data.requirements.team === null ? "" : ` of team ${oldest.data.requirements.team}`}
              </dd>
              <dt>Why</dt>
              <dd>${oldest.data.waiting_reason ?? "not placed yet"}</dd>
            </dl>`
    }
    <h2>Dead letters <small>${count(tasks.counts["dead_lettered"])}</small></h2>
    ${dead.error !== null ? markup`<p class="error" role="alert">${dead.error}</p>` : null}
    <${DeadLetters} tasks=${dead.data?.tasks ?? []} />
  </section>`;
}

function Bars({
  title,
  rows,
  empty,
}: {
  title: string;
  rows: readonly [string, number][];
  empty: string;
}): VNode {
  const shown = rows.filter(([, value]) => value > 0);
  const max = Math.max(1, ...shown.map(([, value]) => value));
  return markup`<figure class="bars">
    <figcaption>${title}</figcaption>
    ${
      shown.length === 0
        ? markup`<p class="empty">${empty}</p>`
        : markup`<table>
            <tbody>
              ${shown.map(
                ([name, value]) =>
                  markup`<tr>
                    <th scope="row">${name}</th>
                    <td class="bar-cell">
                      <span class="bar" style=${{ width: `${(100 * value) / max}%` }}></span>
                    </td>
                    <td class="num">${count(value)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
  </figure>`;
}

function DeadLetters({ tasks }: { tasks: readonly Task[] }): VNode {
  const now = useNow();
  if (tasks.length === 0) return markup`<p class="empty">No dead letters.</p>`;
  return markup`<div class="table-wrap">
    <table class="dead-letters">
      <thead>
        <tr>
          <th scope="col">Task</th>
          <th scope="col">Type</th>
          <th scope="col">Team</th>
          <th scope="col">Status</th>
          <th scope="col">Attempts</th>
          <th scope="col">Last error</th>
          <th scope="col">Ended</th>
        </tr>
      </thead>
      <tbody>
        ${tasks.map(
          (task) =>
            markup`<tr>
              <td>
                <code title=${task.id}>${shortId(task.id)}</code
                >${task.workflow_id === null ? null : markup` <a href=${hrefOf({ view: "workflow", workflowId: task.workflow_id })}>run</a>`}
              </td>
              <td>${task.task_type}</td>
              <td>${task.team}</td>
              <td><${Badge} status=${task.status} /></td>
              <td>${task.attempt} / ${task.max_attempts}</td>
              <td>${task.error?.message ?? "—"}</td>
              <td>${ago(task.completed_at, now)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** Priorities 9 (first) to 0. */
function priorityRows(byPriority: Counts): [string, number][] {
  const rows: [string, number][] = [];
  for (let priority = 9; priority >= 0; priority--)
    rows.push([`priority ${priority}`, byPriority[String(priority)] ?? 0]);
  return rows;
}

/** The samples as chart series: rates between consecutive samples (a counter that fell, a restored node, is no rate). */
function ratesOf(samples: readonly TaskSample[]) {
  const times: number[] = [];
  const completed: (number | null)[] = [];
  const assigned: (number | null)[] = [];
  const p50: (number | null)[] = [];
  const p99: (number | null)[] = [];
  const queued: number[] = [];
  const running: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const previous = samples[i - 1]!;
    const sample = samples[i]!;
    const seconds = (sample.at_ms - previous.at_ms) / 1_000;
    if (seconds <= 0) continue;
    const rate = (now: number, before: number): number | null =>
      now < before ? null : (now - before) / seconds;
    times.push(sample.at_ms / 1_000);
    completed.push(rate(sample.completed, previous.completed));
    assigned.push(rate(sample.assigned, previous.assigned));
    p50.push(sample.latency_p50_ms);
    p99.push(sample.latency_p99_ms);
    queued.push(sample.queue_depth);
    running.push(sample.running);
  }
  return { times, completed, assigned, p50, p99, queued, running };
}
