// Proves the OpenAPI document is generated from the routes and agrees with them: every route the
// server serves is documented and every documented operation is served, every operation declares
// its success and error responses, and Swagger UI is served. (The API tests run with strict
// responses on, so any status a route answers without a declared schema fails them.)

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { servedRoutes } from "../../src/server/app.js";
import { ApiCluster } from "./cluster.js";

let cluster: ApiCluster;
beforeAll(async () => {
  cluster = await ApiCluster.start("doc-token", ["n1"]);
});
afterAll(async () => {
  await cluster.stop();
});

interface Document {
  openapi: string;
  paths: Record<
    string,
    Record<string, { responses: Record<string, unknown>; tags?: string[]; security?: unknown[] }>
  >;
  components: { schemas: Record<string, unknown> };
}

async function document(): Promise<Document> {
  const app = [...cluster.members.values()][0]!.app;
  const response = await app.inject({ url: "/api/v3/openapi.json" });
  expect(response.statusCode).toBe(200);
  return response.json<Document>();
}

describe("OpenAPI", () => {
  it("documents exactly the routes the server has", async () => {
    const app = [...cluster.members.values()][0]!.app;
    const served = new Set(
      servedRoutes(app).map((route) => route.replace(/:(\w+)/g, "{$1}").replace(/\/\*$/, "/{*}")),
    );
    const documented = new Set<string>();
    for (const [path, operations] of Object.entries((await document()).paths)) {
      for (const method of Object.keys(operations)) documented.add(`${method.toUpperCase()} ${path}`);
    }
    expect([...served].sort()).toEqual([...documented].sort());
    expect(documented.has("POST /api/v3/consensus/propose")).toBe(true);
  });

  it("is OpenAPI 3.1, served without a token", async () => {
    const doc = await document();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.components.schemas["Error"]).toBeDefined();
  });

  it("every /api/v3 operation declares a success response and the error shape for every failure it can meet", async () => {
    for (const [path, operations] of Object.entries((await document()).paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const statuses = Object.keys(operation.responses);
        const where = `${method.toUpperCase()} ${path}`;
        expect(
          statuses.some((s) => s.startsWith("2")),
          `${where} has a success response`,
        ).toBe(true);
        if (!path.startsWith("/api/v3/")) continue;
        for (const status of ["400", "401", "500"])
          expect(statuses, `${where} declares ${status}`).toContain(status);
        if (method !== "get")
          for (const status of ["413", "415"])
            expect(statuses, `${where} declares ${status}`).toContain(status);
        // A guarded route may refuse a token's role (403) or its rate (429); public ones neither.
        const isPublic = Array.isArray(operation.security) && operation.security.length === 0;
        for (const status of ["403", "429"])
          expect(statuses.includes(status), `${where} declares ${status}`).toBe(!isPublic);
      }
    }
  });

  it("serves Swagger UI at /docs", async () => {
    const app = [...cluster.members.values()][0]!.app;
    const response = await app.inject({ url: "/docs/" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toContain("text/html");
  });
});
