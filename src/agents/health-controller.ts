/**
 * The leader's health controller: it keeps every agent's lease and health in memory (a
 * HealthMonitor), takes the beats the relay hands it, and replicates only what changed:
 *
 *   - transitions (healthy -> degraded -> suspect -> failed and back, draining on or off), by
 *     reconciling the monitor's verdict with the replicated status: one agents.health entry per
 *     tick at most, and never two in flight, so a lost proposal is simply proposed again;
 *   - last_heartbeat, by one agents.beats entry at most every health-check interval.
 *
 * A new leader knows nothing of the beats the old one saw, so every agent gets one full failure
 * timeout of this leader's own observation before it can be suspect or failed: a leader change
 * is never an agent failure.
 */

import type { Command } from "../control/index.js";
import type { ControllerContext, Running } from "../runtime/controllers.js";
import type { TimerHandle } from "../runtime/clock.js";
import { beatsCommand, healthCommand, AGENT_LIMITS } from "./commands.js";
import type { HealthReport } from "./health/status.js";
import { HealthMonitor } from "./health/monitor.js";
import type { HealthOverrides, HealthSettings } from "./health/settings.js";
import type { BeatAnswer, BeatLoad, BeatRelay } from "./heartbeats.js";
import type { ActiveChecks } from "./active-checks.js";
import type { Agent, AgentsState, LiveStatus } from "./state.js";

/** Changes in one agents.health or agents.beats entry: each applies in well under 50 ms on every node. */
const ENTRY_CHANGES = 500;

/** How the controller judges agents and how often it acts. */
export interface HealthControllerOptions {
  /** The defaults every agent is judged by (per-agent overrides come from its registration). */
  readonly health: HealthSettings;
  /** How often last_heartbeat is refreshed in the log, and how often active checks run. */
  readonly healthCheckIntervalMs: number;
  /** How often the monitor is ticked and transitions reconciled. */
  readonly tickMs: number;
  /** Deliberately broken behaviour, so the simulator can show its checkers catch it. */
  readonly bugs?: AgentBugs;
}

/** Bugs the agents simulation must catch. */
export interface AgentBugs {
  /** A new leader judges agents at once instead of granting them a full failure timeout. */
  readonly skipLeaderGrace?: boolean;
}

/** The running controller's face to the routes (the leader's health reports). */
export interface HealthObserver {
  report(id: string): HealthReport | null;
}

/** Starts the health controller on a new leader. */
export function startHealthController(
  context: ControllerContext,
  state: () => AgentsState,
  relay: BeatRelay,
  checks: ActiveChecks | null,
  options: HealthControllerOptions,
  publish: (observer: HealthObserver | null) => void,
): Running {
  const controller = new HealthController(context, state, checks, options);
  relay.setTaker((id, load) => controller.takeBeat(id, load));
  publish(controller);
  return {
    stop() {
      relay.setTaker(null);
      publish(null);
      controller.stop();
    },
  };
}

class HealthController implements HealthObserver {
  private readonly monitor: HealthMonitor;
  private membershipVersion = -1;
  /** Why each agent's monitor status is what it is (from the transition that made it so). */
  private readonly reasons = new Map<string, string>();
  /** Draining as the agents last said it, until it is replicated. */
  private readonly draining = new Map<string, boolean>();
  /** When this leader last heard from each agent. */
  private readonly lastBeats = new Map<string, number>();
  private healthInFlight = false;
  private beatsInFlight = false;
  private lastBeatsFlushMs: number;
  private timer: TimerHandle | null = null;
  /** The wait before the next entry of a refresh round. */
  private beatsTimer: TimerHandle | null = null;
  /** Entries the current refresh round was cut into, to spread them over the interval. */
  private roundEntries = 1;
  private stopped = false;
  private readonly stopChecks: (() => void) | null;

