/**
 * The health state machine of one agent. Inputs are heartbeats, active check results and ticks, each
 * with the leader's `nowMs`; outputs are transitions, returned by the input that caused them, so the
 * caller replicates exactly those and nothing per beat. Pure: no clock, no timers, no I/O.
 *
 * Two facts are kept apart and combined into one status:
 * - liveness, from the timing of beats: "alive", "late" (phi has reached suspectPhi) or "silent"
 *   (no beat for failureTimeoutMs). It only worsens with time and only a beat restores it;
 * - quality, from what the signals say: a hysteresis stream (see hysteresis.ts) for beats (late or
 *   overloaded beats warn) and one for active checks (slow or overloaded answers warn, failures fail).
 *
 * The status, worst first:
 *   failed    the agent is silent, or its checks are critical (failuresBeforeCritical fails in a row);
 *   suspect   its beats are late;
 *   degraded  it beats on time but either stream is not passing (a failed, slow or overloaded check, an
 *             overloaded beat, or a recovery still short of successBeforePassing good signals);
 *   healthy   otherwise.
 *
 * Recovery, exactly: the first beat after the agent became late or silent is a warning signal (it
 * proves the agent was unreachable for a while), so a suspect or failed agent that beats again is
 * degraded at once and healthy after successBeforePassing further on-time, not overloaded beats, with
 * its checks passing. An agent failed by its checks is degraded at its first passing (or slow) check
 * and healthy after successBeforePassing passing checks in a row.
 *
 * The grace period: before `graceUntilMs` nothing becomes suspect or failed. Both liveness deadlines
 * are pushed to at least the grace end, and critical checks only make the agent degraded until then.
 * A status the agent already had (for a new leader, the one in the log) is kept, not cleared, by a
 * grace: only evidence (a beat, a check) or the grace end changes it.
 */

import { SignalTrack, type Signal } from "./hysteresis.js";
import { PhiAccrualDetector } from "./phi.js";
import type { HealthSettings } from "./settings.js";
import type { BeatLoad, CheckResult, HealthStatus, Transition } from "./types.js";

/** How many recent check results an agent's report keeps. */
export const CHECK_HISTORY_LENGTH = 5;

/** Check details are cut to this many characters: they come from outside and are kept per agent. */
export const MAX_CHECK_DETAIL_LENGTH = 200;

/** A check result with the time the leader received it. */
export interface RecordedCheck extends CheckResult {
  readonly atMs: number;
}

/** Where an agent starts: registered just now (healthy), or carried over from the log by a new leader. */
export interface HealthStart {
  readonly status: HealthStatus;
  readonly sinceMs: number;
  /** Nothing turns suspect or failed before this; a new leader grants a full failureTimeoutMs. */
  readonly graceUntilMs: number;
  /** Why it has that status, if known. */
  readonly reason?: string;
}

/** One signal stream's standing, for the report. */
export interface StreamReport {
  readonly level: "passing" | "warning" | "critical";
  readonly consecutiveSuccesses: number;
  readonly consecutiveFailures: number;
}

/** Everything the leader knows about an agent's health, for the health routes and the dashboard. */
export interface HealthReport {
  readonly status: HealthStatus;
  readonly sinceMs: number;
  /** Why it entered its status. */
  readonly reason: string;
  /** phi at the report's `nowMs`. */
  readonly phi: number;
  readonly lastBeatMs: number | null;
  /** The last CHECK_HISTORY_LENGTH check results, oldest first. */
  readonly lastChecks: readonly RecordedCheck[];
  /** Active checks failed in a row (Consul's counter; beats never fail, they are late or silent). */
  readonly consecutiveFailures: number;
  /** Active checks passed in a row; the beats' own run is in `beats`. */
  readonly consecutiveSuccesses: number;
  readonly beats: StreamReport;
  readonly checks: StreamReport;
  readonly graceUntilMs: number;
  /** When the agent becomes suspect if it stays silent (Infinity before its first beat). */
  readonly suspectAtMs: number;
  /** When the agent becomes failed if it stays silent: the end of its lease. */
  readonly leaseEndsAtMs: number;
}

