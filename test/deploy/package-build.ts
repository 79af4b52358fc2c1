/**
 * The runtime stage of the Dockerfile, assembled without Docker: package.json, the compiled dist/
 * and a node_modules holding only the production dependency tree, in a temporary directory.
 *
 * dist/ is the repository's own when it is fresh (every source older than its compiled file);
 * otherwise the sources are compiled into the temporary directory with esbuild, file by file and
 * without bundling. That is the same output tsc writes here: the project compiles with
 * isolatedModules and verbatimModuleSyntax, which exist so that each file can be transpiled alone,
 * and every import is kept as written, so a runtime import of a dev dependency fails just as it
 * would in the image. (A full `tsc -p tsconfig.build.json` takes about 25 s on two cores.)
 */

import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { build } from "esbuild";

/** The repository root. */
export const ROOT = join(import.meta.dirname, "..", "..");

/** The source files tsconfig.build.json compiles (src/**\/*.ts, declarations excluded). */
function sourceFiles(directory = join(ROOT, "src")): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) files.push(path);
  }
  return files;
}

/** Whether the repository's dist/ holds a compiled file newer than each source. */
export function distIsFresh(): boolean {
  return sourceFiles().every((source) => {
    const compiled = join(ROOT, "dist", relative(join(ROOT, "src"), source).replace(/\.ts$/, ".js"));
    return existsSync(compiled) && statSync(compiled).mtimeMs >= statSync(source).mtimeMs;
  });
}

/** Writes the compiled package into `directory`/dist; says which way it was made. */
export async function compileInto(directory: string): Promise<"repository dist" | "esbuild"> {
  if (distIsFresh()) {
    linkTree(join(ROOT, "dist"), join(directory, "dist"));
    return "repository dist";
  }
  await build({
    entryPoints: sourceFiles(),
    outdir: join(directory, "dist"),
    outbase: join(ROOT, "src"),
    format: "esm",
    platform: "node",
    target: "node20",
    bundle: false,
    logLevel: "error",
  });
  return "esbuild";
}

/** The directories of the production dependency tree, relative to the repository root. */
export function productionPackages(): string[] {
  const output = execFileSync("npm", ["ls", "--omit=dev", "--all", "--parseable"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  return output
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => relative(ROOT, line))
    .filter((path) => path !== "");
}

/**
 * A copy of `from` at `to` made of hard links (fast, and real paths, so Node resolves modules from
 * the copy and not from the repository), or a plain copy where links cannot be made.
 */
export function linkTree(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  const linked = spawnSync("cp", ["-al", from, to], { stdio: "ignore" });
  if (linked.status !== 0) cpSync(from, to, { recursive: true, verbatimSymlinks: true });
}

/**
 * package.json, dist/ and the production node_modules in a fresh temporary directory, as the
 * image's /app. Nested packages come with their parent; npm nests a package only under one that
 * depends on it.
 */
export async function assembleRuntime(): Promise<{ directory: string; dist: string; packages: string[] }> {
  const directory = mkdtempSync(join(tmpdir(), "juno-runtime-"));
  linkTree(join(ROOT, "package.json"), join(directory, "package.json"));
  const dist = await compileInto(directory);
  const packages = productionPackages();
  for (const path of packages) {
    const nested = path.split("node_modules").length > 2;
    if (!nested) linkTree(join(ROOT, path), join(directory, path));
  }
  return { directory, dist, packages };
}
