/**
 * In-memory benchmark of the Raft core: a 3-voter cluster in one thread, messages handed over by
 * reference, no disk and no sockets. It measures how many small entries per second go through
 * the leader's log, both followers' logs and come out committed on all three nodes, and how many
 * heap bytes each such entry costs.
 *
 * `npm run bench:raft` runs this file as the coordinator. The coordinator never measures anything
 * itself: it re-executes this file in fresh Node processes with the V8 flags each measurement
 * needs, one process per batch size and kind, so one measurement's JIT and heap state cannot
 * leak into the next. Options (defaults shown): --batches=1,64,1024,4096 --warmup-ms=1000
 * --duration-ms=2000 --runs=3 --alloc-entries=200000 --tick-ms=10 --entry-bytes=16
 * --compaction-threshold=10000 (or RAFT_LOG_COMPACTION_THRESHOLD) --snapshot-bytes=64.
 */

import { fork } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { PerformanceObserver, performance, type PerformanceEntry } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import {
  RaftNode,
  SeededRandom,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type Ready,
  type Snapshot,
} from "../src/raft/index.js";

// ---------------------------------------------------------------- settings

/** What one benchmark run is configured with; every field can be set on the command line. */
interface BenchSettings {
  readonly batchSizes: readonly number[];
  readonly warmupMs: number;
  /** Length of one measured run; each batch size is measured `runs` times after its warm-up. */
  readonly durationMs: number;
  readonly runs: number;
  /** Entries per allocation window (rounded up to whole batches). */
  readonly allocationEntries: number;
  /** Wall-clock interval between two ticks of every node, as a deployment would tick. */
  readonly tickMs: number;
  readonly entryBytes: number;
  /** Take a snapshot on a node once it applied this many entries since its last one. */
  readonly compactionThresholdEntries: number;
  readonly snapshotDataBytes: number;
}

const VOTERS: readonly NodeId[] = ["a", "b", "c"];
/** Young generation for the allocation child: large enough that a window needs no scavenge. */
const ALLOCATION_SEMI_SPACE_MB = 1024;
/** Payload bytes 0..3 carry the entry's sequence number, so each node checks what it applies. */
const SEQUENCE_BYTES = 4;

/** Reads --name=value options; anything unknown is an error rather than silently ignored. */
export function parseSettings(argv: readonly string[]): BenchSettings {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (match === null) throw new RangeError(`unknown argument ${arg} (expected --name=value)`);
    flags.set(match[1]!, match[2]!);
  }
  const number = (name: string, fallback: number): number => {
    const raw = flags.get(name);
    flags.delete(name);
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`--${name} must be a positive integer`);
    return value;
  };
  const batchesRaw = flags.get("batches") ?? "1,64,1024,4096";
  flags.delete("batches");
  const settings: BenchSettings = {
    batchSizes: batchesRaw.split(",").map((part) => {
      const value = Number(part);
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`bad batch size ${part}`);
      return value;
    }),
    warmupMs: number("warmup-ms", 1000),
    durationMs: number("duration-ms", 2000),
    runs: number("runs", 3),
    allocationEntries: number("alloc-entries", 200_000),
    tickMs: number("tick-ms", 10),
    entryBytes: number("entry-bytes", 16),
    compactionThresholdEntries: number(
      "compaction-threshold",
      Number(process.env["RAFT_LOG_COMPACTION_THRESHOLD"] ?? 10_000),
    ),
    snapshotDataBytes: number("snapshot-bytes", 64),
  };
  if (flags.size > 0) throw new RangeError(`unknown option --${[...flags.keys()][0]}`);
  if (settings.entryBytes < SEQUENCE_BYTES)
    throw new RangeError(`--entry-bytes must be >= ${SEQUENCE_BYTES}`);
  return settings;
}

// ---------------------------------------------------------------- the cluster

/**
 * One node and what its host would do with a Ready: keep the entries and hard state in memory
 * (standing in for the disk), apply committed entries to a state machine that checks their
 * order, and take a snapshot every `compactionThresholdEntries` applied entries.
 */
