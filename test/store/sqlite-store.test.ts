// Proves what only the SQLite store does (the rest is the storage contract, contract.ts): snapshot
// data in a file per generation beside the database, migration of a first-release database, and
// applied rows held across synced writes and written together, the last change to each row.

import Database from "better-sqlite3";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Snapshot } from "../../src/raft/index.js";
import type { ReadyWrite } from "../../src/runtime/storage.js";
import { SqliteStore } from "../../src/store/sqlite/store.js";
import { until } from "../support/local-node.js";
import { bootstrap, command, decisionRow, noop, registry } from "./contract.js";

const dirs: string[] = [];
function storePath(): string {
  const dir = mkdtempSync(join(tmpdir(), "juno-store-"));
  dirs.push(dir);
  return join(dir, "node.db");
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function write(store: SqliteStore, partial: Partial<ReadyWrite>): void {
  let failure: Error | null | undefined;
  store.persist(
    { snapshot: null, entries: [], hardState: null, applied: null, sync: true, ...partial },
    (error) => {
      failure = error;
    },
  );
  expect(failure, "a write without a snapshot completes at once").toBeNull();
}

describe("SqliteStore", () => {
  it("keeps snapshot data in a file per generation beside the database, and only the current one", async () => {
    const path = storePath();
    const store = new SqliteStore(path, registry, { snapshotChunkBytes: 100 });
    write(store, {
      entries: [bootstrap, noop(2, 2), command(3, 2, "a")],
      hardState: { term: 2, vote: null, commit: 3 },
      applied: { index: 3, changes: [] },
    });
    const save = (snapshot: Snapshot): Promise<void> =>
      new Promise((resolve, reject) =>
        store.saveSnapshot(snapshot, snapshot.index, (e) => (e === null ? resolve() : reject(e))),
      );
    const membership = { voters: ["a", "b", "c"], learners: [] };
    await save({ index: 2, term: 2, membership, data: new Uint8Array(450).fill(1) });
    await save({ index: 3, term: 2, membership, data: new Uint8Array(380).fill(2) });
    // The replaced file is removed off the event loop.
    const directory = join(dirname(path), "snapshots");
    for (let i = 0; i < 200 && readdirSync(directory).length > 1; i++)
      await new Promise((r) => setTimeout(r, 5));
    const files = readdirSync(directory);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^\d+\.snap$/);
    await store.close();
    const again = new SqliteStore(path, registry);
    expect(again.load().snapshot?.data).toEqual(new Uint8Array(380).fill(2));
    await again.close();
  });

  it("migrates a database written by the first release, snapshot included", async () => {
    const path = storePath();
    const db = new Database(path);
    db.exec(
      `CREATE TABLE raft_state (id INTEGER PRIMARY KEY CHECK (id = 1), term INTEGER NOT NULL, vote TEXT, commit_index INTEGER NOT NULL, applied_index INTEGER NOT NULL)`,
    );
    db.exec(
      `CREATE TABLE raft_snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), "index" INTEGER NOT NULL, term INTEGER NOT NULL, membership TEXT NOT NULL, data BLOB NOT NULL)`,
    );
    db.exec(
      `CREATE TABLE consensus_log ("index" INTEGER PRIMARY KEY, term INTEGER NOT NULL, entry_type TEXT NOT NULL, data TEXT NOT NULL, timestamp INTEGER NOT NULL, committed INTEGER NOT NULL DEFAULT 0)`,
    );
    db.prepare("INSERT INTO raft_state VALUES (1, 3, 'b', 7, 7)").run();
    db.prepare(`INSERT INTO raft_snapshot VALUES (1, 6, 2, '{"voters":["a","b"],"learners":[]}', ?)`).run(
      Buffer.from([4, 5, 6]),
    );
    db.close();
    const store = new SqliteStore(path, registry);
    const loaded = store.load();
    expect(loaded.hardState).toEqual({ term: 3, vote: "b", commit: 7 });
    expect(loaded.snapshot).toEqual({
      index: 6,
      term: 2,
      membership: { voters: ["a", "b"], learners: [] },
      data: new Uint8Array([4, 5, 6]),
    });
    await store.close();
  });
  it("holds applied rows across synced writes, then writes the last change to each with the index they run through", async () => {
    const path = storePath();
    const store = new SqliteStore(path, registry);
    const decision = (status: string) => ({ ...decisionRow, status });
    write(store, {
      entries: [bootstrap],
      hardState: { term: 1, vote: null, commit: 1 },
      applied: { index: 1, changes: [{ table: "decisions", op: "upsert", row: decision("pending") }] },
    });
    write(store, {
      entries: [noop(2, 1)],
      hardState: { term: 1, vote: null, commit: 2 },
      applied: {
        index: 2,
        changes: [
          { table: "decisions", op: "upsert", row: decision("approved") },
          { table: "decisions", op: "upsert", row: { ...decisionRow, proposal_index: 9 } },
        ],
      },
    });
    write(store, {
      entries: [noop(3, 1)],
      hardState: { term: 1, vote: null, commit: 3 },
      applied: { index: 3, changes: [{ table: "decisions", op: "delete", key: { proposal_index: 9 } }] },
    });
    const disk = () => {
      const db = new Database(path, { readonly: true });
      try {
        return {
          entries: (db.prepare("SELECT COUNT(*) AS n FROM consensus_log").get() as { n: number }).n,
          applied:
            (db.prepare("SELECT applied_index AS a FROM raft_state").get() as { a: number } | undefined)?.a ??
            0,
          rows: db.prepare("SELECT proposal_index, status FROM decisions ORDER BY proposal_index").all(),
        };
      } finally {
        db.close();
      }
    };
    // The entries are on disk at once; the rows wait. A crash now would lose only what a restart
    // applies again from those entries (the applied index on disk says where to start).
    const now = disk();
    expect(now.entries).toBe(3);
    expect(now.rows).toEqual([]);
    expect(now.applied).toBe(0);
    // Then they land together: the last change to each row, and the index they run through.
    await until(() => disk().applied === 3);
    expect(disk().rows).toEqual([{ proposal_index: 3, status: "approved" }]);
    // Closing writes whatever is still held.
    write(store, {
      entries: [noop(4, 1)],
      hardState: { term: 1, vote: null, commit: 4 },
      applied: { index: 4, changes: [{ table: "decisions", op: "upsert", row: decision("rejected") }] },
    });
    await store.close();
    expect(disk()).toMatchObject({ applied: 4, rows: [{ proposal_index: 3, status: "rejected" }] });
    const again = new SqliteStore(path, registry);
    expect(again.load().appliedIndex).toBe(4);
    await again.close();
  });
});
