// Proves that team, skills, capacity, weight and labels are read from key=value metadata the same
// way for every source, within their bounds, falling back to defaults for unusable values; that
// agents with an endpoint that is not a short http(s) URL are refused; and that endpoints put IPv6
// addresses in brackets.

import { describe, expect, it } from "vitest";
import {
  DEFAULT_ATTRIBUTES,
  MAX_LABELS,
  MAX_SKILLS,
  buildAgent,
  checkEndpoint,
  formatEndpoint,
  normalizeSkills,
  parseCapacity,
  parseWeight,
  readAttributes,
} from "../../src/discovery/index.js";

const keys = { team: "team", skills: "skills", capacity: "capacity", weight: "weight" };

describe("agent attributes", () => {
  it("reads the known keys and makes every other key a label", () => {
    const attributes = readAttributes(
      [
        ["team", " search "],
        ["skills", "a, b,,a"],
        ["capacity", "4"],
        ["weight", "0.5"],
        ["zone", "eu"],
        ["__proto__", "safe"],
      ],
      keys,
      DEFAULT_ATTRIBUTES,
    );
    expect(attributes).toMatchObject({ team: "search", skills: ["a", "b"], capacity: 4, weight: 0.5 });
    expect([...attributes.labels]).toEqual([
      ["zone", "eu"],
      ["__proto__", "safe"],
    ]);
  });

  it("falls back to the defaults for values it cannot use", () => {
    const attributes = readAttributes(
      [
        ["team", "   "],
        ["capacity", "0"],
        ["weight", "-1"],
      ],
      keys,
      { team: "fallback", skills: ["x"], capacity: 2 },
    );
    expect(attributes).toMatchObject({ team: "fallback", skills: ["x"], capacity: 2, weight: null });
    expect(readAttributes([], keys, DEFAULT_ATTRIBUTES, ["tag"]).skills).toEqual(["tag"]);
    expect(parseCapacity("4.5")).toBeNull();
    expect(parseCapacity("99999999")).toBeNull();
    expect(parseWeight("1e3")).toBeNull();
    expect(parseWeight("12")).toBe(12);
  });

  it("bounds skills and labels", () => {
    expect(normalizeSkills(Array.from({ length: 500 }, (_, index) => `s${index}`))).toHaveLength(MAX_SKILLS);
    expect(normalizeSkills(["x".repeat(101), "ok"])).toEqual(["ok"]);
    const many = Array.from({ length: 100 }, (_, index): [string, string] => [
      `k${index}`,
      "v".repeat(1_000),
    ]);
    const labels = readAttributes(many, keys, DEFAULT_ATTRIBUTES).labels;
    expect(labels.size).toBe(MAX_LABELS);
    expect(labels.get("k0")).toHaveLength(256);
  });

  it("refuses endpoints that are not short http(s) URLs and cuts long names", () => {
    const attributes = readAttributes([], keys, DEFAULT_ATTRIBUTES);
    const fields = { key: "k", source: "dns" as const, attributes, healthy: null };
    expect(buildAgent({ ...fields, name: "n", endpoint: `http://${"a".repeat(300)}.test` })).toMatch(
      /longer than 255/,
    );
    expect(buildAgent({ ...fields, name: "n", endpoint: "ftp://a.test" })).toMatch(/not http/);
    expect(checkEndpoint("nonsense")).toMatch(/not a URL/);
    const agent = buildAgent({ ...fields, name: "n".repeat(150), endpoint: "https://a.test:1" });
    expect(typeof agent === "string" ? agent : agent.name).toHaveLength(100);
    expect(buildAgent({ ...fields, name: "  ", endpoint: "https://a.test:1" })).toMatch(/no name/);
  });

  it("puts IPv6 addresses in brackets and drops a trailing dot", () => {
    expect(formatEndpoint("http", "fd00::1", 80)).toBe("http://[fd00::1]:80");
    expect(formatEndpoint("https", "agent.example.test.", 443)).toBe("https://agent.example.test:443");
  });
});