class BenchHost {
  readonly raft: RaftNode;
  /** The "disk": entries after the last snapshot, contiguous from storageFirstIndex. */
  private storage: Entry[] = [];
  private storageFirstIndex = 1;
  hardState: HardState = { term: 0, vote: null, commit: 0 };
  storedSnapshot: Snapshot | null = null;
  /** The state machine: the index last applied and the next client sequence number it expects. */
  appliedIndex = 0;
  nextSequence = 0;
  snapshotsTaken = 0;

  constructor(
    readonly id: NodeId,
    seed: number,
    private readonly settings: BenchSettings,
    private readonly snapshotData: Uint8Array,
  ) {
    this.raft = new RaftNode(
      { id, random: new SeededRandom(seed), compactionThresholdEntries: settings.compactionThresholdEntries },
      { kind: "bootstrap", voters: VOTERS },
    );
  }

  /** Handles one Ready in the order the Ready contract prescribes; returns whether there was one. */
  handleReady(outbox: Message[], work: Work): boolean {
    if (!this.raft.hasReady()) return false;
    const ready = this.raft.ready();
    work.readies++;
    // A real host would fsync here; the count shows what a round would cost on a disk.
    if (ready.mustSync) work.syncs++;
    this.persist(ready);
    for (const message of ready.messages) outbox.push(message);
    this.apply(ready);
    this.raft.advance();
    this.maybeSnapshot();
    return true;
  }

  /** Entries held on the "disk" (bounded by compaction). */
  storedEntries(): number {
    return this.storage.length;
  }

  private persist(ready: Ready): void {
    if (ready.snapshot !== null) {
      this.storedSnapshot = ready.snapshot;
      this.storage = [];
      this.storageFirstIndex = ready.snapshot.index + 1;
    }
    const first = ready.entries[0];
    if (first !== undefined) {
      // Replace whatever is stored at or after the first new entry.
      const keep = first.index - this.storageFirstIndex;
      check(
        keep >= 0 && keep <= this.storage.length,
        () => `${this.id}: stored log has a gap at ${first.index}`,
      );
      // Nearly always a pure append; cutting the tail happens only when a leader overwrote it.
      if (keep < this.storage.length) this.storage.length = keep;
      for (const entry of ready.entries) this.storage.push(entry);
    }
    if (ready.hardState !== null) this.hardState = ready.hardState;
  }

  private apply(ready: Ready): void {
    check(ready.snapshot === null, () => `${this.id}: a snapshot was sent, but nobody should lag that far`);
    for (const entry of ready.committedEntries) {
      // Per-entry checks are plain ifs: a message closure per entry would bill its allocation to Raft.
      if (entry.index !== this.appliedIndex + 1)
        fail(`${this.id}: applied ${entry.index} after ${this.appliedIndex}`);
      this.appliedIndex = entry.index;
      if (entry.type !== "normal" || entry.data.length === 0) continue;
      const data = entry.data;
      const sequence = (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
      if (sequence !== this.nextSequence >>> 0) {
        fail(`${this.id}: applied client entry ${sequence}, expected ${this.nextSequence}`);
      }
      this.nextSequence++;
    }
  }

  private maybeSnapshot(): void {
    if (!this.raft.snapshotDue()) return;
    const firstKept = this.raft.takeSnapshot(this.appliedIndex, this.snapshotData);
    this.storedSnapshot = this.raft.currentSnapshot();
    this.snapshotsTaken++;
    const drop = firstKept - this.storageFirstIndex;
    if (drop > 0) {
      this.storage.splice(0, drop);
      this.storageFirstIndex = firstKept;
    }
  }
}

/** Counters of the work one measurement did. */
export interface Work {
  rounds: number;
  entries: number;
  messages: number;
  readies: number;
  /** Readys that asked for an fsync (entries, snapshot, term or vote to persist). */
  syncs: number;
  ticks: number;
}

/** Three hosts and the "network": a queue of messages delivered by reference. */
export class Cluster {
  readonly hosts: BenchHost[];
  private readonly byId = new Map<NodeId, BenchHost>();
  private outbox: Message[] = [];
  private inbox: Message[] = [];
  private nextTickMs = 0;
  /** Sequence number of the next client entry. */
  private sequence = 0;
  readonly leader: BenchHost;
  readonly leaderTerm: number;

