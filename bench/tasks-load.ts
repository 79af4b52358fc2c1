/**
 * A load process of bench/tasks-bench.ts, forked with an IPC channel. Its first message says
 * what it is, for the rest of its life:
 *
 * - "agents": SDK Agents (`new Agent(...)`, `agent.handle(taskType, handler)`) registered with
 *   every node's URL, agent i trying node i mod N first so that the agents spread over the nodes
 *   as the client's failover leaves them. The handler answers at once with null ("instant"), or
 *   holds its task until the attempt's signal aborts ("hold"), for the kill test. Each agent's
 *   process counts the requests its clients send (undici announces each), by kind, so that the bench can say what one task costs.
 * - "submitter": plain HTTP (undici pools, keep-alive), POST /tasks/distribute (or, for a batch
 *   with `bulk`, POST /tasks/distribute/bulk with that many tasks) at a fixed concurrency, round
 *   robin per request over the nodes, each worker starting at a different node; every task
 *   carries an idempotency key, as the SDK's submit does, so that a retry after a lost answer
 *   cannot make a second task (a bulk's retry resends only the tasks that were refused).
 *
 * It answers each command with one report and exits on "exit" (agents deregister first, within
 * a bound).
 */

import { subscribe } from "node:diagnostics_channel";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Pool } from "undici";
import type { Agent as SdkAgent, TaskHandler } from "../src/client/index.js";
import { seededRandom } from "../test/support/fixtures.js";
import { bulkOutcomes, sendBatches, singleOutcome, type SentBatch } from "./send-batches.js";

/** The SDK as the sources export it; with JUNO_FROM_DIST=1 the compiled copy users run is loaded. */
type Sdk = typeof import("../src/client/index.js");

/** The first message: an agents process. */
export interface AgentsStart {
  readonly type: "agents";
  readonly origins: readonly string[];
  readonly token: string;
  /** Agents firstIndex .. firstIndex + count - 1 live here (names and the node tried first). */
  readonly firstIndex: number;
  readonly count: number;
  readonly capacity: number;
  readonly skills: readonly string[];
  readonly taskTypes: readonly string[];
  readonly mode: "instant" | "hold";
  /** pull: the agents long-poll; push: the leader POSTs to a server this process runs for them. */
  readonly delivery: "pull" | "push";
  readonly namePrefix: string;
  /** The agents' team (default "bench"): workflow steps ask for their team's agents. */
  readonly team?: string;
  /** Registration must be done by then (ms from now), or the process gives up. */
  readonly readyTimeoutMs: number;
}

/** The first message: a submitter process. */
export interface SubmitterStart {
  readonly type: "submitter";
  readonly origins: readonly string[];
  readonly token: string;
  /** Connections per origin. */
  readonly connections: number;
}

export type LoadStart = AgentsStart | SubmitterStart;

/** One batch of submissions. */
export interface SubmitBatch {
  readonly taskType: string;
  readonly team: string;
  readonly skills: readonly string[];
  readonly count: number;
  readonly concurrency: number;
  /** Length of the string sent as `data`. */
  readonly dataLength: number;
  /** Seeds the priorities: random 0..9 from a seeded generator, the same for every run of a seed. */
  readonly seed: number;
  /** Idempotency keys are `${keyPrefix}-${i}`. */
  readonly keyPrefix: string;
  /** How many answer latencies are kept (the first ones). */
  readonly latenciesMax: number;
  /** Tasks per POST /tasks/distribute/bulk; absent: one POST /tasks/distribute each. */
  readonly bulk?: number;
}

/** Messages after the first. */
export type LoadCommand =
  | { readonly type: "submit"; readonly batch: SubmitBatch }
  | { readonly type: "counters" }
  | { readonly type: "exit" };

/** The agents are registered. */
export interface LoadReady {
  readonly type: "ready";
  readonly ids: readonly string[];
}

/** A batch was submitted: how each of its tasks went (see bench/send-batches.ts). */
export interface LoadSubmitted extends SentBatch {
  readonly type: "submitted";
}

/** What the agents of this process did so far. */
export interface LoadCounters {
  readonly type: "counters";
  /** Requests the agents' clients sent, by kind (poll, complete, heartbeat, ...). */
  readonly requests: Record<string, number>;
  /** Task events by outcome (started, completed, ...). */
  readonly tasks: Record<string, number>;
  /** Errors the agents emitted, as "during:code". */
  readonly errors: Record<string, number>;
}

