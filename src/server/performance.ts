/**
 * `GET /api/v3/metrics/performance`, the seed's performance URL: what this node measured, each
 * figure beside the seed's target for it. Consensus figures come from the node itself; each
 * domain module adds its own (allocation latency, throughput, counts) through `performance`.
 */

import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import Type from "typebox";
import type { NodeApi, PerformanceFigure } from "../runtime/domain-module.js";
import type { NodeView } from "../runtime/view.js";
import { responses } from "./schemas.js";

/** The seed's consensus targets. */
const CONSENSUS_LATENCY_MS = 100;
const DECISIONS_PER_SECOND = 1_000;
const ELECTION_MS = 5_000;
const REPLICATION_LAG_MS = 50;

const Figure = Type.Object({
  value: Type.Union([Type.Number(), Type.Null()]),
  unit: Type.String(),
  target: Type.String(),
  meets: Type.Union([Type.Boolean(), Type.Null()]),
  about: Type.String(),
  detail: Type.Optional(Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()]))),
});

const Performance = Type.Object({
  node_id: Type.String(),
  role: Type.String(),
  leader_id: Type.Union([Type.String(), Type.Null()]),
  term: Type.Integer(),
  measured_at: Type.String({ format: "date-time" }),
  figures: Type.Record(Type.String(), Figure),
  counts: Type.Record(Type.String(), Type.Record(Type.String(), Type.Number())),
});

/** Whether `value` is under `limit` (null when nothing was measured). */
export function below(value: number | null, limit: number): boolean | null {
  return value === null ? null : value < limit;
}

/** Whether `value` reaches `floor` (null when nothing was measured). */
export function atLeast(value: number | null, floor: number): boolean | null {
  return value === null ? null : value >= floor;
}

/** Rounds a figure for display (milliseconds to a tenth). */
export function round(value: number | null): number | null {
  return value === null ? null : Math.round(value * 10) / 10;
}

/** The consensus figures, as this node measured them. */
export function consensusFigures(view: NodeView, nowMs: number): Record<string, PerformanceFigure> {
  const stats = view.consensus();
  const p50 = round(stats.writeLatencyMs(0.5));
  const p99 = round(stats.writeLatencyMs(0.99));
  const rate = round(stats.appliedPerSecond(nowMs));
  const spells = stats.leaderlessSpells();
  const last = spells.at(-1)?.durationMs ?? null;
  const longest = spells.length === 0 ? null : Math.max(...spells.map((spell) => spell.durationMs));
  const leaderlessNow = stats.leaderlessForMs(nowMs);
  const status = view.status();
  const lags = view.isLeader()
    ? status.progress
        .filter((progress) => progress.id !== view.id)
        .map((progress) => stats.followerLag(progress.id, progress.match, status.lastIndex, nowMs))
    : [];
  const lagMs = lags.some((lag) => lag.ms === null)
    ? null
    : lags.reduce((worst, lag) => Math.max(worst, lag.ms ?? 0), 0);
  return {
    consensus_latency_ms: {
      value: p99,
      unit: "ms",
      target: `< ${CONSENSUS_LATENCY_MS} ms`,
      meets: below(p99, CONSENSUS_LATENCY_MS),
      about:
        "99th percentile of the time from a write reaching this node to its entry being agreed by a majority and applied here (recent writes)",
      detail: { p50, p99, samples: stats.writes() },
    },
    decisions_per_second: {
      value: rate,
      unit: "entries/s",
      target: `>= ${DECISIONS_PER_SECOND.toLocaleString("en")} per second`,
      // The rate is what the present load asks for, not what the cluster could do: only a rate
      // at or past the target says anything about it (`npm run bench` measures the capacity).
      meets: rate !== null && rate >= DECISIONS_PER_SECOND ? true : null,
      about:
        "entries committed and applied per second over the last 10 s: the present load, not the capacity (npm run bench measures that)",
    },
    leader_election_ms: {
      value: last,
      unit: "ms",
      target: `< ${(ELECTION_MS / 1000).toLocaleString("en")} s`,
      meets: longest === null ? null : longest < ELECTION_MS,
      about:
        "how long this node went without a known leader the last time it lost one (the first is the start-up election); meets compares the longest recent spell",
      detail: { longest_ms: longest, elections_seen: spells.length, leaderless_now_ms: leaderlessNow },
    },
    replication_lag_ms: {
      value: view.isLeader() ? lagMs : null,
      unit: "ms",
      target: `< ${REPLICATION_LAG_MS} ms`,
      meets: view.isLeader() ? below(lagMs, REPLICATION_LAG_MS) : null,
      about:
        "on the leader: the age of the oldest entry the furthest-behind follower lacks (0 when every follower has everything); other nodes: ask the leader",
      detail: Object.fromEntries(lags.map((lag) => [lag.id, lag.ms])),
    },
  };
}

/** Registers the route (prefixed /api/v3). */
export function performanceRoutes(scope: FastifyInstance, node: NodeApi): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    "/metrics/performance",
    {
      schema: {
        summary: "This node's performance figures, each beside the seed's target",
        description:
          "Consensus latency, decisions per second, election time and replication lag as this node measured them, plus each module's figures (allocation latency, task throughput, concurrent workflows, agents) and counts. Read from this node: no quorum is asked.",
        tags: ["health"],
        response: responses({ 200: Performance }),
      },
    },
    () => performanceView(node.view, Date.now()),
  );
}

/** The whole answer. */
export function performanceView(view: NodeView, nowMs: number) {
  const figures: Record<string, PerformanceFigure> = consensusFigures(view, nowMs);
  const counts: Record<string, Record<string, number>> = {};
  for (const module of view.registry.modules) {
    const part = module.performance?.(view);
    if (part === undefined) continue;
    Object.assign(figures, part.figures);
    if (part.counts !== undefined) counts[module.name] = { ...part.counts };
  }
  return {
    node_id: view.id,
    role: view.role(),
    leader_id: view.leaderId(),
    term: view.term(),
    measured_at: new Date(nowMs).toISOString(),
    figures,
    counts,
  };
}
