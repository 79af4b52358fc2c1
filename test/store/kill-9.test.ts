// Proves that kill -9 at any moment loses no acknowledged write, on both stores: a child process
// acknowledges each entry only after its store write said it was durable; after SIGKILL at varying
// moments the reopened store holds every acknowledged entry, once, intact, with an applied index
// that never runs ahead of the log. PostgreSQL runs on the suite's real server.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeEnvelope } from "../../src/control/index.js";
import { nodeModules } from "../../src/modules.js";
import type { NodeStorage } from "../../src/runtime/storage.js";
import { PostgresStore, SqliteStore } from "../../src/store/index.js";
import { freshSchema, sharedPostgresUrl } from "../support/postgres.js";
import { nodeArgsFor } from "../support/compiled.js";

const writer = join(import.meta.dirname, "crash-writer.ts");

/** Runs the writer until it has acknowledged at least `acks` more entries, then kills it with SIGKILL. */
function runAndKill(target: string, acks: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgsFor(writer), target], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let seen = 0;
    let highest = 0;
    let buffered = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        highest = Number(line.slice(4));
        seen++;
      }
      if (seen >= acks && child.exitCode === null) child.kill("SIGKILL");
    });
    child.on("error", reject);
    child.on("exit", (_code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`writer exited by itself (${signal ?? _code})`));
      else resolve(highest);
    });
  });
}

const registry = nodeModules({ self: "n1" }).registry;

/** Kills the writer repeatedly at different moments; after each kill the store holds every acknowledged entry. */
async function killRepeatedly(
  target: string,
  open: () => Promise<NodeStorage>,
  moments: readonly number[],
): Promise<void> {
  let acknowledged = 0;
  for (const acks of moments) {
    acknowledged = Math.max(acknowledged, await runAndKill(target, acks));
    const store = await open();
    const loaded = store.load();
    await store.close();
    const last = loaded.entries.at(-1)?.index ?? 0;
    expect(last).toBeGreaterThanOrEqual(acknowledged);
    // Applied rows may be held past an acknowledgement (the SQLite store writes them together):
    // a restart applies again from the log what the stored applied index does not cover, so it
    // only must never run ahead of the log.
    expect(loaded.appliedIndex).toBeLessThanOrEqual(last);
    loaded.entries.forEach((entry, i) => {
      expect(entry.index).toBe(i + 1);
      const envelope = decodeEnvelope(entry.data);
      expect(envelope.kind).toBe("decisions.propose");
      expect(envelope.body).toEqual({ entry_type: "crash-test", data: { index: entry.index } });
    });
  }
  expect(acknowledged).toBeGreaterThan(150);
}

describe("kill -9", () => {
  it("SQLite loses no acknowledged write, over repeated kills at different moments", async () => {
    const dir = mkdtempSync(join(tmpdir(), "juno-kill-"));
    const path = join(dir, "node.db");
    try {
      await killRepeatedly(
        `sqlite:${path}`,
        () => Promise.resolve(new SqliteStore(path, registry)),
        [1, 7, 40, 3, 150, 11],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("PostgreSQL loses no acknowledged write, over repeated kills at different moments", async () => {
    const url = sharedPostgresUrl();
    const schema = freshSchema("kill");
    await killRepeatedly(
      `postgres:${schema}@${url}`,
      () => PostgresStore.open(url, registry, { schema }),
      [3, 150, 40, 11],
    );
  });
});
