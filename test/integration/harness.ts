/** Real `juno start` processes on free loopback ports, driven over HTTP like a user would. */

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../src/cli/dev.js";
import { loaderArgs, scriptPath } from "../support/compiled.js";

/**
 * The juno CLI the processes run: the TypeScript sources through tsx, or with JUNO_FROM_DIST=1
 * the compiled dist/cli/juno.js that users run (npm run build first; the benchmarks do).
 */
const FROM_DIST = process.env["JUNO_FROM_DIST"] === "1";
const JUNO = FROM_DIST
  ? join(import.meta.dirname, "../../dist/cli/juno.js")
  : scriptPath(join(import.meta.dirname, "../../src/cli/juno.ts"));
const TOKEN = "integration-token";
const SECRET = "integration-cluster-secret";

/** One node process and where it listens. */
export interface ProcessNode {
  readonly id: string;
  readonly http: number;
  readonly raft: number;
  readonly dataDir: string;
  child: ChildProcess | null;
  output: string;
  /** How the node was last launched beyond the defaults, reused by restart(). */
  launchOptions?: LaunchOptions;
}

/** Optional changes to how a node is launched (chaos scripts route peers through proxies). */
export interface LaunchOptions {
  /** Explicit `--peers` value (`id=host:port,...`) instead of the peers' real Raft ports. */
  readonly peers?: string;
  /** Extra Node.js arguments before the script, e.g. another `--import`. */
  readonly nodeArgs?: readonly string[];
  /** Extra environment for this node only. */
  readonly env?: Readonly<Record<string, string>>;
}

/** How the harness reaches the nodes' API: plain HTTP by default, or HTTPS with a fetch that trusts their CA. */
export interface ApiAccess {
  readonly scheme: "http" | "https";
  readonly fetch: typeof fetch;
}

const PLAIN: ApiAccess = { scheme: "http", fetch: (input, init) => fetch(input, init) };

/** An HTTP answer. */
export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** Waits until `check` returns a value (not undefined), polling every `everyMs`, or throws after `ms`. */
/** Thrown from an `eventually` check to stop waiting at once (retrying cannot help). */
export class GiveUp extends Error {}

/** A node process that exited before it became healthy. */
class StartFailed extends GiveUp {}

