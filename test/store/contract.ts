// The storage contract: what every store (SQLite, PostgreSQL) must keep for a node across
// restarts, run by sqlite.contract.test.ts and postgres.contract.test.ts against each. The log
// byte for byte (with conflicting suffixes replaced), the hard state, the applied index together
// with the rows it produced, writes that need no sync landing in order, snapshots from the leader
// (replacing log and tables at once), local compaction that never replaces a newer snapshot, a
// projection rebuild that never resurrects a row deleted meanwhile, and tables from each module's
// own DDL.

import { describe, expect, it } from "vitest";
import {
  ModuleRegistry,
  encodeEnvelope,
  listCursor,
  type Row,
  type StateModule,
} from "../../src/control/index.js";
import { nodeModules } from "../../src/modules.js";
import { encodeChange, type Entry, type Snapshot } from "../../src/raft/index.js";
import type { NodeStorage, ReadyWrite } from "../../src/runtime/storage.js";

/** How the contract reaches one kind of store. */
export interface ContractTarget {
  /** A fresh place for a store (a file path, a schema). */
  fresh(): Promise<string>;
  open(
    place: string,
    registry: ModuleRegistry,
    options?: { snapshotChunkBytes?: number },
  ): Promise<NodeStorage>;
  /** The rows of a projected table, ordered by `orderBy`, as the modules wrote them (JSON as text, times in ms). */
  rows(place: string, table: string, orderBy: string): Promise<Row[]>;
}

export const registry = nodeModules({ self: "n1" }).registry;

export function command(index: number, term: number, text: string): Entry {
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
export const bootstrap: Entry = {
  index: 1,
  term: 1,
  type: "config",
  data: encodeChange({ type: "bootstrap", voters: ["a", "b", "c"] }),
};
export const noop = (index: number, term: number): Entry => ({
  index,
  term,
  type: "normal",
  data: new Uint8Array(0),
});

export const decisionRow: Row = {
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

/** Writes one Ready and waits until the store says it is durable. */
export function persist(store: NodeStorage, partial: Partial<ReadyWrite>): Promise<void> {
  return new Promise((resolve, reject) =>
    store.persist(
      { snapshot: null, entries: [], hardState: null, applied: null, sync: true, ...partial },
      (error) => (error === null ? resolve() : reject(error)),
    ),
  );
}

/** Saves a local snapshot and waits for it. */
export function saveSnapshot(store: NodeStorage, snapshot: Snapshot, firstKept: number): Promise<void> {
  return new Promise((resolve, reject) =>
    store.saveSnapshot(snapshot, firstKept, (error) => (error === null ? resolve() : reject(error))),
  );
}

/** Waits until `check` holds, a turn at a time (background steps of a store). */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error("the condition never held");
}

/** A module with a table of its own, keyed by text (ids that collide with Object's own names included). */
const things: StateModule = {
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
        ddl: {
          sqlite: "CREATE TABLE IF NOT EXISTS things (id TEXT PRIMARY KEY, n INTEGER)",
          postgres: "CREATE TABLE IF NOT EXISTS things (id TEXT PRIMARY KEY, n INTEGER)",
        },
      },
    ],
    rows: () => listCursor([]),
  },
};

