// Proves the SQLite store keeps what a node needs across restarts: the log byte for byte (with
// conflicting suffixes replaced), the hard state, the applied index together with the rows it
// produced, snapshots from the leader (replacing log and tables at once, written in chunks
// across turns), local compaction that never replaces a newer snapshot, a projection rebuild
// that never resurrects a row deleted meanwhile, and migration of a first-release database.

import Database from "better-sqlite3";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  ModuleRegistry,
  encodeEnvelope,
  listCursor,
  type Row,
  type StateModule,
} from "../../src/control/index.js";
import { nodeModules } from "../../src/modules.js";
import { encodeChange, type Entry, type Snapshot } from "../../src/raft/index.js";
import type { ReadyWrite } from "../../src/runtime/storage.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";

const registry = nodeModules({ self: "n1" }).registry;
const dirs: string[] = [];
function storePath(): string {
  const dir = mkdtempSync(join(tmpdir(), "juno-store-"));
  dirs.push(dir);
  return join(dir, "node.db");
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function command(index: number, term: number, text: string): Entry {
  return {
    index,
    term,
    type: "normal",
    data: encodeEnvelope("decisions.propose", 1_700_000_000_000 + index, null, {
      entry_type: "note",
      data: { text },
    }),
  };
}
const bootstrap: Entry = {
  index: 1,
  term: 1,
  type: "config",
  data: encodeChange({ type: "bootstrap", voters: ["a", "b", "c"] }),
};
const noop = (index: number, term: number): Entry => ({
  index,
  term,
  type: "normal",
  data: new Uint8Array(0),
});

const decisionRow: Row = {
  proposal_index: 3,
  entry_type: "deploy",
  data: '{"v":1}',
  voters: '["x","y"]',
  quorum: 2,
  votes: '{"x":"approve"}',
  status: "pending",
  created_at: 5,
  decided_at: null,
};

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

/** Writes that may take several turns (snapshots), awaited. */
function writeAsync(store: SqliteStore, partial: Partial<ReadyWrite>): Promise<void> {
  return new Promise((resolve, reject) =>
    store.persist(
      { snapshot: null, entries: [], hardState: null, applied: null, sync: true, ...partial },
      (error) => (error === null ? resolve() : reject(error)),
    ),
  );
}

function decisions(path: string): Row[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare("SELECT * FROM decisions ORDER BY proposal_index").all() as Row[];
  } finally {
    db.close();
  }
}