  constructor(
    private readonly context: ControllerContext,
    private readonly state: () => AgentsState,
    checks: ActiveChecks | null,
    private readonly options: HealthControllerOptions,
  ) {
    this.monitor = new HealthMonitor({ defaults: options.health, maxAgents: AGENT_LIMITS.agents });
    this.lastBeatsFlushMs = context.clock.now();
    this.syncMembership();
    this.stopChecks =
      checks?.start(
        () => this.state().all(),
        (id, result) => {
          const transition = this.monitor.checkResult(id, this.context.clock.now(), result);
          if (transition !== null) this.reasons.set(id, transition.reason);
        },
      ) ?? null;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.context.clock.clearTimeout(this.timer);
    if (this.beatsTimer !== null) this.context.clock.clearTimeout(this.beatsTimer);
    this.stopChecks?.();
  }

  report(id: string): HealthReport | null {
    return this.monitor.snapshot(id, this.context.clock.now());
  }

  /** A beat, from this node's routes or relayed by a follower. */
  takeBeat(id: string, load: BeatLoad): BeatAnswer {
    const agent = this.state().get(id);
    if (agent === undefined) return { ok: false, code: "agent_not_found", leaderId: this.context.view.id };
    const now = this.context.clock.now();
    if (!this.monitor.has(id)) this.watch(agent, now, "healthy");
    const transition = this.monitor.beat(id, now, {
      capacity: agent.capacity,
      ...(load.activeTasks === null ? {} : { activeTasks: load.activeTasks }),
      ...(load.overloaded === null ? {} : { overloaded: load.overloaded }),
    });
    if (transition !== null) this.reasons.set(id, transition.reason);
    if (load.draining !== null && load.draining !== agent.draining) this.draining.set(id, load.draining);
    else this.draining.delete(id);
    this.lastBeats.set(id, now);
    const status = this.monitor.statusOf(id) ?? agent.status;
    const leaseEnds = this.monitor.leaseEndsAt(id) ?? now;
    return { ok: true, status, leaseRemainingMs: Math.max(0, leaseEnds - now) };
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.context.clock.setTimeout(() => this.tick(), this.options.tickMs);
  }

  private tick(): void {
    this.timer = null;
    if (this.stopped) return;
    const now = this.context.clock.now();
    this.syncMembership();
    for (const transition of this.monitor.tick(now)) this.reasons.set(transition.agentId, transition.reason);
    this.reconcile();
    if (now - this.lastBeatsFlushMs >= this.options.healthCheckIntervalMs) this.refreshLastBeats(now);
    this.schedule();
  }

  /** Watches agents registered since the last look, and forgets removed ones. */
  private syncMembership(): void {
    const state = this.state();
    if (state.membershipVersion === this.membershipVersion) return;
    this.membershipVersion = state.membershipVersion;
    const now = this.context.clock.now();
    for (const agent of state.all()) if (!this.monitor.has(agent.id)) this.watch(agent, now, agent.status);
    if (this.monitor.size === state.size) return;
    for (const id of [...this.monitor.ids()]) {
      if (state.get(id) !== undefined) continue;
      this.monitor.remove(id);
      this.reasons.delete(id);
      this.draining.delete(id);
      this.lastBeats.delete(id);
    }
  }

  /** Starts watching `agent`, with one full failure timeout of grace from now. */
  private watch(agent: Agent, now: number, status: LiveStatus): void {
    const overrides: { -readonly [K in keyof HealthOverrides]: HealthOverrides[K] } = {};
    if (agent.healthCheck.successBeforePassing !== null)
      overrides.successBeforePassing = agent.healthCheck.successBeforePassing;
    if (agent.healthCheck.failuresBeforeCritical !== null)
      overrides.failuresBeforeCritical = agent.healthCheck.failuresBeforeCritical;
    const grace = this.options.bugs?.skipLeaderGrace === true ? 0 : this.options.health.failureTimeoutMs;
    this.monitor.add(agent.id, overrides, status, now + grace, {
      sinceMs: agent.statusSinceMs,
      reason: agent.statusReason,
    });
  }

