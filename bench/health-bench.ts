/**
 * Micro-benchmark of the leader's health monitor: what one tick costs with 10,000 agents beating every
 * second and the monitor ticked every 100 ms, when nothing changes (the steady state every leader is in
 * almost all the time). Beats are delivered between ticks, as the server would, and timed separately.
 * Simulated time, real CPU time. Not run by the tests.
 *
 *   npx tsx bench/health-bench.ts [--agents=10000] [--seconds=600]
 *
 * Prints the per-tick cost (mean, median, 99th percentile, max) in microseconds, the per-beat cost,
 * and the number of transitions seen (0 is expected: every agent beats on time).
 */

import { performance } from "node:perf_hooks";
import { HealthMonitor } from "../src/agents/health/index.js";
import { seededRandom } from "../test/support/fixtures.js";

/** What a run is configured with. */
interface BenchSettings {
  readonly agents: number;
  readonly seconds: number;
}

/** Reads --name=value options; anything unknown is an error rather than silently ignored. */
function parseSettings(argv: readonly string[]): BenchSettings {
  const settings = { agents: 10_000, seconds: 600 };
  for (const arg of argv) {
    const match = /^--(agents|seconds)=(\d+)$/.exec(arg);
    if (match === null) throw new Error(`unknown option ${arg}; use --agents=N --seconds=N`);
    if (match[1] === "agents") settings.agents = Number(match[2]);
    else settings.seconds = Number(match[2]);
  }
  return settings;
}

/** The value at `share` (0..1) of sorted `values`. */
function percentile(sorted: readonly number[], share: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? 0;
}

const TICK_MS = 100;
const BEAT_MS = 1_000;
const WARMUP_SECONDS = 30;

function run(settings: BenchSettings): void {
  const random = seededRandom(20_250_101);
  const monitor = new HealthMonitor({ maxAgents: Math.max(settings.agents, 1) });
  const ids = Array.from({ length: settings.agents }, (_, i) => `agent-${i}`);
  for (const id of ids) monitor.add(id, {}, "healthy", 15_000);
  // Agents are spread over the second: agent i beats at (i mod 10) * 100 ms past each second, give or
  // take up to 50 ms of jitter, so every tick sees a tenth of them beat.
  const load = { activeTasks: 1, capacity: 4 };
  const tickMicros: number[] = [];
  let beatMicros = 0;
  let beats = 0;
  let transitions = 0;
  const totalTicks = ((WARMUP_SECONDS + settings.seconds) * BEAT_MS) / TICK_MS;
  for (let tick = 1; tick <= totalTicks; tick += 1) {
    const nowMs = tick * TICK_MS;
    const slot = tick % (BEAT_MS / TICK_MS);
    const measuring = nowMs > WARMUP_SECONDS * BEAT_MS;
    const beatStart = performance.now();
    for (let i = slot; i < ids.length; i += BEAT_MS / TICK_MS) {
      const atMs = nowMs - TICK_MS + Math.floor(random() * 50);
      if (monitor.beat(ids[i] ?? "", atMs, load) !== null) transitions += 1;
    }
    if (measuring) {
      beatMicros += (performance.now() - beatStart) * 1_000;
      beats += Math.ceil((ids.length - slot) / (BEAT_MS / TICK_MS));
    }
    const tickStart = performance.now();
    const changed = monitor.tick(nowMs);
    const elapsedMicros = (performance.now() - tickStart) * 1_000;
    if (measuring) {
      tickMicros.push(elapsedMicros);
      transitions += changed.length;
    }
  }
  const sorted = [...tickMicros].sort((a, b) => a - b);
  const mean = tickMicros.reduce((sum, value) => sum + value, 0) / Math.max(1, tickMicros.length);
  const format = (micros: number): string => `${micros.toFixed(1)} µs`;
  console.log(
    `health monitor: ${settings.agents} agents beating every ${BEAT_MS} ms, ticked every ${TICK_MS} ms, ` +
      `${tickMicros.length} ticks measured after ${WARMUP_SECONDS} s of warm-up`,
  );
  console.log(
    `  tick: mean ${format(mean)}, median ${format(percentile(sorted, 0.5))}, ` +
      `p99 ${format(percentile(sorted, 0.99))}, max ${format(sorted.at(-1) ?? 0)}`,
  );
  console.log(`  per agent per tick: ${((mean * 1_000) / Math.max(1, settings.agents)).toFixed(2)} ns`);
  console.log(`  beat: ${format(beatMicros / Math.max(1, beats))} each (${beats} beats)`);
  console.log(`  transitions in the steady state: ${transitions}`);
}

run(parseSettings(process.argv.slice(2)));
