/**
 * Child process for the kill -9 test: appends entries to a store one Ready at a time and prints
 * "ack <index>" only after the write said it was durable, exactly as a node acknowledges a client.
 * The store is named by the argument: sqlite:<path> or postgres:<schema>@<url>.
 */

import { encodeEnvelope } from "../../src/control/index.js";
import { nodeModules } from "../../src/modules.js";
import type { Entry } from "../../src/raft/index.js";
import type { NodeStorage } from "../../src/runtime/storage.js";
import { PostgresStore, SqliteStore } from "../../src/store/index.js";

const target = process.argv[2];
if (target === undefined) throw new Error("usage: crash-writer sqlite:<path> | postgres:<schema>@<url>");
const registry = nodeModules({ self: "n1" }).registry;

async function open(): Promise<NodeStorage> {
  if (target!.startsWith("sqlite:")) return new SqliteStore(target!.slice("sqlite:".length), registry);
  const rest = target!.slice("postgres:".length);
  const at = rest.indexOf("@");
  return PostgresStore.open(rest.slice(at + 1), registry, { schema: rest.slice(0, at) });
}

const store = await open();
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
  const acked = index;
  await new Promise<void>((resolve) =>
    store.persist(
      {
        snapshot: null,
        entries: batch,
        hardState: { term, vote: null, commit: acked },
        applied: { index: acked, changes: [] },
        sync: true,
      },
      (error) => {
        if (error !== null) throw error;
        process.stdout.write(`ack ${acked}\n`);
        resolve();
      },
    ),
  );
}
