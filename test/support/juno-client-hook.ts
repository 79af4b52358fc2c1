/**
 * Preloaded (`node --import`) by tests that run what a user runs against the built package
 * (examples/agent.mjs imports `juno/client`, which the package's exports point at dist/): resolves
 * `juno/client` to this repository's SDK source instead, compiled when the suite built the tree
 * (test/support/compiled.ts), through tsx otherwise, so the test needs no `npm run build`.
 */

import { register } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const build = process.env["JUNO_TEST_BUILD"];
const root = join(import.meta.dirname, "..", "..");
const target =
  build === undefined || build === ""
    ? join(root, "src", "client", "index.ts")
    : join(build, "src", "client", "index.js");

const hook = `
export async function resolve(specifier, context, next) {
  if (specifier === "juno/client") return { url: ${JSON.stringify(pathToFileURL(target).href)}, shortCircuit: true };
  return next(specifier, context);
}
`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
