// Proves that `juno start --help` and the README's configuration tables are generated from the one option table, so every flag, variable, default and error code is documented and the documents cannot drift from the code.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  CONFIG_ERROR_CODES,
  OPTIONS,
  helpText,
  markdownErrorCodesTable,
  markdownOptionsTable,
  wantsHelp,
} from "../../src/config/index.js";

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

  it("the error code table is the one generated from the catalog", () => {
    const rows = tableRows(readmeSection("config-errors"));
    expect(rows).toEqual(tableRows(markdownErrorCodesTable()));
    expect(rows).toHaveLength(Object.keys(CONFIG_ERROR_CODES).length + 1);
  });
});
