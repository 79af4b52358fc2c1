/**
 * `juno start`: runs one node in this very process (no wrapper), so signals from Kubernetes or a
 * shell reach it. SIGTERM and SIGINT leave gracefully: a leader hands leadership to a caught-up
 * peer first, then the HTTP server, the transport and the store close.
 */

import {
  ConfigError,
  checkExposure,
  formatAddress,
  helpText,
  parseNodeConfig,
  redactedConfig,
  wantsHelp,
  type NodeConfig,
} from "../config/index.js";
import { loadTokensFile } from "../access/index.js";
import { networkChecks } from "../agents/index.js";
import { discoveryProviders } from "../discovery/index.js";
import { discoveryOptions } from "./discovery-options.js";
import type { MemberAddresses } from "../cluster/index.js";
import { SnapshotError } from "../control/index.js";
import { nodeModules } from "../modules.js";
import type { NodeId } from "../raft/index.js";
import { SYSTEM_CLOCK } from "../runtime/clock.js";
import { JunoNode } from "../runtime/node.js";
import { buildServer } from "../server/app.js";
import type { NodeStorage } from "../runtime/storage.js";
import { StoreOpenError, openStore } from "../store/index.js";
import { PeerTransport, type PeerMessage } from "../transport/index.js";
import { reloadServerTls } from "../server/tls.js";
import {
  describeNodeTls,
  expiringSoon,
  loadNodeTls,
  peerTlsOf,
  serverTlsOf,
  type NodeTlsMaterial,
} from "../tls/node-tls.js";
import { watchTlsFiles } from "../tls/reload.js";
import { createLogger } from "../util/logger.js";
import { monitorEventLoop } from "../util/loop-monitor.js";

/** A started node and how to stop it. */
export interface RunningNode {
  readonly node: JunoNode;
  readonly httpAddress: string;
  readonly raftAddress: string;
  /** Leaves gracefully and closes everything. */
  stop(): Promise<void>;
}

/** Parses arguments and environment, then starts the node; returns an exit code on refusal. */
export async function startCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<number | RunningNode> {
  if (wantsHelp(argv)) {
    process.stdout.write(helpText());
    return 0;
  }
  const config = parseNodeConfig(argv, env);
  if (config instanceof ConfigError) return refuse(config);
  const exposure = checkExposure(config);
  if (exposure !== null) return refuse(exposure);
  // The certificates are read and checked before anything binds: a bad file stops the start here.
  const tls = loadNodeTls(config);
  if (tls instanceof ConfigError) return refuse(tls);
  try {
    return await runNode(config, tls);
  } catch (error) {
    if (error instanceof ConfigError) return refuse(error);
    if (error instanceof StoreOpenError) {
      process.stderr.write(`juno start: error [storage_unavailable]: ${error.message}\n`);
      return 2;
    }
    // A node never runs on state it cannot trust: say why, and leave the data as it is.
    if (!(error instanceof SnapshotError)) throw error;
    process.stderr.write(
      `juno start: error [snapshot_${error.code}]: the stored snapshot in ${config.dataDir} cannot be restored: ${error.message}\n`,
    );
    return 2;
  }
}

function refuse(error: ConfigError): number {
  process.stderr.write(`juno: error [${error.code}]: ${error.message}\n`);
  return 2;
}

/**
 * Starts a node from a checked configuration, with its TLS files as read by startCommand (read
 * here when not given; a refused file then throws its ConfigError).
 */
