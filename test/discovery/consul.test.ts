// Proves that the Consul provider, against a faithful fake of Consul's HTTP API, selects services by
// tag or name, turns each instance into an agent with its Meta attributes and its checks' health,
// follows changes through blocking queries (add, change, remove), resets an index that goes
// backwards, never waits on index 0, never asks more often than its rate limit, and reports a
// failed read as an error: the catalog's as a stale set, one service's as an unreadable part.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ConsulProvider,
  DiscoveryError,
  nextConsulIndex,
  type ConsulProviderOptions,
  type RunningProvider,
} from "../../src/discovery/index.js";
import { FakeConsul, parseGoDuration, type FakeServiceInstance } from "./fake-consul.js";
import { ManualClock } from "./manual-clock.js";
import { byKey, Recorder } from "./recorder.js";

const web1: FakeServiceInstance = {
  node: "node-1",
  nodeAddress: "10.0.0.1",
  id: "web-1",
  service: "web",
  tags: ["juno-agent", "render", "thumbnails"],
  port: 8080,
  meta: { juno_team: "media", juno_capacity: "3", rack: "r1" },
  checks: [{ id: "service:web-1", status: "passing" }],
};

const web2: FakeServiceInstance = {
  node: "node-2",
  nodeAddress: "10.0.0.2",
  id: "web-2",
  service: "web",
  tags: ["juno-agent"],
  address: "192.168.5.2",
  port: 8081,
  meta: { juno_skills: "render, crop", juno_weight: "7" },
};

