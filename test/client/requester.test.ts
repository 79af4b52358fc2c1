// Proves the SDK's wire layer reads answers the same way through undici and through a fetch: a
// body split anywhere (even inside a UTF-8 character) decodes whole, a body over the bound is
// refused whether its length is declared or not, and repeated headers read as one value.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ResponseTooLarge,
  fetchRequester,
  requesterFor,
  type Requester,
} from "../../src/client/requester.js";

let server: Server;
let base = "";

beforeAll(async () => {
  server = createServer((request, response) => {
    if (request.url === "/split") {
      // "héllo wörld" with the two-byte characters cut across writes.
      const bytes = Buffer.from(JSON.stringify({ text: "héllo wörld" }), "utf8");
      response.writeHead(200, { "content-type": "application/json", "x-many": ["a", "b"] });
      for (let i = 0; i < bytes.length; i += 3) response.write(bytes.subarray(i, i + 3));
      response.end();
    } else if (request.url === "/chunked-large") {
      response.writeHead(200, { "content-type": "application/json" });
      for (let i = 0; i < 20; i++) response.write("x".repeat(100));
      response.end();
    } else if (request.url === "/declared-large") {
      response.end("y".repeat(5_000));
    } else {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () =>
        response.end(JSON.stringify({ method: request.method, body, path: request.url })),
      );
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const requesters: [string, Requester][] = [
  ["undici", requesterFor({})],
  ["fetch", fetchRequester((input, init) => fetch(input, init))],
];

function request(bytesMax = 1_000_000, method = "GET", body?: string) {
  return {
    method,
    headers: { accept: "application/json" },
    body,
    signal: new AbortController().signal,
    bytesMax,
  };
}

describe.each(requesters)("the %s requester", (_name, send) => {
  it("decodes a body split inside its characters, and joins a repeated header", async () => {
    const answer = await send(`${base}/split`, request());
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({ text: "héllo wörld" });
    expect(answer.header("x-many")).toBe("a, b");
    expect(answer.header("x-absent")).toBeNull();
  });

  it("refuses a body over the bound, declared or streamed", async () => {
    await expect(send(`${base}/declared-large`, request(1_000))).rejects.toBeInstanceOf(ResponseTooLarge);
    await expect(send(`${base}/chunked-large`, request(1_000))).rejects.toBeInstanceOf(ResponseTooLarge);
    // The connection is still usable afterwards.
    expect((await send(`${base}/split`, request())).status).toBe(200);
  });

  it("sends the method, the body and the query as given", async () => {
    const answer = await send(`${base}/echo?a=1&b=two`, request(1_000, "POST", '{"x":1}'));
    expect(JSON.parse(answer.text)).toEqual({ method: "POST", body: '{"x":1}', path: "/echo?a=1&b=two" });
  });
});
