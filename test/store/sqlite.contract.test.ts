// The storage contract (contract.ts) against the SQLite store.

import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import type { Row } from "../../src/control/index.js";
import { SqliteStore } from "../../src/store/index.js";
import { storeContract } from "./contract.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

storeContract("SQLite", {
  fresh: () => {
    const dir = mkdtempSync(join(tmpdir(), "juno-store-"));
    dirs.push(dir);
    return Promise.resolve(join(dir, "node.db"));
  },
  open: (path, registry, options) => Promise.resolve(new SqliteStore(path, registry, options)),
  rows: (path, table, orderBy) => {
    const db = new Database(path, { readonly: true });
    try {
      return Promise.resolve(db.prepare(`SELECT * FROM "${table}" ORDER BY ${orderBy}`).all() as Row[]);
    } finally {
      db.close();
    }
  },
});
