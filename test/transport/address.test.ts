// Proves that raft addresses parse as host:port (IPv6 in brackets), that port 0 is accepted only
// for listening, and that malformed addresses are refused with the offending text.

import { describe, expect, it } from "vitest";
import { formatAddress, parseAddress } from "../../src/transport/index.js";

describe("addresses", () => {
  it("parses host names, IPv4 and bracketed IPv6", () => {
    expect(parseAddress("juno-1.internal:9090")).toEqual({ host: "juno-1.internal", port: 9090 });
    expect(parseAddress("0.0.0.0:9090")).toEqual({ host: "0.0.0.0", port: 9090 });
    expect(parseAddress("[::1]:9090")).toEqual({ host: "::1", port: 9090 });
    expect(formatAddress({ host: "::1", port: 9090 })).toBe("[::1]:9090");
    expect(formatAddress({ host: "127.0.0.1", port: 1 })).toBe("127.0.0.1:1");
  });

  it("accepts port 0 only for listening", () => {
    expect(parseAddress("127.0.0.1:0", true).port).toBe(0);
    expect(() => parseAddress("127.0.0.1:0")).toThrow(RangeError);
  });

  it.each(["", "9090", "host:", ":9090", "host:65536", "host:port", "::1:9090", "a b:1", "host:9090x"])(
    "refuses %j",
    (address) => {
      expect(() => parseAddress(address, true)).toThrow(/address/);
    },
  );
});
