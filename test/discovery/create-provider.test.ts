// Proves that each discovery type makes its provider (and "custom" none), that settings that
// make no sense are refused when the factory is made, not later while a provider runs, and that
// the Kubernetes provider's code is loaded only for a node that discovers agents in Kubernetes.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DISCOVERY_TYPES, DiscoveryError, discoveryProviders } from "../../src/discovery/index.js";

describe("discoveryProviders", () => {
  it("makes the provider of each type, a fresh one each call", async () => {
    expect(await discoveryProviders({ type: "custom" })).toBeNull();
    const dns = await discoveryProviders({ type: "dns", names: ["_agents._tcp.example.test"] });
    expect(dns?.().source).toBe("dns");
    expect(dns?.()).not.toBe(dns?.());
    expect((await discoveryProviders({ type: "consul", endpoint: "http://127.0.0.1:8500" }))?.().source).toBe(
      "consul",
    );
    const kubernetes = await discoveryProviders({
      type: "kubernetes",
      services: ["agents"],
      connection: { kind: "token", server: "https://127.0.0.1:6443", token: "t" },
    });
    expect(kubernetes?.().source).toBe("kubernetes");
    expect(
      (await discoveryProviders({ type: "agent_card", urls: ["https://agent.example.test"] }))?.().source,
    ).toBe("agent_card");
    expect(DISCOVERY_TYPES).toEqual(["custom", "dns", "consul", "kubernetes", "agent_card"]);
  });

  it("refuses settings that make no sense at once", async () => {
    await expect(discoveryProviders({ type: "dns", names: [] })).rejects.toThrow(DiscoveryError);
    await expect(discoveryProviders({ type: "consul", endpoint: "consul:8500" })).rejects.toThrow(
      DiscoveryError,
    );
    await expect(discoveryProviders({ type: "agent_card", urls: ["file:///x"] })).rejects.toThrow(
      DiscoveryError,
    );
  });

  it("loads @kubernetes/client-node only for Kubernetes discovery: no static import reaches it from the CLI", () => {
    // Follows every static import and export (not `import type`, not `await import()`) from the
    // command line's entry through the project's files; the Kubernetes client must not be among
    // what they reach, or every node would load it at start.
    const root = join(dirname(fileURLToPath(import.meta.url)), "../../src");
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, "utf8");
      for (const match of text.matchAll(
        /^\s*(?:import|export)\s+(?!type\b)(?:[^;"]*?\sfrom\s+)?"([^"]+)"/gm,
      )) {
        const target = match[1]!;
        if (target.startsWith(".")) visit(join(dirname(file), target.replace(/\.js$/, ".ts")));
        else packages.add(target);
      }
    };
    visit(join(root, "cli/juno.ts"));
    expect(seen.has(join(root, "discovery/create-provider.ts"))).toBe(true);
    expect(seen.has(join(root, "discovery/kubernetes.ts"))).toBe(false);
    expect([...packages].filter((name) => name.startsWith("@kubernetes/"))).toEqual([]);
  });
});
