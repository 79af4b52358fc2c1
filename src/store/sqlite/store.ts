/**
 * A node's durable storage in one SQLite file: the replicated log (consensus_log), Raft's hard
 * state and snapshot, and the tables the modules project their state into. Every Ready's entries
 * and hard state are one transaction, fsynced (WAL, synchronous=FULL) when the Ready says it must
 * be, so a crash at any moment loses nothing that was acknowledged. Applied rows are held a
 * little and written together, the last change per row, with the index they run through; a
 * restart re-applies from there, so it neither skips an entry's rows nor applies one twice.
 *
 * Snapshot data is stored in files beside the database (snapshot-files.ts), written off the event
 * loop a chunk at a time and made current by one small transaction at the end, so even a snapshot of a
 * million rows never holds the loop for long; the files it replaced are removed after. (An
 * in-memory store, and a snapshot migrated from the first release, keep theirs in a table.)
 */

import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  entryOf,
  recordOf,
  type ModuleRegistry,
  type Row,
  type RowChange,
  type TableSpec,
} from "../../control/index.js";
import { assert } from "../../raft/assert.js";
import type { Membership, Snapshot } from "../../raft/types.js";
import type {
  CommittedRecord,
  NodeStorage,
  ReadyWrite,
  StoreTimings,
  StoredNode,
  WriteDone,
} from "../../runtime/storage.js";
import { SILENT_LOGGER, type Logger } from "../../util/logger.js";
import { Checkpointer } from "./checkpointer.js";
import { RebuildTracker, keyText, quoteIdent } from "../projection.js";
import { SnapshotFiles } from "./snapshot-files.js";
import { migrate } from "./schema.js";

/** How a store is opened. */
export interface SqliteStoreOptions {
  readonly logger?: Logger;
  /** Bytes per stored snapshot chunk (each written and synced in one go). */
  readonly snapshotChunkBytes?: number;
  /** A write slower than this is logged. */
  readonly slowWriteMs?: number;
}

interface TableStatements {
  readonly spec: TableSpec;
  readonly upsert: Database.Statement;
  readonly insertIfAbsent: Database.Statement;
  readonly remove: Database.Statement;
  readonly clear: Database.Statement;
}

const DEFAULT_CHUNK_BYTES = 512 * 1024;
/**
 * How long a write that needs no fsync may wait for the next one that does, whose transaction then
 * carries it: at one write at a time, a transaction of its own on the turn after the answer sat
 * in front of the next request (bench:cluster concurrency 1: 1.6 -> 1.45 ms p50 on the leader).
 */
const LAZY_HOLD_MS = 5;
/** Held writes past this many go out at once, so no later transaction grows without bound. */
const LAZY_HOLD_MAX = 256;
/**
 * Applied rows wait up to this long, or until this many rows are waiting, and then go in one
 * transaction with only the last change to each row: a task's row changes three or four times in
 * its first few hundred milliseconds (queued, assigned, running, finished), and written each
 * time it was a fifth of a node's CPU under bulk load (bench:tasks). A crash loses only rows the
 * node derives again from its log (the applied index stored with them says where to resume).
 * A second rather than 200 ms: most tasks then finish inside one hold, and bench:tasks bulks ran
 * 8-10 % faster back to back (leader CPU per task 0.207 -> 0.181 ms, 0.173 -> 0.163).
 */
const PROJECTION_HOLD_MS = 1_000;
const PROJECTION_HOLD_ROWS = 8_192;
/**
 * Compacted log rows deleted per turn after a snapshot: the batch halves when a turn takes longer
 * than DELETE_TURN_MS (a busy disk makes even unsynced writes wait) and grows back when it is quick.
 */
const DELETE_ROWS = { min: 50, start: 500, max: 2_000 };
const DELETE_TURN_MS = 4;

