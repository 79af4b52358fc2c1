/** The agents module's replicated half: commands, snapshot section, the seed's agents table, error codes. */

import type { StateModule } from "../control/index.js";
import {
  agentTableRow,
  beatsCommand,
  deregisterCommand,
  healthCommand,
  registerCommand,
  syncCommand,
} from "./commands.js";
import { agentsSection, type AgentsState } from "./state.js";

/** Agents: the registry, and the health status of each agent. */
export const agentsState: StateModule<AgentsState> = {
  name: "agents",
  commands: [registerCommand, deregisterCommand, healthCommand, beatsCommand, syncCommand],
  section: agentsSection,
  errors: {
    agent_not_found: 404,
    conflict: 409,
    limit_exceeded: 422,
    agent_card_unreadable: 422,
    no_agent: 503,
    agent_unreachable: 502,
  },
  projection: {
    tables: [
      {
        name: "agents",
        columns: [
          "id",
          "name",
          "endpoint",
          "capabilities",
          "status",
          "last_heartbeat",
          "metadata",
          "team",
          "source",
          "status_since",
          "registered_at",
        ],
        key: ["id"],
        ddl: {
          // The seed's columns first (capabilities and metadata as JSON text, times in ms since
          // the epoch), then what the registry adds.
          sqlite: `CREATE TABLE IF NOT EXISTS agents (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            capabilities TEXT NOT NULL,
            status TEXT NOT NULL,
            last_heartbeat INTEGER NOT NULL,
            metadata TEXT,
            team TEXT NOT NULL,
            source TEXT NOT NULL,
            status_since INTEGER NOT NULL,
            registered_at INTEGER NOT NULL
          )`,
          // The seed's table exists (the store's first migration); the registry adds its columns.
          postgres: `ALTER TABLE agents
            ADD COLUMN IF NOT EXISTS team VARCHAR(100) NOT NULL DEFAULT '',
            ADD COLUMN IF NOT EXISTS source TEXT NOT NULL DEFAULT 'custom',
            ADD COLUMN IF NOT EXISTS status_since TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
            ADD COLUMN IF NOT EXISTS registered_at TIMESTAMPTZ NOT NULL DEFAULT 'epoch';
          CREATE INDEX IF NOT EXISTS agents_team_status ON agents (team, status)`,
        },
      },
    ],
    rows: (state) => state.cursor((agent) => ({ table: "agents", row: agentTableRow(agent) })),
  },
};
