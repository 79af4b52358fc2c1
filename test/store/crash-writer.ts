/**
 * Child process for the kill -9 test: appends entries to a store one Ready at a time and prints
 * "ack <index>" only after the write said it was durable, exactly as a node acknowledges a client.
 */

import { encodeEnvelope } from "../../src/control/index.js";
import { nodeModules } from "../../src/modules.js";
import type { Entry } from "../../src/raft/index.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";

const path = process.argv[2];
if (path === undefined) throw new Error("usage: crash-writer <db path>");
const store = new SqliteStore(path, nodeModules({ self: "n1" }).registry);
const loaded = store.load();
let index = loaded.entries.at(-1)?.index ?? 0;
const term = Math.max(1, loaded.hardState.term);
for (;;) {
  const batch: Entry[] = [];
  for (let i = 0; i < 1 + (index % 7); i++) {
    index++;
    batch.push({
      index,
      term,
      type: "normal",
      data: encodeEnvelope("decisions.propose", index, null, { entry_type: "crash-test", data: { index } }),
    });
  }
  store.persist(
    {
      snapshot: null,
      entries: batch,
      hardState: { term, vote: null, commit: index },
      applied: { index, changes: [] },
      sync: true,
    },
    (error) => {
      if (error !== null) throw error;
      process.stdout.write(`ack ${index}\n`);
    },
  );
}
