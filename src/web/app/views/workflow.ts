/**
 * One workflow run as a DAG (dagre's layout, drawn as SVG): steps coloured by status and named
 * with it, grouped by team, live from the run's watch stream (GET /workflows/{id}/watch, one
 * event per revision, followed across nodes like the page's own stream). From here a run can be
 * cancelled and sent an event.
 */

import { markup } from "../markup.js";
import type { VNode } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiFailure, type Connection } from "../connection.js";
import { ago, clock, duration, shortId } from "../format.js";
import { errorText, useNow } from "../hooks.js";
import { layoutSteps, shapeKey, type Layout } from "../layout.js";
import { hrefOf } from "../route.js";
import { Badge, label, toneOf } from "../status.js";
import type { Workflow, WorkflowStep } from "../types.js";
import { ProgressBar } from "./workflows.js";

type StreamState = "connecting" | "live" | "reconnecting" | "ended" | { readonly refused: string };

const STEP_LEGEND = ["pending", "ready", "waiting", "running", "succeeded", "failed", "cancelled", "skipped"];

export function WorkflowView({
  connection,
  workflowId,
}: {
  connection: Connection;
  workflowId: string;
}): VNode {
  const [workflow, setWorkflow] = useState<Workflow | null>(null);
  const [stream, setStream] = useState<StreamState>("connecting");
  const [selected, setSelected] = useState<string | null>(null);

  useEffect(() => {
    setWorkflow(null);
    setStream("connecting");
    const handle = connection.follow({
      path: `api/v3/workflows/${encodeURIComponent(workflowId)}/watch`,
      onEvent: (event) => {
        if (event.event === "workflow") setWorkflow(JSON.parse(event.data) as Workflow);
        if (event.event !== "end") return false;
        setStream("ended");
        return true;
      },
      onLive: () => setStream("live"),
      onBroken: () => setStream("reconnecting"),
      onRefused: (failure) => setStream({ refused: failure.message }),
    });
    return () => handle.stop();
  }, [workflowId, connection]);

  const shape = workflow === null ? "" : shapeKey(workflow.steps);
  const layout = useMemo(() => (workflow === null ? null : layoutSteps(workflow.steps)), [shape]);

  if (typeof stream === "object")
    return markup`<section>
      <h1>Workflow</h1>
      <p class="error" role="alert">${stream.refused}</p>
      <p><a href="#/workflows">All workflows</a></p>
    </section>`;
  if (workflow === null || layout === null) return markup`<p class="empty">Loading the run…</p>`;
  const step = workflow.steps.find((candidate) => candidate.id === selected) ?? null;
  return markup`<section aria-labelledby="workflow-title">
    <p class="crumbs"><a href=${hrefOf({ view: "workflows" })}>Workflows</a> / ${workflow.name}</p>
    <h1 id="workflow-title">
      ${workflow.name} <${Badge} status=${workflow.status} />
      <small data-testid="watch-state">${streamText(stream)}</small>
    </h1>
    ${workflow.description === "" ? null : markup`<p class="lede">${workflow.description}</p>`}
    <div class="run-head">
      <${ProgressBar} progress=${workflow.progress} />
      <span>Run <code title=${workflow.id}>${shortId(workflow.id)}</code>${`, team ${workflow.team}, revision ${workflow.revision}`}</span>
      ${workflow.failure === null ? null : markup`<span class="error">${failureOf(workflow.failure)}</span>`}
    </div>
    <${Actions} connection=${connection} workflow=${workflow} />
    <${Dag} workflow=${workflow} layout=${layout} selected=${selected} onSelect=${setSelected} />
    <ul class="legend" aria-label="Step statuses">
      ${STEP_LEGEND.map((status) => markup`<li><${Badge} status=${status} /></li>`)}
    </ul>
    ${step === null ? null : markup`<${StepDetail} step=${step} onClose=${() => setSelected(null)} />`}
    <h2>Steps</h2>
    <${StepTable} workflow=${workflow} onSelect=${setSelected} />
  </section>`;
}

function failureOf(failure: NonNullable<Workflow["failure"]>): string {
  return `${failure.code}${failure.step === null ? "" : ` at ${failure.step}`}: ${failure.message}`;
}

function streamText(stream: StreamState): string {
  if (typeof stream === "object") return stream.refused;
  switch (stream) {
    case "connecting":
      return "connecting…";
    case "live":
      return "live";
    case "reconnecting":
      return "reconnecting…";
    case "ended":
      return "ended";
  }
}