/** The SQLite store of one node. */
export class SqliteStore implements NodeStorage {
  readonly timings: StoreTimings = { lastWriteMs: 0, slowWrites: 0 };
  private readonly db: Database.Database;
  private readonly log: Logger;
  private readonly chunkBytes: number;
  private readonly slowWriteMs: number;
  private readonly statements;
  private readonly tables = new Map<string, TableStatements>();
  private readonly writeTransaction: (write: ReadyWrite, generation: number | null) => void;
  private readonly lazyTransaction: () => void;
  /** Rows up to here are marked committed. */
  private committedThrough = 0;
  private synchronous: "FULL" | "NORMAL" = "FULL";
  private readonly syncFull: Database.Statement;
  private readonly syncNormal: Database.Statement;
  /** The snapshot generation the store holds, and the next one to write. */
  private generation = 0;
  private nextGeneration = 1;
  private storedSnapshotIndex = 0;
  private readonly checkpointer: Checkpointer | null = null;
  private readonly files: SnapshotFiles | null;
  /** Generations being written right now: never removed as old. */
  private readonly writing = new Set<number>();
  /** Background tasks (snapshot chunks, compacted rows, old chunks), one step per turn. */
  private readonly background: (() => boolean)[] = [];
  /** Writes that need no fsync, held for the next write that syncs or LAZY_HOLD_MS (see persist). */
  private lazy: ReadyWrite[] = [];
  private lazyTimer: NodeJS.Timeout | null = null;
  /** Applied row changes not written yet, the last one per row (see PROJECTION_HOLD_MS). */
  private readonly projection = new Map<string, { statements: TableStatements; change: RowChange }>();
  /** The index the held row changes run through; null when none are held. */
  private projectedThrough: number | null = null;
  private projectionTimer: NodeJS.Timeout | null = null;
  private readonly projectionTransaction: () => void;
  /** The highest commit index any write told us, written or still held. */
  private knownCommit = 0;
  /** While the projected tables are rebuilt: the rows deleted since it began. */
  private readonly rebuild = new RebuildTracker();
  private closed = false;

