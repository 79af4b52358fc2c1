/**
 * What Docker would do with the repository without running Docker: the Dockerfile's instructions
 * by stage, and the build context that `.dockerignore` lets through (the rules of
 * moby/patternmatcher: Go filepath.Match patterns plus `**`, `!` exceptions, the last matching
 * line wins, and a pattern that matches a directory excludes what is under it).
 */

import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";

/** One instruction: its keyword, its arguments as written, and for exec form the parsed array. */
export interface Instruction {
  readonly keyword: string;
  readonly text: string;
  readonly exec: readonly string[] | null;
}

/** A build stage: its base image, its name, and its instructions after FROM. */
export interface Stage {
  readonly from: string;
  readonly name: string | null;
  readonly instructions: readonly Instruction[];
}

/** Reads a Dockerfile into its ARGs before the first FROM and its stages. */
export function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>();
  const stages: { from: string; name: string | null; instructions: Instruction[] }[] = [];
  for (const line of logicalLines(text)) {
    const match = /^(\S+)\s*(.*)$/s.exec(line);
    if (match === null) continue;
    const keyword = match[1]!.toUpperCase();
    const rest = match[2]!.trim();
    if (keyword === "FROM") {
      const [image = "", as, name] = rest.split(/\s+/);
      const from = image.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string, b: string) => args.get(a ?? b) ?? "");
      stages.push({ from, name: as?.toUpperCase() === "AS" ? (name ?? null) : null, instructions: [] });
      continue;
    }
    const current = stages[stages.length - 1];
    if (current === undefined) {
      if (keyword === "ARG") {
        const [name = "", value = ""] = rest.split("=", 2);
        args.set(name, value);
      }
      continue;
    }
    current.instructions.push({ keyword, text: rest, exec: execForm(rest) });
  }
  return { args, stages };
}

/** Joins continuation lines and drops comments and blank lines. */
function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    // A comment line is dropped, also between continued lines (as Docker does).
    if (/^\s*#/.test(raw)) continue;
    if (raw.endsWith("\\")) {
      pending += `${raw.slice(0, -1)} `;
      continue;
    }
    const line = (pending + raw).trim();
    pending = "";
    if (line !== "") lines.push(line);
  }
  return lines;
}

/** The JSON array of an exec-form instruction, or null for shell form. */
function execForm(text: string): string[] | null {
  const start = text.indexOf("[");
  if (start < 0) return null;
  try {
    const parsed: unknown = JSON.parse(text.slice(start));
    return Array.isArray(parsed) && parsed.every((item) => typeof item === "string") ? parsed : null;
  } catch {
    return null;
  }
}

/** The sources of a COPY (or ADD) and whether they come from another stage; flags dropped. */
export function copySources(instruction: Instruction): { sources: string[]; fromStage: string | null } {
  const words = instruction.exec ?? instruction.text.split(/\s+/);
  const flags = words.filter((word) => word.startsWith("--"));
  const paths = words.filter((word) => !word.startsWith("--"));
  const from = flags.find((flag) => flag.startsWith("--from="));
  return { sources: paths.slice(0, -1), fromStage: from === undefined ? null : from.slice("--from=".length) };
}

/** One .dockerignore line, compiled. */
interface IgnoreRule {
  readonly exception: boolean;
  readonly pattern: string;
  readonly regex: RegExp;
}

/** The rules of a .dockerignore text. */
export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split("\n")) {
    let line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const exception = line.startsWith("!");
    if (exception) line = line.slice(1).trim();
    // Docker cleans each pattern (filepath.Clean) and drops a leading slash.
    const pattern = posix.normalize(line).replace(/^\/+/, "").replace(/\/+$/, "");
    rules.push({ exception, pattern, regex: patternRegex(pattern) });
  }
  return rules;
}

/** A pattern as a regular expression over slash-separated relative paths. */
function patternRegex(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === "*" && pattern[i + 1] === "*") {
      // `**` matches any number of directories, including none ("**/x" matches "x").
      i++;
      if (pattern[i + 1] === "/") {
        i++;
        source += "(?:.*/)?";
      } else source += ".*";
    } else if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else if (char === "[") {
      const end = pattern.indexOf("]", i);
      source += end < 0 ? "\\[" : pattern.slice(i, end + 1).replace(/^\[!/, "[^");
      if (end >= 0) i = end;
    } else source += char.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/** Whether the rules leave the path (relative, slash-separated) out of the context. */
export function isExcluded(rules: readonly IgnoreRule[], path: string): boolean {
  const parents = path.split("/");
  let excluded = false;
  for (const rule of rules) {
    let matched = rule.regex.test(path);
    for (let i = 1; !matched && i < parents.length; i++)
      matched = rule.regex.test(parents.slice(0, i).join("/"));
    if (matched) excluded = !rule.exception;
  }
  return excluded;
}

/** A file of the context and its size. */
export interface ContextFile {
  readonly path: string;
  readonly bytes: number;
}

/**
 * The files `docker build` would send from `root`. Like Docker, it does not descend into an
 * excluded directory that no exception could reach into.
 */
export function buildContext(root: string, rules: readonly IgnoreRule[]): ContextFile[] {
  const files: ContextFile[] = [];
  const exceptions = rules.filter((rule) => rule.exception).map((rule) => literalPrefix(rule.pattern));
  const walk = (relative: string): void => {
    for (const entry of readdirSync(join(root, relative), { withFileTypes: true })) {
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
      const excluded = isExcluded(rules, path);
      if (entry.isDirectory()) {
        const reachable = exceptions.some((prefix) => prefix.startsWith(`${path}/`) || prefix === "");
        if (!excluded || reachable) walk(path);
      } else if (!excluded) {
        files.push({ path, bytes: lstatSync(join(root, path)).size });
      }
    }
  };
  walk("");
  return files;
}

/** The part of a pattern before its first wildcard. */
function literalPrefix(pattern: string): string {
  const wildcard = pattern.search(/[*?[]/);
  return wildcard < 0 ? pattern : pattern.slice(0, wildcard);
}

/** The Dockerfile at `path`. */
export function readDockerfile(path: string): ReturnType<typeof parseDockerfile> {
  return parseDockerfile(readFileSync(path, "utf8"));
}
