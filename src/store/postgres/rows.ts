/**
 * From the modules' rows to PostgreSQL's column types. A module writes one row shape for every
 * store (JSON as text, times as milliseconds since the epoch, lists as JSON text); here each
 * table's columns are read from the catalog once, and each row becomes a JSON object whose
 * values PostgreSQL turns into the column's type with jsonb_populate_recordset: JSON text is
 * embedded as it is (no parse), milliseconds become ISO times, and the rest are JSON values.
 *
 * PostgreSQL refuses two things JSON allows: the character U+0000 in text and in JSONB. Such a
 * character (written as the escape \u0000, the only way JSON text holds it) becomes U+FFFD in
 * the projected tables; the log keeps the entry's exact text in data_text regardless.
 */

import type pg from "pg";
import type { Row, TableSpec } from "../../control/index.js";

/** How a column's values are written. */
type ColumnKind = "json" | "time" | "uuid" | "scalar";

/** A foreign key: this table's column points at `table`'s `column`. */
export interface ForeignKey {
  readonly column: string;
  readonly table: string;
  readonly refColumn: string;
}

/** One projected table as the catalog describes it. */
export interface TableShape {
  readonly spec: TableSpec;
  readonly kinds: ReadonlyMap<string, ColumnKind>;
  readonly foreignKeys: readonly ForeignKey[];
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** A \u0000 escape not itself escaped (preceded by an even number of backslashes). */
const NUL_ESCAPE = /(?<!\\)((?:\\\\)*)\\u0000/g;

/** Replaces the escapes of U+0000 in JSON text, which PostgreSQL cannot store. */
export function withoutNul(json: string): string {
  return json.includes("\\u0000") ? json.replace(NUL_ESCAPE, "$1\\ufffd") : json;
}

/** Reads the columns and foreign keys of `tables` in `schema` from the catalog. */
export async function readShapes(
  client: pg.Client,
  schema: string,
  tables: readonly TableSpec[],
): Promise<Map<string, TableShape>> {
  const columns = await client.query<{ table_name: string; column_name: string; data_type: string }>(
    "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = $1",
    [schema],
  );
  const keys = await client.query<{
    table_name: string;
    column_name: string;
    ref_table: string;
    ref_column: string;
  }>(
    `SELECT src.relname AS table_name, a.attname AS column_name, dst.relname AS ref_table, b.attname AS ref_column
       FROM pg_constraint c
       JOIN pg_class src ON src.oid = c.conrelid
       JOIN pg_class dst ON dst.oid = c.confrelid
       JOIN pg_namespace n ON n.oid = c.connamespace
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
       JOIN pg_attribute b ON b.attrelid = c.confrelid AND b.attnum = c.confkey[1]
      WHERE c.contype = 'f' AND n.nspname = $1 AND cardinality(c.conkey) = 1`,
    [schema],
  );
  const shapes = new Map<string, TableShape>();
  for (const spec of tables) {
    const kinds = new Map<string, ColumnKind>();
    for (const row of columns.rows) {
      if (row.table_name === spec.name) kinds.set(row.column_name, kindOf(row.data_type));
    }
    const missing = spec.columns.filter((column) => !kinds.has(column));
    if (missing.length > 0) {
      throw new Error(
        `table ${spec.name} lacks the columns ${missing.join(", ")}: its postgres DDL is out of date`,
      );
    }
    shapes.set(spec.name, {
      spec,
      kinds,
      foreignKeys: keys.rows
        .filter((row) => row.table_name === spec.name && spec.columns.includes(row.column_name))
        .map((row) => ({ column: row.column_name, table: row.ref_table, refColumn: row.ref_column })),
    });
  }
  return shapes;
}

function kindOf(dataType: string): ColumnKind {
  if (dataType === "jsonb" || dataType === "json" || dataType === "ARRAY") return "json";
  if (dataType === "timestamp with time zone" || dataType === "timestamp without time zone") return "time";
  if (dataType === "uuid") return "uuid";
  return "scalar";
}

/**
 * The row as one JSON object for jsonb_populate_recordset. A value that is not a UUID in a UUID
 * column that points at another table becomes NULL (a task may name a workflow that was never
 * projected); anywhere else it is a bug, and throws.
 */
export function encodeRow(
  shape: TableShape,
  row: Row,
  columns: readonly string[] = shape.spec.columns,
): string {
  let out = "{";
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i]!;
    const value = row[column];
    out += `${i === 0 ? "" : ","}${JSON.stringify(column)}:${encodeValue(shape, column, value ?? null)}`;
  }
  return withoutNul(`${out}}`);
}

function encodeValue(shape: TableShape, column: string, value: unknown): string {
  if (value === null || value === undefined) return "null";
  switch (shape.kinds.get(column)) {
    case "json":
      // The modules hand JSON columns over as JSON text already.
      return typeof value === "string" ? value : JSON.stringify(value);
    case "time":
      if (typeof value !== "number" || !Number.isFinite(value))
        throw new Error(`${shape.spec.name}.${column}: expected milliseconds, got ${JSON.stringify(value)}`);
      return `"${new Date(value).toISOString()}"`;
    case "uuid":
      if (typeof value === "string" && UUID.test(value)) return JSON.stringify(value);
      if (shape.foreignKeys.some((key) => key.column === column)) return "null";
      throw new Error(`${shape.spec.name}.${column}: ${JSON.stringify(value)} is not a UUID`);
    case "scalar":
    case undefined:
      return JSON.stringify(value);
  }
}
