/**
 * The tests' child processes (juno nodes, SDK agents, chaos scripts, the store's writer) run
 * compiled JavaScript when the suite has built it (test/global-setup.ts sets JUNO_TEST_BUILD),
 * instead of TypeScript through tsx: tsx costs each process start about 2 s of CPU more, and the
 * suite starts over a hundred of them. Run by hand (a chaos script, a benchmark), they use tsx.
 */

import { join, relative } from "node:path";

/** The variable naming the compiled tree (a mirror of the repository, .ts files as .js). */
export const TEST_BUILD_ENV = "JUNO_TEST_BUILD";

/** The repository root. */
export const ROOT = join(import.meta.dirname, "..", "..");

/** Whether the suite built the compiled tree (so child processes run it). */
function buildDirectory(): string | null {
  const build = process.env[TEST_BUILD_ENV];
  return build === undefined || build === "" ? null : build;
}

/** What `node` needs before any script of the repository: tsx, unless the tree is compiled. */
export function loaderArgs(): string[] {
  return buildDirectory() === null ? ["--import", "tsx"] : [];
}

/**
 * The file to run for `script` (a .ts file of the repository, or its place in the compiled tree
 * when the caller itself runs compiled): its compiled file when the build exists, else itself.
 */
export function scriptPath(script: string): string {
  const build = buildDirectory();
  if (build === null) return script;
  const inside = relative(build, script);
  const path = inside.startsWith("..") ? relative(ROOT, script) : inside;
  return join(build, path.replace(/\.ts$/, ".js"));
}

/** The arguments of `node` that run `script`. */
export function nodeArgsFor(script: string): string[] {
  return [...loaderArgs(), scriptPath(script)];
}