/** The contract, against `target`. */
export function storeContract(name: string, target: ContractTarget): void {
  describe(`${name} store contract`, () => {
    it("starts fresh, then restarts with exactly what was written", async () => {
      const place = await target.fresh();
      const store = await target.open(place, registry);
      expect(store.load().fresh).toBe(true);
      const entries = [bootstrap, noop(2, 2), command(3, 2, "héllo ✓ \u0000 nul"), command(4, 2, "b")];
      await persist(store, {
        entries,
        hardState: { term: 2, vote: "a", commit: 3 },
        applied: { index: 3, changes: [{ table: "decisions", op: "upsert", row: decisionRow }] },
      });
      await store.close();

      const reopened = await target.open(place, registry);
      const loaded = reopened.load();
      expect(loaded.fresh).toBe(false);
      expect(loaded.hardState).toEqual({ term: 2, vote: "a", commit: 3 });
      expect(loaded.appliedIndex).toBe(3);
      expect(loaded.entries, "byte for byte").toEqual(entries);
      const log = await reopened.readLog(1, 4, 10);
      expect(log.map((r) => [r.index, r.entryType, r.committed])).toEqual([
        [1, "raft.config", true],
        [2, "raft.noop", true],
        [3, "note", true],
        [4, "note", false],
      ]);
      expect(log[2]!.timestamp).toBe(1_700_000_000_003);
      expect(log[0]!.timestamp).toBeNull();
      expect(await reopened.firstIndex()).toBe(1);
      await reopened.close();
      expect(await target.rows(place, "decisions", "proposal_index")).toEqual([decisionRow]);
    });

    it("replaces a conflicting suffix", async () => {
      const place = await target.fresh();
      const store = await target.open(place, registry);
      await persist(store, {
        entries: [bootstrap, noop(2, 2), command(3, 2, "old"), command(4, 2, "old")],
        hardState: { term: 2, vote: null, commit: 2 },
      });
      await persist(store, {
        entries: [command(3, 3, "new")],
        hardState: { term: 3, vote: null, commit: 2 },
      });
      await store.close();
      const reopened = await target.open(place, registry);
      expect(reopened.load().entries).toEqual([bootstrap, noop(2, 2), command(3, 3, "new")]);
      // After a restart too: the store knows where its log ends without having written it.
      await persist(reopened, {
        entries: [command(4, 3, "x"), command(5, 3, "x")],
        hardState: { term: 3, vote: null, commit: 2 },
      });
      await reopened.close();
      const again = await target.open(place, registry);
      await persist(again, {
        entries: [command(2, 4, "newer")],
        hardState: { term: 4, vote: null, commit: 1 },
      });
      await again.close();
      const last = await target.open(place, registry);
      expect(last.load().entries).toEqual([bootstrap, command(2, 4, "newer")]);
      await last.close();
    });

    it("upserts and deletes projected rows, and writes that need not sync land, in order", async () => {
      const place = await target.fresh();
      const store = await target.open(place, registry);
      await persist(store, {
        entries: [bootstrap],
        applied: { index: 1, changes: [{ table: "decisions", op: "upsert", row: decisionRow }] },
      });
      // Writes that need no sync are answered at once; a later synced write lands after them.
      for (const status of ["approved", "rejected", "approved"]) {
        store.persist(
          {
            snapshot: null,
            entries: [],
            hardState: null,
            applied: {
              index: 1,
              changes: [{ table: "decisions", op: "upsert", row: { ...decisionRow, status } }],
            },
            sync: false,
          },
          (error) => expect(error).toBeNull(),
        );
      }
      await persist(store, {
        entries: [noop(2, 1)],
        hardState: { term: 1, vote: null, commit: 2 },
        applied: {
          index: 2,
          changes: [
            { table: "decisions", op: "upsert", row: { ...decisionRow, proposal_index: 4 } },
            { table: "decisions", op: "delete", key: { proposal_index: 4 } },
            { table: "decisions", op: "upsert", row: { ...decisionRow, proposal_index: 5, status: "x" } },
            { table: "decisions", op: "upsert", row: { ...decisionRow, proposal_index: 5, status: "y" } },
          ],
        },
      });
      await store.close();
      expect(
        (await target.rows(place, "decisions", "proposal_index")).map((r) => [
          r["proposal_index"],
          r["status"],
        ]),
      ).toEqual([
        [3, "approved"],
        [5, "y"],
      ]);
      const again = await target.open(place, registry);
      expect(again.load().appliedIndex).toBe(2);
      await persist(again, {
        applied: { index: 2, changes: [{ table: "decisions", op: "delete", key: { proposal_index: 3 } }] },
      });
      await again.close();
      expect(
        (await target.rows(place, "decisions", "proposal_index")).map((r) => r["proposal_index"]),
      ).toEqual([5]);
    });

    it("installs a leader's snapshot: log and tables replaced at once, and the rebuild never resurrects a deleted row", async () => {
      const place = await target.fresh();
      const store = await target.open(place, registry, { snapshotChunkBytes: 1000 });
      await persist(store, {
        entries: [bootstrap, noop(2, 2), command(3, 2, "x")],
        hardState: { term: 2, vote: null, commit: 3 },
        applied: { index: 3, changes: [{ table: "decisions", op: "upsert", row: decisionRow }] },
      });
      const snapshot: Snapshot = {
        index: 10,
        term: 4,
        membership: { voters: ["a", "b", "c"], learners: [] },
        data: new Uint8Array(10_500).map((_, i) => i % 251),
      };
      await persist(store, { snapshot, hardState: { term: 4, vote: null, commit: 10 } });
      expect(await store.firstIndex()).toBeNull();
      expect(
        await target.rows(place, "decisions", "proposal_index"),
        "the tables are emptied for the rebuild",
      ).toEqual([]);
      // The rebuild writes rows as of the snapshot, but never one deleted since it began.
      await persist(store, {
        applied: { index: 11, changes: [{ table: "decisions", op: "delete", key: { proposal_index: 8 } }] },
      });
      store.writeProjectionRows([
        { table: "decisions", row: { ...decisionRow, proposal_index: 7 } },
        { table: "decisions", row: { ...decisionRow, proposal_index: 8 } },
      ]);
      store.finishProjectionRebuild();
      await persist(store, { hardState: { term: 4, vote: null, commit: 10 } });
      await store.close();
      const reopened = await target.open(place, registry);
      const loaded = reopened.load();
      expect(loaded.snapshot).toEqual(snapshot);
      expect(loaded.entries).toEqual([]);
      expect(loaded.appliedIndex).toBe(11);
      expect(loaded.projectionStale).toBe(false);
      await reopened.close();
      expect(
        (await target.rows(place, "decisions", "proposal_index")).map((r) => r["proposal_index"]),
      ).toEqual([7]);
    });

    it("an interrupted rebuild starts over from empty tables after a restart", async () => {
      const place = await target.fresh();
      const store = await target.open(place, registry);
      const snapshot: Snapshot = {
        index: 5,
        term: 2,
        membership: { voters: ["a"], learners: [] },
        data: new Uint8Array([1, 2, 3]),
      };
      await persist(store, { snapshot, hardState: { term: 2, vote: null, commit: 5 } });
      store.writeProjectionRows([{ table: "decisions", row: decisionRow }]);
      await persist(store, { hardState: { term: 2, vote: "a", commit: 5 } });
      await store.close();
      const reopened = await target.open(place, registry);
      expect(reopened.load().projectionStale).toBe(true);
      expect(await target.rows(place, "decisions", "proposal_index")).toEqual([]);
      await reopened.close();
    });

    it("a local snapshot drops the log below the first kept index, and never replaces a newer one", async () => {
      const place = await target.fresh();
      const store = await target.open(place, registry, { snapshotChunkBytes: 2 });
      const entries = [bootstrap, noop(2, 2), command(3, 2, "a"), command(4, 2, "b"), command(5, 2, "c")];
      await persist(store, {
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
      await saveSnapshot(store, snapshot, 4);
      // The compacted rows go in batches after it.
      await eventually(async () => (await store.firstIndex()) === 4);
      const older: Snapshot = { ...snapshot, index: 3, data: new Uint8Array([1]) };
      await saveSnapshot(store, older, 3);
      await store.close();
      const reopened = await target.open(place, registry);
      const loaded = reopened.load();
      expect(loaded.snapshot).toEqual(snapshot);
      expect(loaded.entries.map((e) => e.index)).toEqual([5]);
      expect(loaded.appliedIndex).toBe(5);
      await reopened.close();
    });

    it("creates each module's projected tables from its own DDL, with ids that are Object's own names", async () => {
      const place = await target.fresh();
      const store = await target.open(place, new ModuleRegistry([things]));
      await persist(store, {
        applied: {
          index: 1,
          changes: [
            { table: "things", op: "upsert", row: { id: "__proto__", n: 1 } },
            { table: "things", op: "upsert", row: { id: "constructor", n: 2 } },
          ],
        },
      });
      await store.close();
      expect(await target.rows(place, "things", "n")).toEqual([
        { id: "__proto__", n: 1 },
        { id: "constructor", n: 2 },
      ]);
    });

    it("keeps a task whose agent deregistered and whose workflow was never projected", async () => {
      const place = await target.fresh();
      const store = await target.open(place, registry);
      const agent = "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
      const agentRow: Row = {
        id: agent,
        name: "a1",
        endpoint: "http://a1:8080",
        capabilities: '{"skills":["build"],"capacity":2,"weight":1,"labels":{}}',
        status: "healthy",
        last_heartbeat: 1_700_000_000_000,
        metadata: null,
        team: "red",
        source: "custom",
        status_since: 1_700_000_000_000,
        registered_at: 1_700_000_000_000,
      };
      const task = (status: string, agentId: string | null): Row => ({
        id: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        workflow_id: "11111111-2222-4333-8444-555555555555",
        assigned_agent: agentId,
        task_type: "build",
        priority: 5,
        status,
        data: '{"n":1}',
        created_at: 1_700_000_000_001,
        assigned_at: 1_700_000_000_002,
        completed_at: null,
        team: "red",
        attempt: 1,
        result: null,
        error: null,
      });
      // The agent and the task assigned to it in one write.
      await persist(store, {
        applied: {
          index: 1,
          changes: [
            { table: "agents", op: "upsert", row: agentRow },
            { table: "distributed_tasks", op: "upsert", row: task("assigned", agent) },
          ],
        },
      });
      // The agent goes; its finished task stays.
      await persist(store, {
        applied: {
          index: 2,
          changes: [
            {
              table: "distributed_tasks",
              op: "upsert",
              row: { ...task("succeeded", agent), completed_at: 1_700_000_000_009 },
            },
            { table: "agents", op: "delete", key: { id: agent } },
          ],
        },
      });
      await store.close();
      expect(await target.rows(place, "agents", "id")).toEqual([]);
      const [row] = await target.rows(place, "distributed_tasks", "id");
      expect(row?.["status"]).toBe("succeeded");
      expect(row?.["completed_at"]).toBe(1_700_000_000_009);
    });
  });
}
