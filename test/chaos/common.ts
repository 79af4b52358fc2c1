/** Shared pieces of the chaos scripts: options, checks, write load, and the final log audit. */

import type { ProcessCluster } from "../integration/harness.js";
import { eventually } from "../integration/harness.js";

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
