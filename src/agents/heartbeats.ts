/**
 * Heartbeats without log traffic. Any node accepts a beat: the leader hands it straight to its
 * health monitor; a follower gathers the beats of one event-loop turn into one message to the
 * leader on the "agents.beats" channel, and the leader answers them in one message. Nothing is
 * written to the log per beat: the monitor keeps leases in memory and only transitions (and a
 * periodic refresh of last_heartbeat) are replicated.
 *
 * The channel is at most once and lossy, so every forwarded beat has a deadline; a beat that
 * misses it is answered 503 and the agent's SDK retries (on another node if it likes).
 */

import { oncePerTurnOn, type TimerHandle } from "../runtime/clock.js";
import type { ControllerContext } from "../runtime/controllers.js";
import type { NodeId } from "../raft/types.js";
import type { LiveStatus } from "./state.js";

/** The channel beats travel on. */
export const BEATS_CHANNEL = "agents.beats";
/** How long a forwarded beat waits for the leader's answer. */
export const FORWARDED_BEAT_TIMEOUT_MS = 600;
/** Beats one node holds waiting for the leader; beyond it, beats are refused as overloaded. */
export const MAX_PENDING_BEATS = 50_000;
/** Beats in one message. */
export const MAX_BEATS_PER_MESSAGE = 5_000;

/** What a beat says besides "alive". */
export interface BeatLoad {
  readonly activeTasks: number | null;
  readonly draining: boolean | null;
  readonly overloaded: boolean | null;
  /** The task attempts the agent runs, as [task id, attempt] (renews their leases); absent: not reported. */
  readonly running?: readonly RunningAttempt[] | null;
}

/** A task attempt an agent says it runs. */
export type RunningAttempt = readonly [string, number];

/** Most running attempts one beat may list. */
export const MAX_RUNNING_PER_BEAT = 1_000;

/** Hears, on the leader, every beat taken that lists what its agent runs. */
export type RunningListener = (agentId: string, running: readonly RunningAttempt[]) => void;

/** A running attempt that is no longer its agent's (cancelled, moved, timed out), and why. */
export interface RevokedAttempt {
  readonly id: string;
  readonly attempt: number;
  readonly reason: string;
}

/** On any node: which of the attempts an agent says it runs are no longer its own. */
export type RevokedJudge = (agentId: string, running: readonly RunningAttempt[]) => RevokedAttempt[];

/** How a beat was taken. */
export type BeatAnswer =
  | { readonly ok: true; readonly status: LiveStatus; readonly leaseRemainingMs: number }
  | {
      readonly ok: false;
      readonly code: "agent_not_found" | "no_leader" | "timeout" | "overloaded";
      readonly leaderId: NodeId | null;
    };

/** The leader's side: takes a beat now (null when it is not ready to, e.g. still catching up). */
export type BeatTaker = (id: string, load: BeatLoad) => BeatAnswer | null;

/** A beat in a request: [sequence, agent id, active tasks, draining, overloaded, running]. */
type WireBeat = [number, string, number | null, boolean | null, boolean | null, RunningAttempt[] | null];
/** An answer: [sequence, status or error code, lease remaining (ms) or null]. */
type WireAnswer = [number, string, number | null];

interface Pending {
  readonly resolve: (answer: BeatAnswer) => void;
  readonly timer: TimerHandle;
}

/** Passes beats to the leader and answers the beats passed to this node. */
export class BeatRelay {
  private context: ControllerContext | null = null;
  private taker: BeatTaker | null = null;
  private readonly runningListeners = new Set<RunningListener>();
  private judge: RevokedJudge | null = null;
  private readonly pending = new Map<number, Pending>();
  private outbox: WireBeat[] = [];
  private outboxLeader: NodeId | null = null;
  private sequence = 0;
  private flushSoon: (() => void) | null = null;
  private stopListening: (() => void) | null = null;

