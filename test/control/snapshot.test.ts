// Proves snapshots of the replicated state round-trip per section and refuse bad input: a state
// written in slices while later entries keep changing it restores to the state as of the moment
// writing began, and applying the rest of the log then gives the same state as never having
// snapshotted; a truncated, corrupted, reordered, unknown-section, newer-version or invalid-row
// snapshot is refused with a SnapshotError naming the problem; an older section version is
// refused unless its module can upgrade it.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ControlState,
  ModuleRegistry,
  SnapshotError,
  SnapshotReader,
  SnapshotWriter,
  restoreSnapshot,
  writeSnapshot,
  type StateModule,
} from "../../src/control/index.js";
import { clusterState, memberCommand } from "../../src/cluster/index.js";
import { decisionsState, proposeCommand, voteCommand } from "../../src/decisions/index.js";
import type { Entry } from "../../src/raft/index.js";
import { LogBuilder } from "../support/log-builder.js";

const registry = new ModuleRegistry([clusterState, decisionsState]);
const voters = ["a", "b", "c", "constructor", "__proto__"];

/** A random log over both modules: decisions, votes, plain proposals, member announcements, no-ops. */
const logOf = fc
  .array(
    fc.oneof(
      fc.record({ kind: fc.constant("decision" as const), quorum: fc.integer({ min: 1, max: 3 }) }),
      fc.record({
        kind: fc.constant("vote" as const),
        proposal: fc.integer({ min: 1, max: 40 }),
        voter: fc.constantFrom(...voters),
        approve: fc.boolean(),
      }),
      fc.record({ kind: fc.constant("plain" as const), data: fc.jsonValue() }),
      fc.record({
        kind: fc.constant("member" as const),
        id: fc.constantFrom("n1", "n2", "__proto__"),
        port: fc.integer({ min: 1, max: 9 }),
      }),
      fc.constant({ kind: "noop" as const }),
    ),
    { minLength: 1, maxLength: 60 },
  )
  .map((steps) => {
    const log = new LogBuilder();
    for (const step of steps) {
      if (step.kind === "decision")
        log.add(proposeCommand, { entry_type: "d", data: null, approval: { voters, quorum: step.quorum } });
      else if (step.kind === "vote")
        log.add(voteCommand, {
          proposal: step.proposal,
          voter: step.voter,
          vote: step.approve ? "approve" : "reject",
        });
      else if (step.kind === "plain")
        log.add(proposeCommand, { entry_type: "p", data: JSON.parse(JSON.stringify(step.data)) as null });
      else if (step.kind === "member")
        log.add(memberCommand, { id: step.id, raft_addr: `h:${step.port}`, http_addr: null });
      else log.noop();
    }
    return log.entries;
  });

function replay(entries: readonly Entry[]): ControlState {
  const state = new ControlState(registry);
  for (const entry of entries) state.apply(entry);
  return state;
}

