/**
 * One load process of bench/agents-bench.ts (forked by it, talks to it over IPC): it registers its
 * share of the agents (or etcd leases) and then beats each of them once per interval, like an agent
 * process would, until told to stop. Agent i is registered on and beats to node i mod 3, so the
 * load is spread round robin over the cluster; its beats fall in slot i mod 100 of the interval, so
 * they are spread evenly over the second instead of arriving in one burst.
 *
 * The schedule is open loop: a beat is due every interval whether or not the cluster kept up. An
 * agent never has two beats in flight (a real agent waits for its answer), so a due beat whose
 * predecessor is still unanswered is counted as skipped instead of sent. Only beats sent inside a
 * measuring window (between "begin" and "end") are counted; the window's figures go back to the
 * bench, with every latency, so that it can merge the processes' percentiles exactly.
 */

import { Pool } from "undici";

/** What a load process runs against. */
export type LoadSystem = "juno" | "etcd";

/** The first message: what to register and beat, and where. */
export interface LoadStart {
  readonly type: "start";
  readonly system: LoadSystem;
  /** The nodes' HTTP origins, in node order; agent i talks to origins[i % origins.length]. */
  readonly origins: readonly string[];
  /** Agents (or leases) over all load processes. */
  readonly agents: number;
  /** This process owns agents i with i % workers === worker. */
  readonly worker: number;
  readonly workers: number;
  /** Registrations in flight in this process. */
  readonly registerConcurrency: number;
  /** No registration starts after this (wall clock, ms since the epoch): the rest are left out. */
  readonly registerDeadlineAtMs: number;
  readonly intervalMs: number;
  /** Connections per origin in this process. */
  readonly connections: number;
  /** juno: the API token. */
  readonly token: string;
  /** etcd: the TTL every lease is granted with. */
  readonly ttlSeconds: number;
}

/** Messages from the bench after the first. */
export type LoadCommand =
  | { readonly type: "begin" }
  | { readonly type: "end" }
  | { readonly type: "kill"; readonly indices: readonly number[] }
  | { readonly type: "exit" };

/** How registration went in this process. */
export interface LoadRegistered {
  readonly type: "registered";
  /** This process's first `count` agents (in index order) are registered; the rest are not driven. */
  readonly count: number;
  /** Wall-clock times (ms since the epoch), comparable across the processes. */
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  /** When each registration was answered, in the order they were answered. */
  readonly answeredAtMs: Float64Array;
  /** Failed attempts by HTTP status (or "network"); each was retried. */
  readonly failures: Record<string, number>;
}

/** One measuring window in this process. */
export interface LoadWindow {
  readonly type: "window";
  readonly seconds: number;
  /** Beats that were due for registered, live agents. */
  readonly due: number;
  readonly sent: number;
  /** Due beats not sent because the agent's previous beat was still unanswered. */
  readonly skipped: number;
  /** Answered 200. */
  readonly ok: number;
  /** Everything else, by HTTP status or "network". */
  readonly failures: Record<string, number>;
  /** 200 answers saying the agent is not healthy (juno) or the lease has expired (etcd), by status. */
  readonly unwell: Record<string, number>;
  /** Agents with at least one such answer. */
  readonly unwellAgents: number;
  /** Latency of every 200 answer, ms. */
  readonly latenciesMs: Float64Array;
  /** 200 answers per whole second of the window. */
  readonly perSecond: readonly number[];
  /** How late the schedule fired its slots (event-loop lag of this process), ms. */
  readonly lagMsP99: number;
  readonly lagMsMax: number;
}

/** The agents stopped by "kill": their ids, and when the last of their beats had been answered. */
export interface LoadKilled {
  readonly type: "killed";
  readonly ids: readonly string[];
  /** When each of them last sent a beat (wall clock, ms since the epoch), in the order of `ids`. */
  readonly lastSentAtMs: readonly number[];
  readonly stoppedAtMs: number;
}