  constructor(private readonly settings: BenchSettings) {
    const snapshotData = new Uint8Array(settings.snapshotDataBytes).fill(0x5a);
    this.hosts = VOTERS.map((id, i) => new BenchHost(id, 1000 + i, settings, snapshotData));
    for (const host of this.hosts) this.byId.set(host.id, host);
    const work = newWork();
    this.leader = this.elect(work);
    this.leaderTerm = this.leader.raft.term;
  }

  /**
   * One client round: the leader takes `batchSize` proposals, then the loop pumps Readys and
   * messages until the cluster is quiet. Every entry must then be applied on every node.
   */
  round(batchSize: number, work: Work): void {
    this.maybeTick(work);
    const leader = this.leader.raft;
    const entryBytes = this.settings.entryBytes;
    for (let i = 0; i < batchSize; i++) {
      const result = leader.propose(makePayload(this.sequence++, entryBytes));
      if (!result.ok) fail(`proposal refused: ${result.code}`);
    }
    this.pump(work);
    const last = leader.log.lastIndex();
    for (const host of this.hosts) {
      check(
        host.appliedIndex === last,
        () => `${host.id} applied ${host.appliedIndex}, leader's last is ${last}`,
      );
    }
    check(
      leader.role === "leader" && leader.term === this.leaderTerm,
      () => "leadership changed mid-benchmark",
    );
    work.rounds++;
    work.entries += batchSize;
  }

  /** Checks that every node applied every client entry exactly once, in order. */
  verifyAllApplied(): void {
    for (const host of this.hosts) {
      check(
        host.nextSequence === this.sequence,
        () => `${host.id} applied ${host.nextSequence} of ${this.sequence} entries`,
      );
    }
  }

  /** Retained log entries per node (in the core and on its "disk"), to show compaction bounds them. */
  retainedEntries(): { core: number; stored: number } {
    let core = 0;
    let stored = 0;
    for (const host of this.hosts) {
      const status = host.raft.status();
      core = Math.max(core, status.lastIndex - status.firstIndex + 1);
      stored = Math.max(stored, host.storedEntries());
    }
    return { core, stored };
  }

  snapshotsTaken(): number {
    let total = 0;
    for (const host of this.hosts) total += host.snapshotsTaken;
    return total;
  }

  /** Runs Readys and delivers messages until no node has anything left to do. */
  private pump(work: Work): void {
    for (let busy = true; busy;) {
      busy = false;
      for (const host of this.hosts) {
        if (host.handleReady(this.outbox, work)) busy = true;
      }
      if (this.outbox.length > 0) {
        busy = true;
        this.deliver(work);
      }
    }
  }

  private deliver(work: Work): void {
    // Swap the two queues so delivering never allocates a new array.
    const batch = this.outbox;
    this.outbox = this.inbox;
    this.inbox = batch;
    for (const message of batch) {
      const host = this.byId.get(message.to);
      if (host === undefined) fail(`message to unknown node ${message.to}`);
      host.raft.step(message);
    }
    work.messages += batch.length;
    batch.length = 0;
  }

  /** Ticks every node once per tickMs of wall-clock time, between rounds, as a deployment would. */
  private maybeTick(work: Work): void {
    const nowMs = performance.now();
    if (nowMs < this.nextTickMs) return;
    this.nextTickMs = nowMs + this.settings.tickMs;
    for (const host of this.hosts) host.raft.tick();
    work.ticks++;
  }

