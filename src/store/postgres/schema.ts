/**
 * The PostgreSQL schema, as numbered migrations run once each, in order, when a node opens its
 * store. Each node keeps everything in a schema of its own (several nodes can share one server).
 * The first migration is the seed's DDL for its four tables, verbatim; the ones after it are
 * juno's: the exact bytes of each log entry beside the JSONB, Raft's hard state and snapshot,
 * and foreign keys that let a deregistered agent's row go while its finished tasks stay. The
 * columns a module adds to a seed table, and the tables a module keeps of its own, come from the
 * module's own DDL (`ddl.postgres`), which is written to run again harmlessly on every start.
 */

import type pg from "pg";
import { quoteIdent } from "../projection.js";

/** The seed's DDL, as the seed wrote it. */
const SEED_DDL = `
CREATE TABLE agents (
    id UUID PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    endpoint VARCHAR(255) NOT NULL,
    capabilities JSONB NOT NULL,
    status VARCHAR(20) NOT NULL,
    last_heartbeat TIMESTAMPTZ NOT NULL,
    metadata JSONB
);

-- Consensus log
CREATE TABLE consensus_log (
    index BIGINT PRIMARY KEY,
    term BIGINT NOT NULL,
    entry_type VARCHAR(50) NOT NULL,
    data JSONB NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL,
    committed BOOLEAN DEFAULT FALSE
);

-- Cross-team workflows
CREATE TABLE cross_team_workflows (
    id UUID PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    teams TEXT[] NOT NULL,
    status VARCHAR(20) NOT NULL,
    dependencies JSONB,
    progress JSONB,
    created_at TIMESTAMPTZ NOT NULL
);

-- Task distribution
CREATE TABLE distributed_tasks (
    id UUID PRIMARY KEY,
    workflow_id UUID REFERENCES cross_team_workflows(id),
    assigned_agent UUID REFERENCES agents(id),
    task_type VARCHAR(50) NOT NULL,
    priority INTEGER NOT NULL,
    status VARCHAR(20) NOT NULL,
    data JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    assigned_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ
);
`;

/** The migrations, oldest first; a schema at version N has run the first N. */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  // 1: the seed's four tables.
  SEED_DDL,
  // 2: juno's own. The log keeps each entry's exact text beside the JSONB (JSONB normalises
  // what it stores, and a restarted node must rebuild its entries byte for byte). Raft's hard
  // state, and its snapshot's metadata and data (in chunks, written a chunk per round trip).
  // The tasks' foreign keys set NULL when the row they point at goes: an agent's row goes when it
  // deregisters, and a finished workflow's when it is pruned, while the tasks' rows stay.
  `
  ALTER TABLE consensus_log ADD COLUMN data_text TEXT NOT NULL;
  CREATE TABLE raft_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    term BIGINT NOT NULL,
    vote TEXT,
    commit_index BIGINT NOT NULL,
    applied_index BIGINT NOT NULL
  );
  CREATE TABLE raft_snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    "index" BIGINT NOT NULL,
    term BIGINT NOT NULL,
    membership JSONB NOT NULL,
    generation BIGINT NOT NULL,
    projection_stale BOOLEAN NOT NULL
  );
  CREATE TABLE raft_snapshot_chunks (
    generation BIGINT NOT NULL,
    seq INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (generation, seq)
  );
  ALTER TABLE distributed_tasks
    DROP CONSTRAINT distributed_tasks_workflow_id_fkey,
    ADD CONSTRAINT distributed_tasks_workflow_id_fkey
      FOREIGN KEY (workflow_id) REFERENCES cross_team_workflows(id) ON DELETE SET NULL,
    DROP CONSTRAINT distributed_tasks_assigned_agent_fkey,
    ADD CONSTRAINT distributed_tasks_assigned_agent_fkey
      FOREIGN KEY (assigned_agent) REFERENCES agents(id) ON DELETE SET NULL;
  CREATE INDEX distributed_tasks_assigned_agent ON distributed_tasks (assigned_agent);
  CREATE INDEX distributed_tasks_workflow_id ON distributed_tasks (workflow_id);
  `,
];

/**
 * Creates `schema` if needed and brings it to the latest version: every pending migration in one
 * transaction (all or nothing), under an advisory lock so two nodes opening the same schema never
 * race. The connection's search_path must already be `schema`.
 */
export async function migrate(client: pg.Client, schema: string): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`juno:${schema}`]);
    await client.query(
      "CREATE TABLE IF NOT EXISTS juno_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
    );
    const found = await client.query<{ version: number }>("SELECT version FROM juno_schema WHERE id = 1");
    let version = found.rows[0]?.version ?? 0;
    if (version > POSTGRES_MIGRATIONS.length) {
      throw new Error(
        `the schema ${schema} is at version ${version}, newer than version ${POSTGRES_MIGRATIONS.length} that this build knows; upgrade juno`,
      );
    }
    for (; version < POSTGRES_MIGRATIONS.length; version++) {
      await client.query(POSTGRES_MIGRATIONS[version]!);
      await client.query(
        "INSERT INTO juno_schema (id, version) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version",
        [version + 1],
      );
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
