// Proves that `juno start --help` and the README's configuration tables are generated from the one option table, so every flag, variable, default, error code and "reserved, no effect yet" mark is documented and the documents cannot drift from the code.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  CONFIG_ERROR_CODES,
  ConfigError,
  OPTIONS,
  RESERVED_PREFIX,
  helpText,
  markdownErrorCodesTable,
  markdownOptionsTable,
  parseNodeConfig,
  wantsHelp,
  type AnyOptionDescriptor,
} from "../../src/config/index.js";
import { markdownCliErrorCodesTable, markdownClientOptionsTable } from "../../src/config/help.js";

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** The rows of the Markdown table between `<!-- name:begin ... -->` and `<!-- name:end -->`, cells trimmed. */
function tableRows(markdown: string): string[][] {
  return markdown
    .split("\n")
    .filter((line) => line.startsWith("|") && !/^\|[\s|:-]+\|$/.test(line))
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
}

/** The README's text between the markers of one generated section. */
function readmeSection(name: string): string {
  const begin = README.indexOf(`<!-- ${name}:begin`);
  const end = README.indexOf(`<!-- ${name}:end -->`);
  expect(begin, `README has no ${name} section`).toBeGreaterThanOrEqual(0);
  expect(end).toBeGreaterThan(begin);
  return README.slice(begin, end);
}

/**
 * The settings that nothing reads yet, by variable: those the "Honest configuration" issue found
 * documented as if they worked, and the log format. Making one real takes it off this list.
 */
const RESERVED_VARIABLES = [
  "JUNO_PHASE",
  "MULTI_AGENT_ENABLED",
  "CONSENSUS_ENABLED",
  "FAULT_TOLERANCE_ENABLED",
];

/** The help entry of one option: its usage line and its wrapped description, joined on single spaces. */
function helpEntry(help: string, option: AnyOptionDescriptor): string {
  const entries = help.split(/\n(?= {2}\S)/);
  const entry = entries.find((candidate) => candidate.split("\n")[0]?.includes(`${option.env}=<`));
  expect(entry, `help has no entry for ${option.env}`).toBeDefined();
  return (entry ?? "").replace(/\s+/g, " ");
}

describe("juno start --help", () => {
  const help = helpText();

  it("names every flag, every variable and every default", () => {
    for (const option of OPTIONS) {
      if (option.flag !== null) expect(help).toContain(option.flag);
      expect(help).toContain(option.env);
      const shown = typeof option.default === "string" ? option.default : option.default.derived;
      // Wrapping may break a default across lines.
      expect(help.replace(/\s+/g, " ")).toContain(`Default: ${shown}`);
    }
  });

  it("gives each option's unit with its default", () => {
    expect(help).toContain("Default: 1000 ms.");
    expect(help).toContain("Default: 10 s.");
    expect(help).toContain("Default: 10000 entries.");
  });

  it("marks exactly the settings that do nothing yet as reserved, each naming the work that makes it real", () => {
    const reserved = OPTIONS.filter((option) => option.reserved !== null);
    expect(reserved.map((option) => option.env).sort()).toEqual([...RESERVED_VARIABLES].sort());
    // The work is named with its issue, or says in parentheses where it stands.
    for (const option of reserved) expect(option.reserved, option.env).toMatch(/^\S.* \([^)]+\)$/);
  });

  it("says 'Reserved, no effect yet: <what>' in the entry of each reserved setting and of no other", () => {
    for (const option of OPTIONS) {
      const entry = helpEntry(help, option);
      if (option.reserved === null) expect(entry, option.env).not.toContain("Reserved");
      else expect(entry).toContain(`${RESERVED_PREFIX} ${option.reserved}. ${option.meaning}`);
    }
  });

  it("explains what a reserved setting is before listing any", () => {
    const intro = help.slice(0, help.indexOf("\nNode:\n")).replace(/\s+/g, " ");
    expect(intro).toContain(`"${RESERVED_PREFIX} ..." is read and checked`);
  });

  it("fits in 100 columns", () => {
    for (const line of help.split("\n")) expect(line.length, line).toBeLessThanOrEqual(100);
  });

  it("is asked for with --help or -h anywhere in the arguments", () => {
    expect(wantsHelp(["--help"])).toBe(true);
    expect(wantsHelp(["--id", "n1", "-h"])).toBe(true);
    expect(wantsHelp(["--id", "n1"])).toBe(false);
  });
});

describe("README", () => {
  // To regenerate after changing the table: print markdownOptionsTable() / markdownErrorCodesTable()
  // from src/config and paste them between the markers; `npm run format` aligns the columns.
  it("the settings table is the one generated from the option table", () => {
    expect(tableRows(readmeSection("config-options"))).toEqual(tableRows(markdownOptionsTable()));
  });

  it("the settings table marks the reserved settings in their Meaning cell, and no others", () => {
    const rows = tableRows(readmeSection("config-options"));
    for (const option of OPTIONS) {
      const row = rows.find((cells) => cells[1] === `\`${option.env}\``);
      expect(row, option.env).toBeDefined();
      const meaning = row?.[4] ?? "";
      if (option.reserved === null) expect(meaning, option.env).not.toContain("Reserved");
      else expect(meaning).toMatch(new RegExp(`^${RESERVED_PREFIX} \\S`));
    }
  });

  it("the CLI's client options and error codes are the ones generated from their tables", () => {
    expect(tableRows(readmeSection("client-options"))).toEqual(tableRows(markdownClientOptionsTable()));
    expect(tableRows(readmeSection("cli-errors"))).toEqual(tableRows(markdownCliErrorCodesTable()));
  });

  it("the error code table is the one generated from the catalog", () => {
    const rows = tableRows(readmeSection("config-errors"));
    expect(rows).toEqual(tableRows(markdownErrorCodesTable()));
    expect(rows).toHaveLength(Object.keys(CONFIG_ERROR_CODES).length + 1);
  });
});

describe("reserved settings", () => {
  it("are still read and checked exactly as before, so deployments that set them keep starting", () => {
    const config = parseNodeConfig(["--circuit-breaker-threshold", "7", "--phase=3"], {
      HEALTH_CHECK_INTERVAL: "30",
      MULTI_AGENT_ENABLED: "false",
      CONSUL_ENDPOINT: "http://consul:8500",
    });
    expect(config).toMatchObject({
      circuitBreakerThreshold: 7,
      phase: 3,
      healthCheckIntervalMs: 30_000,
      multiAgentEnabled: false,
      consulEndpoint: "http://consul:8500",
    });
    expect((parseNodeConfig([], { HEALTH_CHECK_INTERVAL: "soon" }) as ConfigError).code).toBe("not_a_number");
    expect((parseNodeConfig([], { JUNO_PHASE: "4" }) as ConfigError).code).toBe("out_of_range");
  });
});
