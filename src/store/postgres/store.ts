/**
 * A node's durable storage in PostgreSQL: the same contract as the SQLite store, in a schema of
 * the node's own. Everything the node restarts from is read when the store opens; after that the
 * store only writes, through one connection, in order, one statement (one round trip, its own
 * transaction) per Ready:
 *
 *   WITH e AS (INSERT INTO consensus_log ... ON CONFLICT ... DO UPDATE),  -- the new entries
 *        s AS (DELETE FROM consensus_log WHERE index > <last new>),    -- a replaced suffix
 *        r AS (INSERT INTO raft_state ... ON CONFLICT DO UPDATE),      -- hard state, applied index
 *        u1 AS (INSERT INTO agents ... ON CONFLICT DO UPDATE), d1 AS (DELETE FROM agents ...), ...
 *   SELECT 1
 *
 * A Ready's `done` comes after PostgreSQL answered the commit (synchronous_commit stays on), so
 * nothing is sent or acknowledged before it is durable. Writes that need no sync are answered at
 * once and queued; queued writes go together in the next statement. Every statement is written so
 * that running it twice leaves what running it once does: when the connection drops the store
 * cannot know whether the commit it sent landed, so it reconnects with backoff and runs the same
 * statement again, and nothing is lost or applied twice. Meanwhile the Ready waits: the node sends
 * and acknowledges nothing, and reports itself unavailable (readyz). Any other error is final: the
 * write's `done` carries it and the node stops.
 *
 * Snapshot data goes into raft_snapshot_chunks a chunk per round trip, then one transaction makes
 * it current. The log API's reads use a small pool of their own, never the writer's connection.
 */

import pg from "pg";
import {
  entryOf,
  recordOf,
  type ModuleRegistry,
  type Row,
  type RowChange,
  type TableSpec,
} from "../../control/index.js";
import { assert } from "../../raft/assert.js";
import type { Entry, Membership, Snapshot } from "../../raft/types.js";
import type {
  CommittedRecord,
  NodeStorage,
  ReadyWrite,
  StoreTimings,
  StoredNode,
  WriteDone,
} from "../../runtime/storage.js";
import { backoffDelayMs, resolveBackoff, type BackoffOptions } from "../../transport/backoff.js";
import { SILENT_LOGGER, type Logger } from "../../util/logger.js";
import { RebuildTracker, keyText, quoteIdent } from "../projection.js";
import { encodeRow, readShapes, withoutNul, type TableShape } from "./rows.js";
import { migrate } from "./schema.js";

/** How a store is opened. */
export interface PostgresStoreOptions {
  /** The schema this node keeps its tables in: lower-case letters, digits and _, at most 63. */
  readonly schema: string;
  readonly logger?: Logger;
  /** Bytes per stored snapshot chunk. */
  readonly snapshotChunkBytes?: number;
  /** A write slower than this is logged. */
  readonly slowWriteMs?: number;
  /** How reconnection attempts are spaced. */
  readonly reconnect?: Partial<BackoffOptions>;
  /** A query with no answer after this long counts as a lost connection. */
  readonly queryTimeoutMs?: number;
  /** How long open() keeps trying to reach a server that is not up yet. */
  readonly openTimeoutMs?: number;
}

/** The store could not be opened: the server refused, stayed unreachable, or the schema is too new. */
export class StoreOpenError extends Error {
  override readonly name = "StoreOpenError";
}

/** A schema name the store accepts. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const DEFAULT_CHUNK_BYTES = 512 * 1024;
/** Compacted log rows deleted per round trip after a snapshot. */
const DELETE_ROWS_PER_STEP = 5_000;
/** Queued writes merged into one statement at most. */
const MERGE_LIMIT = 256;
/** Statement texts prepared per connection at most (the shapes of a Ready are few). */
const PREPARED_LIMIT = 512;

/** One queued piece of work: a Ready's write (merged with its neighbours), or a step of its own. */
type Item =
  | { readonly kind: "write"; readonly write: ReadyWrite; readonly dones: WriteDone[] }
  | {
      readonly kind: "step";
      readonly label: string;
      readonly run: (client: pg.Client) => Promise<void>;
      readonly done: WriteDone | null;
    };

