/**
 * The stores a node can keep its log and state in, behind the one storage interface
 * (src/runtime/storage.ts): SQLite, a file in the data directory (the default, nothing to run),
 * or PostgreSQL, a schema of the node's own on a server the operator runs.
 */

import { join } from "node:path";
import type { Storage } from "../config/index.js";
import type { ModuleRegistry } from "../control/index.js";
import type { NodeStorage } from "../runtime/storage.js";
import type { Logger } from "../util/logger.js";
import { PostgresStore, SCHEMA_NAME, StoreOpenError } from "./postgres/store.js";
import { SqliteStore } from "./sqlite/store.js";

export { PostgresStore, SCHEMA_NAME, StoreOpenError, isConnectionError } from "./postgres/store.js";
export { SqliteStore } from "./sqlite/store.js";

/** What opening a node's store needs. */
export interface OpenStoreOptions {
  readonly storage: Storage;
  /** Where the SQLite file goes. */
  readonly dataDir: string;
  /** The node's id: its default PostgreSQL schema is juno_<id>. */
  readonly nodeId: string;
  readonly logger?: Logger;
}

/** Opens (creating or migrating) the node's store. */
export async function openStore(registry: ModuleRegistry, options: OpenStoreOptions): Promise<NodeStorage> {
  if (options.storage.kind === "sqlite") {
    return new SqliteStore(join(options.dataDir, "juno.db"), registry, { logger: options.logger });
  }
  let target: { readonly url: string; readonly schema: string };
  try {
    target = postgresTarget(options.storage.url.reveal(), options.nodeId);
  } catch (error) {
    throw new StoreOpenError(error instanceof Error ? error.message : String(error));
  }
  const { url, schema } = target;
  return PostgresStore.open(url, registry, { schema, logger: options.logger });
}

/**
 * The connection URL and the schema of a node: `?schema=` in the URL names it (and is taken out
 * of the URL given to the driver), otherwise juno_<node id> in lower case, other characters as _.
 */
export function postgresTarget(
  text: string,
  nodeId: string,
): { readonly url: string; readonly schema: string } {
  const url = new URL(text);
  const named = url.searchParams.get("schema");
  url.searchParams.delete("schema");
  const schema = named ?? `juno_${nodeId.toLowerCase().replace(/[^a-z0-9_]/g, "_")}`.slice(0, 63);
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(
      `PostgreSQL schema ${JSON.stringify(schema)}: use lower-case letters, digits and _ (at most 63 characters)`,
    );
  }
  return { url: url.toString(), schema };
}
