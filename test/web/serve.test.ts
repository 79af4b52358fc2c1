// Proves how a node serves the dashboard, without a browser: /ui is the bundle's index.html and
// its script and stylesheet with the right content types (brotli to a client that takes it),
// served without a token while the dashboard's API (the stream, the overview, the timeline) asks
// for one; the stream is a text/event-stream that starts with the task history and an overview;
// CORS lets another origin call the API (a preflight needs no token) and read a hijacked stream;
// the routes are in the OpenAPI document and /ui is not; and a node without a bundle answers /ui
// with a 503 page saying how to build one, and runs on.

import Fastify from "fastify";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildUi } from "../../scripts/build-ui.js";
import { ErrorBody } from "../../src/server/schemas.js";
import { uiPlugin } from "../../src/web/index.js";
import { ApiCluster, type Member } from "../server/cluster.js";

const TOKEN = "dashboard-serve-token";
let cluster: ApiCluster;
let member: Member;
let base: string;

beforeAll(async () => {
  await buildUi();
  cluster = await ApiCluster.start(TOKEN, ["n1"]);
  member = await cluster.leader();
  base = `http://${member.http}`;
}, 60_000);

afterAll(async () => {
  member.app.server.closeAllConnections();
  await cluster.stop();
});

const auth = { authorization: `Bearer ${TOKEN}` };

/** Reads a stream's text until `enough` says so (or it ends), then lets it go. */
async function readUntil(response: Response, enough: (text: string) => boolean): Promise<string> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!enough(text)) {
    const { done, value } = await reader.read();
    if (done) break;
    text += value;
  }
  await reader.cancel();
  return text;
}

