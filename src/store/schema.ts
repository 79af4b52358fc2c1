/**
 * The SQLite schema: the seed's four tables with the seed's columns (types mapped to SQLite:
 * UUID and JSONB as TEXT, TIMESTAMPTZ as INTEGER milliseconds since the epoch, TEXT[] as JSON
 * text), plus juno's own tables for Raft's hard state, its snapshot and decisions.
 */

/** Statements that create the schema; each is idempotent. */
export const SQLITE_SCHEMA: readonly string[] = [
  // Seed: agent registry.
  `CREATE TABLE IF NOT EXISTS agents (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    status TEXT NOT NULL,
    last_heartbeat INTEGER NOT NULL,
    metadata TEXT
  )`,
  // Seed: consensus log. This is the replicated log itself; data holds the entry's exact JSON text.
  `CREATE TABLE IF NOT EXISTS consensus_log (
    "index" INTEGER PRIMARY KEY,
    term INTEGER NOT NULL,
    entry_type TEXT NOT NULL,
    data TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    committed INTEGER NOT NULL DEFAULT 0
  )`,
  // Seed: cross-team workflows.
  `CREATE TABLE IF NOT EXISTS cross_team_workflows (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    teams TEXT NOT NULL,
    status TEXT NOT NULL,
    dependencies TEXT,
    progress TEXT,
    created_at INTEGER NOT NULL
  )`,
  // Seed: task distribution.
  `CREATE TABLE IF NOT EXISTS distributed_tasks (
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
  )`,
  // juno: Raft's hard state and the applied index, one row.
  `CREATE TABLE IF NOT EXISTS raft_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    term INTEGER NOT NULL,
    vote TEXT,
    commit_index INTEGER NOT NULL,
    applied_index INTEGER NOT NULL
  )`,
  // juno: the latest snapshot, one row.
  `CREATE TABLE IF NOT EXISTS raft_snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    "index" INTEGER NOT NULL,
    term INTEGER NOT NULL,
    membership TEXT NOT NULL,
    data BLOB NOT NULL
  )`,
  // juno: decisions that need votes, materialised from the log.
  `CREATE TABLE IF NOT EXISTS decisions (
    proposal_index INTEGER PRIMARY KEY,
    entry_type TEXT NOT NULL,
    data TEXT NOT NULL,
    voters TEXT NOT NULL,
    quorum INTEGER NOT NULL,
    votes TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    decided_at INTEGER
  )`,
];
