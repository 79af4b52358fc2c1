/**
 * What the tasks metrics report over time: submit-to-assigned latency of recent placements and
 * completions per second of the last minute. Kept beside the replicated state, fed by apply with
 * the entries' times, and read by the metrics route and Prometheus. View only: nothing in apply
 * depends on it, so it is not in snapshots (a restored replica starts counting afresh).
 */

/** Placements whose latency is kept for the percentiles. */
const LATENCY_SAMPLES = 4_096;
/** Seconds of completions kept for the throughput. */
const WINDOW_S = 60;

export class TaskStats {
  private readonly latencies = new Float64Array(LATENCY_SAMPLES);
  private latencyCount = 0;
  private readonly perSecond = new Float64Array(WINDOW_S);
  private readonly secondOf = new Float64Array(WINDOW_S).fill(-1);
  assigned = 0;
  /** Attempts that started (taken by a poll, a report's take, or a push). */
  started = 0;
  /** Of those, the ones a report's take started. */
  startedByReport = 0;
  completed = 0;
  /** Attempts that failed and were queued again (retries, lost agents, lapsed leases). */
  retried = 0;
  deadLettered = 0;

  /** A task was placed `latencyMs` after it was queued. */
  onAssigned(latencyMs: number): void {
    this.latencies[this.latencyCount % LATENCY_SAMPLES] = Math.max(0, latencyMs);
    this.latencyCount++;
    this.assigned++;
  }

  onCompleted(atMs: number): void {
    this.completed++;
    const second = Math.floor(atMs / 1000);
    const slot = second % WINDOW_S;
    if (this.secondOf[slot] !== second) {
      this.secondOf[slot] = second;
      this.perSecond[slot] = 0;
    }
    this.perSecond[slot]! += 1;
  }

  /** The p-th percentile (0..1) of recent submit-to-assigned latencies, or null before any. */
  latencyPercentileMs(p: number): number | null {
    const count = Math.min(this.latencyCount, LATENCY_SAMPLES);
    if (count === 0) return null;
    const sorted = Array.from(this.latencies.subarray(0, count)).sort((a, b) => a - b);
    return sorted[Math.min(count - 1, Math.floor(p * count))]!;
  }

  /** Completions in the minute before `nowMs`. */
  completedLastMinute(nowMs: number): number {
    const now = Math.floor(nowMs / 1000);
    let total = 0;
    for (let slot = 0; slot < WINDOW_S; slot++) {
      const second = this.secondOf[slot]!;
      if (second > now - WINDOW_S && second <= now) total += this.perSecond[slot]!;
    }
    return total;
  }
}
