// Proves the active checks against real sockets on loopback: an HTTP check passes on 2xx, reads 429,
// 503 and x-juno-overloaded as an overloaded but live agent, fails on other statuses, a refused
// connection and its timeout (fired by the test through injected timers, so no test waits), does not
// follow redirects, takes an answer that came in time though this process stalled past the timeout, and
// is slow past half its timeout (measured on an injected clock); a TCP check passes
// when a connection is accepted and fails on a closed port or its timeout; both never throw, and a
// cancelled check settles at once.

import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpCheck, TcpCheck, healthUrl } from "../../../src/agents/health/index.js";
import { ManualTimers, eventually } from "./helpers.js";

let server: http.Server;
let baseUrl: string;
let port: number;
let closedPort: number;
const hanging: http.ServerResponse[] = [];
let onStallEnd: () => void = () => undefined;

/** Listens on an ephemeral loopback port and returns it. */
function listen(target: http.Server | net.Server): Promise<number> {
  return new Promise((resolve) => {
    target.listen(0, "127.0.0.1", () => resolve((target.address() as AddressInfo).port));
  });
}

beforeAll(async () => {
  server = http.createServer((request, response) => {
    const routes: Record<string, () => void> = {
      "/health": () => response.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}'),
      "/busy": () => response.writeHead(429).end(),
      "/shedding": () => response.writeHead(503).end(),
      "/overloaded": () => response.writeHead(200, { "x-juno-overloaded": "1" }).end(),
      "/not-overloaded": () => response.writeHead(204, { "x-juno-overloaded": "false" }).end(),
      "/broken": () => response.writeHead(500).end("boom"),
      "/moved": () => response.writeHead(302, { location: "http://127.0.0.1:1/health" }).end(),
      "/hang": () => void hanging.push(response),
      "/answer-then-stall": () => {
        // The agent answers; then this process stalls (as a leader under a long GC does) and,
        // on waking, the timeout's timer runs before the answer that came meanwhile is read.
        response.writeHead(200).end();
        setTimeout(() => onStallEnd(), 0);
        const until = Date.now() + 50;
        while (Date.now() < until) {
          // busy: the event loop is blocked
        }
      },
    };
    const route = routes[request.url ?? ""];
    if (route === undefined) response.writeHead(404).end();
    else route();
  });
  port = await listen(server);
  baseUrl = `http://127.0.0.1:${port}`;
  // A port that was just free and is closed again: connections to it are refused.
  const probe = net.createServer();
  closedPort = await listen(probe);
  await new Promise((resolve) => probe.close(resolve));
});

