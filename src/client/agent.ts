/**
 * Agent: what an agent process runs to take part in juno. `start()` registers, retrying until it
 * succeeds or the agent stops; then one loop beats every `heartbeat_interval_ms` the server asked
 * for (a little early, with jitter, so agents that started together spread out), across node
 * failures and leader changes through the client's failover. A beat that hears 404
 * agent_not_found (the agent was removed, or its registration lost) registers again. `stop()`
 * ends the loop and deregisters within a bounded time.
 *
 * One juno node that stalls must never get the agent declared failed (the server does so after
 * `lease_ms` without a beat), so a beat does not wait on it long:
 * - Each attempt of a beat waits at most beatTimeoutMs(): the interval, and a quarter of the
 *   lease, within [BEAT_TIMEOUT_MIN_MS, BEAT_TIMEOUT_MAX_MS].
 * - A beat that times out or is refused for now (503 no_leader, say) goes again at once, after a
 *   short backoff and without waiting out a Retry-After, to the next node: up to BEAT_ATTEMPTS_MAX
 *   attempts, each on a different node while there are others. So a stalled node costs one beat
 *   one attempt's timeout, and never a whole interval.
 * - Beats keep a node of their own: the next one goes first to the node that answered the last
 *   (or, after a failure, to the one after those it tried), whatever the client's other calls
 *   (polls, reports) last found; a node that serves those but stalls beats is not tried again.
 *
 * With a handler registered (`handle(taskType, handler)`), the agent also takes tasks: the
 * worker (worker.ts) polls for them and runs them, and each beat reports how many run. Then
 * `stop()` drains first: it marks the agent draining (so no new task is placed on it), stops
 * polling, lets the running handlers finish and report within `drainTimeoutMs` while the beats
 * go on renewing their leases, and only then deregisters.
 *
 * An agent registered with `delivery: "push"` does not poll: juno's leader POSTs its tasks to its
 * delivery URL (`deliveryUrl`, by default `{endpoint}/juno/tasks`). The agent's HTTP server is
 * the user's: `pushListener()` gives the request handler to mount on it, or `listen()` starts a
 * server of the agent's own (push.ts). Cancellations come on the beats' answers (as they also do,
 * sooner than the next poll, for a pull agent). On `stop()` new pushes are refused 503 draining,
 * so juno places them elsewhere, while the running handlers finish as above.
 */

import { JunoClient, isAgentNotFound } from "./client.js";
import { JunoApiError, NO_STATUS } from "./errors.js";
import { TypedEvents, type Listener } from "./events.js";
import type { ClientTlsOptions } from "./tls.js";
import {
  DEFAULT_DELIVERY_PATH,
  createPushListener,
  listenOn,
  type ListenOptions,
  type PushListener,
  type PushListenerOptions,
  type PushServer,
} from "./push.js";
import type { NodePreference } from "./http.js";
import { backoffDelayMs, retryPolicy, type RetryPolicy } from "./retry-policy.js";
import { expectAttempt, invalid } from "./shape.js";
import { SYSTEM_TIMERS, deadline, type Timers } from "./timers.js";
import { Worker, type TaskEvent, type TaskHandler, type WorkerOptions } from "./worker.js";
import type {
  AgentStatus,
  AgentView,
  CancelledAttempt,
  DeliveryMode,
  HeartbeatRequest,
  HeartbeatResponse,
  RegisterAgentRequest,
  RegisteredAgent,
} from "./types.js";

/** How the registry checks the agent beyond its beats (camelCase of the API's health_check). */
export interface HealthCheckOptions {
  /** "none": heartbeats alone decide the agent's health. */
  readonly type: "http" | "tcp" | "none";
  readonly url?: string;
  readonly successBeforePassing?: number;
  readonly failuresBeforeCritical?: number;
}

/** What the agent reports about its load on each beat. */
export interface LoadReport {
  readonly activeTasks?: number;
  readonly gauges?: Readonly<Record<string, number>>;
}