/** The PostgreSQL store of one node. */
export class PostgresStore implements NodeStorage {
  readonly timings: StoreTimings = { lastWriteMs: 0, slowWrites: 0 };
  private readonly log: Logger;
  private readonly chunkBytes: number;
  private readonly slowWriteMs: number;
  private readonly backoff: BackoffOptions;
  private readonly config: pg.ClientConfig;
  private readonly schema: string;
  private shapes = new Map<string, TableShape>();
  private readonly reader: pg.Pool;
  private writer: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private readonly queue: Item[] = [];
  private pumping = false;
  private up = false;
  private fatal: Error | null = null;
  private closed = false;
  private loaded: StoredNode | null = null;
  private readonly prepared = new Map<string, string>();
  /** Rows up to here are marked committed (as of the statements built so far). */
  private committedThrough = 0;
  /** The highest commit index any write told us, written or still queued. */
  private knownCommit = 0;
  /** The last index in the stored log (as of the statements built so far). */
  private lastIndex = 0;
  private generation = 0;
  private nextGeneration = 1;
  private storedSnapshotIndex = 0;
  /** Generations being written right now: never removed as old. */
  private readonly writing = new Set<number>();
  /** While the projected tables are rebuilt: the rows deleted since it began (in queue order). */
  private readonly rebuild = new RebuildTracker();
  private outage: { since: number; attempts: number } | null = null;

  private constructor(
    url: string,
    private readonly registry: ModuleRegistry,
    options: PostgresStoreOptions,
  ) {
    if (!SCHEMA_NAME.test(options.schema)) {
      throw new Error(
        `schema ${JSON.stringify(options.schema)}: use lower-case letters, digits and _ (at most 63)`,
      );
    }
    this.schema = options.schema;
    this.log = (options.logger ?? SILENT_LOGGER).child({
      component: "store",
      store: "postgres",
      schema: this.schema,
    });
    this.chunkBytes = options.snapshotChunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.slowWriteMs = options.slowWriteMs ?? 100;
    this.backoff = resolveBackoff({ initialDelayMs: 50, maxDelayMs: 2_000, ...options.reconnect });
    this.config = {
      connectionString: withSearchPath(url, this.schema),
      application_name: "juno",
      keepAlive: true,
      query_timeout: options.queryTimeoutMs ?? 30_000,
      connectionTimeoutMillis: 5_000,
      types: { getTypeParser: typeParser },
    };
    this.reader = new pg.Pool({ ...this.config, max: 2, idleTimeoutMillis: 30_000 });
    // An idle pooled connection that drops is replaced on the next read; nothing to do here.
    this.reader.on("error", () => undefined);
  }

  /** Connects (waiting for a server that is still starting), migrates the schema and reads what the node restarts from. */
  static async open(
    url: string,
    registry: ModuleRegistry,
    options: PostgresStoreOptions,
  ): Promise<PostgresStore> {
    const store = new PostgresStore(url, registry, options);
    try {
      await store.start(options.openTimeoutMs ?? 60_000);
    } catch (error) {
      await store.close().catch(() => undefined);
      throw error;
    }
    return store;
  }