function Dag({
  workflow,
  layout,
  selected,
  onSelect,
}: {
  workflow: Workflow;
  layout: Layout;
  selected: string | null;
  onSelect: (id: string) => void;
}): VNode {
  const steps = new Map(workflow.steps.map((step) => [step.id, step]));
  const width = Math.ceil(layout.width);
  const height = Math.ceil(layout.height);
  return markup`<div class="dag-wrap">
    <svg
      class="dag"
      viewBox=${`0 0 ${width} ${height}`}
      width="100%"
      style=${{ maxWidth: `${width}px` }}
      role="group"
      aria-label=${`Steps of ${workflow.name}, by team`}
    >
      <defs>
        <marker
          id="arrow"
          viewBox="0 0 10 10"
          refX="9"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto-start-reverse"
        >
          <path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head" />
        </marker>
      </defs>
      ${layout.teams.map(
        (team) =>
          markup`<g class="team" data-team=${team.team}>
            <rect x=${team.x} y=${team.y - 18} width=${team.width} height=${team.height + 18} rx="10" />
            <text x=${team.x + 10} y=${team.y - 4}>team ${team.team}</text>
          </g>`,
      )}
      ${layout.edges.map(
        (edge) =>
          markup`<path
            class=${`edge${edge.compensation ? " compensation" : ""}${edgeDone(steps.get(edge.from)) ? " done" : ""}`}
            d=${pathOf(edge.points)}
            marker-end="url(#arrow)"
          />`,
      )}
      ${layout.steps.map((box) => {
        const step = steps.get(box.id)!;
        const x = box.x - box.width / 2;
        const y = box.y - box.height / 2;
        return markup`<g
          class=${`step tone-${toneOf(step.status)}${selected === step.id ? " selected" : ""}`}
          data-step=${step.id}
          data-status=${step.status}
          transform=${`translate(${x} ${y})`}
          tabindex="0"
          role="button"
          aria-label=${`${step.id}, team ${step.team}: ${label(step.status)}`}
          onClick=${() => onSelect(step.id)}
          onKeyDown=${(event: KeyboardEvent) => {
            if (event.key === "Enter" || event.key === " ") {
              event.preventDefault();
              onSelect(step.id);
            }
          }}
        >
          <title>${titleOf(step)}</title>
          <rect width=${box.width} height=${box.height} rx="8" />
          <text class="step-name" x="12" y="22">${truncate(step.id, 20)}</text>
          <text class="step-status" x="12" y="42">${statusLine(step)}</text>
        </g>`;
      })}
    </svg>
  </div>`;
}

function titleOf(step: WorkflowStep): string {
  return `${step.id} (team ${step.team}): ${label(step.status)}${step.error === null ? "" : ` — ${step.error.message}`}`;
}

function edgeDone(step: WorkflowStep | undefined): boolean {
  return step?.status === "succeeded";
}

function pathOf(points: readonly { x: number; y: number }[]): string {
  return points
    .map((point, i) => `${i === 0 ? "M" : "L"} ${point.x.toFixed(1)} ${point.y.toFixed(1)}`)
    .join(" ");
}

function truncate(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}

/** "running · build", "succeeded · 3/3 items". */
function statusLine(step: WorkflowStep): string {
  const kind =
    step.items !== null
      ? `${step.items.filter((item) => item.status === "succeeded").length}/${step.items.length} items`
      : step.type === "task"
        ? (step.task_type ?? "task")
        : step.type;
  return truncate(`${label(step.status)} · ${kind}`, 26);
}

function Actions({ connection, workflow }: { connection: Connection; workflow: Workflow }): VNode {
  const [confirming, setConfirming] = useState(false);
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const [eventName, setEventName] = useState("");
  const [eventData, setEventData] = useState("");
  const ended = ["succeeded", "failed", "cancelled"].includes(workflow.status);

  const cancel = async (): Promise<void> => {
    setConfirming(false);
    try {
      await connection.request(
        `/workflows/${workflow.id}?reason=${encodeURIComponent("cancelled from the dashboard")}`,
        { method: "DELETE" },
      );
      setMessage({ text: "Cancelled.", error: false });
    } catch (error) {
      setMessage({ text: `Not cancelled: ${failureText(error)}`, error: true });
    }
  };
  const send = async (event: Event): Promise<void> => {
    event.preventDefault();
    let data: unknown = null;
    if (eventData.trim() !== "") {
      try {
        data = JSON.parse(eventData);
      } catch {
        setMessage({ text: "The event's data is not valid JSON.", error: true });
        return;
      }
    }
    try {
      const answer = await connection.request<{ applied: boolean; ignored: { message: string } | null }>(
        `/workflows/${workflow.id}/events`,
        { method: "POST", body: { name: eventName, data } },
      );
      setMessage(
        answer.applied
          ? { text: `Event ${eventName} sent.`, error: false }
          : {
              text: `Event ${eventName} changed nothing: ${answer.ignored?.message ?? "ignored"}.`,
              error: true,
            },
      );
    } catch (error) {
      setMessage({ text: `Event not sent: ${failureText(error)}`, error: true });
    }
  };

  return markup`<div class="actions">
    <form
      class="event-form"
      onSubmit=${(event: Event) => void send(event)}
      aria-label="Send an event to this run"
    >
      <div class="field">
        <label for="event-name">Event</label
        ><input
          id="event-name"
          required
          maxlength="100"
          value=${eventName}
          onInput=${(event: Event) => setEventName((event.currentTarget as HTMLInputElement).value)}
          placeholder="name"
        />
      </div>
      <div class="field">
        <label for="event-data">Data (JSON)</label
        ><input
          id="event-data"
          value=${eventData}
          onInput=${(event: Event) => setEventData((event.currentTarget as HTMLInputElement).value)}
          placeholder='{"ok": true}'
        />
      </div>
      <button type="submit" disabled=${ended}>Send event</button>
    </form>
    ${
      confirming
        ? markup`<span class="confirm" role="group" aria-label="Confirm cancelling"
            >Cancel this run? Its running tasks stop.
            <button type="button" class="danger" onClick=${() => void cancel()}>Yes, cancel the run</button>
            <button type="button" onClick=${() => setConfirming(false)}>Keep it running</button></span
          >`
        : markup`<button type="button" class="danger" disabled=${ended} onClick=${() => setConfirming(true)}>
            Cancel run…
          </button>`
    }
    ${message === null ? null : markup`<p class=${message.error ? "error" : "notice"} role="status">${message.text}</p>`}
  </div>`;
}