/** How an Agent is set up; the worker's options (polling, draining) apply once a handler is registered. */
export interface AgentOptions extends WorkerOptions {
  /** The client to talk through; or give `urls` (and `token`) and the agent makes one. */
  readonly client?: JunoClient;
  readonly urls?: readonly string[];
  readonly token?: string;
  /** With `urls`: the CA to trust for https:// nodes and a client certificate (JunoClientOptions.tls). */
  readonly tls?: ClientTlsOptions;
  readonly name: string;
  /** Where the agent serves, an http(s) URL. */
  readonly endpoint: string;
  readonly team: string;
  readonly skills: readonly string[];
  /** Tasks the agent takes at once; a whole number of at least 1. */
  readonly capacity: number;
  readonly weight?: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly healthCheck?: HealthCheckOptions;
  readonly agentCardUrl?: string;
  /**
   * How the agent takes its tasks: "pull" (the default) long-polls for them; "push" has juno's
   * leader POST them to `deliveryUrl`, served by `pushListener()` or `listen()`.
   */
  readonly delivery?: DeliveryMode;
  /** Where juno POSTs a push agent's tasks, an http(s) URL; default `{endpoint}/juno/tasks`. Push only. */
  readonly deliveryUrl?: string;
  /**
   * Called before each beat; a throw or a slow answer is reported and the beat goes without it.
   * Without it, or when it gives no activeTasks, a beat reports the tasks the handlers run.
   */
  readonly load?: () => LoadReport | Promise<LoadReport>;
  /** Timers for the beats, the register backoff and the stop deadline (and the client it makes). */
  readonly timers?: Timers;
  /** A generator of [0, 1) for the jitter (and the client it makes). */
  readonly random?: () => number;
  /** Beats come up to this fraction of the interval early; default 0.1, at most 0.5. */
  readonly jitterRatio?: number;
  /** Backoff between failed registrations; attempts are unbounded, until stop(). */
  readonly registerRetry?: { readonly initialMs?: number; readonly maxMs?: number };
  /** How long stop() may spend deregistering. */
  readonly stopTimeoutMs?: number;
}

/** What the agent was doing when an error came. */
export type AgentActivity =
  "register" | "heartbeat" | "load" | "deregister" | "listener" | "poll" | "report" | "push";

/** The events an Agent emits, with their payloads. */
export interface AgentEvents {
  /** The server took the registration (again, after a 404); `created` is false when it knew the agent. */
  registered: {
    readonly agent: AgentView;
    readonly created: boolean;
    readonly heartbeatIntervalMs: number;
    readonly leaseMs: number;
  };
  /** A beat was answered. */
  heartbeat: HeartbeatResponse;
  /** The status the server reports changed; `previous` is null for the first one heard. */
  status: { readonly id: string; readonly previous: AgentStatus | null; readonly status: AgentStatus };
  /** Something failed; the agent carries on unless `start()` was refused for good. */
  error: { readonly error: unknown; readonly during: AgentActivity };
  /** A task's attempt started here, or ended (see TaskOutcome). */
  task: TaskEvent;
}

/** What stopOnSignals listens with: Node's process, seen without Node's types. */
interface SignalSource {
  on(signal: string, listener: () => void): unknown;
  off(signal: string, listener: () => void): unknown;
}

/** Where the agent is in its life. */
type AgentState = "idle" | "running" | "failed" | "stopping" | "stopped";

/** The registration the beats renew. */
interface Registration {
  readonly id: string;
  /** Invariant: HEARTBEAT_INTERVAL_MIN_MS <= intervalMs <= HEARTBEAT_INTERVAL_MAX_MS. */
  intervalMs: number;
  /** How long the server waits without a beat before it declares the agent failed; null when it said nothing usable. */
  readonly leaseMs: number | null;
  /** The key pushes are signed with (push agents of a cluster with a secret), or null: unsigned. */
  readonly deliveryKey: string | null;
}

/** The bounds put on the server's heartbeat interval, so a bad answer cannot spin or stall the loop. */
export const HEARTBEAT_INTERVAL_MIN_MS = 100;
export const HEARTBEAT_INTERVAL_MAX_MS = 600_000;

/** The longest delivery URL the server takes. */
const DELIVERY_URL_LENGTH_MAX = 2_048;

/**
 * The bounds of a beat's attempt timeout (see beatTimeoutMs). The floor leaves a loaded network
 * room to answer; juno's shortest lease (1 s) puts a quarter of it just above.
 */