  /** Proposes the transitions the log does not have yet (one entry in flight at a time). */
  private reconcile(): void {
    if (this.healthInFlight) return;
    const state = this.state();
    const changes: { id: string; status: LiveStatus; reason: string; draining?: boolean }[] = [];
    for (const agent of state.all()) {
      const status = this.monitor.statusOf(agent.id);
      const draining = this.draining.get(agent.id);
      if (draining === agent.draining) this.draining.delete(agent.id);
      const statusMoved = status !== null && status !== agent.status;
      const drainingMoved = draining !== undefined && draining !== agent.draining;
      if (!statusMoved && !drainingMoved) continue;
      changes.push({
        id: agent.id,
        status: status ?? agent.status,
        reason: this.reasons.get(agent.id) ?? agent.statusReason,
        ...(drainingMoved ? { draining } : {}),
      });
      if (changes.length >= ENTRY_CHANGES) break;
    }
    if (changes.length === 0) return;
    this.propose({ kind: healthCommand.kind, body: { changes } }, (done) => (this.healthInFlight = !done));
  }

  /**
   * Replicates when each agent was last heard from, for the agents heard since the last refresh:
   * a round every health-check interval, in entries of ENTRY_CHANGES chained one after another and
   * spread over half the interval (a small entry applies in a few milliseconds on every node;
   * 5,000 changes in one held each node's loop for a quarter of a second). A beat taken is
   * removed from `lastBeats` as it is sent, so every agent gets its turn and the next beat puts
   * it back.
   */
  private refreshLastBeats(now: number): void {
    if (this.beatsInFlight) return;
    // A round still waiting between its entries is taken over by this one, which covers it.
    if (this.beatsTimer !== null) this.context.clock.clearTimeout(this.beatsTimer);
    this.beatsTimer = null;
    this.lastBeatsFlushMs = now;
    // One round covers the agents heard from until now; those that beat meanwhile go back to the
    // end of the map and wait for the next round (else busy agents would keep the chain going).
    this.roundLeft = this.lastBeats.size;
    this.roundEntries = Math.max(1, Math.ceil(this.roundLeft / ENTRY_CHANGES));
    this.sendLastBeats();
  }

  /** Agents the current refresh round still has to look at. */
  private roundLeft = 0;

  private sendLastBeats(): void {
    if (this.stopped) return;
    const state = this.state();
    const beats: { id: string; at: number }[] = [];
    for (const [id, at] of this.lastBeats) {
      if (this.roundLeft <= 0) break;
      this.roundLeft--;
      this.lastBeats.delete(id);
      const agent = state.get(id);
      if (agent !== undefined && (agent.lastHeartbeatMs ?? -1) < at) beats.push({ id, at });
      if (beats.length >= ENTRY_CHANGES) break;
    }
    if (beats.length === 0) return;
    this.beatsInFlight = true;
    this.context.submit({ kind: beatsCommand.kind, body: { beats } }, (result) => {
      this.beatsInFlight = false;
      if (!result.ok) {
        // Lost with the leadership, or refused: these agents wait for their next beat.
        this.context.log.debug({ error: result.error.message }, "last_heartbeat refresh not committed");
        return;
      }
      if (this.stopped || this.roundLeft <= 0) return;
      // The round's entries are spread over half the interval rather than sent back to back: each
      // takes every node's loop for a few milliseconds, and twenty in a row held the beats
      // answered meanwhile (bench:agents, 10,000 agents: heartbeat p99 ~160-250 ms).
      const pace = Math.floor(this.options.healthCheckIntervalMs / 2 / this.roundEntries);
      this.beatsTimer = this.context.clock.setTimeout(() => {
        this.beatsTimer = null;
        this.sendLastBeats();
      }, pace);
    });
  }

  private propose(command: Command, inFlight: (done: boolean) => void): void {
    inFlight(false);
    this.context.submit(command, (result) => {
      inFlight(true);
      if (!result.ok && !this.stopped)
        this.context.log.debug({ kind: command.kind, error: result.error.message }, "agents proposal failed");
    });
  }
}
