/**
 * `juno tasks submit | ls | show <id> | cancel <id> | metrics`: the tasks API as an operator
 * (or a script) uses it, asked of any of the nodes given, with the SDK's failover and its safe
 * retries. Its options are the TASKS_*_COMMAND tables in src/config/tasks-command.ts.
 */

import {
  FINISHED_TASK_STATUSES,
  JunoApiError,
  JunoClient,
  TASK_STATUSES,
  type JunoClientOptions,
  type SubmitTaskRequest,
  type TaskMetrics,
  type TaskStatusPage,
  type TaskView,
} from "../client/index.js";
import { ConfigError, refusalText, wantsHelp, type Environment } from "../config/index.js";
import { parseTasksCommand, tasksHelpText, type TasksCommand } from "../config/tasks-command.js";
import { printable, type CommandIo } from "./agents.js";

/** How `submit --wait` follows a task: how often it reads it, and the clock it waits on (tests shorten them). */
export interface FollowOptions {
  /** Between two reads of the task; default 500 ms. */
  readonly intervalMs?: number;
  readonly sleep?: (delayMs: number) => Promise<void>;
  readonly now?: () => number;
}

/** What a command prints on stdout, and its exit code. */
interface Output {
  readonly text: string;
  readonly code: number;
}

const DEFAULT_FOLLOW_INTERVAL_MS = 500;

/** Cells longer than this are cut in tables (ids never are). */
const CELL_LENGTH_MAX = 40;

/** The longest JSON shown on one line of `show` and `submit --wait`; --json prints all of it. */
const JSON_LENGTH_MAX = 2_000;

/** Parses the words after `juno tasks`, prints help or a refusal (exit 2), or runs the command. */
export async function tasksCommand(
  argv: readonly string[],
  env: Environment = process.env,
  io: CommandIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  if (wantsHelp(argv)) {
    io.stdout.write(tasksHelpText(argv));
    return 0;
  }
  const command = parseTasksCommand(argv, env);
  if (command instanceof ConfigError) {
    io.stderr.write(refusalText("tasks", command));
    return 2;
  }
  return runTasks(command, io);
}

/**
 * Runs a parsed command; returns the exit code: 0 done (for `submit --wait`: succeeded), 1 when
 * the cluster refused or could not be reached, or a followed task did not complete in time or at
 * all, 2 when the command cannot be run as given. `clientOptions` and `follow` are for tests;
 * the command's URLs and token win over them.
 */
export async function runTasks(
  command: TasksCommand,
  io: CommandIo,
  clientOptions: Partial<JunoClientOptions> = {},
  follow: FollowOptions = {},
): Promise<number> {
  const token = command.connection.token;
  let client: JunoClient;
  try {
    client = new JunoClient({
      ...clientOptions,
      urls: command.connection.urls,
      ...(token === null ? {} : { token: token.reveal() }),
    });
  } catch (error) {
    io.stderr.write(`juno tasks ${command.action}: ${(error as Error).message}\n`);
    return 2;
  }
  try {
    const output = await outputOf(command, client, io, follow);
    io.stdout.write(output.text);
    return output.code;
  } catch (error) {
    if (!(error instanceof JunoApiError)) throw error;
    io.stderr.write(`juno tasks ${command.action}: error [${error.code}]: ${printable(error.message)}\n`);
    return 1;
  }
}

/** What the command prints on success, and its exit code. */
async function outputOf(
  command: TasksCommand,
  client: JunoClient,
  io: CommandIo,
  follow: FollowOptions,
): Promise<Output> {
  switch (command.action) {
    case "submit":
      return submit(command, client, io, follow);
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
      if (page.next_cursor !== null) {
        io.stderr.write(`juno tasks ls: more tasks follow: --cursor ${printable(page.next_cursor)}\n`);
      }
      return done(command.json ? json(page) : tasksListing(page));
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
  io: CommandIo,
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
  io.stderr.write(said);
  const final = await followTask(client, task, io, command.waitMs, follow);
  if (final === null) {
    io.stderr.write(
      `juno tasks submit: ${printable(task.id)} is not finished after ${command.waitMs / 1000} s; it goes on\n`,
    );
    return { text: command.json ? json({ task: await client.getTask(task.id) }) : "", code: 1 };
  }
  const code = final.status === "succeeded" ? 0 : 1;
  return { text: command.json ? json({ task: final }) : finishedText(final), code };
}

/**
 * Reads the task every intervalMs until it is finished, writing each change of its progress on
 * stderr; null when `waitMs` passed first.
 */
async function followTask(
  client: JunoClient,
  task: TaskView,
  io: CommandIo,
  waitMs: number,
  options: FollowOptions,
): Promise<TaskView | null> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((delayMs) => new Promise<void>((resolve) => setTimeout(resolve, delayMs)));
  const intervalMs = options.intervalMs ?? DEFAULT_FOLLOW_INTERVAL_MS;
  const deadlineMs = now() + waitMs;
  let current = task;
  let shown = progressOf(task);
  while (!isFinished(current)) {
    const leftMs = deadlineMs - now();
    if (leftMs <= 0) return null;
    await sleep(Math.min(intervalMs, leftMs));
    current = await client.getTask(task.id);
    const progress = progressOf(current);
    if (progress !== shown) io.stderr.write(`${printable(task.id)}: ${progress}\n`);
    shown = progress;
  }
  return current;
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
  return `${head}\nresult: ${jsonLine(task.result)}\n`;
}

/** `ls`: the counts by status, then the page as a table. */
export function tasksListing(page: TaskStatusPage): string {
  const counts = TASK_STATUSES.filter((status) => (page.counts[status] ?? 0) > 0).map(
    (status) => `${status} ${page.counts[status] ?? 0}`,
  );
  const head = `${page.total} tasks${counts.length === 0 ? "" : `: ${counts.join(", ")}`}\n`;
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
    ["data", jsonLine(task.data)],
    ["result", jsonLine(task.result)],
    [
      "error",
      task.error === null
        ? "-"
        : `${task.error.message} (${task.error.cause}${task.error.retryable ? ", retryable" : ""})`,
    ],
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  return `${fields.map(([name, value]) => `${name.padEnd(width)}  ${printable(value)}`).join("\n")}\n`;
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
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  const head = `${fields.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join("\n")}\n`;
  if (metrics.agents.length === 0) return `${head}\nno agents hold tasks\n`;
  const rows = metrics.agents.map((agent) => [
    printable(agent.id),
    String(agent.active),
    agent.capacity === null ? "-" : String(agent.capacity),
    agent.breaker,
    String(agent.consecutive_failures),
  ]);
  return `${head}\n${table(["AGENT", "ACTIVE", "CAPACITY", "BREAKER", "FAILURES"], rows)}`;
}

/** Rows under a header, columns padded to their widest cell (the last one is not padded). */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((text, column) => (column === cells.length - 1 ? text : text.padEnd(widths[column] ?? 0)))
      .join("  ");
  return `${[header, ...rows].map(line).join("\n")}\n`;
}

function done(text: string): Output {
  return { text, code: 0 };
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** A JSON value on one line, cut to JSON_LENGTH_MAX characters. */
function jsonLine(value: unknown): string {
  const text = JSON.stringify(value) ?? "null";
  return text.length > JSON_LENGTH_MAX ? `${text.slice(0, JSON_LENGTH_MAX - 3)}...` : text;
}

/** A table cell: printable, and cut to CELL_LENGTH_MAX characters. */
function cell(text: string): string {
  const shown = printable(text);
  return shown.length > CELL_LENGTH_MAX ? `${shown.slice(0, CELL_LENGTH_MAX - 3)}...` : shown;
}