describe("SqliteStore", () => {
  it("starts fresh, then restarts with exactly what was written", async () => {
    const path = storePath();
    const store = new SqliteStore(path, registry);
    expect(store.load().fresh).toBe(true);
    const entries = [bootstrap, noop(2, 2), command(3, 2, "héllo ✓"), command(4, 2, "b")];
    write(store, {
      entries,
      hardState: { term: 2, vote: "a", commit: 3 },
      applied: { index: 3, changes: [{ table: "decisions", op: "upsert", row: decisionRow }] },
    });
    await store.close();

    const reopened = new SqliteStore(path, registry);
    const loaded = reopened.load();
    expect(loaded.fresh).toBe(false);
    expect(loaded.hardState).toEqual({ term: 2, vote: "a", commit: 3 });
    expect(loaded.appliedIndex).toBe(3);
    expect(loaded.entries).toEqual(entries);
    expect(reopened.readLog(1, 4, 10).map((r) => [r.index, r.entryType, r.committed])).toEqual([
      [1, "raft.config", true],
      [2, "raft.noop", true],
      [3, "note", true],
      [4, "note", false],
    ]);
    await reopened.close();
    expect(decisions(path)).toEqual([decisionRow]);
  });

  it("replaces a conflicting suffix", () => {
    const store = new SqliteStore(":memory:", registry);
    write(store, {
      entries: [bootstrap, noop(2, 2), command(3, 2, "old"), command(4, 2, "old")],
      hardState: { term: 2, vote: null, commit: 2 },
    });
    write(store, { entries: [command(3, 3, "new")], hardState: { term: 3, vote: null, commit: 2 } });
    expect(store.load().entries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
  });

  it("upserts and deletes projected rows, and a write that need not sync still lands", async () => {
    const path = storePath();
    const store = new SqliteStore(path, registry);
    write(store, {
      entries: [bootstrap],
      applied: { index: 1, changes: [{ table: "decisions", op: "upsert", row: decisionRow }] },
    });
    write(store, {
      sync: false,
      applied: {
        index: 1,
        changes: [{ table: "decisions", op: "upsert", row: { ...decisionRow, status: "approved" } }],
      },
    });
    await store.close();
    expect(decisions(path).map((r) => r["status"])).toEqual(["approved"]);
    const again = new SqliteStore(path, registry);
    again.load();
    write(again, {
      applied: { index: 1, changes: [{ table: "decisions", op: "delete", key: { proposal_index: 3 } }] },
    });
    await again.close();
    expect(decisions(path)).toEqual([]);
  });

  it("installs a leader's snapshot, in chunks over several turns: log and tables replaced in one final write", async () => {
    const path = storePath();
    const store = new SqliteStore(path, registry, { snapshotChunkBytes: 1000 });
    write(store, {
      entries: [bootstrap, noop(2, 2), command(3, 2, "x")],
      hardState: { term: 2, vote: null, commit: 3 },
      applied: { index: 3, changes: [{ table: "decisions", op: "upsert", row: decisionRow }] },
    });
    const data = new Uint8Array(10_500).map((_, i) => i % 251);
    const snapshot: Snapshot = {
      index: 10,
      term: 4,
      membership: { voters: ["a", "b", "c"], learners: [] },
      data,
    };
    let turnsWaited = 0;
    const done = writeAsync(store, { snapshot, hardState: { term: 4, vote: null, commit: 10 } });
    const ticking = setInterval(() => turnsWaited++, 0);
    await done;
    clearInterval(ticking);
    const loaded = store.load();
    expect(loaded.snapshot).toEqual(snapshot);
    expect(loaded.entries).toEqual([]);
    expect(loaded.appliedIndex).toBe(10);
    expect(loaded.projectionStale).toBe(true);
    expect(store.firstIndex()).toBeNull();
    expect(decisions(path), "the tables are emptied for the rebuild").toEqual([]);
    // The rebuild writes rows as of the snapshot, but never one deleted since it began.
    write(store, {
      applied: { index: 11, changes: [{ table: "decisions", op: "delete", key: { proposal_index: 8 } }] },
    });
    store.writeProjectionRows([
      { table: "decisions", row: { ...decisionRow, proposal_index: 7 } },
      { table: "decisions", row: { ...decisionRow, proposal_index: 8 } },
    ]);
    store.finishProjectionRebuild();
    expect(store.load().projectionStale).toBe(false);
    expect(decisions(path).map((r) => r["proposal_index"])).toEqual([7]);
    await store.close();
  });

  it("a local snapshot deletes the rows below the first kept index, and never replaces a newer one", async () => {
    const store = new SqliteStore(":memory:", registry, { snapshotChunkBytes: 2 });
    const entries = [bootstrap, noop(2, 2), command(3, 2, "a"), command(4, 2, "b"), command(5, 2, "c")];
    write(store, {
      entries,
      hardState: { term: 2, vote: null, commit: 5 },
      applied: { index: 5, changes: [] },
    });
    const snapshot: Snapshot = {
      index: 4,
      term: 2,
      membership: { voters: ["a", "b", "c"], learners: [] },
      data: new Uint8Array([9, 8, 7]),
    };
    await new Promise<void>((resolve, reject) =>
      store.saveSnapshot(snapshot, 4, (e) => (e === null ? resolve() : reject(e))),
    );
    // The compacted rows go in batches over the next turns.
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.firstIndex()).toBe(4);
    const loaded = store.load();
    expect(loaded.snapshot).toEqual(snapshot);
    expect(loaded.entries.map((e) => e.index)).toEqual([5]);
    expect(loaded.appliedIndex).toBe(5);
    const older: Snapshot = { ...snapshot, index: 3, data: new Uint8Array([1]) };
    await new Promise<void>((resolve, reject) =>
      store.saveSnapshot(older, 3, (e) => (e === null ? resolve() : reject(e))),
    );
    expect(store.load().snapshot).toEqual(snapshot);
  });

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

  it("creates each module's projected tables from its own DDL", async () => {
    const path = storePath();
    const extra: StateModule = {
      name: "things",
      commands: [],
      section: {
        version: 1,
        empty: () => null,
        rows: () => listCursor([]),
        restore: () => ({ add() {}, finish: () => null }),
      },
      projection: {
        tables: [
          {
            name: "things",
            columns: ["id", "n"],
            key: ["id"],
            ddl: { sqlite: "CREATE TABLE IF NOT EXISTS things (id TEXT PRIMARY KEY, n INTEGER)" },
          },
        ],
        rows: () => listCursor([]),
      },
    };
    const store = new SqliteStore(path, new ModuleRegistry([extra]));
    write(store, {
      applied: { index: 1, changes: [{ table: "things", op: "upsert", row: { id: "__proto__", n: 1 } }] },
    });
    await store.close();
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT * FROM things").all()).toEqual([{ id: "__proto__", n: 1 }]);
    db.close();
  });
});
