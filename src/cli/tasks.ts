/**
 * `juno tasks submit | ls | show <id> | cancel <id> | metrics`: the tasks API as an operator
 * (or a script) uses it, asked of any of the nodes given, with the SDK's failover and its safe
 * retries. Its options are the TASKS_*_COMMAND tables in src/config/tasks-command.ts and the
 * shared client options.
 */

import { clientCommand } from "./entry.js";
import {
  FINISHED_TASK_STATUSES,
  TASK_STATUSES,
  type JunoClient,
  type JunoClientOptions,
  type SubmitTaskRequest,
  type TaskMetrics,
  type TaskStatusPage,
  type TaskView,
} from "../client/index.js";
import { CliError } from "../config/cli-errors.js";
import { parseTasksCommand, tasksHelpText, type TasksCommand } from "../config/tasks-command.js";
import { clientOf } from "./connect.js";
import {
  EXIT,
  cell,
  countsText,
  fieldLines,
  json,
  jsonText,
  printable,
  reportFailure,
  table,
  type CommandIo,
} from "./output.js";
import { progressFor, type Progress } from "./progress.js";
import { pollUntil, type WaitOptions } from "./wait.js";

/** How `submit --wait` follows a task: how often it reads it, and the clock it waits on (tests shorten them). */
export type FollowOptions = WaitOptions;

/** What a command prints on stdout, and its exit code. */
interface Output {
  readonly text: string;
  readonly code: number;
}

/**
 * Parses the words after `juno tasks`, prints help or a refusal (exit 2), or runs the command.
 * `clientOptions` is for tests (timers, sleeps).
 */
export const tasksCommand = clientCommand({
  name: "juno tasks",
  help: tasksHelpText,
  parse: parseTasksCommand,
  run: (command, io, clientOptions) => runTasks(command, io, clientOptions),
});

/**
 * Runs a parsed command; returns the exit code (src/cli/output.ts): 0 done (for `submit --wait`:
 * succeeded), 1 when the cluster refused or could not be reached, or a followed task failed or
 * did not finish in time, 3 when the task does not exist. `clientOptions` and `follow` are for
 * tests; the command's nodes, token and timeout win over them.
 */
export async function runTasks(
  command: TasksCommand,
  io: CommandIo,
  clientOptions: Partial<JunoClientOptions> = {},
  follow: FollowOptions = {},
): Promise<number> {
  const context = {
    command: `juno tasks ${command.action}`,
    json: command.json,
    origin: command.connection.origin,
  };
  const progress = progressFor(io, command, follow.now);
  try {
    const client = clientOf(command.connection, clientOptions);
    const output = await outputOf(command, client, io, progress, follow);
    io.stdout.write(output.text);
    return output.code;
  } catch (error) {
    progress.done();
    if (error instanceof Unfinished) {
      io.stdout.write(error.text);
      return reportFailure(io, context, error.error);
    }
    return reportFailure(io, context, error);
  }
}

/** A wait that ran out: what to print on stdout all the same, and the wait_timeout to report. */
class Unfinished extends Error {
  constructor(
    readonly text: string,
    readonly error: CliError,
  ) {
    super(error.message);
  }
}

/** What the command prints on success, and its exit code. */
async function outputOf(
  command: TasksCommand,
  client: JunoClient,
  io: CommandIo,
  progress: Progress,
  follow: FollowOptions,
): Promise<Output> {
  switch (command.action) {
    case "submit":
      return submit(command, client, progress, follow);
    case "ls": {
      const { status, team, agent, taskType, workflow, limit, cursor } = command.filter;
      const page = await client.taskStatus({
        ...(status === null ? {} : { status }),
        ...(team === null ? {} : { team }),
        ...(agent === null ? {} : { agent_id: agent }),
        ...(taskType === null ? {} : { task_type: taskType }),
        ...(workflow === null ? {} : { workflow_id: workflow }),
        ...(limit === null ? {} : { limit }),
        ...(cursor === null ? {} : { cursor }),
      });
      if (command.json) return done(json(page));
      if (page.next_cursor !== null && !command.quiet) {
        io.stderr.write(`juno tasks ls: more tasks follow: --cursor ${printable(page.next_cursor)}\n`);
      }
      return done(tasksListing(page));
    }
    case "show": {
      const task = await client.getTask(command.id);
      return done(command.json ? json({ task }) : taskDetails(task));
    }
    case "cancel": {
      const task = await client.cancelTask(command.id);
      return done(command.json ? json({ task }) : `cancelled ${printable(task.id)}\n`);
    }
    case "metrics": {
      const metrics = await client.taskMetrics();
      return done(command.json ? json(metrics) : metricsText(metrics));
    }
  }
}

