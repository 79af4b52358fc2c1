// Proves the OpenAPI document and the server agree: every route the server serves is
// documented, and every documented operation is served.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { servedRoutes } from "../../src/server/app.js";
import { OPENAPI } from "../../src/server/openapi.js";
import { ApiCluster } from "./cluster.js";

let cluster: ApiCluster;
beforeAll(async () => {
  cluster = await ApiCluster.start(null, ["n1"]);
});
afterAll(async () => {
  await cluster.stop();
});

describe("OpenAPI", () => {
  it("documents exactly the routes the server has", () => {
    const app = [...cluster.members.values()][0]!.app;
    const served = new Set(servedRoutes(app).map((route) => route.replace(/:(\w+)/g, "{$1}")));
    const documented = new Set<string>();
    for (const [path, operations] of Object.entries(OPENAPI.paths)) {
      for (const method of Object.keys(operations)) documented.add(`${method.toUpperCase()} ${path}`);
    }
    expect([...served].sort()).toEqual([...documented].sort());
  });

  it("is served without a token and is valid JSON", async () => {
    const app = [...cluster.members.values()][0]!.app;
    const response = await app.inject({ url: "/api/v3/openapi.json" });
    expect(response.statusCode).toBe(200);
    expect(response.json<{ openapi: string }>().openapi).toBe("3.1.0");
  });
});
