/**
 * The phi-accrual failure detector (Hayashibara et al., 2004, as Akka and Cassandra use it). Instead
 * of a yes/no timeout it says how surprised we should be by the current silence, given the rhythm of
 * the beats so far: phi = -log10(P(the next beat comes later than now)), so phi 1 means a 10 % chance
 * that the agent is merely slow, phi 8 one in a hundred million under the fitted distribution.
 *
 * The distribution is a normal one with the mean and standard deviation of a bounded window of recent
 * inter-arrival intervals, evaluated with Akka's logistic approximation of its tail (Bowling et al.,
 * 2009), computed in the log domain so that phi stays finite however long the silence lasts.
 *
 * phi is monotone non-decreasing in the elapsed silence for a fixed history, so "phi >= threshold" is
 * the same as "now >= the time phi reaches threshold". The detector computes that time once per beat
 * (`suspectAtMs`) so that callers ticking thousands of agents compare two numbers instead of
 * evaluating a logarithm for each.
 *
 * Pure: time arrives as `atMs` / `nowMs` arguments in milliseconds.
 */

/** How the detector reads the rhythm of an agent's beats. */
export interface PhiOptions {
  /** How many recent intervals the statistics use; older ones are forgotten. */
  readonly windowSize: number;
  /** Below this many intervals the statistics are noise: the agent's expected interval is used instead. */
  readonly minSamples: number;
  /** The standard deviation is never taken below this, whatever the window says. */
  readonly minStandardDeviationMs: number;
  /** Nor below this fraction of the mean interval. */
  readonly minStandardDeviationRatio: number;
  /** Added to the mean: a silence this much longer than usual is still unsurprising. */
  readonly acceptablePauseMs: number;
  /** At or above this phi an agent is suspected. */
  readonly suspectPhi: number;
}

/**
 * Defaults, and why. A window of 100 intervals is the last 100 s at one-second beats: enough for a
 * stable estimate, short enough to follow a change of rhythm within two minutes. Three samples before
 * trusting the window, because two intervals give a meaningless deviation. The deviation floor (50 ms,
 * or 10 % of the mean) stops a perfectly regular agent, whose measured deviation is near zero, from
 * being suspected the moment one beat is a little late. The acceptable pause of 2 s absorbs one lost
 * beat plus a second of jitter or a long garbage-collection pause at one-second beats (Akka uses 3 s for
 * the same job); suspicion only withholds new work, and the failure timeout still decides death.
 * Threshold 8 is Akka's and Cassandra's default.
 */
export const DEFAULT_PHI_OPTIONS: PhiOptions = {
  windowSize: 100,
  minSamples: 3,
  minStandardDeviationMs: 50,
  minStandardDeviationRatio: 0.1,
  acceptablePauseMs: 2_000,
  suspectPhi: 8,
};

/** The largest window accepted: the window is allocated per agent, and 10,000 agents share the heap. */
export const MAX_PHI_WINDOW_SIZE = 10_000;

/** The largest threshold accepted; beyond it the logistic tail is far outside any real measurement. */
export const MAX_SUSPECT_PHI = 300;

/** Fills in defaults and refuses settings that would make phi meaningless or the window unbounded. */
export function resolvePhiOptions(options: Partial<PhiOptions> = {}): PhiOptions {
  const resolved = { ...DEFAULT_PHI_OPTIONS, ...options };
  const { windowSize, minSamples } = resolved;
  if (!(Number.isInteger(windowSize) && windowSize >= 1 && windowSize <= MAX_PHI_WINDOW_SIZE)) {
    throw new RangeError(`phi windowSize must be an integer in [1, ${MAX_PHI_WINDOW_SIZE}]`);
  }
  if (!(Number.isInteger(minSamples) && minSamples >= 1 && minSamples <= windowSize)) {
    throw new RangeError("phi minSamples must be an integer in [1, windowSize]");
  }
  if (!(resolved.minStandardDeviationMs > 0 && Number.isFinite(resolved.minStandardDeviationMs))) {
    throw new RangeError("phi minStandardDeviationMs must be positive");
  }
  if (!(resolved.minStandardDeviationRatio >= 0 && resolved.minStandardDeviationRatio <= 10)) {
    throw new RangeError("phi minStandardDeviationRatio must be in [0, 10]");
  }
  if (!(resolved.acceptablePauseMs >= 0 && Number.isFinite(resolved.acceptablePauseMs))) {
    throw new RangeError("phi acceptablePauseMs must be zero or more");
  }
  if (!(resolved.suspectPhi > 0 && resolved.suspectPhi <= MAX_SUSPECT_PHI)) {
    throw new RangeError(`phi suspectPhi must be in (0, ${MAX_SUSPECT_PHI}]`);
  }
  return resolved;
}

