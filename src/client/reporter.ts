/**
 * How the worker's reports travel: batched into POST /tasks/report. A report waits in a queue,
 * and one flush sends everything queued (up to the server's bounds) in one request,
 * REPORT_LINGER_MS after the first report of a quiet spell, or on the next turn of the event loop
 * once the request in flight settles: while one is out, what finishes meanwhile waits for the
 * next. One request is in flight at a time.
 *
 * Each report is settled on its own, exactly as its own /complete or /fail would settle it: send()
 * resolves once it landed and rejects with the error that endpoint would have given (409
 * stale_attempt, 404 task_not_found, or what the whole request came to), so the worker retries
 * and gives up report by report, with the rules in worker.ts. On top of that:
 * - A juno older than the route (404 for the request itself, or invalid_command from an older
 *   leader that does not know the command) sends this agent's reports, this batch's included,
 *   through the per-task endpoints from then on, for the life of the agent.
 * - A whole request refused as bad (400, 413, 422) says nothing of which report was bad: each of
 *   its reports goes again alone through its per-task endpoint, whose answer is that report's.
 * - A report whose request may have landed without an answer (a lost answer, a timeout) and that
 *   later hears stale_attempt is read back: if the task shows this very report it landed, and
 *   send() resolves. (A completion sent again is answered ok anyway; a failure is not.)
 * - A pull agent's worker takes its next work with its reports (a ReportTaker): as a batch goes,
 *   the worker says how many tasks it may take (its slots free once these reports land, less what
 *   a poll in flight may bring), and hears back what the batch started before any of its reports
 *   settles, so that the slots the reports free are seen filled. A juno older than `take` that
 *   refuses a batch carrying it (400, 422 or invalid_command) gets the batch again without it, and
 *   no take from then on.
 */

import { completedBy, failedBy, REPORT_ITEMS_MAX, type JunoClient } from "./client.js";
import { JunoApiError, NO_STATUS } from "./errors.js";
import type { Timers } from "./timers.js";
import type {
  ReportedCompletion,
  ReportedFailure,
  ReportTasksResponse,
  TaskDelivery,
  TaskView,
} from "./types.js";

/** What a handler came to, as the worker reports it. */
export type HandlerOutcome =
  /** `resultBytes`: the result's size in bytes of JSON, 0 for none. */
  | { readonly ok: true; readonly result: unknown; readonly resultBytes: number }
  | { readonly ok: false; readonly message: string; readonly retryable: boolean };

/** One attempt's report: made once per outcome, and sent again in each of the worker's rounds. */
export interface AttemptReport {
  /** The registration the attempt was delivered under; the report goes in its name. */
  readonly agentId: string;
  readonly id: string;
  readonly attempt: number;
  readonly outcome: HandlerOutcome;
  /** Set by the Reporter once a request carrying it failed without proving it did not land. */
  mayHaveLanded: boolean;
}

/** A worker that takes its next work with its reports (a pull agent's). */
export interface ReportTaker {
  /** How many tasks a batch of `count` reports in the name of `agentId` may take now; 0 for none. */
  takeFor(agentId: string, count: number): number;
  /**
   * The batch that asked to take has its answer, or failed: the tasks it started (before its
   * reports settle), and whether it may have started others unheard of (sent twice, or lost).
   */
  taken(agentId: string, tasks: readonly TaskDelivery[], unsure: boolean): void;
}

/** What the Reporter needs of its worker. */
export interface ReporterHost {
  readonly client: JunoClient;
  readonly timers: Timers;
  /** Fires when the worker gives up on its reports: queued ones fail at once, those in flight abort. */
  readonly signal: AbortSignal;
  /** Present for a worker whose reports take its next work. */
  readonly taker?: ReportTaker;
}

/**
 * How long the first report of a quiet spell waits for others: handlers that finish in the same
 * turn, or a couple of milliseconds apart, share a request. Under load the request in flight
 * gathers the next batch instead, and this wait is not paid.
 */
