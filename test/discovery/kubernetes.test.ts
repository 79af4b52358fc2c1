// Proves that the Kubernetes provider, through @kubernetes/client-node against a faithful fake API
// server, lists the EndpointSlices of its Services (page by page) and turns every address and port
// into an agent with the Service's juno.dev annotations, follows ADDED, MODIFIED and DELETED events
// from the list's resourceVersion, moves with bookmarks, watches again when the server ends a
// watch, lists again on 410 Gone (an ERROR event or an HTTP status), and reports a failed list as an
// unreadable part, never as agents gone.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DiscoveryError, agentsOfService, type RunningProvider } from "../../src/discovery/index.js";
import { loadKubeConfig } from "../../src/discovery/kubernetes-client.js";
import { KubernetesProvider, type KubernetesProviderOptions } from "../../src/discovery/kubernetes.js";
import { FakeKubeApi, parseSelector, type FakeEndpointSlice } from "./fake-kube-api.js";
import { byKey, Recorder } from "./recorder.js";

const PREFIX = "kubernetes:agents/web/";

function webSlice(name: string, endpoints: FakeEndpointSlice["endpoints"]): FakeEndpointSlice {
  return {
    name,
    namespace: "agents",
    service: "web",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    endpoints,
  };
}

function pod(name: string, address: string, ready?: boolean): FakeEndpointSlice["endpoints"][number] {
  return {
    addresses: [address],
    ...(ready === undefined ? {} : { conditions: { ready } }),
    nodeName: "node-a",
    zone: "zone-1",
    targetRef: { kind: "Pod", name, namespace: "agents" },
  };
}

