/**
 * The transport under the typed client: one request sent to a preferred node out of a list, and
 * on a network error, a timeout, or a 502/503/504 (or a 429), moved to the next node and retried
 * with capped exponential backoff and full jitter, honouring Retry-After, up to a bound. A request
 * that is not safe to repeat is never sent again once it may have reached a server: the caller
 * hears `outcome_unknown` instead.
 *
 * The preferred node is shared by every request of the client, unless a request brings a
 * NodePreference of its own (an agent's beats do): then it starts there, and the node that
 * answered (or, after a failure, the next one to try) is written back to it alone.
 */

import { JunoApiError, NO_STATUS, errorFromAnswer, type AttemptRecord } from "./errors.js";
import {
  judgeAttempt,
  parseRetryAfterMs,
  retryDelayMs,
  retryPolicy,
  type AttemptOutcome,
  type RetryPolicy,
} from "./retry-policy.js";
import { AbortHandle, SYSTEM_TIMERS, linkAbort, sleeperOn, type Sleep, type Timers } from "./timers.js";
import { ResponseTooLarge, requesterFor, type Requester, type WireAnswer } from "./requester.js";
import type { ClientTlsOptions } from "./tls.js";

/** The HTTP methods the API uses. */
export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Methods that HTTP defines as safe to repeat; POST and PATCH are not unless a request says so. */
const IDEMPOTENT_METHODS: ReadonlySet<HttpMethod> = new Set(["GET", "PUT", "DELETE"]);

/** Query parameters: a value per name, or several for a repeated name; undefined ones are left out. */
export type QueryParameters = Readonly<Record<string, string | number | readonly string[] | undefined>>;

/** How the transport is set up. */
export interface HttpTransportOptions {
  /** Base URLs of juno nodes (http or https), tried in order; the first is preferred at first. */
  readonly urls: readonly string[];
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** How long one attempt may take, answer body included. */
  readonly timeoutMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  /** The largest answer body read; a larger one is refused as invalid_response. */
  readonly responseBytesMax?: number;
  /** Sends the requests through this fetch instead of undici's own pool (requester.ts). */
  readonly fetch?: typeof fetch;
  /**
   * For https:// nodes: the CA to trust instead of the system's, and a client certificate to
   * present (tls.ts). Ignored when `fetch` is given.
   */
  readonly tls?: ClientTlsOptions;
  /** A generator of [0, 1) for the backoff jitter. */
  readonly random?: () => number;
  /** How the client waits between attempts; by default on `timers`. */
  readonly sleep?: Sleep;
  /** Timers for the per-attempt timeout (and the default sleep). */
  readonly timers?: Timers;
  /** The wall clock in milliseconds, for Retry-After given as a date. */
  readonly now?: () => number;
}

/**
 * The node a line of requests (an agent's beats) goes to first, apart from the client's shared
 * preference. Invariant: `url` is null (no preference yet) or one of the client's base URLs;
 * any other value is ignored and the shared preference used instead.
 */
export interface NodePreference {
  url: string | null;
}

/** One API request. */
export interface ApiRequest {
  readonly method: HttpMethod;
  /** The path from the base URL, `/api/v3/...`. */
  readonly path: string;
  readonly query?: QueryParameters;
  /** Sent as JSON when present, unless `contentType` says otherwise. */
  readonly body?: unknown;
  /**
   * The media type of a body that is already text (`application/yaml`): it is sent as it is.
   * Without it the body is sent as JSON.
   */
  readonly contentType?: string;
  /**
   * Whether the request may be sent twice: true by default for GET, PUT and DELETE, false for
   * POST and PATCH. An API that makes a POST safe (register by name and endpoint, heartbeats)
   * says so here.
   */
  readonly idempotent?: boolean;
  readonly signal?: AbortSignal;
  /** Overrides the per-attempt timeout. */
  readonly timeoutMs?: number;
  /** Overrides parts of the client's retry policy for this request. */
  readonly retry?: Partial<RetryPolicy>;
  /** Starts at this preference's node instead of the shared one, and writes back where to start next time. */
  readonly prefer?: NodePreference;
}

/** A successful answer. */
export interface ApiResponse {
  readonly status: number;
  /** The parsed JSON body, or null when it was empty. */
  readonly body: unknown;
  /** The base URL that answered. */
  readonly url: string;
  /**
   * The attempts that failed before this answer, in order; empty when the first one answered.
   * When not empty, an earlier attempt may have reached a server and taken effect too.
   */
  readonly attempts: readonly AttemptRecord[];
}

/** More nodes than this in one client is a configuration mistake. */
export const URLS_MAX = 64;

/** Ten seconds: longer than juno's own proposal timeout would need, short enough to fail over. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Sixteen MiB: far beyond a page of agents, far below what would hurt the process. */
export const DEFAULT_RESPONSE_BYTES_MAX = 16 * 1024 * 1024;

