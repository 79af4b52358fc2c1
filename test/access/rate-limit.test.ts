// Proves the per-token rate limit on a three-node cluster: past `max` requests in the window a
// token hears 429 rate_limited in the one error shape with Retry-After, while other tokens go on;
// callers without a valid token are counted by address (a guessed token does not get unlimited
// tries); probes and /metrics are never counted; and a leader-only request a follower forwards is
// counted once, by the leader that serves it, not again by the follower.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccessCluster, bearer, fileToken, type AccessMember } from "./cluster.js";

const MAX = 3;
const SECRETS = ["reader-secret-0000001", "reader-secret-0000002", "reader-secret-0000003"];

let cluster: AccessCluster;
let leader: AccessMember;
let follower: AccessMember;

beforeAll(async () => {
  cluster = await AccessCluster.start({
    ids: ["n1", "n2", "n3"],
    fileTokens: SECRETS.map((secret, i) => fileToken(`reader-${i}`, "reader", secret)),
    // A window far longer than the test: no count can lapse halfway through.
    rateLimit: { max: MAX, windowMs: 600_000 },
  });
  leader = await cluster.leader();
  follower = await cluster.follower();
});
afterAll(async () => {
  await cluster.stop();
});

const get = (member: AccessMember, url: string, token: string | null) =>
  member.app.inject({ url, headers: bearer(token) });

describe("rate limits", () => {
  it("answer 429 rate_limited with Retry-After past the limit, for that token only", async () => {
    for (let i = 0; i < MAX; i++)
      expect((await get(leader, "/api/v3/agents", SECRETS[0]!)).statusCode).toBe(200);
    const limited = await get(leader, "/api/v3/agents", SECRETS[0]!);
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toEqual({
      error: { code: "rate_limited", message: expect.stringContaining("retry in") as unknown },
    });
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    // Another token, and the same token on another node, are counted apart.
    expect((await get(leader, "/api/v3/agents/health", SECRETS[1]!)).statusCode).toBe(200);
    const other = [...cluster.members.values()].find((m) => m !== leader && m !== follower)!;
    expect((await get(other, "/api/v3/agents", SECRETS[0]!)).statusCode).toBe(200);
  });

  it("count callers without a valid token by address", async () => {
    const guesses = [];
    for (let i = 0; i <= MAX; i++)
      guesses.push((await get(leader, "/api/v3/agents", `guess-${i}`)).statusCode);
    expect(guesses).toEqual([...Array<number>(MAX).fill(401), 429]);
  });

  it("never count probes and metrics", async () => {
    for (let i = 0; i < 3 * MAX; i++)
      for (const url of ["/healthz", "/readyz", "/metrics"])
        expect((await get(leader, url, null)).statusCode).not.toBe(429);
  });

  it("count a forwarded leader-only request once, on the leader", async () => {
    const token = SECRETS[2]!;
    const health = "/api/v3/agents/aaaaaaaa-0000-4000-8000-000000000009/health";
    // Through the follower, which forwards them: answered by the leader (no such agent).
    for (let i = 0; i < 2; i++) expect((await get(follower, health, token)).statusCode).toBe(404);
    // The follower did not count them: its whole allowance is left.
    for (let i = 0; i < MAX; i++) expect((await get(follower, "/api/v3/agents", token)).statusCode).toBe(200);
    expect((await get(follower, "/api/v3/agents", token)).statusCode).toBe(429);
    // The leader counted each once: one more request, then the limit.
    expect((await get(leader, "/api/v3/agents", token)).statusCode).toBe(200);
    expect((await get(leader, "/api/v3/agents", token)).statusCode).toBe(429);
  });
});
