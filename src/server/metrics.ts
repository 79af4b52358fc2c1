/** Prometheus metrics (prom-client), one registry per server so several nodes can share a process. */

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { NodeView } from "../runtime/view.js";
import type { TransportStats } from "../transport/peer-transport.js";
import type { StoreTimings } from "../runtime/storage.js";

/** The metrics a server exports. */
export interface Metrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  /** Renders the exposition text. */
  render(): Promise<string>;
}

const ROLES = ["follower", "pre_candidate", "candidate", "leader"] as const;

/** Creates the registry: Raft state, replication lag, durations, HTTP latency, and Node's own (event-loop lag). */
export function createMetrics(
  view: NodeView,
  storeTimings?: () => StoreTimings,
  transportStats?: () => TransportStats,
): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node_id: view.id });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  };
  gauge("juno_raft_term", "Current Raft term.", () => view.status().term);
  gauge("juno_raft_commit_index", "Highest index known committed.", () => view.commitIndex());
  gauge("juno_raft_applied_index", "Highest index applied to the state machine.", () => view.appliedIndex());
  gauge("juno_raft_last_index", "Last index in the log.", () => view.status().lastIndex);
  gauge("juno_raft_is_leader", "1 when this node leads.", () => (view.isLeader() ? 1 : 0));
  gauge(
    "juno_store_available",
    "1 while the store can write; 0 while its database is unreachable (nothing is acknowledged).",
    () => (view.storageAvailable() ? 1 : 0),
  );
  new Gauge({
    name: "juno_raft_role",
    help: "1 for the role this node plays.",
    labelNames: ["role"],
    registers: [registry],
    collect() {
      const role = view.status().role;
      for (const each of ROLES) this.set({ role: each }, role === each ? 1 : 0);
    },
  });
  new Gauge({
    name: "juno_raft_follower_lag_entries",
    help: "Entries each follower is behind the leader's last index (leader only).",
    labelNames: ["follower"],
    registers: [registry],
    collect() {
      this.reset();
      const status = view.status();
      for (const p of status.progress)
        if (p.id !== view.id) this.set({ follower: p.id }, Math.max(0, status.lastIndex - p.match));
    },
  });
  const counter = (name: string, help: string, read: () => number): void =>
    counterReading(registry, name, help, read);
  const counters = view.counters();
  counter("juno_proposals_total", "Proposals accepted into the log by this node.", () => counters.proposals);
  counter(
    "juno_proposals_forwarded_total",
    "Client proposals this node forwarded to the leader.",
    () => counters.proposalsForwarded,
  );
  counter("juno_proposals_failed_total", "Proposals this node refused.", () => counters.proposalsFailed);
  counter("juno_elections_total", "Elections this node started.", () => counters.elections);
  counter("juno_leader_changes_total", "Times this node saw a new leader.", () => counters.leaderChanges);
  counter(
    "juno_applied_entries_total",
    "Entries applied to the state machine.",
    () => counters.appliedEntries,
  );
  counter(
    "juno_snapshots_taken_total",
    "Snapshots this node took of its state.",
    () => counters.snapshotsTaken,
  );
  counter(
    "juno_snapshots_installed_total",
    "Snapshots this node installed from the leader.",
    () => counters.snapshotsInstalled,
  );
  gauge(
    "juno_snapshot_bytes",
    "Size of the last snapshot taken or installed.",
    () => counters.lastSnapshotBytes,
  );
  gauge(
    "juno_snapshot_duration_seconds",
    "Wall time the last snapshot took to write or install, across all its slices.",
    () => counters.lastSnapshotMs / 1000,
  );
  const buckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
  const fsync = new Histogram({
    name: "juno_store_write_seconds",
    help: "Duration of one store write (one Ready, including its fsync when it needs one).",
    buckets,
    registers: [registry],
  });
  const apply = new Histogram({
    name: "juno_ready_seconds",
    help: "Duration of applying one Ready's committed entries.",
    buckets,
    registers: [registry],
  });
  view.onChange(() => {
    if (storeTimings !== undefined) fsync.observe(storeTimings().lastWriteMs / 1000);
    apply.observe(counters.lastApplyMs / 1000);
  });
  const httpDuration = new Histogram({
    name: "juno_http_request_seconds",
    help: "HTTP request latency by route.",
    labelNames: ["method", "route", "status"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  if (transportStats !== undefined) peerMetrics(registry, transportStats);
  return { registry, httpDuration, render: () => registry.metrics() };
}

/**
 * The peer transport's refusals: failed handshakes (a wrong secret, a TLS failure, a refused
 * certificate) and refused certificates, each for connections accepted (inbound) and dialled
 * (outbound). An alert on their rate finds an expired or misissued certificate before it costs a quorum.
 */
function peerMetrics(registry: Registry, read: () => TransportStats): void {
  const outbound = (stats: TransportStats, field: "handshakeFailures" | "certificateFailures"): number =>
    stats.peers.reduce((sum, peer) => sum + peer[field], 0);
  const counted = (
    name: string,
    help: string,
    inbound: (stats: TransportStats) => number,
    field: "handshakeFailures" | "certificateFailures",
  ): void => {
    const last = { inbound: 0, outbound: 0 };
    new Counter({
      name,
      help,
      labelNames: ["direction"],
      registers: [registry],
      collect() {
        const stats = read();
        const now = { inbound: inbound(stats), outbound: outbound(stats, field) };
        for (const direction of ["inbound", "outbound"] as const) {
          // A removed peer takes its counts with it; the counter only ever goes up (from 0, shown).
          this.inc({ direction }, Math.max(0, now[direction] - last[direction]));
          last[direction] = Math.max(last[direction], now[direction]);
        }
      },
    });
  };
  counted(
    "juno_peer_handshake_failures_total",
    "Peer connections that failed before authenticating: a wrong secret, a failed TLS handshake or a refused certificate.",
    (stats) => stats.inbound.failedHandshakes,
    "handshakeFailures",
  );
  counted(
    "juno_peer_certificate_refusals_total",
    "Peer connections refused for their TLS certificate: none, expired, self-signed, another CA's, or the wrong name.",
    (stats) => stats.inbound.refusedCertificates,
    "certificateFailures",
  );
}

/**
 * A Prometheus counter that follows a running total kept elsewhere (read when scraped). A total
 * that goes back (a restored state counting afresh) adds nothing until it passes its old value.
 */
export function counterReading(registry: Registry, name: string, help: string, read: () => number): void {
  let last = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > last) this.inc(now - last);
      last = now;
    },
  });
}
