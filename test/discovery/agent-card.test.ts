// Proves that A2A agent cards are read from their well-known location (and the older agent.json
// when that answers 404), checked against the schema and reduced to name, url, skills (ids and
// tags, without repeats), description and version; that over-large bodies, bad JSON and invalid
// cards are refused with their codes; and that the watcher reads each card again when its max-age
// says (with If-None-Match), drops a card that is gone, and keeps the last good agent of a card
// that cannot be read, marked unreadable.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { once } from "node:events";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  AgentCardWatcher,
  DiscoveryError,
  MAX_SKILLS,
  agentCardLocations,
  maxAgeOf,
  parseAgentCard,
  readAgentCard,
  type RunningProvider,
} from "../../src/discovery/index.js";
import { ManualClock } from "./manual-clock.js";
import { byKey, Recorder } from "./recorder.js";

/** A card as an agent would serve it (A2A 0.3). */
function card(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    protocolVersion: "0.3.0",
    name: "Recipe Agent",
    description: "Helps with recipes.",
    url: "https://recipes.example.test/a2a/v1",
    preferredTransport: "JSONRPC",
    version: "1.2.0",
    capabilities: { streaming: true },
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: [
      { id: "find-recipe", name: "Find recipe", description: "Finds one.", tags: ["cooking", "search"] },
      {
        id: "plan-meals",
        name: "Plan meals",
        description: "Plans.",
        tags: ["cooking"],
        examples: ["a week"],
      },
    ],
    ...overrides,
  };
}

interface Route {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  /** Never answer (for deadlines). */
  hang?: boolean;
}

/** A local HTTP server whose routes the test sets; it records every request. */
class CardServer {
  readonly routes = new Map<string, Route>();
  readonly requests: Array<{ path: string; ifNoneMatch: string | null }> = [];
  private readonly server: Server;
  private watchers: Array<() => void> = [];

  private constructor() {
    this.server = createServer((request, response) => this.handle(request, response));
  }

  static async start(): Promise<CardServer> {
    const server = new CardServer();
    server.server.listen(0, "127.0.0.1");
    await once(server.server, "listening");
    return server;
  }

  get origin(): string {
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("not listening");
    return `http://127.0.0.1:${address.port}`;
  }

  /** Serves `document` at `path` with an ETag; a request with that ETag gets 304. */
  serveCard(path: string, document: unknown, etag: string | null, cacheControl: string | null = null): void {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (etag !== null) headers["ETag"] = etag;
    if (cacheControl !== null) headers["Cache-Control"] = cacheControl;
    this.routes.set(path, { status: 200, body: JSON.stringify(document), headers });
  }

  async until(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise<void>((resolve) => this.watchers.push(resolve));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close").catch(() => undefined);
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? "/", "http://cards").pathname;
    const ifNoneMatch = request.headers["if-none-match"] ?? null;
    this.requests.push({ path, ifNoneMatch });
    const watchers = this.watchers;
    this.watchers = [];
    for (const wake of watchers) wake();
    const route = this.routes.get(path);
    if (route?.hang === true) return;
    if (route === undefined) {
      response.writeHead(404, { "Content-Type": "text/plain" });
      response.end("not found");
      return;
    }
    const etag = route.headers?.["ETag"];
    if (etag !== undefined && ifNoneMatch === etag) {
      response.writeHead(304, {
        ETag: etag,
        ...(route.headers?.["Cache-Control"] ? { "Cache-Control": route.headers["Cache-Control"] } : {}),
      });
      response.end();
      return;
    }
    response.writeHead(route.status ?? 200, route.headers ?? {});
    response.end(route.body ?? "");
  }
}

