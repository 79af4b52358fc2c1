// Proves the HTTP API over TLS on an in-process node listening on a real socket: the SDK with the CA is served, a client certificate from the client CA is accepted, one that does not verify (self-signed, another CA's, expired) is refused with 401 unauthorized before anything else runs, and a client without one still gets in with its token; plain HTTP to the TLS port gets no answer; and a reloaded certificate serves new connections without a restart.

import type { FastifyInstance } from "fastify";
import { mkdtempSync, rmSync } from "node:fs";
import tls from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, fetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JunoClient } from "../../src/client/index.js";
import { MemoryNetwork } from "../../src/runtime/memory-transport.js";
import { buildServer } from "../../src/server/app.js";
import { reloadServerTls, type ServerTls } from "../../src/server/tls.js";
import { issueCertificate, LOOPBACK_NAMES } from "../../src/tls/certificates.js";
import { createLocalNode, until, type LocalNode } from "../support/local-node.js";
import { certificates } from "./fixtures.js";

const TOKEN = "tls-api-token";
const certs = certificates();
const dir = mkdtempSync(join(tmpdir(), "juno-tls-api-"));
let local: LocalNode;
let app: FastifyInstance;
let base = "";

const SERVER_TLS: ServerTls = {
  cert: certs.member.certPem,
  key: certs.member.keyPem,
  clientCa: certs.ca.certPem,
  peerCa: null,
};

beforeAll(async () => {
  local = createLocalNode({ id: "n1", dir, network: new MemoryNetwork(), founders: ["n1"] });
  app = await buildServer({
    node: local.node,
    apiToken: TOKEN,
    httpAddressOf: () => null,
    tls: SERVER_TLS,
    // Not strict: a refused certificate answers 401 on every route, /healthz included, which
    // documents no 401 (the OpenAPI document declares it for /api/v3 only).
  });
  local.node.start();
  base = await app.listen({ host: "127.0.0.1", port: 0 });
  await until(() => local.node.isLeader());
});

afterAll(async () => {
  local.node.stop();
  await app.close();
  await local.store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** GET `path` presenting `pair` (or no certificate), trusting the test CA; status and body. */
async function get(
  path: string,
  pair: { certPem: string; keyPem: string } | null,
  headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  const dispatcher = new Agent({
    connect: { ca: certs.ca.certPem, ...(pair === null ? {} : { cert: pair.certPem, key: pair.keyPem }) },
  });
  try {
    const response = await fetch(`${base}${path}`, { headers, dispatcher });
    return { status: response.status, body: (await response.json()) as never };
  } finally {
    await dispatcher.close();
  }
}

describe("the HTTP API over TLS", () => {
  it("listens on https and serves the SDK that trusts the CA", async () => {
    expect(base).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const client = new JunoClient({ urls: [base], token: TOKEN, tls: { ca: certs.ca.certPem } });
    expect((await client.status()).node_id).toBe("n1");
  });

  it("accepts a client certificate from the client CA, and a client without one (the token decides)", async () => {
    expect((await get("/api/v3/consensus/status", certs.client)).status).toBe(200);
    expect((await get("/api/v3/consensus/status", null)).status).toBe(200);
    const client = new JunoClient({
      urls: [base],
      token: TOKEN,
      tls: { ca: certs.ca.certPem, cert: certs.client.certPem, key: certs.client.keyPem },
    });
    expect((await client.status()).node_id).toBe("n1");
    // A verified certificate does not stand in for the token.
    expect((await get("/api/v3/consensus/status", certs.client, {})).status).toBe(401);
  });

  it.each([
    ["self-signed", () => certs.selfSigned, /DEPTH_ZERO_SELF_SIGNED_CERT/],
    ["from another CA", () => certs.foreign, /UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_VERIFY/],
    ["expired", () => certs.expired, /CERT_HAS_EXPIRED/],
  ])(
    "refuses a %s client certificate with 401 unauthorized, even on public routes",
    async (_name, pair, code) => {
      const answer = await get("/api/v3/consensus/status", pair());
      expect(answer.status).toBe(401);
      expect(answer.body.error?.code).toBe("unauthorized");
      expect(answer.body.error?.message).toMatch(code);
      expect((await get("/healthz", pair(), {})).status).toBe(401);
    },
  );

  it("gives a plain HTTP request on the TLS port no answer", async () => {
    const error = await globalThis
      .fetch(base.replace("https:", "http:") + "/healthz")
      .then(() => null)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
  });

  it("serves new connections with a reloaded certificate", async () => {
    const renewed = issueCertificate(certs.ca, {
      commonName: "renewed member",
      ...LOOPBACK_NAMES,
      keyPem: certs.member.keyPem,
    });
    const subjectOfNewConnection = () =>
      new Promise<string>((resolve, reject) => {
        const socket = tls.connect({
          host: "127.0.0.1",
          port: Number(new URL(base).port),
          ca: certs.ca.certPem,
        });
        socket.once("secureConnect", () => {
          resolve(String(socket.getPeerCertificate().subject.CN));
          socket.end();
        });
        socket.once("error", reject);
      });
    expect(await subjectOfNewConnection()).toBe("member");
    reloadServerTls(app, { ...SERVER_TLS, cert: renewed.certPem, key: renewed.keyPem });
    expect(await subjectOfNewConnection()).toBe("renewed member");
    // Client certificates are still checked after the reload.
    expect((await get("/healthz", certs.selfSigned, {})).status).toBe(401);
    expect((await get("/healthz", certs.client, {})).status).toBe(200);
  });
});