  private async start(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const client = await this.client();
        await migrate(client, this.schema);
        const tables = this.registry.tables();
        for (const spec of tables) await client.query(spec.ddl.postgres);
        this.shapes = await readShapes(client, this.schema, tables);
        this.loaded = await this.loadFrom(client);
        this.up = true;
        return;
      } catch (error) {
        this.dropWriter();
        if (!isConnectionError(error) || Date.now() >= deadline) {
          throw new StoreOpenError(
            `opening the PostgreSQL store (schema ${this.schema}): ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          );
        }
        this.log.warn({ err: String(error), attempt }, "PostgreSQL not reachable yet; retrying");
        await sleep(backoffDelayMs(attempt, this.backoff, Math.random));
      }
    }
  }

  /** Everything a node restarts from (read when the store opened). */
  load(): StoredNode {
    assert(this.loaded !== null, "the store was not opened");
    return this.loaded;
  }

  available(): boolean {
    return this.up && this.fatal === null && !this.closed;
  }

  /** Queues one Ready's write; `done` once it is committed (at once when it need not sync). */
  persist(write: ReadyWrite, done: WriteDone): void {
    if (this.fatal !== null || this.closed) return done(this.fatal ?? new Error("the store is closed"));
    if (write.hardState !== null) this.knownCommit = Math.max(this.knownCommit, write.hardState.commit);
    if (write.snapshot !== null) return this.install(write, done);
    this.track(write);
    const lazy = !write.sync && write.entries.length === 0;
    this.queue.push({ kind: "write", write, dones: lazy ? [] : [done] });
    this.pump();
    if (lazy) done(null);
  }

  /** Records a snapshot this node took: its chunks, then its metadata, then drops the log below `firstKept`. */
  saveSnapshot(snapshot: Snapshot, firstKept: number, done: WriteDone): void {
    if (this.fatal !== null || this.closed) return done(this.fatal ?? new Error("the store is closed"));
    const generation = this.stage(snapshot.data);
    this.step("snapshot metadata", done, async (client) => {
      this.writing.delete(generation);
      // An installed snapshot written meanwhile is newer: this one only lost a race.
      if (snapshot.index <= this.storedSnapshotIndex) return;
      await client.query(SNAPSHOT_META, metaValues(snapshot, generation, this.rebuild.active));
      this.generation = generation;
      this.storedSnapshotIndex = snapshot.index;
    });
    this.dropOldChunks();
    this.deleteBelow(firstKept);
  }

  async readLog(from: number, to: number, limit: number): Promise<CommittedRecord[]> {
    const result = await this.reader.query<{
      index: number;
      term: number;
      entry_type: string;
      data_text: string;
      ts: number;
      committed: boolean;
    }>(
      `SELECT index, term, entry_type, data_text, round(extract(epoch FROM "timestamp") * 1000)::float8 AS ts, committed
         FROM consensus_log WHERE index >= $1 AND index <= $2 ORDER BY index LIMIT $3`,
      [from, to, limit],
    );
    return result.rows.map((r) => ({
      index: r.index,
      term: r.term,
      entryType: r.entry_type,
      dataText: r.data_text,
      timestamp: r.ts === 0 ? null : r.ts,
      committed: r.committed || r.index <= this.knownCommit,
    }));
  }

  async firstIndex(): Promise<number | null> {
    const result = await this.reader.query<{ first: number | null }>(
      "SELECT min(index) AS first FROM consensus_log",
    );
    return result.rows[0]?.first ?? null;
  }

  /** Queues rows of a projection rebuild, skipping rows deleted since it began. */
  writeProjectionRows(rows: readonly { readonly table: string; readonly row: Row }[]): void {
    if (rows.length === 0) return;
    assert(this.rebuild.active, "projection rows written outside a rebuild");
    const byTable = new Map<string, Row[]>();
    for (const { table, row } of rows) {
      const shape = this.shape(table);
      if (this.rebuild.skips(shape.spec, row)) continue;
      let list = byTable.get(table);
      if (list === undefined) byTable.set(table, (list = []));
      list.push(row);
    }
    const statements = [...byTable].map(([table, list]) =>
      this.upsertSql(this.shape(table), list, "nothing", new Map()),
    );
    this.step("projection rows", null, async (client) => {
      for (const statement of statements) await client.query(statement.text, statement.values);
    });
  }

  finishProjectionRebuild(): void {
    this.rebuild.finish();
    this.step("projection rebuilt", null, async (client) => {
      await client.query("UPDATE raft_snapshot SET projection_stale = FALSE WHERE id = 1");
    });
  }

  /**
   * Stops taking writes, lets the queue finish (for as long as the server answers), then closes
   * the connections. A write still waiting for a lost server is failed.
   */
  async close(): Promise<void> {
    if (this.closed) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      while (this.pumping) await sleep(5);
      this.failQueued(new Error("the store was closed"));
      this.dropWriter();
      await this.reader.end().catch(() => undefined);
    })();
    return this.closing;
  }

  private closing: Promise<void> = Promise.resolve();

  // --- the queue -----------------------------------------------------------------------------

  private step(label: string, done: WriteDone | null, run: (client: pg.Client) => Promise<void>): void {
    this.queue.push({ kind: "step", label, run, done });
    this.pump();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    void this.drain().finally(() => {
      this.pumping = false;
      // Something queued while the last step settled.
      if (this.queue.length > 0 && this.fatal === null && !this.closed) this.pump();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && this.fatal === null) {
      const item = this.take();
      const dones = item.kind === "write" ? item.dones : item.done === null ? [] : [item.done];
      const run = item.kind === "write" ? this.writeRunner(item.write) : item.run;
      const error = await this.execute(run, item.kind === "write" ? "write" : item.label);
      if (error !== null) {
        for (const done of dones) done(error);
        if (this.fatal !== null || this.closed) this.failQueued(this.fatal ?? error);
        return;
      }
      for (const done of dones) done(null);
    }
  }

  /** The next item; consecutive writes are merged into one. */
  private take(): Item {
    const first = this.queue.shift()!;
    if (first.kind !== "write") return first;
    let write = first.write;
    const dones = [...first.dones];
    let merged = 1;
    while (merged < MERGE_LIMIT && this.queue[0]?.kind === "write") {
      const next = this.queue.shift() as Extract<Item, { kind: "write" }>;
      write = mergeWrites(write, next.write);
      dones.push(...next.dones);
      merged++;
    }
    return { kind: "write", write, dones };
  }

  /** Runs `run` until it succeeds, retrying lost connections with backoff; null, or the error that ended it. */
  private async execute(run: (client: pg.Client) => Promise<void>, label: string): Promise<Error | null> {
    for (let attempt = 0; ; attempt++) {
      if (this.closed && this.writer === null && attempt > 0)
        return new Error("the store was closed while PostgreSQL was unreachable");
      try {
        const client = await this.client();
        const started = performance.now();
        await run(client);
        this.timed(performance.now() - started);
        if (this.outage !== null) {
          this.log.info(
            { ms: Date.now() - this.outage.since, attempts: this.outage.attempts },
            "PostgreSQL reachable again; writes resumed",
          );
          this.outage = null;
        }
        this.up = true;
        return null;
      } catch (caught) {
        const error = caught instanceof Error ? caught : new Error(String(caught));
        if (!isConnectionError(error)) {
          this.fatal = describe(error, `PostgreSQL ${label}`);
          this.up = false;
          this.log.error(
            { err: error.message, code: (error as { code?: string }).code },
            "PostgreSQL write failed",
          );
          return this.fatal;
        }
        this.dropWriter();
        this.up = false;
        if (this.closed) return new Error("the store was closed while PostgreSQL was unreachable");
        if (this.outage === null) {
          this.outage = { since: Date.now(), attempts: 0 };
          this.log.warn({ err: error.message }, "lost PostgreSQL; holding writes and reconnecting");
        }
        this.outage.attempts++;
        await sleep(backoffDelayMs(attempt, this.backoff, Math.random));
      }
    }
  }

  private failQueued(error: Error): void {
    for (const item of this.queue.splice(0)) {
      if (item.kind === "write") for (const done of item.dones) done(error);
      else item.done?.(error);
    }
  }

  /** The writer's connection, connecting if there is none. */
  private client(): Promise<pg.Client> {
    if (this.writer !== null) return Promise.resolve(this.writer);
    this.connecting ??= (async () => {
      const client = new pg.Client(this.config);
      // A connection that drops while idle: forget it, the next write connects again.
      client.on("error", () => {
        if (this.writer === client) this.writer = null;
        this.up = false;
      });
      try {
        await client.connect();
      } catch (error) {
        void client.end().catch(() => undefined);
        throw error;
      }
      this.prepared.clear();
      this.writer = client;
      return client;
    })().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private dropWriter(): void {
    const client = this.writer;
    this.writer = null;
    if (client !== null) void client.end().catch(() => undefined);
  }

  private timed(ms: number): void {
    this.timings.lastWriteMs = ms;
    if (ms > this.slowWriteMs) {
      this.timings.slowWrites++;
      this.log.warn({ ms: Math.round(ms) }, "slow write (PostgreSQL commit)");
    }
  }

  // --- statements ----------------------------------------------------------------------------

  /** Keeps the rebuild's record of deleted rows (in queue order, as the statements will run). */
  private track(write: ReadyWrite): void {
    if (!this.rebuild.active || write.applied === null) return;
    for (const change of write.applied.changes) {
      if (change.op === "delete") this.rebuild.onDelete(this.shape(change.table).spec, change.key);
    }
  }

  /** The statement of a write without a snapshot, built when it runs (after the writes before it). */
  private writeRunner(write: ReadyWrite): (client: pg.Client) => Promise<void> {
    const statement = this.writeSql(write);
    return async (client) => {
      if (statement === null) return;
      await client.query(this.named(statement));
    };
  }

  private writeSql(write: ReadyWrite): Statement | null {
    const parts: string[] = [];
    const values: unknown[] = [];
    const p = (value: unknown): string => {
      values.push(value);
      return `$${values.length}`;
    };
    const first = write.entries[0];
    const last = write.entries.at(-1);
    const commit = Math.max(write.hardState?.commit ?? 0, this.committedThrough);
    if (first !== undefined && last !== undefined) {
      const columns = entryColumns(this.registry, write.entries);
      parts.push(
        `e AS (INSERT INTO consensus_log (index, term, entry_type, data, "timestamp", committed, data_text)
           SELECT x.i, x.t, x.et, COALESCE(x.fx, x.dt)::jsonb, to_timestamp(x.ts / 1000.0), x.i <= ${p(commit)}, x.dt
             FROM unnest(${p(columns.index)}::bigint[], ${p(columns.term)}::bigint[], ${p(columns.type)}::text[],
                         ${p(columns.text)}::text[], ${p(columns.fixed)}::text[], ${p(columns.ts)}::float8[])
                  AS x(i, t, et, dt, fx, ts)
           ON CONFLICT (index) DO UPDATE SET term = EXCLUDED.term, entry_type = EXCLUDED.entry_type,
             data = EXCLUDED.data, "timestamp" = EXCLUDED."timestamp", committed = EXCLUDED.committed,
             data_text = EXCLUDED.data_text)`,
      );
      // Only a suffix being replaced has rows past the new last entry. Asked on every write, the
      // DELETE ran on a plan cached while the table was empty, a scan of the whole table (and
      // of its dead rows) that grew with the log: PostgreSQL's time per write tripled within
      // one run of bench:tasks.
      if (last.index < this.lastIndex)
        parts.push(
          `s AS (DELETE FROM consensus_log WHERE index > ${p(last.index)} AND index <= ${p(this.lastIndex)})`,
        );
      this.lastIndex = last.index;
    }
    if (write.hardState !== null && write.hardState.commit > this.committedThrough) {
      // Rows this statement writes carry their own flag; two parts of one statement never touch one row.
      const below = first === undefined ? "" : ` AND index < ${p(first.index)}`;
      parts.push(
        `c AS (UPDATE consensus_log SET committed = TRUE WHERE index > ${p(this.committedThrough)} AND index <= ${p(write.hardState.commit)}${below})`,
      );
      this.committedThrough = write.hardState.commit;
    }
    if (write.hardState !== null || write.applied !== null) {
      const hs = write.hardState;
      const sets: string[] = [];
      if (hs !== null)
        sets.push("term = EXCLUDED.term", "vote = EXCLUDED.vote", "commit_index = EXCLUDED.commit_index");
      if (write.applied !== null) sets.push("applied_index = EXCLUDED.applied_index");
      parts.push(
        `r AS (INSERT INTO raft_state (id, term, vote, commit_index, applied_index)
           VALUES (1, ${p(hs?.term ?? 0)}::bigint, ${p(hs?.vote ?? null)}::text, ${p(hs?.commit ?? 0)}::bigint, ${p(write.applied?.index ?? 0)}::bigint)
           ON CONFLICT (id) DO UPDATE SET ${sets.join(", ")})`,
      );
    }
    if (write.applied !== null && write.applied.changes.length > 0) {
      const collapsed = collapse(write.applied.changes, (table) => this.shape(table).spec);
      const upserted = new Map<string, Set<unknown>>();
      const deleted = new Map<string, Set<unknown>>();
      for (const [table, changes] of collapsed) {
        const spec = this.shape(table).spec;
        if (spec.key.length !== 1) continue;
        const key = spec.key[0]!;
        for (const change of changes.values()) {
          const into = change.op === "upsert" ? upserted : deleted;
          let set = into.get(table);
          if (set === undefined) into.set(table, (set = new Set()));
          set.add(change.op === "upsert" ? change.row[key] : change.key[key]);
        }
      }
      let n = 0;
      for (const [table, changes] of collapsed) {
        const shape = this.shape(table);
        const upserts: Row[] = [];
        const deletes: Row[] = [];
        for (const change of changes.values()) {
          if (change.op === "upsert") upserts.push(forgetDeletedReferences(shape, change.row, deleted));
          else deletes.push(change.key);
        }
        if (upserts.length > 0) {
          const sql = this.upsertSql(shape, upserts, "update", upserted, values.length);
          values.push(...sql.values);
          parts.push(`u${n} AS (${sql.text})`);
        }
        if (deletes.length > 0) {
          const keys = shape.spec.key.map(quoteIdent);
          const rows = `[${deletes.map((row) => encodeRow(shape, row, shape.spec.key)).join(",")}]`;
          parts.push(
            `d${n} AS (DELETE FROM ${quoteIdent(table)} WHERE (${keys.join(", ")}) IN (SELECT ${keys.map((k) => `r.${k}`).join(", ")} FROM jsonb_populate_recordset(NULL::${quoteIdent(table)}, ${p(rows)}::jsonb) r))`,
          );
        }
        n++;
      }
    }
    if (parts.length === 0) return null;
    return { text: `WITH ${parts.join(",\n")}\nSELECT 1`, values };
  }

  /**
   * An INSERT of `rows` into the shape's table: on a conflict, update (a change) or do nothing (a
   * rebuild, which never overwrites a row written since it began). A column that points at
   * another table keeps its value only when that row exists or is written by the same statement
   * (`upserted`), so a projected row never breaks a foreign key.
   */
  private upsertSql(
    shape: TableShape,
    rows: readonly Row[],
    conflict: "update" | "nothing",
    upserted: ReadonlyMap<string, ReadonlySet<unknown>>,
    offset = 0,
  ): Statement {
    const values: unknown[] = [];
    const p = (value: unknown): string => {
      values.push(value);
      return `$${offset + values.length}`;
    };
    const spec = shape.spec;
    const table = quoteIdent(spec.name);
    const select = spec.columns.map((column) => {
      const name = quoteIdent(column);
      const key = shape.foreignKeys.find((fk) => fk.column === column);
      if (key === undefined) return `r.${name}`;
      const ours = [...(upserted.get(key.table) ?? [])];
      // A scalar subquery, not EXISTS: PostgreSQL may run an EXISTS as a hash of the whole other
      // table, built on every statement (it guesses 100 rows for the recordset). With 10,000
      // agents an upsert of 1, 10 or 100 task rows took 1.8, 2.0 and 3.4 ms that way, and 0.6,
      // 0.7 and 2.2 ms by the key's index (round trip included).
      const ref = quoteIdent(key.refColumn);
      const found = `(SELECT x.${ref} FROM ${quoteIdent(key.table)} x WHERE x.${ref} = r.${name})`;
      return ours.length === 0
        ? found
        : `COALESCE(${found}, CASE WHEN r.${name} = ANY(${p(ours)}::uuid[]) THEN r.${name} END)`;
    });
    const json = `[${rows.map((row) => encodeRow(shape, row)).join(",")}]`;
    const updates = spec.columns.filter((column) => !spec.key.includes(column));
    const onConflict =
      conflict === "nothing" || updates.length === 0
        ? "DO NOTHING"
        : `DO UPDATE SET ${updates.map((column) => `${quoteIdent(column)} = EXCLUDED.${quoteIdent(column)}`).join(", ")}`;
    const text = `INSERT INTO ${table} (${spec.columns.map(quoteIdent).join(", ")})
      SELECT ${select.join(", ")} FROM jsonb_populate_recordset(NULL::${table}, ${p(json)}::jsonb) r
      ON CONFLICT (${spec.key.map(quoteIdent).join(", ")}) ${onConflict}`;
    return { text, values };
  }

  /** A query config that reuses a prepared statement for a text seen before on this connection. */
  private named(statement: Statement): pg.QueryConfig {
    let name = this.prepared.get(statement.text);
    if (name === undefined && this.prepared.size < PREPARED_LIMIT) {
      name = `juno_w${this.prepared.size}`;
      this.prepared.set(statement.text, name);
    }
    return name === undefined
      ? { text: statement.text, values: statement.values }
      : { name, text: statement.text, values: statement.values };
  }

  // --- snapshots -----------------------------------------------------------------------------

  /** Installs a leader's snapshot: its chunks, then one transaction replacing the log and the tables. */
  private install(write: ReadyWrite, done: WriteDone): void {
    const snapshot = write.snapshot!;
    const generation = this.stage(snapshot.data);
    // From here the tables are rebuilt from the state; deletions made meanwhile are remembered.
    this.rebuild.start();
    const rest: ReadyWrite = { ...write, snapshot: null };
    this.step("snapshot install", done, async (client) => {
      this.writing.delete(generation);
      this.committedThrough = Math.max(this.committedThrough, snapshot.index);
      this.lastIndex = snapshot.index;
      const statement = this.writeSql(rest);
      await transaction(client, async () => {
        await client.query(SNAPSHOT_META, metaValues(snapshot, generation, true));
        await client.query("DELETE FROM consensus_log");
        await client.query(this.truncateAll());
        await client.query(
          `INSERT INTO raft_state (id, term, vote, commit_index, applied_index) VALUES (1, 0, NULL, 0, $1)
           ON CONFLICT (id) DO UPDATE SET applied_index = EXCLUDED.applied_index`,
          [snapshot.index],
        );
        if (statement !== null) await client.query(statement.text, statement.values);
      });
      this.generation = generation;
      this.storedSnapshotIndex = snapshot.index;
    });
    this.dropOldChunks();
  }

  /** Queues `data` as a new generation's chunks, one per round trip; returns the generation. */
  private stage(data: Uint8Array): number {
    const generation = this.nextGeneration++;
    this.writing.add(generation);
    let seq = 0;
    for (let offset = 0; offset < data.length || seq === 0; offset += this.chunkBytes) {
      const end = Math.min(data.length, offset + this.chunkBytes);
      const chunk = Buffer.from(data.buffer, data.byteOffset + offset, end - offset);
      const at = seq++;
      this.step("snapshot chunk", null, async (client) => {
        await client.query(
          `INSERT INTO raft_snapshot_chunks (generation, seq, data) VALUES ($1, $2, $3)
           ON CONFLICT (generation, seq) DO UPDATE SET data = EXCLUDED.data`,
          [generation, at, chunk],
        );
      });
      if (end >= data.length) break;
    }
    return generation;
  }

  /** Drops the chunks of replaced snapshots. */
  private dropOldChunks(): void {
    this.step("old snapshot chunks", null, async (client) => {
      await client.query("DELETE FROM raft_snapshot_chunks WHERE generation <> ALL($1::bigint[])", [
        [this.generation, ...this.writing],
      ]);
    });
  }

  /** Deletes log rows below `firstKept`, a batch per round trip. */
  private deleteBelow(firstKept: number): void {
    this.step("compacted log rows", null, async (client) => {
      const result = await client.query(
        "DELETE FROM consensus_log WHERE index IN (SELECT index FROM consensus_log WHERE index < $1 ORDER BY index LIMIT $2)",
        [firstKept, DELETE_ROWS_PER_STEP],
      );
      if ((result.rowCount ?? 0) >= DELETE_ROWS_PER_STEP) this.deleteBelow(firstKept);
    });
  }

  private truncateAll(): string {
    return `TRUNCATE ${[...this.shapes.keys()].map(quoteIdent).join(", ")}`;
  }

  // --- loading -------------------------------------------------------------------------------

  private async loadFrom(client: pg.Client): Promise<StoredNode> {
    const state = (
      await client.query<{ term: number; vote: string | null; commit_index: number; applied_index: number }>(
        "SELECT term, vote, commit_index, applied_index FROM raft_state WHERE id = 1",
      )
    ).rows[0];
    const meta = (
      await client.query<{
        index: number;
        term: number;
        membership: Membership;
        generation: number;
        projection_stale: boolean;
      }>('SELECT "index", term, membership, generation, projection_stale FROM raft_snapshot WHERE id = 1')
    ).rows[0];
    let snapshot: Snapshot | null = null;
    if (meta !== undefined) {
      const chunks = await client.query<{ data: Buffer }>(
        "SELECT data FROM raft_snapshot_chunks WHERE generation = $1 ORDER BY seq",
        [meta.generation],
      );
      assert(chunks.rows.length > 0, "the stored snapshot has no data");
      snapshot = {
        index: meta.index,
        term: meta.term,
        membership: meta.membership,
        data: new Uint8Array(Buffer.concat(chunks.rows.map((row) => row.data))),
      };
      this.generation = meta.generation;
      this.storedSnapshotIndex = meta.index;
    }
    const maxGeneration = (
      await client.query<{ max: number | null }>("SELECT max(generation) AS max FROM raft_snapshot_chunks")
    ).rows[0]?.max;
    this.nextGeneration = Math.max(this.generation, maxGeneration ?? 0) + 1;
    const after = snapshot?.index ?? 0;
    const rows = await client.query<{ index: number; term: number; entry_type: string; data_text: string }>(
      "SELECT index, term, entry_type, data_text FROM consensus_log WHERE index > $1 ORDER BY index",
      [after],
    );
    const entries: Entry[] = rows.rows.map((r) =>
      entryOf({
        index: r.index,
        term: r.term,
        entryType: r.entry_type,
        dataText: r.data_text,
        timestamp: null,
      }),
    );
    for (let i = 0; i < entries.length; i++)
      assert(entries[i]!.index === after + 1 + i, "the stored log has a gap");
    this.lastIndex = entries.at(-1)?.index ?? after;
    this.committedThrough = state?.commit_index ?? 0;
    this.knownCommit = this.committedThrough;
    const projectionStale = meta?.projection_stale === true;
    if (projectionStale) {
      // A rebuild that was cut short starts over from empty tables; the node rebuilds them.
      await client.query(this.truncateAll());
      this.rebuild.start();
    }
    return {
      hardState:
        state === undefined
          ? { term: 0, vote: null, commit: 0 }
          : { term: state.term, vote: state.vote, commit: state.commit_index },
      snapshot,
      entries,
      appliedIndex: Math.max(state?.applied_index ?? 0, after),
      fresh: state === undefined && snapshot === null && entries.length === 0,
      projectionStale,
    };
  }

  private shape(table: string): TableShape {
    const shape = this.shapes.get(table);
    assert(shape !== undefined, () => `no projected table ${table}`);
    return shape;
  }
}

interface Statement {
  readonly text: string;
  readonly values: unknown[];
}

const SNAPSHOT_META = `INSERT INTO raft_snapshot (id, "index", term, membership, generation, projection_stale)
  VALUES (1, $1, $2, $3::jsonb, $4, $5)
  ON CONFLICT (id) DO UPDATE SET "index" = EXCLUDED."index", term = EXCLUDED.term, membership = EXCLUDED.membership,
    generation = EXCLUDED.generation, projection_stale = EXCLUDED.projection_stale`;

function metaValues(snapshot: Snapshot, generation: number, stale: boolean): unknown[] {
  return [snapshot.index, snapshot.term, JSON.stringify(snapshot.membership), generation, stale];
}

/** The columns of consensus_log rows for a run of entries, as arrays for unnest. */
function entryColumns(registry: ModuleRegistry, entries: readonly Entry[]) {
  const columns = {
    index: [] as number[],
    term: [] as number[],
    type: [] as string[],
    text: [] as string[],
    fixed: [] as (string | null)[],
    ts: [] as number[],
  };
  for (const entry of entries) {
    const record = recordOf(registry, entry);
    const storable = withoutNul(record.dataText);
    columns.index.push(record.index);
    columns.term.push(record.term);
    columns.type.push(record.entryType.replaceAll("\u0000", "\ufffd"));
    columns.text.push(record.dataText);
    columns.fixed.push(storable === record.dataText ? null : storable);
    columns.ts.push(record.timestamp ?? 0);
  }
  return columns;
}

/** The last change to each row, per table, in the order the tables first appear. */
function collapse(
  changes: readonly RowChange[],
  specOf: (table: string) => TableSpec,
): Map<string, Map<string, RowChange>> {
  const out = new Map<string, Map<string, RowChange>>();
  for (const change of changes) {
    let rows = out.get(change.table);
    if (rows === undefined) out.set(change.table, (rows = new Map<string, RowChange>()));
    const key = keyText(specOf(change.table), change.op === "upsert" ? change.row : change.key);
    // Re-inserting moves the key to the end, so rows keep the order of their last change.
    rows.delete(key);
    rows.set(key, change);
  }
  return out;
}

/** The row with NULL in each column that points at a row this same write deletes. */
function forgetDeletedReferences(
  shape: TableShape,
  row: Row,
  deleted: ReadonlyMap<string, ReadonlySet<unknown>>,
): Row {
  let out = row;
  for (const key of shape.foreignKeys) {
    if (deleted.get(key.table)?.has(row[key.column]) === true) out = { ...out, [key.column]: null };
  }
  return out;
}

/** Two queued writes (neither with a snapshot) as one: later entries replace earlier ones from their first index. */
export function mergeWrites(a: ReadyWrite, b: ReadyWrite): ReadyWrite {
  const first = b.entries[0];
  const entries =
    first === undefined ? a.entries : [...a.entries.filter((e) => e.index < first.index), ...b.entries];
  const applied =
    a.applied === null
      ? b.applied
      : b.applied === null
        ? a.applied
        : {
            index: Math.max(a.applied.index, b.applied.index),
            changes: [...a.applied.changes, ...b.applied.changes],
          };
  return {
    snapshot: null,
    entries,
    hardState: b.hardState ?? a.hardState,
    applied,
    sync: a.sync || b.sync,
  };
}

async function transaction(client: pg.Client, body: () => Promise<void>): Promise<void> {
  await client.query("BEGIN");
  try {
    await body();
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

/** PostgreSQL's error classes that mean the server went away or is not taking work yet. */
const CONNECTION_CODES = new Set([
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, or in recovery)
  "53300", // too_many_connections
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "ENOTFOUND",
]);
const CONNECTION_MESSAGES = [
  "Connection terminated",
  "connection error",
  "not queryable",
  "Query read timeout",
  "timeout expired",
  "Client was closed",
];

/** Whether `error` means the connection is gone (retry on a new one) rather than a refusal of the statement. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && (CONNECTION_CODES.has(code) || code.startsWith("08"))) return true;
  if (error instanceof AggregateError) return error.errors.some(isConnectionError);
  return CONNECTION_MESSAGES.some((text) => error.message.includes(text));
}

function describe(error: unknown, what: string): Error {
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`${what}: ${message}`, { cause: error });
}

/**
 * The URL with the schema as the connection's search_path, added to any `options` it already has
 * (the driver lets the URL's settings win over its own config, so the URL is where it must go).
 */
function withSearchPath(text: string, schema: string): string {
  const url = new URL(text);
  const options = url.searchParams.get("options");
  url.searchParams.set("options", `${options === null ? "" : `${options} `}-c search_path=${schema}`);
  return url.toString();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** BIGINT (int8) and NUMERIC as numbers: log indexes and terms stay far below 2^53. */
function typeParser(oid: number, format?: string): (value: string) => unknown {
  if (oid === 20 || oid === 1700) return (value) => Number(value);
  return pg.types.getTypeParser(oid, format as "text") as (value: string) => unknown;
}
