/**
 * `juno status`: who leads, the term, the indexes and each member's replication (the leader's
 * view when it can be asked), then a line each for the agents, tasks and workflows by status.
 * Its options are STATUS_COMMAND (src/config/status-command.ts) and the shared client options.
 */

import { clientCommand } from "./entry.js";
import { isRecord } from "../client/errors.js";
import {
  AGENT_STATUSES,
  JunoApiError,
  TASK_STATUSES,
  WORKFLOW_STATUSES,
  type JunoClient,
  type JunoClientOptions,
} from "../client/index.js";
import { CliError } from "../config/cli-errors.js";
import { STATUS_COMMAND } from "../config/index.js";
import { clientCommandHelpText } from "../config/help.js";
import { parseStatusCommand, type StatusCommand } from "../config/status-command.js";
import { leadershipLine, membersTable, readClusterView, type ClusterView } from "./cluster-view.js";
import { clientOf } from "./connect.js";
import { EXIT, countsText, fieldLines, json, reportFailure, type CommandIo } from "./output.js";
import { progressFor, type Progress } from "./progress.js";
import { pollUntil, type WaitOptions } from "./wait.js";

/** One part of the summary: what the API answered, or `{"error": {"code", "message"}}` instead. */
type Part = Readonly<Record<string, unknown>>;

/** The agents, tasks and workflows by status, each read on its own so that one failing spoils nothing else. */
export interface StatusSummary {
  /** GET /agents/health: total, by_status, by_team. */
  readonly agents: Part;
  /** GET /tasks/status: total and counts (the page itself is left out). */
  readonly tasks: Part;
  /** GET /workflows/status: total, counts, live, definitions, ... */
  readonly workflows: Part;
}

/** Prints the cluster's status; returns the exit code (2 when the arguments are refused). */
export const statusCommand = clientCommand({
  name: "juno status",
  help: () => clientCommandHelpText(STATUS_COMMAND),
  parse: parseStatusCommand,
  run: (command, io, clientOptions) => runStatus(command, io, clientOptions),
});

/**
 * Runs a parsed `juno status`; returns the exit code: 0 when a node answered (a part of the
 * summary that could not be read shows its error in place), 1 when none did, or --wait saw no
 * leader in time. `clientOptions` and `wait` are for tests.
 */
export async function runStatus(
  command: StatusCommand,
  io: CommandIo,
  clientOptions: Partial<JunoClientOptions> = {},
  wait: WaitOptions = {},
): Promise<number> {
  const context = { command: "juno status", json: command.json, origin: command.connection.origin };
  const progress = progressFor(io, command, wait.now);
  try {
    const client = clientOf(command.connection, clientOptions);
    const read = (): Promise<ClusterView> => readClusterView(client, command.connection, clientOptions);
    const view =
      command.waitMs === null ? await read() : await waitForLeader(read, command.waitMs, progress, wait);
    const summary = command.clusterOnly ? null : await readSummary(client, view.status.leader_id !== null);
    io.stdout.write(command.json ? json({ ...view.status, summary }) : statusText(view, summary));
    return EXIT.ok;
  } catch (error) {
    progress.done();
    return reportFailure(io, context, error);
  }
}

/**
 * Reads the cluster until a node answers and it has a leader, showing what it waits for; throws
 * wait_timeout when that does not happen in `waitMs`.
 */
async function waitForLeader(
  read: () => Promise<ClusterView>,
  waitMs: number,
  progress: Progress,
  wait: WaitOptions,
): Promise<ClusterView> {
  /** The last reading, or the error no answer came with. */
  const seen: { last: ClusterView | JunoApiError | null } = { last: null };
  const led = await pollUntil(
    async () => {
      let view: ClusterView;
      try {
        view = await read();
      } catch (error) {
        // A cluster that is starting answers nothing yet; any other refusal is final.
        if (!(error instanceof JunoApiError) || !UNANSWERED.has(error.code)) throw error;
        seen.last = error;
        progress.update(`waiting for a node to answer (${error.code})`);
        return undefined;
      }
      seen.last = view;
      if (view.status.leader_id !== null) return view;
      const { term, node_id: node, role } = view.status;
      progress.update(`waiting for a leader (term ${term}, ${node} is ${role})`);
      return undefined;
    },
    waitMs,
    wait,
  );
  progress.done();
  if (led !== null) return led;
  const where = seen.last;
  const why =
    where === null || where instanceof JunoApiError
      ? `no node answered (${where?.code ?? "unreachable"})`
      : `no leader (term ${where.status.term})`;
  throw new CliError("wait_timeout", "--wait-timeout", `${why} after ${waitMs / 1000} s`);
}

/** The codes of a request no node answered, which --wait waits out. */
const UNANSWERED: ReadonlySet<string> = new Set(["unreachable", "timeout"]);

/**
 * The agents, tasks and workflows by status. Without a leader a linearizable read cannot be
 * served, so each is read from the answering node's own state (consistency=stale) instead.
 */
async function readSummary(client: JunoClient, hasLeader: boolean): Promise<StatusSummary> {
  const query: Readonly<Record<string, string>> = hasLeader ? {} : { consistency: "stale" };
  const [agents, tasks, workflows] = await Promise.all([
    readPart(client, "/api/v3/agents/health", query),
    readPart(client, "/api/v3/tasks/status", { ...query, limit: 1 }),
    readPart(client, "/api/v3/workflows/status", query),
  ]);
  // The page of tasks that came with the counts is not part of the summary.
  const taskCounts = errorOf(tasks) === null ? { total: tasks["total"], counts: tasks["counts"] } : tasks;
  return { agents, tasks: taskCounts, workflows };
}

/** One GET of the summary, or the error it met. */
async function readPart(
  client: JunoClient,
  path: string,
  query: Readonly<Record<string, string | number>>,
): Promise<Part> {
  try {
    const { body } = await client.request({ method: "GET", path, query });
    if (!isRecord(body) || typeof body["total"] !== "number") {
      return { error: { code: "invalid_response", message: `${path} answered without a total` } };
    }
    return body;
  } catch (error) {
    if (!(error instanceof JunoApiError)) throw error;
    return { error: { code: error.code, message: error.message } };
  }
}

/** The human view: who leads, the members, then the summary. */
export function statusText(view: ClusterView, summary: StatusSummary | null): string {
  const lines = [leadershipLine(view), "", ...membersTable(view.status)];
  if (summary === null) return `${lines.join("\n")}\n`;
  const counts = (part: Part, key: string, names: readonly string[]): string => {
    const error = errorOf(part);
    if (error !== null) return `unavailable: [${error.code}] ${error.message}`;
    const byStatus = part[key];
    return `${String(part["total"])}: ${countsText(names, isRecord(byStatus) ? (byStatus as Record<string, number>) : {})}`;
  };
  const fields: [string, string][] = [
    ["agents", counts(summary.agents, "by_status", AGENT_STATUSES)],
    ["tasks", counts(summary.tasks, "counts", TASK_STATUSES)],
    ["workflows", counts(summary.workflows, "counts", WORKFLOW_STATUSES)],
  ];
  return `${lines.join("\n")}\n\n${fieldLines(fields)}`;
}

/** The error a part holds instead of an answer, or null. */
function errorOf(part: Part): { readonly code: string; readonly message: string } | null {
  const error = part["error"];
  return isRecord(error) && typeof error["code"] === "string"
    ? { code: error["code"], message: String(error["message"]) }
    : null;
}
