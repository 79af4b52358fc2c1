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
import { bulkOutcomes, sendBatches, singleOutcome, type SentBatch } from "./send-batches.js";

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

/** A batch was started: how each of its runs went (see bench/send-batches.ts). */
export interface StarterStarted extends SentBatch {
  readonly type: "started";
}

export type StarterReport = StarterReady | StarterStarted;

/** Attempts at one start before it is given up. */
const START_ATTEMPTS = 20;
/** A start not answered by then counts as failed ("network") and is retried. */
const REQUEST_TIMEOUT_MS = 10_000;

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

  /**
   * Starts the batch: `concurrency` workers, round robin per request over the nodes, one run per
   * POST /workflows or `perRequest` per POST /workflows/bulk (the runs a bulk refused go again).
   */
  async start(batch: StartBatch): Promise<StarterStarted> {
    // A definition is the same for all its runs: encoded once, the rest spliced around it.
    const definitions = batch.definitions.map((definition) => JSON.stringify(definition));
    const runOf = (i: number): string =>
      `{"definition":${definitions[i % definitions.length]!},"execute":true,"input":{"i":${i}},` +
      `"idempotency_key":${JSON.stringify(`${batch.keyPrefix}-${i}`)}}`;
    const sent = await sendBatches({
      count: batch.count,
      perRequest: batch.perRequest,
      concurrency: batch.concurrency,
      nodes: this.pools.length,
      attempts: START_ATTEMPTS,
      latenciesMax: batch.latenciesMax,
      send: async (node, runs) => {
        const pool = this.pools[node]!;
        if (batch.perRequest === 1) {
          const { status } = await this.post(pool, "", runOf(runs[0]!));
          return singleOutcome(status);
        }
        const { status, body } = await this.post(
          pool,
          "/bulk",
          `{"workflows":[${runs.map(runOf).join(",")}]}`,
        );
        return bulkOutcomes(status, body, runs.length);
      },
    });
    return { type: "started", ...sent };
  }

  /** One POST /workflows or /workflows/bulk: its status and, for a bulk's 200, its answer; or "network". */
  private async post(
    pool: Pool,
    bulk: "" | "/bulk",
    body: string,
  ): Promise<{ status: number | "network"; body: unknown }> {
    try {
      const response = await pool.request({
        method: "POST",
        path: `/api/v3/workflows${bulk}`,
        body,
        headers: this.headers,
      });
      if (bulk !== "" && response.statusCode === 200)
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