export const REPORT_LINGER_MS = 2;

/**
 * The bytes of JSON one batch's body may take, an estimate from above. Well below the server's
 * body limit and its log entry limit (1 MiB each by default), and its 1 MiB of results together;
 * a single report (a 64 KiB result, or a 2000-character error) always fits.
 */
export const REPORT_BATCH_BYTES_MAX = 512 * 1024;

/** What a report takes in a batch's body beyond its result or error: the id, attempt, keys. */
const REPORT_OVERHEAD_BYTES = 128;
/** The most bytes one character of an error takes in JSON (an escaped control character). */
const ERROR_CHAR_BYTES_MAX = 6;

/** The status /complete and /fail answer a report's refusal code with. */
const REFUSAL_STATUS: Readonly<Record<string, number>> = {
  stale_attempt: 409,
  task_not_found: 404,
  validation_failed: 400,
  payload_too_large: 413,
};

/** A queued report and its caller. */
interface Queued {
  readonly report: AttemptReport;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Batches the worker's reports into POST /tasks/report, or sends them one by one on an older juno. */
export class Reporter {
  /** batch: through /tasks/report. single: through /tasks/{id}/complete and /fail, for good. */
  private mode: "batch" | "single" = "batch";
  /** Whether batches may carry `take`: false once a juno older than it refused one. */
  private taking = true;
  /** Reports waiting for a flush, oldest first. Invariant: at most one per attempt the worker holds. */
  private queue: Queued[] = [];
  /** Invariant: true while a batch is out; at most one is. */
  private inFlight = false;
  /** The pending flush, when one is. Invariant: null while a batch is out. */
  private lingerHandle: unknown = null;
  /** The flush set for the next turn once a batch settled, when one is. */
  private nextTurn: ReturnType<typeof setImmediate> | null = null;

  constructor(private readonly host: ReporterHost) {
    host.signal.addEventListener("abort", () => this.abandon(), { once: true });
  }

  /** Sends one report; resolves once it landed, rejects as its own /complete or /fail would. */
  send(report: AttemptReport): Promise<void> {
    if (this.host.signal.aborted) return Promise.reject(abortedError());
    if (this.mode === "single") return this.sendAlone(report);
    return new Promise((resolve, reject) => {
      this.queue.push({ report, resolve, reject });
      this.schedule();
    });
  }

  /** Sets the flush timer, unless a flush is pending or a batch is out (its end flushes). */
  private schedule(): void {
    if (this.inFlight || this.lingerHandle !== null || this.nextTurn !== null || this.queue.length === 0)
      return;
    this.lingerHandle = this.host.timers.setTimeout(() => {
      this.lingerHandle = null;
      this.flush();
    }, REPORT_LINGER_MS);
  }

  /** Sends one batch of what is queued; when it settles, the next one goes on the next turn. */
  private flush(): void {
    assert(!this.inFlight && this.lingerHandle === null && this.nextTurn === null, "one flush at a time");
    if (this.mode === "single") {
      // Queued while the batch that found no route was out: they go alone too.
      for (const { report, resolve, reject } of this.queue.splice(0))
        this.sendAlone(report).then(resolve, reject);
      return;
    }
    const batch = this.takeBatch();
    if (batch.length === 0) return;
    this.inFlight = true;
    void this.sendBatch(batch).finally(() => {
      this.inFlight = false;
      if (this.queue.length === 0 || this.host.signal.aborted) return;
      // The next batch goes on the next turn of the event loop, not at once: the handlers that
      // this batch's freed slots (or the tasks it took) started finish within this one when they
      // are quick, and their reports share it.
      this.nextTurn = setImmediate(() => {
        this.nextTurn = null;
        this.flush();
      });
    });
  }

