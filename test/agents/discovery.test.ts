// Proves discovery end to end: the leader runs a Consul provider (against the faithful fake of
// Consul's HTTP API), its agents appear in the registry labelled with their source, are kept
// alive while Consul calls them healthy, go failed when Consul says they are critical, and leave
// once they have been gone from Consul for the grace period; agents registered through the API
// are never touched.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentsState, type Agent } from "../../src/agents/index.js";
import { ConsulProvider } from "../../src/discovery/index.js";
import { FakeConsul } from "../discovery/fake-consul.js";
import { ApiCluster } from "../server/cluster.js";
import { until } from "../support/local-node.js";

let consul: FakeConsul;
let cluster: ApiCluster;

beforeAll(async () => {
  consul = await FakeConsul.start();
  cluster = await ApiCluster.start(null, ["n1", "n2", "n3"], {
    heartbeatIntervalMs: 100,
    failureTimeoutMs: 1_000,
    checks: null,
    discovery: {
      provider: () =>
        new ConsulProvider({
          endpoint: consul.endpoint,
          waitSeconds: 1,
          minIntervalMs: 50,
          republishIntervalMs: 100,
        }),
      removeAfterMs: 500,
    },
  });
});
afterAll(async () => {
  await cluster.stop();
  await consul.close();
});

function consulAgents(member: {
  node: { view: { state: (m: typeof agentsState) => { all(): Iterable<Agent> } } };
}): Agent[] {
  return [...member.node.view.state(agentsState).all()].filter((agent) => agent.source === "consul");
}

describe("discovery through Consul", () => {
  it("adds, keeps alive, fails and removes Consul's agents, and leaves API registrations alone", async () => {
    const leader = await cluster.leader();
    const registered = await leader.app.inject({
      method: "POST",
      url: "/api/v3/agents/register",
      payload: {
        name: "own",
        endpoint: "http://10.9.9.9:1",
        team: "t",
        capabilities: { skills: [], capacity: 1 },
        health_check: { type: "none" },
      },
    });
    expect(registered.statusCode).toBe(201);
    consul.register({
      node: "node-a",
      nodeAddress: "10.0.0.1",
      id: "search-1",
      service: "search",
      tags: ["juno-agent", "query"],
      port: 9001,
      meta: { juno_team: "search", juno_capacity: "4" },
      checks: [{ id: "http", status: "passing" }],
    });
    await until(() => consulAgents(leader).length === 1);
    const [agent] = consulAgents(leader);
    expect(agent).toMatchObject({
      team: "search",
      capacity: 4,
      endpoint: "http://10.0.0.1:9001",
      source: "consul",
    });
    expect(agent!.skills).toContain("query");
    // Beaten for while Consul says passing: healthy well past the failure timeout.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(leader.node.view.state(agentsState).get(agent!.id)?.status).toBe("healthy");
    consul.setCheck("node-a", "search-1", "http", "critical");
    await until(() => leader.node.view.state(agentsState).get(agent!.id)?.status === "failed", 5_000);
    consul.deregister("node-a", "search-1");
    await until(() => consulAgents(leader).length === 0, 5_000);
    const own = registered.json<{ agent: { id: string } }>().agent.id;
    expect(leader.node.view.state(agentsState).get(own)?.source).toBe("custom");
  });
});