afterAll(async () => {
  for (const response of hanging) response.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** An HTTP check of `path` with Node's timers and a long timeout: it must answer by itself. */
function httpCheck(path: string): HttpCheck {
  return new HttpCheck(`${baseUrl}${path}`, { timeoutMs: 60_000 });
}

const signal = (): AbortSignal => new AbortController().signal;

describe("http check", () => {
  it("passes on 2xx", async () => {
    expect(await httpCheck("/health").run(signal())).toMatchObject({
      ok: true,
      slow: false,
      overloaded: false,
      detail: "HTTP 200",
    });
    expect(await httpCheck("/not-overloaded").run(signal())).toMatchObject({ ok: true, overloaded: false });
  });

  it("reads 429, 503 and x-juno-overloaded as alive but overloaded", async () => {
    expect(await httpCheck("/busy").run(signal())).toMatchObject({
      ok: true,
      overloaded: true,
      detail: "HTTP 429",
    });
    expect(await httpCheck("/shedding").run(signal())).toMatchObject({ ok: true, overloaded: true });
    expect(await httpCheck("/overloaded").run(signal())).toMatchObject({
      ok: true,
      overloaded: true,
      detail: "HTTP 200 with x-juno-overloaded",
    });
  });

  it("fails on other statuses, and does not follow redirects", async () => {
    expect(await httpCheck("/broken").run(signal())).toMatchObject({ ok: false, detail: "HTTP 500" });
    expect(await httpCheck("/missing").run(signal())).toMatchObject({ ok: false, detail: "HTTP 404" });
    expect(await httpCheck("/moved").run(signal())).toMatchObject({ ok: false, detail: "HTTP 302" });
  });

  it("fails on a refused connection, with the error code", async () => {
    const result = await new HttpCheck(`http://127.0.0.1:${closedPort}/health`, { timeoutMs: 60_000 }).run(
      signal(),
    );
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/^ECONNREFUSED/);
  });

  it("fails when its timeout fires before the agent answers", async () => {
    const timers = new ManualTimers();
    const check = new HttpCheck(`${baseUrl}/hang`, { timeoutMs: 5_000, timers });
    const hangingBefore = hanging.length;
    const pending = check.run(signal());
    await eventually(() => hanging.length > hangingBefore, "the request to reach the server");
    expect(timers.fire(5_000)).toBe(1);
    expect(await pending).toMatchObject({ ok: false, detail: "timed out after 5000 ms" });
  });

  it("takes an answer that came before its timeout even when this process stalled past it", async () => {
    const timers = new ManualTimers();
    const check = new HttpCheck(`${baseUrl}/answer-then-stall`, { timeoutMs: 5_000, timers });
    onStallEnd = () => timers.fire(5_000);
    const result = await check.run(signal());
    expect(timers.pending(5_000)).toHaveLength(0);
    expect(result).toMatchObject({ ok: true, detail: "HTTP 200" });
  });

  it("is slow past half its timeout by default, or past its own threshold", async () => {
    let nowMs = 0;
    const clock = (): number => (nowMs += 1_500);
    const slow = await new HttpCheck(`${baseUrl}/health`, { timeoutMs: 2_000, clock }).run(signal());
    expect(slow).toMatchObject({ ok: true, slow: true, latencyMs: 1_500 });
    const fine = await new HttpCheck(`${baseUrl}/health`, {
      timeoutMs: 2_000,
      slowAfterMs: 1_800,
      clock,
    }).run(signal());
    expect(fine).toMatchObject({ ok: true, slow: false });
  });

  it("settles at once when cancelled, before or during the request", async () => {
    const aborted = new AbortController();
    aborted.abort();
    expect(await httpCheck("/health").run(aborted.signal)).toMatchObject({ ok: false, detail: "cancelled" });
    const controller = new AbortController();
    const hangingBefore = hanging.length;
    const pending = httpCheck("/hang").run(controller.signal);
    await eventually(() => hanging.length > hangingBefore, "the request to reach the server");
    controller.abort();
    expect(await pending).toMatchObject({ ok: false, detail: "cancelled" });
  });

  it("builds the default health URL from an endpoint, and refuses bad settings", () => {
    expect(healthUrl("http://agent:8080")).toBe("http://agent:8080/health");
    expect(healthUrl("http://agent:8080/")).toBe("http://agent:8080/health");
    expect(healthUrl("http://agent:8080/base/", "/ready")).toBe("http://agent:8080/base/ready");
    expect(() => new HttpCheck("not a url", { timeoutMs: 1 })).toThrow();
    expect(() => new HttpCheck(baseUrl, { timeoutMs: 0 })).toThrow(RangeError);
    expect(() => new HttpCheck(baseUrl, { timeoutMs: 10, slowAfterMs: 11 })).toThrow(RangeError);
  });
});

describe("tcp check", () => {
  it("passes when the connection is accepted", async () => {
    expect(await new TcpCheck("127.0.0.1", port, { timeoutMs: 60_000 }).run(signal())).toMatchObject({
      ok: true,
      detail: `connected to 127.0.0.1:${port}`,
    });
  });

  it("fails on a closed port", async () => {
    const result = await new TcpCheck("127.0.0.1", closedPort, { timeoutMs: 60_000 }).run(signal());
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/^ECONNREFUSED/);
  });

  it("fails when its timeout fires first, and settles at once when cancelled", async () => {
    const timers = new ManualTimers();
    // The timeout fires in the same turn as the connect starts, before any socket event can arrive.
    const pending = new TcpCheck("127.0.0.1", port, { timeoutMs: 5_000, timers }).run(signal());
    expect(timers.fire(5_000)).toBe(1);
    expect(await pending).toMatchObject({ ok: false, detail: "timed out after 5000 ms" });
    const controller = new AbortController();
    const cancelled = new TcpCheck("127.0.0.1", port, { timeoutMs: 5_000, timers }).run(controller.signal);
    controller.abort();
    expect(await cancelled).toMatchObject({ ok: false, detail: "cancelled" });
    expect(timers.pending()).toEqual([]);
    expect(() => new TcpCheck("127.0.0.1", 0, { timeoutMs: 1 })).toThrow(RangeError);
  });
});
