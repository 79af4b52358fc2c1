// Proves the peer transport's mutual TLS over real sockets: members with certificates from the cluster CA connect and exchange messages (with the cluster secret still checked inside TLS, and HTTP on the Raft port served inside TLS); a peer presenting an expired certificate, a self-signed one, one from another CA, or none, is refused both ways with the refusal counted, nothing it sent delivered; a dialled peer whose certificate does not name the host is refused; and a renewed certificate is taken without a restart.

import tls from "node:tls";
import { describe, expect, it } from "vitest";
import type { PeerTlsOptions } from "../../src/transport/tls.js";
import { heartbeat, peerStats, startNode, waitUntil } from "../transport/helpers.js";
import { certificates } from "./fixtures.js";

const certs = certificates();

/** TLS options for a member presenting `pair`, trusting the cluster CA. */
function tlsWith(pair: { certPem: string; keyPem: string }, ca = certs.ca.certPem): PeerTlsOptions {
  return { cert: pair.certPem, key: pair.keyPem, ca };
}

const MEMBER = tlsWith(certs.member);

describe("peer transport over mutual TLS", () => {
  it("members with the cluster CA's certificates connect both ways and deliver messages", async () => {
    const b = await startNode("b", { tls: MEMBER });
    const a = await startNode("a", { tls: MEMBER, peers: { b: b.address } });
    b.transport.updatePeers({ a: a.address });
    a.transport.send([heartbeat("a", "b", 1)]);
    b.transport.send([heartbeat("b", "a", 2)]);
    await b.inbox.waitForCount(1);
    await a.inbox.waitForCount(1);
    expect(b.inbox.messages[0]).toMatchObject({ from: "a", readSeq: 1 });
    expect(a.transport.stats()).toMatchObject({ tls: true, authenticated: true });
    expect(b.transport.stats().inbound).toMatchObject({ refusedCertificates: 0, authenticatedHandshakes: 1 });
  });

  it("still checks the cluster secret inside TLS", async () => {
    const b = await startNode("b", { tls: MEMBER });
    const a = await startNode("a", {
      tls: MEMBER,
      clusterSecret: "not-the-cluster-secret!",
      peers: { b: b.address },
    });
    a.transport.send([heartbeat("a", "b", 1)]);
    await waitUntil(() => peerStats(a.transport, "b").handshakeFailures >= 1, "a's handshake to fail");
    expect(peerStats(a.transport, "b").lastError).toMatch(/secret/);
    expect(b.inbox.messages).toEqual([]);
  });

  it.each([
    ["an expired certificate", () => tlsWith(certs.expired), /expired/],
    ["a self-signed certificate", () => tlsWith(certs.selfSigned), /self-signed|not the cluster CA/],
    ["a certificate from another CA", () => tlsWith(certs.foreign), /not issued by the cluster CA/],
  ])("refuses a peer with %s, both ways, and delivers nothing", async (_name, options, reason) => {
    const b = await startNode("b", { tls: MEMBER });
    // The bad peer trusts the cluster CA, so only its own certificate is at fault.
    const bad = await startNode("x", { tls: options(), peers: { b: b.address } });
    b.transport.updatePeers({ x: bad.address });
    bad.transport.send([heartbeat("x", "b", 1)]);
    b.transport.send([heartbeat("b", "x", 1)]);
    // b refuses x's certificate when x dials in, and when b dials x.
    await waitUntil(() => b.transport.stats().inbound.refusedCertificates >= 1, "b to refuse x's connection");
    await waitUntil(
      () => peerStats(b.transport, "x").certificateFailures >= 1,
      "b to refuse x's server certificate",
    );
    expect(peerStats(b.transport, "x").lastError).toMatch(reason);
    expect(peerStats(b.transport, "x")).toMatchObject({ connected: false, sentMessages: 0 });
    // x learns that it was turned away (without the reason, which only b can log).
    await waitUntil(() => peerStats(bad.transport, "b").handshakeFailures >= 1, "x's handshake to fail");
    expect(peerStats(bad.transport, "b").connected).toBe(false);
    expect(b.inbox.messages).toEqual([]);
    expect(bad.inbox.messages).toEqual([]);
    expect(b.transport.stats().inbound.authenticatedHandshakes).toBe(0);
  });

  it("refuses a connection that presents no certificate", async () => {
    const b = await startNode("b", { tls: MEMBER });
    const socket = tls.connect({ host: "127.0.0.1", port: b.transport.port, ca: certs.ca.certPem });
    socket.on("error", () => {});
    await new Promise((resolve) => socket.once("close", resolve));
    expect(b.transport.stats().inbound).toMatchObject({ refusedCertificates: 1, authenticatedHandshakes: 0 });
  });

  it("refuses plain TCP on a TLS port, and TLS from a peer that does not use it", async () => {
    const b = await startNode("b", { tls: MEMBER });
    const plain = await startNode("p", { peers: { b: b.address } });
    plain.transport.send([heartbeat("p", "b", 1)]);
    await waitUntil(() => b.transport.stats().inbound.tlsHandshakeFailures >= 1, "b to refuse plain TCP");
    expect(b.inbox.messages).toEqual([]);
  });

  it("refuses a dialled peer whose certificate does not name the host it is dialled at", async () => {
    const b = await startNode("b", { tls: tlsWith(certs.misnamed) });
    const a = await startNode("a", { tls: MEMBER, peers: { b: b.address } });
    a.transport.send([heartbeat("a", "b", 1)]);
    await waitUntil(() => peerStats(a.transport, "b").certificateFailures >= 1, "a to refuse b's name");
    expect(peerStats(a.transport, "b").lastError).toMatch(/does not name the host/);
    expect(b.inbox.messages).toEqual([]);
  });

  it("takes a renewed certificate for new connections without a restart", async () => {
    const b = await startNode("b", { tls: MEMBER });
    // a starts with an expired certificate, is refused, then gets a good one.
    const a = await startNode("a", { tls: tlsWith(certs.expired), peers: { b: b.address } });
    a.transport.send([heartbeat("a", "b", 1)]);
    await waitUntil(
      () => b.transport.stats().inbound.refusedCertificates >= 1,
      "b to refuse a's expired certificate",
    );
    a.transport.setTls(MEMBER);
    a.transport.send([heartbeat("a", "b", 2)]);
    await b.inbox.waitForCount(1);
    expect(b.inbox.messages[0]).toMatchObject({ from: "a" });
  });

  it("serves HTTP on the Raft port inside TLS, to a client with a certificate", async () => {
    const b = await startNode("b", {
      tls: MEMBER,
      serveHttp: () =>
        Promise.resolve({ status: 200, contentType: "text/plain", body: "juno_raft_term 7\n" }),
    });
    const body = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({
        host: "127.0.0.1",
        port: b.transport.port,
        ca: certs.ca.certPem,
        cert: certs.client.certPem,
        key: certs.client.keyPem,
      });
      let text = "";
      socket.on("secureConnect", () => socket.write("GET /metrics/consensus HTTP/1.1\r\nhost: b\r\n\r\n"));
      socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
      socket.on("error", reject);
      socket.on("close", () => resolve(text));
    });
    expect(body).toMatch(/^HTTP\/1.1 200/);
    expect(body).toContain("juno_raft_term 7");
  });
});
