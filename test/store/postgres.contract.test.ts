// The storage contract (contract.ts) against the PostgreSQL store, on the suite's real server
// (Debian's PostgreSQL, started by the global setup), each test in a schema of its own.

import type { Row } from "../../src/control/index.js";
import { PostgresStore } from "../../src/store/index.js";
import { asWritten, freshSchema, query, sharedPostgresUrl } from "../support/postgres.js";
import { storeContract } from "./contract.js";

const url = sharedPostgresUrl();

storeContract("PostgreSQL", {
  fresh: () => Promise.resolve(freshSchema("contract")),
  open: (schema, registry, options) => PostgresStore.open(url, registry, { schema, ...options }),
  rows: async (schema, table, orderBy) =>
    (await query(url, `SELECT * FROM "${schema}"."${table}" ORDER BY ${orderBy}`)).map(
      (row) => asWritten(row) as Row,
    ),
});
