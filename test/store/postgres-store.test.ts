// Proves what only the PostgreSQL store does (the rest is the storage contract, contract.ts): the
// seed's four tables with the seed's types and foreign keys, juno's columns beside them and the
// schema's version; several nodes on one server, each in its own schema; a server that goes away
// under write load (crashed and restarted) holds the writes back and resumes with nothing lost
// or applied twice; a statement the server refuses stops the store for good.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeEnvelope } from "../../src/control/index.js";
import type { Entry } from "../../src/raft/index.js";
import { PostgresStore, postgresTarget } from "../../src/store/index.js";
import { POSTGRES_MIGRATIONS } from "../../src/store/postgres/schema.js";
import {
  freshSchema,
  query,
  sharedPostgresUrl,
  startPostgres,
  type PostgresServer,
} from "../support/postgres.js";
import { until } from "../support/local-node.js";
import { bootstrap, command, decisionRow, persist, registry } from "./contract.js";

const url = sharedPostgresUrl();

describe("PostgreSQL store", () => {
  it("creates the seed's tables with the seed's types and keys, juno's columns beside them", async () => {
    const schema = freshSchema("ddl");
    await (await PostgresStore.open(url, registry, { schema })).close();
    // Opening again runs every module's DDL again, harmlessly.
    await (await PostgresStore.open(url, registry, { schema })).close();
    const columns = await query<{
      table_name: string;
      column_name: string;
      data_type: string;
      character_maximum_length: number | null;
    }>(
      url,
      `SELECT table_name, column_name, data_type, character_maximum_length FROM information_schema.columns
        WHERE table_schema = $1 ORDER BY table_name, ordinal_position`,
      [schema],
    );
    const type = (table: string, column: string): string => {
      const row = columns.find((c) => c.table_name === table && c.column_name === column);
      if (row === undefined) return "missing";
      return row.character_maximum_length === null
        ? row.data_type
        : `${row.data_type}(${row.character_maximum_length})`;
    };
    expect(
      columns.filter((c) => c.table_name === "agents").map((c) => c.column_name),
      "the seed's columns first, in the seed's order",
    ).toEqual([
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
    ]);
    expect(type("agents", "id")).toBe("uuid");
    expect(type("agents", "name")).toBe("character varying(100)");
    expect(type("agents", "endpoint")).toBe("character varying(255)");
    expect(type("agents", "capabilities")).toBe("jsonb");
    expect(type("agents", "last_heartbeat")).toBe("timestamp with time zone");
    expect(type("consensus_log", "index")).toBe("bigint");
    expect(type("consensus_log", "data")).toBe("jsonb");
    expect(type("consensus_log", "entry_type")).toBe("character varying(50)");
    expect(type("consensus_log", "committed")).toBe("boolean");
    expect(type("consensus_log", "data_text")).toBe("text");
    expect(type("cross_team_workflows", "teams")).toBe("ARRAY");
    expect(type("cross_team_workflows", "name")).toBe("character varying(200)");
    expect(type("distributed_tasks", "task_type")).toBe("character varying(50)");
    expect(type("distributed_tasks", "assigned_at")).toBe("timestamp with time zone");
    const keys = await query<{ name: string; definition: string }>(
      url,
      `SELECT c.conname AS name, pg_get_constraintdef(c.oid) AS definition FROM pg_constraint c
         JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = $1 AND c.contype = 'f' ORDER BY c.conname`,
      [schema],
    );
    expect(keys.map((k) => k.definition.replace(`${schema}.`, ""))).toEqual([
      "FOREIGN KEY (assigned_agent) REFERENCES agents(id) ON DELETE SET NULL",
      "FOREIGN KEY (workflow_id) REFERENCES cross_team_workflows(id) ON DELETE SET NULL",
    ]);
    const [version] = await query<{ version: number }>(url, `SELECT version FROM "${schema}".juno_schema`);
    expect(version?.version).toBe(POSTGRES_MIGRATIONS.length);
  });

  it("keeps each node in its own schema on a shared server", async () => {
    expect(postgresTarget("postgres://u:p@db:5432/juno", "Node-1")).toEqual({
      url: "postgres://u:p@db:5432/juno",
      schema: "juno_node_1",
    });
    expect(postgresTarget("postgres://u:p@db:5432/juno?schema=prod_a&sslmode=require", "n1")).toEqual({
      url: "postgres://u:p@db:5432/juno?sslmode=require",
      schema: "prod_a",
    });
    expect(() => postgresTarget("postgres://db/juno?schema=Bad-Name", "n1")).toThrow(/lower-case/);
    const [a, b] = [freshSchema("share"), freshSchema("share")];
    const first = await PostgresStore.open(url, registry, { schema: a });
    const second = await PostgresStore.open(url, registry, { schema: b });
    await persist(first, {
      entries: [bootstrap, command(2, 1, "in a")],
      hardState: { term: 1, vote: null, commit: 2 },
    });
    await persist(second, { entries: [bootstrap], hardState: { term: 3, vote: "b", commit: 1 } });
    await Promise.all([first.close(), second.close()]);
    const [again, other] = await Promise.all([
      PostgresStore.open(url, registry, { schema: a }),
      PostgresStore.open(url, registry, { schema: b }),
    ]);
    expect(again.load().entries).toEqual([bootstrap, command(2, 1, "in a")]);
    expect(other.load().hardState).toEqual({ term: 3, vote: "b", commit: 1 });
    expect(other.load().entries).toEqual([bootstrap]);
    await Promise.all([again.close(), other.close()]);
  });

  it("a statement the server refuses stops the store: the write and every later one fail", async () => {
    const store = await PostgresStore.open(url, registry, { schema: freshSchema("refuse") });
    await persist(store, { entries: [bootstrap], hardState: { term: 1, vote: null, commit: 1 } });
    const tooLong = { ...decisionRow, entry_type: "x".repeat(60) };
    await expect(
      persist(store, {
        applied: { index: 1, changes: [{ table: "decisions", op: "upsert", row: tooLong }] },
      }),
    ).rejects.toThrow(/too long/);
    expect(store.available()).toBe(false);
    await expect(persist(store, { hardState: { term: 2, vote: null, commit: 1 } })).rejects.toThrow(
      /too long/,
    );
    await store.close();
  });

  describe("when the server goes away under write load", () => {
    let server: PostgresServer;
    beforeAll(async () => {
      server = await startPostgres();
    });
    afterAll(async () => {
      await server.destroy();
    });

    it("holds the writes, reconnects, and resumes with nothing lost or applied twice", async () => {
      const schema = freshSchema("outage");
      const store = await PostgresStore.open(server.url, registry, {
        schema,
        reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
      });
      let acknowledged = 0;
      let index = 0;
      let stop = false;
      // The load: one synced Ready at a time, as the node writes, each upserting one row.
      const load = (async () => {
        while (!stop) {
          const next = index + 1;
          const entry: Entry = {
            index: next,
            term: 1,
            type: "normal",
            data: encodeEnvelope("decisions.propose", next, null, { entry_type: "outage", data: { next } }),
          };
          index = next;
          await persist(store, {
            entries: [entry],
            hardState: { term: 1, vote: null, commit: next },
            applied: {
              index: next,
              changes: [
                {
                  table: "decisions",
                  op: "upsert",
                  row: { ...decisionRow, proposal_index: 1, quorum: next },
                },
              ],
            },
          });
          acknowledged = next;
        }
      })();
      await until(() => acknowledged >= 30);
      await server.stop("immediate");
      // Writes are held: nothing is acknowledged while the server is down.
      await until(() => !store.available());
      const held = acknowledged;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(acknowledged).toBeLessThanOrEqual(held + 1);
      await server.start();
      await until(() => acknowledged >= held + 30);
      expect(store.available()).toBe(true);
      stop = true;
      await load;
      await store.close();

      const reopened = await PostgresStore.open(server.url, registry, { schema });
      const loaded = reopened.load();
      await reopened.close();
      expect(loaded.entries.map((e) => e.index)).toEqual(
        Array.from({ length: acknowledged }, (_, i) => i + 1),
      );
      expect(loaded.appliedIndex).toBe(acknowledged);
      const rows = await query<{ quorum: number }>(server.url, `SELECT quorum FROM "${schema}".decisions`);
      expect(rows).toEqual([{ quorum: acknowledged }]);
    });
  });
});
