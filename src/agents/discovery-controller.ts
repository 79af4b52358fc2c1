/**
 * Discovery on the leader: a provider (DNS SRV, Consul, Kubernetes; src/discovery) reports full
 * snapshots of the agents it sees; DiscoverySync turns each into upserts and removals with blip
 * protection (an agent goes only after being missing for a while, an error removes nothing); this
 * controller proposes them as agents.sync entries, one in flight at a time.
 *
 * Discovered agents do not beat to juno themselves. While their provider says they are healthy
 * (or says nothing about health), the controller beats for them every heartbeat interval, so the
 * health monitor judges them like any agent: a provider that says unhealthy stops the beats and
 * the agent goes suspect, then failed; active checks (a TCP connect by default) still apply.
 */

import { timeOrderedUuid } from "../util/ids.js";
import type { Controller, ControllerContext, Running } from "../runtime/controllers.js";
import type { TimerHandle } from "../runtime/clock.js";
import {
  DiscoverySync,
  type DiscoveredAgent,
  type DiscoveryProvider,
  type RegisteredAgent,
} from "../discovery/index.js";
import { AGENT_LIMITS, syncCommand, type Registration } from "./commands.js";
import type { BeatRelay } from "./heartbeats.js";
import { agentsState } from "./module.js";
import type { Agent } from "./state.js";

/** How discovery runs. */
export interface DiscoveryControllerOptions {
  /** Builds the provider (a new one each time this node becomes leader). */
  readonly provider: () => DiscoveryProvider;
  /** How often discovered agents that their provider calls healthy are beaten for. */
  readonly heartbeatIntervalMs: number;
  /** How long a discovered agent may be missing before it is removed. */
  readonly removeAfterMs?: number;
}

/** The leader-only discovery controller. */
export function discoveryController(relay: BeatRelay, options: DiscoveryControllerOptions): Controller {
  return {
    name: "agents.discovery",
    start: (context) => new DiscoveryRun(context, relay, options),
  };
}

class DiscoveryRun implements Running {
  private readonly sync: DiscoverySync;
  private readonly provider: DiscoveryProvider;
  private readonly running: { stop(): Promise<void> };
  /** The provider's health of each agent it last reported, by source key. */
  private readonly healthy = new Map<string, boolean | null>();
  private latest: {
    agents: readonly DiscoveredAgent[];
    details: Parameters<DiscoverySync["plan"]>[3];
  } | null = null;
  private inFlight = false;
  private timer: TimerHandle | null = null;
  private stopped = false;

  constructor(
    private readonly context: ControllerContext,
    private readonly relay: BeatRelay,
    private readonly options: DiscoveryControllerOptions,
  ) {
    this.sync = new DiscoverySync(
      options.removeAfterMs === undefined ? {} : { removeAfterMs: options.removeAfterMs },
    );
    this.provider = options.provider();
    this.running = this.provider.start({
      onSnapshot: (agents, details) => {
        this.latest = { agents, details };
        for (const agent of agents) this.healthy.set(agent.key, agent.healthy);
        this.apply();
      },
      onError: (error) =>
        context.log.warn({ source: this.provider.source, error: error.message }, "discovery read failed"),
      onInvalid: (problem) => context.log.debug({ ...problem }, "discovered entry skipped"),
    });
    this.scheduleBeats();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.context.clock.clearTimeout(this.timer);
    void this.running.stop();
  }

  /** Plans against the registry as it is now and proposes the plan (the latest snapshot wins). */
  private apply(): void {
    if (this.inFlight || this.stopped || this.latest === null) return;
    const { agents, details } = this.latest;
    this.latest = null;
    const source = this.provider.source;
    const plan = this.sync.plan(agents, this.registered(), this.context.clock.now(), details);
    if (plan.upserts.length === 0 && plan.removals.length === 0) return;
    const upserts = plan.upserts.slice(0, AGENT_LIMITS.batch).map(toRegistration);
    const removals = plan.removals.slice(0, AGENT_LIMITS.batch);
    this.inFlight = true;
    this.context.submit({ kind: syncCommand.kind, body: { source, upserts, removals } }, (result) => {
      this.inFlight = false;
      if (!result.ok) this.context.log.debug({ error: result.error.message }, "discovery sync not committed");
      // What did not fit (or did not commit) is planned again from the next snapshot (providers
      // hand one again at least every republish interval); planning this one again would count
      // its absences twice.
      this.apply();
    });
  }

  /** The registry's agents of this provider's source, as the sync compares them. */
  private *registered(): Iterable<RegisteredAgent> {
    for (const agent of this.context.view.state(agentsState).all()) {
      if (agent.source !== this.provider.source || agent.sourceKey === null) continue;
      yield {
        key: agent.sourceKey,
        name: agent.name,
        endpoint: agent.endpoint,
        team: agent.team,
        skills: agent.skills,
        capacity: agent.capacity,
        weight: agent.weight,
        labels: new Map(agent.labels),
      };
    }
  }

  /** Beats for the discovered agents whose provider does not call them unhealthy. */
  private scheduleBeats(): void {
    if (this.stopped) return;
    this.timer = this.context.clock.setTimeout(() => {
      this.timer = null;
      for (const agent of this.context.view.state(agentsState).all()) {
        if (!this.beatsFor(agent)) continue;
        this.relay.take(agent.id, { activeTasks: null, draining: null, overloaded: null }, ignore);
      }
      this.scheduleBeats();
    }, this.options.heartbeatIntervalMs);
  }

  private beatsFor(agent: Agent): boolean {
    if (agent.source !== this.provider.source || agent.sourceKey === null) return false;
    return this.healthy.get(agent.sourceKey) !== false;
  }
}

function toRegistration(agent: DiscoveredAgent): Registration {
  return {
    id: timeOrderedUuid(),
    name: agent.name,
    endpoint: agent.endpoint,
    team: agent.team,
    skills: [...agent.skills],
    capacity: agent.capacity,
    weight: agent.weight,
    labels: [...agent.labels].slice(0, AGENT_LIMITS.labels),
    metadata: null,
    // Discovered services need not serve /health: a TCP connect to their port is the check.
    health_check: { type: "tcp", url: null, success_before_passing: null, failures_before_critical: null },
    agent_card_url: null,
    source: agent.source,
    source_key: agent.key,
  };
}

function ignore(): void {}