describe("the dashboard's files", () => {
  it("serves index.html, the script and the stylesheet at /ui without a token", async () => {
    const redirect = await fetch(`${base}/ui`, { redirect: "manual" });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("location")).toBe("ui/");

    const page = await fetch(`${base}/ui/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('src="./app.js"');
    expect(html).toContain('href="./app.css"');

    const script = await fetch(`${base}/ui/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toMatch(/^(text|application)\/javascript/);
    expect((await script.text()).length).toBeGreaterThan(10_000);

    const compressed = await fetch(`${base}/ui/app.js`, { headers: { "accept-encoding": "br" } });
    expect(compressed.headers.get("content-encoding")).toBe("br");
    expect(compressed.headers.get("content-type")).toMatch(/^(text|application)\/javascript/);
    expect(await compressed.text()).toBe(
      await (await fetch(`${base}/ui/app.js`, { headers: { "accept-encoding": "identity" } })).text(),
    );

    const styles = await fetch(`${base}/ui/app.css`);
    expect(styles.status).toBe(200);
    expect(styles.headers.get("content-type")).toMatch(/^text\/css/);
    expect(await styles.text()).toContain(".uplot");
  });

  it("serves nothing outside the bundle's flat list of files", async () => {
    expect((await fetch(`${base}/ui/missing.js`)).status).toBe(404);
    expect((await fetch(`${base}/ui/..%2Fpackage.json`)).status).toBe(404);
    expect((await fetch(`${base}/ui/.hidden`)).status).toBe(404);
  });

  it("answers a 503 page saying how to build the bundle when there is none, and the node runs on", async () => {
    const empty = mkdtempSync(join(tmpdir(), "juno-ui-none-"));
    const app = Fastify();
    app.addSchema(ErrorBody);
    await app.register(
      uiPlugin(member.node, {
        httpAddressOf: () => null,
        tokenRequired: () => false,
        bundleDirectory: join(empty, "public"),
      }),
    );
    try {
      const answer = await app.inject({ url: "/ui/" });
      expect(answer.statusCode).toBe(503);
      expect(answer.headers["content-type"]).toMatch(/^text\/html/);
      expect(answer.body).toContain("npm run build:ui");
      expect((await app.inject({ url: "/api/v3/ui/overview" })).statusCode).toBe(200);
    } finally {
      await app.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe("the dashboard's API", () => {
  it("says a token is needed, without one", async () => {
    const answer = await fetch(`${base}/api/v3/ui/auth`);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ token_required: true });
  });

  it("refuses the stream, the overview and the timeline without the token", async () => {
    for (const path of ["/api/v3/ui/stream", "/api/v3/ui/overview", "/api/v3/cluster/timeline"]) {
      const answer = await fetch(`${base}${path}`);
      expect(answer.status, path).toBe(401);
      expect(((await answer.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    }
  });

  it("streams text/event-stream: the task history, then an overview of the node", async () => {
    const answer = await fetch(`${base}/api/v3/ui/stream`, { headers: auth });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const text = await readUntil(answer, (so) => so.includes("event: overview") && so.endsWith("\n\n"));
    expect(text.startsWith("event: history\n")).toBe(true);
    const overviewEvent = text.split("\n\n").find((block) => block.startsWith("event: overview"))!;
    const data = JSON.parse(
      overviewEvent
        .split("\n")
        .find((line) => line.startsWith("data: "))!
        .slice(6),
    ) as {
      node: { id: string; role: string };
      members: { id: string; http_addr: string | null }[];
    };
    expect(data.node).toMatchObject({ id: "n1", role: "leader" });
    expect(data.members).toEqual([expect.objectContaining({ id: "n1", http_addr: member.http })]);
  });

  it("keeps the elections and leader changes this node saw", async () => {
    const answer = await fetch(`${base}/api/v3/cluster/timeline`, { headers: auth });
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as {
      node_id: string;
      events: { kind: string; leader_id: string | null }[];
    };
    expect(body.node_id).toBe("n1");
    expect(body.events.at(-1)).toMatchObject({ leader_id: "n1" });
  });
});

describe("cross-origin reads", () => {
  it("answers a preflight without a token, allowing any origin, the methods and the headers the page sends", async () => {
    const answer = await fetch(`${base}/api/v3/workflows/00000000-0000-4000-8000-000000000000`, {
      method: "OPTIONS",
      headers: {
        origin: "http://elsewhere.example:8080",
        "access-control-request-method": "DELETE",
        "access-control-request-headers": "authorization,content-type",
      },
    });
    expect(answer.status).toBe(204);
    expect(answer.headers.get("access-control-allow-origin")).toBe("*");
    expect(answer.headers.get("access-control-allow-methods")).toBe("GET, POST, DELETE");
    expect(answer.headers.get("access-control-allow-headers")).toBe("authorization, content-type");
    expect(answer.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("lets another origin read answers and event streams (which write their own head)", async () => {
    const headers = { ...auth, origin: "http://elsewhere.example:8080" };
    const plain = await fetch(`${base}/api/v3/ui/overview`, { headers });
    expect(plain.headers.get("access-control-allow-origin")).toBe("*");
    const stream = await fetch(`${base}/api/v3/ui/stream`, { headers });
    expect(stream.headers.get("access-control-allow-origin")).toBe("*");
    await stream.body!.cancel();
  });
});

describe("the OpenAPI document", () => {
  it("documents the dashboard's API routes and leaves /ui out", async () => {
    const doc = (await member.app.inject({ url: "/api/v3/openapi.json" })).json<{
      paths: Record<string, Record<string, { summary?: string; responses: Record<string, unknown> }>>;
    }>();
    expect(doc.paths["/api/v3/ui/stream"]?.["get"]?.summary).toMatch(/server-sent events/);
    expect(Object.keys(doc.paths["/api/v3/ui/stream"]!["get"]!.responses["200"] as object)).toContain(
      "content",
    );
    expect(JSON.stringify(doc.paths["/api/v3/ui/stream"])).toContain("text/event-stream");
    expect(doc.paths["/api/v3/cluster/timeline"]?.["get"]?.summary).toMatch(/leader changes/);
    expect(doc.paths["/api/v3/ui/overview"]).toBeDefined();
    expect(Object.keys(doc.paths).filter((path) => path.startsWith("/ui"))).toEqual([]);
  });
});
