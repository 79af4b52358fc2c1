/** Shared pieces of the chaos scripts: options, checks, write load, and the final log audit. */

import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { ProcessCluster } from "../integration/harness.js";
import { eventually } from "../integration/harness.js";
import { nodeArgsFor } from "../support/compiled.js";

/** `--quick` runs a short version (what chaos.test.ts runs). */
export const quick = process.argv.includes("--quick");

const started = Date.now();

/** Prints a line with the seconds since the script started. */
export function say(line: string): void {
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Expectations checked along the way; the script exits 1 if any failed. */
export class Checks {
  readonly failures: string[] = [];

  expect(ok: boolean, what: string): void {
    if (ok) say(`ok: ${what}`);
    else {
      this.failures.push(what);
      say(`FAILED: ${what}`);
    }
  }

  /** Records a failure without printing "ok" lines for the many passing samples. */
  fail(what: string): void {
    if (this.failures.length < 50) say(`FAILED: ${what}`);
    this.failures.push(what);
  }
}

/** Percentile of `values` (0..100), or NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const ms = (value: number): string => (Number.isNaN(value) ? "-" : `${value.toFixed(0)} ms`);

/** Every acknowledged write: index -> data. */
export class Acks {
  readonly byIndex = new Map<number, string>();

  constructor(private readonly checks: Checks) {}

  add(index: number, data: string): void {
    const before = this.byIndex.get(index);
    if (before !== undefined && before !== data)
      this.checks.fail(`index ${index} acknowledged twice: ${before} and ${data}`);
    this.byIndex.set(index, data);
  }
}

/** One answer seen by the load. */
export interface Sample {
  readonly at: number;
  readonly status: number;
  readonly latency: number;
  readonly code: string | null;
  readonly target: string;
}

/** A bounded write load: `concurrency` loops posting unique values until stopped. */
export class WriteLoad {
  readonly samples: Sample[] = [];
  private stopped = false;
  private seq = 0;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly cluster: ProcessCluster,
    private readonly acks: Acks,
    private readonly tag: string,
    private readonly targets: () => readonly string[],
    private readonly timeoutMs = 3_000,
  ) {}

  /** Adds `count` writer loops. */
  add(count: number): void {
    for (let i = 0; i < count; i++) this.loops.push(this.loop());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    this.loops = [];
    this.stopped = false;
  }

  private async loop(): Promise<void> {
    const deadline = Date.now() + 120_000; // a hard bound; stop() ends it much earlier
    while (!this.stopped && Date.now() < deadline) {
      const ids = this.targets();
      if (ids.length === 0) {
        await sleep(50);
        continue;
      }
      const target = ids[Math.floor(Math.random() * ids.length)]!;
      const data = `${this.tag}-${this.seq++}`;
      const t0 = performance.now();
      const answer = await this.cluster.request(
        target,
        "POST",
        "/api/v3/consensus/propose",
        { entry_type: "chaos", data },
        this.timeoutMs,
      );
      const latency = performance.now() - t0;
      const error = answer.body["error"] as { code?: unknown } | undefined;
      this.samples.push({
        at: Date.now(),
        status: answer.status,
        latency,
        code: typeof error?.code === "string" ? error.code : null,
        target,
      });
      if (answer.status === 201) this.acks.add(answer.body["index"] as number, data);
      else await sleep(20);
    }
  }
}