export const BEAT_TIMEOUT_MIN_MS = 250;
export const BEAT_TIMEOUT_MAX_MS = 10_000;

/**
 * Attempts of one beat, each on the next node: a beat that times out or is refused for now is
 * tried twice more at once rather than left to the next interval. Three attempts of a quarter of
 * the lease each, and their short backoffs, end before the lease does.
 */
export const BEAT_ATTEMPTS_MAX = 3;

/**
 * The retries of a beat: at once, after a short jittered backoff, to the next node. A Retry-After
 * (1 s with no_leader) speaks for the node that sent it, and the retry goes elsewhere, so it is not
 * waited out.
 */
const BEAT_RETRY: Partial<RetryPolicy> = {
  maxAttempts: BEAT_ATTEMPTS_MAX,
  initialMs: 100,
  maxMs: 200,
  retryAfterMaxMs: 0,
};

/** How long `load` may take before the beat goes without it. */
const LOAD_TIMEOUT_MS = 1_000;

const DEFAULT_STOP_TIMEOUT_MS = 5_000;
const DEFAULT_JITTER_RATIO = 0.1;
const DEFAULT_REGISTER_RETRY = { initialMs: 500, maxMs: 30_000 };

/** One agent's registration and heartbeats. */
export class Agent {
  /** The client the agent talks through. */
  readonly client: JunoClient;
  private readonly registerBody: RegisterAgentRequest;
  private readonly load: (() => LoadReport | Promise<LoadReport>) | null;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly jitterRatio: number;
  private readonly registerRetry: RetryPolicy;
  private readonly stopTimeoutMs: number;
  private readonly events: TypedEvents<AgentEvents>;
  private readonly worker: Worker;
  /** Where juno POSTs the tasks of a push agent; null for pull. */
  readonly deliveryUrl: string | null;
  /** Waiters for a registration: resolved with its id, or with null when there will be none. */
  private readonly registrationWaiters = new Set<(id: string | null) => void>();
  /** Fires when stop() begins: aborts the call in flight. */
  private readonly halt = new AbortController();
  /** The node the next beat goes to first: the one that answered the last, kept apart from the client's other calls. */
  private readonly beatNode: NodePreference = { url: null };

  private state: AgentState = "idle";
  /** Null before the first registration and after a 404, until registered again. */
  private registration: Registration | null = null;
  private lastStatus: AgentStatus | null = null;
  private drainingValue = false;
  /** Set by drain(): the next beat goes at once, carrying draining: true. */
  private beatSoon = false;
  private waiting: { readonly handle: unknown; readonly resolve: () => void } | null = null;
  private loop: Promise<void> = Promise.resolve();
  private stopping: Promise<boolean> | null = null;
  private started: { resolve(agent: AgentView | null): void; reject(error: unknown): void } | null = null;
  /** The server listen() starts (null if it failed to); closed once stop() has deregistered. */
  private listening: Promise<PushServer | null> | null = null;

  constructor(options: AgentOptions) {
    this.timers = options.timers ?? SYSTEM_TIMERS;
    this.random = options.random ?? Math.random;
    this.client = clientOf(options, this.timers, this.random);
    this.registerBody = registerBodyOf(options);
    this.deliveryUrl = this.registerBody.delivery?.url ?? null;
    this.load = options.load ?? null;
    this.jitterRatio = options.jitterRatio ?? DEFAULT_JITTER_RATIO;
    if (!(this.jitterRatio >= 0 && this.jitterRatio <= 0.5)) {
      throw new RangeError(`jitterRatio must be in 0..0.5, got ${this.jitterRatio}`);
    }
    this.registerRetry = retryPolicy({ ...DEFAULT_REGISTER_RETRY, ...options.registerRetry });
    this.stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    if (!Number.isInteger(this.stopTimeoutMs) || this.stopTimeoutMs < 1) {
      throw new RangeError(`stopTimeoutMs must be a whole number >= 1, got ${this.stopTimeoutMs}`);
    }
    this.events = new TypedEvents<AgentEvents>((error, event) => {
      // A throwing error listener is not told about itself; that would recurse.
      if (event !== "error") this.events.emit("error", { error, during: "listener" });
    });
    this.worker = new Worker(
      {
        client: this.client,
        delivery: this.deliveryUrl === null ? "pull" : "push",
        capacity: this.registerBody.capabilities.capacity,
        timers: this.timers,
        random: this.random,
        registered: (signal) => this.registered(signal),
        lost: (id) => this.lost(id),
        emitTask: (event) => this.events.emit("task", event),
        emitError: (error, during) => this.events.emit("error", { error, during }),
      },
      options,
    );
  }