type Liveness = "alive" | "late" | "silent";

// Why the beat stream last stopped passing; kept as a code so no string is built per beat.
type BeatNote = "on-time" | "resumed" | "overloaded" | "over-gauge" | "carried-over";

const CARRIED_OVER_REASON = "status carried over from the log";

/** One agent's health: feed it beats, checks and ticks; it answers with the transitions they cause. */
export class AgentHealth {
  /** The settings this agent is judged by. */
  readonly settings: HealthSettings;
  private readonly detector: PhiAccrualDetector;
  private readonly beatStream: SignalTrack;
  private readonly checkStream: SignalTrack;
  private current: HealthStatus;
  private sinceMs: number;
  private reason: string;
  private liveness: Liveness;
  private graceUntilMs: number;
  // Invariant: suspectDeadlineMs = max(detector's suspect time, grace) once a beat is known, else
  // Infinity; failDeadlineMs = max(last beat + failureTimeoutMs, grace).
  private suspectDeadlineMs = Infinity;
  private failDeadlineMs = -Infinity;
  // Invariant: no tick before wakeAtMs can change anything, so ticks before it return at once.
  private wakeAtMs = -Infinity;
  private beatNote: BeatNote = "on-time";
  private resumedAfterSilenceMs = 0;
  private lastLoad: BeatLoad = { capacity: 0 };
  private readonly recentChecks: RecordedCheck[] = [];
  private nextCheckSlot = 0;

  constructor(settings: HealthSettings, start: HealthStart) {
    this.settings = settings;
    this.detector = new PhiAccrualDetector(settings.heartbeatIntervalMs, settings.phi);
    this.beatStream = new SignalTrack(settings, start.status === "degraded" ? "warning" : "passing");
    this.checkStream = new SignalTrack(settings);
    if (start.status === "degraded") this.beatNote = "carried-over";
    this.current = start.status;
    this.sinceMs = start.sinceMs;
    this.reason = start.reason ?? CARRIED_OVER_REASON;
    this.liveness = start.status === "failed" ? "silent" : start.status === "suspect" ? "late" : "alive";
    this.graceUntilMs = start.graceUntilMs;
    this.refreshDeadlines();
  }

  /** A heartbeat received at `nowMs`. */
  beat(nowMs: number, load: BeatLoad): Transition | null {
    this.advance(nowMs);
    const resumed = this.liveness !== "alive";
    const lastBeatMs = this.detector.lastBeatMs();
    this.detector.record(nowMs);
    this.liveness = "alive";
    this.lastLoad = load;
    let signal: Signal = "pass";
    if (resumed) {
      this.beatNote = "resumed";
      this.resumedAfterSilenceMs = lastBeatMs === null ? 0 : nowMs - lastBeatMs;
      signal = "warn";
    } else if (load.overloaded === true) {
      this.beatNote = "overloaded";
      signal = "warn";
    } else if (this.overGauge(load)) {
      this.beatNote = "over-gauge";
      signal = "warn";
    }
    this.beatStream.observe(signal);
    this.refreshDeadlines();
    return this.settle(nowMs);
  }

  /** An active check's result, received at `nowMs`. */
  check(nowMs: number, result: CheckResult): Transition | null {
    this.advance(nowMs);
    this.remember(nowMs, result);
    const signal: Signal = !result.ok ? "fail" : result.slow || result.overloaded === true ? "warn" : "pass";
    this.checkStream.observe(signal);
    return this.settle(nowMs);
  }

  /** Time has passed: returns the transition it causes, if any. O(1), and free when nothing is due. */
  tick(nowMs: number): Transition | null {
    if (nowMs < this.wakeAtMs) return null;
    this.advance(nowMs);
    return this.settle(nowMs);
  }

  /** Nothing turns suspect or failed before `untilMs` (a grace only ever extends). */
  grant(untilMs: number): void {
    this.graceUntilMs = Math.max(this.graceUntilMs, untilMs);
    this.refreshDeadlines();
  }

