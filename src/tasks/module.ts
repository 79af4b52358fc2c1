/** The tasks module's replicated half: commands, snapshot section, the seed's distributed_tasks table, error codes. */

import Type, { type Static } from "typebox";
import { Compile } from "typebox/compile";
import {
  SnapshotError,
  concatCursors,
  listCursor,
  type Cursor,
  type SectionRow,
  type SectionRestorer,
  type StateModule,
  type StateSection,
} from "../control/index.js";
import { TASK_COMMANDS } from "./commands.js";
import { TaskSettingsSchema } from "./settings.js";
import { TasksState } from "./state.js";
import { TaskRow, type Task } from "./task.js";
import { taskTableRow } from "./views.js";

/** The first row of the section: everything but the tasks. */
const MetaRow = Type.Object(
  {
    meta: Type.Object(
      {
        seq: Type.Integer({ minimum: 0 }),
        settings: TaskSettingsSchema,
        fairness: Type.Unknown(),
        breakers: Type.Array(
          Type.Tuple([
            Type.String({ minLength: 1, maxLength: 36 }),
            Type.Object(
              {
                consecutiveFailures: Type.Integer({ minimum: 0 }),
                openedAtMs: Type.Union([Type.Integer(), Type.Null()]),
                probeTaskId: Type.Union([Type.String({ maxLength: 36 }), Type.Null()]),
              },
              { additionalProperties: false },
            ),
          ]),
        ),
        memories: Type.Array(
          Type.Tuple([
            Type.String({ maxLength: 20_000 }),
            Type.Object(
              {
                lastId: Type.Union([Type.String({ maxLength: 36 }), Type.Null()]),
                current: Type.Array(Type.Tuple([Type.String({ maxLength: 36 }), Type.Number()])),
                virtualPass: Type.Number(),
              },
              { additionalProperties: false },
            ),
          ]),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
type MetaRow = Static<typeof MetaRow>;

const metaCheck = Compile(MetaRow);
const rowCheck = Compile(TaskRow);

function metaOf(state: TasksState): MetaRow {
  return {
    meta: {
      seq: state.seq,
      settings: state.settings,
      fairness: state.queue.exportFairness(),
      breakers: [...state.breakers].map(([id, breaker]) => [id, { ...breaker }]),
      memories: [...state.memories].map(([cls, memory]) => [
        cls,
        { lastId: memory.lastId, current: [...memory.current], virtualPass: memory.virtualPass },
      ]),
    },
  };
}

function invalid(row: number, message: string): SnapshotError {
  return new SnapshotError("invalid_row", `section tasks, row ${row}: ${message}`);
}

function isLegacyCompleted(row: unknown): row is Record<string, unknown> {
  return typeof row === "object" && row !== null && (row as { status?: unknown }).status === "completed";
}

function restorer(): SectionRestorer<TasksState> {
  const state = new TasksState();
  let count = 0;
  return {
    add(row: unknown, text: string): void {
      count++;
      if (count === 1) {
        if (!metaCheck.Check(row)) throw invalid(count, "the first row must be the section's meta row");
        const meta = row.meta;
        try {
          state.configure(meta.settings);
          state.queue.importFairness(meta.fairness);
        } catch (error) {
          throw invalid(count, error instanceof Error ? error.message : String(error));
        }
        state.seq = meta.seq;
        for (const [id, breaker] of meta.breakers) state.breakers.set(id, breaker);
        for (const [cls, memory] of meta.memories)
          state.memories.set(cls, {
            lastId: memory.lastId,
            current: new Map(memory.current),
            virtualPass: memory.virtualPass,
          });
        return;
      }
      // Snapshots written before the status took its fixed name say "completed" for "succeeded".
      if (isLegacyCompleted(row)) {
        row = { ...row, status: "succeeded" };
        text = JSON.stringify(row);
      }
      if (!rowCheck.Check(row)) throw invalid(count, "not a task row");
      if (state.get(row.id) !== undefined) throw invalid(count, `task ${row.id} appears twice`);
      const task = row as Task;
      if ((task.status === "assigned" || task.status === "running") !== (task.agentId !== null))
        throw invalid(count, `task ${row.id} is ${task.status} with agent ${task.agentId}`);
      state.restore(task, text);
    },
    finish(): TasksState {
      if (count === 0) throw invalid(0, "the section has no meta row");
      return state;
    },
  };
}

/** Snapshot section "tasks", version 1: a meta row, then one row per kept task. */
export const tasksSection: StateSection<TasksState> = {
  version: 1,
  empty: () => new TasksState(),
  rows: (state): Cursor<SectionRow> =>
    concatCursors<SectionRow>([listCursor([JSON.stringify(metaOf(state))]), state.sectionRows()]),
  restore: restorer,
};

/** Tasks: what was asked, who holds it, and how it ended. */
export const tasksState: StateModule<TasksState> = {
  name: "tasks",
  commands: [...TASK_COMMANDS],
  section: tasksSection,
  takeNotices: (state) => state.takeEnded(),
  errors: {
    task_not_found: 404,
    stale_attempt: 409,
    task_finished: 409,
    queue_full: 429,
  },
  projection: {
    tables: [
      {
        name: "distributed_tasks",
        columns: [
          "id",
          "workflow_id",
          "assigned_agent",
          "task_type",
          "priority",
          "status",
          "data",
          "created_at",
          "assigned_at",
          "completed_at",
          "team",
          "attempt",
          "result",
          "error",
        ],
        key: ["id"],
        ddl: {
          // The seed's columns first (data as JSON text, times in ms since the epoch), then what
          // the task queue adds. No foreign keys here: an agent's row goes when it deregisters,
          // while its finished tasks are kept.
          sqlite: `CREATE TABLE IF NOT EXISTS distributed_tasks (
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
          )`,
          // The seed's table exists (the store's first migration, foreign keys and all); the queue
          // adds its columns.
          postgres: `ALTER TABLE distributed_tasks
            ADD COLUMN IF NOT EXISTS team VARCHAR(100) NOT NULL DEFAULT '',
            ADD COLUMN IF NOT EXISTS attempt INTEGER NOT NULL DEFAULT 0,
            ADD COLUMN IF NOT EXISTS result JSONB,
            ADD COLUMN IF NOT EXISTS error JSONB;
          CREATE INDEX IF NOT EXISTS distributed_tasks_status ON distributed_tasks (status, priority DESC)`,
        },
      },
    ],
    rows: (state) => state.cursor((task) => ({ table: "distributed_tasks", row: taskTableRow(task) })),
  },
};
