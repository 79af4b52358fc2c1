/**
 * The page's link to the cluster. Requests go to the node the live stream comes from; the stream
 * (GET /api/v3/ui/stream, read with fetch() so it can carry the bearer token) says which node that
 * is, and every member's http_addr. When the stream breaks, the page tries its own origin first
 * (behind a Kubernetes Service that is another pod by now), then every member it learned of,
 * directly (CORS), in rounds with a growing pause between them, and carries on from whichever
 * answers. A node that does not answer within CONNECT_TIMEOUT_MS is passed over, and a stream
 * that goes quiet longer than three heartbeats counts as broken.
 */

import { EventStreamParser, type StreamEvent } from "./sse.js";
import { Store } from "./store.js";
import type { Overview, TaskSample } from "./types.js";

/** Where the link stands, for the header. */
export type LinkState =
  | { readonly kind: "connecting" }
  | { readonly kind: "live"; readonly via: string; readonly base: string }
  | { readonly kind: "reconnecting"; readonly lastVia: string | null; readonly error: string }
  | { readonly kind: "unauthorized" };

/** A refusal from the API, with its stable code. */
export class ApiFailure extends Error {
  override name = "ApiFailure";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Where the token is kept: for this tab only, until it closes. */
const TOKEN_KEY = "juno.dashboard.token";
/** A stream with no bytes for this long is dead (the server sends a heartbeat every 5 s). */
const STALL_MS = 15_000;
/** A node that has not answered a stream's request in this long is passed over for the next. */
const CONNECT_TIMEOUT_MS = 4_000;
/** Longest a request may take before the page gives up on it. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Pauses between rounds of reconnection attempts. */
const BACKOFF_INITIAL_MS = 300;
const BACKOFF_MAX_MS = 5_000;
/** Samples the page keeps for its charts (the server keeps as many). */
const SAMPLES_KEPT = 300;

/** How to follow one event stream. */
export interface FollowOptions {
  /** The path under the node's root, e.g. "api/v3/workflows/{id}/watch". */
  readonly path: string;
  /** Each event; return true when the stream is over for good (no reconnection). */
  readonly onEvent: (event: StreamEvent, base: string) => boolean | void;
  /** A connection answered and the stream runs from `base`. */
  readonly onLive?: (base: string) => void;
  /** The stream broke; the follower retries. */
  readonly onBroken?: (error: string) => void;
  /** Refused for good (a status in `finalStatuses`): no retry. */
  readonly onRefused?: (failure: ApiFailure) => void;
  /** Answers that end the following besides 401, which asks for the token (default 400, 404). */
  readonly finalStatuses?: readonly number[];
  /** Nodes to try first (default: the page's own node, then the rest). */
  readonly prefer?: () => string | null;
}

/** The link, shared by every view. */
export class Connection {
  readonly state = new Store<LinkState>({ kind: "connecting" });
  readonly overview = new Store<Overview | null>(null);
  readonly samples = new Store<readonly TaskSample[]>([]);
  /** The node requests go to: the live stream's, else the page's own. */
  private base: string;
  private memberBases: string[] = [];
  private main: { stop(): void } | null = null;

  constructor(private readonly origin: string) {
    this.base = origin;
  }

  /** The bearer token, if one was given. */
  token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  /** Keeps `token` for this tab and connects again with it (null forgets it). */
  setToken(token: string | null): void {
    if (token === null || token === "") sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
    this.start();
  }

  /** The node requests go to now. */
  currentBase(): string {
    return this.base;
  }

  /** Starts (or restarts) the live stream, asking for a token first if the cluster wants one. */
  start(): void {
    this.main?.stop();
    this.state.set({ kind: "connecting" });
    const controller = new AbortController();
    this.main = { stop: () => controller.abort() };
    void this.needsToken().then((needed) => {
      if (controller.signal.aborted) return;
      if (needed) this.unauthorized();
      else this.main = this.followOverview();
    });
  }