export async function runNode(config: NodeConfig, tlsMaterial?: NodeTlsMaterial): Promise<RunningNode> {
  const tls = tlsMaterial ?? loadNodeTls(config);
  if (tls instanceof ConfigError) throw tls;
  // Read before anything binds, like the certificates: a bad file stops the start.
  const fileTokens = loadTokensFile(config.tokensFile);
  if (fileTokens instanceof ConfigError) throw fileTokens;
  const root = createLogger({
    level: config.logLevel,
    format: config.logFormat,
    base: { node: config.id },
  });
  const knownAddresses = new Map<NodeId, MemberAddresses>(
    config.peers.map((peer) => [peer.id, { raft: formatAddress(peer.raftAddress), http: null }]),
  );
  let deliver: (message: PeerMessage) => void = () => undefined;
  let metricsText: () => Promise<string> = () => Promise.resolve("");
  const transport = new PeerTransport({
    nodeId: config.id,
    listenAddress: formatAddress(config.raftAddress),
    onMessage: (message) => deliver(message),
    clusterSecret: config.clusterSecret?.reveal() ?? null,
    tls: peerTlsOf(tls),
    logger: root,
    // The seed's `curl :9090/metrics/consensus`: the Raft metrics, on the Raft port.
    serveHttp: async (path) => {
      if (path !== "/metrics/consensus")
        return { status: 404, contentType: "text/plain", body: "not found\n" };
      const text = await metricsText();
      const consensus = text
        .split("\n")
        .filter((line) =>
          /^(# (HELP|TYPE) )?juno_(raft|proposals|elections|leader|applied|store|ready|snapshots)/.test(line),
        );
      return { status: 200, contentType: "text/plain; version=0.0.4", body: `${consensus.join("\n")}\n` };
    },
  });
  const raftPort = await transport.listen();
  const raftAddress = formatAddress({ host: advertisedHost(config), port: raftPort });
  // Built once up front so settings that make no sense stop the start, not a later election.
  const discovery = await discoveryProviders(discoveryOptions(config));
  const { registry, cluster } = nodeModules(
    {
      self: config.id,
      advertise: { raft: raftAddress, http: formatAddress(config.advertiseHttpAddress) },
      known: knownAddresses,
      onPeersChanged: (peers) => transport.updatePeers(peers),
    },
    [],
    {
      heartbeatIntervalMs: config.agentHeartbeatIntervalMs,
      failureTimeoutMs: config.failureDetectionTimeoutMs,
      healthCheckIntervalMs: config.healthCheckIntervalMs,
      router: { breakerThreshold: config.circuitBreakerThreshold },
      deliverySecret: config.clusterSecret?.reveal() ?? null,
      discovery: discovery === null ? null : { provider: discovery },
      checks: networkChecks({
        intervalMs: config.healthCheckIntervalMs,
        timeoutMs: config.healthCheckTimeoutMs,
        maxInFlight: 32,
        timers: SYSTEM_CLOCK,
        now: () => Date.now(),
      }),
    },
    {
      settings: {
        breakerThreshold: config.circuitBreakerThreshold,
        defaultMaxAttempts: config.recoveryRetryAttempts,
        pickupTimeoutMs: config.taskMigrationTimeoutMs,
        agingMs: config.taskAgingMs,
        teamWeights: config.taskTeamWeights.map(([team, weight]) => [team, weight] as [string, number]),
        teamQueueLimit: config.taskTeamQueueLimit,
        teamRunningLimit: config.taskTeamRunningLimit,
        retainedTasks: config.taskRetention,
      },
      push: {
        timeoutMs: config.taskDeliveryTimeoutMs,
        breakerThreshold: config.circuitBreakerThreshold,
        signingSecret: config.clusterSecret?.reveal() ?? null,
      },
    },
    {
      settings: {
        teamStepLimits: config.workflowTeamStepLimits.map(
          ([team, limit]) => [team, limit] as [string, number],
        ),
        defaultTeamStepLimit: config.workflowTeamStepLimit === 0 ? null : config.workflowTeamStepLimit,
        retainedRuns: config.workflowRetention,
      },
    },
    { fileTokens },
  );
  let store: NodeStorage;
  try {
    store = await openStore(registry, {
      storage: config.storage,
      dataDir: config.dataDir,
      nodeId: config.id,
      logger: root,
    });
  } catch (error) {
    await transport.close();
    throw error;
  }
  const node = new JunoNode({
    id: config.id,
    registry,
    storage: store,
    transport: {
      send: (messages) => transport.send(messages),
      onMessage: (handler) => {
        deliver = handler;
      },
      flush: () => transport.flush(),
    },
    founders: config.join ? null : config.peers.map((peer) => peer.id),
    raft: config.raftOptions,
    tickMs: config.tickMs,
    maxPendingRequests: config.maxPendingRequests,
    logger: root,
  });
  const app = await buildServer({
    node,
    apiToken: config.apiToken?.reveal() ?? null,
    httpAddressOf: (id) => cluster.directory.addressesOf(id).http,
    storeTimings: () => store.timings,
    logger: config.logLevel === "silent" ? false : root,
    rateLimit: { max: config.rateLimit },
    tls: serverTlsOf(tls),
    transportStats: () => transport.stats(),
  });
  metricsText = async () => (await app.inject({ method: "GET", url: "/metrics" })).body;
  node.start();
  const stopMonitor = monitorEventLoop(root.child({ component: "loop" }));
  const listening = await app.listen({
    host: config.httpAddress.host.replace(/^\[|\]$/g, ""),
    port: config.httpAddress.port,
  });
  const httpAddress = listening.replace(/^https?:\/\//, "");
  root.info({ http: httpAddress, raft: raftAddress, config: redactedConfig(config) }, "started");
  const tlsWatch = watchNodeTls(config, tls, app, transport, root);

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      root.info({}, "stopping");
      stopMonitor();
      tlsWatch?.stop();
      await node.shutdown();
      await app.close();
      await transport.close();
      await store.close();
      root.info({}, "stopped");
      root.flush();
    })();
    return stopping;
  };
  return { node, httpAddress, raftAddress, stop };
}

/** A certificate expiring within this long is warned about at start and on every reload. */
const EXPIRY_WARNING_MS = 14 * 24 * 60 * 60 * 1000;

/**
 * Logs what the node serves TLS with, and reloads it on SIGHUP and when the files change; null
 * when the node serves no TLS at all.
 */
function watchNodeTls(
  config: NodeConfig,
  tls: NodeTlsMaterial,
  app: Awaited<ReturnType<typeof buildServer>>,
  transport: PeerTransport,
  root: ReturnType<typeof createLogger>,
): { stop(): void } | null {
  const log = root.child({ component: "tls" });
  const warnExpiring = (material: NodeTlsMaterial): void => {
    for (const { which, days } of expiringSoon(material, new Date(), EXPIRY_WARNING_MS))
      log.warn({ which, days }, `the ${which} certificate expires in ${days} days`);
  };
  if (tls.api === null && tls.peer === null) return null;
  log.info(describeNodeTls(tls), "TLS");
  warnExpiring(tls);
  return watchTlsFiles(
    config,
    (material) => {
      const server = serverTlsOf(material);
      const peer = peerTlsOf(material);
      if (server !== null) reloadServerTls(app, server);
      if (peer !== null) transport.setTls(peer);
      warnExpiring(material);
    },
    log,
  );
}

/** The host peers should dial for our Raft port: the advertised HTTP host when Raft listens on a wildcard. */
function advertisedHost(config: NodeConfig): string {
  const host = config.raftAddress.host;
  if (host === "0.0.0.0" || host === "::" || host === "[::]") return config.advertiseHttpAddress.host;
  return host;
}