/** Submits; with --wait, follows the task until it is finished or the wait runs out. */
async function submit(
  command: Extract<TasksCommand, { action: "submit" }>,
  client: JunoClient,
  progress: Progress,
  follow: FollowOptions,
): Promise<Output> {
  const spec = command.submit;
  const request: SubmitTaskRequest = {
    task_type: spec.taskType,
    team: spec.team,
    ...(spec.priority === null ? {} : { priority: spec.priority }),
    ...(spec.data === null ? {} : { data: spec.data }),
    ...(spec.skills.length === 0 ? {} : { requirements: { skills: spec.skills } }),
    ...(spec.idempotencyKey === null ? {} : { idempotency_key: spec.idempotencyKey }),
  };
  const { task, created } = await client.submitTask(request);
  const said = `${created ? "submitted" : "already submitted (same idempotency key)"} ${printable(task.id)}: ${progressOf(task)}\n`;
  if (command.waitMs === null) return done(command.json ? json({ task, created }) : said);
  progress.line(said.trimEnd());
  const final = await followTask(client, task, progress, command.waitMs, follow);
  progress.done();
  if (final === null) {
    const current = await client.getTask(task.id);
    const error = new CliError(
      "wait_timeout",
      "--wait-timeout",
      `${task.id} is not finished after ${command.waitMs / 1000} s (${current.status}); it goes on`,
    );
    throw new Unfinished(command.json ? json({ task: current, created }) : "", error);
  }
  const code = final.status === "succeeded" ? EXIT.ok : EXIT.failed;
  return { text: command.json ? json({ task: final, created }) : finishedText(final), code };
}

/**
 * Reads the task every intervalMs until it is finished, showing where it is as progress and each
 * change as a line of it; null when `waitMs` passed first.
 */
async function followTask(
  client: JunoClient,
  task: TaskView,
  progress: Progress,
  waitMs: number,
  options: FollowOptions,
): Promise<TaskView | null> {
  let shown = progressOf(task);
  let read = false;
  return pollUntil(
    async () => {
      // The submission's answer is the first reading.
      const current = read ? await client.getTask(task.id) : task;
      read = true;
      const now = progressOf(current);
      if (now !== shown) progress.line(`${printable(task.id)}: ${now}`);
      shown = now;
      if (isFinished(current)) return current;
      progress.update(`waiting for ${printable(task.id)}: ${current.status}`);
      return undefined;
    },
    waitMs,
    options,
  );
}

function isFinished(task: TaskView): boolean {
  return FINISHED_TASK_STATUSES.includes(task.status);
}

/** Where a task is, in a few words: its status, attempt, agent, and why it waits or how it ended. */
export function progressOf(task: TaskView): string {
  const of = `${task.attempt}/${task.max_attempts}`;
  const agent = printable(task.assigned_agent ?? "?");
  const error = printable(task.error?.message ?? "no message");
  switch (task.status) {
    case "queued": {
      const until = task.not_before === null ? "" : ` until ${task.not_before}`;
      const why = task.waiting_reason === null ? "" : `: ${printable(task.waiting_reason)}`;
      return `queued for attempt ${task.attempt + 1}/${task.max_attempts}${until}${why}`;
    }
    case "assigned":
      return `assigned to ${agent} (attempt ${of})`;
    case "running":
      return `running on ${agent} (attempt ${of})`;
    case "succeeded":
      return `succeeded in attempt ${of}`;
    case "failed":
      return `failed in attempt ${of}: ${error}`;
    case "dead_lettered":
      return `dead-lettered after attempt ${of}: ${error}`;
    case "cancelled":
      return "cancelled";
  }
}

/** The last line of `submit --wait`: how the task ended, with its result or error. */
function finishedText(task: TaskView): string {
  const head = `${progressOf(task)}: ${printable(task.id)}`;
  if (task.status !== "succeeded") return `${head}\n`;
  return `${head}\nresult: ${jsonText(task.result)}\n`;
}

/** `ls`: the counts by status, then the page as a table. */
export function tasksListing(page: TaskStatusPage): string {
  const counts = countsText(TASK_STATUSES, page.counts);
  const head = `${page.total} tasks${counts === "none" ? "" : `: ${counts}`}\n`;
  if (page.tasks.length === 0) return `${head}no tasks match\n`;
  const rows = page.tasks.map((task) => [
    printable(task.id),
    cell(task.task_type),
    cell(task.team),
    String(task.priority),
    task.status,
    `${task.attempt}/${task.max_attempts}`,
    printable(task.assigned_agent ?? "-"),
    task.created_at,
  ]);
  return head + table(["ID", "TYPE", "TEAM", "PRIORITY", "STATUS", "ATTEMPT", "AGENT", "CREATED"], rows);
}