/** The longest per-attempt timeout accepted, ten minutes. */
const TIMEOUT_LIMIT_MS = 600_000;

/** TLS verification failures: the node's certificate was not trusted, so no request was sent. */
const CERTIFICATE_ERROR_CODES: readonly string[] = [
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
];

/**
 * Connection errors that prove a request never left this machine, so even a request that is
 * not safe to repeat may be sent elsewhere. A reset is not among them: it can come after the
 * server read the request.
 */
const NOT_SENT_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
  // A certificate refused during the TLS handshake: nothing of the request was sent.
  ...CERTIFICATE_ERROR_CODES,
]);

/** How deep the `cause` chain of a fetch error is searched for a connection code. */
const CAUSE_DEPTH_MAX = 5;

/** What one attempt came to. */
type Attempt =
  | { readonly kind: "ok"; readonly response: ApiResponse }
  | { readonly kind: "answered"; readonly error: JunoApiError; readonly retryAfterMs: number | null }
  | { readonly kind: "not_sent" | "lost"; readonly reason: string; readonly timedOut: boolean }
  | { readonly kind: "aborted" };

/** Sends API requests to a list of nodes with failover and bounded retries. */
export class HttpTransport {
  private readonly urls: readonly string[];
  private readonly authorization: string | null;
  private readonly timeoutMs: number;
  private readonly policy: RetryPolicy;
  private readonly responseBytesMax: number;
  private readonly request: Requester;
  private readonly random: () => number;
  private readonly sleep: Sleep;
  private readonly timers: Timers;
  private readonly now: () => number;
  /**
   * Invariant: 0 <= preferred < urls.length. The node a new request goes to first: the last one
   * that answered, or the one after the last that failed.
   */
  private preferred = 0;

  constructor(options: HttpTransportOptions) {
    this.urls = checkUrls(options.urls);
    this.authorization = options.token === undefined ? null : `Bearer ${checkToken(options.token)}`;
    this.timeoutMs = checkTimeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.policy = retryPolicy(options.retry);
    this.responseBytesMax = options.responseBytesMax ?? DEFAULT_RESPONSE_BYTES_MAX;
    this.request = requesterFor(options);
    this.random = options.random ?? Math.random;
    this.timers = options.timers ?? SYSTEM_TIMERS;
    this.sleep = options.sleep ?? sleeperOn(this.timers);
    this.now = options.now ?? Date.now;
  }

  /** The base URL the next request goes to first: the last one that answered. */
  get preferredUrl(): string {
    return this.urls[this.preferred] ?? "";
  }

