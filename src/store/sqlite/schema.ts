/**
 * The SQLite schema, as numbered migrations run once each, in order, on open. The seed's tables
 * keep the seed's columns (types mapped to SQLite: UUID and JSONB as TEXT, TIMESTAMPTZ as INTEGER
 * milliseconds since the epoch, TEXT[] as JSON text); juno's own tables hold Raft's hard state and
 * snapshot. Tables a module projects its state into are created from the module's own DDL.
 */

import type Database from "better-sqlite3";

/** The migrations, oldest first; a database at version N has run the first N. */
export const SQLITE_MIGRATIONS: readonly ((db: Database.Database) => void)[] = [
  // 1: the seed's four tables, Raft's hard state and snapshot (as the first release wrote them).
  (db) => {
    db.exec(`CREATE TABLE IF NOT EXISTS agents (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      endpoint TEXT NOT NULL,
      capabilities TEXT NOT NULL,
      status TEXT NOT NULL,
      last_heartbeat INTEGER NOT NULL,
      metadata TEXT
    )`);
    // The replicated log itself; data holds the entry's exact text.
    db.exec(`CREATE TABLE IF NOT EXISTS consensus_log (
      "index" INTEGER PRIMARY KEY,
      term INTEGER NOT NULL,
      entry_type TEXT NOT NULL,
      data TEXT NOT NULL,
      timestamp INTEGER NOT NULL,
      committed INTEGER NOT NULL DEFAULT 0
    )`);
    db.exec(`CREATE TABLE IF NOT EXISTS cross_team_workflows (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      teams TEXT NOT NULL,
      status TEXT NOT NULL,
      dependencies TEXT,
      progress TEXT,
      created_at INTEGER NOT NULL
    )`);
    db.exec(`CREATE TABLE IF NOT EXISTS distributed_tasks (
      id TEXT PRIMARY KEY,
      workflow_id TEXT REFERENCES cross_team_workflows(id),
      assigned_agent TEXT REFERENCES agents(id),
      task_type TEXT NOT NULL,
      priority INTEGER NOT NULL,
      status TEXT NOT NULL,
      data TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      assigned_at INTEGER,
      completed_at INTEGER
    )`);
    db.exec(`CREATE TABLE IF NOT EXISTS raft_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      term INTEGER NOT NULL,
      vote TEXT,
      commit_index INTEGER NOT NULL,
      applied_index INTEGER NOT NULL
    )`);
    db.exec(`CREATE TABLE IF NOT EXISTS raft_snapshot (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      "index" INTEGER NOT NULL,
      term INTEGER NOT NULL,
      membership TEXT NOT NULL,
      data BLOB NOT NULL
    )`);
  },
  // 2: snapshots in chunks (written a chunk per turn), and a flag for a projection being rebuilt.
  (db) => {
    db.exec(`CREATE TABLE raft_snapshot_chunks (
      generation INTEGER NOT NULL,
      seq INTEGER NOT NULL,
      data BLOB NOT NULL,
      PRIMARY KEY (generation, seq)
    )`);
    db.exec("INSERT INTO raft_snapshot_chunks (generation, seq, data) SELECT 0, 0, data FROM raft_snapshot");
    db.exec("ALTER TABLE raft_snapshot DROP COLUMN data");
    db.exec("ALTER TABLE raft_snapshot ADD COLUMN generation INTEGER NOT NULL DEFAULT 0");
    db.exec("ALTER TABLE raft_snapshot ADD COLUMN projection_stale INTEGER NOT NULL DEFAULT 0");
  },
  // 3: the agents table gains what the registry knows beside the seed's columns. The table was
  // only ever written empty before, so defaults are enough.
  (db) => {
    db.exec("ALTER TABLE agents ADD COLUMN team TEXT NOT NULL DEFAULT ''");
    db.exec("ALTER TABLE agents ADD COLUMN source TEXT NOT NULL DEFAULT 'custom'");
    db.exec("ALTER TABLE agents ADD COLUMN status_since INTEGER NOT NULL DEFAULT 0");
    db.exec("ALTER TABLE agents ADD COLUMN registered_at INTEGER NOT NULL DEFAULT 0");
  },
  // 4: distributed_tasks becomes the projection of the tasks module: the seed's columns plus the
  // asking team, the attempt, the result and the error. Its foreign keys go: an agent's row goes
  // when it deregisters while its finished tasks are kept, and workflows are not projected yet.
  // The table was only ever empty before, so it is simply made again.
  (db) => {
    db.exec("DROP TABLE IF EXISTS distributed_tasks");
    db.exec(`CREATE TABLE distributed_tasks (
      id TEXT PRIMARY KEY,
      workflow_id TEXT,
      assigned_agent TEXT,
      task_type TEXT NOT NULL,
      priority INTEGER NOT NULL,
      status TEXT NOT NULL,
      data TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      assigned_at INTEGER,
      completed_at INTEGER,
      team TEXT NOT NULL,
      attempt INTEGER NOT NULL,
      result TEXT,
      error TEXT
    )`);
  },
  // 5: a finished task's status takes its fixed API name, succeeded (it was written completed).
  (db) => {
    db.exec("UPDATE distributed_tasks SET status = 'succeeded' WHERE status = 'completed'");
  },
  // 6: cross_team_workflows becomes the projection of the workflows module: the seed's columns
  // plus the definition's version, the owning team, the parent run and the start and end times.
  // Nothing ever wrote the table before; it goes, and the module's own DDL makes it again.
  (db) => {
    db.exec("DROP TABLE IF EXISTS cross_team_workflows");
  },
];

/** Brings `db` to the latest schema, each migration in its own transaction. */
export function migrate(db: Database.Database): void {
  db.exec(
    "CREATE TABLE IF NOT EXISTS juno_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
  );
  const row = db.prepare<[], { version: number }>("SELECT version FROM juno_schema WHERE id = 1").get();
  let version = row?.version ?? 0;
  if (version > SQLITE_MIGRATIONS.length) {
    throw new Error(
      `the database is at schema version ${version}, newer than version ${SQLITE_MIGRATIONS.length} that this build knows; upgrade juno`,
    );
  }
  for (; version < SQLITE_MIGRATIONS.length; version++) {
    const step = SQLITE_MIGRATIONS[version]!;
    const next = version + 1;
    db.transaction(() => {
      step(db);
      db.prepare(
        "INSERT INTO juno_schema (id, version) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET version = excluded.version",
      ).run(next);
    })();
  }
}