  /** Starts relaying on this node (a service: every node runs one). */
  start(context: ControllerContext): void {
    this.context = context;
    this.flushSoon = oncePerTurnOn(context.clock, () => this.flush());
    this.stopListening = context.listen(BEATS_CHANNEL, (from, payload) => this.onMessage(from, payload));
  }

  stop(): void {
    this.stopListening?.();
    this.stopListening = null;
    for (const [sequence, pending] of this.pending) {
      this.context?.clock.clearTimeout(pending.timer);
      this.pending.delete(sequence);
      pending.resolve({ ok: false, code: "no_leader", leaderId: null });
    }
    this.context = null;
  }

  /** The leader's health controller takes beats while it runs (null: it stopped). */
  setTaker(taker: BeatTaker | null): void {
    this.taker = taker;
  }

  /** On the leader: hears the running attempts of every beat taken (the tasks module's leases). */
  onRunning(listener: RunningListener): () => void {
    this.runningListeners.add(listener);
    return () => this.runningListeners.delete(listener);
  }

  /** On every node: the tasks module says which running attempts a beat's answer revokes. */
  judgeRunning(judge: RevokedJudge): () => void {
    this.judge = judge;
    return () => {
      if (this.judge === judge) this.judge = null;
    };
  }

  /** The attempts of `running` no longer `agentId`'s, as this node knows (none without a judge). */
  revoked(agentId: string, running: readonly RunningAttempt[]): RevokedAttempt[] {
    return this.judge?.(agentId, running) ?? [];
  }

  /** The leader takes a beat: the monitor first, then whoever follows running attempts. */
  private takeHere(id: string, load: BeatLoad): BeatAnswer | null {
    const answer = this.taker?.(id, load) ?? null;
    const running = load.running;
    if (answer?.ok === true && running !== undefined && running !== null)
      for (const listener of this.runningListeners) listener(id, running);
    return answer;
  }

  /** Takes one beat from an agent that reached this node. */
  beat(id: string, load: BeatLoad): Promise<BeatAnswer> {
    return new Promise((resolve) => this.take(id, load, resolve));
  }

  /** Takes one beat; `done` hears the answer (at once, or when the leader answers or the deadline passes). */
  take(id: string, load: BeatLoad, done: (answer: BeatAnswer) => void): void {
    const context = this.context;
    if (context === null) return done({ ok: false, code: "no_leader", leaderId: null });
    const leader = context.view.leaderId();
    if (leader === context.view.id) {
      const answer = this.takeHere(id, load);
      return done(answer ?? { ok: false, code: "no_leader", leaderId: leader });
    }
    if (leader === null) return done({ ok: false, code: "no_leader", leaderId: null });
    if (this.pending.size >= MAX_PENDING_BEATS)
      return done({ ok: false, code: "overloaded", leaderId: leader });
    this.forward(context, leader, id, load, done);
  }

  private forward(
    context: ControllerContext,
    leader: NodeId,
    id: string,
    load: BeatLoad,
    resolve: (answer: BeatAnswer) => void,
  ): void {
    if (this.outboxLeader !== leader) this.flush();
    this.outboxLeader = leader;
    const sequence = ++this.sequence;
    const timer = context.clock.setTimeout(() => {
      if (!this.pending.delete(sequence)) return;
      resolve({ ok: false, code: "timeout", leaderId: leader });
    }, FORWARDED_BEAT_TIMEOUT_MS);
    this.pending.set(sequence, { resolve, timer });
    this.outbox.push([
      sequence,
      id,
      load.activeTasks,
      load.draining,
      load.overloaded,
      load.running === undefined || load.running === null ? null : [...load.running],
    ]);
    if (this.outbox.length >= MAX_BEATS_PER_MESSAGE) this.flush();
    else this.flushSoon?.();
  }

  /** Sends the turn's beats to the leader in one message. */
  private flush(): void {
    const leader = this.outboxLeader;
    if (this.outbox.length === 0 || leader === null || this.context === null) return;
    const beats = this.outbox;
    this.outbox = [];
    this.context.sendToPeer(leader, BEATS_CHANNEL, JSON.stringify({ beats }));
  }