export type LoadReport = LoadReady | LoadSubmitted | LoadCounters;

/** Attempts at one submission before it is given up. */
const SUBMIT_ATTEMPTS = 20;
/** A submission not answered by then counts as failed ("network") and is retried. */
const REQUEST_TIMEOUT_MS = 10_000;
/** How long the agents may take to deregister on exit. */
const EXIT_TIMEOUT_MS = 10_000;

/** Counts one more `key`. */
const count = (record: Record<string, number>, key: string): void => {
  record[key] = (record[key] ?? 0) + 1;
};

/** Rejects with a message naming `what` when `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------- agents

/** The kind of an SDK request, from its method and URL: what the bench counts per task. */
function requestKind(method: string, target: string): string {
  const path = target.split("?", 1)[0] ?? target;
  if (path.endsWith("/tasks/poll")) return "poll";
  if (path.endsWith("/complete")) return "complete";
  if (path.endsWith("/fail")) return "fail";
  if (path.endsWith("/heartbeat")) return "heartbeat";
  if (path.endsWith("/tasks/status")) return "status";
  if (path.endsWith("/agents/register")) return "register";
  return `${method} other`;
}

/** Loads the SDK: the compiled one under JUNO_FROM_DIST=1, else the sources through tsx. */
async function loadSdk(): Promise<Sdk> {
  const fromDist = process.env["JUNO_FROM_DIST"] === "1";
  const file = join(import.meta.dirname, fromDist ? "../dist/client/index.js" : "../src/client/index.ts");
  return (await import(pathToFileURL(file).href)) as Sdk;
}

/** Holds its task until the attempt's signal aborts (cancelled, moved, or the agent stops). */
const holdUntilAborted: TaskHandler = (_task, { signal }) =>
  new Promise((_resolve, reject) => {
    const abort = (): void =>
      reject(signal.reason instanceof Error ? signal.reason : new Error("the attempt was aborted"));
    if (signal.aborted) abort();
    signal.addEventListener("abort", abort, { once: true });
  });

/** The agents of one process, from registration to deregistration. */
class Agents {
  private readonly agents: SdkAgent[] = [];
  private readonly requests: Record<string, number> = {};
  private readonly tasks: Record<string, number> = {};
  private readonly errors: Record<string, number> = {};

  constructor(
    private readonly sdk: Sdk,
    private readonly start: AgentsStart,
  ) {}

