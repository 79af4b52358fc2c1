// Proves that bad input gets a clear error in the one shape, with the right status, and changes
// nothing: malformed JSON, wrong types, missing fields, unknown routes, oversized bodies, absurd
// limits, missing or wrong tokens, and random bodies thrown at every route.

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiCluster, type Member } from "./cluster.js";

const TOKEN = "s3cret-token";
let cluster: ApiCluster;
let leader: Member;
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  cluster = await ApiCluster.start(TOKEN);
  leader = await cluster.leader();
});
afterAll(async () => {
  await cluster.stop();
});

interface ErrorBody {
  error: { code: string; message: string };
}

async function expectRefused(
  request: {
    method: "GET" | "POST" | "DELETE" | "PUT";
    url: string;
    payload?: string | object;
    headers?: Record<string, string>;
  },
  status: number,
  code: string,
): Promise<void> {
  const lastIndex = leader.node.raft.log.lastIndex();
  const response = await leader.app.inject({ ...request, headers: { ...auth, ...request.headers } });
  expect(response.statusCode, `${request.method} ${request.url}: ${response.body}`).toBe(status);
  const body = response.json<ErrorBody>();
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  expect(leader.node.raft.log.lastIndex(), "nothing was written").toBe(lastIndex);
}

describe("bad input", () => {
  it("malformed JSON", async () => {
    await expectRefused(
      {
        method: "POST",
        url: "/api/v3/consensus/propose",
        payload: "{not json",
        headers: { "content-type": "application/json" },
      },
      400,
      "invalid_json",
    );
  });

  it("wrong types and missing fields", async () => {
    const url = "/api/v3/consensus/propose";
    await expectRefused(
      { method: "POST", url, payload: { entry_type: 5, data: 1 } },
      400,
      "validation_failed",
    );
    await expectRefused({ method: "POST", url, payload: { data: 1 } }, 400, "validation_failed");
    await expectRefused({ method: "POST", url, payload: { entry_type: "x" } }, 400, "validation_failed");
    await expectRefused(
      { method: "POST", url, payload: { entry_type: "", data: 1 } },
      400,
      "validation_failed",
    );
    await expectRefused(
      { method: "POST", url, payload: { entry_type: "x".repeat(51), data: 1 } },
      400,
      "validation_failed",
    );
    await expectRefused(
      { method: "POST", url, payload: { entry_type: "raft.evil", data: 1 } },
      400,
      "validation_failed",
    );
    await expectRefused(
      { method: "POST", url, payload: { entry_type: "x", data: 1, extra: true } },
      400,
      "validation_failed",
    );
    await expectRefused(
      { method: "POST", url, payload: { entry_type: "x", data: 1, approval: { voters: [], quorum: 1 } } },
      400,
      "validation_failed",
    );
    await expectRefused(
      { method: "POST", url, payload: { entry_type: "x", data: 1, approval: { voters: ["a"], quorum: 2 } } },
      400,
      "validation_failed",
    );
    await expectRefused(
      {
        method: "POST",
        url,
        payload: { entry_type: "x", data: 1, approval: { voters: ["a", "a"], quorum: 1 } },
      },
      400,
      "validation_failed",
    );
    const vote = "/api/v3/consensus/vote";
    await expectRefused(
      { method: "POST", url: vote, payload: { proposal: "1", voter: "a", vote: "approve" } },
      400,
      "validation_failed",
    );
    await expectRefused(
      { method: "POST", url: vote, payload: { proposal: 1, voter: "a", vote: "maybe" } },
      400,
      "validation_failed",
    );
    await expectRefused(
      { method: "POST", url: vote, payload: { proposal: 0, voter: "a", vote: "approve" } },
      400,
      "validation_failed",
    );
  });

  it("unknown routes and methods", async () => {
    await expectRefused({ method: "GET", url: "/api/v3/nope" }, 404, "not_found");
    await expectRefused({ method: "PUT", url: "/api/v3/consensus/propose", payload: {} }, 404, "not_found");
  });

  it("bodies over 1 MiB", async () => {
    await expectRefused(
      {
        method: "POST",
        url: "/api/v3/consensus/propose",
        payload: { entry_type: "big", data: "x".repeat(1024 * 1024 + 10) },
      },
      413,
      "payload_too_large",
    );
  });

  it("absurd limits and bad query parameters", async () => {
    await expectRefused(
      { method: "GET", url: "/api/v3/consensus/log?limit=1000000" },
      400,
      "validation_failed",
    );
    await expectRefused({ method: "GET", url: "/api/v3/consensus/log?limit=0" }, 400, "validation_failed");
    await expectRefused({ method: "GET", url: "/api/v3/consensus/log?from=-3" }, 400, "validation_failed");
    await expectRefused({ method: "GET", url: "/api/v3/consensus/log?from=abc" }, 400, "validation_failed");
    await expectRefused(
      { method: "GET", url: "/api/v3/consensus/log?consistency=sometimes" },
      400,
      "validation_failed",
    );
    await expectRefused({ method: "GET", url: "/api/v3/consensus/log?bogus=1" }, 400, "validation_failed");
  });

  it("missing or wrong tokens", async () => {
    for (const authorization of ["", "Bearer", "Bearer wrong", `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
      await expectRefused(
        {
          method: "POST",
          url: "/api/v3/consensus/propose",
          payload: { entry_type: "x", data: 1 },
          headers: { authorization },
        },
        401,
        "unauthorized",
      );
    }
    // Health endpoints stay open for probes.
    expect((await leader.app.inject({ url: "/healthz" })).statusCode).toBe(200);
  });

  it("random bodies at every route never crash the node nor write anything", async () => {
    const routes = [
      "/api/v3/consensus/propose",
      "/api/v3/consensus/vote",
      "/api/v3/cluster/members",
      "/api/v3/cluster/leader",
    ];
    const body = fc.oneof(
      fc.jsonValue(),
      fc.string(),
      fc.dictionary(
        fc.constantFrom("entry_type", "data", "approval", "proposal", "voter", "vote", "id", "x"),
        fc.jsonValue(),
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), body, async (url, payload) => {
        const lastIndex = leader.node.raft.log.lastIndex();
        const text = typeof payload === "string" ? payload : JSON.stringify(payload);
        const response = await leader.app.inject({
          method: "POST",
          url,
          payload: text,
          headers: { ...auth, "content-type": "application/json" },
        });
        if (response.statusCode < 300) return; // a random body that happens to be valid is fine
        expect(response.statusCode).toBeGreaterThanOrEqual(400);
        expect(response.statusCode).toBeLessThan(500);
        expect(response.json<ErrorBody>().error.code).toMatch(/^[a-z_]+$/);
        expect(leader.node.raft.log.lastIndex()).toBe(lastIndex);
      }),
      { seed: 20261124, numRuns: 300 },
    );
    expect((await leader.app.inject({ url: "/healthz" })).statusCode).toBe(200);
    expect(leader.node.isLeader()).toBe(true);
  });
});
