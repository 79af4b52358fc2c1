/**
 * The node's snapshot work, all of it in slices on the node's background queue: taking a
 * snapshot when Raft says the log is long enough, installing one the leader sent, and rebuilding
 * the projected tables after an install (or after a restart that cut a rebuild short).
 */

import {
  ControlState,
  SnapshotReader,
  SnapshotWriter,
  concatCursors,
  hashText,
  restoreSnapshot,
  type Cursor,
  type ModuleRegistry,
  type Row,
} from "../control/index.js";
import { assert, type Entry, type RaftNode, type Snapshot } from "../raft/index.js";
import type { Logger } from "../util/logger.js";
import type { BackgroundWork, SlicedJob } from "./background.js";
import type { AnyDomainModule } from "./domain-module.js";
import type { ApplyObserver } from "./node.js";
import type { NodeStorage } from "./storage.js";
import type { NodeCounters } from "./view.js";

/** Work per slice: snapshot rows written, projected rows rebuilt, snapshot bytes read. */
export interface SliceSizes {
  readonly rows: number;
  readonly tableRows: number;
  readonly bytes: number;
}

/** What the snapshot work needs of its node. */
export interface SnapshotHost {
  readonly registry: ModuleRegistry<AnyDomainModule>;
  readonly raft: RaftNode;
  readonly storage: NodeStorage;
  readonly background: BackgroundWork;
  readonly log: Logger;
  readonly counters: NodeCounters;
  readonly slice: SliceSizes;
  readonly observer: ApplyObserver | null;
  state(): ControlState;
  /** The node's clock, in milliseconds (simulated in the simulator). */
  now(): number;
  /** Runs `run` between Readys (Raft must be idle for takeSnapshot). */
  whenIdle(run: () => void): void;
  /** More Readys may be due (the store finished writing a snapshot). */
  wake(): void;
  /** A store failure: the node stops. */
  fail(error: Error): void;
  stopped(): boolean;
}

/** Taking, installing and rebuilding after snapshots. */
export class Snapshots {
  private taking: {
    readonly job: SlicedJob;
    readonly writer: SnapshotWriter;
    readonly startedMs: number;
    readonly startedAt: number;
  } | null = null;
  private rebuilding: SlicedJob | null = null;
  /** When the last snapshot was taken and how long it took, by the node's clock. */
  private last = { finishedAt: -Infinity, tookMs: 0 };

  constructor(private readonly host: SnapshotHost) {}

  /** The state at startup: the stored snapshot, then the entries the store already applied. */
  static recover(
    registry: ModuleRegistry,
    snapshot: Snapshot | null,
    entries: readonly Entry[],
    appliedIndex: number,
  ): ControlState {
    const state = snapshot === null ? new ControlState(registry) : restoreSnapshot(registry, snapshot.data);
    if (snapshot !== null)
      assert(
        state.appliedIndex === snapshot.index,
        () => `stored snapshot data is at ${state.appliedIndex}, not ${snapshot.index}`,
      );
    for (const entry of entries) {
      if (entry.index > appliedIndex) break;
      if (entry.index > state.appliedIndex) state.apply(entry);
    }
    return state;
  }

  /**
   * Compaction: when Raft says the log is long enough, write a snapshot in slices, then fold the
   * log. Never more than a tenth of the time: a large state takes long to write, and taking the
   * next one right after would keep a node snapshotting all the time (the log grows meanwhile).
   */
  maybeTake(): void {
    if (this.taking !== null || !this.host.raft.snapshotDue()) return;
    if (this.host.now() - this.last.finishedAt < SNAPSHOT_PACE * this.last.tookMs) return;
    const writer = new SnapshotWriter(this.host.state());
    const job = this.host.background.run(
      () => writer.step(this.host.slice.rows),
      () => this.host.whenIdle(() => this.finishTaking(writer)),
      rethrow,
    );
    this.taking = { job, writer, startedMs: performance.now(), startedAt: this.host.now() };
  }