  /** The id the server gave, or null while not registered. */
  get id(): string | null {
    return this.registration?.id ?? null;
  }

  /** The status the server last reported, or null before the first answer. */
  get status(): AgentStatus | null {
    return this.lastStatus;
  }

  /** Whether drain() was called. */
  get draining(): boolean {
    return this.drainingValue;
  }

  /** The interval the beats follow, or null while not registered. */
  get heartbeatIntervalMs(): number | null {
    return this.registration?.intervalMs ?? null;
  }

  /** Tasks the handlers hold: running, or reporting what they came to. */
  get activeTasks(): number {
    return this.worker.activeCount;
  }

  /**
   * Registers the handler of a task type, before or after start(); a type has one handler. Once
   * the agent runs with a handler it polls for tasks and runs up to `capacity` at once. A handler
   * resolves with the result (any JSON, at most 64 KiB; undefined for none) or throws to fail
   * the attempt: retried while attempts remain, unless the error is a NonRetryableError (or
   * says `retryable: false`). A task of a type without a handler fails at once, not retryable.
   */
  handle(taskType: string, handler: TaskHandler): this {
    if (this.stopping !== null || this.state === "stopped") throw new Error("the Agent is stopping");
    this.worker.handle(taskType, handler);
    if (this.state === "running") this.worker.start();
    return this;
  }

  /**
   * The request handler of a push agent's deliveries, to mount on your own node:http server (or
   * any with Node's request and response shapes): it answers POSTs to the delivery URL's path (or
   * `options.path`) and returns true, and returns false for any other request, leaving it to you.
   * Answers come at once, before the handlers run (see push.ts for each status).
   */
  pushListener(options: PushListenerOptions = {}): PushListener {
    const url = this.deliveryUrl;
    if (url === null) throw new Error('pushListener() is for an Agent with delivery: "push"');
    const worker = this.worker;
    return createPushListener(
      {
        timers: this.timers,
        currentId: () => this.registration?.id ?? null,
        deliveryKey: () => this.registration?.deliveryKey ?? null,
        registered: (signal) => this.registered(signal),
        refusal: () => worker.pushRefusal(),
        takePush: (agentId, tasks) => worker.takePush(agentId, tasks),
        startWaiting: () => worker.startWaiting(),
        emitError: (error) => this.events.emit("error", { error, during: "push" }),
      },
      options.path ?? new URL(url).pathname,
    );
  }

  /**
   * Serves the push agent's deliveries on a node:http server of its own (Node only), listening on
   * `port` (and `host`): the push listener, `GET {endpoint path}/health` answered 200 for an http
   * health check, and 404 for the rest. Resolves with the base URL it listens on; juno reaches the
   * agent at its endpoint and delivery URL, so give the port those name. The server closes once
   * stop() has deregistered. Call it before start() so that the first push finds it.
   */
  async listen(options: ListenOptions): Promise<string> {
    const listener = this.pushListener();
    if (this.stopping !== null || this.state === "stopped") throw new Error("the Agent is stopping");
    if (this.listening !== null) throw new Error("an Agent listens once");
    const healthPath = `${new URL(this.registerBody.endpoint).pathname.replace(/\/+$/, "")}/health`;
    const starting = listenOn(listener, healthPath, options, (error) =>
      this.events.emit("error", { error, during: "push" }),
    );
    const stored = starting.catch(() => null);
    this.listening = stored;
    try {
      return (await starting).url;
    } catch (error) {
      // A port in use, say: listen() may be tried again.
      if (this.listening === stored) this.listening = null;
      throw error;
    }
  }

  /** Listens to an event. */
  on<K extends keyof AgentEvents>(event: K, listener: Listener<AgentEvents[K]>): this {
    this.events.on(event, listener);
    return this;
  }

