/**
 * Following one workflow run through GET /workflows/{id}/watch, a stream of server-sent events:
 * a `workflow` event carries the whole run, at once and after every change, and `end` says the
 * run is over. Any node streams any run, so a connection that breaks, stalls (nothing, not even
 * a keep-alive, for idleTimeoutMs) or is refused the way the transport retries (a gateway error,
 * 429, no leader) moves to the next node of the client's list, after the client's backoff, and
 * the stream starts again there. A view is handed on only when its revision grows, so a node
 * that lags behind never takes the caller back in time. The client's retry policy bounds the
 * tries in a row that bring no news; a 404 is final unless the run was seen already (then the
 * node answering is one that has not applied it yet).
 */

import { JunoApiError, NO_STATUS, errorFromAnswer, type AttemptRecord } from "./errors.js";
import { EventStreamReader } from "./event-stream.js";
import { readBoundedText } from "./requester.js";
import { judgeAttempt, parseRetryAfterMs, retryDelayMs, type RetryPolicy } from "./retry-policy.js";
import { expectWorkflowView, invalid } from "./shape.js";
import { linkAbort, type Sleep, type Timers } from "./timers.js";
import type { WorkflowView } from "./types.js";

/** What a watch needs of its client: the nodes, the credentials, and how it waits and retries. */
export interface WatchSetup {
  /** The client's base URLs, without trailing slashes. */
  readonly urls: readonly string[];
  /** The node to try first: the client's preferred one. */
  readonly firstUrl: () => string;
  /** The Authorization header, or null. */
  readonly authorization: string | null;
  readonly fetch: typeof fetch;
  readonly policy: RetryPolicy;
  readonly random: () => number;
  readonly sleep: Sleep;
  readonly timers: Timers;
  readonly now: () => number;
  /** The longest event accepted, in characters (a run's whole view is one event). */
  readonly eventLengthMax: number;
}

/** Per-call options of watchWorkflow. */
export interface WatchOptions {
  /** Ends the watch: it rejects with code `aborted`. */
  readonly signal?: AbortSignal;
  /** How long a connection may bring nothing before it counts as dropped; default 45 s. */
  readonly idleTimeoutMs?: number;
}

/** Three of the server's keep-alives, which come every 15 s. */
export const DEFAULT_WATCH_IDLE_TIMEOUT_MS = 45_000;

/** The largest error answer read from a node that refused a watch. */
const ERROR_BODY_BYTES_MAX = 64 * 1024;

/** How one connection ended, when it did not end the watch. */
interface Dropped {
  readonly record: AttemptRecord;
  /** Why, in words, for the error once the tries run out. */
  readonly reason: string;
  /** The server's refusal, when it answered with one. */
  readonly error: JunoApiError | null;
  readonly retryAfterMs: number | null;
}

/** Where the watch is: the newest view handed on. */
interface Progress {
  last: WorkflowView | null;
}

/** A throw of the caller's onUpdate, carried out of the connection's own error handling untouched. */
class UpdateFailure extends Error {
  constructor(readonly error: unknown) {
    super("onUpdate threw");
  }
}

/**
 * Follows the run at `path` until the stream says `end`; resolves with the last view (read with
 * `read` when the stream ended without showing one). Throws JunoApiError: the server's refusal,
 * `aborted`, `invalid_response`, or once the tries run out `unreachable` or `timeout`.
 */
export async function followWorkflow(
  setup: WatchSetup,
  path: string,
  onUpdate: (view: WorkflowView) => void,
  read: () => Promise<WorkflowView>,
  options: WatchOptions = {},
): Promise<WorkflowView> {
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_WATCH_IDLE_TIMEOUT_MS;
  if (!Number.isInteger(idleTimeoutMs) || idleTimeoutMs < 1) {
    throw new RangeError(`idleTimeoutMs must be a whole number >= 1, got ${idleTimeoutMs}`);
  }
  const progress: Progress = { last: null };
  let index = Math.max(0, setup.urls.indexOf(setup.firstUrl()));
  /** The tries in a row that brought no news. Invariant: length < policy.maxAttempts between tries. */
  let attempts: AttemptRecord[] = [];
  for (;;) {
    const url = setup.urls[index] ?? "";
    const before = progress.last?.revision ?? 0;
    const dropped = await connect(setup, url, path, onUpdate, progress, idleTimeoutMs, options.signal);
    if (dropped === null) return progress.last ?? (await read());
    // A connection that brought news worked: only the tries since count against the bound.
    if ((progress.last?.revision ?? 0) > before) attempts = [];
    attempts.push(dropped.record);
    if (attempts.length >= setup.policy.maxAttempts) throw exhausted(path, dropped, attempts);
    index = (index + 1) % setup.urls.length;
    const delayMs = retryDelayMs(attempts.length, setup.policy, setup.random, dropped.retryAfterMs);
    try {
      await setup.sleep(delayMs, options.signal);
    } catch {
      throw aborted(path, url, attempts);
    }
    if (isAborted(options.signal)) throw aborted(path, url, attempts);
  }
}

/**
 * One connection to one node: hands on each newer view, and returns null at `end`, or how it
 * dropped. Throws what ends the watch: a refusal, a broken stream, the caller's abort or onUpdate.
 */
