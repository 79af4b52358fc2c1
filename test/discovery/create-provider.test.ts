// Proves that each discovery type makes its provider (and "custom" none), and that settings that
// make no sense are refused when the provider is made, not later while it runs.

import { describe, expect, it } from "vitest";
import { DISCOVERY_TYPES, DiscoveryError, createDiscoveryProvider } from "../../src/discovery/index.js";

describe("createDiscoveryProvider", () => {
  it("makes the provider of each type", () => {
    expect(createDiscoveryProvider({ type: "custom" })).toBeNull();
    expect(createDiscoveryProvider({ type: "dns", names: ["_agents._tcp.example.test"] })?.source).toBe(
      "dns",
    );
    expect(createDiscoveryProvider({ type: "consul", endpoint: "http://127.0.0.1:8500" })?.source).toBe(
      "consul",
    );
    expect(
      createDiscoveryProvider({
        type: "kubernetes",
        services: ["agents"],
        connection: { kind: "token", server: "https://127.0.0.1:6443", token: "t" },
      })?.source,
    ).toBe("kubernetes");
    expect(
      createDiscoveryProvider({ type: "agent_card", urls: ["https://agent.example.test"] })?.source,
    ).toBe("agent_card");
    expect(DISCOVERY_TYPES).toEqual(["custom", "dns", "consul", "kubernetes", "agent_card"]);
  });

  it("refuses settings that make no sense at once", () => {
    expect(() => createDiscoveryProvider({ type: "dns", names: [] })).toThrow(DiscoveryError);
    expect(() => createDiscoveryProvider({ type: "consul", endpoint: "consul:8500" })).toThrow(
      DiscoveryError,
    );
    expect(() => createDiscoveryProvider({ type: "agent_card", urls: ["file:///x"] })).toThrow(
      DiscoveryError,
    );
  });
});