/** Counts of statuses (with error codes) among samples. */
export function statusSummary(samples: readonly Sample[]): string {
  const counts = new Map<string, number>();
  for (const s of samples) {
    const key = s.status === 201 ? "201" : `${s.status}${s.code === null ? "" : ` ${s.code}`}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, v]) => `${k}: ${v}`).join(", ");
}

/**
 * Waits until every node's log is identical, then checks that each acknowledged write is in every
 * log once, at its index.
 */
export async function auditLogs(
  cluster: ProcessCluster,
  acks: Acks,
  checks: Checks,
  timeoutMs = 30_000,
): Promise<void> {
  const ids = [...cluster.nodes.keys()];
  type Log = Awaited<ReturnType<ProcessCluster["log"]>>;
  let logs: Log[] = [];
  const started = Date.now();
  try {
    await eventually(
      async () => {
        logs = await Promise.all(ids.map((id) => cluster.log(id)));
        // Compaction may start logs at different indexes: compare from the latest first index.
        const from = Math.max(...logs.map((log) => log[0]?.index ?? 1));
        const keys = logs.map((log) => JSON.stringify(log.filter((e) => e.index >= from)));
        const maxAcked = Math.max(0, ...acks.byIndex.keys());
        const long = logs.every((log) => (log.at(-1)?.index ?? 0) >= maxAcked);
        return long && keys.every((k) => k === keys[0]) ? true : undefined;
      },
      timeoutMs,
      250,
      "identical logs",
    );
    checks.expect(
      true,
      `logs identical on ${ids.join(", ")} after ${Date.now() - started} ms: ${logs[0]?.length ?? 0} entries`,
    );
  } catch (error) {
    checks.expect(
      false,
      `logs identical on every node (${String(error)}); last indexes ${logs.map((l) => l.at(-1)?.index).join(", ")}`,
    );
  }
  let missing = 0;
  let duplicated = 0;
  let compacted = 0;
  for (const [i, log] of logs.entries()) {
    const first = log[0]?.index ?? 1;
    const at = new Map(log.map((e) => [e.index, e.data]));
    const count = new Map<unknown, number>();
    for (const e of log) if (e.entry_type === "chaos") count.set(e.data, (count.get(e.data) ?? 0) + 1);
    for (const [index, data] of acks.byIndex) {
      if (index < first) {
        // Compacted into a snapshot: the log API no longer serves it.
        compacted++;
        continue;
      }
      if (at.get(index) !== data) {
        if (missing++ < 5) checks.fail(`${ids[i]}: acknowledged ${data} not at index ${index}`);
      } else if (count.get(data) !== 1) {
        if (duplicated++ < 5) checks.fail(`${ids[i]}: acknowledged ${data} appears ${count.get(data)} times`);
      }
    }
  }
  checks.expect(
    missing === 0 && duplicated === 0,
    `all ${acks.byIndex.size} acknowledged writes in every log, once, at their index (missing ${missing}, duplicated ${duplicated}; ${compacted} node-entries already compacted, not checkable; first indexes ${logs.map((l) => l[0]?.index ?? "-").join(", ")})`,
  );
}

/**
 * Runs `body` with a hard time limit, always stopping the cluster; exits 0 when every check
 * passed, 1 when one failed, 2 on an error or the time limit.
 */
export async function runScript(
  name: string,
  limitMs: number,
  body: (checks: Checks, cleanup: (fn: () => Promise<void>) => void) => Promise<void>,
): Promise<never> {
  const checks = new Checks();
  const cleanups: (() => Promise<void>)[] = [];
  let code = 0;
  say(`${name}${quick ? " (quick)" : ""}: time limit ${limitMs / 1000} s`);
  const interrupted = (signal: NodeJS.Signals): void => {
    say(`${signal}: stopping the cluster`);
    void Promise.all(cleanups.map((fn) => fn().catch(() => undefined))).then(() => process.exit(2));
  };
  process.once("SIGTERM", interrupted);
  process.once("SIGINT", interrupted);
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`time limit of ${limitMs} ms reached`)), limitMs);
  });
  try {
    await Promise.race([body(checks, (fn) => cleanups.push(fn)), limit]);
    code = checks.failures.length === 0 ? 0 : 1;
  } catch (error) {
    say(`ERROR: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    code = 2;
  }
  clearTimeout(timer);
  for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
  say(
    code === 0
      ? `${name}: all expectations held`
      : `${name}: ${checks.failures.length} failed expectation(s)${code === 2 ? " and an error" : ""}`,
  );
  process.exit(code);
}

/** Node environment that keeps the whole log servable, so the audit can check every write. */
export const NO_COMPACTION = { RAFT_LOG_COMPACTION_THRESHOLD: "10000000" };

// Agent processes (agent-process.ts) and the tasks they run: shared by load_spike.ts and the
// integration test test/integration/agents-tasks.test.ts.

/** The bearer token of ProcessCluster's nodes (test/integration/harness.ts), for agent processes. */
const CLUSTER_TOKEN = "integration-token";
/** Output of an agent process kept for a failure message. */
const AGENT_OUTPUT_TAIL = 4_000;

/** An acknowledged completion one agent process printed. */
export interface HeardCompletion {
  readonly agent: string;
  readonly attempt: number;
}

/** What every agent process printed about attempts: the evidence "exactly once" is judged by. */
export class TaskLedger {
  /** Task id to every acknowledged completion printed for it (a list, so a repeat shows). */
  readonly completions = new Map<string, HeardCompletion[]>();
  /** Completion lines in all. */
  completed = 0;

  /** Records one `<outcome> <task> <attempt>` line of agent `agent`. */
  record(agent: string, outcome: string, task: string, attempt: number): void {
    if (outcome !== "completed") return;
    this.completed++;
    let heard = this.completions.get(task);
    if (heard === undefined) this.completions.set(task, (heard = []));
    heard.push({ agent, attempt });
  }

