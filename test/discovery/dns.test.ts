// Proves that the DNS SRV provider, against a real dnsmasq, reports each SRV record as an agent with
// the attributes of its target's TXT record, sees records added, changed and removed when it asks
// again, asks again exactly when the shortest TTL runs out (within its floor and ceiling), falls back
// to TCP when an answer is truncated, and reports a server that is down as an error, never as an
// empty set.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DnsProvider, DiscoveryError, type DnsProviderOptions } from "../../src/discovery/index.js";
import { Dnsmasq, ensureDnsmasq, type Zone } from "./dnsmasq.js";
import { ManualClock } from "./manual-clock.js";
import { Recorder } from "./recorder.js";

const SERVICE = "_agents._tcp.example.test";

const baseZone: Zone = {
  domain: "example.test",
  ttlSeconds: 30,
  srv: [
    { name: SERVICE, target: "alpha.example.test", port: 8080, priority: 0, weight: 5 },
    { name: SERVICE, target: "beta.example.test", port: 9090 },
  ],
  hosts: [
    ["alpha.example.test", "127.0.0.2"],
    ["beta.example.test", "::1"],
  ],
  text: [
    ["alpha.example.test", ["team=search", "skills=rank,index", "capacity=4", "zone=eu-1"]],
    ["beta.example.test", ["weight=2.5"]],
  ],
};