  private onMessage(from: NodeId, payload: string): void {
    let message: unknown;
    try {
      message = JSON.parse(payload);
    } catch {
      return;
    }
    if (typeof message !== "object" || message === null) return;
    if (Object.hasOwn(message, "beats")) this.answer(from, (message as { beats: unknown }).beats);
    else if (Object.hasOwn(message, "answers")) this.settle((message as { answers: unknown }).answers);
  }

  /** On the leader: takes forwarded beats and answers them together. */
  private answer(from: NodeId, beats: unknown): void {
    const context = this.context;
    if (context === null || !Array.isArray(beats) || beats.length > MAX_BEATS_PER_MESSAGE) return;
    const answers: WireAnswer[] = [];
    for (const beat of beats) {
      if (!isWireBeat(beat)) continue;
      const [sequence, id, activeTasks, draining, overloaded, running] = beat;
      const answer = context.view.isLeader()
        ? this.takeHere(id, { activeTasks, draining, overloaded, running: running ?? null })
        : null;
      if (answer === null || answer === undefined) answers.push([sequence, "no_leader", null]);
      else if (answer.ok) answers.push([sequence, answer.status, answer.leaseRemainingMs]);
      else answers.push([sequence, answer.code, null]);
    }
    if (answers.length > 0) context.sendToPeer(from, BEATS_CHANNEL, JSON.stringify({ answers }));
  }

  /** On a follower: hands each answer to the beat waiting for it. */
  private settle(answers: unknown): void {
    const context = this.context;
    if (context === null || !Array.isArray(answers)) return;
    for (const item of answers) {
      if (!isWireAnswer(item)) continue;
      const [sequence, outcome, leaseRemainingMs] = item;
      const pending = this.pending.get(sequence);
      if (pending === undefined) continue;
      this.pending.delete(sequence);
      context.clock.clearTimeout(pending.timer);
      pending.resolve(toAnswer(outcome, leaseRemainingMs, context.view.leaderId()));
    }
  }
}

const LIVE: readonly string[] = ["healthy", "degraded", "suspect", "failed"];
const ERRORS: readonly string[] = ["agent_not_found", "no_leader", "timeout", "overloaded"];

function toAnswer(outcome: string, leaseRemainingMs: number | null, leaderId: NodeId | null): BeatAnswer {
  if (LIVE.includes(outcome) && leaseRemainingMs !== null)
    return { ok: true, status: outcome as LiveStatus, leaseRemainingMs };
  const code = ERRORS.includes(outcome) ? (outcome as "agent_not_found") : "no_leader";
  return { ok: false, code, leaderId };
}

function isWireBeat(value: unknown): value is WireBeat {
  return (
    Array.isArray(value) &&
    value.length === 6 &&
    (value[5] === null || isRunningList(value[5])) &&
    Number.isSafeInteger(value[0]) &&
    typeof value[1] === "string" &&
    value[1].length <= 64 &&
    (value[2] === null || (Number.isSafeInteger(value[2]) && (value[2] as number) >= 0)) &&
    (value[3] === null || typeof value[3] === "boolean") &&
    (value[4] === null || typeof value[4] === "boolean")
  );
}

function isRunningList(value: unknown): value is RunningAttempt[] {
  return (
    Array.isArray(value) &&
    value.length <= MAX_RUNNING_PER_BEAT &&
    value.every(
      (item) =>
        Array.isArray(item) &&
        item.length === 2 &&
        typeof item[0] === "string" &&
        item[0].length <= 64 &&
        Number.isSafeInteger(item[1]),
    )
  );
}

function isWireAnswer(value: unknown): value is WireAnswer {
  return (
    Array.isArray(value) &&
    value.length === 3 &&
    Number.isSafeInteger(value[0]) &&
    typeof value[1] === "string" &&
    (value[2] === null || Number.isFinite(value[2]))
  );
}