  /** The status now, without advancing time. */
  currentStatus(): HealthStatus {
    return this.current;
  }

  /** When the agent's lease ends: its last beat plus failureTimeoutMs, or the grace end if later. */
  leaseEndsAtMs(): number {
    return this.failDeadlineMs;
  }

  /** The earliest time at which a tick can change anything (Infinity: only an input can). */
  nextWakeMs(): number {
    return this.wakeAtMs;
  }

  /** The full report at `nowMs` (phi is computed for that time; the status is not advanced). */
  status(nowMs: number): HealthReport {
    const ordered = [
      ...this.recentChecks.slice(this.nextCheckSlot),
      ...this.recentChecks.slice(0, this.nextCheckSlot),
    ];
    return {
      status: this.current,
      sinceMs: this.sinceMs,
      reason: this.reason,
      phi: this.detector.phi(nowMs),
      lastBeatMs: this.detector.lastBeatMs(),
      lastChecks: ordered,
      consecutiveFailures: this.checkStream.consecutiveFailures(),
      consecutiveSuccesses: this.checkStream.consecutiveSuccesses(),
      beats: streamReport(this.beatStream),
      checks: streamReport(this.checkStream),
      graceUntilMs: this.graceUntilMs,
      suspectAtMs: this.suspectDeadlineMs,
      leaseEndsAtMs: this.failDeadlineMs,
    };
  }

  /** Liveness only worsens with time: alive -> late at the suspect deadline, -> silent at the lease end. */
  private advance(nowMs: number): void {
    if (this.liveness !== "silent" && nowMs >= this.failDeadlineMs) this.liveness = "silent";
    else if (this.liveness === "alive" && nowMs >= this.suspectDeadlineMs) this.liveness = "late";
  }

  /** The status the facts call for at `nowMs`. */
  private target(nowMs: number): HealthStatus {
    if (this.liveness === "silent") return "failed";
    if (this.checkStream.level() === "critical" && nowMs >= this.graceUntilMs) return "failed";
    if (this.liveness === "late") return "suspect";
    if (this.beatStream.level() !== "passing" || this.checkStream.level() !== "passing") return "degraded";
    return "healthy";
  }

  /** Moves to the target status, reporting the change, and sets when the next tick is due. */
  private settle(nowMs: number): Transition | null {
    const to = this.target(nowMs);
    this.refreshWake(to);
    if (to === this.current) return null;
    const from = this.current;
    const reason = this.explain(to, nowMs);
    this.current = to;
    this.sinceMs = nowMs;
    this.reason = reason;
    return { from, to, reason, atMs: nowMs };
  }

  private refreshDeadlines(): void {
    const lastBeatMs = this.detector.lastBeatMs();
    const grace = this.graceUntilMs;
    this.failDeadlineMs = Math.max(
      lastBeatMs === null ? -Infinity : lastBeatMs + this.settings.failureTimeoutMs,
      grace,
    );
    this.suspectDeadlineMs = lastBeatMs === null ? Infinity : Math.max(this.detector.suspectAtMs(), grace);
    this.refreshWake(this.current);
  }

  /**
   * The next time-driven change: the suspect deadline while alive, the lease end until silent, and the
   * grace end while critical checks wait for it. Each is later than the last input's time, because
   * advance() has passed every deadline already due and a grant only moves deadlines later.
   */
  private refreshWake(status: HealthStatus): void {
    let wake = Infinity;
    if (this.liveness === "alive") wake = this.suspectDeadlineMs;
    if (this.liveness !== "silent") wake = Math.min(wake, this.failDeadlineMs);
    if (this.checkStream.level() === "critical" && status !== "failed") {
      wake = Math.min(wake, this.graceUntilMs);
    }
    this.wakeAtMs = wake;
  }

  private overGauge(load: BeatLoad): boolean {
    const gauge = this.settings.overloadedAboveLoad;
    return gauge !== null && load.activeTasks !== undefined && load.activeTasks > gauge * load.capacity;
  }