  /** Ticks node "a" until some node leads, then lets the leader's no-op apply everywhere. */
  private elect(work: Work): BenchHost {
    const first = this.hosts[0]!;
    for (let ticks = 0; ticks < 1000; ticks++) {
      first.raft.tick();
      this.pump(work);
      const leader = this.hosts.find((host) => host.raft.role === "leader");
      if (leader !== undefined) {
        this.pump(work);
        return leader;
      }
    }
    throw new Error("no leader after 1000 ticks");
  }
}

/** Zeroed counters for a new measurement. */
export function newWork(): Work {
  return { rounds: 0, entries: 0, messages: 0, readies: 0, syncs: 0, ticks: 0 };
}

/** A client entry: its sequence number little-endian in the first bytes, then filler. */
function makePayload(sequence: number, entryBytes: number): Uint8Array {
  const data = new Uint8Array(entryBytes);
  data[0] = sequence & 0xff;
  data[1] = (sequence >>> 8) & 0xff;
  data[2] = (sequence >>> 16) & 0xff;
  data[3] = (sequence >>> 24) & 0xff;
  return data;
}

/** The benchmark's own checks: they stay on while measuring, like the core's assertions. */
function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) fail(message());
}

/** Stops the benchmark: a figure from a cluster that went wrong would be worthless. */
function fail(message: string): never {
  throw new Error(`benchmark check failed: ${message}`);
}

// ---------------------------------------------------------------- GC observation

/** Records every GC with its start time, so a window can tell whether one ran inside it. */
class GcLog {
  private readonly entries: PerformanceEntry[] = [];
  private readonly observer: PerformanceObserver;

  constructor() {
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.entries.push(entry);
    });
    this.observer.observe({ entryTypes: ["gc"] });
  }

  /** GCs that started inside [startMs, endMs]; call after flush(). */
  within(startMs: number, endMs: number): { count: number; durationMs: number } {
    let count = 0;
    let durationMs = 0;
    for (const entry of this.entries) {
      if (entry.startTime < startMs || entry.startTime > endMs) continue;
      count++;
      durationMs += entry.duration;
    }
    return { count, durationMs };
  }

  /** Observer callbacks arrive asynchronously: give them a chance to run. */
  async flush(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  disconnect(): void {
    this.observer.disconnect();
  }
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  check(gc !== undefined, () => "run with --expose-gc");
  gc();
  gc();
}

// ---------------------------------------------------------------- measurements (child processes)

/** What a throughput child reports. */
interface ThroughputResult {
  readonly batchSize: number;
  /** Median over the runs, then the slowest and fastest run. */
  readonly entriesPerSecond: number;
  readonly entriesPerSecondMin: number;
  readonly entriesPerSecondMax: number;
  readonly runsEntriesPerSecond: readonly number[];
  /** The rest sums up all runs. */
  readonly entries: number;
  readonly elapsedMs: number;
  readonly rounds: number;
  readonly messagesPerRound: number;
  readonly readiesPerRound: number;
  readonly syncsPerRound: number;
  readonly ticks: number;
  readonly snapshots: number;
  readonly cpuPerWall: number;
  readonly gcCount: number;
  readonly gcMs: number;
  readonly warmupEntries: number;
  readonly retainedCoreEntriesMax: number;
  readonly retainedStoredEntriesMax: number;
  readonly heapUsedAfterMB: number;
}

/** What an allocation child reports. */
interface AllocationResult {
  readonly batchSize: number;
  readonly entries: number;
  readonly bytesPerEntry: number;
  /** Of which: the client's payload (one Uint8Array of entryBytes), measured alone. */
  readonly payloadBytesPerEntry: number;
  readonly externalBytesPerEntry: number;
  readonly gcInWindow: number;
  /** Earlier windows thrown away because a GC ran inside them. */
  readonly discardedWindows: number;
  readonly snapshots: number;
}

/** Runs rounds until `durationMs` of wall-clock time passed. */
function runFor(cluster: Cluster, batchSize: number, durationMs: number, work: Work): number {
  const start = performance.now();
  const deadline = start + durationMs;
  let now = start;
  while (now < deadline) {
    cluster.round(batchSize, work);
    now = performance.now();
  }
  return now - start;
}