async function connect(
  setup: WatchSetup,
  url: string,
  path: string,
  onUpdate: (view: WorkflowView) => void,
  progress: Progress,
  idleTimeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Dropped | null> {
  if (isAborted(signal)) throw aborted(path, url, []);
  const controller = new AbortController();
  const unlink = signal === undefined ? null : linkAbort(signal, controller);
  const combined = controller.signal;
  let stalled = false;
  let idle: unknown = null;
  const arm = (): void => {
    if (idle !== null) setup.timers.clearTimeout(idle);
    idle = setup.timers.setTimeout(() => {
      stalled = true;
      controller.abort();
    }, idleTimeoutMs);
  };
  arm();
  try {
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (setup.authorization !== null) headers["authorization"] = setup.authorization;
    const response = await setup.fetch(`${url}${path}`, { headers, signal: combined });
    if (!response.ok) return await refusal(url, response, progress, setup.now());
    const type = response.headers.get("content-type") ?? "";
    if (!type.startsWith("text/event-stream") || response.body === null) {
      throw invalid(`${url} answered a watch with ${type || "no content type"}, not an event stream`);
    }
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const stream = new EventStreamReader(setup.eventLengthMax);
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) return lost(url, "the stream ended before the run did", false);
      arm();
      for (const event of eventsOf(stream, decoder.decode(chunk.value, { stream: true }), url)) {
        if (event.name === "end") return null;
        if (event.name !== "workflow") continue;
        const view = viewOf(event.data, url);
        if (progress.last !== null && view.revision <= progress.last.revision) continue;
        progress.last = view;
        try {
          onUpdate(view);
        } catch (error) {
          throw new UpdateFailure(error);
        }
      }
    }
  } catch (error) {
    // The caller's own throw goes back to it as it was, whatever it threw.
    if (error instanceof UpdateFailure) throw error.error;
    if (error instanceof JunoApiError) throw error;
    if (isAborted(signal)) throw aborted(path, url, []);
    if (stalled) return lost(url, `nothing came for ${idleTimeoutMs} ms`, true);
    return lost(url, error instanceof Error ? error.message : String(error), false);
  } finally {
    if (idle !== null) setup.timers.clearTimeout(idle);
    unlink?.();
    // Lets go of the connection whatever ended the watch on it.
    controller.abort();
  }
}

/** A node's error answer: thrown when it is final, or a try to repeat elsewhere. */
async function refusal(url: string, response: Response, progress: Progress, nowMs: number): Promise<Dropped> {
  let body: unknown = null;
  try {
    const text = await readBoundedText(response, ERROR_BODY_BYTES_MAX);
    body = text.trim() === "" ? null : (JSON.parse(text) as unknown);
  } catch {
    // An unreadable error body is still the status it came with.
  }
  const error = errorFromAnswer(response.status, body);
  const code = error.code === "unexpected_response" ? null : error.code;
  const verdict = judgeAttempt({ kind: "answered", status: error.status, code }, true);
  const lagging = error.status === 404 && progress.last !== null;
  if (verdict === "fail" && !lagging) throw error;
  return {
    record: { url, status: error.status, code: error.code },
    reason: `${url} answered ${error.status} ${error.code}`,
    error,
    retryAfterMs: parseRetryAfterMs(response.headers.get("retry-after"), nowMs),
  };
}

function lost(url: string, reason: string, timedOut: boolean): Dropped {
  return {
    record: { url, status: NO_STATUS, code: timedOut ? "timeout" : "unreachable" },
    reason: `${url}: ${reason}`,
    error: null,
    retryAfterMs: null,
  };
}

/** The events a chunk completes; an event past the bound is a broken answer. */
function eventsOf(stream: EventStreamReader, text: string, url: string) {
  try {
    return stream.push(text);
  } catch (error) {
    throw invalid(`${url}: ${(error as Error).message}`);
  }
}

/** The run a `workflow` event carries. */
function viewOf(data: string, url: string): WorkflowView {
  let view: unknown;
  try {
    view = JSON.parse(data);
  } catch {
    throw invalid(`${url} sent a workflow event that is not JSON`);
  }
  expectWorkflowView(view, "watch.workflow");
  return view as WorkflowView;
}

/** The error once the tries ran out: the last refusal, or why no stream came. */
function exhausted(path: string, last: Dropped, attempts: readonly AttemptRecord[]): JunoApiError {
  if (last.error !== null) {
    const { status, code, message, details } = last.error;
    return new JunoApiError(status, code, message, details, attempts);
  }
  const tried = attempts.map((record) => `${record.url} (${record.code})`).join(", ");
  return new JunoApiError(
    NO_STATUS,
    last.record.code,
    `GET ${path}: no node kept the stream after ${attempts.length} tries without news: ${tried}; last: ${last.reason}`,
    {},
    attempts,
  );
}

function aborted(path: string, url: string, attempts: readonly AttemptRecord[]): JunoApiError {
  return new JunoApiError(NO_STATUS, "aborted", `GET ${path} to ${url}: aborted`, {}, attempts);
}

/** Whether the caller's signal fired; a function, so a check before an await does not narrow one after it. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