  /**
   * Takes the oldest queued reports that fit in one request: those of the oldest one's agent id,
   * each task once, within REPORT_ITEMS_MAX and REPORT_BATCH_BYTES_MAX. The rest stay queued.
   */
  private takeBatch(): Queued[] {
    const first = this.queue[0];
    if (first === undefined) return [];
    const batch: Queued[] = [];
    const ids = new Set<string>();
    let bytes = 0;
    const kept = this.queue.filter((queued) => {
      const { report } = queued;
      const size = bytesOf(report);
      const fits =
        report.agentId === first.report.agentId &&
        !ids.has(report.id) &&
        batch.length < REPORT_ITEMS_MAX &&
        bytes + size <= REPORT_BATCH_BYTES_MAX;
      if (!fits) return true;
      batch.push(queued);
      ids.add(report.id);
      bytes += size;
      return false;
    });
    this.queue = kept;
    assert(batch.length > 0, "the oldest report always fits in a batch");
    return batch;
  }

  /** Sends a batch and settles each of its reports; never throws. */
  private async sendBatch(batch: readonly Queued[]): Promise<void> {
    // Completions first, in the order the answer's results come.
    const ordered = [
      ...batch.filter((queued) => queued.report.outcome.ok),
      ...batch.filter((queued) => !queued.report.outcome.ok),
    ];
    const agentId = ordered[0]!.report.agentId;
    const taker = this.taking ? this.host.taker : undefined;
    const take = taker?.takeFor(agentId, ordered.length) ?? 0;
    let answer: ReportTasksResponse;
    try {
      answer = await this.host.client.reportTasks(requestOf(ordered, take), { signal: this.host.signal });
    } catch (error) {
      if (take > 0) taker!.taken(agentId, [], mayHaveLanded(error));
      if (take > 0 && refusesTake(error)) {
        // Perhaps only `take` was refused: the same reports go again without it, first in line.
        this.taking = false;
        this.queue.unshift(...batch);
        return;
      }
      this.batchFailed(ordered, error);
      return;
    }
    const { results } = answer;
    if (take > 0) taker!.taken(agentId, answer.tasks, answer.resent);
    ordered.forEach((queued, index) => {
      const result = results[index];
      assert(result !== undefined, "the client checks there is a result per report");
      if (result.ok) queued.resolve();
      else this.refused(queued.report, refusalOf(result.error)).then(queued.resolve, queued.reject);
    });
  }

  /** A batch's request failed as a whole: on to the per-task endpoints, each alone, or the error for all. */
  private batchFailed(batch: readonly Queued[], error: unknown): void {
    if (isMissingRoute(error)) this.mode = "single";
    if (isMissingRoute(error) || isRefusal(error)) {
      for (const { report, resolve, reject } of batch) this.sendAlone(report).then(resolve, reject);
      return;
    }
    for (const { report, reject } of batch) {
      if (mayHaveLanded(error)) report.mayHaveLanded = true;
      reject(error);
    }
  }

  /** One report through its own endpoint, /tasks/{id}/complete or /fail. */
  private async sendAlone(report: AttemptReport): Promise<void> {
    const { id, agentId, attempt, outcome } = report;
    const options = { signal: this.host.signal };
    try {
      if (outcome.ok) {
        const request = { agent_id: agentId, attempt };
        await this.host.client.completeTask(
          id,
          outcome.result === undefined ? request : { ...request, result: outcome.result },
          options,
        );
      } else {
        const request = { agent_id: agentId, attempt, error: outcome.message, retryable: outcome.retryable };
        await this.host.client.failTask(id, request, options);
      }
    } catch (error) {
      if (error instanceof JunoApiError && error.code === "stale_attempt") {
        await this.refused(report, error);
        return;
      }
      if (mayHaveLanded(error)) report.mayHaveLanded = true;
      throw error;
    }
  }

  /**
   * A report refused with `error`: it stands, unless it is stale_attempt for a report that may
   * have landed before without an answer and the task shows it; then the report did land.
   */
  private async refused(report: AttemptReport, error: JunoApiError): Promise<void> {
    if (error.code !== "stale_attempt" || !report.mayHaveLanded) throw error;
    const task = await this.host.client.getTask(report.id, { signal: this.host.signal });
    if (!shows(task, report)) throw error;
  }