  /** Stops listening. */
  off<K extends keyof AgentEvents>(event: K, listener: Listener<AgentEvents[K]>): this {
    this.events.off(event, listener);
    return this;
  }

  /**
   * Registers and starts beating. Resolves with the agent once registered, or with null if stop()
   * came first; rejects only when the server refuses the registration for good (400, 413), which
   * retrying cannot fix. An agent starts once.
   */
  start(): Promise<AgentView | null> {
    if (this.state !== "idle") throw new Error("an Agent can be started once");
    this.state = "running";
    return new Promise((resolve, reject) => {
      this.started = { resolve, reject };
      this.loop = this.run();
      if (this.worker.hasHandlers) this.worker.start();
    });
  }

  /** Marks the agent draining: the next beat goes at once with `draining: true`, and every beat after. */
  drain(): void {
    this.drainingValue = true;
    this.beatSoon = true;
    if (this.registration !== null) this.wake();
  }

  /**
   * Stops the beats and deregisters (DELETE), giving up after `stopTimeoutMs`. With handlers it
   * drains first, as the module comment says: at most `drainTimeoutMs`, then the handlers'
   * signals abort and they get a short grace. Resolves with whether the server confirmed the
   * agent is gone; a failure is also emitted as an error. Calling it again returns the same promise.
   */
  stop(): Promise<boolean> {
    this.stopping ??= this.shutDown();
    return this.stopping;
  }

  /**
   * Makes SIGTERM and SIGINT (or `signals`) stop the agent: the first one calls stop(), a second
   * one cuts the drain short (the handlers' signals abort at once). The listeners go once stop()
   * has settled, and `onStopped` hears whether the agent was deregistered. Returns a function
   * that removes the listeners. Never installed implicitly; it throws where there is no process.
   */
  stopOnSignals(
    options: {
      readonly signals?: readonly string[];
      readonly onStopped?: (deregistered: boolean) => void;
    } = {},
  ): () => void {
    const source = (globalThis as unknown as { process?: SignalSource }).process;
    if (source === undefined || typeof source.on !== "function") {
      throw new Error("stopOnSignals needs a process that receives signals (Node)");
    }
    const signals = options.signals ?? ["SIGTERM", "SIGINT"];
    let heard = 0;
    const remove = (): void => {
      for (const signal of signals) source.off(signal, onSignal);
    };
    const onSignal = (): void => {
      heard++;
      if (heard > 1) {
        this.worker.hurry();
        return;
      }
      this.stop().then(
        (deregistered) => {
          remove();
          options.onStopped?.(deregistered);
        },
        (error: unknown) => {
          remove();
          this.events.emit("error", { error, during: "deregister" });
        },
      );
    };
    for (const signal of signals) source.on(signal, onSignal);
    return remove;
  }

  /** The loop: register when not registered, else wait for the next beat and send it. */
  private async run(): Promise<void> {
    try {
      while (this.state === "running") {
        if (this.registration === null) {
          await this.registerUntilDone();
          continue;
        }
        // After drain() the beat goes at once, without a timer in between.
        if (!this.beatSoon) await this.wait(this.nextBeatDelayMs(this.registration));
        if (this.state === "running" && this.registration !== null) await this.beat(this.registration);
      }
    } catch (error) {
      // Only a bug of ours lands here; report it rather than leave a rejected promise behind.
      this.state = "failed";
      this.events.emit("error", { error, during: "heartbeat" });
      this.settleStart(null, error);
      this.releaseWaiters(null);
    }
  }

  /** Registers, retrying with backoff until it succeeds, stop() is called, or the refusal is final. */
  private async registerUntilDone(): Promise<void> {
    for (let failures = 0; this.state === "running";) {
      try {
        const answer = await this.client.registerAgent(this.registerBody, { signal: this.halt.signal });
        this.adopt(answer);
        return;
      } catch (error) {
        if (this.state !== "running") return;
        this.events.emit("error", { error, during: "register" });
        if (isFinalRefusal(error)) {
          this.state = "failed";
          this.settleStart(null, error);
          this.releaseWaiters(null);
          return;
        }
        failures++;
        await this.wait(backoffDelayMs(failures, this.registerRetry, this.random));
      }
    }
  }