// The logistic approximation of the normal tail: P(X > mean + y sd) ~= 1 / (1 + e^g(y)) with
// g(y) = y (A + B y^2). Both coefficients are Akka's.
const COEFFICIENT_A = 1.5976;
const COEFFICIENT_B = 0.070566;

// |y| is clamped here so that g(y) cannot overflow: phi at the clamp is about 3e13, finite, and the
// clamp keeps phi non-decreasing (it is constant beyond it).
const STANDARD_SCORE_LIMIT = 1e5;

/**
 * phi after `elapsedMs` of silence when intervals have mean `meanMs` (acceptable pause included) and
 * standard deviation `standardDeviationMs` (positive). Finite, at least 0, non-decreasing in elapsedMs.
 */
export function phiOf(elapsedMs: number, meanMs: number, standardDeviationMs: number): number {
  const score = (Math.max(0, elapsedMs) - meanMs) / standardDeviationMs;
  const y = Math.min(STANDARD_SCORE_LIMIT, Math.max(-STANDARD_SCORE_LIMIT, score));
  const g = y * (COEFFICIENT_A + COEFFICIENT_B * y * y);
  // phi = log10(1 + e^g), the softplus of g, written so that neither branch overflows.
  const softplus = g > 0 ? g + Math.log1p(Math.exp(-g)) : Math.log1p(Math.exp(g));
  return softplus / Math.LN10;
}

/** The standard score y at which phi equals `phi`: the one real root of B y^3 + A y = g. */
export function standardScoreForPhi(phi: number): number {
  // Inverting softplus: g = ln(10^phi - 1), rearranged so that a large phi does not overflow.
  const g = phi * Math.LN10 + Math.log1p(-(10 ** -phi));
  // Cardano for the depressed cubic y^3 + p y + q = 0; p > 0, so there is exactly one real root.
  const p = COEFFICIENT_A / COEFFICIENT_B;
  const q = -g / COEFFICIENT_B;
  const root = Math.sqrt((q * q) / 4 + (p * p * p) / 27);
  let y = Math.cbrt(-q / 2 + root) + Math.cbrt(-q / 2 - root);
  // One Newton step removes the cancellation Cardano's formula suffers for small g.
  y -= (y * (COEFFICIENT_A + COEFFICIENT_B * y * y) - g) / (COEFFICIENT_A + 3 * COEFFICIENT_B * y * y);
  return y;
}

/**
 * One agent's detector: a ring of its recent inter-arrival intervals, with running sums so that a beat
 * costs O(1).
 */
export class PhiAccrualDetector {
  private readonly options: PhiOptions;
  // Invariant: the ring holds `count` intervals, the newest just before `nextSlot`.
  private readonly intervalsMs: Float64Array;
  private count = 0;
  private nextSlot = 0;
  // Invariant: sumMs and sumSquaresMs are the sums over the ring, up to rounding that is erased by
  // recomputing them exactly each time the ring has been overwritten once.
  private sumMs = 0;
  private sumSquaresMs = 0;
  private pushesSinceRecompute = 0;
  private expectedIntervalMs: number;
  private lastBeat: number | null = null;
  private readonly suspectScore: number;
  // Cached statistics, recomputed whenever the ring or the expected interval changes.
  private mean = 0;
  private standardDeviation = 1;
  private suspectAfterMs = Infinity;

  /** `expectedIntervalMs` is the heartbeat interval the agent was told, used until the window fills. */
  constructor(expectedIntervalMs: number, options: PhiOptions = DEFAULT_PHI_OPTIONS) {
    this.options = options;
    this.intervalsMs = new Float64Array(options.windowSize);
    this.suspectScore = standardScoreForPhi(options.suspectPhi);
    this.expectedIntervalMs = checkedInterval(expectedIntervalMs);
    this.refreshStatistics();
  }