  /** The worker gave up on its reports: the queued ones fail now; the one in flight aborts itself. */
  private abandon(): void {
    if (this.lingerHandle !== null) this.host.timers.clearTimeout(this.lingerHandle);
    this.lingerHandle = null;
    if (this.nextTurn !== null) clearImmediate(this.nextTurn);
    this.nextTurn = null;
    for (const { reject } of this.queue.splice(0)) reject(abortedError());
  }
}

/** The body of a batch, its reports in the order given (completions first), taking `take` tasks. */
function requestOf(
  ordered: readonly Queued[],
  take: number,
): { agent_id: string; completed: ReportedCompletion[]; failed: ReportedFailure[]; take?: number } {
  const completed: ReportedCompletion[] = [];
  const failed: ReportedFailure[] = [];
  for (const { report } of ordered) {
    const { id, attempt, outcome } = report;
    if (!outcome.ok) failed.push({ id, attempt, error: outcome.message, retryable: outcome.retryable });
    else
      completed.push(
        outcome.result === undefined ? { id, attempt } : { id, attempt, result: outcome.result },
      );
  }
  const agentId = ordered[0]?.report.agentId ?? "";
  return take > 0 ? { agent_id: agentId, completed, failed, take } : { agent_id: agentId, completed, failed };
}

/** At least the bytes a report takes in a batch's body. */
function bytesOf(report: AttemptReport): number {
  const { outcome } = report;
  const body = outcome.ok ? outcome.resultBytes : outcome.message.length * ERROR_CHAR_BYTES_MAX;
  return REPORT_OVERHEAD_BYTES + report.id.length + body;
}

/** Whether `task` shows this very report: completed by its attempt, or failed with its message. */
function shows(task: TaskView, report: AttemptReport): boolean {
  const { agentId, attempt, outcome } = report;
  return outcome.ok
    ? completedBy(task, { agent_id: agentId, attempt })
    : failedBy(task, { agent_id: agentId, attempt, error: outcome.message, retryable: outcome.retryable });
}

/** A report's refusal in a batch's answer as the error its own endpoint would have given. */
function refusalOf(error: { readonly code: string; readonly message: string }): JunoApiError {
  // A code this SDK does not know gets 409: refused, changing nothing, and worth another round.
  return new JunoApiError(REFUSAL_STATUS[error.code] ?? 409, error.code, error.message);
}

/**
 * Whether a batch failed because the server has no /tasks/report: 404 for the request itself
 * (the route answers 404 for no report of its own; those come in its results), or an older
 * leader that refuses the command it does not know.
 */
function isMissingRoute(error: unknown): boolean {
  return error instanceof JunoApiError && (error.status === 404 || error.code === "invalid_command");
}

/**
 * Whether a refused batch carrying `take` may have been refused for it by a juno older than it:
 * its body refused as bad (400, 422), or its command by an older leader (invalid_command). Not
 * 413 (too large) nor a 404 for the route itself.
 */
function refusesTake(error: unknown): boolean {
  return (
    error instanceof JunoApiError &&
    (error.status === 400 || error.status === 422 || error.code === "invalid_command")
  );
}

/** A refusal of the whole request as bad or too large: it changed nothing. */
function isRefusal(error: unknown): boolean {
  return (
    error instanceof JunoApiError && (error.status === 400 || error.status === 413 || error.status === 422)
  );
}

/** Whether a failed request may still have landed: anything but a refusal the server answered. */
function mayHaveLanded(error: unknown): boolean {
  return !(error instanceof JunoApiError && error.status >= 400 && error.status < 500);
}

function abortedError(): JunoApiError {
  return new JunoApiError(NO_STATUS, "aborted", "the agent stopped before the report landed");
}

/** A broken invariant of the reporter: a bug, so it throws rather than carry on. */
function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`juno SDK reporter: ${message}`);
}
