// Proves that host:port addresses are parsed strictly (IPv4, hostnames, bracketed IPv6), written back in a form that parses to the same address, and classified correctly as wildcard or loopback.

import { describe, expect, it } from "vitest";
import {
  formatAddress,
  isLoopback,
  isWildcard,
  localDialAddress,
  overlaps,
  parseAddress,
  type Address,
} from "../../src/config/address.js";
import { Invalid } from "../../src/config/errors.js";

/** The address in `text`, failing the test when it is refused. */
function address(text: string): Address {
  const parsed = parseAddress(text);
  if (parsed instanceof Invalid) throw new Error(parsed.reason);
  return parsed;
}

describe("parseAddress", () => {
  it.each([
    ["0.0.0.0:8080", "0.0.0.0", 8080],
    ["127.0.0.1:1", "127.0.0.1", 1],
    ["10.1.2.3:65535", "10.1.2.3", 65535],
    ["localhost:9090", "localhost", 9090],
    ["Node-1.Example.COM:9090", "node-1.example.com", 9090],
    ["juno_node_1:9090", "juno_node_1", 9090],
    ["[::1]:9090", "::1", 9090],
    ["[::]:8080", "::", 8080],
    ["[0:0:0:0:0:0:0:1]:9090", "::1", 9090],
    ["[FE80::ABCD]:9090", "fe80::abcd", 9090],
    ["[::ffff:127.0.0.1]:9090", "::ffff:7f00:1", 9090],
  ])("reads %s", (text, host, port) => {
    expect(parseAddress(text)).toEqual({ host, port });
  });

  it.each([
    ["8080", "no port"],
    ["host:", "empty port"],
    [":8080", "empty host"],
    ["host:0", "port 0"],
    ["host:65536", "port too large"],
    ["host:80a", "port not a number"],
    ["host:-1", "negative port"],
    ["::1:9090", "IPv6 without brackets"],
    ["[::1]9090", "bracket without colon"],
    ["[::g]:9090", "bad IPv6"],
    ["[fe80::1%eth0]:9090", "IPv6 zone"],
    ["256.0.0.1:80", "IPv4 octet out of range"],
    ["010.0.0.1:80", "IPv4 with a leading zero"],
    ["10.0.0:80", "three-part IPv4"],
    ["-host:80", "label starting with a hyphen"],
    ["host-.example:80", "label ending with a hyphen"],
    ["a..b:80", "empty label"],
    ["host name:80", "space in the host"],
    [`${"a".repeat(64)}:80`, "label longer than 63"],
    ["http://host:80", "a URL"],
  ])("refuses %s (%s) with malformed_address", (text) => {
    const parsed = parseAddress(text);
    expect(parsed).toBeInstanceOf(Invalid);
    expect((parsed as Invalid).code).toBe("malformed_address");
  });

  it("names the expected form in the refusal", () => {
    expect((parseAddress("nope") as Invalid).reason).toContain("host:port");
  });

  it.each(["0.0.0.0:8080", "node-1.example:9090", "[::1]:9090", "[2001:db8::7]:443", "[::]:1"])(
    "writes %s back in a form that parses to the same address",
    (text) => {
      const parsed = address(text);
      expect(formatAddress(parsed)).toBe(text);
      expect(parseAddress(formatAddress(parsed))).toEqual(parsed);
    },
  );
});

describe("loopback and wildcard", () => {
  it.each(["127.0.0.1:1", "127.255.0.9:1", "[::1]:1", "localhost:1", "[::ffff:127.0.0.1]:1"])(
    "%s is loopback",
    (text) => {
      expect(isLoopback(address(text))).toBe(true);
    },
  );

  it.each([
    "0.0.0.0:1",
    "[::]:1",
    "192.168.1.10:1",
    "10.0.0.1:1",
    "[2001:db8::1]:1",
    "node.local:1",
    "[::ffff:10.0.0.1]:1",
  ])("%s is not loopback", (text) => {
    expect(isLoopback(address(text))).toBe(false);
  });

  it("only 0.0.0.0 and :: are wildcards, and they dial as loopback of the same family", () => {
    expect(isWildcard(address("0.0.0.0:80"))).toBe(true);
    expect(isWildcard(address("[::]:80"))).toBe(true);
    expect(isWildcard(address("127.0.0.1:80"))).toBe(false);
    expect(localDialAddress(address("0.0.0.0:80"))).toEqual(address("127.0.0.1:80"));
    expect(localDialAddress(address("[::]:80"))).toEqual(address("[::1]:80"));
    expect(localDialAddress(address("10.0.0.1:80"))).toEqual(address("10.0.0.1:80"));
  });

  it("two listeners overlap when they share a port and a host, or either is a wildcard", () => {
    expect(overlaps(address("0.0.0.0:80"), address("127.0.0.1:80"))).toBe(true);
    expect(overlaps(address("10.0.0.1:80"), address("10.0.0.1:80"))).toBe(true);
    expect(overlaps(address("10.0.0.1:80"), address("10.0.0.2:80"))).toBe(false);
    expect(overlaps(address("0.0.0.0:80"), address("0.0.0.0:81"))).toBe(false);
  });
});