  /** Agent names that printed at least one completion. */
  agentsThatCompleted(): Set<string> {
    const names = new Set<string>();
    for (const heard of this.completions.values()) for (const { agent } of heard) names.add(agent);
    return names;
  }
}

/** One agent process, its registered id, and the attempts it says it is running. */
export class AgentProcess {
  /** Attempts started here and not yet ended, as `task#attempt`. */
  readonly running = new Set<string>();
  output = "";

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly id: string,
  ) {}

  /** Whether the process still runs. */
  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Kills the process with SIGKILL and waits until it is gone. */
  async kill(): Promise<void> {
    if (!this.alive()) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGKILL");
    await exited;
  }
}

/** How an agent process is started. */
export interface AgentOptions {
  readonly skill?: string;
  readonly team?: string;
  /** Tasks it runs at once (agent-process.ts's default is 4). */
  readonly capacity?: number;
  /** How long it may take to register. */
  readonly registerTimeoutMs?: number;
}

/**
 * Starts agent-process.ts as `name` against `urls` (the first is the node it prefers) and waits
 * until it has registered; every attempt line it prints goes to `ledger`.
 */
export async function spawnAgent(
  name: string,
  urls: readonly string[],
  ledger: TaskLedger,
  options: AgentOptions = {},
): Promise<AgentProcess> {
  const args = [...nodeArgsFor(join(import.meta.dirname, "agent-process.ts")), "--name", name];
  args.push("--urls", urls.join(","));
  if (options.skill !== undefined) args.push("--skill", options.skill);
  if (options.team !== undefined) args.push("--team", options.team);
  if (options.capacity !== undefined) args.push("--capacity", String(options.capacity));
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, JUNO_API_TOKEN: CLUSTER_TOKEN },
  });
  let agent: AgentProcess | null = null;
  let output = "";
  let partial = "";
  const keep = (text: string): void => {
    output = (output + text).slice(-AGENT_OUTPUT_TAIL);
    if (agent !== null) agent.output = output;
  };
  const id = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not register: ${output}`)),
      options.registerTimeoutMs ?? 30_000,
    );
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it registered: ${output}`));
    });
    child.stdout.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      keep(text);
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        const registered = /^registered ([0-9a-f-]{36})$/.exec(line.trim());
        if (registered !== null) {
          clearTimeout(timer);
          resolve(registered[1]!);
          continue;
        }
        const attempt = /^([a-z_]+) ([0-9a-f-]{36}) ([0-9]+)$/.exec(line.trim());
        if (attempt === null) continue;
        const [, outcome, task, number] = attempt as unknown as [string, string, string, string];
        const key = `${task}#${number}`;
        if (outcome === "started") agent?.running.add(key);
        else agent?.running.delete(key);
        ledger.record(name, outcome, task, Number(number));
      }
    });
    child.stderr.on("data", (chunk: Buffer) => keep(chunk.toString()));
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  try {
    agent = new AgentProcess(name, child, await id);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  agent.output = output;
  return agent;
}

/**
 * Starts `count` agent processes in parallel, `${prefix}-1`...: agent i prefers node i mod n of
 * `urls` and fails over to the others in turn. Every one that registered is added to `into` in
 * order, even when another failed (so the caller can stop them); then the first failure is thrown.
 */
export async function spawnAgents(
  prefix: string,
  count: number,
  urls: readonly string[],
  ledger: TaskLedger,
  options: AgentOptions,
  into: AgentProcess[],
): Promise<void> {
  const settled = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => {
      const shift = i % urls.length;
      return spawnAgent(
        `${prefix}-${i + 1}`,
        [...urls.slice(shift), ...urls.slice(0, shift)],
        ledger,
        options,
      );
    }),
  );
  for (const result of settled) if (result.status === "fulfilled") into.push(result.value);
  const failed = settled.find((result) => result.status === "rejected");
  if (failed !== undefined) throw failed.reason;
}

/** A task as GET /api/v3/tasks answers show it: the fields the checks read. */
export interface TaskFinal {
  readonly id: string;
  readonly status: string;
  readonly attempt: number;
  readonly previous_agents: readonly string[];
}

/**
 * Waits until the cluster holds no task that is queued, assigned or running (asking the nodes
 * `live()` names in turn), or `timeoutMs` passed; then reads every task, all pages. Returns the
 * tasks by id and how long the wait took.
 */