describe("Kubernetes provider against a fake API server", () => {
  let api: FakeKubeApi;
  let running: RunningProvider | null = null;

  beforeEach(async () => {
    api = await FakeKubeApi.start();
    api.token = "test-token";
    api.setService("agents", "web", {
      "juno.dev/team": "vision",
      "juno.dev/skills": "detect,segment",
      "juno.dev/capacity": "2",
      "juno.dev/tier": "gold",
      "kubectl.kubernetes.io/last-applied-configuration": "{}",
    });
  });

  afterEach(async () => {
    await running?.stop();
    running = null;
    await api.close();
  });

  function start(recorder: Recorder, options: Partial<KubernetesProviderOptions> = {}): KubernetesProvider {
    const provider = new KubernetesProvider({
      services: ["web"],
      namespace: "agents",
      connection: { kind: "token", server: api.url, token: "test-token" },
      backoff: { initialDelayMs: 5, maxDelayMs: 20 },
      minWatchIntervalMs: 5,
      ...options,
    });
    running = provider.start(recorder.handlers);
    return provider;
  }

  it("lists the slices and turns every ready address and port into an agent", async () => {
    api.applySlice(webSlice("web-abc", [pod("web-1", "10.1.0.1"), pod("web-2", "10.1.0.2", false)]));
    api.applySlice({ ...webSlice("web-v6", [pod("web-3", "fd00::3", true)]), addressType: "IPv6" });
    api.applySlice({ ...webSlice("other-x", [pod("other-1", "10.9.0.1")]), service: "other" });
    const recorder = new Recorder();
    start(recorder);
    await recorder.reports(1);

    expect(recorder.errors).toEqual([]);
    const agents = recorder.last;
    expect([...agents.keys()].sort()).toEqual([
      `${PREFIX}10.1.0.1:8080`,
      `${PREFIX}10.1.0.2:8080`,
      `${PREFIX}[fd00::3]:8080`,
    ]);
    const first = agents.get(`${PREFIX}10.1.0.1:8080`);
    expect(first).toMatchObject({
      source: "kubernetes",
      name: "web-1:8080",
      endpoint: "http://10.1.0.1:8080",
      team: "vision",
      skills: ["detect", "segment"],
      capacity: 2,
      healthy: true,
    });
    expect(Object.fromEntries(first?.labels ?? [])).toEqual({
      tier: "gold",
      kubernetes_pod: "web-1",
      kubernetes_node: "node-a",
      kubernetes_zone: "zone-1",
      kubernetes_port: "http",
    });
    expect(agents.get(`${PREFIX}10.1.0.2:8080`)?.healthy).toBe(false);
    expect(agents.get(`${PREFIX}[fd00::3]:8080`)?.endpoint).toBe("http://[fd00::3]:8080");
    const list = api.requests.find((request) => request.path.endsWith("/endpointslices") && !request.watch);
    expect(list?.labelSelector).toBe("kubernetes.io/service-name=web");
    expect(list?.authorization).toBe("Bearer test-token");
  });

  it("reads every page of a long list", async () => {
    for (let index = 0; index < 7; index++)
      api.applySlice(webSlice(`web-${index}`, [pod(`web-${index}`, `10.2.0.${index}`)]));
    const recorder = new Recorder();
    start(recorder, { pageSize: 2 });
    await recorder.reports(1);
    expect(recorder.last.size).toBe(7);
    const pages = api.requests.filter(
      (request) => request.path.endsWith("/endpointslices") && !request.watch,
    );
    expect(pages.map((request) => request.continueToken === null)).toEqual([true, false, false, false]);
  });

  it("follows added, changed and deleted slices from the list's resourceVersion", async () => {
    api.applySlice(webSlice("web-abc", [pod("web-1", "10.1.0.1")]));
    const recorder = new Recorder();
    start(recorder);
    await recorder.reports(1);
    await api.until(() => api.openWatches === 1);
    const watch = api.requests.find((request) => request.watch);
    expect(watch?.resourceVersion).toBe(api.resourceVersion);

    api.applySlice(webSlice("web-def", [pod("web-2", "10.1.0.2")]));
    await recorder.snapshotWhere((agents) => agents.has(`${PREFIX}10.1.0.2:8080`));
    api.applySlice(webSlice("web-abc", [pod("web-1", "10.1.0.1", false)]));
    await recorder.snapshotWhere((agents) => agents.get(`${PREFIX}10.1.0.1:8080`)?.healthy === false);
    api.deleteSlice("agents", "web-def");
    const after = await recorder.snapshotWhere((agents) => !agents.has(`${PREFIX}10.1.0.2:8080`));
    expect(after.agents).toHaveLength(1);
    // Only one list: the events did the rest.
    expect(
      api.requests.filter((request) => request.path.endsWith("/endpointslices") && !request.watch),
    ).toHaveLength(1);
    expect(recorder.errors).toEqual([]);
  });

  it("watches again from the last version when the server ends a watch, moving with bookmarks", async () => {
    api.applySlice(webSlice("web-abc", [pod("web-1", "10.1.0.1")]));
    const recorder = new Recorder();
    start(recorder);
    await recorder.reports(1);
    await api.until(() => api.openWatches === 1);
    api.setService("agents", "unrelated", {});
    api.bookmark();
    const bookmarked = api.resourceVersion;
    api.endWatches();
    await api.until(() => api.openWatches === 1);
    const watches = api.requests.filter((request) => request.watch);
    expect(watches).toHaveLength(2);
    expect(watches[1]?.resourceVersion).toBe(bookmarked);
    // The new watch is not a list.
    expect(
      api.requests.filter((request) => request.path.endsWith("/endpointslices") && !request.watch),
    ).toHaveLength(1);

    api.applySlice(webSlice("web-def", [pod("web-2", "10.1.0.2")]));
    await recorder.snapshotWhere((agents) => agents.size === 2);
  });

  it.each([
    ["an ERROR event", false],
    ["HTTP 410", true],
  ])("lists again when the version has expired (%s)", async (_how, asHttpStatus) => {
    api.expiredAsHttpStatus = asHttpStatus;
    api.applySlice(webSlice("web-abc", [pod("web-1", "10.1.0.1")]));
    const recorder = new Recorder();
    start(recorder);
    await recorder.reports(1);
    await api.until(() => api.openWatches === 1);

    // Changes happen and the history is compacted while the watch is down.
    api.endWatches();
    api.applySlice(webSlice("web-def", [pod("web-2", "10.1.0.2")]));
    api.deleteSlice("agents", "web-abc");
    api.compact();
    const relisted = await recorder.snapshotWhere(
      (agents) => agents.has(`${PREFIX}10.1.0.2:8080`) && !agents.has(`${PREFIX}10.1.0.1:8080`),
    );
    expect(relisted.details.unreadable).toEqual([]);
    const lists = api.requests.filter(
      (request) => request.path.endsWith("/endpointslices") && !request.watch,
    );
    expect(lists).toHaveLength(2);
    // 410 is not a failure: no error reported.
    expect(recorder.errors).toEqual([]);
  });

  it("lists again when a watch is expired under it", async () => {
    api.applySlice(webSlice("web-abc", [pod("web-1", "10.1.0.1")]));
    const recorder = new Recorder();
    start(recorder);
    await recorder.reports(1);
    await api.until(() => api.openWatches === 1);
    api.compact();
    api.expireWatches();
    await api.until(
      () =>
        api.requests.filter((request) => request.path.endsWith("/endpointslices") && !request.watch)
          .length === 2,
    );
    await api.until(() => api.openWatches === 1);
    expect(recorder.errors).toEqual([]);
  });

  it("reports a failed list as an unreadable part and lists again after a backoff", async () => {
    api.setService("agents", "api", {});
    api.applySlice(webSlice("web-abc", [pod("web-1", "10.1.0.1")]));
    api.applySlice({ ...webSlice("api-abc", [pod("api-1", "10.3.0.1")]), service: "api" });
    const recorder = new Recorder();
    start(recorder, { services: ["web", "api"] });
    await recorder.reports(1);
    await api.until(() => api.openWatches === 2);
    expect(recorder.last.size).toBe(2);

    // The watch of one Service breaks and its next list fails: it stays as it was, marked unreadable.
    api.failNext(500, 1, false);
    api.failNext(500, 1, true);
    api.endWatches();
    const broken = await recorder.snapshotWhere((_agents, details) => details.unreadable.length > 0);
    expect(broken.details.unreadable.length).toBeGreaterThan(0);
    expect(byKey(broken.agents).size).toBe(2);
    expect(recorder.errors.length).toBeGreaterThan(0);
    expect(recorder.errors.every((error) => error instanceof DiscoveryError)).toBe(true);

    const healed = await recorder.snapshotWhere((_agents, details) => details.unreadable.length === 0);
    expect(healed.agents).toHaveLength(2);
  });

  it("refuses a wrong token as an error, never as an empty set", async () => {
    api.applySlice(webSlice("web-abc", [pod("web-1", "10.1.0.1")]));
    const recorder = new Recorder();
    start(recorder, { connection: { kind: "token", server: api.url, token: "wrong" } });
    await recorder.reports(2);
    const first = recorder.errors[0];
    expect(first).toBeInstanceOf(DiscoveryError);
    expect((first as DiscoveryError).status).toBe(401);
    // The only snapshot says the Service could not be read, so nothing of it counts as gone.
    for (const snapshot of recorder.snapshots) expect(snapshot.details.unreadable).toEqual([PREFIX]);
  });

  it("uses the defaults when the Service has no annotations or is not read", async () => {
    api.applySlice(webSlice("web-abc", [pod("web-1", "10.1.0.1")]));
    const recorder = new Recorder();
    start(recorder, { readServiceAnnotations: false, defaults: { team: "platform", skills: ["any"] } });
    await recorder.reports(1);
    expect(recorder.last.get(`${PREFIX}10.1.0.1:8080`)).toMatchObject({
      team: "platform",
      skills: ["any"],
      capacity: 1,
    });
    expect(api.requests.some((request) => request.path.includes("/services/"))).toBe(false);
  });

  it("refuses settings that make no sense", () => {
    const connection = { kind: "token", server: "http://127.0.0.1:1" } as const;
    expect(() => new KubernetesProvider({ services: [], connection })).toThrow(DiscoveryError);
    expect(() => new KubernetesProvider({ services: ["Not_A_Name"], connection })).toThrow(DiscoveryError);
    expect(() => new KubernetesProvider({ services: ["web"], namespace: "Bad!", connection })).toThrow(
      DiscoveryError,
    );
  });
});

