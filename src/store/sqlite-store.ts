/**
 * A node's durable storage in one SQLite file: the replicated log (consensus_log), Raft's hard
 * state and snapshot, and the materialised state. Every Ready is one transaction, durable when it
 * returns (WAL, synchronous=FULL), so a crash at any moment loses nothing that was acknowledged
 * and a restart neither re-applies nor skips an entry.
 */

import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { entryOf, recordOf, type Decision, type LogRecord } from "../control/index.js";
import { assert } from "../raft/assert.js";
import type { Entry, HardState, Membership, Snapshot } from "../raft/types.js";
import { SQLITE_SCHEMA } from "./schema.js";

/** What a node restarts from. */
export interface StoredNode {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, in order. */
  readonly entries: Entry[];
  /** The highest index whose effects are in the materialised state. */
  readonly appliedIndex: number;
  /** Whether the store was empty (a node starting for the first time). */
  readonly fresh: boolean;
}

/** Everything one Ready writes, in one transaction. */
export interface ReadyWrite {
  /** A snapshot installed from the leader, with the decisions of the state it restores. */
  readonly snapshot: { readonly snapshot: Snapshot; readonly decisions: readonly Decision[] } | null;
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
  /** Effects of the committed entries applied in this Ready, and the index applied through. */
  readonly applied: { readonly index: number; readonly decisions: readonly Decision[] } | null;
}

/** A committed log row as the log API shows it. */
export interface CommittedRecord extends LogRecord {
  readonly committed: boolean;
}

/** Timings the node exports as metrics. */
export interface StoreTimings {
  /** Milliseconds the last write transaction took (including its fsync). */
  lastWriteMs: number;
}

/** The SQLite store of one node. */
export class SqliteStore {
  private readonly db: Database.Database;
  readonly timings: StoreTimings = { lastWriteMs: 0 };
  private readonly statements;
  private readonly writeReady: (write: ReadyWrite) => void;
  /** Rows up to here are marked committed. */
  private committedThrough = 0;

