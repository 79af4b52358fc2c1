// What a node measures of consensus: write latency percentiles, applied rate, leaderless spells
// and followers' lag in milliseconds; and /metrics/performance serving them beside the targets.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConsensusStats } from "../../src/runtime/performance.js";
import { ApiCluster } from "../server/cluster.js";

describe("ConsensusStats", () => {
  it("keeps write latency percentiles of recent writes", () => {
    const stats = new ConsensusStats(0);
    expect(stats.writeLatencyMs(0.5)).toBeNull();
    for (let ms = 1; ms <= 100; ms++) stats.onWriteApplied(ms);
    expect(stats.writeLatencyMs(0.5)).toBe(51);
    expect(stats.writeLatencyMs(0.99)).toBe(100);
    expect(stats.writes()).toBe(100);
  });

  it("measures each spell without a leader, the start-up election first", () => {
    const stats = new ConsensusStats(1_000);
    expect(stats.leaderlessForMs(1_500)).toBe(500);
    stats.onLeader("n1", 1, 1_800);
    stats.onLeader("n1", 1, 1_900); // no spell open: nothing to end
    stats.onLeader(null, 1, 5_000);
    stats.onLeader(null, 2, 5_100); // still the same spell
    stats.onLeader("n2", 2, 5_300);
    expect(stats.leaderlessSpells()).toEqual([
      { fromMs: 1_000, durationMs: 800, term: 1, leader: "n1" },
      { fromMs: 5_000, durationMs: 300, term: 2, leader: "n2" },
    ]);
    expect(stats.leaderlessForMs(6_000)).toBeNull();
  });

  it("tells a follower's lag as the age of the oldest entry it lacks", () => {
    const stats = new ConsensusStats(0);
    stats.onLeader("n1", 1, 0);
    stats.onAppended(10, 1_000);
    stats.onAppended(12, 1_100);
    stats.onAppended(12, 1_150); // nothing new appended: the first time stands
    stats.onAppended(20, 1_200);
    expect(stats.followerLag("n2", 20, 20, 2_000)).toEqual({ id: "n2", entries: 0, ms: 0 });
    expect(stats.followerLag("n2", 10, 20, 2_000)).toEqual({ id: "n2", entries: 10, ms: 900 });
    expect(stats.followerLag("n2", 12, 20, 2_000)).toEqual({ id: "n2", entries: 8, ms: 800 });
    // Older than anything remembered: unknown rather than a guess.
    expect(stats.followerLag("n2", 5, 20, 2_000)).toEqual({ id: "n2", entries: 15, ms: null });
    // A new leader's appends are its own: the old reign's are forgotten.
    stats.onLeader("n3", 2, 3_000);
    expect(stats.followerLag("n2", 12, 20, 3_000).ms).toBeNull();
  });

  it("remembers the latest appends once the ring wraps", () => {
    const stats = new ConsensusStats(0);
    for (let i = 1; i <= 10_000; i++) stats.onAppended(i, i);
    expect(stats.followerLag("n2", 9_999, 10_000, 20_000).ms).toBe(10_000);
    expect(stats.followerLag("n2", 1, 10_000, 20_000).ms).toBeNull();
  });

  it("rates applied entries over the last seconds", () => {
    const stats = new ConsensusStats(0);
    expect(stats.appliedPerSecond(0)).toBe(0);
    stats.onApplied(100, 1_000);
    stats.onApplied(600, 3_500);
    expect(stats.appliedPerSecond(4_000)).toBe(500 / 3);
    // Out of the window: nothing applied lately.
    expect(stats.appliedPerSecond(30_000)).toBe(0);
  });
});

describe("GET /api/v3/metrics/performance", () => {
  let cluster: ApiCluster;
  beforeAll(async () => {
    cluster = await ApiCluster.start();
  });
  afterAll(() => cluster.stop());

  it("serves every figure beside its target, and each module's counts", async () => {
    const leader = await cluster.leader();
    const registered = await fetch(`http://${leader.http}/api/v3/agents/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        name: "perf-agent",
        endpoint: "http://127.0.0.1:9/",
        team: "web",
        capabilities: { skills: ["index"], capacity: 2 },
      }),
    });
    expect(registered.status).toBe(201);
    const answer = await fetch(`http://${leader.http}/api/v3/metrics/performance`);
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as {
      node_id: string;
      role: string;
      figures: Record<string, { value: number | null; target: string; meets: boolean | null; unit: string }>;
      counts: Record<string, Record<string, number>>;
    };
    expect(body.role).toBe("leader");
    expect(Object.keys(body.figures).sort()).toEqual([
      "agent_cluster_size",
      "concurrent_workflows",
      "consensus_latency_ms",
      "decisions_per_second",
      "leader_election_ms",
      "replication_lag_ms",
      "task_allocation_ms",
      "task_throughput_per_hour",
    ]);
    expect(body.figures["consensus_latency_ms"]!.value).toEqual(expect.any(Number));
    expect(body.figures["leader_election_ms"]!.meets).toBe(true);
    expect(body.figures["replication_lag_ms"]!.value).toEqual(expect.any(Number));
    expect(body.figures["agent_cluster_size"]).toMatchObject({ unit: "agents", target: ">= 50 agents" });
    expect(body.counts["agents"]!["healthy"]).toEqual(expect.any(Number));
    expect(body.counts["tasks"]).toMatchObject({ queued: 0 });
    expect(body.counts["workflows"]).toMatchObject({ running: 0 });
    // A follower measures no lag of its own: it says so instead of inventing one.
    const follower = await cluster.follower();
    const fromFollower = (await (
      await fetch(`http://${follower.http}/api/v3/metrics/performance`)
    ).json()) as {
      figures: Record<string, { value: number | null }>;
    };
    expect(fromFollower.figures["replication_lag_ms"]!.value).toBeNull();
  });
});
