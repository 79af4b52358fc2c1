/**
 * `npm run docs`: rewrites the README's generated sections (the configuration table and its error
 * codes, the CLI's client options and its own error codes) from the option tables, so they cannot drift; test/config/help.test.ts checks them.
 */

import { readFileSync, writeFileSync } from "node:fs";
import {
  markdownCliErrorCodesTable,
  markdownClientOptionsTable,
  markdownErrorCodesTable,
  markdownOptionsTable,
} from "../src/config/help.js";

const path = new URL("../README.md", import.meta.url);
let readme = readFileSync(path, "utf8");
for (const [name, table] of [
  ["config-options", markdownOptionsTable()],
  ["config-errors", markdownErrorCodesTable()],
  ["client-options", markdownClientOptionsTable()],
  ["cli-errors", markdownCliErrorCodesTable()],
] as const) {
  const begin = readme.indexOf(`<!-- ${name}:begin`);
  const end = readme.indexOf(`<!-- ${name}:end -->`);
  if (begin < 0 || end < 0) throw new Error(`README has no ${name} section`);
  const headerEnd = readme.indexOf("-->", begin) + 3;
  readme = `${readme.slice(0, headerEnd)}\n\n${table.trim()}\n\n${readme.slice(end)}`;
}
writeFileSync(path, readme);
console.log("README tables regenerated");
