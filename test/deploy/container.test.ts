// Proves what can be proved of the container image without a Docker daemon: the Dockerfile has the two stages, the non-root user, the exec-form entry point and the ports it promises; every file it copies is in the build context and nothing secret, built or huge is; the npm package holds the compiled code and no sources or tests; and the compiled juno, with production dependencies only (the runtime stage's /app), starts, becomes ready, takes a write through the API and exits 0 on SIGTERM.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildContext,
  copySources,
  isExcluded,
  parseDockerignore,
  readDockerfile,
  type Stage,
} from "./docker.js";
import { ROOT, assembleRuntime, compileInto, linkTree } from "./package-build.js";

interface PackageJson {
  readonly bin: Record<string, string>;
  readonly files: readonly string[];
  readonly scripts: Record<string, string>;
  readonly dependencies: Record<string, string>;
  readonly devDependencies: Record<string, string>;
}

const packageJson = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as PackageJson;
const dockerfile = readDockerfile(join(ROOT, "Dockerfile"));
const rules = parseDockerignore(readFileSync(join(ROOT, ".dockerignore"), "utf8"));
const [buildStage, runtimeStage] = dockerfile.stages as [Stage, Stage];

const instructions = (stage: Stage, keyword: string) =>
  stage.instructions.filter((instruction) => instruction.keyword === keyword);