  /** Whether the page must ask for a token before it connects (asked of the public GET /ui/auth). */
  private async needsToken(): Promise<boolean> {
    if (this.token() !== null) return false;
    try {
      const response = await fetch(new URL("api/v3/ui/auth", this.origin), {
        cache: "no-store",
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      if (!response.ok) return false;
      return ((await response.json()) as { token_required?: boolean }).token_required === true;
    } catch {
      // The page's node is gone: the stream finds another, and asks then if it must.
      return false;
    }
  }

  private followOverview(): { stop(): void } {
    let lastVia: string | null = null;
    return this.follow({
      path: "api/v3/ui/stream",
      prefer: () => this.origin,
      // A member without the stream (an older version, mid-upgrade) is passed over, not final.
      finalStatuses: [401],
      onEvent: (event, base) => {
        if (event.event === "overview") {
          const overview = JSON.parse(event.data) as Overview;
          lastVia = overview.node.id;
          this.learnMembers(overview);
          this.overview.set(overview);
          const state = this.state.get();
          if (state.kind !== "live" || state.via !== overview.node.id || state.base !== base) {
            this.base = base;
            this.state.set({ kind: "live", via: overview.node.id, base });
          }
        } else if (event.event === "history") {
          const history = JSON.parse(event.data) as { samples: TaskSample[] };
          this.samples.set(history.samples.slice(-SAMPLES_KEPT));
        } else if (event.event === "sample") {
          const sample = JSON.parse(event.data) as TaskSample;
          this.samples.set([...this.samples.get(), sample].slice(-SAMPLES_KEPT));
        }
      },
      onBroken: (error) => this.state.set({ kind: "reconnecting", lastVia, error }),
      onRefused: (failure) =>
        this.state.set({ kind: "reconnecting", lastVia, error: `${failure.code}: ${failure.message}` }),
    });
  }

  /** Every node to try, in order: `first`, the page's own node, then every member. */
  candidates(first: string | null = null): string[] {
    const all = [first, this.origin, ...this.memberBases].filter((base): base is string => base !== null);
    return [...new Set(all)];
  }

  /** The root URL of a member at `httpAddress` (host:port), as the page reaches it. */
  memberBase(httpAddress: string): string {
    return `${location.protocol}//${httpAddress}/`;
  }

  /** One API call (path under /api/v3) to the current node, or to `base`; its JSON answer. */
  async request<T>(
    path: string,
    init: { method?: string; body?: unknown; timeoutMs?: number } = {},
    base = this.base,
  ): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    const token = this.token();
    if (token !== null) headers["authorization"] = `Bearer ${token}`;
    if (init.body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(new URL(`api/v3${path}`, base), {
      method: init.method ?? "GET",
      headers,
      cache: "no-store",
      signal: AbortSignal.timeout(init.timeoutMs ?? REQUEST_TIMEOUT_MS),
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    if (!response.ok) {
      const failure = await failureOf(response);
      if (failure.status === 401) this.unauthorized();
      throw failure;
    }
    return (await response.json()) as T;
  }

  /** Follows an event stream across nodes until it is over or `stop()` is called. */
  follow(options: FollowOptions): { stop(): void } {
    const controller = new AbortController();
    void this.followLoop(options, controller.signal);
    return { stop: () => controller.abort() };
  }

  private async followLoop(options: FollowOptions, signal: AbortSignal): Promise<void> {
    let round = 0;
    while (!signal.aborted) {
      const preferred = options.prefer?.() ?? this.base;
      for (const base of this.candidates(preferred)) {
        if (signal.aborted) return;
        const outcome = await this.readOnce(base, options, signal);
        if (outcome.kind === "over") return;
        if (outcome.kind === "refused") {
          if (outcome.failure.status === 401) this.unauthorized();
          else options.onRefused?.(outcome.failure);
          return;
        }
        if (outcome.kind === "broke-after-live") {
          // It ran: start again from the preferred node after the shortest pause.
          round = 0;
          options.onBroken?.(outcome.error);
          break;
        }
        options.onBroken?.(`${new URL(base).host}: ${outcome.error}`);
      }
      if (signal.aborted) return;
      await sleep(backoffMs(round++), signal);
    }
  }

  /** One connection to `base`: how it ended. */
  private async readOnce(
    base: string,
    options: FollowOptions,
    signal: AbortSignal,
  ): Promise<
    | { kind: "over" }
    | { kind: "refused"; failure: ApiFailure }
    | { kind: "broke-after-live"; error: string }
    | { kind: "failed"; error: string }
  > {
    const attempt = new AbortController();
    const abort = (): void => attempt.abort();
    signal.addEventListener("abort", abort, { once: true });
    let watchdog = setTimeout(abort, CONNECT_TIMEOUT_MS);
    const feed = (): void => {
      clearTimeout(watchdog);
      watchdog = setTimeout(abort, STALL_MS);
    };
    let live = false;
    try {
      const headers: Record<string, string> = { accept: "text/event-stream" };
      const token = this.token();
      if (token !== null) headers["authorization"] = `Bearer ${token}`;
      const response = await fetch(new URL(options.path, base), {
        headers,
        cache: "no-store",
        signal: attempt.signal,
      });
      if (!response.ok) {
        const failure = await failureOf(response);
        if (response.status === 401 || (options.finalStatuses ?? [400, 404]).includes(response.status))
          return { kind: "refused", failure };
        return { kind: "failed", error: `${failure.status} ${failure.code}` };
      }
      if (response.body === null) return { kind: "failed", error: "no body" };
      live = true;
      feed();
      options.onLive?.(base);
      const parser = new EventStreamParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        feed();
        for (const event of parser.push(value))
          if (options.onEvent(event, base) === true) return { kind: "over" };
      }
      return { kind: "broke-after-live", error: "the stream ended" };
    } catch (error) {
      if (signal.aborted) return { kind: "over" };
      const message = attempt.signal.aborted ? "no answer in time" : errorText(error);
      return live ? { kind: "broke-after-live", error: message } : { kind: "failed", error: message };
    } finally {
      clearTimeout(watchdog);
      signal.removeEventListener("abort", abort);
      attempt.abort();
    }
  }

  private learnMembers(overview: Overview): void {
    const bases = overview.members
      .map((member) => member.http_addr)
      .filter((address): address is string => address !== null)
      .map((address) => this.memberBase(address));
    // Members once learned stay candidates (a dead one is skipped quickly, refusing connections).
    this.memberBases = [...new Set([...bases, ...this.memberBases])];
  }

  private unauthorized(): void {
    this.main?.stop();
    this.main = null;
    this.state.set({ kind: "unauthorized" });
  }
}

async function failureOf(response: Response): Promise<ApiFailure> {
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    return new ApiFailure(
      response.status,
      body.error?.code ?? `http_${response.status}`,
      body.error?.message ?? response.statusText,
    );
  } catch {
    return new ApiFailure(response.status, `http_${response.status}`, response.statusText);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The pause before round `round` of attempts: doubling, capped, with a fifth of jitter. */
function backoffMs(round: number): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** round);
  return base * (0.8 + 0.4 * Math.random());
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