  /** Sends `request`, failing over and retrying as the module comment says; throws JunoApiError. */
  async send(request: ApiRequest): Promise<ApiResponse> {
    const idempotent = request.idempotent ?? IDEMPOTENT_METHODS.has(request.method);
    const timeoutMs = request.timeoutMs === undefined ? this.timeoutMs : checkTimeout(request.timeoutMs);
    const policy =
      request.retry === undefined ? this.policy : retryPolicy({ ...this.policy, ...request.retry });
    const target = `${request.path}${queryString(request.query)}`;
    const body = bodyText(request);
    const attempts: AttemptRecord[] = [];
    let last: Exclude<Attempt, { kind: "ok" | "aborted" }> | null = null;
    let index = this.startIndex(request.prefer);
    let delayMs = 0;
    for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
      if (attempt > 1) await this.pause(delayMs, request, attempts);
      const url = this.urls[index] ?? "";
      const result = await this.attempt(url, target, body, request, timeoutMs);
      if (result.kind === "ok") {
        if (request.prefer === undefined) this.preferred = index;
        else request.prefer.url = url;
        return { ...result.response, attempts };
      }
      if (result.kind === "aborted") throw abortedError(request, url, attempts);
      attempts.push(recordOf(url, result));
      last = result;
      const verdict = judgeAttempt(outcomeOf(result), idempotent);
      if (verdict === "fail" && result.kind === "answered") throw withAttempts(result.error, attempts);
      const failed = index;
      index = (index + 1) % this.urls.length;
      // A request with its own preference tries elsewhere next time, whatever this one comes to.
      if (request.prefer !== undefined) request.prefer.url = this.urls[index] ?? null;
      if (verdict === "outcome_unknown") throw outcomeUnknown(request, url, result, attempts);
      // Concurrent requests that failed on the same node move the preference once, not once each.
      if (this.preferred === failed) this.preferred = index;
      delayMs = retryDelayMs(attempt, policy, this.random, retryAfterOf(result));
    }
    throw exhausted(request, last, attempts);
  }

  /** Where a request starts: its own preference when it names one of the nodes, else the shared one. */
  private startIndex(prefer: NodePreference | undefined): number {
    const own = prefer === undefined || prefer.url === null ? -1 : this.urls.indexOf(prefer.url);
    return own >= 0 ? own : this.preferred;
  }

  /** Waits before the next attempt; the caller's abort ends the wait and the request. */
  private async pause(
    delayMs: number,
    request: ApiRequest,
    attempts: readonly AttemptRecord[],
  ): Promise<void> {
    try {
      await this.sleep(delayMs, request.signal);
    } catch {
      throw abortedError(request, this.preferredUrl, attempts);
    }
    if (isAborted(request.signal)) throw abortedError(request, this.preferredUrl, attempts);
  }

  /** One attempt at one node, with its own timeout; never throws. */
  private async attempt(
    url: string,
    target: string,
    body: string | undefined,
    request: ApiRequest,
    timeoutMs: number,
  ): Promise<Attempt> {
    if (isAborted(request.signal)) return { kind: "aborted" };
    // One handle per attempt, not an AbortController: see AbortHandle.
    const handle = new AbortHandle();
    let timedOut = false;
    const timer = this.timers.setTimeout(() => {
      timedOut = true;
      handle.abort();
    }, timeoutMs);
    // Linked, not a listener each: an agent's one stop signal is shared by a call per running task.
    const unlink = request.signal === undefined ? null : linkAbort(request.signal, handle);
    try {
      const answer = await this.request(`${url}${target}`, {
        method: request.method,
        headers: this.headers(body === undefined ? null : (request.contentType ?? "application/json")),
        body,
        signal: handle,
        bytesMax: this.responseBytesMax,
      });
      return answerOf(url, answer, this.now());
    } catch (error) {
      if (isAborted(request.signal)) return { kind: "aborted" };
      if (error instanceof ResponseTooLarge) {
        return {
          kind: "answered",
          error: new JunoApiError(error.status, "invalid_response", error.message),
          retryAfterMs: null,
        };
      }
      if (timedOut) return { kind: "lost", reason: `no answer within ${timeoutMs} ms`, timedOut: true };
      const reason = describeFailure(error);
      return { kind: isNotSent(error) ? "not_sent" : "lost", reason, timedOut: false };
    } finally {
      this.timers.clearTimeout(timer);
      unlink?.();
    }
  }

  private headers(contentType: string | null): Record<string, string> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (contentType !== null) headers["content-type"] = contentType;
    if (this.authorization !== null) headers["authorization"] = this.authorization;
    return headers;
  }
}

/** The body as it goes on the wire: JSON, or the text itself when the request names its media type. */
function bodyText(request: ApiRequest): string | undefined {
  if (request.body === undefined) return undefined;
  if (request.contentType === undefined) return JSON.stringify(request.body);
  if (typeof request.body !== "string") throw new TypeError(`a ${request.contentType} body is text`);
  return request.body;
}

/** An answer as an attempt: success, or the error in the server's shape. */
function answerOf(url: string, answer: WireAnswer, nowMs: number): Attempt {
  const text = answer.text;
  const ok = answer.status >= 200 && answer.status < 300;
  let body: unknown = null;
  if (text.trim() !== "") {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
      if (ok) {
        const error = new JunoApiError(answer.status, "invalid_response", `${url} answered with non-JSON`);
        return { kind: "answered", error, retryAfterMs: null };
      }
    }
  }
  if (ok) return { kind: "ok", response: { status: answer.status, body, url, attempts: [] } };
  const retryAfterMs = parseRetryAfterMs(answer.header("retry-after"), nowMs);
  return { kind: "answered", error: errorFromAnswer(answer.status, body), retryAfterMs };
}

/** The attempt as the retry policy sees it. */
function outcomeOf(attempt: Exclude<Attempt, { kind: "ok" | "aborted" }>): AttemptOutcome {
  if (attempt.kind !== "answered") return { kind: attempt.kind };
  const code = attempt.error.code === "unexpected_response" ? null : attempt.error.code;
  return { kind: "answered", status: attempt.error.status, code };
}

function retryAfterOf(attempt: Exclude<Attempt, { kind: "ok" | "aborted" }>): number | null {
  return attempt.kind === "answered" ? attempt.retryAfterMs : null;
}

function recordOf(url: string, attempt: Exclude<Attempt, { kind: "ok" | "aborted" }>): AttemptRecord {
  if (attempt.kind === "answered") return { url, status: attempt.error.status, code: attempt.error.code };
  return { url, status: NO_STATUS, code: attempt.timedOut ? "timeout" : "unreachable" };
}

/** The server's error, now also carrying the attempts that led to it. */
function withAttempts(error: JunoApiError, attempts: readonly AttemptRecord[]): JunoApiError {
  return new JunoApiError(error.status, error.code, error.message, error.details, attempts);
}

