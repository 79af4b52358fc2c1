// Proves the SQLite store keeps what a node needs across restarts: the log byte for byte (with
// conflicting suffixes replaced), the hard state, the applied index together with the state it
// produced, snapshots from the leader (replacing log and state at once), and local compaction.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { encodeEnvelope, type Decision } from "../../src/control/index.js";
import { encodeChange, type Entry, type Snapshot } from "../../src/raft/index.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";

const dirs: string[] = [];
function storePath(): string {
  const dir = mkdtempSync(join(tmpdir(), "juno-store-"));
  dirs.push(dir);
  return join(dir, "node.db");
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function command(index: number, term: number, text: string): Entry {
  return {
    index,
    term,
    type: "normal",
    data: encodeEnvelope({
      command: { kind: "propose", entryType: "note", data: { text } },
      timestamp: 1_700_000_000_000 + index,
    }),
  };
}
const bootstrap: Entry = {
  index: 1,
  term: 1,
  type: "config",
  data: encodeChange({ type: "bootstrap", voters: ["a", "b", "c"] }),
};
const noop = (index: number, term: number): Entry => ({
  index,
  term,
  type: "normal",
  data: new Uint8Array(0),
});

const decision: Decision = {
  index: 3,
  entryType: "deploy",
  data: { v: 1 },
  voters: ["x", "y"],
  quorum: 2,
  votes: { x: "approve" },
  status: "pending",
  createdAt: 5,
  decidedAt: null,
};

describe("SqliteStore", () => {
  it("starts fresh, then restarts with exactly what was written", () => {
    const path = storePath();
    const store = new SqliteStore(path);
    expect(store.load().fresh).toBe(true);
    const entries = [bootstrap, noop(2, 2), command(3, 2, "héllo ✓"), command(4, 2, "b")];
    store.write({
      snapshot: null,
      entries,
      hardState: { term: 2, vote: "a", commit: 3 },
      applied: { index: 3, decisions: [decision] },
    });
    store.close();

    const reopened = new SqliteStore(path);
    const loaded = reopened.load();
    expect(loaded.fresh).toBe(false);
    expect(loaded.hardState).toEqual({ term: 2, vote: "a", commit: 3 });
    expect(loaded.appliedIndex).toBe(3);
    expect(loaded.entries).toEqual(entries);
    expect(reopened.readLog(1, 4, 10).map((r) => [r.index, r.entryType, r.committed])).toEqual([
      [1, "raft.config", true],
      [2, "raft.noop", true],
      [3, "note", true],
      [4, "note", false],
    ]);
    reopened.close();
  });

  it("replaces a conflicting suffix", () => {
    const store = new SqliteStore(":memory:");
    store.write({
      snapshot: null,
      entries: [bootstrap, noop(2, 2), command(3, 2, "old"), command(4, 2, "old")],
      hardState: { term: 2, vote: null, commit: 2 },
      applied: null,
    });
    store.write({
      snapshot: null,
      entries: [command(3, 3, "new")],
      hardState: { term: 3, vote: null, commit: 2 },
      applied: null,
    });
    const loaded = store.load();
    expect(loaded.entries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
  });

  it("installs a leader's snapshot: log and state replaced in one write", () => {
    const store = new SqliteStore(":memory:");
    store.write({
      snapshot: null,
      entries: [bootstrap, noop(2, 2), command(3, 2, "x")],
      hardState: { term: 2, vote: null, commit: 3 },
      applied: { index: 3, decisions: [decision] },
    });
    const snapshot: Snapshot = {
      index: 10,
      term: 4,
      membership: { voters: ["a", "b", "c"], learners: [] },
      data: new Uint8Array([1, 2, 3]),
    };
    const restored: Decision = { ...decision, index: 7, status: "approved" };
    store.write({
      snapshot: { snapshot, decisions: [restored] },
      entries: [],
      hardState: { term: 4, vote: null, commit: 10 },
      applied: null,
    });
    const loaded = store.load();
    expect(loaded.snapshot).toEqual(snapshot);
    expect(loaded.entries).toEqual([]);
    expect(loaded.appliedIndex).toBe(10);
    expect(store.firstIndex()).toBeNull();
  });

  it("a local snapshot deletes the rows below the first kept index", () => {
    const store = new SqliteStore(":memory:");
    const entries = [bootstrap, noop(2, 2), command(3, 2, "a"), command(4, 2, "b"), command(5, 2, "c")];
    store.write({
      snapshot: null,
      entries,
      hardState: { term: 2, vote: null, commit: 5 },
      applied: { index: 5, decisions: [] },
    });
    const snapshot: Snapshot = {
      index: 4,
      term: 2,
      membership: { voters: ["a", "b", "c"], learners: [] },
      data: new Uint8Array([9]),
    };
    store.saveSnapshot(snapshot, 4);
    expect(store.firstIndex()).toBe(4);
    const loaded = store.load();
    expect(loaded.snapshot?.index).toBe(4);
    expect(loaded.entries.map((e) => e.index)).toEqual([5]);
    expect(loaded.appliedIndex).toBe(5);
  });

  it("records the applied index only together with the state it produced", () => {
    const path = storePath();
    const store = new SqliteStore(path);
    store.write({
      snapshot: null,
      entries: [bootstrap, command(2, 1, "x"), command(3, 1, "y")],
      hardState: { term: 1, vote: null, commit: 3 },
      applied: { index: 3, decisions: [decision] },
    });
    expect(store.load().appliedIndex).toBe(3);
    store.close();
  });
});
