/**
 * Active checks the leader runs against agents: an HTTP GET of the agent's health URL, or a TCP
 * connect. Each check answers with a CheckResult and never throws: a refused connection, a timeout and
 * a 500 are all results, because to the state machine they are all evidence. The timeout runs on
 * injected timers and latency on an injected clock, so tests decide when a check times out or is slow.
 */

import net from "node:net";
import { performance } from "node:perf_hooks";
import { NODE_TIMERS, type Timers } from "../../transport/timers.js";
import type { CheckResult } from "./types.js";

/** One way of checking an agent. `signal` cancels it (the runner stops, or the agent is gone). */
export interface Check {
  /** Which protocol it speaks, for reports. */
  readonly kind: "http" | "tcp";
  /** Runs the check once; resolves with its result, never rejects. */
  run(signal: AbortSignal): Promise<CheckResult>;
}

/** What every check needs besides its address. */
export interface CheckOptions {
  /** A check taking longer fails (HEALTH_CHECK_TIMEOUT). */
  readonly timeoutMs: number;
  /** A check taking longer than this is slow; default half the timeout, so slowness shows before failure. */
  readonly slowAfterMs?: number;
  /** Default Node's timers. */
  readonly timers?: Timers;
  /** A monotonic clock in milliseconds for latency; default performance.now. */
  readonly clock?: () => number;
}

/** HEALTH_CHECK_TIMEOUT's default. */
export const DEFAULT_CHECK_TIMEOUT_MS = 5_000;

/** The path an agent serves its health on unless it registered another. */
export const DEFAULT_HEALTH_PATH = "/health";

/** The header with which an agent answering 2xx says it is overloaded (any value but "0" or "false"). */
export const OVERLOADED_HEADER = "x-juno-overloaded";