export type LoadReport = LoadRegistered | LoadWindow | LoadKilled;

/** A due beat fires within this many ms of its time; the interval is cut into slots this long. */
const SLOT_MS = 10;
/** A request that has not been answered by then counts as failed ("network"). */
const REQUEST_TIMEOUT_MS = 10_000;
/** Attempts to register one agent before the process gives up. */
const REGISTER_ATTEMPTS = 50;
/** Bound on the latencies one window keeps (10,000 agents for 60 s in one process). */
const MAX_LATENCIES = 600_000;

/** Mutable per-window counters. */
class Window {
  readonly startedMs = performance.now();
  due = 0;
  sent = 0;
  skipped = 0;
  ok = 0;
  readonly failures: Record<string, number> = {};
  readonly unwell: Record<string, number> = {};
  readonly unwellAgents = new Set<number>();
  readonly latenciesMs: number[] = [];
  readonly perSecond: number[] = [];
  readonly lagsMs: number[] = [];
  /** Beats of this window still unanswered. */
  inFlight = 0;
}

/** One agent (or lease) this process drives. */
interface Driven {
  readonly index: number;
  readonly pool: Pool;
  /** Set once registered: its id (agent id or lease id), and the beat's path and body. */
  id: string;
  path: string | null;
  body: string;
  inFlight: boolean;
  /** Wall clock of its last beat sent. */
  lastSentAtMs: number;
  killed: boolean;
}

/** Counts one more `key`. */
const count = (record: Record<string, number>, key: string): void => {
  record[key] = (record[key] ?? 0) + 1;
};

/** The value at `share` (0..1) of sorted `values`. */
function percentile(sorted: readonly number[], share: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? 0;
}

/** What registering and beating look like for one system. */
interface Protocol {
  readonly registerPath: string;
  registerBody(index: number): string;
  /** The id in a registration's answer. */
  idOf(answer: string): string;
  readonly registeredStatus: readonly number[];
  beatPath(id: string): string;
  beatBody(id: string): string;
  /** null when the beat's answer says all is well; otherwise what is wrong. */
  unwellIn(answer: string): string | null;
}

/** How `start.system` is registered with and beaten. */
function protocolFor(start: LoadStart): Protocol {
  if (start.system === "juno")
    return {
      registerPath: "/api/v3/agents/register",
      registerBody: (i) =>
        JSON.stringify({
          name: `bench-agent-${i}`,
          endpoint: `http://127.0.0.1:9/bench/${i}`,
          team: `team-${i % 10}`,
          capabilities: { skills: ["bench"], capacity: 1 },
          health_check: { type: "none" },
        }),
      idOf: (answer) => (JSON.parse(answer) as { agent: { id: string } }).agent.id,
      registeredStatus: [200, 201],
      beatPath: (id) => `/api/v3/agents/${id}/heartbeat`,
      beatBody: () => '{"active_tasks":0}',
      // Cheaper than parsing every answer: the status is the only enum in it.
      unwellIn: (answer) =>
        answer.includes('"status":"healthy"') ? null : (/"status":"(\w+)"/.exec(answer)?.[1] ?? "unknown"),
    };
  return {
    registerPath: "/v3/lease/grant",
    registerBody: () => JSON.stringify({ TTL: start.ttlSeconds }),
    // Lease ids are 64-bit: kept as the gateway's decimal string, never a JS number.
    idOf: (answer) => /"ID":"(\d+)"/.exec(answer)![1]!,
    registeredStatus: [200],
    beatPath: () => "/v3/lease/keepalive",
    beatBody: (id) => `{"ID":"${id}"}`,
    // An expired lease answers with no TTL (zero is left out of the JSON) or TTL "0".
    unwellIn: (answer) => {
      const ttl = /"TTL":"(\d+)"/.exec(answer)?.[1];
      return ttl === undefined || ttl === "0" ? "expired" : null;
    },
  };
}

