// Proves the Raft port answers the seed's `curl :9090/metrics/consensus` without disturbing peers:
// a connection starting with "GET " gets an HTTP answer, and peers still handshake and exchange
// messages on the same port.

import { describe, expect, it } from "vitest";
import { heartbeat, startCluster } from "./helpers.js";

const serveHttp = (path: string): Promise<{ status: number; contentType: string; body: string }> =>
  Promise.resolve(
    path === "/metrics/consensus"
      ? { status: 200, contentType: "text/plain", body: "juno_raft_term 7\n" }
      : { status: 404, contentType: "text/plain", body: "not found\n" },
  );

describe("HTTP on the Raft port", () => {
  it("answers GET /metrics/consensus while peers keep talking", async () => {
    const nodes = await startCluster(["a", "b"], { serveHttp });
    const a = nodes.get("a")!;
    const b = nodes.get("b")!;
    a.transport.send([heartbeat("a", "b", 1)]);
    await b.inbox.waitForCount(1);

    const metrics = await fetch(`http://${b.address}/metrics/consensus`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toBe("juno_raft_term 7\n");
    const missing = await fetch(`http://${b.address}/nope`);
    expect(missing.status).toBe(404);
    await missing.text();

    a.transport.send([heartbeat("a", "b", 2)]);
    b.transport.send([heartbeat("b", "a", 3)]);
    await b.inbox.waitForCount(2);
    await a.inbox.waitForCount(1);
    expect(b.inbox.messages.map((m) => (m.type === "heartbeat" ? m.readSeq : -1))).toEqual([1, 2]);
  });
});
