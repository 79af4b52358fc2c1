/**
 * Before the suite: compiles src/ and the tests' helper scripts to JavaScript, file by file with
 * esbuild (a second or two; the project compiles with isolatedModules, so each file transpiles
 * alone), into node_modules/.cache/juno-test-build, a mirror of the repository whose imports of
 * packages resolve to the repository's node_modules. The child processes the tests start run
 * those files (test/support/compiled.ts); the tests themselves still run the sources.
 *
 * Meanwhile it starts the PostgreSQL server the store tests share (test/support/postgres.ts:
 * Debian's postgresql, installed when missing, in a temporary directory on a free port), and
 * stops it after the suite.
 */

import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { ROOT, TEST_BUILD_ENV } from "./support/compiled.js";
import { POSTGRES_URL_ENV, startPostgres } from "./support/postgres.js";

const OUT = join(ROOT, "node_modules", ".cache", "juno-test-build");

function scripts(directory: string, into: string[] = []): string[] {
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "app") scripts(path, into); // the dashboard's page is bundled on its own
    } else if (
      entry.name.endsWith(".ts") &&
      !entry.name.endsWith(".d.ts") &&
      !entry.name.endsWith(".test.ts")
    )
      into.push(path);
  }
  return into;
}

export default async function setup(): Promise<() => Promise<void>> {
  rmSync(OUT, { recursive: true, force: true });
  const postgres = startPostgres();
  await build({
    entryPoints: [...scripts(join(ROOT, "src")), ...scripts(join(ROOT, "test"))],
    outdir: OUT,
    outbase: ROOT,
    format: "esm",
    platform: "node",
    target: "node20",
    bundle: false,
    sourcemap: "inline",
    logLevel: "error",
  });
  // Under node_modules Node looks no further up for the package's "type": say it here.
  writeFileSync(join(OUT, "package.json"), `${JSON.stringify({ type: "module" })}\n`);
  process.env[TEST_BUILD_ENV] = OUT;
  const server = await postgres;
  process.env[POSTGRES_URL_ENV] = server.url;
  return () => server.destroy();
}