/** Drives one process's agents from "start" to "exit". */
class Load {
  private readonly protocol: Protocol;
  private readonly pools: Pool[];
  private readonly headers: Record<string, string>;
  private readonly driven: Driven[] = [];
  /** slots[s]: the agents whose beats are due in slot s of every interval. */
  private readonly slots: Driven[][];
  private window: Window | null = null;
  private nextSlot = 0;
  private nextDueMs = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly start: LoadStart) {
    this.protocol = protocolFor(start);
    this.pools = start.origins.map(
      (origin) =>
        new Pool(origin, {
          connections: start.connections,
          pipelining: 1,
          keepAliveTimeout: 60_000,
          headersTimeout: REQUEST_TIMEOUT_MS,
          bodyTimeout: REQUEST_TIMEOUT_MS,
        }),
    );
    this.headers = {
      "content-type": "application/json",
      ...(start.system === "juno" ? { authorization: `Bearer ${start.token}` } : {}),
    };
    const slotCount = Math.max(1, Math.round(start.intervalMs / SLOT_MS));
    this.slots = Array.from({ length: slotCount }, () => []);
    for (let i = start.worker; i < start.agents; i += start.workers) {
      const agent: Driven = {
        index: i,
        pool: this.pools[i % this.pools.length]!,
        id: "",
        path: null,
        body: "",
        inFlight: false,
        lastSentAtMs: 0,
        killed: false,
      };
      this.driven.push(agent);
      this.slots[i % slotCount]!.push(agent);
    }
  }

  /** Starts the schedule (agents beat as soon as they are registered), then registers them all. */
  async run(): Promise<LoadRegistered> {
    this.nextDueMs = performance.now();
    this.timer = setInterval(() => this.tick(), SLOT_MS / 2);
    const failures: Record<string, number> = {};
    const answeredAtMs: number[] = [];
    const startedAtMs = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: this.start.registerConcurrency }, async () => {
        while (next < this.driven.length && Date.now() < this.start.registerDeadlineAtMs) {
          await this.register(this.driven[next++]!, failures);
          answeredAtMs.push(Date.now());
        }
      }),
    );
    // Agents past the deadline are never driven; those started before it all finished.
    this.driven.splice(next);
    return {
      type: "registered",
      count: next,
      startedAtMs,
      endedAtMs: Date.now(),
      answeredAtMs: Float64Array.from(answeredAtMs),
      failures,
    };
  }

  private async register(agent: Driven, failures: Record<string, number>): Promise<void> {
    const body = this.protocol.registerBody(agent.index);
    for (let attempt = 1; attempt <= REGISTER_ATTEMPTS; attempt++) {
      try {
        const response = await agent.pool.request({
          method: "POST",
          path: this.protocol.registerPath,
          body,
          headers: this.headers,
        });
        const text = await response.body.text();
        if (this.protocol.registeredStatus.includes(response.statusCode)) {
          const id = this.protocol.idOf(text);
          agent.id = id;
          agent.body = this.protocol.beatBody(id);
          agent.path = this.protocol.beatPath(id);
          return;
        }
        count(failures, String(response.statusCode));
      } catch {
        count(failures, "network");
      }
      await new Promise((resolve) => setTimeout(resolve, 50 * Math.min(attempt, 10)));
    }
    throw new Error(`agent ${agent.index} was not registered in ${REGISTER_ATTEMPTS} attempts`);
  }

  /** Fires every slot whose time has come (several, when the event loop was late). */
  private tick(): void {
    const now = performance.now();
    while (this.nextDueMs <= now) {
      this.window?.lagsMs.push(now - this.nextDueMs);
      for (const agent of this.slots[this.nextSlot]!) this.beat(agent);
      this.nextSlot = (this.nextSlot + 1) % this.slots.length;
      this.nextDueMs += SLOT_MS;
    }
  }

  private beat(agent: Driven): void {
    if (agent.path === null || agent.killed) return;
    const window = this.window;
    if (window !== null) window.due++;
    if (agent.inFlight) {
      if (window !== null) window.skipped++;
      return;
    }
    agent.inFlight = true;
    agent.lastSentAtMs = Date.now();
    if (window !== null) {
      window.sent++;
      window.inFlight++;
    }
    const started = performance.now();
    const settle = (status: string, unwell: string | null): void => {
      agent.inFlight = false;
      if (window === null) return;
      window.inFlight--;
      if (status !== "200") return count(window.failures, status);
      window.ok++;
      if (window.latenciesMs.length < MAX_LATENCIES) window.latenciesMs.push(performance.now() - started);
      const second = Math.floor((started - window.startedMs) / 1000);
      window.perSecond[second] = (window.perSecond[second] ?? 0) + 1;
      if (unwell === null) return;
      count(window.unwell, unwell);
      window.unwellAgents.add(agent.index);
    };
    agent.pool
      .request({ method: "POST", path: agent.path, body: agent.body, headers: this.headers })
      .then(async (response) => {
        const text = await response.body.text();
        settle(
          String(response.statusCode),
          response.statusCode === 200 ? this.protocol.unwellIn(text) : null,
        );
      })
      .catch(() => settle("network", null));
  }

  begin(): void {
    this.window = new Window();
  }

  /** Closes the window once its beats are answered (or have timed out). */
  async end(): Promise<LoadWindow> {
    const window = this.window!;
    this.window = null;
    const seconds = (performance.now() - window.startedMs) / 1000;
    const deadline = performance.now() + REQUEST_TIMEOUT_MS + 1_000;
    while (window.inFlight > 0 && performance.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const lags = window.lagsMs.sort((a, b) => a - b);
    const whole = Math.floor(seconds);
    return {
      type: "window",
      seconds,
      due: window.due,
      sent: window.sent,
      skipped: window.skipped,
      ok: window.ok,
      failures: window.failures,
      unwell: window.unwell,
      unwellAgents: window.unwellAgents.size,
      latenciesMs: Float64Array.from(window.latenciesMs),
      perSecond: Array.from({ length: whole }, (_, s) => window.perSecond[s] ?? 0),
      lagMsP99: percentile(lags, 0.99),
      lagMsMax: lags.at(-1) ?? 0,
    };
  }

  /** Stops beating `indices` (those this process owns); resolves when their last beats are answered. */
  async kill(indices: readonly number[]): Promise<LoadKilled> {
    const wanted = new Set(indices);
    const killed = this.driven.filter((agent) => wanted.has(agent.index));
    for (const agent of killed) agent.killed = true;
    while (killed.some((agent) => agent.inFlight)) await new Promise((resolve) => setTimeout(resolve, 1));
    return {
      type: "killed",
      ids: killed.map((agent) => agent.id),
      lastSentAtMs: killed.map((agent) => agent.lastSentAtMs),
      stoppedAtMs: Date.now(),
    };
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    await Promise.all(this.pools.map((pool) => pool.destroy()));
  }
}

/** Sends a report to the bench. */
function report(message: LoadReport): void {
  process.send!(message);
}

if (process.send === undefined) {
  console.error("agents-load: run by bench/agents-bench.ts, with an IPC channel");
  process.exit(2);
}

let load: Load | null = null;
process.on("message", (message: LoadStart | LoadCommand) => {
  const failed = (error: unknown): void => {
    console.error(`agents-load: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  };
  switch (message.type) {
    case "start":
      load = new Load(message);
      load.run().then(report, failed);
      break;
    case "begin":
      load!.begin();
      break;
    case "end":
      load!.end().then(report, failed);
      break;
    case "kill":
      load!.kill(message.indices).then(report, failed);
      break;
    case "exit":
      void (load?.close() ?? Promise.resolve()).finally(() => process.exit(0));
      break;
  }
});