async function measureThroughput(settings: BenchSettings, batchSize: number): Promise<ThroughputResult> {
  const cluster = new Cluster(settings);
  const warmup = newWork();
  runFor(cluster, batchSize, settings.warmupMs, warmup);
  const gcLog = new GcLog();
  const work = newWork();
  const snapshotsBefore = cluster.snapshotsTaken();
  const rates: number[] = [];
  let elapsedMs = 0;
  let cpuMs = 0;
  const gc = { count: 0, durationMs: 0 };
  for (let run = 0; run < settings.runs; run++) {
    // Every run starts from a clean heap, so one run's garbage does not bill the next.
    collectGarbage();
    const entriesBefore = work.entries;
    const cpuBefore = process.cpuUsage();
    const startMs = performance.now();
    const runMs = runFor(cluster, batchSize, settings.durationMs, work);
    const cpu = process.cpuUsage(cpuBefore);
    await gcLog.flush();
    const runGc = gcLog.within(startMs, startMs + runMs);
    rates.push(((work.entries - entriesBefore) / runMs) * 1000);
    elapsedMs += runMs;
    cpuMs += (cpu.user + cpu.system) / 1000;
    gc.count += runGc.count;
    gc.durationMs += runGc.durationMs;
  }
  gcLog.disconnect();
  cluster.verifyAllApplied();
  const retained = cluster.retainedEntries();
  collectGarbage();
  const sorted = [...rates].sort((a, b) => a - b);
  return {
    batchSize,
    entriesPerSecond: sorted[Math.floor(sorted.length / 2)]!,
    entriesPerSecondMin: sorted[0]!,
    entriesPerSecondMax: sorted[sorted.length - 1]!,
    runsEntriesPerSecond: rates,
    entries: work.entries,
    elapsedMs,
    rounds: work.rounds,
    messagesPerRound: work.messages / work.rounds,
    readiesPerRound: work.readies / work.rounds,
    syncsPerRound: work.syncs / work.rounds,
    ticks: work.ticks,
    snapshots: cluster.snapshotsTaken() - snapshotsBefore,
    cpuPerWall: cpuMs / elapsedMs,
    gcCount: gc.count,
    gcMs: gc.durationMs,
    warmupEntries: warmup.entries,
    retainedCoreEntriesMax: retained.core,
    retainedStoredEntriesMax: retained.stored,
    heapUsedAfterMB: process.memoryUsage().heapUsed / 2 ** 20,
  };
}

/**
 * Bytes allocated per entry: with a young generation larger than the window allocates, no GC
 * runs inside it, so the growth of heapUsed is exactly what was allocated. A window in which a GC
 * ran would show too few bytes: it is discarded and retried with half the entries, and if every
 * attempt saw a GC the last one is reported with its GC count, never hidden.
 */
async function measureAllocation(settings: BenchSettings, batchSize: number): Promise<AllocationResult> {
  const cluster = new Cluster(settings);
  runFor(cluster, batchSize, settings.warmupMs, newWork());
  const gcLog = new GcLog();
  let rounds = Math.ceil(settings.allocationEntries / batchSize);
  let discarded = 0;
  for (;;) {
    const window = await measureWindow(cluster, batchSize, rounds, gcLog);
    if (window.gcInWindow === 0 || discarded === MAX_DISCARDED_WINDOWS || rounds === 1) {
      gcLog.disconnect();
      cluster.verifyAllApplied();
      const payloadBytes = measurePayloadBytes(settings.entryBytes, window.entries);
      return { ...window, batchSize, payloadBytesPerEntry: payloadBytes, discardedWindows: discarded };
    }
    discarded++;
    rounds = Math.ceil(rounds / 2);
  }
}

const MAX_DISCARDED_WINDOWS = 4;

/** What one allocation window measured. */
type AllocationWindow = Pick<
  AllocationResult,
  "entries" | "bytesPerEntry" | "externalBytesPerEntry" | "gcInWindow" | "snapshots"
>;

