/**
 * What both stores share about their SQL: quoting identifiers, and the one mechanism that keeps a
 * projection rebuild (the tables rewritten from the state after a snapshot replaced it) from
 * resurrecting a row. The rebuild writes rows as of the moment it began, a slice at a time, while
 * later entries go on changing the tables; a row those entries delete must not come back from a
 * later slice. Rows they update cannot be overwritten (the rebuild inserts only where absent).
 */

import type { Row, TableSpec } from "../control/index.js";

/** Quotes an identifier for SQL text (SQLite and PostgreSQL alike). */
export function quoteIdent(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

/** The text of a row's key: equal for two rows with the same key values. */
export function keyText(spec: TableSpec, row: Row): string {
  return JSON.stringify(spec.key.map((column) => row[column] ?? null));
}

/** The keys deleted since a rebuild began, per table; inactive when no rebuild runs. */
export class RebuildTracker {
  private deleted: Map<string, Set<string>> | null = null;

  /** Whether a rebuild runs. */
  get active(): boolean {
    return this.deleted !== null;
  }

  /** A rebuild begins: deletions are remembered from now on. */
  start(): void {
    this.deleted = new Map();
  }

  /** The rebuild is complete. */
  finish(): void {
    this.deleted = null;
  }

  /** A row was deleted (remembered only while a rebuild runs). */
  onDelete(spec: TableSpec, key: Row): void {
    if (this.deleted === null) return;
    let keys = this.deleted.get(spec.name);
    if (keys === undefined) this.deleted.set(spec.name, (keys = new Set()));
    keys.add(keyText(spec, key));
  }

  /** Whether a rebuild row must be skipped: its row was deleted since the rebuild began. */
  skips(spec: TableSpec, row: Row): boolean {
    return this.deleted?.get(spec.name)?.has(keyText(spec, row)) === true;
  }
}
