// Proves that the initial cluster list is read leniently where that is harmless (spaces, trailing commas, any order) and strictly where a mistake would split a cluster (malformed items, duplicate ids or addresses, wildcard addresses).

import { describe, expect, it } from "vitest";
import { Invalid } from "../../src/config/errors.js";
import { PEERS_MAX, formatPeers, parseNodeId, parsePeers } from "../../src/config/peers.js";

/** The code of a refusal, or "accepted". */
function codeOf(text: string): string {
  const parsed = parsePeers(text);
  return parsed instanceof Invalid ? parsed.code : "accepted";
}

describe("parsePeers", () => {
  it("reads id=host:port items and sorts them by id", () => {
    expect(parsePeers("n2=10.0.0.2:9090,n1=10.0.0.1:9090")).toEqual([
      { id: "n1", raftAddress: { host: "10.0.0.1", port: 9090 } },
      { id: "n2", raftAddress: { host: "10.0.0.2", port: 9090 } },
    ]);
  });

  it("reads bracketed IPv6 addresses", () => {
    expect(parsePeers("a=[::1]:9090,b=[::1]:9091")).toEqual([
      { id: "a", raftAddress: { host: "::1", port: 9090 } },
      { id: "b", raftAddress: { host: "::1", port: 9091 } },
    ]);
  });

  it("ignores spaces around items and around '=', and empty items from stray commas", () => {
    const expected = parsePeers("a=h1:1,b=h2:2");
    expect(parsePeers("  a = h1:1 ,  b=h2:2  ")).toEqual(expected);
    expect(parsePeers("a=h1:1,b=h2:2,")).toEqual(expected);
    expect(parsePeers(",a=h1:1,,b=h2:2,,")).toEqual(expected);
  });

  it("accepts a single peer", () => {
    expect(parsePeers("solo=127.0.0.1:9090")).toEqual([
      { id: "solo", raftAddress: { host: "127.0.0.1", port: 9090 } },
    ]);
  });

  it.each([
    [",", "malformed_peers"],
    [" , , ", "malformed_peers"],
    ["n1", "malformed_peers"],
    ["n1:9090", "malformed_peers"],
    ["=h:1", "malformed_peers"],
    ["n1=", "malformed_peers"],
    ["n1=h", "malformed_peers"],
    ["n1=::1:9090", "malformed_peers"],
    ["n/1=h:1", "malformed_peers"],
    ["n1=0.0.0.0:9090", "malformed_peers"],
    ["n1=[::]:9090", "malformed_peers"],
    ["n1=h:1;n2=h:2", "malformed_peers"],
    ["n1=h:1,n1=g:2", "duplicate_peer"],
    ["n1=h:1,n2=h:1", "duplicate_peer"],
    ["n1=H:1,n2=h:1", "duplicate_peer"],
    ["n1=[::1]:1,n2=[0::1]:1", "duplicate_peer"],
  ])("refuses %j with %s", (text, code) => {
    expect(codeOf(text)).toBe(code);
  });

  it(`refuses more than ${PEERS_MAX} peers with out_of_range`, () => {
    const many = (count: number): string =>
      Array.from({ length: count }, (_, i) => `n${i}=10.0.${Math.floor(i / 200)}.${i % 200}:9090`).join(",");
    expect(codeOf(many(PEERS_MAX))).toBe("accepted");
    expect(codeOf(many(PEERS_MAX + 1))).toBe("out_of_range");
  });

  it("writes a list that parses back to the same peers", () => {
    const peers = parsePeers(" b=[2001:DB8::1]:9090, a=Host.Example:9091,");
    expect(peers).not.toBeInstanceOf(Invalid);
    const text = formatPeers(peers as Exclude<typeof peers, Invalid>);
    expect(text).toBe("a=host.example:9091,b=[2001:db8::1]:9090");
    expect(parsePeers(text)).toEqual(peers);
  });
});

describe("parseNodeId", () => {
  it.each(["n1", "juno-1", "juno-phase3-0", "A.b_c-9", "x".repeat(63)])("accepts %s", (id) => {
    expect(parseNodeId(id)).toBe(id);
  });

  it.each(["", "-n1", ".", "..", "_x", "n 1", "n/1", "n=1", "n,1", "x".repeat(64), "nœud"])(
    "refuses %j with malformed_id",
    (id) => {
      expect((parseNodeId(id) as Invalid).code).toBe("malformed_id");
    },
  );
});