describe("Consul provider against a fake Consul", () => {
  let consul: FakeConsul;
  let running: RunningProvider | null = null;

  beforeEach(async () => {
    consul = await FakeConsul.start();
  });

  afterEach(async () => {
    await running?.stop();
    running = null;
    await consul.close();
  });

  function start(recorder: Recorder, options: Partial<ConsulProviderOptions> = {}): void {
    running = new ConsulProvider({
      endpoint: consul.endpoint,
      waitSeconds: 5,
      minIntervalMs: 5,
      backoff: { initialDelayMs: 5, maxDelayMs: 20 },
      ...options,
    }).start(recorder.handlers);
  }

  it("turns each tagged instance into an agent with its Meta, tags and checks", async () => {
    consul.register(web1);
    consul.register(web2);
    consul.register({ ...web1, id: "web-3", tags: ["other"] });
    consul.register({ node: "node-1", nodeAddress: "10.0.0.1", id: "db", service: "db", port: 5432 });
    const recorder = new Recorder();
    start(recorder);
    await recorder.reports(1);

    expect(recorder.errors).toEqual([]);
    const agents = recorder.last;
    expect([...agents.keys()].sort()).toEqual(["consul:web/node-1/web-1", "consul:web/node-2/web-2"]);
    const first = agents.get("consul:web/node-1/web-1");
    expect(first).toMatchObject({
      source: "consul",
      name: "web-1",
      endpoint: "http://10.0.0.1:8080",
      team: "media",
      skills: ["render", "thumbnails"],
      capacity: 3,
      weight: null,
      healthy: true,
    });
    expect([...(first?.labels ?? [])]).toEqual([["rack", "r1"]]);
    expect(agents.get("consul:web/node-2/web-2")).toMatchObject({
      endpoint: "http://192.168.5.2:8081",
      team: "default",
      skills: ["render", "crop"],
      capacity: 1,
      weight: 7,
      healthy: true,
    });
  });

  it("selects named services whatever their tags, every instance of them", async () => {
    consul.register({ node: "node-1", nodeAddress: "::1", id: "db", service: "db", port: 5432 });
    consul.register(web1);
    const recorder = new Recorder();
    start(recorder, { tag: null, services: ["db"] });
    await recorder.reports(1);
    expect([...recorder.last.values()].map((agent) => [agent.key, agent.endpoint])).toEqual([
      ["consul:db/node-1/db", "http://[::1]:5432"],
    ]);
  });

  it("follows additions, health changes and removals through blocking queries", async () => {
    consul.register(web1);
    const recorder = new Recorder();
    start(recorder);
    await recorder.reports(1);
    // Both queries (the catalog and the service) now wait for a change.
    await consul.until(() => consul.blockedRequests === 2);
    expect(consul.requests.filter((request) => request.index !== null).every((r) => r.wait === "5s")).toBe(
      true,
    );

    consul.register(web2);
    await recorder.snapshotWhere((agents) => agents.has("consul:web/node-2/web-2"));

    consul.setCheck("node-1", "web-1", "service:web-1", "critical");
    await recorder.snapshotWhere((agents) => agents.get("consul:web/node-1/web-1")?.healthy === false);
    consul.setCheck("node-1", "web-1", "service:web-1", "passing");
    consul.setNodeHealth("node-1", "warning");
    const node = await recorder.snapshotWhere(
      (agents) =>
        agents.get("consul:web/node-1/web-1")?.healthy === false &&
        agents.get("consul:web/node-2/web-2")?.healthy === true,
    );
    expect(node.details.unreadable).toEqual([]);

    consul.deregister("node-2", "web-2");
    await recorder.snapshotWhere((agents) => !agents.has("consul:web/node-2/web-2") && agents.size === 1);

    // The service loses its tag: it is no longer watched, and its agents are gone.
    consul.register({ ...web1, tags: ["render"] });
    await recorder.snapshotWhere((agents) => agents.size === 0);
    expect(recorder.errors).toEqual([]);
  });

  it("starts again from the current state when the index goes backwards", async () => {
    consul.register(web1);
    const recorder = new Recorder();
    start(recorder);
    await recorder.reports(1);
    await consul.until(() => consul.blockedRequests === 2);
    const before = consul.requests.length;

    consul.rewindIndex(1);
    await consul.until(() => consul.blockedRequests === 2 && consul.requests.length >= before + 4);
    const after = consul.requests.slice(before);
    // Each query answered with a lower index asks once without an index, then waits on the new one.
    for (const path of ["/v1/catalog/services", "/v1/health/service/web"]) {
      const indexes = after.filter((request) => request.path === path).map((request) => request.index);
      expect(indexes.slice(0, 2)).toEqual([null, 1]);
    }
  });

  it("never waits on index 0 and never asks more often than its rate limit", async () => {
    consul.register(web1);
    consul.stickIndex(0);
    const clock = new ManualClock();
    const recorder = new Recorder();
    start(recorder, { clock, minIntervalMs: 1_000 });
    await recorder.reports(1);
    // Both loops have answered and now rest for the rate limit, with no request in flight.
    await consul.until(() => consul.requests.length === 2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(clock.pendingDelays().filter((delayMs) => delayMs === 1_000)).toHaveLength(2);
    expect(consul.requests.length).toBe(2);

    clock.advance(1_000);
    await consul.until(() => consul.requests.length === 4);
    // An index of 0 is asked as 1, the smallest index that is safe to wait on.
    expect(consul.requests.slice(2).map((request) => request.index)).toEqual([1, 1]);
  });

  it("sends the ACL token and reports a refusal as an error", async () => {
    consul.token = "secret";
    consul.register(web1);
    const recorder = new Recorder();
    start(recorder, { token: "wrong" });
    await recorder.reports(1);
    expect(recorder.snapshots).toHaveLength(0);
    expect(recorder.errors[0]).toBeInstanceOf(DiscoveryError);
    expect((recorder.errors[0] as DiscoveryError).status).toBe(403);
    await running?.stop();

    const second = new Recorder();
    start(second, { token: "secret" });
    await second.reports(1);
    expect(second.last.size).toBe(1);
    expect(consul.requests.at(-1)?.token).toBe("secret");
  });

  it("reports a failed catalog read as an error, never as an empty set, and recovers", async () => {
    consul.register(web1);
    consul.failNext(500, 3);
    const recorder = new Recorder();
    start(recorder);
    await recorder.until(() => recorder.snapshots.length === 1);
    expect(recorder.errors.map((error) => (error as DiscoveryError).code)).toEqual([
      "http_status",
      "http_status",
      "http_status",
    ]);
    expect(recorder.last.size).toBe(1);
  });

  it("keeps a service whose read fails as an unreadable part with its last agents", async () => {
    consul.register(web1);
    consul.register({ ...web2, service: "api", id: "api-1" });
    const recorder = new Recorder();
    start(recorder, { waitSeconds: 1 });
    await recorder.reports(1);
    await consul.until(() => consul.blockedRequests === 3);

    // The request that follows the next answer about "api" fails.
    consul.failNext(503, 1, "/v1/health/service/api");
    consul.setNodeHealth("node-2", "critical");
    const partial = await recorder.snapshotWhere((_agents, details) => details.unreadable.length > 0);
    expect(partial.details.unreadable).toEqual(["consul:api/"]);
    // The unreadable service keeps its last agents; the other service is unaffected.
    expect([...byKey(partial.agents).keys()].sort()).toEqual([
      "consul:api/node-2/api-1",
      "consul:web/node-1/web-1",
    ]);
    expect(byKey(partial.agents).get("consul:api/node-2/api-1")?.healthy).toBe(false);
    expect(recorder.errors.map((error) => (error as DiscoveryError).status)).toEqual([503]);

    const healed = await recorder.snapshotWhere((_agents, details) => details.unreadable.length === 0);
    expect(healed.details.unreadable).toEqual([]);
  });

  it("ends its blocked requests when stopped", async () => {
    consul.register(web1);
    const recorder = new Recorder();
    start(recorder);
    await recorder.reports(1);
    await consul.until(() => consul.blockedRequests === 2);
    await running?.stop();
    running = null;
    // The provider's requests were cancelled: nothing waits in the fake any more.
    await consul.until(() => consul.blockedRequests === 0);
    const reported = recorder.snapshots.length + recorder.errors.length;
    consul.register(web2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(recorder.snapshots.length + recorder.errors.length).toBe(reported);
  });

  it("refuses settings that make no sense", () => {
    expect(() => new ConsulProvider({ endpoint: "not a url" })).toThrow(DiscoveryError);
    expect(() => new ConsulProvider({ tag: null })).toThrow(DiscoveryError);
    expect(() => new ConsulProvider({ waitSeconds: 601 })).toThrow(DiscoveryError);
  });
});

describe("Consul index rules", () => {
  it("waits on the returned index, resets when it goes backwards, and never waits on 0", () => {
    expect(nextConsulIndex(0, 12)).toBe(12);
    expect(nextConsulIndex(12, 12)).toBe(12);
    expect(nextConsulIndex(12, 30)).toBe(30);
    expect(nextConsulIndex(30, 12)).toBe(0);
    expect(nextConsulIndex(0, 0)).toBe(1);
    expect(nextConsulIndex(5, null)).toBe(0);
  });

  it("the fake reads Go durations as Consul does", () => {
    expect(parseGoDuration("10s")).toBe(10_000);
    expect(parseGoDuration("5m")).toBe(300_000);
    expect(parseGoDuration("1m30s")).toBe(90_000);
    expect(parseGoDuration("250ms")).toBe(250);
    expect(parseGoDuration("ten")).toBeNull();
  });
});