  /** Opens (creating if needed) the store at `path`; ":memory:" for tests. */
  constructor(path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    // FULL: every commit is on disk when it returns, so acknowledged means durable.
    this.db.pragma("synchronous = FULL");
    this.db.pragma("foreign_keys = ON");
    for (const statement of SQLITE_SCHEMA) this.db.exec(statement);
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
      snapshot: db.prepare<[], { index: number; term: number; membership: string; data: Buffer }>(
        'SELECT "index", term, membership, data FROM raft_snapshot WHERE id = 1',
      ),
      upsertSnapshot: db.prepare(
        `INSERT INTO raft_snapshot (id, "index", term, membership, data) VALUES (1, @index, @term, @membership, @data)
         ON CONFLICT(id) DO UPDATE SET "index" = @index, term = @term, membership = @membership, data = @data`,
      ),
      entries: db.prepare<
        [number],
        { index: number; term: number; entry_type: string; data: string; timestamp: number }
      >(
        'SELECT "index", term, entry_type, data, timestamp FROM consensus_log WHERE "index" > ? ORDER BY "index"',
      ),
      deleteFrom: db.prepare('DELETE FROM consensus_log WHERE "index" >= ?'),
      deleteBelow: db.prepare('DELETE FROM consensus_log WHERE "index" < ?'),
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
      upsertDecision: db.prepare(
        `INSERT INTO decisions (proposal_index, entry_type, data, voters, quorum, votes, status, created_at, decided_at)
         VALUES (@index, @entryType, @data, @voters, @quorum, @votes, @status, @createdAt, @decidedAt)
         ON CONFLICT(proposal_index) DO UPDATE SET votes = @votes, status = @status, decided_at = @decidedAt`,
      ),
      replaceDecisions: db.prepare("DELETE FROM decisions"),
    };
    this.writeReady = this.db.transaction((write: ReadyWrite) => this.writeInTransaction(write));
  }

  /** Everything a node restarts from. */
  load(): StoredNode {
    const row = this.statements.state.get();
    const snapshotRow = this.statements.snapshot.get();
    const snapshot: Snapshot | null =
      snapshotRow === undefined
        ? null
        : {
            index: snapshotRow.index,
            term: snapshotRow.term,
            membership: JSON.parse(snapshotRow.membership) as Membership,
            data: new Uint8Array(snapshotRow.data),
          };
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
    for (let i = 0; i < entries.length; i++) {
      assert(entries[i]!.index === after + 1 + i, "the stored log has a gap");
    }
    this.committedThrough = row?.commit_index ?? 0;
    return {
      hardState:
        row === undefined
          ? { term: 0, vote: null, commit: 0 }
          : { term: row.term, vote: row.vote, commit: row.commit_index },
      snapshot,
      entries,
      appliedIndex: Math.max(row?.applied_index ?? 0, after),
      fresh: row === undefined && snapshot === null && entries.length === 0,
    };
  }

  /** Writes one Ready's snapshot, entries, hard state and applied effects in one durable transaction. */
  write(write: ReadyWrite): void {
    const started = performance.now();
    this.writeReady(write);
    this.timings.lastWriteMs = performance.now() - started;
  }

  /** Records a snapshot the node took and deletes the log rows it no longer needs (below `firstKept`). */
  saveSnapshot(snapshot: Snapshot, firstKept: number): void {
    const started = performance.now();
    this.db.transaction(() => {
      this.upsertSnapshot(snapshot);
      this.statements.deleteBelow.run(firstKept);
    })();
    this.timings.lastWriteMs = performance.now() - started;
  }

  /** Up to `limit` log rows from `from` through `to` (inclusive), in order. */
  readLog(from: number, to: number, limit: number): CommittedRecord[] {
    return this.statements.committedRange.all(from, to, limit).map((r) => ({
      index: r.index,
      term: r.term,
      entryType: r.entry_type,
      dataText: r.data,
      timestamp: r.timestamp === 0 ? null : r.timestamp,
      committed: r.committed === 1,
    }));
  }

  /** The first index still in the log, or null when it is empty. */
  firstIndex(): number | null {
    return this.statements.firstIndex.get()?.first ?? null;
  }

  /** Closes the database. */
  close(): void {
    this.db.close();
  }

  private writeInTransaction(write: ReadyWrite): void {
    if (write.snapshot !== null) {
      // A snapshot from the leader replaces our log and our state.
      this.upsertSnapshot(write.snapshot.snapshot);
      this.statements.deleteAll.run();
      this.statements.replaceDecisions.run();
      for (const decision of write.snapshot.decisions) this.upsertDecision(decision);
      this.committedThrough = Math.max(this.committedThrough, write.snapshot.snapshot.index);
    }
    const first = write.entries[0];
    if (first !== undefined) {
      this.statements.deleteFrom.run(first.index);
      for (const entry of write.entries) {
        const record = recordOf(entry);
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
    if (write.snapshot !== null) this.statements.setApplied.run(write.snapshot.snapshot.index);
    if (write.applied !== null) {
      for (const decision of write.applied.decisions) this.upsertDecision(decision);
      this.statements.setApplied.run(write.applied.index);
    }
  }

  private upsertSnapshot(snapshot: Snapshot): void {
    this.statements.upsertSnapshot.run({
      index: snapshot.index,
      term: snapshot.term,
      membership: JSON.stringify(snapshot.membership),
      data: Buffer.from(snapshot.data.buffer, snapshot.data.byteOffset, snapshot.data.byteLength),
    });
  }

  private upsertDecision(decision: Decision): void {
    this.statements.upsertDecision.run({
      index: decision.index,
      entryType: decision.entryType,
      data: JSON.stringify(decision.data),
      voters: JSON.stringify(decision.voters),
      quorum: decision.quorum,
      votes: JSON.stringify(decision.votes),
      status: decision.status,
      createdAt: decision.createdAt,
      decidedAt: decision.decidedAt,
    });
  }
}