describe("Dockerfile", () => {
  it("has a build stage and a runtime stage, both on node:20-bookworm-slim", () => {
    expect(dockerfile.stages).toHaveLength(2);
    expect(buildStage.from).toBe("node:20-bookworm-slim");
    expect(runtimeStage.from).toBe("node:20-bookworm-slim");
    expect(buildStage.name).toBe("build");
  });

  it("builds with the native toolchain, from the lock file, and prunes the dev dependencies", () => {
    const runs = instructions(buildStage, "RUN").map((run) => run.text);
    const all = runs.join("\n");
    for (const tool of ["python3", "make", "g++"])
      expect(all).toMatch(new RegExp(`install .*${tool.replace("+", "\\+")}`));
    const order = ["npm ci", "npm run build", "npm prune --omit=dev"].map((step) => all.indexOf(step));
    expect(order.every((index) => index >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it("runs as uid 10001 from node itself: exec-form entry point of the package's bin, start by default", () => {
    expect(instructions(runtimeStage, "USER").map((user) => user.text)).toEqual(["10001:10001"]);
    const [entrypoint] = instructions(runtimeStage, "ENTRYPOINT");
    expect(entrypoint?.exec).toEqual(["node", packageJson.bin.juno]);
    expect(instructions(runtimeStage, "CMD")[0]?.exec).toEqual(["start"]);
    // No shell or npm as PID 1: either would stand between SIGTERM and juno.
    expect(entrypoint?.exec?.join(" ")).not.toMatch(/\b(sh|bash|npm|npx)\b/);
  });

  it("exposes the HTTP and Raft ports and declares the data volume juno's JUNO_DATA_DIR points at", () => {
    expect(instructions(runtimeStage, "EXPOSE").map((expose) => expose.text)).toEqual(["8080 9090"]);
    expect(instructions(runtimeStage, "VOLUME")[0]?.exec).toEqual(["/var/lib/juno"]);
    expect(
      instructions(runtimeStage, "ENV")
        .map((env) => env.text)
        .join(" "),
    ).toContain("JUNO_DATA_DIR=/var/lib/juno");
  });

  it("puts into the runtime stage only dist/, the production node_modules, package.json and the examples", () => {
    const copied = instructions(runtimeStage, "COPY").map(copySources);
    expect(
      copied
        .filter((copy) => copy.fromStage === "build")
        .flatMap((copy) => copy.sources)
        .sort(),
    ).toEqual(["/app/dist", "/app/node_modules", "/app/package.json"]);
    expect(copied.filter((copy) => copy.fromStage === null).flatMap((copy) => copy.sources)).toEqual([
      "examples",
    ]);
  });
});

describe("build context (.dockerignore)", () => {
  const context = buildContext(ROOT, rules);
  const paths = new Set(context.map((file) => file.path));

  it("sends every file the Dockerfile copies from the context", () => {
    const sources = dockerfile.stages
      .flatMap((stage) => instructions(stage, "COPY"))
      .map(copySources)
      .filter((copy) => copy.fromStage === null)
      .flatMap((copy) => copy.sources);
    expect(sources.length).toBeGreaterThan(4);
    for (const source of sources) {
      const sent = [...paths].filter((path) => path === source || path.startsWith(`${source}/`));
      expect(sent.length, `${source} is not in the build context`).toBeGreaterThan(0);
    }
    for (const file of [
      "package.json",
      "package-lock.json",
      "tsconfig.json",
      "tsconfig.build.json",
      "src/cli/juno.ts",
    ])
      expect(paths.has(file), file).toBe(true);
  });

  it("sends what the build script reads: every repository path named in npm run build", () => {
    // `npm run build` may grow steps (the dashboard's build:ui); each file they name must be copied.
    const scripts = new Set<string>();
    const visit = (name: string): void => {
      const script = packageJson.scripts[name];
      if (script === undefined || scripts.has(script)) return;
      scripts.add(script);
      for (const [, called] of script.matchAll(/npm run ([\w:-]+)/g)) visit(called!);
    };
    visit("build");
    const named = [...scripts].flatMap((script) => script.match(/[\w./-]+\.(?:json|ts|mjs|js)\b/g) ?? []);
    const inRepository = named.filter(
      (path) => !path.startsWith("dist/") && spawnSync("test", ["-e", join(ROOT, path)]).status === 0,
    );
    expect(inRepository).toContain("tsconfig.build.json");
    for (const path of inRepository)
      expect(paths.has(path), `${path} is not in the build context`).toBe(true);
  });

  it("sends no dependencies, builds, data, version control, secrets or logs, and stays small", () => {
    for (const path of paths) {
      expect(path).not.toMatch(/(^|\/)(node_modules|dist|data|\.git|test-artifacts|coverage)(\/|$)/);
      expect(path).not.toMatch(/(^|\/)\.env(\.|$)|\.(pem|key|p12|log|db)$/);
      expect(path).not.toMatch(/^(test|bench|deploy)\//);
    }
    const bytes = context.reduce((sum, file) => sum + file.bytes, 0);
    expect(bytes).toBeLessThan(20 * 1024 * 1024);
  });

  it("would leave out such files even inside the folders it sends", () => {
    for (const path of [
      "src/.env",
      "src/x/node_modules/a.js",
      "scripts/debug.log",
      "examples/key.pem",
      ".git/HEAD",
    ])
      expect(isExcluded(rules, path), path).toBe(true);
    expect(isExcluded(rules, "src/cli/juno.ts")).toBe(false);
  });
});

describe("npm package", () => {
  let files: string[] = [];

  beforeAll(async () => {
    // A copy of the repository's package files with a compiled dist/, so the check does not
    // depend on whether `npm run build` ran here; src/ and test/ are there to be left out.
    const directory = mkdtempSync(join(tmpdir(), "juno-pack-"));
    for (const entry of ["package.json", "README.md", ".gitignore", "examples", "src", "test"])
      linkTree(join(ROOT, entry), join(directory, entry));
    await compileInto(directory);
    const packed = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
      cwd: directory,
      encoding: "utf8",
    });
    expect(packed.status, packed.stderr).toBe(0);
    const [report] = JSON.parse(packed.stdout) as [{ files: { path: string }[] }];
    files = report.files.map((file) => file.path);
    rmSync(directory, { recursive: true, force: true });
  });

  it("holds the compiled juno and the client, the examples and the README", () => {
    expect(files).toContain(packageJson.bin.juno);
    expect(files).toContain("dist/client/index.js");
    expect(files).toContain("package.json");
    expect(files).toContain("README.md");
    expect(files.some((file) => file.startsWith("examples/"))).toBe(true);
  });

  it("holds no sources, tests or anything outside its files list", () => {
    for (const file of files) {
      expect(file).not.toMatch(/^(src|test)\//);
      expect(file.endsWith(".ts") && !file.endsWith(".d.ts"), file).toBe(false);
      expect(
        packageJson.files.some((entry) => file === entry || file.startsWith(`${entry}/`)) ||
          file === "package.json",
        file,
      ).toBe(true);
    }
  });
});

/** A port nothing listens on now, chosen by the system. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

/** Polls `probe` until it returns true; a bound on the wait, not an asserted timing. */
async function until(probe: () => Promise<boolean>, what: string, boundMs = 20_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("the compiled juno with production dependencies only", () => {
  const token = "deploy-test-token";
  let runtime: Awaited<ReturnType<typeof assembleRuntime>>;
  let child: ChildProcess;
  let output = "";
  let base = "";
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  const dataDir = mkdtempSync(join(tmpdir(), "juno-data-"));

  beforeAll(async () => {
    runtime = await assembleRuntime();
    const [http, raft] = [await freePort(), await freePort()];
    base = `http://127.0.0.1:${http}`;
    child = spawn(
      process.execPath,
      [
        packageJson.bin.juno!,
        "start",
        "--id",
        "n1",
        "--http",
        `127.0.0.1:${http}`,
        "--raft",
        `127.0.0.1:${raft}`,
        "--peers",
        `n1=127.0.0.1:${raft}`,
        "--data-dir",
        dataDir,
      ],
      // Nothing of the test's environment (NODE_OPTIONS, loaders) reaches it; as in the image.
      {
        cwd: runtime.directory,
        env: { PATH: process.env.PATH, NODE_ENV: "production", JUNO_API_TOKEN: token },
      },
    );
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    await until(async () => (await fetch(`${base}/readyz`)).status === 200, `/readyz (output: ${output})`);
  }, 60_000);

  afterAll(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    rmSync(runtime.directory, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("is assembled without the build and test tools, with every runtime dependency", () => {
    const installed = new Set(runtime.packages.map((path) => path.replace(/^.*node_modules\//, "")));
    // Dev dependencies a production package also needs (such as @types/node) stay; the tools go.
    const tools = [
      "typescript",
      "tsx",
      "esbuild",
      "vitest",
      "eslint",
      "prettier",
      "fast-check",
      "playwright-core",
    ];
    for (const name of tools) {
      expect(name in packageJson.devDependencies, name).toBe(true);
      expect(installed.has(name), `${name} (dist came from: ${runtime.dist})`).toBe(false);
    }
    for (const name of Object.keys(packageJson.dependencies)) expect(installed.has(name), name).toBe(true);
  });

  it("answers /healthz, refuses the API without the token, and commits a write with it", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const propose = (headers: Record<string, string>) =>
      fetch(`${base}/api/v3/consensus/propose`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ entry_type: "deploy", data: { service: "api", version: "1.4.2" } }),
      });
    expect((await propose({})).status).toBe(401);
    const written = await propose({ authorization: `Bearer ${token}` });
    expect(written.status).toBe(201);
    const { index } = (await written.json()) as { index: number };
    const log = await fetch(`${base}/api/v3/consensus/log?from=${index}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const { entries } = (await log.json()) as { entries: { index: number; entry_type: string }[] };
    expect(entries[0]).toMatchObject({ index, entry_type: "deploy" });
  });

  it("leaves on SIGTERM and exits 0, so Kubernetes sees a clean stop", async () => {
    child.kill("SIGTERM");
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(output).toContain('"signal":"SIGTERM"');
  });
});
