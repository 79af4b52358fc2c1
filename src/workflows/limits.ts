/** The bounds on workflow definitions and runs (DESIGN rule 7: bound everything). */

import { TASK_LIMITS } from "../tasks/task.js";

export const WORKFLOW_LIMITS = {
  /** Steps in one definition, compensation steps included. */
  steps: 1_000,
  /** A definition's text, or its JSON encoding, in bytes. */
  definitionBytes: 1024 * 1024,
  /** Items one `for_each` may fan out to. */
  forEachItems: 1_000,
  /** Teams one definition names. */
  teams: 100,
  /** Dependencies of one step. */
  dependsOn: 1_000,
  /** Length of ids and names (steps, teams, task types, events, definitions). */
  nameLength: 100,
  /** Skills one task step asks for. */
  skills: 64,
  /** Voters of one approval step. */
  voters: 100,
  /** A step's resolved input, in bytes of JSON (what a task's `data` may hold). */
  inputBytes: TASK_LIMITS.dataBytes,
  /** Attempts of one step (tasks and sub-workflows). */
  maxAttempts: TASK_LIMITS.maxAttempts,
  /** The longest step or workflow timeout, and the furthest timer: 30 days. */
  durationMs: 30 * 86_400_000,
  /** How deep sub-workflows nest (a root run is depth 0). */
  depth: 8,
  /** Runs one bulk create (POST /workflows/bulk) may hold. */
  createBatch: 100,
  /** A bulk create's body, in bytes (one log entry holds it, under Raft's 1 MiB entry bound). */
  createBatchBytes: 768 * 1024,
  /** Errors one validation reports before it stops looking. */
  errors: 100,
} as const;