describe("Kubernetes pieces", () => {
  it("reads the namespace of an explicit kubeconfig context", () => {
    const config = loadKubeConfig({ kind: "token", server: "https://kubernetes.example.test" });
    expect(config.getCurrentCluster()?.server).toBe("https://kubernetes.example.test");
  });

  it("keeps only the chosen port, and an address in two slices once, ready if either says so", () => {
    const { agents } = agentsOfService({
      namespace: "agents",
      service: "web",
      slices: [
        {
          metadata: { name: "a" },
          ports: [
            { name: "http", port: 80 },
            { name: "metrics", port: 9100 },
          ],
          endpoints: [{ addresses: ["10.0.0.1"], conditions: { ready: false } }],
        },
        {
          metadata: { name: "b" },
          ports: [{ name: "http", port: 80 }],
          endpoints: [{ addresses: ["10.0.0.1"], conditions: { ready: true } }],
        },
        {
          metadata: { name: "c" },
          ports: [{ name: "http", port: 53, protocol: "UDP" }],
          endpoints: [{ addresses: ["10.0.0.2"] }],
        },
      ],
      annotations: new Map(),
      defaults: { team: "default", skills: [], capacity: 1 },
      portName: "http",
      scheme: "https",
    });
    expect(agents.map((agent) => [agent.key, agent.endpoint, agent.healthy])).toEqual([
      ["kubernetes:agents/web/10.0.0.1:80", "https://10.0.0.1:80", true],
    ]);
  });

  it("the fake parses label selectors as the API server does", () => {
    const labels = new Map([
      ["app", "web"],
      ["tier", "front"],
    ]);
    expect(parseSelector("app=web")?.(labels)).toBe(true);
    expect(parseSelector("app==web,tier!=back")?.(labels)).toBe(true);
    expect(parseSelector("tier in (front, middle)")?.(labels)).toBe(true);
    expect(parseSelector("tier notin (front)")?.(labels)).toBe(false);
    expect(parseSelector("app,!missing")?.(labels)).toBe(true);
    expect(parseSelector("app=(")).toBeNull();
  });
});