export async function eventually<T>(
  check: () => Promise<T | undefined>,
  ms = 20_000,
  everyMs = 50,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + ms;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      lastError = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what} not met within ${ms} ms${lastError instanceof Error ? `: ${lastError.message}` : ""}`,
      );
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A cluster of real processes. */
export class ProcessCluster {
  readonly nodes = new Map<string, ProcessNode>();
  private readonly dir = mkdtempSync(join(tmpdir(), "juno-it-"));

  private constructor(
    private readonly env: Record<string, string>,
    /** How the nodes' API is reached (HTTPS when `env` gives them JUNO_TLS_CERT). */
    readonly access: ApiAccess = PLAIN,
  ) {}

  /**
   * Starts `count` founding nodes n1..nN. Ports are chosen free but released before the nodes
   * bind them, so a parallel test may take one meanwhile: a cluster whose start fails is torn
   * down and started again on fresh ports (up to three times), the last error reported.
   */
  static async start(
    count: number,
    env: Record<string, string> = {},
    access: ApiAccess = PLAIN,
  ): Promise<ProcessCluster> {
    let lastError: unknown = null;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const cluster = new ProcessCluster(env, access);
      for (let i = 1; i <= count; i++) await cluster.allocate(`n${i}`);
      const founders = [...cluster.nodes.values()];
      try {
        await Promise.all(founders.map((node) => cluster.launch(node, founders, false)));
        return cluster;
      } catch (error) {
        lastError = error;
        await cluster.stop();
      }
    }
    throw lastError instanceof Error ? lastError : new Error("the cluster did not start");
  }

  /** Allocates ports and a data directory for a node that does not run yet. */
  async allocate(id: string): Promise<ProcessNode> {
    const node: ProcessNode = {
      id,
      http: await freePort(),
      raft: await freePort(),
      dataDir: join(this.dir, id),
      child: null,
      output: "",
    };
    this.nodes.set(id, node);
    return node;
  }

  /** Starts the process of `node`, with `peers` as its --peers list (unless `options.peers`). */
  async launch(
    node: ProcessNode,
    peers: readonly ProcessNode[],
    joining: boolean,
    options: LaunchOptions | undefined = node.launchOptions,
  ): Promise<void> {
    node.launchOptions = options;
    // JUNO_CPU_PROF_DIR=dir: every node writes a CPU profile there when it exits (profile, don't guess).
    const profileDir = process.env["JUNO_CPU_PROF_DIR"];
    const args = [
      ...(FROM_DIST ? [] : loaderArgs()),
      ...(profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]),
      // JUNO_NODE_ARGS="--trace-gc ...": more flags for every node's Node.js (benches, diagnosis).
      ...(process.env["JUNO_NODE_ARGS"]?.split(" ").filter((arg) => arg !== "") ?? []),
      ...(options?.nodeArgs ?? []),
      JUNO,
      "start",
      `--id=${node.id}`,
      `--http=127.0.0.1:${node.http}`,
      `--raft=127.0.0.1:${node.raft}`,
      `--peers=${options?.peers ?? peers.map((p) => `${p.id}=127.0.0.1:${p.raft}`).join(",")}`,
      `--data-dir=${node.dataDir}`,
      "--log-level=warn",
      ...(joining ? ["--join"] : []),
    ];
    const child = spawn(process.execPath, args, {
      env: {
        ...process.env,
        JUNO_API_TOKEN: TOKEN,
        JUNO_CLUSTER_SECRET: SECRET,
        RAFT_HEARTBEAT_INTERVAL: "50",
        RAFT_ELECTION_TIMEOUT: "500",
        ...this.env,
        ...options?.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    node.child = child;
    node.output = "";
    child.stdout.on("data", (chunk: Buffer) => (node.output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (node.output += chunk.toString()));
    await eventually(
      async () => {
        // A process that exited will never answer: say so at once, with what it printed.
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new StartFailed(
            `${node.id} exited (${child.exitCode ?? child.signalCode}) before it was healthy:\n${node.output.slice(-2000)}`,
          );
        }
        return (await this.access.fetch(`${this.origin(node.id)}/healthz`)).ok ? true : undefined;
      },
      60_000,
      50,
      `${node.id} healthy`,
    ).catch((error: unknown) => {
      throw error instanceof Error && !(error instanceof StartFailed)
        ? new Error(`${error.message}\n${node.output.slice(-2000)}`)
        : error;
    });
  }

  /** The base URL of node `id`'s API. */
  origin(id: string): string {
    return `${this.access.scheme}://127.0.0.1:${this.node(id).http}`;
  }

  /** Restarts a stopped node with its data directory as it was. */
  async restart(id: string): Promise<void> {
    const node = this.node(id);
    await this.launch(node, this.founders(), false);
  }

  /** The founding members (n1..), for --peers. */
  founders(): ProcessNode[] {
    return [...this.nodes.values()];
  }

  node(id: string): ProcessNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** Sends `signal` to a node; for SIGKILL and SIGTERM waits until it is gone. */
  async signal(id: string, signal: NodeJS.Signals): Promise<void> {
    const node = this.node(id);
    const child = node.child;
    if (child === null) return;
    if (child.exitCode !== null || child.signalCode !== null) {
      // Already gone (killed directly, or crashed): its exit event has fired and will not again.
      node.child = null;
      return;
    }
    if (signal === "SIGKILL" || signal === "SIGTERM") {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill(signal);
      await exited;
      node.child = null;
    } else {
      child.kill(signal);
    }
  }

  /** An HTTP request with the token; network errors come back as status 0. */
  async request(
    id: string,
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = 5_000,
  ): Promise<Answer> {
    const node = this.node(id);
    try {
      const response = await this.access.fetch(`${this.origin(node.id)}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    } catch (error) {
      return { status: 0, body: { error: { code: "unreachable", message: String(error) } } };
    }
  }

  /** Waits until running nodes agree on one leader; returns its id. */
  async leader(among: readonly string[] = this.running()): Promise<string> {
    return eventually(
      async () => {
        const views = await Promise.all(
          among.map((id) =>
            this.request(id, "GET", "/api/v3/consensus/status?consistency=stale", undefined, 1_000),
          ),
        );
        const leaders = new Set(views.map((v) => v.body["leader_id"]));
        const leader = views.find((v) => v.body["role"] === "leader")?.body["node_id"];
        if (typeof leader === "string" && leaders.size === 1 && leaders.has(leader)) return leader;
        return undefined;
      },
      20_000,
      50,
      `one leader among ${among.join(",")}`,
    );
  }

  /** Ids of nodes whose process runs. */
  running(): string[] {
    return [...this.nodes.values()].filter((n) => n.child !== null).map((n) => n.id);
  }

  /** Proposes through `id`, retrying while the cluster has no leader; returns the index. */
  async write(id: string, data: unknown): Promise<number> {
    return eventually(
      async () => {
        const answer = await this.request(id, "POST", "/api/v3/consensus/propose", {
          entry_type: "it",
          data,
        });
        // Keep the last refusal, so a failure says why.
        if (answer.status !== 201) throw new Error(`${answer.status} ${JSON.stringify(answer.body)}`);
        return answer.body["index"] as number;
      },
      20_000,
      50,
      `a write through ${id}`,
    );
  }

  /** The committed log of `id`, all pages. */
  async log(id: string): Promise<{ index: number; term: number; entry_type: string; data: unknown }[]> {
    const entries: { index: number; term: number; entry_type: string; data: unknown }[] = [];
    let from = 1;
    for (;;) {
      const answer = await this.request(id, "GET", `/api/v3/consensus/log?from=${from}&limit=1000`);
      if (answer.status === 410) {
        from =
          answer.body["error"] !== undefined
            ? (answer.body["error"] as { first_index: number }).first_index
            : from;
        continue;
      }
      const page = answer.body["entries"] as typeof entries;
      entries.push(...page);
      if (page.length < 1000) return entries;
      from = page.at(-1)!.index + 1;
    }
  }

  /** Kills everything and removes the data. */
  async stop(): Promise<void> {
    // A profiled node must exit by itself to write its profile.
    const signal = process.env["JUNO_CPU_PROF_DIR"] === undefined ? "SIGKILL" : "SIGTERM";
    await Promise.all([...this.nodes.keys()].map((id) => this.signal(id, signal)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