/** One allocation window of `rounds` rounds, from a freshly collected heap. */
async function measureWindow(
  cluster: Cluster,
  batchSize: number,
  rounds: number,
  gcLog: GcLog,
): Promise<AllocationWindow> {
  const snapshotsBefore = cluster.snapshotsTaken();
  const work = newWork();
  collectGarbage();
  const before = process.memoryUsage();
  const startMs = performance.now();
  for (let i = 0; i < rounds; i++) cluster.round(batchSize, work);
  const endMs = performance.now();
  const after = process.memoryUsage();
  await gcLog.flush();
  return {
    entries: work.entries,
    bytesPerEntry: (after.heapUsed - before.heapUsed) / work.entries,
    externalBytesPerEntry: (after.external - before.external) / work.entries,
    gcInWindow: gcLog.within(startMs, endMs).count,
    snapshots: cluster.snapshotsTaken() - snapshotsBefore,
  };
}

/** Heap bytes of one client payload alone, so the core's share can be told apart. */
function measurePayloadBytes(entryBytes: number, count: number): number {
  const keep: Uint8Array[] = new Array<Uint8Array>(count);
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) keep[i] = makePayload(i, entryBytes);
  const after = process.memoryUsage().heapUsed;
  check(keep.length === count, () => "payloads lost");
  return (after - before) / count;
}

// ---------------------------------------------------------------- coordinator

type ChildRole = "throughput" | "allocation";

/** Runs one measurement in a fresh Node process with the flags it needs, and returns its report. */
function runChild<T>(role: ChildRole, batchSize: number, argv: readonly string[]): Promise<T> {
  const execArgv = ["--expose-gc", "--import", "tsx"];
  if (role === "allocation") {
    execArgv.unshift(
      `--min-semi-space-size=${ALLOCATION_SEMI_SPACE_MB}`,
      `--max-semi-space-size=${ALLOCATION_SEMI_SPACE_MB}`,
    );
  }
  const scriptPath = fileURLToPath(import.meta.url);
  const child = fork(scriptPath, [...argv], {
    cwd: path.resolve(path.dirname(scriptPath), ".."),
    execArgv,
    env: { ...process.env, JUNO_BENCH_CHILD: role, JUNO_BENCH_BATCH: String(batchSize) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    let result: T | undefined;
    child.on("message", (message) => {
      result = message as T;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code === 0 && result !== undefined) resolve(result);
      else reject(new Error(`${role} benchmark for batch ${batchSize} exited with code ${code}`));
    });
  });
}

async function runChildRole(role: ChildRole, settings: BenchSettings): Promise<void> {
  const batchSize = Number(process.env["JUNO_BENCH_BATCH"]);
  const result =
    role === "throughput"
      ? await measureThroughput(settings, batchSize)
      : await measureAllocation(settings, batchSize);
  const send = process.send?.bind(process);
  if (send === undefined) {
    // Started by hand (say under --cpu-prof): print the report instead.
    console.log(JSON.stringify(result));
    return;
  }
  await new Promise<void>((resolve, reject) => {
    send(result, (error: Error | null) => (error === null ? resolve() : reject(error)));
  });
  process.disconnect();
}

/** Prints rows under headers, every column right-aligned to its widest cell. */
function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]): string =>
    cells.map((cell, column) => cell.padStart(widths[column]!)).join("  ");
  console.log(line(headers));
  for (const row of rows) console.log(line(row));
}