function failureText(error: unknown): string {
  return error instanceof ApiFailure ? `${error.code}: ${error.message}` : errorText(error);
}

function StepDetail({ step, onClose }: { step: WorkflowStep; onClose: () => void }): VNode {
  const now = useNow();
  return markup`<aside class="detail step-detail" aria-labelledby="step-detail-title">
    <header>
      <h2 id="step-detail-title">Step ${step.id}</h2>
      <button type="button" class="close" onClick=${onClose} aria-label="Close the step">×</button>
    </header>
    <dl class="facts">
      <dt>Status</dt>
      <dd><${Badge} status=${step.status} /></dd>
      <dt>Team</dt>
      <dd>${step.team}${step.delegate_to === null ? "" : ` (delegated to ${step.delegate_to})`}</dd>
      <dt>Kind</dt>
      <dd>${step.type}${step.task_type === null ? "" : ` · ${step.task_type}`}</dd>
      <dt>Depends on</dt>
      <dd>${step.depends_on.length === 0 ? "nothing" : step.depends_on.join(", ")} (${step.when})</dd>
      <dt>Task</dt>
      <dd>
        ${step.task_id === null ? "—" : markup`<code title=${step.task_id}>${shortId(step.task_id)}</code> ${step.task_status ?? ""}`}
      </dd>
      <dt>Agent</dt>
      <dd>
        ${step.agent_id === null ? "—" : markup`<a href=${hrefOf({ view: "agents", agentId: step.agent_id })}>${shortId(step.agent_id)}</a>`}
      </dd>
      <dt>Attempts</dt>
      <dd>${step.attempts}</dd>
      <dt>Started</dt>
      <dd>${step.started_at === null ? "—" : ago(step.started_at, now)}</dd>
      <dt>Took</dt>
      <dd>
        ${step.started_at === null || step.ended_at === null ? "—" : duration(Date.parse(step.ended_at) - Date.parse(step.started_at))}
      </dd>
      ${
        step.error === null
          ? null
          : markup`<dt>Error</dt>
              <dd class="error">${step.error.code}: ${step.error.message}</dd>`
      }
    </dl>
  </aside>`;
}

function StepTable({ workflow, onSelect }: { workflow: Workflow; onSelect: (id: string) => void }): VNode {
  return markup`<div class="table-wrap">
    <table class="steps">
      <thead>
        <tr>
          <th scope="col">Step</th>
          <th scope="col">Team</th>
          <th scope="col">Status</th>
          <th scope="col">Kind</th>
          <th scope="col">Agent</th>
          <th scope="col">Started</th>
          <th scope="col">Ended</th>
        </tr>
      </thead>
      <tbody>
        ${workflow.steps.map(
          (step) =>
            markup`<tr data-step-row=${step.id}>
              <th scope="row">
                <button type="button" class="link" onClick=${() => onSelect(step.id)}>${step.id}</button>
              </th>
              <td>${step.team}</td>
              <td><${Badge} status=${step.status} /></td>
              <td>${step.type}${step.task_type === null ? "" : ` · ${step.task_type}`}</td>
              <td>
                ${step.agent_id === null ? "—" : markup`<code title=${step.agent_id}>${shortId(step.agent_id)}</code>`}
              </td>
              <td>${step.started_at === null ? "—" : clock(step.started_at)}</td>
              <td>${step.ended_at === null ? "—" : clock(step.ended_at)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}