  /** Takes a registration answer: the id and interval to beat with. */
  private adopt(answer: RegisteredAgent): void {
    const intervalMs = boundInterval(answer.heartbeat_interval_ms);
    const leaseMs = Number.isFinite(answer.lease_ms) && answer.lease_ms > 0 ? answer.lease_ms : null;
    const deliveryKey = typeof answer.delivery_key === "string" ? answer.delivery_key : null;
    this.registration = { id: answer.agent.id, intervalMs, leaseMs, deliveryKey };
    this.releaseWaiters(answer.agent.id);
    this.events.emit("registered", {
      agent: answer.agent,
      created: answer.created,
      heartbeatIntervalMs: intervalMs,
      leaseMs: answer.lease_ms,
    });
    this.noteStatus(answer.agent.id, answer.agent.status);
    this.settleStart(answer.agent, null);
  }

  /** Sends one beat; a 404 agent_not_found drops the registration, so the loop registers again. */
  private async beat(registration: Registration): Promise<void> {
    this.beatSoon = false;
    const load = await this.readLoad();
    if (this.state !== "running") return;
    const activeTasks = load.activeTasks ?? (this.worker.hasHandlers ? this.worker.activeCount : undefined);
    const request: HeartbeatRequest = {
      ...(activeTasks === undefined ? {} : { active_tasks: activeTasks }),
      ...(load.gauges === undefined ? {} : { gauges: load.gauges }),
      draining: this.drainingValue,
      // Listing what runs here renews those tasks' leases on the leader.
      ...(this.worker.hasHandlers ? { running: this.worker.runningList() } : {}),
    };
    try {
      const answer = await this.client.heartbeat(registration.id, request, {
        signal: this.halt.signal,
        timeoutMs: beatTimeoutMs(registration),
        retry: BEAT_RETRY,
        prefer: this.beatNode,
      });
      registration.intervalMs = boundInterval(answer.heartbeat_interval_ms);
      const cancelled = cancelledIn(answer);
      this.events.emit("heartbeat", answer);
      this.noteStatus(registration.id, answer.status);
      this.worker.cancel(cancelled);
    } catch (error) {
      if (this.state !== "running") return;
      this.events.emit("error", { error, during: "heartbeat" });
      if (isAgentNotFound(error) && this.registration === registration) this.registration = null;
    }
  }

  /** The load to report, or none when `load` throws or takes longer than LOAD_TIMEOUT_MS. */
  private async readLoad(): Promise<LoadReport> {
    if (this.load === null) return {};
    const limit = deadline(LOAD_TIMEOUT_MS, this.timers, this.halt.signal);
    try {
      const ended = new Promise<"ended">((resolve) =>
        limit.signal.addEventListener("abort", () => resolve("ended"), { once: true }),
      );
      const report = await Promise.race([Promise.resolve().then(this.load), ended]);
      if (report === "ended") {
        if (limit.expired()) {
          const error = new Error(`load() did not answer within ${LOAD_TIMEOUT_MS} ms`);
          this.events.emit("error", { error, during: "load" });
        }
        return {};
      }
      return report;
    } catch (error) {
      this.events.emit("error", { error, during: "load" });
      return {};
    } finally {
      limit.dispose();
    }
  }

  /** The wait before the next beat: the interval, up to jitterRatio of it early. */
  private nextBeatDelayMs(registration: Registration): number {
    return Math.round(registration.intervalMs * (1 - this.jitterRatio * this.random()));
  }

  /** Emits `status` when the server's status differs from the last one heard. */
  private noteStatus(id: string, status: AgentStatus): void {
    const previous = this.lastStatus;
    if (previous === status) return;
    this.lastStatus = status;
    this.events.emit("status", { id, previous, status });
  }

