/**
 * The sending loop the benches' load processes share (bench/tasks-load.ts submits tasks,
 * bench/workflows-load.ts starts runs): `concurrency` workers take the next `perRequest` items,
 * send them round robin over the nodes (each worker starting at a different one, as a Kubernetes
 * Service spreads its clients), and send again, a little later, the items an attempt did not
 * take. Every item carries an idempotency key, so an item sent again is found, never made twice.
 */

/** What one attempt made of each item sent, in order: 201 made, 200 found by its key, else why not. */
export type ItemOutcome = 201 | 200 | string;

/** How a batch went. */
export interface SentBatch {
  /** Wall clock (ms since the epoch) of the first request sent and of the last answer. */
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly created: number;
  readonly foundByKey: number;
  /** Items still not taken after `attempts`. */
  readonly givenUp: number;
  /** Failed item attempts by HTTP status, "network" or a bulk result's error code. */
  readonly failures: Record<string, number>;
  /** The answer latency of each item taken (its request's), ms, in the order they were taken. */
  readonly latenciesMs: Float64Array;
}

export interface BatchPlan {
  readonly count: number;
  readonly perRequest: number;
  readonly concurrency: number;
  /** How many nodes there are to send to, round robin. */
  readonly nodes: number;
  readonly attempts: number;
  /** How many latencies are kept (the first ones). */
  readonly latenciesMax: number;
  /** Sends items (indexes below count) to node `node`; one outcome per item. */
  readonly send: (node: number, items: readonly number[]) => Promise<readonly ItemOutcome[]>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends every item of the plan; resolves once each was taken or given up. */
export async function sendBatches(plan: BatchPlan): Promise<SentBatch> {
  const latencies = new Float64Array(Math.min(plan.count, plan.latenciesMax));
  let latencyCount = 0;
  const failures: Record<string, number> = {};
  let created = 0;
  let foundByKey = 0;
  let givenUp = 0;
  let next = 0;
  const startedAtMs = Date.now();
  await Promise.all(
    Array.from({ length: plan.concurrency }, async (_, worker) => {
      let node = worker % plan.nodes;
      while (next < plan.count) {
        let pending = Array.from({ length: Math.min(plan.perRequest, plan.count - next) }, () => next++);
        for (let attempt = 1; attempt <= plan.attempts && pending.length > 0; attempt++) {
          const started = performance.now();
          const outcomes = await plan.send(node, pending);
          node = (node + 1) % plan.nodes;
          const latency = performance.now() - started;
          const left: number[] = [];
          pending.forEach((item, k) => {
            const outcome = outcomes[k] ?? "no result";
            if (outcome === 201 || outcome === 200) {
              if (outcome === 201) created++;
              else foundByKey++;
              if (latencyCount < latencies.length) latencies[latencyCount++] = latency;
            } else {
              failures[outcome] = (failures[outcome] ?? 0) + 1;
              left.push(item);
            }
          });
          pending = left;
          if (pending.length > 0) await sleep(20 * Math.min(attempt, 25));
        }
        givenUp += pending.length;
      }
    }),
  );
  return {
    startedAtMs,
    endedAtMs: Date.now(),
    created,
    foundByKey,
    givenUp,
    failures,
    latenciesMs: latencies.subarray(0, latencyCount),
  };
}

/** The outcome of a request that carries one item: 201 or 200 taken, any other status why not. */
export function singleOutcome(status: number | "network"): readonly ItemOutcome[] {
  return [status === 201 || status === 200 ? status : String(status)];
}

/** The outcomes of a bulk request's answer: its results for a 200, else the status for each item. */
export function bulkOutcomes(
  status: number | "network",
  body: unknown,
  items: number,
): readonly ItemOutcome[] {
  if (status !== 200) return Array.from({ length: items }, () => String(status));
  const results = (body as { results?: readonly BulkResult[] } | null)?.results ?? [];
  return results.map((result) =>
    result.ok ? (result.created === true ? 201 : 200) : (result.error?.code ?? "refused"),
  );
}

/** One result of a bulk answer (POST /tasks/distribute/bulk, POST /workflows/bulk). */
interface BulkResult {
  readonly ok: boolean;
  readonly created?: boolean;
  readonly error?: { readonly code: string };
}