/** The error for a request that is not safe to repeat and may have taken effect. */
function outcomeUnknown(
  request: ApiRequest,
  url: string,
  attempt: Exclude<Attempt, { kind: "ok" | "aborted" }>,
  attempts: readonly AttemptRecord[],
): JunoApiError {
  // The server's own outcome_unknown already says so in its words; pass it on as it is.
  if (attempt.kind === "answered" && attempt.error.code === "outcome_unknown") {
    return withAttempts(attempt.error, attempts);
  }
  const what =
    attempt.kind === "answered"
      ? `${url} answered ${attempt.error.status} ${attempt.error.code}`
      : `${url}: ${attempt.reason}`;
  const status = attempt.kind === "answered" ? attempt.error.status : NO_STATUS;
  const cause =
    attempt.kind === "answered" ? attempt.error.code : attempt.timedOut ? "timeout" : "unreachable";
  return new JunoApiError(
    status,
    "outcome_unknown",
    `${request.method} ${request.path}: ${what}; it is not safe to repeat, and it may or may not have taken effect`,
    { cause, url },
    attempts,
  );
}

/** The error once every attempt was spent: the last answer, or why no answer came. */
function exhausted(
  request: ApiRequest,
  last: Exclude<Attempt, { kind: "ok" | "aborted" }> | null,
  attempts: readonly AttemptRecord[],
): JunoApiError {
  if (last !== null && last.kind === "answered") return withAttempts(last.error, attempts);
  const code = last !== null && last.timedOut ? "timeout" : "unreachable";
  const tried = attempts.map((record) => `${record.url} (${record.code})`).join(", ");
  return new JunoApiError(
    NO_STATUS,
    code,
    `${request.method} ${request.path}: no node answered after ${attempts.length} attempts: ${tried}; last: ${last?.reason ?? "none"}`,
    {},
    attempts,
  );
}

function abortedError(request: ApiRequest, url: string, attempts: readonly AttemptRecord[]): JunoApiError {
  return new JunoApiError(
    NO_STATUS,
    "aborted",
    `${request.method} ${request.path} to ${url}: aborted`,
    {},
    attempts,
  );
}

/** Whether the caller's signal fired; a function, so a check before an await does not narrow one after it. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** Whether a fetch error proves the request never left (a connection refused, an unknown host). */
function isNotSent(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < CAUSE_DEPTH_MAX && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && NOT_SENT_ERROR_CODES.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** A network error in words, with the connection code (fetch keeps it in the error's cause). */
function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause instanceof Error ? error.cause : error;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && CERTIFICATE_ERROR_CODES.includes(code)) {
      return (
        `${error.message}: the node's TLS certificate was not trusted (${code}: ${cause.message}); ` +
        "give the CA that issued it (--ca or JUNO_CA_FILE; the SDK's tls.ca)"
      );
    }
    if (typeof code === "string") return `${error.message} (${code})`;
    return cause === error ? error.message : `${error.message}: ${cause.message}`;
  }
  return error.message;
}

/** `?name=value&...`, or "" without parameters. */
function queryString(query: QueryParameters | undefined): string {
  if (query === undefined) return "";
  const parameters = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (typeof value === "string" || typeof value === "number") parameters.append(name, String(value));
    else for (const item of value) parameters.append(name, item);
  }
  const text = parameters.toString();
  return text === "" ? "" : `?${text}`;
}

/** The base URLs without trailing slashes; throws on an empty or oversized list or a non-http(s) URL. */
function checkUrls(urls: readonly string[]): readonly string[] {
  if (urls.length === 0) throw new RangeError("urls must name at least one juno node");
  if (urls.length > URLS_MAX)
    throw new RangeError(`urls may name at most ${URLS_MAX} nodes, got ${urls.length}`);
  return urls.map((text) => {
    const url = URL.canParse(text) ? new URL(text) : null;
    if (url === null || (url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
      throw new RangeError(`not an http(s) base URL: ${JSON.stringify(text)}`);
    }
    if (url.search !== "" || url.hash !== "")
      throw new RangeError(`a base URL has no query or fragment: ${text}`);
    return text.replace(/\/+$/, "");
  });
}

/** The token, if it can travel in a header: printable ASCII without spaces. */
function checkToken(token: string): string {
  if (!/^[\x21-\x7e]+$/.test(token)) throw new RangeError("token must be printable ASCII without spaces");
  return token;
}

function checkTimeout(timeoutMs: number): number {
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > TIMEOUT_LIMIT_MS) {
    throw new RangeError(`timeoutMs must be a whole number in 1..${TIMEOUT_LIMIT_MS}, got ${timeoutMs}`);
  }
  return timeoutMs;
}
