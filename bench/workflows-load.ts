/**
 * The starter process of bench/workflows-bench.ts, forked with an IPC channel: plain HTTP (undici
 * pools, keep-alive) POSTing `{definition, input, execute: true, idempotency_key}` to
 * /api/v3/workflows (or many at a time to /api/v3/workflows/bulk) at a fixed concurrency, round
 * robin per request over the nodes like a Kubernetes Service in front of them, each worker
 * starting at a different node. Every run
 * carries an idempotency key, so a retry after a lost answer cannot start a second run.
 *
 * Its first message says where to send; it answers "ready", then one "started" report per
 * "start" batch, and exits on "exit". The agents that run the steps' tasks are bench/tasks-load.ts
 * processes; this one only starts workflows.
 */

import { Pool } from "undici";

/** The first message. */
export interface StarterStart {
  readonly type: "starter";
  readonly origins: readonly string[];
  readonly token: string;
  /** Connections per origin. */
  readonly connections: number;
}

/** One batch of workflow runs; run i gets input {i} and definition i mod the definitions' count. */
export interface StartBatch {
  /** The definitions, each sent whole with its runs (not registered). */
  readonly definitions: readonly unknown[];
  readonly count: number;
  readonly concurrency: number;
  /** Idempotency keys are `${keyPrefix}-${i}`. */
  readonly keyPrefix: string;
  /** How many answer latencies are kept (the first ones). */
  readonly latenciesMax: number;
  /**
   * Runs per request: 1 POSTs each to /api/v3/workflows; more sends them together to
   * /api/v3/workflows/bulk, `concurrency` bulks at a time (latencies are then per bulk).
   */
  readonly perRequest: number;
}

/** Messages after the first. */
export type StarterCommand =
  { readonly type: "start"; readonly batch: StartBatch } | { readonly type: "exit" };

/** The starter is ready. */
export interface StarterReady {
  readonly type: "ready";
}

/** A batch was started. */
export interface StarterStarted {
  readonly type: "started";
  /** Wall clock (ms since the epoch) of the first request sent and of the last answer. */
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  /** Runs the server created (201), and found again by their key after a retry (200). */
  readonly created: number;
  readonly foundByKey: number;
  /** Runs given up after START_ATTEMPTS. */
  readonly givenUp: number;
  /** Failed attempts by HTTP status, "network" or a bulk result's error code; each was retried. */
  readonly failures: Record<string, number>;
  /** Latency of each accepted start's last attempt, ms, in the order they were answered. */
  readonly latenciesMs: Float64Array;
}

export type StarterReport = StarterReady | StarterStarted;

/** What POST /workflows/bulk answers with 200: one result per run, in the order sent. */
interface BulkAnswer {
  readonly results: readonly {
    readonly ok: boolean;
    readonly created?: boolean;
    readonly error?: { readonly code: string };
  }[];
}

/** Attempts at one start before it is given up. */
const START_ATTEMPTS = 20;
/** A start not answered by then counts as failed ("network") and is retried. */
const REQUEST_TIMEOUT_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts batches over the nodes' pools. */
class Starter {
  private readonly pools: Pool[];
  private readonly headers: Record<string, string>;

