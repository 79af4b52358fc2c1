/**
 * What this node measures of consensus for `/api/v3/metrics/performance` and the dashboard:
 * how long its clients' writes take to be agreed and applied, how fast entries are applied, how
 * long it went without a leader each time it lost one, and (on the leader) how far behind each
 * follower is in milliseconds. View only: nothing replicated depends on it, and a restarted node
 * starts afresh.
 */

/** Recent write latencies kept for the percentiles. */
const LATENCY_SAMPLES = 2_048;
/** Recent leaderless spells kept. */
const ELECTION_SAMPLES = 64;
/** Leader appends remembered for the followers' lag in milliseconds. */
const APPEND_SAMPLES = 8_192;
/** Seconds over which the applied-entries rate is measured. */
const RATE_WINDOW_S = 10;

/** One spell without a known leader, and how it ended. */
export interface LeaderlessSpell {
  /** When this node stopped knowing a leader (or started), in clock milliseconds. */
  readonly fromMs: number;
  readonly durationMs: number;
  readonly term: number;
  readonly leader: string;
}

/** A follower's replication lag, as the leader sees it. */
export interface FollowerLag {
  readonly id: string;
  readonly entries: number;
  /** Age of the oldest entry it lacks; 0 when it has them all; null when too old to know. */
  readonly ms: number | null;
}

export class ConsensusStats {
  private readonly latencies = new Float64Array(LATENCY_SAMPLES);
  private latencyCount = 0;
  private readonly spells: LeaderlessSpell[] = [];
  /** When the current leaderless spell began, or null while a leader is known. */
  private leaderlessSince: number | null;
  private readonly appendIndex = new Float64Array(APPEND_SAMPLES);
  private readonly appendAt = new Float64Array(APPEND_SAMPLES);
  private appendCount = 0;
  private readonly appliedAt = new Float64Array(RATE_WINDOW_S + 1).fill(-1);
  private readonly appliedTotal = new Float64Array(RATE_WINDOW_S + 1);

  constructor(startMs: number) {
    this.leaderlessSince = startMs;
  }

  /** A write submitted on this node was applied `ms` after it was submitted. */
  onWriteApplied(ms: number): void {
    this.latencies[this.latencyCount % LATENCY_SAMPLES] = Math.max(0, ms);
    this.latencyCount++;
  }

  /** The p-th percentile (0..1) of recent write latencies, or null before any. */
  writeLatencyMs(p: number): number | null {
    return percentile(this.latencies, Math.min(this.latencyCount, LATENCY_SAMPLES), p);
  }

  writes(): number {
    return this.latencyCount;
  }

  /** The leader this node knows changed (null: it knows none). */
  onLeader(leader: string | null, term: number, nowMs: number): void {
    // Indexes only grow while one node leads: the appends remembered were another reign's.
    this.appendCount = 0;
    if (leader === null) {
      this.leaderlessSince ??= nowMs;
      return;
    }
    if (this.leaderlessSince === null) return;
    this.spells.push({
      fromMs: this.leaderlessSince,
      durationMs: Math.max(0, nowMs - this.leaderlessSince),
      term,
      leader,
    });
    if (this.spells.length > ELECTION_SAMPLES) this.spells.shift();
    this.leaderlessSince = null;
  }

  /** Recent leaderless spells, oldest first (the first is the start-up election). */
  leaderlessSpells(): readonly LeaderlessSpell[] {
    return this.spells;
  }

  /** How long this node has been without a leader now, or null when it knows one. */
  leaderlessForMs(nowMs: number): number | null {
    return this.leaderlessSince === null ? null : Math.max(0, nowMs - this.leaderlessSince);
  }

  /** This node, leading, had appended up to `index` by `nowMs` (called after each Ready). */
  onAppended(index: number, nowMs: number): void {
    const count = Math.min(this.appendCount, APPEND_SAMPLES);
    if (count > 0 && this.appendIndex[(this.appendCount - 1) % APPEND_SAMPLES]! >= index) return;
    const slot = this.appendCount % APPEND_SAMPLES;
    this.appendIndex[slot] = index;
    this.appendAt[slot] = nowMs;
    this.appendCount++;
  }

  /** How far behind a follower with `match` is, given the leader's `lastIndex`. */
  followerLag(id: string, match: number, lastIndex: number, nowMs: number): FollowerLag {
    const entries = Math.max(0, lastIndex - match);
    if (entries === 0) return { id, entries, ms: 0 };
    const appended = this.appendedAt(match + 1);
    return { id, entries, ms: appended === null ? null : Math.max(0, nowMs - appended) };
  }

  /** When this node had appended `index` (the first record at or past it), if it remembers. */
  private appendedAt(index: number): number | null {
    const count = Math.min(this.appendCount, APPEND_SAMPLES);
    if (count === 0) return null;
    // The ring holds increasing indexes from `first` on (a new term's leader starts afresh, but
    // indexes only grow while one node leads); binary search it in logical order.
    const first = this.appendCount > APPEND_SAMPLES ? this.appendCount % APPEND_SAMPLES : 0;
    const at = (i: number): number => (first + i) % APPEND_SAMPLES;
    if (this.appendIndex[at(0)]! > index) return null;
    let lo = 0;
    let hi = count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.appendIndex[at(mid)]! >= index) hi = mid;
      else lo = mid + 1;
    }
    return this.appendIndex[at(lo)]! >= index ? this.appendAt[at(lo)]! : null;
  }

  /** `total` entries have been applied by `nowMs` (called after each Ready). */
  onApplied(total: number, nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const slot = second % (RATE_WINDOW_S + 1);
    this.appliedAt[slot] = second;
    this.appliedTotal[slot] = total;
  }

  /** Entries applied per second over the last RATE_WINDOW_S seconds. */
  appliedPerSecond(nowMs: number): number {
    const now = Math.floor(nowMs / 1000);
    let oldest: { second: number; total: number } | null = null;
    let newest: { second: number; total: number } | null = null;
    for (let slot = 0; slot <= RATE_WINDOW_S; slot++) {
      const second = this.appliedAt[slot]!;
      if (second < 0 || second < now - RATE_WINDOW_S || second > now) continue;
      const total = this.appliedTotal[slot]!;
      if (oldest === null || second < oldest.second) oldest = { second, total };
      if (newest === null || second > newest.second) newest = { second, total };
    }
    if (oldest === null || newest === null || newest.second === oldest.second) return 0;
    // Seconds with no Ready applied nothing; the window runs to now, not to the last Ready.
    return (newest.total - oldest.total) / Math.max(1, now - oldest.second);
  }
}

function percentile(samples: Float64Array, count: number, p: number): number | null {
  if (count === 0) return null;
  const sorted = Array.from(samples.subarray(0, count)).sort((a, b) => a - b);
  return sorted[Math.min(count - 1, Math.floor(p * count))]!;
}