/** Lets the provider's loop schedule its next read after the snapshot it just handed over. */
async function settled(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

/** The waits of the provider's read loop (the hour-long republish timer left out). */
async function readDelays(clock: ManualClock): Promise<number[]> {
  await settled();
  return clock.pendingDelays().filter((delayMs) => delayMs < REPUBLISH_MS);
}

const REPUBLISH_MS = 3_600_000;

describe("DNS SRV provider against dnsmasq", () => {
  let dnsmasq: Dnsmasq;

  beforeAll(async () => {
    await ensureDnsmasq();
    dnsmasq = await Dnsmasq.start(baseZone);
  }, 600_000);

  afterAll(async () => {
    await dnsmasq?.stop();
  });

  function provider(clock: ManualClock, options: Partial<DnsProviderOptions> = {}): DnsProvider {
    return new DnsProvider({
      names: [SERVICE],
      server: dnsmasq.address,
      clock,
      random: () => 0.5,
      // Repeats are tested with the publisher; here every snapshot is a read.
      republishIntervalMs: REPUBLISH_MS,
      minRefreshMs: 1_000,
      maxRefreshMs: 600_000,
      timeoutMs: 5_000,
      ...options,
    });
  }

  it("reports each SRV record with its TXT attributes and its TTL as the next read", async () => {
    await dnsmasq.serve(baseZone);
    const clock = new ManualClock();
    const recorder = new Recorder();
    const running = provider(clock).start(recorder.handlers);
    await recorder.reports(1);
    // The next read waits for the TTL, 30 s.
    expect(await readDelays(clock)).toEqual([30_000]);
    await running.stop();

    expect(recorder.errors).toEqual([]);
    const agents = recorder.last;
    expect([...agents.keys()].sort()).toEqual([
      `dns:${SERVICE}/alpha.example.test:8080`,
      `dns:${SERVICE}/beta.example.test:9090`,
    ]);
    const alpha = agents.get(`dns:${SERVICE}/alpha.example.test:8080`);
    expect(alpha).toMatchObject({
      source: "dns",
      name: "alpha.example.test:8080",
      endpoint: "http://alpha.example.test:8080",
      team: "search",
      skills: ["rank", "index"],
      capacity: 4,
      weight: 5,
      healthy: null,
    });
    expect([...(alpha?.labels ?? [])]).toEqual([["zone", "eu-1"]]);
    const beta = agents.get(`dns:${SERVICE}/beta.example.test:9090`);
    expect(beta).toMatchObject({ team: "default", skills: [], capacity: 1, weight: 2.5 });
  });

  it("asks again when the shortest TTL runs out and then sees additions, changes and removals", async () => {
    await dnsmasq.serve(baseZone);
    const clock = new ManualClock();
    const recorder = new Recorder();
    const running = provider(clock).start(recorder.handlers);
    await recorder.reports(1);
    expect(await readDelays(clock)).toEqual([30_000]);

    await dnsmasq.serve({
      ...baseZone,
      srv: [
        { name: SERVICE, target: "alpha.example.test", port: 8080, weight: 5 },
        { name: SERVICE, target: "gamma.example.test", port: 7070 },
      ],
      hosts: [...baseZone.hosts, ["gamma.example.test", "127.0.0.3"]],
      text: [["alpha.example.test", ["team=ranking", "skills=rank"]]],
    });
    // Not yet due: nothing is asked before the TTL runs out.
    clock.advance(29_999);
    expect(recorder.snapshots).toHaveLength(1);
    clock.advance(1);
    await recorder.reports(2);
    await running.stop();

    const agents = recorder.last;
    expect([...agents.keys()].sort()).toEqual([
      `dns:${SERVICE}/alpha.example.test:8080`,
      `dns:${SERVICE}/gamma.example.test:7070`,
    ]);
    expect(agents.get(`dns:${SERVICE}/alpha.example.test:8080`)).toMatchObject({
      team: "ranking",
      skills: ["rank"],
    });
  });

  it("keeps TTLs within the floor and the ceiling", async () => {
    await dnsmasq.serve({ ...baseZone, ttlSeconds: 0 });
    const clock = new ManualClock();
    const recorder = new Recorder();
    let running = provider(clock, { minRefreshMs: 2_000 }).start(recorder.handlers);
    await recorder.reports(1);
    expect(await readDelays(clock)).toEqual([2_000]);
    await running.stop();

    await dnsmasq.serve({ ...baseZone, ttlSeconds: 86_400 });
    const later = new ManualClock();
    const second = new Recorder();
    running = provider(later, { maxRefreshMs: 60_000 }).start(second.handlers);
    await second.reports(1);
    expect(await readDelays(later)).toEqual([60_000]);
    await running.stop();
  });

  it("reports a name with no records as an empty set, read again after the negative wait", async () => {
    await dnsmasq.serve({ ...baseZone, srv: [] });
    const clock = new ManualClock();
    const recorder = new Recorder();
    const running = provider(clock, { negativeRefreshMs: 15_000 }).start(recorder.handlers);
    await recorder.reports(1);
    expect(await readDelays(clock)).toEqual([15_000]);
    await running.stop();
    expect(recorder.errors).toEqual([]);
    expect(recorder.last.size).toBe(0);
  });

  it("uses the address when asked to, and skips targets that do not resolve", async () => {
    await dnsmasq.serve({
      ...baseZone,
      srv: [...baseZone.srv, { name: SERVICE, target: "ghost.example.test", port: 1234 }],
    });
    const clock = new ManualClock();
    const recorder = new Recorder();
    const running = provider(clock, { endpointHost: "address" }).start(recorder.handlers);
    await recorder.reports(1);
    await running.stop();
    expect([...recorder.last.values()].map((agent) => agent.endpoint).sort()).toEqual([
      "http://127.0.0.2:8080",
      "http://[::1]:9090",
    ]);
    expect(recorder.invalid.map((problem) => problem.key)).toEqual([
      `dns:${SERVICE}/ghost.example.test:1234`,
    ]);
  });

  it("reads a truncated answer again over TCP", async () => {
    const many = Array.from({ length: 80 }, (_, index) => ({
      name: SERVICE,
      target: `agent-${index}.example.test`,
      port: 10_000 + index,
    }));
    await dnsmasq.serve({
      ...baseZone,
      srv: many,
      hosts: many.map((record, index) => [record.target, `127.0.1.${index + 1}`] as const),
      text: [],
    });
    const clock = new ManualClock();
    const recorder = new Recorder();
    const running = provider(clock).start(recorder.handlers);
    await recorder.reports(1);
    await running.stop();
    expect(recorder.errors).toEqual([]);
    expect(recorder.last.size).toBe(80);
  });

  it("reports a server that is down as an error and reads again after a backoff", async () => {
    await dnsmasq.serve(baseZone);
    const clock = new ManualClock();
    const recorder = new Recorder();
    const running = provider(clock, { backoff: { initialDelayMs: 1_000, jitter: 0 } }).start(
      recorder.handlers,
    );
    await recorder.reports(1);
    expect(recorder.last.size).toBe(2);
    expect(await readDelays(clock)).toEqual([30_000]);

    await dnsmasq.halt();
    clock.advance(30_000);
    await recorder.reports(2);
    expect(recorder.snapshots).toHaveLength(1);
    expect(recorder.errors[0]).toBeInstanceOf(DiscoveryError);
    expect((recorder.errors[0] as DiscoveryError).code).toBe("unreachable");
    // The retry waits for the backoff, not for a TTL.
    expect(await readDelays(clock)).toEqual([1_000]);

    await dnsmasq.serve(baseZone);
    clock.advance(1_000);
    await recorder.reports(3);
    await running.stop();
    expect(recorder.snapshots).toHaveLength(2);
    expect(recorder.last.size).toBe(2);
  });

  it("refuses settings that make no sense", () => {
    expect(() => new DnsProvider({ names: [] })).toThrow(DiscoveryError);
    expect(() => new DnsProvider({ names: [SERVICE], server: "host:notaport" })).toThrow(DiscoveryError);
    expect(() => new DnsProvider({ names: [SERVICE], minRefreshMs: 10_000, maxRefreshMs: 5_000 })).toThrow(
      DiscoveryError,
    );
  });
});
