/**
 * What the node needs of durable storage, whatever holds it (SQLite, PostgreSQL, the simulator's
 * disk in tests). Writes are asynchronous-capable: persist() calls back once the write is
 * durable, at once for a synchronous store, after a round trip for PostgreSQL; the loop handles
 * one Ready at a time, so nothing it sends or answers ever runs ahead of the disk. Everything a
 * node restarts from is read before the node starts (an asynchronous store loads it on open), so
 * load() is synchronous; reads of the log for the API are asynchronous.
 */

import type { LogRecord, Row, RowChange } from "../control/index.js";
import type { Entry, HardState, Snapshot } from "../raft/types.js";

/** What a node restarts from. */
export interface StoredNode {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, in order. */
  readonly entries: Entry[];
  /** The highest index whose effects are in the projected tables. */
  readonly appliedIndex: number;
  /** Whether the store was empty (a node starting for the first time). */
  readonly fresh: boolean;
  /** Whether the projected tables are being rebuilt after a snapshot (an interrupted rebuild resumes). */
  readonly projectionStale: boolean;
}

/** Everything one Ready writes, in one transaction. */
export interface ReadyWrite {
  /** A snapshot installed from the leader: it replaces the log, and the projected tables are rebuilt after. */
  readonly snapshot: Snapshot | null;
  /** New entries; stored entries at or after the first one's index are replaced. */
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
  /**
   * The row changes of the entries applied in this Ready, and the index applied through. A store
   * may hold these a while even in a write that syncs, and write several Readys' together (the
   * last change to each row); a crash may lose them, and the node applies those entries again
   * from its log when it restarts. They are written before any snapshot the store saves, so the
   * entries they come from are never compacted away first, and never before the hard state of
   * their own or an earlier write: the applied index on disk never runs ahead of the commit index
   * on disk.
   */
  readonly applied: { readonly index: number; readonly changes: readonly RowChange[] } | null;
  /**
   * Whether the entries and hard state must be on disk before done() (Ready.mustSync). Otherwise
   * the store may hold them a while and a crash may lose them: it never holds entries, only a
   * commit index, which the node derives again from its peers.
   */
  readonly sync: boolean;
}

/** A log row as the log API shows it. */
export interface CommittedRecord extends LogRecord {
  readonly committed: boolean;
}

/** Called once a write is done: null, or why it failed (the node stops: it cannot acknowledge anything). */
export type WriteDone = (error: Error | null) => void;

/** Timings the node exports as metrics. */
export interface StoreTimings {
  /** Milliseconds the last write transaction took (including its fsync). */
  lastWriteMs: number;
  /** Writes that took longer than the slow-write threshold. */
  slowWrites: number;
}

/** A node's durable storage. */
export interface NodeStorage {
  /** Write timings, for metrics. */
  readonly timings: StoreTimings;
  /**
   * Whether the store can write right now. A store that lost its database (PostgreSQL) says
   * false until it has reconnected; the node is then not ready, and acknowledges nothing.
   */
  available(): boolean;
  /** Everything a node restarts from. */
  load(): StoredNode;
  /** Writes one Ready; `done` once durable (when `write.sync`). */
  persist(write: ReadyWrite, done: WriteDone): void;
  /**
   * Records a snapshot this node took and drops the log rows below `firstKept`. It may take
   * several turns; it never replaces a newer snapshot written meanwhile.
   */
  saveSnapshot(snapshot: Snapshot, firstKept: number, done: WriteDone): void;
  /** Up to `limit` log rows from `from` through `to` (inclusive), in order. */
  readLog(from: number, to: number, limit: number): Promise<CommittedRecord[]>;
  /** The first index still in the log, or null when it is empty. */
  firstIndex(): Promise<number | null>;
  /**
   * Writes rows of a projection rebuild (after a snapshot), skipping rows deleted since it began.
   * An asynchronous store queues them in order with the writes around them; a failure shows in
   * the next write's `done`.
   */
  writeProjectionRows(rows: readonly { readonly table: string; readonly row: Row }[]): void;
  /** The rebuild is complete: the projected tables match the state again. */
  finishProjectionRebuild(): void;
  /** Closes the store; settles when nothing of it touches its files any more. */
  close(): Promise<void>;
}