  /** Opens (creating or migrating if needed) the store at `path`; ":memory:" for tests. */
  constructor(
    path: string,
    private readonly registry: ModuleRegistry,
    options: SqliteStoreOptions = {},
  ) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.log = (options.logger ?? SILENT_LOGGER).child({ component: "store" });
    this.chunkBytes = options.snapshotChunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.files = path === ":memory:" ? null : new SnapshotFiles(join(dirname(path), "snapshots"));
    this.slowWriteMs = options.slowWriteMs ?? 100;
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    // FULL: every commit is on disk when it returns, so acknowledged means durable.
    this.db.pragma("synchronous = FULL");
    if (path !== ":memory:") {
      // Checkpoints run on a worker thread (checkpointer.ts), not inside this thread's commits;
      // should the worker ever stop, SQLite's own checkpoints take over again.
      this.db.pragma("wal_autocheckpoint = 0");
      this.checkpointer = new Checkpointer(path, () => {
        if (!this.closed) this.db.pragma("wal_autocheckpoint = 1000");
      });
    }
    this.db.pragma("foreign_keys = ON");
    // The checkpoint worker shares the file: a lock it holds for a moment is waited for, not an error.
    this.db.pragma("busy_timeout = 1000");
    this.syncFull = this.db.prepare("PRAGMA synchronous = FULL");
    this.syncNormal = this.db.prepare("PRAGMA synchronous = NORMAL");
    migrate(this.db);
    for (const spec of registry.tables()) this.addTable(spec);
    const db = this.db;
    this.statements = {
      state: db.prepare<
        [],
        { term: number; vote: string | null; commit_index: number; applied_index: number }
      >("SELECT term, vote, commit_index, applied_index FROM raft_state WHERE id = 1"),
      upsertHardState: db.prepare(
        `INSERT INTO raft_state (id, term, vote, commit_index, applied_index) VALUES (1, @term, @vote, @commit, 0)
         ON CONFLICT(id) DO UPDATE SET term = @term, vote = @vote, commit_index = @commit`,
      ),
      setApplied: db.prepare(
        `INSERT INTO raft_state (id, term, vote, commit_index, applied_index) VALUES (1, 0, NULL, 0, ?)
         ON CONFLICT(id) DO UPDATE SET applied_index = excluded.applied_index`,
      ),
      snapshot: db.prepare<
        [],
        { index: number; term: number; membership: string; generation: number; projection_stale: number }
      >('SELECT "index", term, membership, generation, projection_stale FROM raft_snapshot WHERE id = 1'),
      upsertSnapshot: db.prepare(
        `INSERT INTO raft_snapshot (id, "index", term, membership, generation, projection_stale)
         VALUES (1, @index, @term, @membership, @generation, @stale)
         ON CONFLICT(id) DO UPDATE SET "index" = @index, term = @term, membership = @membership,
           generation = @generation, projection_stale = @stale`,
      ),
      setProjectionFresh: db.prepare("UPDATE raft_snapshot SET projection_stale = 0 WHERE id = 1"),
      chunks: db.prepare<[number], { data: Buffer }>(
        "SELECT data FROM raft_snapshot_chunks WHERE generation = ? ORDER BY seq",
      ),
      insertChunk: db.prepare("INSERT INTO raft_snapshot_chunks (generation, seq, data) VALUES (?, ?, ?)"),
      oldChunk: db.prepare<[number], { generation: number; seq: number }>(
        "SELECT generation, seq FROM raft_snapshot_chunks WHERE generation != ? LIMIT 1",
      ),
      deleteChunk: db.prepare("DELETE FROM raft_snapshot_chunks WHERE generation = ? AND seq = ?"),
      maxGeneration: db.prepare<[], { max: number | null }>(
        "SELECT MAX(generation) AS max FROM raft_snapshot_chunks",
      ),
      entries: db.prepare<
        [number],
        { index: number; term: number; entry_type: string; data: string; timestamp: number }
      >(
        'SELECT "index", term, entry_type, data, timestamp FROM consensus_log WHERE "index" > ? ORDER BY "index"',
      ),
      deleteFrom: db.prepare('DELETE FROM consensus_log WHERE "index" >= ?'),
      deleteBelowBatch: db.prepare(
        'DELETE FROM consensus_log WHERE "index" IN (SELECT "index" FROM consensus_log WHERE "index" < ? ORDER BY "index" LIMIT ?)',
      ),
      deleteAll: db.prepare("DELETE FROM consensus_log"),
      insertEntry: db.prepare(
        'INSERT INTO consensus_log ("index", term, entry_type, data, timestamp, committed) VALUES (?, ?, ?, ?, ?, 0)',
      ),
      markCommitted: db.prepare('UPDATE consensus_log SET committed = 1 WHERE "index" > ? AND "index" <= ?'),
      committedRange: db.prepare<
        [number, number, number],
        {
          index: number;
          term: number;
          entry_type: string;
          data: string;
          timestamp: number;
          committed: number;
        }
      >(
        'SELECT "index", term, entry_type, data, timestamp, committed FROM consensus_log WHERE "index" >= ? AND "index" <= ? ORDER BY "index" LIMIT ?',
      ),
      firstIndex: db.prepare<[], { first: number | null }>('SELECT MIN("index") AS first FROM consensus_log'),
    };
    this.writeTransaction = this.db.transaction((write: ReadyWrite, generation: number | null) =>
      this.writeInTransaction(write, generation),
    );
    this.lazyTransaction = this.db.transaction(() => this.writeHeld());
    this.projectionTransaction = this.db.transaction(() => {
      this.writeHeld();
      this.writeProjection();
    });
  }

  /** Everything a node restarts from. */
  load(): StoredNode {
    const row = this.statements.state.get();
    const meta = this.statements.snapshot.get();
    let snapshot: Snapshot | null = null;
    if (meta !== undefined) {
      snapshot = {
        index: meta.index,
        term: meta.term,
        membership: JSON.parse(meta.membership) as Membership,
        data: this.snapshotData(meta.generation),
      };
      this.generation = meta.generation;
      this.storedSnapshotIndex = meta.index;
    }
    this.nextGeneration =
      Math.max(
        this.generation,
        this.statements.maxGeneration.get()?.max ?? 0,
        ...(this.files?.generations() ?? []),
      ) + 1;
    const after = snapshot?.index ?? 0;
    const entries = this.statements.entries.all(after).map((r) =>
      entryOf({
        index: r.index,
        term: r.term,
        entryType: r.entry_type,
        dataText: r.data,
        timestamp: r.timestamp,
      }),
    );
    for (let i = 0; i < entries.length; i++)
      assert(entries[i]!.index === after + 1 + i, "the stored log has a gap");
    this.committedThrough = row?.commit_index ?? 0;
    this.knownCommit = this.committedThrough;
    const projectionStale = meta?.projection_stale === 1;
    // A rebuild that was cut short starts over from empty tables; the node rebuilds them from its state.
    if (projectionStale) this.startRebuild(true);
    return {
      hardState:
        row === undefined
          ? { term: 0, vote: null, commit: 0 }
          : { term: row.term, vote: row.vote, commit: row.commit_index },
      snapshot,
      entries,
      appliedIndex: Math.max(row?.applied_index ?? 0, after),
      fresh: row === undefined && snapshot === null && entries.length === 0,
      projectionStale,
    };
  }

  /** Writes one Ready in one transaction; a large installed snapshot first goes in chunks over several turns. */
  persist(write: ReadyWrite, done: WriteDone): void {
    if (write.hardState !== null) this.knownCommit = Math.max(this.knownCommit, write.hardState.commit);
    // Applied rows wait for PROJECTION_HOLD_MS (an installed snapshot's write keeps its own: the
    // tables are emptied and rebuilt in that transaction).
    if (write.applied !== null && write.snapshot === null) {
      this.holdApplied(write.applied);
      write = { ...write, applied: null };
      // Nothing else to write: nothing for an fsync to make durable either.
      if (write.entries.length === 0 && write.hardState === null) {
        this.flushProjectionIfFull();
        return done(null);
      }
    }
    // A write that needs no fsync (a commit index) is held until the next write
    // that syncs, whose transaction carries it first, or LAZY_HOLD_MS: the clients it answers
    // hear back first, and a busy node's writes share transactions. A crash may lose it; the
    // node then learns the commit index again from the leader.
    if (!write.sync && write.snapshot === null && write.entries.length === 0) {
      this.lazy.push(write);
      if (this.lazy.length >= LAZY_HOLD_MAX) this.flushLazy();
      else this.lazyTimer ??= setTimeout(() => this.flushLazy(), LAZY_HOLD_MS);
      this.flushProjectionIfFull();
      return done(null);
    }
    if (write.snapshot === null) {
      this.setSynchronous(write.sync);
      const failure = this.timed(() => this.writeTransaction(write, null));
      if (failure === null) this.flushProjectionIfFull();
      return done(failure);
    }
    const generation = this.nextGeneration++;
    this.stageChunks(write.snapshot.data, generation, (error) => {
      if (error !== null) return done(error);
      this.setSynchronous(true);
      done(this.timed(() => this.writeTransaction(write, generation)));
      this.dropOldChunksLater();
    });
  }

  /** Records a snapshot this node took (chunks over several turns, then one small transaction). */
  saveSnapshot(snapshot: Snapshot, firstKept: number, done: WriteDone): void {
    const generation = this.nextGeneration++;
    this.stageChunks(snapshot.data, generation, (error) => {
      if (error !== null) return done(error);
      this.setSynchronous(true);
      const failure = this.timed(() =>
        this.db.transaction(() => {
          // The held writes first: a restart takes the snapshot's index as applied, so the rows
          // of the entries it covers must be in the tables with it.
          this.writeHeld();
          this.writeProjection();
          // An installed snapshot written meanwhile is newer: this one only lost a race.
          if (snapshot.index <= this.storedSnapshotIndex) return;
          this.putSnapshotMeta(snapshot, generation, this.rebuild.active);
        })(),
      );
      done(failure);
      this.dropOldChunksLater();
      // The rows the snapshot covers are never read again (a restart reads what follows the
      // snapshot); they go a few thousand per turn, so a long log never holds the loop.
      this.deleteBelowLater(firstKept);
    });
  }

  /** SQLite is a file beside the node: it is there whenever the node is. */
  available(): boolean {
    return !this.closed;
  }

  /** Up to `limit` log rows from `from` through `to` (inclusive), in order. */
  readLog(from: number, to: number, limit: number): Promise<CommittedRecord[]> {
    return Promise.resolve(this.readLogNow(from, to, limit));
  }

  /** The first index still in the log, or null when it is empty. */
  firstIndex(): Promise<number | null> {
    return Promise.resolve(this.firstIndexNow());
  }

  /** readLog(), answered at once. */
  readLogNow(from: number, to: number, limit: number): CommittedRecord[] {
    return this.statements.committedRange.all(from, to, limit).map((r) => ({
      index: r.index,
      term: r.term,
      entryType: r.entry_type,
      dataText: r.data,
      timestamp: r.timestamp === 0 ? null : r.timestamp,
      committed: r.committed === 1 || r.index <= this.knownCommit,
    }));
  }

  /** firstIndex(), answered at once. */
  firstIndexNow(): number | null {
    return this.statements.firstIndex.get()?.first ?? null;
  }

  /** Writes rows of a projection rebuild, skipping rows deleted since it began. */
  writeProjectionRows(rows: readonly { readonly table: string; readonly row: Row }[]): void {
    if (rows.length === 0) return;
    assert(this.rebuild.active, "projection rows written outside a rebuild");
    // Rows applied since the rebuild began go first, as they would have on their own turn.
    this.flushProjection();
    this.setSynchronous(false);
    const failure = this.timed(() =>
      this.db.transaction(() => {
        for (const { table, row } of rows) {
          const statements = this.table(table);
          if (this.rebuild.skips(statements.spec, row)) continue;
          statements.insertIfAbsent.run(row);
        }
      })(),
    );
    if (failure !== null) throw failure;
  }

  /** The projected tables match the state again. */
  finishProjectionRebuild(): void {
    this.statements.setProjectionFresh.run();
    this.rebuild.finish();
  }

  /**
   * Closes the database at once; the promise settles when the checkpoint worker has stopped and
   * the removal of replaced snapshot files has finished (nothing touches the directory after).
   */
  close(): Promise<void> {
    if (this.closed) return this.closing;
    this.flushProjection();
    this.closed = true;
    this.files?.abandonWrites();
    this.db.close();
    this.closing = Promise.all([this.checkpointer?.close(), this.files?.settled()]).then(() => undefined);
    return this.closing;
  }

  private closing: Promise<void> = Promise.resolve();

  /** Holds applied row changes; the last change to a row replaces any held before it. */
  private holdApplied(applied: NonNullable<ReadyWrite["applied"]>): void {
    for (const change of applied.changes) {
      const statements = this.table(change.table);
      const key = keyText(statements.spec, change.op === "upsert" ? change.row : change.key);
      this.projection.set(`${change.table}\u0000${key}`, { statements, change });
      if (change.op === "delete") this.rebuild.onDelete(statements.spec, change.key);
    }
    this.projectedThrough = applied.index;
    this.projectionTimer ??= setTimeout(() => this.flushProjection(), PROJECTION_HOLD_MS);
  }

  /**
   * Past PROJECTION_HOLD_ROWS, the held rows go now. Only once the write that handed over the
   * last of them is written (or held as a lazy write, which goes first): the applied index on
   * disk must never run ahead of the commit index on disk that covers it.
   */
  private flushProjectionIfFull(): void {
    if (this.projection.size >= PROJECTION_HOLD_ROWS) this.flushProjection();
  }

  /** Writes the held writes and the held rows in one transaction. */
  private flushProjection(): void {
    if (this.closed) return this.stopProjectionTimer();
    if (this.projectedThrough === null) return this.flushLazy();
    this.setSynchronous(false);
    const failure = this.timed(() => this.projectionTransaction());
    if (failure !== null) throw failure;
  }

  /** Inside a transaction: the held rows, and the applied index they run through. */
  private writeProjection(): void {
    this.stopProjectionTimer();
    if (this.projectedThrough === null) return;
    // Their deletes were told to the rebuild when they were held.
    for (const { statements, change } of this.projection.values()) runChange(statements, change);
    this.projection.clear();
    this.statements.setApplied.run(this.projectedThrough);
    this.projectedThrough = null;
  }

  private stopProjectionTimer(): void {
    if (this.projectionTimer !== null) clearTimeout(this.projectionTimer);
    this.projectionTimer = null;
  }

  /** Writes the held writes in one transaction (they come before any later write, in order). */
  private flushLazy(): void {
    if (this.lazy.length === 0 || this.closed) return this.stopLazyTimer();
    this.setSynchronous(false);
    const failure = this.timed(() => this.lazyTransaction());
    if (failure !== null) throw failure;
  }

  private writeInTransaction(write: ReadyWrite, generation: number | null): void {
    this.writeHeld();
    if (write.snapshot !== null) {
      // A snapshot from the leader replaces our log and our state; the tables are rebuilt from it
      // (the rows held from before go first, so the applied index only moves forward).
      this.writeProjection();
      assert(generation !== null, "an installed snapshot without its chunks");
      this.putSnapshotMeta(write.snapshot, generation, true);
      this.statements.deleteAll.run();
      this.startRebuild(true);
      this.committedThrough = Math.max(this.committedThrough, write.snapshot.index);
      this.statements.setApplied.run(write.snapshot.index);
    }
    this.writeParts(write);
  }

  /** The entries, hard state and applied rows of one write (inside a transaction). */
  private writeParts(write: ReadyWrite): void {
    const first = write.entries[0];
    if (first !== undefined) {
      this.statements.deleteFrom.run(first.index);
      for (const entry of write.entries) {
        const record = recordOf(this.registry, entry);
        this.statements.insertEntry.run(
          record.index,
          record.term,
          record.entryType,
          record.dataText,
          record.timestamp ?? 0,
        );
      }
    }
    if (write.hardState !== null) {
      this.statements.upsertHardState.run({
        term: write.hardState.term,
        vote: write.hardState.vote,
        commit: write.hardState.commit,
      });
      if (write.hardState.commit > this.committedThrough) {
        this.statements.markCommitted.run(this.committedThrough, write.hardState.commit);
        this.committedThrough = write.hardState.commit;
      }
    }
    if (write.applied !== null) {
      for (const change of write.applied.changes) this.applyChange(change);
      this.statements.setApplied.run(write.applied.index);
    }
  }

  /** The held writes are being written (or there are none): nothing need flush them later. */
  private stopLazyTimer(): void {
    if (this.lazyTimer !== null) clearTimeout(this.lazyTimer);
    this.lazyTimer = null;
  }

  /** Inside a transaction: the held writes first, so everything lands in the order it was made. */
  private writeHeld(): void {
    this.stopLazyTimer();
    if (this.lazy.length === 0) return;
    const held = this.lazy;
    this.lazy = [];
    for (const write of held) this.writeParts(write);
  }

  private applyChange(change: RowChange): void {
    const statements = this.table(change.table);
    runChange(statements, change);
    if (change.op === "delete") this.rebuild.onDelete(statements.spec, change.key);
  }

  /** Starts a rebuild of the projected tables: optionally empties them and tracks deletions from now on. */
  private startRebuild(clear: boolean): void {
    this.rebuild.start();
    if (clear) for (const statements of this.tables.values()) statements.clear.run();
  }

  private putSnapshotMeta(snapshot: Snapshot, generation: number, stale: boolean): void {
    this.statements.upsertSnapshot.run({
      index: snapshot.index,
      term: snapshot.term,
      membership: JSON.stringify(snapshot.membership),
      generation,
      stale: stale ? 1 : 0,
    });
    this.generation = generation;
    this.storedSnapshotIndex = snapshot.index;
  }

  /** Writes `data` as generation `generation`, one chunk per background turn, then calls `done`. */
  private stageChunks(data: Uint8Array, generation: number, done: WriteDone): void {
    this.writing.add(generation);
    const finish = (error: Error | null): true => {
      this.writing.delete(generation);
      done(error);
      return true;
    };
    if (this.files !== null) {
      this.files.write(generation, data, this.chunkBytes, (error) => {
        finish(error ?? (this.closed ? new Error("the store was closed while writing a snapshot") : null));
      });
      return;
    }
    let offset = 0;
    let seq = 0;
    this.inBackground(() => {
      if (this.closed) return finish(new Error("the store was closed while writing a snapshot"));
      const end = Math.min(data.length, offset + this.chunkBytes);
      const chunk = Buffer.from(data.buffer, data.byteOffset + offset, end - offset);
      const failure = this.timed(() => {
        this.setSynchronous(true);
        this.statements.insertChunk.run(generation, seq++, chunk);
      });
      offset = end;
      if (failure !== null || offset >= data.length) return finish(failure);
      return false;
    });
  }

  /** The stored data of snapshot generation `generation`. */
  private snapshotData(generation: number): Uint8Array {
    if (this.files?.has(generation) === true) return this.files.read(generation);
    const chunks = this.statements.chunks.all(generation).map((chunk) => chunk.data);
    assert(chunks.length > 0, "the stored snapshot has no data");
    return new Uint8Array(Buffer.concat(chunks));
  }

  /** Deletes log rows below `firstKept`, a batch per background turn. */
  private deleteBelowLater(firstKept: number): void {
    let batch = DELETE_ROWS.start;
    this.inBackground(() => {
      if (this.closed) return true;
      this.setSynchronous(false);
      const started = performance.now();
      const deleted = this.statements.deleteBelowBatch.run(firstKept, batch).changes;
      const tookMs = performance.now() - started;
      const finished = deleted < batch;
      if (tookMs > DELETE_TURN_MS) batch = Math.max(DELETE_ROWS.min, batch >> 1);
      else if (tookMs < DELETE_TURN_MS / 4) batch = Math.min(DELETE_ROWS.max, batch * 2);
      return finished;
    });
  }

  /** Drops the data of replaced snapshots: their files at once, their table chunks one per background turn. */
  private dropOldChunksLater(): void {
    this.files?.removeAllBut(new Set([this.generation, ...this.writing]));
    this.inBackground(() => {
      if (this.closed) return true;
      const old = this.statements.oldChunk.get(this.generation);
      if (old === undefined) return true;
      this.setSynchronous(false);
      this.statements.deleteChunk.run(old.generation, old.seq);
      return false;
    });
  }

  /**
   * Runs `step` (until it returns true) in the store's background: its tasks take turns, one
   * step per event-loop turn between them all, so they never add up to one long block.
   */
  private inBackground(step: () => boolean): void {
    this.background.push(step);
    if (this.background.length === 1) setImmediate(() => this.backgroundStep());
  }

  private backgroundStep(): void {
    const step = this.background.shift();
    if (step === undefined) return;
    if (!step()) this.background.push(step);
    if (this.background.length > 0) setImmediate(() => this.backgroundStep());
  }

  private setSynchronous(sync: boolean): void {
    const wanted = sync ? "FULL" : "NORMAL";
    if (this.synchronous === wanted) return;
    // Prepared once: a sync write and a lazy one alternate on every busy turn, and db.pragma()
    // compiles its statement each time.
    (sync ? this.syncFull : this.syncNormal).run();
    this.synchronous = wanted;
  }

  /** Runs a write, timing it; returns the error it threw, or null. */
  private timed(write: () => void): Error | null {
    const started = performance.now();
    try {
      write();
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
    const ms = performance.now() - started;
    this.timings.lastWriteMs = ms;
    if (ms > this.slowWriteMs) {
      this.timings.slowWrites++;
      this.log.warn({ ms: Math.round(ms) }, "slow write (fsync)");
    }
    return null;
  }

  private table(name: string): TableStatements {
    const statements = this.tables.get(name);
    assert(statements !== undefined, () => `no projected table ${name}`);
    return statements;
  }

  private addTable(spec: TableSpec): void {
    this.db.exec(spec.ddl.sqlite);
    const columns = spec.columns.map(quoteIdent).join(", ");
    const values = spec.columns.map((column) => `@${column}`).join(", ");
    const keys = spec.key.map(quoteIdent).join(", ");
    const updates = spec.columns
      .filter((column) => !spec.key.includes(column))
      .map((column) => `${quoteIdent(column)} = excluded.${quoteIdent(column)}`)
      .join(", ");
    const where = spec.key.map((column) => `${quoteIdent(column)} = @${column}`).join(" AND ");
    this.tables.set(spec.name, {
      spec,
      upsert: this.db.prepare(
        `INSERT INTO ${quoteIdent(spec.name)} (${columns}) VALUES (${values}) ON CONFLICT(${keys}) DO ${updates === "" ? "NOTHING" : `UPDATE SET ${updates}`}`,
      ),
      insertIfAbsent: this.db.prepare(
        `INSERT INTO ${quoteIdent(spec.name)} (${columns}) VALUES (${values}) ON CONFLICT(${keys}) DO NOTHING`,
      ),
      remove: this.db.prepare(`DELETE FROM ${quoteIdent(spec.name)} WHERE ${where}`),
      clear: this.db.prepare(`DELETE FROM ${quoteIdent(spec.name)}`),
    });
  }
}

/** Writes one row change through its table's statements. */
function runChange(statements: TableStatements, change: RowChange): void {
  if (change.op === "upsert") statements.upsert.run(change.row);
  else statements.remove.run(change.key);
}