export async function drainTasks(
  cluster: ProcessCluster,
  live: () => readonly string[],
  timeoutMs: number,
): Promise<{ tasks: Map<string, TaskFinal>; drainedMs: number | null }> {
  const from = Date.now();
  let asked = 0;
  let drainedMs: number | null = null;
  while (Date.now() - from < timeoutMs) {
    const nodes = live();
    const node = nodes[asked++ % nodes.length];
    if (node === undefined) break;
    const answer = await cluster.request(node, "GET", "/api/v3/tasks/status?limit=1", undefined, 3_000);
    const counts = answer.body["counts"] as Record<string, number> | undefined;
    if (answer.status === 200 && counts !== undefined) {
      const unfinished = (counts["queued"] ?? 0) + (counts["assigned"] ?? 0) + (counts["running"] ?? 0);
      if (unfinished === 0) {
        drainedMs = Date.now() - from;
        break;
      }
    }
    await sleep(100);
  }
  return { tasks: await allTasks(cluster, live), drainedMs };
}

/** Every task the cluster holds, read page by page from a live node (linearizable reads). */
async function allTasks(
  cluster: ProcessCluster,
  live: () => readonly string[],
): Promise<Map<string, TaskFinal>> {
  const tasks = new Map<string, TaskFinal>();
  let cursor: string | null = null;
  for (let pages = 0; pages < 1_000; pages++) {
    const query: string = `limit=500${cursor === null ? "" : `&cursor=${cursor}`}`;
    const answer = await eventually(
      async () => {
        for (const node of live()) {
          const page = await cluster.request(node, "GET", `/api/v3/tasks/status?${query}`, undefined, 5_000);
          if (page.status === 200) return page;
        }
        return undefined;
      },
      20_000,
      200,
      "a page of tasks",
    );
    for (const task of answer.body["tasks"] as TaskFinal[]) tasks.set(task.id, task);
    cursor = answer.body["next_cursor"] as string | null;
    if (cursor === null) return tasks;
  }
  throw new Error("more than 1000 pages of tasks");
}

/**
 * Waits (up to `timeoutMs`) until the ledger has heard the completion of every task in `ids`
 * completed by one of `agents` still alive: juno may show a task completed before the agent's
 * line about it has come through the pipe. A killed agent's last acknowledgements may never come.
 */
export async function awaitHeard(
  ids: Iterable<string>,
  tasks: ReadonlyMap<string, TaskFinal>,
  ledger: TaskLedger,
  agents: readonly AgentProcess[],
  timeoutMs = 5_000,
): Promise<void> {
  const alive = new Set(agents.filter((agent) => agent.alive()).map((agent) => agent.id));
  const owed = [...ids].filter((id) => {
    const task = tasks.get(id);
    return task?.status === "succeeded" && alive.has(task.previous_agents.at(-1) ?? "");
  });
  const deadline = Date.now() + timeoutMs;
  while (owed.some((id) => !ledger.completions.has(id)) && Date.now() < deadline) await sleep(20);
}

/** How the accepted tasks ended, against what the agents heard acknowledged. */
export interface TaskAudit {
  readonly accepted: number;
  /** Accepted tasks that ended completed. */
  readonly completed: number;
  /** Accepted tasks not completed (missing, unfinished or ended otherwise), as `id status`. */
  readonly notCompleted: string[];
  /** Tasks with more than one acknowledged completion. */
  readonly twice: string[];
  /** Tasks with an acknowledged completion of an attempt other than the one they ended with. */
  readonly wrongAttempt: string[];
  /** Completed tasks whose final attempt no agent printed as acknowledged. */
  readonly unheard: TaskFinal[];
}

/**
 * Judges "completed exactly once": every accepted task ended completed; no task had two
 * acknowledged completions; the one acknowledged is the attempt it ended with. A completed task
 * with none heard is listed apart: only an agent killed between the acknowledgement and its
 * printing it explains one.
 */
export function auditTasks(
  accepted: Iterable<string>,
  tasks: ReadonlyMap<string, TaskFinal>,
  ledger: TaskLedger,
): TaskAudit {
  const notCompleted: string[] = [];
  const twice: string[] = [];
  const wrongAttempt: string[] = [];
  const unheard: TaskFinal[] = [];
  let count = 0;
  for (const id of accepted) {
    count++;
    const task = tasks.get(id);
    const heard = ledger.completions.get(id) ?? [];
    if (heard.length > 1) twice.push(id);
    if (task?.status !== "succeeded") {
      notCompleted.push(`${id} ${task?.status ?? "missing"}`);
      continue;
    }
    if (heard.some(({ attempt }) => attempt !== task.attempt)) wrongAttempt.push(id);
    if (heard.length === 0) unheard.push(task);
  }
  const completed = count - notCompleted.length;
  return { accepted: count, completed, notCompleted, twice, wrongAttempt, unheard };
}
