/**
 * The closed-loop HTTP load the benchmarks share: a number of workers, each sending one write
 * after another through keep-alive pools, to the leader or spread over every node as a Kubernetes
 * Service spreads it; ops/s and latency percentiles of the successful calls.
 */

import { Pool } from "undici";

/** Where requests go: all to the leader, or round robin over every node. */
export type Load = "leader" | "spread";

/** One keep-alive connection pool per target, sized for the highest concurrency. */
const pools = new Map<string, Pool>();
function pool(origin: string): Pool {
  let found = pools.get(origin);
  if (found === undefined) pools.set(origin, (found = new Pool(origin, { connections: 512, pipelining: 1 })));
  return found;
}

export async function closePools(): Promise<void> {
  for (const p of pools.values()) await p.close();
  pools.clear();
}

/** POSTs `body` to `origin` + `path`; resolves with the status after reading the answer. */
export async function post(
  origin: string,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const response = await pool(origin).request({
    method: "POST",
    path,
    body,
    headers: { "content-type": "application/json", ...headers },
  });
  await response.body.dump();
  return response.statusCode;
}

/** One measurement. */
export interface Figures {
  readonly concurrency: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** What the failed requests were: HTTP status, or "network" for a request that got no answer. */
  readonly failures: Record<string, number>;
  /** At concurrency 1: the rounds whose medians the figures above are (errors and failures summed). */
  readonly rounds?: readonly Round[];
}

/** One concurrency-1 round of one system. */
export interface Round {
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** Whether this system was measured first in the round (the other one right after it). */
  readonly first: boolean;
}

/** A system under load: its nodes' origins in a fixed order, and one request. */
export interface Target {
  readonly origins: readonly string[];
  /** Index in `origins` of the leader, looked up again before every point. */
  leader: number;
  /** Sends one write to `origin`; resolves with the HTTP status. */
  readonly write: (origin: string) => Promise<number>;
  readonly expected: number;
}

/** For worker `w`: where each of its successive requests goes under `load`. */
function picker(load: Load, target: Target, worker: number): () => string {
  const { origins, leader } = target;
  if (load === "leader") return () => origins[leader]!;
  let next = worker % origins.length;
  return () => {
    const origin = origins[next]!;
    next = (next + 1) % origins.length;
    return origin;
  };
}

/** Runs `concurrency` workers writing back to back for `ms`; latencies of successful calls. */
export async function closedLoop(
  concurrency: number,
  ms: number,
  load: Load,
  target: Target,
): Promise<Figures> {
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let errors = 0;
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      const next = picker(load, target, worker);
      while (performance.now() < end) {
        const started = performance.now();
        const status = await target.write(next()).catch(() => "network");
        if (status === target.expected) latencies.push(performance.now() - started);
        else {
          errors++;
          failures[status] = (failures[status] ?? 0) + 1;
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    concurrency,
    opsPerSecond: (latencies.length / ms) * 1000,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    errors,
    failures,
  };
}

/** A cluster measured beside others: its target, and its figures, one per concurrency. */
export interface SideBySide {
  readonly target: Target;
  readonly figures: Figures[];
}

/**
 * Measures every system at every concurrency under the spread load, back to back, each point
 * after its own warm-up. The order rotates from point to point, so that none is always measured
 * on a machine the others just warmed.
 */
export async function measureSideBySide(
  systems: readonly SideBySide[],
  concurrencies: readonly number[],
  warmupMs: number,
  measureMs: number,
): Promise<void> {
  for (const [point, concurrency] of concurrencies.entries()) {
    const order = systems.map((_, i) => systems[(i + point) % systems.length]!);
    for (const system of order) {
      await closedLoop(concurrency, warmupMs, "spread", system.target);
      system.figures.push(await closedLoop(concurrency, measureMs, "spread", system.target));
    }
  }
}