function fingerprint(state: ControlState): string {
  return new TextDecoder().decode(writeSnapshot(state));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function refused(data: Uint8Array | string, reg: ModuleRegistry = registry): SnapshotError {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  try {
    restoreSnapshot(reg, bytes);
  } catch (error) {
    if (error instanceof SnapshotError) return error;
    throw error;
  }
  throw new Error("the snapshot was accepted");
}

describe("snapshots", () => {
  it("written in slices while the state changes, restore to the state at the moment writing began", () => {
    fc.assert(
      fc.property(logOf, logOf, fc.integer({ min: 1, max: 5 }), (before, after, slice) => {
        const state = replay(before);
        const expected = fingerprint(state);
        const writer = new SnapshotWriter(state);
        // Keep applying entries while the snapshot is written a few rows at a time.
        let next = 0;
        const rest = after.map((entry, i) => ({ ...entry, index: before.length + i + 1 }));
        while (!writer.step(slice)) if (next < rest.length) state.apply(rest[next++]!);
        const restored = restoreSnapshot(registry, writer.data());
        expect(restored.appliedIndex).toBe(before.length);
        expect(fingerprint(restored)).toBe(expected);
        // Applying the rest of the log to the restored state matches never having snapshotted.
        for (; next < rest.length; next++) state.apply(rest[next]!);
        for (const entry of rest) restored.apply(entry);
        expect(restored.hash).toBe(state.hash);
        expect(fingerprint(restored)).toBe(fingerprint(state));
      }),
      { seed: 20261201, numRuns: 300 },
    );
  });

  it("round-trip rows of any length and script, a row longer than a writer's part included", () => {
    const state = new ControlState(registry);
    const log = new LogBuilder();
    const texts = ["plain", "ünïcødé ✓ 日本語 🚀".repeat(3), "x".repeat(3 * 1024 * 1024), ""];
    for (let i = 0; i < 400; i++)
      state.apply(
        log.add(proposeCommand, {
          entry_type: "d",
          data: texts[i % texts.length]!.slice(0, i === 2 ? undefined : 200),
          approval: { voters, quorum: 2 },
        }),
      );
    const writer = new SnapshotWriter(state);
    while (!writer.step(7));
    const restored = restoreSnapshot(registry, writer.data());
    expect(restored.hash).toBe(state.hash);
    expect(writeSnapshot(restored)).toEqual(writeSnapshot(state));
    expect(new TextDecoder().decode(writeSnapshot(restored))).toContain("x".repeat(3 * 1024 * 1024));
  });

  it("read in slices of any size gives the same state", () => {
    fc.assert(
      fc.property(logOf, fc.integer({ min: 1, max: 64 }), (entries, bytes) => {
        const data = writeSnapshot(replay(entries));
        const reader = new SnapshotReader(registry, data);
        while (!reader.step(bytes));
        expect(fingerprint(reader.finish())).toBe(decoder.decode(data));
      }),
      { seed: 20261202, numRuns: 200 },
    );
  });

  it("refuses truncated, corrupted and malformed snapshots, naming the problem", () => {
    const log = new LogBuilder();
    log.add(proposeCommand, { entry_type: "d", data: { x: 1 }, approval: { voters: ["a"], quorum: 1 } });
    log.add(memberCommand, { id: "n1", raft_addr: "h:1", http_addr: null });
    const text = decoder.decode(writeSnapshot(replay(log.entries)));
    const lines = text.trimEnd().split("\n");
    expect(refused(text.slice(0, text.length - 10)).code).toBe("corrupt");
    expect(refused(lines.slice(0, -1).join("\n") + "\n").message).toMatch(/truncated/);
    expect(refused(text.replace('"quorum":1', '"quorum":"one"')).code).toBe("invalid_row");
    expect(refused(text.replace('"status":"pending"', '"status":"perhaps"')).message).toMatch(
      /section decisions, row 1/,
    );
    expect(refused(text.replace('{"index":1', "{not json")).code).toBe("corrupt");
    expect(refused(text.replace('"rows":1}', '"rows":2}')).message).toMatch(/says 2 rows but holds 1/);
    expect(refused(text.replace('"snapshot":1', '"snapshot":2')).code).toBe("format_version");
    expect(refused(new Uint8Array([0xff, 0xfe, 0x00])).code).toBe("corrupt");
    expect(refused(text + '#{"section":"cluster","version":1}\n').message).toMatch(
      /after the snapshot's end/,
    );
  });

  it("refuses a section no module reads, and one written by a newer build", () => {
    const text = decoder.decode(writeSnapshot(replay([])));
    expect(refused(text, new ModuleRegistry([decisionsState])).code).toBe("unknown_section");
    const newer = text.replace('{"section":"decisions","version":1}', '{"section":"decisions","version":2}');
    const error = refused(newer);
    expect(error.code).toBe("section_version");
    expect(error.message).toMatch(/newer than version 1.*upgrade juno/);
  });

  it("an older section version is refused unless the module upgrades it", () => {
    const log = new LogBuilder();
    log.add(memberCommand, { id: "n1", raft_addr: "h:1", http_addr: "h:2" });
    const text = decoder.decode(writeSnapshot(replay(log.entries)));
    // Pretend cluster rows were once [id, raft, http] arrays at version 1, now objects at version 2.
    const older = text
      .replace('{"section":"cluster","version":1}', '{"section":"cluster","version":1}')
      .replace('{"id":"n1","raft":"h:1","http":"h:2"}', '["n1","h:1","h:2"]');
    const bumped: StateModule = {
      ...clusterState,
      section: { ...clusterState.section, version: 2 },
    } as StateModule;
    expect(refused(older, new ModuleRegistry([bumped, decisionsState])).message).toMatch(/cannot upgrade/);
    const upgrading: StateModule = {
      ...bumped,
      section: {
        ...bumped.section,
        upgrade: (from: number, row: unknown) => {
          expect(from).toBe(1);
          const [id, raft, http] = row as [string, string, string];
          return { id, raft, http };
        },
      },
    };
    const restored = restoreSnapshot(new ModuleRegistry([upgrading, decisionsState]), encoder.encode(older));
    expect(restored.of(upgrading as typeof clusterState).members.get("n1")).toEqual({
      raft: "h:1",
      http: "h:2",
    });
  });
});
