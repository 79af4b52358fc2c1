// Proves A2A agent cards: an agent registered by its card URL gets its name, URL and skills (ids
// and tags, made into skill names) from the card, and the leader reads the card again and
// updates the skills when they change. A card that cannot be read is a clear 422.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentsState } from "../../src/agents/index.js";
import { ApiCluster } from "../server/cluster.js";
import { until } from "../support/local-node.js";

let cluster: ApiCluster;
let server: Server;
let base = "";
let skills = [{ id: "translate", name: "Translate", tags: ["natural language", "fr"] }];

beforeAll(async () => {
  server = createServer((request, response) => {
    if (request.url !== "/.well-known/agent-card.json") {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({
        name: "Polyglot",
        description: "translates",
        version: "1.0.0",
        url: `${base}/a2a`,
        skills,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cluster = await ApiCluster.start(null, ["n1", "n2", "n3"], { cardRefreshMs: 200 });
});
afterAll(async () => {
  await cluster.stop();
  server.close();
});

describe("A2A agent cards", () => {
  it("registers from the card, then follows the card's skills", async () => {
    const follower = await cluster.follower();
    const response = await fetch(`http://${follower.http}/api/v3/agents/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agent_card_url: base, team: "lang", health_check: { type: "none" } }),
    });
    expect(response.status).toBe(201);
    const agent = ((await response.json()) as { agent: Record<string, unknown> }).agent;
    expect(agent).toMatchObject({ name: "Polyglot", endpoint: `${base}/a2a`, agent_card_url: base });
    expect((agent["capabilities"] as { skills: string[] }).skills.sort()).toEqual([
      "fr",
      "natural-language",
      "translate",
    ]);
    skills = [{ id: "summarise", name: "Summarise", tags: [] }];
    const leader = await cluster.leader();
    await until(
      () =>
        leader.node.view
          .state(agentsState)
          .get(agent["id"] as string)
          ?.skills.join() === "summarise",
    );
  });

  it("a card that cannot be read is 422 agent_card_unreadable, and nothing is registered", async () => {
    const leader = await cluster.leader();
    const before = leader.node.view.state(agentsState).size;
    const response = await fetch(`http://${leader.http}/api/v3/agents/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agent_card_url: `${base}/nowhere/`, team: "lang" }),
    });
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ error: { code: "agent_card_unreadable" } });
    expect(leader.node.view.state(agentsState).size).toBe(before);
  });
});