/** One task, a field per line. */
export function taskDetails(task: TaskView): string {
  const labels = Object.entries(task.requirements.labels).map(([key, value]) => `${key}=${value}`);
  const fields: [string, string][] = [
    ["id", task.id],
    ["type", task.task_type],
    ["team", task.team],
    ["priority", String(task.priority)],
    ["status", progressOf(task)],
    ["attempt", `${task.attempt} of ${task.max_attempts}`],
    ["agent", task.assigned_agent ?? "-"],
    ["previous agents", task.previous_agents.join(", ") || "-"],
    ["skills", task.requirements.skills.join(", ") || "-"],
    ["agent team", task.requirements.team ?? "-"],
    ["labels", labels.join(", ") || "-"],
    ["strategy", task.strategy],
    ["affinity key", task.affinity_key ?? "-"],
    ["idempotency key", task.idempotency_key ?? "-"],
    ["workflow", task.workflow_id ?? "-"],
    ["timeout", task.timeout_ms === null ? "-" : `${task.timeout_ms} ms`],
    ["schedule to start", task.schedule_to_start_ms === null ? "-" : `${task.schedule_to_start_ms} ms`],
    ["created", task.created_at],
    ["assigned", task.assigned_at ?? "-"],
    ["started", task.started_at ?? "-"],
    ["completed", task.completed_at ?? "-"],
    ["data", jsonText(task.data)],
    ["result", jsonText(task.result)],
    [
      "error",
      task.error === null
        ? "-"
        : `${task.error.message} (${task.error.cause}${task.error.retryable ? ", retryable" : ""})`,
    ],
  ];
  return fieldLines(fields);
}

/** `metrics`: the queue, running tasks by team, then the agents as a table. */
export function metricsText(metrics: TaskMetrics): string {
  const { queue } = metrics;
  const pairs = (counts: Readonly<Record<string, number>>): string =>
    Object.entries(counts)
      .filter(([, count]) => count > 0)
      .map(([key, count]) => `${printable(key)}: ${count}`)
      .join(", ") || "-";
  const oldest =
    queue.oldest_task_id === null
      ? ""
      : ` (oldest ${printable(queue.oldest_task_id)}, waiting ${Math.round(queue.oldest_waiting_ms ?? 0)} ms)`;
  const fields: [string, string][] = [
    ["tasks", pairs(metrics.counts)],
    ["queue depth", `${queue.depth}${oldest}`],
    ["by priority", pairs(queue.by_priority)],
    ["by team", pairs(queue.by_team)],
    ["running by team", pairs(metrics.running_by_team)],
    ["assignment", assignmentText(metrics.assignment_latency_ms)],
    ["completed", `${metrics.completed_last_minute} in the last minute`],
    [
      "since start",
      `assigned ${metrics.totals.assigned}, ${startedText(metrics.totals)}completed ${metrics.totals.completed}, ` +
        `retried ${metrics.totals.retried}, dead-lettered ${metrics.totals.dead_lettered}`,
    ],
  ];
  const head = fieldLines(fields);
  if (metrics.agents.length === 0) return `${head}\nno agent holds a task or has a breaker open\n`;
  const rows = metrics.agents.map((agent) => [
    printable(agent.id),
    String(agent.active),
    agent.capacity === null ? "-" : String(agent.capacity),
    agent.breaker,
    String(agent.consecutive_failures),
  ]);
  return `${head}\n${table(["AGENT", "ACTIVE", "CAPACITY", "BREAKER", "FAILURES"], rows)}`;
}

/** "started N (M by reports), " when the node counts them (an older juno does not). */
function startedText(totals: TaskMetrics["totals"]): string {
  if (totals.started === undefined) return "";
  const byReport = totals.started_by_report === undefined ? "" : ` (${totals.started_by_report} by reports)`;
  return `started ${totals.started}${byReport}, `;
}

/** Submit-to-assigned latency of the recent placements, or that there were none. */
function assignmentText(latency: TaskMetrics["assignment_latency_ms"]): string {
  if (latency.samples === 0 || latency.p50 === null || latency.p99 === null) return "no placements yet";
  const ms = (value: number): string => (value < 10 ? value.toFixed(1) : Math.round(value).toString());
  return `p50 ${ms(latency.p50)} ms, p99 ${ms(latency.p99)} ms (last ${latency.samples} placements)`;
}

function done(text: string): Output {
  return { text, code: EXIT.ok };
}
