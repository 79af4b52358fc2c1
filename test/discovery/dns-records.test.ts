// Proves that DNS answers are read as the provider needs them: SRV records through CNAMEs, the
// shortest TTL of what was used, negative TTLs from the SOA record (RFC 2308), TXT strings as
// key=value pairs, and DNS server addresses in their usual spellings.

import { describe, expect, it } from "vitest";
import type * as dnsPacket from "dns-packet";
import {
  DiscoveryError,
  addressRecords,
  negativeTtlSeconds,
  parseDnsServer,
  refreshDelayMs,
  serviceRecords,
  textPairs,
  textStrings,
} from "../../src/discovery/index.js";

const answers: dnsPacket.Answer[] = [
  { type: "CNAME", name: "_agents._tcp.example.test", ttl: 20, data: "_real._tcp.example.test" },
  {
    type: "SRV",
    name: "_real._tcp.example.test",
    ttl: 60,
    data: { target: "a.example.test.", port: 80, priority: 1, weight: 3 },
  },
  { type: "SRV", name: "_REAL._tcp.example.test.", ttl: 40, data: { target: "b.example.test", port: 81 } },
  { type: "SRV", name: "_other._tcp.example.test", ttl: 1, data: { target: "c.example.test", port: 82 } },
  { type: "A", name: "a.example.test", ttl: 15, data: "10.0.0.1" },
  {
    type: "TXT",
    name: "a.example.test",
    ttl: 5,
    data: [Buffer.from("team=x"), "Skills=a,b", "flag", "=novalue"],
  },
];

describe("DNS records", () => {
  it("follows a CNAME to the SRV records and keeps the shortest TTL", () => {
    const read = serviceRecords(answers, "_agents._tcp.example.test");
    expect(
      read.records.map((record) => [record.target, record.port, record.priority, record.weight]),
    ).toEqual([
      ["a.example.test", 80, 1, 3],
      ["b.example.test", 81, 0, 0],
    ]);
    expect(read.ttlSeconds).toBe(20);
    expect(serviceRecords(answers, "_none._tcp.example.test")).toEqual({ records: [], ttlSeconds: null });
  });

  it("reads addresses and TXT strings with their TTLs", () => {
    expect(addressRecords(answers, "a.example.test", "A")).toEqual({ records: ["10.0.0.1"], ttlSeconds: 15 });
    expect(addressRecords(answers, "a.example.test", "AAAA")).toEqual({ records: [], ttlSeconds: null });
    const text = textStrings(answers, "a.example.test");
    expect(text.ttlSeconds).toBe(5);
    expect(textPairs(text.records)).toEqual([
      ["team", "x"],
      ["skills", "a,b"],
    ]);
  });

  it("takes a negative answer's TTL from its SOA record", () => {
    const soa: dnsPacket.Answer = {
      type: "SOA",
      name: "example.test",
      ttl: 300,
      data: { mname: "ns.example.test", rname: "admin.example.test", minimum: 60 },
    };
    expect(negativeTtlSeconds([soa])).toBe(60);
    expect(negativeTtlSeconds([])).toBeNull();
  });

  it("keeps the refresh delay between the floor and the ceiling", () => {
    expect(refreshDelayMs(30, 5_000, 300_000, 1)).toBe(30_000);
    expect(refreshDelayMs(0, 5_000, 300_000, 1)).toBe(5_000);
    expect(refreshDelayMs(86_400, 5_000, 300_000, 1)).toBe(300_000);
    expect(refreshDelayMs(null, 5_000, 300_000, 20_000)).toBe(20_000);
  });

  it("reads DNS server addresses", () => {
    expect(parseDnsServer("10.0.0.53")).toEqual({ host: "10.0.0.53", port: 53 });
    expect(parseDnsServer("127.0.0.1:5353")).toEqual({ host: "127.0.0.1", port: 5353 });
    expect(parseDnsServer("[::1]:5353")).toEqual({ host: "::1", port: 5353 });
    expect(parseDnsServer("fd00::53")).toEqual({ host: "fd00::53", port: 53 });
    expect(() => parseDnsServer("host:99999")).toThrow(DiscoveryError);
  });
});