function formatInteger(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** Prints lines of text, then an empty line. */
function printLines(lines: readonly string[]): void {
  console.log([...lines, ""].join("\n"));
}

function printHeader(settings: BenchSettings): void {
  const cpus = os.cpus();
  const s = settings;
  printLines([
    "juno Raft core benchmark: 3 voters in one thread, in memory, messages passed by reference",
    `node ${process.version} (V8 ${process.versions.v8}), ${process.platform} ${process.arch}, ` +
      `${cpus[0]?.model ?? "unknown CPU"}, ${cpus.length} CPUs`,
    `entries of ${s.entryBytes} B; a snapshot (${s.snapshotDataBytes} B of data) every ` +
      `${s.compactionThresholdEntries} applied entries on every node; every node ticks every ${s.tickMs} ms`,
    `per batch size, in a fresh process: ${s.warmupMs} ms warm-up, then ${s.runs} runs of ${s.durationMs} ms;`,
    `allocation in another fresh process: ${s.warmupMs} ms warm-up, then a window of ${s.allocationEntries} ` +
      `entries, young generation ${ALLOCATION_SEMI_SPACE_MB} MB`,
    "a round: the client proposes a batch on the leader, then Readys and messages are pumped until every",
    "entry is in all three logs and applied on all three nodes (checked, in order, every round)",
  ]);
}

function printThroughput(results: readonly ThroughputResult[]): void {
  console.log("throughput: entries committed and applied on all 3 nodes per second (median of the runs)");
  const headers = ["batch", "entries/s", "min", "max", "rounds/s", "µs/round", "msgs/round"];
  headers.push("readys/round", "syncs/round", "snapshots", "GC time", "cpu/wall", "log max");
  printTable(
    headers,
    results.map((r) => [
      String(r.batchSize),
      formatInteger(r.entriesPerSecond),
      formatInteger(r.entriesPerSecondMin),
      formatInteger(r.entriesPerSecondMax),
      formatInteger((r.rounds / r.elapsedMs) * 1000),
      ((r.elapsedMs * 1000) / r.rounds).toFixed(1),
      r.messagesPerRound.toFixed(1),
      r.readiesPerRound.toFixed(1),
      r.syncsPerRound.toFixed(1),
      String(r.snapshots),
      `${((100 * r.gcMs) / r.elapsedMs).toFixed(1)} %`,
      r.cpuPerWall.toFixed(2),
      String(r.retainedCoreEntriesMax),
    ]),
  );
  printLines([
    "readys/round, syncs/round: Readys the three nodes handled, and how many of them asked for an fsync;",
    "snapshots: taken by the three nodes in the measured runs; GC time: share of wall time in GC pauses;",
    "cpu/wall: CPU time (all threads) over wall time, below 1 when the machine was busy with other work,",
    "which makes that row pessimistic; log max: most entries any node's log holds at the end",
  ]);
}

function printAllocation(results: readonly AllocationResult[]): void {
  console.log("allocation: heap bytes per committed entry, whole cluster (leader, 2 followers, harness)");
  const headers = ["batch", "bytes/entry", "client payload", "core + harness", "external", "entries"];
  headers.push("snapshots", "GCs in window", "windows retried");
  printTable(
    headers,
    results.map((r) => [
      String(r.batchSize),
      r.bytesPerEntry.toFixed(0),
      r.payloadBytesPerEntry.toFixed(0),
      (r.bytesPerEntry - r.payloadBytesPerEntry).toFixed(0),
      r.externalBytesPerEntry.toFixed(1),
      formatInteger(r.entries),
      String(r.snapshots),
      r.gcInWindow === 0 ? "0" : `${r.gcInWindow} (figure too low)`,
      String(r.discardedWindows),
    ]),
  );
  printLines([
    "client payload: the proposal's own Uint8Array, measured alone. A GC inside a window would hide bytes:",
    "a PerformanceObserver checks each window, and one with a GC is retried with half the entries",
  ]);
}

async function coordinate(settings: BenchSettings, argv: readonly string[]): Promise<void> {
  printHeader(settings);
  const throughput: ThroughputResult[] = [];
  for (const batchSize of settings.batchSizes) {
    throughput.push(await runChild<ThroughputResult>("throughput", batchSize, argv));
  }
  printThroughput(throughput);
  const allocation: AllocationResult[] = [];
  for (const batchSize of settings.batchSizes) {
    allocation.push(await runChild<AllocationResult>("allocation", batchSize, argv));
  }
  printAllocation(allocation);
  console.log(
    JSON.stringify({
      benchmark: "raft-core-in-memory",
      node: process.version,
      v8: process.versions.v8,
      platform: `${process.platform}-${process.arch}`,
      cpu: os.cpus()[0]?.model ?? null,
      settings,
      throughput,
      allocation,
    }),
  );
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const settings = parseSettings(argv);
  const role = process.env["JUNO_BENCH_CHILD"];
  if (role === "throughput" || role === "allocation") await runChildRole(role, settings);
  else await coordinate(settings, argv);
}

// Only when run as a program, so profiling scripts can import the cluster.
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  await main();