  /** Waits on the timers; wake() or stop() ends the wait early. */
  private wait(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.state !== "running") {
        resolve();
        return;
      }
      const handle = this.timers.setTimeout(() => {
        this.waiting = null;
        resolve();
      }, delayMs);
      this.waiting = { handle, resolve };
    });
  }

  private wake(): void {
    const waiting = this.waiting;
    if (waiting === null) return;
    this.waiting = null;
    this.timers.clearTimeout(waiting.handle);
    waiting.resolve();
  }

  /** The id once registered: at once when it is, else when it is, or null once `signal` fires or it never will be. */
  private registered(signal: AbortSignal): Promise<string | null> {
    if (this.registration !== null) return Promise.resolve(this.registration.id);
    if (signal.aborted || this.state !== "running") return Promise.resolve(null);
    return new Promise((resolve) => {
      const done = (id: string | null): void => {
        this.registrationWaiters.delete(done);
        signal.removeEventListener("abort", onAbort);
        resolve(id);
      };
      const onAbort = (): void => done(null);
      this.registrationWaiters.add(done);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  private releaseWaiters(id: string | null): void {
    for (const waiter of [...this.registrationWaiters]) waiter(id);
  }

  /** A poll heard that the server no longer knows `id`: register again now rather than at the next beat. */
  private lost(id: string): void {
    if (this.registration?.id !== id) return;
    this.registration = null;
    this.wake();
  }

  private settleStart(agent: AgentView | null, error: unknown): void {
    const started = this.started;
    if (started === null) return;
    this.started = null;
    if (error === null) started.resolve(agent);
    else started.reject(error);
  }

  private async shutDown(): Promise<boolean> {
    if (this.worker.hasHandlers && this.state === "running") {
      // Placement stops first (the draining beat goes at once); the beats go on while handlers finish.
      this.drain();
      await this.worker.stop();
    }
    // A worker that never started stops too, so that pushes from now on hear draining.
    await this.worker.stop();
    this.state = "stopping";
    this.releaseWaiters(null);
    this.halt.abort(new Error("the agent is stopping"));
    this.wake();
    await this.loop;
    this.settleStart(null, null);
    const registration = this.registration;
    this.registration = null;
    const deregistered = registration === null ? false : await this.deregister(registration.id);
    this.state = "stopped";
    await (await this.listening)?.close();
    return deregistered;
  }

  /**
   * DELETE within stopTimeoutMs. A 404 counts as done: a retry after a lost answer hears it for
   * an agent the first attempt removed. An agent whose DELETE never lands is not lost either: the
   * leader declares it failed once its lease runs out.
   */
  private async deregister(id: string): Promise<boolean> {
    const limit = deadline(this.stopTimeoutMs, this.timers);
    try {
      await this.client.deregisterAgent(id, { signal: limit.signal });
      return true;
    } catch (error) {
      if (isAgentNotFound(error)) return true;
      const reported = limit.expired()
        ? new JunoApiError(
            NO_STATUS,
            "timeout",
            `deregistering ${id} took longer than ${this.stopTimeoutMs} ms`,
          )
        : error;
      this.events.emit("error", { error: reported, during: "deregister" });
      return false;
    } finally {
      limit.dispose();
    }
  }
}

/** The client given, or one made from `urls`; exactly one of the two must be given. */
function clientOf(options: AgentOptions, timers: Timers, random: () => number): JunoClient {
  if (options.client !== undefined) {
    if (options.urls !== undefined) throw new TypeError("give an Agent either client or urls, not both");
    return options.client;
  }
  if (options.urls === undefined) throw new TypeError("an Agent needs client or urls");
  return new JunoClient({
    urls: options.urls,
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    timers,
    random,
  });
}

/** The registration the options describe; throws on options no server would take. */
function registerBodyOf(options: AgentOptions): RegisterAgentRequest {
  for (const field of ["name", "endpoint", "team"] as const) {
    if (typeof options[field] !== "string" || options[field].length === 0) {
      throw new TypeError(`an Agent needs a non-empty ${field}`);
    }
  }
  const endpoint = URL.canParse(options.endpoint) ? new URL(options.endpoint) : null;
  if (endpoint === null || (endpoint.protocol !== "http:" && endpoint.protocol !== "https:")) {
    throw new TypeError(`endpoint must be an http(s) URL, got ${JSON.stringify(options.endpoint)}`);
  }
  if (!Number.isInteger(options.capacity) || options.capacity < 1) {
    throw new RangeError(`capacity must be a whole number >= 1, got ${options.capacity}`);
  }
  const check = options.healthCheck;
  const delivery = deliveryOf(options);
  return {
    name: options.name,
    endpoint: options.endpoint,
    team: options.team,
    capabilities: {
      skills: [...options.skills],
      capacity: options.capacity,
      ...(options.weight === undefined ? {} : { weight: options.weight }),
      ...(options.labels === undefined ? {} : { labels: options.labels }),
    },
    ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
    ...(options.agentCardUrl === undefined ? {} : { agent_card_url: options.agentCardUrl }),
    // A pull agent sends no delivery at all, so that servers older than push delivery take it.
    ...(delivery === null ? {} : { delivery }),
    ...(check === undefined
      ? {}
      : {
          health_check: {
            type: check.type,
            ...(check.url === undefined ? {} : { url: check.url }),
            ...(check.successBeforePassing === undefined
              ? {}
              : { success_before_passing: check.successBeforePassing }),
            ...(check.failuresBeforeCritical === undefined
              ? {}
              : { failures_before_critical: check.failuresBeforeCritical }),
          },
        }),
  };
}

/**
 * The delivery a push agent registers with, its URL spelt out (the server's default, when none is
 * given: `{endpoint}/juno/tasks`), so the listener knows its path; null for pull.
 */
function deliveryOf(options: AgentOptions): { readonly mode: "push"; readonly url: string } | null {
  const mode = options.delivery ?? "pull";
  if (mode !== "pull" && mode !== "push") {
    throw new TypeError(`delivery must be "pull" or "push", got ${JSON.stringify(mode)}`);
  }
  if (mode === "pull") {
    if (options.deliveryUrl !== undefined) throw new TypeError('deliveryUrl is for delivery: "push" only');
    return null;
  }
  const url = options.deliveryUrl ?? `${options.endpoint.replace(/\/+$/, "")}${DEFAULT_DELIVERY_PATH}`;
  const parsed = URL.canParse(url) ? new URL(url) : null;
  if (
    parsed === null ||
    (parsed.protocol !== "http:" && parsed.protocol !== "https:") ||
    url.length > DELIVERY_URL_LENGTH_MAX
  ) {
    throw new TypeError(
      `deliveryUrl must be an http(s) URL of at most ${DELIVERY_URL_LENGTH_MAX} characters, got ${JSON.stringify(url)}`,
    );
  }
  return { mode, url };
}

/** The attempts a beat's answer says are no longer the agent's; throws invalid_response on a bad list. */
function cancelledIn(answer: HeartbeatResponse): readonly CancelledAttempt[] {
  const cancelled: unknown = answer.cancelled;
  if (cancelled === undefined) return [];
  if (!Array.isArray(cancelled)) throw invalid("heartbeat.cancelled is not an array");
  cancelled.forEach((attempt, index) => expectAttempt(attempt, `heartbeat.cancelled[${index}]`, "cancelled"));
  return cancelled as CancelledAttempt[];
}

/** A refusal retrying cannot fix: the request itself is wrong (400) or too large (413). */
function isFinalRefusal(error: unknown): boolean {
  if (!(error instanceof JunoApiError)) return true;
  return error.status === 400 || error.status === 413;
}

/**
 * How long one attempt of a beat waits: at most the interval (a beat later than the next one is
 * worth little) and a quarter of the lease (so BEAT_ATTEMPTS_MAX of them, on other nodes, end
 * before it does), within [BEAT_TIMEOUT_MIN_MS, BEAT_TIMEOUT_MAX_MS].
 */
export function beatTimeoutMs(registration: {
  readonly intervalMs: number;
  readonly leaseMs: number | null;
}): number {
  const quarterLeaseMs = registration.leaseMs === null ? Infinity : Math.floor(registration.leaseMs / 4);
  const timeoutMs = Math.min(registration.intervalMs, quarterLeaseMs);
  return Math.min(Math.max(timeoutMs, BEAT_TIMEOUT_MIN_MS), BEAT_TIMEOUT_MAX_MS);
}

function boundInterval(intervalMs: number): number {
  if (!Number.isFinite(intervalMs)) return HEARTBEAT_INTERVAL_MAX_MS;
  return Math.min(Math.max(Math.round(intervalMs), HEARTBEAT_INTERVAL_MIN_MS), HEARTBEAT_INTERVAL_MAX_MS);
}