  /**
   * Reads a snapshot the leader sent into a fresh state, in slices; `installed` gets it. Any
   * snapshot being taken or tables being rebuilt are abandoned: this one replaces them.
   */
  install(snapshot: Snapshot, installed: (state: ControlState) => void): void {
    this.cancel();
    const reader = new SnapshotReader(this.host.registry, snapshot.data);
    const startedMs = performance.now();
    this.host.background.run(
      () => reader.step(this.host.slice.bytes),
      () => {
        if (this.host.stopped()) return;
        const restored = reader.finish();
        // The leader wrote it from its own state: a snapshot that disagrees with Raft is a broken invariant.
        assert(
          restored.appliedIndex === snapshot.index,
          () => `snapshot data is at ${restored.appliedIndex}, not ${snapshot.index}`,
        );
        const counters = this.host.counters;
        counters.snapshotsInstalled++;
        counters.lastSnapshotBytes = snapshot.data.length;
        counters.lastSnapshotMs = performance.now() - startedMs;
        this.host.observer?.onSnapshotInstalled(snapshot.index, restored.hash);
        this.host.log.info(
          {
            index: snapshot.index,
            bytes: snapshot.data.length,
            ms: Math.round(counters.lastSnapshotMs),
            hash: hashText(restored.hash),
          },
          "snapshot installed",
        );
        installed(restored);
      },
      rethrow,
    );
  }

  /** Rewrites the projected tables from the state, in slices, after a snapshot replaced it. */
  rebuildProjection(): void {
    this.rebuilding?.cancel();
    const state = this.host.state();
    const cursors: Cursor<{ readonly table: string; readonly row: Row }>[] = [];
    for (const module of this.host.registry.modules) {
      const projection = module.projection;
      if (projection !== undefined) cursors.push(projection.rows(state.of(module)));
    }
    const cursor = concatCursors(cursors);
    const job = this.host.background.run(
      () => {
        if (this.host.stopped()) return true;
        this.host.storage.writeProjectionRows(cursor.next(this.host.slice.tableRows));
        return cursor.done;
      },
      () => {
        cursor.close();
        if (this.host.stopped() || this.rebuilding !== job) return;
        this.host.storage.finishProjectionRebuild();
        this.rebuilding = null;
        this.host.log.info({ applied: state.appliedIndex }, "projected tables rebuilt");
      },
      rethrow,
    );
    this.rebuilding = job;
  }

  /** Abandons a snapshot being taken and a rebuild in progress. */
  cancel(): void {
    this.taking?.job.cancel();
    this.taking?.writer.cancel();
    this.taking = null;
    this.rebuilding?.cancel();
    this.rebuilding = null;
  }

  private finishTaking(writer: SnapshotWriter): void {
    const running = this.taking;
    if (running?.writer !== writer) return;
    const data = writer.data();
    const raft = this.host.raft;
    const firstKept = raft.takeSnapshot(writer.index, data);
    const snapshot = raft.currentSnapshot();
    const counters = this.host.counters;
    counters.snapshotsTaken++;
    counters.lastSnapshotBytes = data.length;
    counters.lastSnapshotMs = performance.now() - running.startedMs;
    const now = this.host.now();
    this.last = { finishedAt: now, tookMs: now - running.startedAt };
    this.host.log.info(
      { index: writer.index, bytes: data.length, ms: Math.round(counters.lastSnapshotMs), firstKept },
      "snapshot taken",
    );
    if (snapshot === null || snapshot.index !== writer.index) {
      this.taking = null;
      return;
    }
    this.host.storage.saveSnapshot(snapshot, firstKept, (error) => {
      if (error !== null) return this.host.fail(error);
      if (this.taking?.writer === writer) this.taking = null;
      this.host.wake();
    });
  }
}

/** Snapshots take at most 1 / (1 + SNAPSHOT_PACE) of a node's time. */
const SNAPSHOT_PACE = 9;

function rethrow(error: unknown): never {
  throw error;
}