  constructor(start: StarterStart) {
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

  /** Starts the batch: `concurrency` workers, round robin per request over the nodes. */
  async start(batch: StartBatch): Promise<StarterStarted> {
    if (batch.perRequest > 1) return this.startBulks(batch);
    // A definition is the same for all its runs: encoded once, the rest spliced around it.
    const heads = batch.definitions.map(
      (definition) => `{"definition":${JSON.stringify(definition)},"execute":true,"input":{"i":`,
    );
    const latencies = new Float64Array(Math.min(batch.count, batch.latenciesMax));
    let latencyCount = 0;
    const failures: Record<string, number> = {};
    let created = 0;
    let foundByKey = 0;
    let givenUp = 0;
    let next = 0;
    const startedAtMs = Date.now();
    await Promise.all(
      Array.from({ length: batch.concurrency }, async (_, worker) => {
        let node = worker % this.pools.length;
        while (next < batch.count) {
          const i = next++;
          const body = `${heads[i % heads.length]!}${i}},"idempotency_key":${JSON.stringify(`${batch.keyPrefix}-${i}`)}}`;
          let accepted = false;
          for (let attempt = 1; attempt <= START_ATTEMPTS && !accepted; attempt++) {
            const pool = this.pools[node]!;
            node = (node + 1) % this.pools.length;
            const started = performance.now();
            const status = await this.post(pool, body);
            if (status === 201 || status === 200) {
              accepted = true;
              if (status === 201) created++;
              else foundByKey++;
              if (latencyCount < latencies.length) latencies[latencyCount++] = performance.now() - started;
            } else {
              failures[String(status)] = (failures[String(status)] ?? 0) + 1;
              await sleep(20 * Math.min(attempt, 25));
            }
          }
          if (!accepted) givenUp++;
        }
      }),
    );
    return {
      type: "started",
      startedAtMs,
      endedAtMs: Date.now(),
      created,
      foundByKey,
      givenUp,
      failures,
      latenciesMs: latencies.subarray(0, latencyCount),
    };
  }

  /**
   * Starts the batch `perRequest` runs per POST /workflows/bulk. A bulk that fails whole is sent
   * again as it was; the runs a bulk refused one by one are sent again in the next attempt. Their
   * idempotency keys make either safe: a run made before is found, not made twice.
   */
  private async startBulks(batch: StartBatch): Promise<StarterStarted> {
    const items = batch.definitions.map((definition) => JSON.stringify(definition));
    const itemOf = (i: number): string =>
      `{"definition":${items[i % items.length]!},"execute":true,"input":{"i":${i}},"idempotency_key":${JSON.stringify(`${batch.keyPrefix}-${i}`)}}`;
    const bulks = Math.ceil(batch.count / batch.perRequest);
    const latencies = new Float64Array(Math.min(bulks, batch.latenciesMax));
    let latencyCount = 0;
    const failures: Record<string, number> = {};
    const count = (what: string): void => void (failures[what] = (failures[what] ?? 0) + 1);
    let created = 0;
    let foundByKey = 0;
    let givenUp = 0;
    let next = 0;
    const startedAtMs = Date.now();
    await Promise.all(
      Array.from({ length: batch.concurrency }, async (_, worker) => {
        let node = worker % this.pools.length;
        while (next < batch.count) {
          const first = next;
          next = Math.min(batch.count, next + batch.perRequest);
          let pending = Array.from({ length: next - first }, (_, k) => first + k);
          for (let attempt = 1; attempt <= START_ATTEMPTS && pending.length > 0; attempt++) {
            const pool = this.pools[node]!;
            node = (node + 1) % this.pools.length;
            const started = performance.now();
            const answer = await this.post(pool, `{"workflows":[${pending.map(itemOf).join(",")}]}`, "/bulk");
            if (typeof answer === "object") {
              if (latencyCount < latencies.length) latencies[latencyCount++] = performance.now() - started;
              const refused: number[] = [];
              answer.results.forEach((result, k) => {
                if (result.ok) {
                  if (result.created === true) created++;
                  else foundByKey++;
                } else {
                  count(result.error?.code ?? "refused");
                  refused.push(pending[k]!);
                }
              });
              pending = refused;
            } else count(String(answer));
            if (pending.length > 0) await sleep(20 * Math.min(attempt, 25));
          }
          givenUp += pending.length;
        }
      }),
    );
    return {
      type: "started",
      startedAtMs,
      endedAtMs: Date.now(),
      created,
      foundByKey,
      givenUp,
      failures,
      latenciesMs: latencies.subarray(0, latencyCount),
    };
  }

  /**
   * One POST /workflows (or /workflows/bulk): the status, or "network"; for a bulk answered 200,
   * its results.
   */
  private async post(pool: Pool, body: string): Promise<number | "network">;
  private async post(pool: Pool, body: string, bulk: "/bulk"): Promise<BulkAnswer | number | "network">;
  private async post(pool: Pool, body: string, bulk = ""): Promise<BulkAnswer | number | "network"> {
    try {
      const response = await pool.request({
        method: "POST",
        path: `/api/v3/workflows${bulk}`,
        body,
        headers: this.headers,
      });
      if (bulk !== "" && response.statusCode === 200) return (await response.body.json()) as BulkAnswer;
      await response.body.dump();
      return response.statusCode;
    } catch {
      return "network";
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.destroy()));
  }
}

if (process.send === undefined) {
  console.error("workflows-load: run by bench/workflows-bench.ts, with an IPC channel");
  process.exit(2);
}

const failed = (error: unknown): void => {
  console.error(`workflows-load: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
};

let starter: Starter | null = null;
process.on("message", (message: StarterStart | StarterCommand) => {
  switch (message.type) {
    case "starter":
      starter = new Starter(message);
      process.send!({ type: "ready" } satisfies StarterReady);
      break;
    case "start":
      if (starter === null) return failed(new Error("start before starter"));
      starter.start(message.batch).then((report) => process.send!(report), failed);
      break;
    case "exit":
      void (starter?.close() ?? Promise.resolve()).finally(() => process.exit(0));
      break;
  }
});
