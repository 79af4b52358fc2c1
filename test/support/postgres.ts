/**
 * A real PostgreSQL server for the tests, started through scripts/postgres.sh (which installs
 * Debian's postgresql when it is missing) in a temporary directory on a free port. The suite's
 * global setup starts one and hands its URL to every test file (JUNO_TEST_POSTGRES_URL); a test
 * that restarts or crashes the server starts its own.
 */

import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "../../src/cli/dev.js";
import { ROOT } from "./compiled.js";

const run = promisify(execFile);
const SCRIPT = join(ROOT, "scripts", "postgres.sh");

/** Where the suite's shared server is. */
export const POSTGRES_URL_ENV = "JUNO_TEST_POSTGRES_URL";

/** A PostgreSQL server this process started. */
export interface PostgresServer {
  readonly url: string;
  readonly port: number;
  /** Starts it again (same data, same port) after stop(). */
  start(): Promise<void>;
  /** Stops it: "fast" (clean) or "immediate" (as a crash: no checkpoint, recovery on start). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Stops it and removes its files. */
  destroy(): Promise<void>;
}

/** Starts a throw-away server. */
export async function startPostgres(): Promise<PostgresServer> {
  const parent = mkdtempSync(join(tmpdir(), "juno-pg-"));
  // The server runs as the postgres user, which must reach its directory.
  chmodSync(parent, 0o755);
  const dir = join(parent, "data");
  const port = await freePort();
  const start = async (): Promise<void> => {
    await run("sh", [SCRIPT, "start", dir, String(port)], { timeout: 300_000 });
  };
  const stop = async (mode: "fast" | "immediate" = "fast"): Promise<void> => {
    await run("sh", [SCRIPT, "stop", dir, mode], { timeout: 120_000 });
  };
  await start();
  return {
    url: `postgres://juno@127.0.0.1:${port}/juno`,
    port,
    start,
    stop,
    async destroy() {
      await stop("immediate").catch(() => undefined);
      rmSync(parent, { recursive: true, force: true });
    },
  };
}

/** The shared server's URL (started by the global setup). */
export function sharedPostgresUrl(): string {
  const url = process.env[POSTGRES_URL_ENV];
  if (url === undefined)
    throw new Error(`${POSTGRES_URL_ENV} is not set: the global setup starts the server`);
  return url;
}

let schemaCounter = 0;

/** A schema name no other test uses. */
export function freshSchema(prefix = "t"): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${schemaCounter++}`;
}

/** Runs one query against `url` on a connection of its own. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, types: { getTypeParser: numbersAsNumbers } });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** BIGINT as a number (the tests' values are small), everything else as pg parses it. */
function numbersAsNumbers(oid: number, format?: string): (value: string) => unknown {
  if (oid === 20) return (value) => Number(value);
  return pg.types.getTypeParser(oid, format as "text") as (value: string) => unknown;
}

/** A row read back from PostgreSQL in the shape the modules wrote it: times in ms, JSON and arrays as text. */
export function asWritten(row: pg.QueryResultRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    out[column] =
      value instanceof Date
        ? value.getTime()
        : value !== null && typeof value === "object"
          ? JSON.stringify(value)
          : value;
  }
  return out;
}