  private remember(nowMs: number, result: CheckResult): void {
    const detail =
      result.detail.length > MAX_CHECK_DETAIL_LENGTH
        ? result.detail.slice(0, MAX_CHECK_DETAIL_LENGTH)
        : result.detail;
    const recorded: RecordedCheck = { ...result, detail, atMs: nowMs };
    if (this.recentChecks.length < CHECK_HISTORY_LENGTH) this.recentChecks.push(recorded);
    else this.recentChecks[this.nextCheckSlot] = recorded;
    this.nextCheckSlot = (this.nextCheckSlot + 1) % CHECK_HISTORY_LENGTH;
  }

  private lastCheck(): RecordedCheck | undefined {
    const newest = (this.nextCheckSlot + CHECK_HISTORY_LENGTH - 1) % CHECK_HISTORY_LENGTH;
    return this.recentChecks[newest];
  }

  /** Why the agent is moving to `to`; built only on a transition. */
  private explain(to: HealthStatus, nowMs: number): string {
    const { failureTimeoutMs, successBeforePassing, failuresBeforeCritical } = this.settings;
    const lastBeatMs = this.detector.lastBeatMs();
    switch (to) {
      case "failed":
        if (this.liveness !== "silent") {
          return `${this.checkStream.consecutiveFailures()} checks failed in a row: ${this.lastCheck()?.detail ?? ""}`;
        }
        if (lastBeatMs === null) return "no heartbeat by the end of the grace period";
        return `no heartbeat for ${Math.round(nowMs - lastBeatMs)} ms (failure timeout ${failureTimeoutMs} ms)`;
      case "suspect": {
        const phi = this.detector.phi(nowMs).toFixed(1);
        const silenceMs = lastBeatMs === null ? 0 : Math.round(nowMs - lastBeatMs);
        return `heartbeats late: phi ${phi} after ${silenceMs} ms of silence (suspect at ${this.settings.phi.suspectPhi})`;
      }
      case "degraded":
        return this.checkStream.level() !== "passing"
          ? this.explainChecks(successBeforePassing, failuresBeforeCritical)
          : this.explainBeats(successBeforePassing);
      case "healthy":
        return "heartbeats on time and checks passing";
    }
  }

  private explainChecks(successBeforePassing: number, failuresBeforeCritical: number): string {
    const check = this.lastCheck();
    const detail = check?.detail ?? "";
    if (this.checkStream.level() === "critical") {
      return `${this.checkStream.consecutiveFailures()} checks failed in a row, not yet failed: grace period until ${this.graceUntilMs}`;
    }
    if (check === undefined || check.ok === false) {
      return `check failed (${this.checkStream.consecutiveFailures()} of ${failuresBeforeCritical} before failed): ${detail}`;
    }
    if (check.overloaded === true) return `check says overloaded: ${detail}`;
    if (check.slow) return `check slow (${Math.round(check.latencyMs)} ms): ${detail}`;
    return `checks recovering: ${this.checkStream.consecutiveSuccesses()} of ${successBeforePassing} passes`;
  }

  private explainBeats(successBeforePassing: number): string {
    const needed = `healthy after ${successBeforePassing} good beats in a row`;
    switch (this.beatNote) {
      case "resumed":
        return `heartbeats resumed after ${Math.round(this.resumedAfterSilenceMs)} ms of silence; ${needed}`;
      case "overloaded":
        return `reports overloaded; ${needed}`;
      case "over-gauge":
        return `running ${this.lastLoad.activeTasks ?? 0} tasks on capacity ${this.lastLoad.capacity}, above ${this.settings.overloadedAboveLoad ?? 0}x; ${needed}`;
      case "carried-over":
        return `degraded before this leader; ${needed}`;
      case "on-time":
        return `heartbeats recovering: ${this.beatStream.consecutiveSuccesses()} of ${successBeforePassing}`;
    }
  }
}

function streamReport(stream: SignalTrack): StreamReport {
  return {
    level: stream.level(),
    consecutiveSuccesses: stream.consecutiveSuccesses(),
    consecutiveFailures: stream.consecutiveFailures(),
  };
}
