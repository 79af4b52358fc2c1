/** The decisions module's replicated half: commands, snapshot section, projection, error codes. */

import type { StateModule } from "../control/index.js";
import { decisionTableRow, openCommand, proposeCommand, voteCommand } from "./commands.js";
import { decisionsSection, type DecisionsState } from "./state.js";

/** Decisions: proposals, and votes until a quorum decides. */
export const decisionsState: StateModule<DecisionsState> = {
  name: "decisions",
  commands: [proposeCommand, voteCommand, openCommand],
  section: decisionsSection,
  takeNotices: (state) => {
    if (state.decided.length === 0) return [];
    const decided = state.decided;
    state.decided = [];
    return decided;
  },
  errors: {
    unknown_proposal: 404,
    unknown_voter: 409,
    duplicate_vote: 409,
    not_a_decision: 409,
    decision_exists: 409,
  },
  projection: {
    tables: [
      {
        name: "decisions",
        columns: [
          "proposal_index",
          "entry_type",
          "data",
          "voters",
          "quorum",
          "votes",
          "status",
          "created_at",
          "decided_at",
        ],
        key: ["proposal_index"],
        ddl: {
          sqlite: `CREATE TABLE IF NOT EXISTS decisions (
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
          postgres: `CREATE TABLE IF NOT EXISTS decisions (
            proposal_index BIGINT PRIMARY KEY,
            entry_type VARCHAR(50) NOT NULL,
            data JSONB NOT NULL,
            voters TEXT[] NOT NULL,
            quorum INTEGER NOT NULL,
            votes JSONB NOT NULL,
            status VARCHAR(20) NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            decided_at TIMESTAMPTZ
          )`,
        },
      },
    ],
    rows: (state) =>
      state.decisions.cursor((_index, decision) => ({ table: "decisions", row: decisionTableRow(decision) })),
  },
};