describe("readAgentCard", () => {
  let server: CardServer;

  beforeEach(async () => {
    server = await CardServer.start();
  });

  afterEach(async () => {
    await server.close();
  });

  it("reads the card at the well-known location under an endpoint", async () => {
    server.serveCard("/agents/recipes/.well-known/agent-card.json", card(), null);
    const read = await readAgentCard(`${server.origin}/agents/recipes`);
    expect(read).toEqual({
      name: "Recipe Agent",
      url: "https://recipes.example.test/a2a/v1",
      skills: ["find-recipe", "cooking", "search", "plan-meals"],
      description: "Helps with recipes.",
      version: "1.2.0",
      protocolVersion: "0.3.0",
      preferredTransport: "JSONRPC",
    });
  });

  it("falls back to the older agent.json when agent-card.json answers 404", async () => {
    server.serveCard("/.well-known/agent.json", card({ name: "Old Agent" }), null);
    const read = await readAgentCard(server.origin);
    expect(read.name).toBe("Old Agent");
    expect(server.requests.map((request) => request.path)).toEqual([
      "/.well-known/agent-card.json",
      "/.well-known/agent.json",
    ]);
  });

  it("reads a card URL as it is, and says card_not_found when nothing is there", async () => {
    server.serveCard("/cards/one.json", card(), null);
    expect((await readAgentCard(`${server.origin}/cards/one.json`)).name).toBe("Recipe Agent");
    await expect(readAgentCard(`${server.origin}/nothing`)).rejects.toMatchObject({ code: "card_not_found" });
  });

  it("takes the url of an A2A 1.0 card from its supported interfaces", async () => {
    const { url: _url, preferredTransport: _transport, ...rest } = card();
    server.serveCard(
      "/.well-known/agent-card.json",
      {
        ...rest,
        supportedInterfaces: [
          { url: "https://v1.example.test/a2a", protocolBinding: "HTTP+JSON", protocolVersion: "1.0" },
        ],
      },
      null,
    );
    const read = await readAgentCard(server.origin);
    expect(read.url).toBe("https://v1.example.test/a2a");
    expect(read.preferredTransport).toBe("HTTP+JSON");
  });

  it("refuses bodies over the bound, declared or not", async () => {
    const big = JSON.stringify(card({ description: "x".repeat(4_000) }));
    server.routes.set("/declared.json", { body: big, headers: { "Content-Type": "application/json" } });
    await expect(readAgentCard(`${server.origin}/declared.json`, { maxBytes: 1_024 })).rejects.toMatchObject({
      code: "too_large",
    });
    server.routes.set("/chunked.json", {
      body: big,
      headers: { "Content-Type": "application/json", "Transfer-Encoding": "chunked" },
    });
    await expect(readAgentCard(`${server.origin}/chunked.json`, { maxBytes: 1_024 })).rejects.toMatchObject({
      code: "too_large",
    });
  });

  it("refuses bad JSON, invalid cards and failing servers with their codes", async () => {
    server.routes.set("/bad.json", { body: "{not json" });
    await expect(readAgentCard(`${server.origin}/bad.json`)).rejects.toMatchObject({ code: "bad_response" });
    server.serveCard("/noname.json", card({ name: "" }), null);
    await expect(readAgentCard(`${server.origin}/noname.json`)).rejects.toMatchObject({
      code: "invalid_card",
    });
    server.serveCard("/nourl.json", card({ url: "ftp://files.example.test" }), null);
    await expect(readAgentCard(`${server.origin}/nourl.json`)).rejects.toMatchObject({
      code: "invalid_card",
    });
    server.routes.set("/down.json", { status: 503, body: "down" });
    await expect(readAgentCard(`${server.origin}/down.json`)).rejects.toMatchObject({
      code: "http_status",
      status: 503,
    });
  });

  it("gives up on a server that does not answer when the deadline passes", async () => {
    server.routes.set("/slow.json", { hang: true });
    const clock = new ManualClock();
    const reading = readAgentCard(`${server.origin}/slow.json`, { clock, timeoutMs: 5_000 });
    await server.until(() => server.requests.length === 1);
    clock.advance(5_000);
    await expect(reading).rejects.toMatchObject({ code: "timeout" });
  });

  it("bounds the skills, and keeps ids like __proto__ as plain data", () => {
    const skills = Array.from({ length: 200 }, (_, index) => ({
      id: `skill-${index}`,
      name: "s",
      tags: ["__proto__"],
    }));
    const read = parseAgentCard(card({ skills }), "https://cards.example.test/card.json");
    expect(read.skills).toHaveLength(MAX_SKILLS);
    expect(read.skills[1]).toBe("__proto__");
    expect(() => parseAgentCard(card({ skills: Array.from({ length: 600 }, () => skills[0]) }), "x")).toThrow(
      DiscoveryError,
    );
  });

  it("knows where cards live and how long they stay fresh", () => {
    expect(agentCardLocations("https://a.example.test/base/")).toEqual([
      "https://a.example.test/base/.well-known/agent-card.json",
      "https://a.example.test/base/.well-known/agent.json",
    ]);
    expect(() => agentCardLocations("file:///etc/passwd")).toThrow(DiscoveryError);
    expect(maxAgeOf("public, max-age=120")).toBe(120_000);
    expect(maxAgeOf("no-store")).toBe(0);
    expect(maxAgeOf(null)).toBeNull();
  });
});