/** `{endpoint}/health`, without doubling or dropping the slash between them. */
export function healthUrl(endpoint: string, path: string = DEFAULT_HEALTH_PATH): string {
  return `${endpoint.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}

/**
 * Runs `expire` one event-loop turn after the timeout fires, not at once: when the leader's own
 * loop was stalled past the timeout (a long GC, a starved machine), the timer fires first on
 * waking, before the I/O that came in meanwhile is read, and an answer the agent gave in time
 * would count as its timeout. Deferred, that answer is taken first (as a slow pass), and only a
 * check with no answer yet times out. So a stall of juno's is not counted against its agents.
 */
function afterPendingIo(expire: () => void): void {
  setImmediate(expire);
}

/** Timing shared by both checks. */
class CheckTiming {
  readonly timeoutMs: number;
  readonly slowAfterMs: number;
  readonly timers: Timers;
  readonly clock: () => number;

  constructor(options: CheckOptions) {
    if (!(options.timeoutMs > 0 && Number.isFinite(options.timeoutMs))) {
      throw new RangeError("check timeoutMs must be positive");
    }
    const slowAfterMs = options.slowAfterMs ?? options.timeoutMs / 2;
    if (!(slowAfterMs >= 0 && slowAfterMs <= options.timeoutMs)) {
      throw new RangeError("check slowAfterMs must be in [0, timeoutMs]");
    }
    this.timeoutMs = options.timeoutMs;
    this.slowAfterMs = slowAfterMs;
    this.timers = options.timers ?? NODE_TIMERS;
    this.clock = options.clock ?? (() => performance.now());
  }

  result(startedMs: number, ok: boolean, detail: string, overloaded = false): CheckResult {
    const latencyMs = Math.max(0, this.clock() - startedMs);
    return { ok, latencyMs, slow: latencyMs > this.slowAfterMs, overloaded, detail };
  }
}

/**
 * GET of an agent's health URL. 2xx passes; 429 and 503 (the agent says it is busy or shedding) and a
 * 2xx with `x-juno-overloaded` are answers, so the agent is alive but overloaded: a degraded signal,
 * never a failure. Any other status, a network error or the timeout fails. Redirects are not followed
 * (a health URL that redirects is misconfigured, and following could leave the agent's host).
 */
export class HttpCheck implements Check {
  readonly kind = "http";
  readonly url: string;
  private readonly timing: CheckTiming;

  constructor(url: string, options: CheckOptions) {
    this.url = new URL(url).href;
    this.timing = new CheckTiming(options);
  }

  /** GETs the URL once, within the timeout. */
  async run(signal: AbortSignal): Promise<CheckResult> {
    const { timing } = this;
    const startedMs = timing.clock();
    if (signal.aborted) return timing.result(startedMs, false, "cancelled");
    const controller = new AbortController();
    let timedOut = false;
    const cancel = (): void => controller.abort();
    signal.addEventListener("abort", cancel, { once: true });
    let answered = false;
    const timer = timing.timers.setTimeout(
      () =>
        afterPendingIo(() => {
          if (answered) return;
          timedOut = true;
          controller.abort();
        }),
      timing.timeoutMs,
    );
    try {
      const response = await fetch(this.url, {
        method: "GET",
        redirect: "manual",
        signal: controller.signal,
        headers: {
          accept: "application/json, text/plain;q=0.9, */*;q=0.1",
          "user-agent": "juno-health-check",
        },
      });
      answered = true;
      // Only the status matters; dropping the body frees the connection for the next check.
      await response.body?.cancel().catch(() => undefined);
      return this.classify(startedMs, response.status, response.headers.get(OVERLOADED_HEADER));
    } catch (error) {
      if (timedOut) return timing.result(startedMs, false, `timed out after ${timing.timeoutMs} ms`);
      if (signal.aborted) return timing.result(startedMs, false, "cancelled");
      return timing.result(startedMs, false, describeError(error));
    } finally {
      timing.timers.clearTimeout(timer);
      signal.removeEventListener("abort", cancel);
    }
  }

  private classify(startedMs: number, status: number, overloadedHeader: string | null): CheckResult {
    const detail = `HTTP ${status}`;
    if (status === 429 || status === 503) return this.timing.result(startedMs, true, detail, true);
    if (status < 200 || status > 299) return this.timing.result(startedMs, false, detail);
    const saysOverloaded =
      overloadedHeader !== null && !["0", "false"].includes(overloadedHeader.trim().toLowerCase());
    if (saysOverloaded)
      return this.timing.result(startedMs, true, `${detail} with ${OVERLOADED_HEADER}`, true);
    return this.timing.result(startedMs, true, detail);
  }
}

/** A TCP connect to the agent's host and port: passes once the connection is accepted, then closes it. */
export class TcpCheck implements Check {
  readonly kind = "tcp";
  readonly host: string;
  readonly port: number;
  private readonly timing: CheckTiming;

  constructor(host: string, port: number, options: CheckOptions) {
    if (!(Number.isInteger(port) && port >= 1 && port <= 65_535)) {
      throw new RangeError("tcp check port must be in [1, 65535]");
    }
    this.host = host;
    this.port = port;
    this.timing = new CheckTiming(options);
  }

  /** Connects once, within the timeout, and closes the connection at once. */
  run(signal: AbortSignal): Promise<CheckResult> {
    const { timing } = this;
    const startedMs = timing.clock();
    if (signal.aborted) return Promise.resolve(timing.result(startedMs, false, "cancelled"));
    return new Promise<CheckResult>((resolve) => {
      const socket = net.connect({ host: this.host, port: this.port });
      let settled = false;
      const finish = (ok: boolean, detail: string): void => {
        if (settled) return;
        settled = true;
        timing.timers.clearTimeout(timer);
        signal.removeEventListener("abort", cancel);
        socket.destroy();
        resolve(timing.result(startedMs, ok, detail));
      };
      const cancel = (): void => finish(false, "cancelled");
      const timer = timing.timers.setTimeout(
        () => afterPendingIo(() => finish(false, `timed out after ${timing.timeoutMs} ms`)),
        timing.timeoutMs,
      );
      signal.addEventListener("abort", cancel, { once: true });
      socket.once("connect", () => finish(true, `connected to ${this.host}:${this.port}`));
      // Kept for the socket's life: an error after the result must not become an uncaught exception.
      socket.on("error", (error) => finish(false, describeError(error)));
    });
  }
}

/** A short account of a network error: its code (ECONNREFUSED) where Node gives one. */
export function describeError(error: unknown): string {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  if (typeof cause === "object" && cause !== null) {
    const code = (cause as { code?: unknown }).code;
    const message = (cause as { message?: unknown }).message;
    if (typeof code === "string" && typeof message === "string") return `${code}: ${message}`.slice(0, 200);
    if (typeof code === "string") return code;
    if (typeof message === "string") return message.slice(0, 200);
  }
  return String(cause).slice(0, 200);
}