  /** Makes, starts and waits for every agent; their ids in index order. */
  async run(): Promise<LoadReady> {
    const { start, sdk } = this;
    // Every request of this process's clients goes through undici, which announces each one here.
    subscribe("undici:request:create", (message) => {
      const { request } = message as { request: { method: string; path: string } };
      count(this.requests, requestKind(request.method, request.path));
    });
    const handler: TaskHandler = start.mode === "instant" ? () => null : holdUntilAborted;
    // Push agents share one server of this process; each takes the pushes for its own path.
    let base = "http://127.0.0.1:9";
    const listeners: ((request: IncomingMessage, response: ServerResponse) => boolean)[] = [];
    if (start.delivery === "push") {
      const server = createServer((request, response) => {
        for (const listener of listeners) if (listener(request, response)) return;
        response.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      server.unref();
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }
    for (let i = start.firstIndex; i < start.firstIndex + start.count; i++) {
      // Agent i tries node i mod N first: the client keeps to the node that last answered.
      const urls = start.origins.map((_, k) => start.origins[(i + k) % start.origins.length]!);
      const client = new sdk.JunoClient({ urls, token: start.token });
      const agent = new sdk.Agent({
        client,
        name: `${start.namePrefix}-${i}`,
        endpoint: `${base}/${start.namePrefix}/${i}`,
        team: start.team ?? "bench",
        skills: start.skills,
        capacity: start.capacity,
        healthCheck: { type: "none" },
        drainTimeoutMs: 2_000,
        delivery: start.delivery,
      });
      for (const taskType of start.taskTypes) agent.handle(taskType, handler);
      if (start.delivery === "push") listeners.push(agent.pushListener());
      agent.on("task", (event) => count(this.tasks, event.outcome));
      agent.on("error", ({ error, during }) => {
        const code = (error as { code?: unknown } | null)?.code;
        count(this.errors, `${during}:${typeof code === "string" ? code : "error"}`);
      });
      this.agents.push(agent);
    }
    const views = await within(
      Promise.all(this.agents.map((agent) => agent.start())),
      start.readyTimeoutMs,
      `registering ${this.agents.length} agents`,
    );
    return { type: "ready", ids: views.map((view) => view?.id ?? "") };
  }

  counters(): LoadCounters {
    return { type: "counters", requests: this.requests, tasks: this.tasks, errors: this.errors };
  }

  /** Stops (drains and deregisters) every agent, within EXIT_TIMEOUT_MS. */
  async close(): Promise<void> {
    await within(
      Promise.all(this.agents.map((agent) => agent.stop())),
      EXIT_TIMEOUT_MS,
      "stopping the agents",
    ).catch(() => undefined);
  }
}

// ---------------------------------------------------------------- submitter

/** Submits batches over the nodes' pools. */
class Submitter {
  private readonly pools: Pool[];
  private readonly headers: Record<string, string>;

  constructor(start: SubmitterStart) {
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
    this.headers = { "content-type": "application/json", authorization: `Bearer ${start.token}` };
  }

  /** Submits the batch: `concurrency` workers, round robin per request over the nodes. */
  async submit(batch: SubmitBatch): Promise<LoadSubmitted> {
    const random = seededRandom(batch.seed);
    const priorities = Uint8Array.from({ length: batch.count }, () => Math.floor(random() * 10));
    const data = "d".repeat(batch.dataLength);
    const taskOf = (i: number) => ({
      task_type: batch.taskType,
      team: batch.team,
      priority: priorities[i],
      data,
      requirements: { skills: batch.skills },
      idempotency_key: `${batch.keyPrefix}-${i}`,
    });
    const sent = await sendBatches({
      count: batch.count,
      perRequest: batch.bulk ?? 1,
      concurrency: batch.concurrency,
      nodes: this.pools.length,
      attempts: SUBMIT_ATTEMPTS,
      latenciesMax: batch.latenciesMax,
      // The next tasks: one POST /tasks/distribute each, or one /tasks/distribute/bulk.
      send: async (node, tasks) => {
        const pool = this.pools[node]!;
        if (batch.bulk === undefined) {
          const { status } = await this.post(
            pool,
            "/api/v3/tasks/distribute",
            JSON.stringify(taskOf(tasks[0]!)),
          );
          return singleOutcome(status);
        }
        const answer = await this.post(
          pool,
          "/api/v3/tasks/distribute/bulk",
          JSON.stringify({ tasks: tasks.map(taskOf) }),
        );
        return bulkOutcomes(answer.status, answer.body, tasks.length);
      },
    });
    return { type: "submitted", ...sent };
  }

  /** One POST of a submission: its status and, for a bulk's 200, its parsed answer; or "network". */
  private async post(
    pool: Pool,
    path: string,
    body: string,
  ): Promise<{ status: number | "network"; body: unknown }> {
    try {
      const response = await pool.request({ method: "POST", path, body, headers: this.headers });
      if (response.statusCode === 200 && path.endsWith("/bulk"))
        return { status: 200, body: await response.body.json() };
      await response.body.dump();
      return { status: response.statusCode, body: null };
    } catch {
      return { status: "network", body: null };
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.destroy()));
  }
}

// ---------------------------------------------------------------- IPC

/** Sends a report to the bench. */
function report(message: LoadReport): void {
  process.send!(message);
}

if (process.send === undefined) {
  console.error("tasks-load: run by bench/tasks-bench.ts, with an IPC channel");
  process.exit(2);
}

const failed = (error: unknown): void => {
  console.error(`tasks-load: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
};

let agents: Agents | null = null;
let submitter: Submitter | null = null;
process.on("message", (message: LoadStart | LoadCommand) => {
  switch (message.type) {
    case "agents":
      loadSdk()
        .then((sdk) => (agents = new Agents(sdk, message)).run())
        .then(report, failed);
      break;
    case "submitter":
      submitter = new Submitter(message);
      report({ type: "ready", ids: [] });
      break;
    case "submit":
      if (submitter === null) return failed(new Error("submit before submitter"));
      submitter.submit(message.batch).then(report, failed);
      break;
    case "counters":
      if (agents === null) return failed(new Error("counters before agents"));
      report(agents.counters());
      break;
    case "exit":
      void Promise.all([agents?.close(), submitter?.close()]).finally(() => process.exit(0));
      break;
  }
});