describe("AgentCardWatcher", () => {
  let server: CardServer;
  let running: RunningProvider | null = null;

  beforeEach(async () => {
    server = await CardServer.start();
  });

  afterEach(async () => {
    await running?.stop();
    running = null;
    await server.close();
  });

  /** The read waits pending on `clock`, the republish timer (an hour) left out. */
  async function readDelays(clock: ManualClock): Promise<number[]> {
    await new Promise((resolve) => setImmediate(resolve));
    return clock.pendingDelays().filter((delayMs) => delayMs < 3_600_000);
  }

  it("reads each card again when its max-age runs out, with If-None-Match", async () => {
    server.serveCard("/a/.well-known/agent-card.json", card({ name: "A" }), '"v1"', "max-age=120");
    server.serveCard("/b.json", card({ name: "B", url: "https://b.example.test/" }), null);
    const clock = new ManualClock();
    const recorder = new Recorder();
    running = new AgentCardWatcher({
      urls: [`${server.origin}/a`, `${server.origin}/b.json`],
      defaults: { team: "kitchen", capacity: 2 },
      intervalMs: 30_000,
      republishIntervalMs: 3_600_000,
      clock,
    }).start(recorder.handlers);
    await recorder.reports(1);

    const agents = recorder.last;
    expect(agents.get(`agent_card:${server.origin}/a`)).toMatchObject({
      source: "agent_card",
      name: "A",
      endpoint: "https://recipes.example.test/a2a/v1",
      team: "kitchen",
      capacity: 2,
      skills: ["find-recipe", "cooking", "search", "plan-meals"],
      healthy: null,
    });
    expect(Object.fromEntries(agents.get(`agent_card:${server.origin}/a`)?.labels ?? [])).toEqual({
      a2a_version: "1.2.0",
      a2a_protocol_version: "0.3.0",
      a2a_transport: "JSONRPC",
    });
    // Card a says 120 s, card b says nothing (the interval, 30 s).
    expect(await readDelays(clock)).toEqual([30_000, 120_000]);

    clock.advance(120_000);
    await recorder.until(() => server.requests.some((request) => request.ifNoneMatch === '"v1"'));
    await recorder.snapshotWhere(() => true);
    // Unchanged: the agent is still there.
    expect(recorder.last.get(`agent_card:${server.origin}/a`)?.name).toBe("A");

    server.serveCard("/a/.well-known/agent-card.json", card({ name: "A2" }), '"v2"', "max-age=120");
    clock.advance(120_000);
    await recorder.snapshotWhere((agents) => agents.get(`agent_card:${server.origin}/a`)?.name === "A2");
    expect(recorder.errors).toEqual([]);
  });

  it("drops a card that is gone, and keeps a card that cannot be read as unreadable", async () => {
    server.serveCard("/a.json", card({ name: "A" }), null);
    server.serveCard("/b.json", card({ name: "B" }), null);
    const clock = new ManualClock();
    const recorder = new Recorder();
    running = new AgentCardWatcher({
      urls: [`${server.origin}/a.json`, `${server.origin}/b.json`],
      intervalMs: 30_000,
      republishIntervalMs: 3_600_000,
      clock,
    }).start(recorder.handlers);
    await recorder.reports(1);
    expect(recorder.last.size).toBe(2);

    server.routes.delete("/a.json");
    server.routes.set("/b.json", { status: 500, body: "broken" });
    clock.advance(30_000);
    const snapshot = await recorder.snapshotWhere(
      (agents, details) =>
        !agents.has(`agent_card:${server.origin}/a.json`) && details.unreadable.length === 1,
    );
    expect([...byKey(snapshot.agents).keys()]).toEqual([`agent_card:${server.origin}/b.json`]);
    expect(snapshot.details.unreadable).toEqual([`agent_card:${server.origin}/b.json`]);
    expect(recorder.errors.map((error) => (error as DiscoveryError).status)).toEqual([500]);
  });

  it("refuses settings that make no sense", () => {
    expect(() => new AgentCardWatcher({ urls: [] })).toThrow(DiscoveryError);
    expect(() => new AgentCardWatcher({ urls: ["not a url"] })).toThrow(DiscoveryError);
    expect(() => new AgentCardWatcher({ urls: ["http://a.example.test"], minIntervalMs: 10 })).toThrow(
      DiscoveryError,
    );
  });
});