  /**
   * Records a beat received at `atMs`. The interval since the previous beat joins the window unless
   * the beat came after the agent had already become suspect: as in Akka, the silence before a
   * recovery is not part of the agent's rhythm, and one long gap would otherwise blunt the detector
   * for the next hundred beats. A beat older than the last one (the clock stepped back) teaches nothing.
   */
  record(atMs: number): void {
    const last = this.lastBeat;
    if (last !== null && atMs < last) return;
    if (last !== null && atMs < last + this.suspectAfterMs) this.push(atMs - last);
    this.lastBeat = atMs;
  }

  /** phi at `nowMs`; 0 before the first beat, when there is no silence to judge. */
  phi(nowMs: number): number {
    if (this.lastBeat === null) return 0;
    return phiOf(nowMs - this.lastBeat, this.mean + this.options.acceptablePauseMs, this.standardDeviation);
  }

  /** The time at which phi reaches suspectPhi; Infinity before the first beat. */
  suspectAtMs(): number {
    return this.lastBeat === null ? Infinity : this.lastBeat + this.suspectAfterMs;
  }

  /** Forgets the rhythm (keeping the last beat), for when the agent is told a new interval. */
  reset(expectedIntervalMs: number): void {
    this.expectedIntervalMs = checkedInterval(expectedIntervalMs);
    this.count = 0;
    this.nextSlot = 0;
    this.sumMs = 0;
    this.sumSquaresMs = 0;
    this.pushesSinceRecompute = 0;
    this.refreshStatistics();
  }

  /** When the last beat was received, or null before the first. */
  lastBeatMs(): number | null {
    return this.lastBeat;
  }

  /** How many intervals the window holds. */
  sampleCount(): number {
    return this.count;
  }

  /** The mean interval in use (the expected interval until minSamples are known), pause not included. */
  meanMs(): number {
    return this.mean;
  }

  /** The standard deviation in use, floors applied. */
  standardDeviationMs(): number {
    return this.standardDeviation;
  }

  private push(intervalMs: number): void {
    const size = this.intervalsMs.length;
    if (this.count === size) {
      const oldest = this.intervalsMs[this.nextSlot] ?? 0;
      this.sumMs -= oldest;
      this.sumSquaresMs -= oldest * oldest;
    } else {
      this.count += 1;
    }
    this.intervalsMs[this.nextSlot] = intervalMs;
    this.nextSlot = (this.nextSlot + 1) % size;
    this.sumMs += intervalMs;
    this.sumSquaresMs += intervalMs * intervalMs;
    this.pushesSinceRecompute += 1;
    if (this.pushesSinceRecompute >= size) this.recomputeSums();
    this.refreshStatistics();
  }

  private recomputeSums(): void {
    let sum = 0;
    let sumSquares = 0;
    for (let i = 0; i < this.count; i += 1) {
      const interval = this.intervalsMs[i] ?? 0;
      sum += interval;
      sumSquares += interval * interval;
    }
    this.sumMs = sum;
    this.sumSquaresMs = sumSquares;
    this.pushesSinceRecompute = 0;
  }

  private refreshStatistics(): void {
    const { minSamples, minStandardDeviationMs, minStandardDeviationRatio, acceptablePauseMs } = this.options;
    const trusted = this.count >= minSamples;
    const mean = trusted ? this.sumMs / this.count : this.expectedIntervalMs;
    const measured = trusted ? Math.sqrt(Math.max(0, this.sumSquaresMs / this.count - mean * mean)) : 0;
    this.mean = mean;
    this.standardDeviation = Math.max(measured, minStandardDeviationMs, minStandardDeviationRatio * mean);
    this.suspectAfterMs = mean + acceptablePauseMs + this.suspectScore * this.standardDeviation;
  }
}

function checkedInterval(expectedIntervalMs: number): number {
  if (!(expectedIntervalMs > 0 && Number.isFinite(expectedIntervalMs))) {
    throw new RangeError("the expected heartbeat interval must be positive");
  }
  return expectedIntervalMs;
}
