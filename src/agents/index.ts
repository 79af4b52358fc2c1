/**
 * The agents module: the replicated registry of agents and their health (state, commands, the
 * seed's agents table), the heartbeat relay on every node, the leader's health controller with
 * its active checks, and the /agents routes.
 */

import type { Controller } from "../runtime/controllers.js";
import type { DomainModule } from "../runtime/domain-module.js";
import type { ActiveChecks } from "./active-checks.js";
import { DEFAULT_HEALTH_SETTINGS, resolveHealthSettings } from "./health/settings.js";
import { startHealthController, type AgentBugs, type HealthObserver } from "./health-controller.js";
import { BeatRelay } from "./heartbeats.js";
import { discoveryController } from "./discovery-controller.js";
import { readAgentCard, type DiscoveryProvider } from "../discovery/index.js";
import { cardRefreshController } from "./card-refresh.js";
import { agentPerformance, registerAgentMetrics } from "./metrics.js";
import { agentsState } from "./module.js";
import { AgentRouter, DEFAULT_ROUTER_OPTIONS, type RouterOptions } from "./router.js";
import { agentRoutes, type AgentCard } from "./routes.js";
import type { AgentsState } from "./state.js";
import { deliveryKey } from "../faults/delivery-signature.js";

export { agentsState } from "./module.js";
export { networkChecks, type ActiveChecks } from "./active-checks.js";
export * from "./commands.js";
export * from "./state.js";
export type { AgentCard } from "./routes.js";

/** How long reading one agent card may take. */
const CARD_TIMEOUT_MS = 5_000;
/** How often registered agents' cards are read again by default. */
const CARD_REFRESH_MS = 300_000;

/** How this node's agents module is set up. */
export interface AgentsOptions {
  /** How often agents are told to beat. */
  readonly heartbeatIntervalMs?: number;
  /** An agent unheard for this long is failed (FAILURE_DETECTION_TIMEOUT). */
  readonly failureTimeoutMs?: number;
  /** How often active checks run and last_heartbeat is refreshed in the log (HEALTH_CHECK_INTERVAL). */
  readonly healthCheckIntervalMs?: number;
  /** Active checks (null: none, as in the simulator). */
  readonly checks?: ActiveChecks | null;
  /** Reads A2A agent cards at registration and refreshes them (default: over HTTP; null: refused). */
  readonly readCard?: ((url: string) => Promise<AgentCard>) | null;
  /** How often the leader reads registered agents' cards again. */
  readonly cardRefreshMs?: number;
  /** How /route/{skill}/{path} proxies (breaker threshold, timeouts). */
  readonly router?: Partial<RouterOptions>;
  /** Deliberately broken behaviour (the simulator's broken variants). */
  readonly bugs?: AgentBugs;
  /** A discovery provider the leader runs and syncs into the registry (SERVICE_DISCOVERY_TYPE). */
  readonly discovery?: { readonly provider: () => DiscoveryProvider; readonly removeAfterMs?: number } | null;
  /** The cluster secret push agents' delivery keys derive from (null: pushes are not signed). */
  readonly deliverySecret?: string | null;
}

/** The agents module, whole, and the relay its routes and controllers share. */
export interface AgentsModule extends DomainModule<AgentsState> {
  readonly relay: BeatRelay;
}

/** Builds this node's agents module. */
export function createAgentsModule(options: AgentsOptions = {}): AgentsModule {
  const health = resolveHealthSettings({
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? DEFAULT_HEALTH_SETTINGS.heartbeatIntervalMs,
    failureTimeoutMs: options.failureTimeoutMs ?? DEFAULT_HEALTH_SETTINGS.failureTimeoutMs,
  });
  const healthCheckIntervalMs = options.healthCheckIntervalMs ?? 10_000;
  const relay = new BeatRelay();
  const readCard =
    options.readCard === undefined
      ? (url: string) => readAgentCard(url, { timeoutMs: CARD_TIMEOUT_MS })
      : options.readCard;
  let observer: HealthObserver | null = null;
  const healthController: Controller = {
    name: "agents.health",
    start: (context) =>
      startHealthController(
        context,
        () => context.view.state(agentsState),
        relay,
        options.checks ?? null,
        {
          health,
          healthCheckIntervalMs,
          // Ticks often enough that a failure is declared within a small part of an interval late.
          tickMs: Math.max(10, Math.min(250, Math.floor(health.heartbeatIntervalMs / 4))),
          ...(options.bugs === undefined ? {} : { bugs: options.bugs }),
        },
        (published) => (observer = published),
      ),
  };
  const relayService: Controller = {
    name: "agents.relay",
    start(context) {
      relay.start(context);
      return { stop: () => relay.stop() };
    },
  };
  return {
    ...agentsState,
    relay,
    metrics: registerAgentMetrics,
    performance: agentPerformance,
    routes: agentRoutes({
      relay,
      observer: () => observer,
      heartbeatIntervalMs: health.heartbeatIntervalMs,
      failureTimeoutMs: health.failureTimeoutMs,
      readCard,
      router: new AgentRouter({ ...DEFAULT_ROUTER_OPTIONS, ...options.router }),
      deliveryKey:
        options.deliverySecret === undefined || options.deliverySecret === null
          ? null
          : (agentId) => deliveryKey(options.deliverySecret!, agentId),
    }),
    controllers: [
      healthController,
      ...(readCard === null
        ? []
        : [cardRefreshController(readCard, options.cardRefreshMs ?? CARD_REFRESH_MS)]),
      ...(options.discovery == null
        ? []
        : [
            discoveryController(relay, {
              ...options.discovery,
              heartbeatIntervalMs: health.heartbeatIntervalMs,
            }),
          ]),
    ],
    services: [relayService],
  };
}
