/**
 * Snapshots of the replicated state, written and read a slice at a time so that neither blocks
 * the event loop, whatever the size of the state. The format is UTF-8 lines: marker lines start
 * with "#" (no JSON text does) and carry JSON; every other line is one row of the current section.
 *
 *   #{"snapshot":1,"index":120345,"hash":"9f03c2aa","sections":2}
 *   #{"section":"cluster","version":1}
 *   {"id":"n1","raft":"10.0.0.1:9090","http":"10.0.0.1:8080"}
 *   #{"end":"cluster","rows":1}
 *   #{"section":"decisions","version":1}
 *   ...
 *   #{"end":"snapshot"}
 *
 * Reading checks everything before it is used: the format version, that every section is known
 * and of a version this build reads (older ones through the module's upgrade), every row through
 * the module's restorer, row counts, and the end marker. A snapshot that fails any check raises
 * SnapshotError, and the node refuses to run on it.
 */

import { assert } from "../raft/assert.js";
import { hashText } from "./hash.js";
import { isRecord } from "./json.js";
import { ControlState } from "./kernel.js";
import type { Cursor, SectionRestorer, SectionRow, StateModule } from "./module.js";
import type { ModuleRegistry } from "./registry.js";

/** The snapshot format version this build writes and reads. */
export const SNAPSHOT_FORMAT = 1;

/** Why a snapshot cannot be restored. */
export class SnapshotError extends Error {
  override name = "SnapshotError";
  constructor(
    readonly code: "corrupt" | "unknown_section" | "section_version" | "format_version" | "invalid_row",
    message: string,
  ) {
    super(message);
  }
}

const encoder = new TextEncoder();

/** Bytes copied per step once the rows are written (into the one array the snapshot ends up in). */
const ASSEMBLY_BYTES_PER_STEP = 8 * 1024 * 1024;
/** Rows are written into parts of this size (a longer line gets a part of its own). */
const PART_BYTES = 4 * 1024 * 1024;
const NEWLINE = 10;

/**
 * Writes a snapshot of `state` as of now, a slice at a time (call step until it returns true).
 * The rows go into parts of a few MiB, copied there straight from the state's own storage where
 * it keeps them as bytes (no string is made per row: a million of them, and the text joined from
 * them, were garbage enough to set off long collections on a busy node); the parts are then
 * copied into one array, also a slice at a time, so no single step ever copies the whole snapshot.
 */
export class SnapshotWriter {
  readonly index: number;
  /** Parts filled so far; `part` is the one being filled, `used` its bytes written. */
  private parts: Uint8Array[] = [];
  private part: Uint8Array | null = null;
  private used = 0;
  private readonly pending: { readonly module: StateModule; readonly cursor: Cursor<SectionRow> }[];
  private rowsInSection = 0;
  private sectionOpen = false;
  private bytes = 0;
  private written = false;
  private assembled: { readonly out: Uint8Array; part: number; offset: number } | null = null;
  private finished = false;

  constructor(state: ControlState) {
    this.index = state.appliedIndex;
    // Every cursor opens now, so the sections agree on one index however long writing takes.
    this.pending = state.registry.modules.map((module) => ({
      module,
      cursor: module.section.rows(state.of(module)),
    }));
    this.line(
      `#${JSON.stringify({ snapshot: SNAPSHOT_FORMAT, index: state.appliedIndex, hash: hashText(state.hash), sections: this.pending.length })}`,
    );
  }

  /** Writes up to `maxRows` more rows (or copies a slice of them into place); true once complete. */
  step(maxRows: number): boolean {
    if (this.finished) return true;
    if (!this.written) this.writeRows(maxRows);
    else this.assemble();
    return this.finished;
  }

  /** The whole snapshot, once step() returned true. */
  data(): Uint8Array {
    assert(this.finished && this.assembled !== null, "snapshot data asked for before it was written");
    return this.assembled.out;
  }

  /** Abandons the snapshot, releasing the cursors. */
  cancel(): void {
    for (const { cursor } of this.pending) cursor.close();
    this.pending.length = 0;
    this.parts = [];
    this.part = null;
  }

  private writeRows(maxRows: number): void {
    let budget = maxRows;
    while (budget > 0 && this.pending.length > 0) {
      const { module, cursor } = this.pending[0]!;
      if (!this.sectionOpen) {
        this.line(`#${JSON.stringify({ section: module.name, version: module.section.version })}`);
        this.sectionOpen = true;
        this.rowsInSection = 0;
      }
      const rows = cursor.next(budget);
      budget -= Math.max(1, rows.length);
      // Bytes from the state are views valid only until it changes: copied here, in this step.
      for (const row of rows) this.row(row);
      this.rowsInSection += rows.length;
      if (cursor.done) {
        this.line(`#${JSON.stringify({ end: module.name, rows: this.rowsInSection })}`);
        this.sectionOpen = false;
        this.pending.shift();
      }
    }
    if (this.pending.length > 0) return;
    this.line(`#${JSON.stringify({ end: "snapshot" })}`);
    this.seal();
    this.written = true;
    if (this.parts.length === 1) {
      this.assembled = { out: this.parts[0]!, part: 1, offset: this.bytes };
      this.parts = [];
      this.finished = true;
    }
  }

  private assemble(): void {
    const target = (this.assembled ??= { out: new Uint8Array(this.bytes), part: 0, offset: 0 });
    let budget = ASSEMBLY_BYTES_PER_STEP;
    while (budget > 0 && target.part < this.parts.length) {
      const part = this.parts[target.part]!;
      target.out.set(part, target.offset);
      target.offset += part.length;
      budget -= part.length;
      target.part++;
    }
    if (target.part < this.parts.length) return;
    assert(target.offset === this.bytes, "a snapshot's parts do not add up to its size");
    this.parts = [];
    this.finished = true;
  }

  private line(text: string): void {
    this.row(text);
  }

  /** Appends one line: the row's text or bytes, then a newline. */
  private row(row: SectionRow): void {
    // A string's UTF-8 form is at most three bytes per UTF-16 unit.
    const most = (typeof row === "string" ? row.length * 3 : row.length) + 1;
    if (most > PART_BYTES / 2) {
      const bytes = typeof row === "string" ? encoder.encode(row) : row;
      this.seal();
      const own = new Uint8Array(bytes.length + 1);
      own.set(bytes);
      own[bytes.length] = NEWLINE;
      this.parts.push(own);
      this.bytes += own.length;
      return;
    }
    if (this.part === null || this.used + most > this.part.length) {
      this.seal();
      this.part = new Uint8Array(PART_BYTES);
    }
    let written: number;
    if (typeof row === "string") written = encoder.encodeInto(row, this.part.subarray(this.used)).written;
    else {
      this.part.set(row, this.used);
      written = row.length;
    }
    this.part[this.used + written] = NEWLINE;
    this.used += written + 1;
    this.bytes += written + 1;
  }

  /** Closes the part being filled (keeping only the bytes written). */
  private seal(): void {
    if (this.part !== null && this.used > 0) this.parts.push(this.part.subarray(0, this.used));
    this.part = null;
    this.used = 0;
  }
}

/** Reads a snapshot a slice at a time into a new ControlState (call step until it returns true). */
export class SnapshotReader {
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });
  private readonly state: ControlState;
  private readonly seen = new Set<string>();
  private offset = 0;
  private carry = "";
  private header: { readonly index: number; readonly hash: string; readonly sections: number } | null = null;
  private section: {
    readonly module: StateModule;
    readonly version: number;
    readonly restorer: SectionRestorer<unknown>;
    rows: number;
  } | null = null;
  private ended = false;

  constructor(
    private readonly registry: ModuleRegistry,
    private readonly data: Uint8Array,
  ) {
    this.state = new ControlState(registry);
  }

  /** Reads up to about `maxBytes` more; true once the whole snapshot has been read and checked. */
  step(maxBytes: number): boolean {
    if (this.ended) return true;
    const end = Math.min(this.data.length, this.offset + maxBytes);
    let text: string;
    try {
      text =
        this.carry +
        this.decoder.decode(this.data.subarray(this.offset, end), { stream: end < this.data.length });
    } catch {
      throw new SnapshotError("corrupt", "the snapshot is not valid UTF-8");
    }
    this.offset = end;
    const lines = text.split("\n");
    this.carry = lines.pop() ?? "";
    for (const line of lines) this.readLine(line);
    if (this.offset < this.data.length) return false;
    if (this.carry !== "") throw new SnapshotError("corrupt", "the snapshot ends in the middle of a line");
    if (!this.ended) throw new SnapshotError("corrupt", "the snapshot is truncated: no end marker");
    return true;
  }

  /** The restored state, once step() returned true. */
  finish(): ControlState {
    assert(this.ended, "a snapshot's state asked for before it was read");
    return this.state;
  }

  /** The index and hash the snapshot says it holds. */
  get meta(): { readonly index: number; readonly hash: string } | null {
    return this.header;
  }

  private readLine(line: string): void {
    if (this.ended) throw new SnapshotError("corrupt", "data after the snapshot's end marker");
    if (line.startsWith("#")) return this.readMarker(parseJson(line.slice(1)));
    const section = this.section;
    if (section === null) throw new SnapshotError("corrupt", "a row outside any section");
    const row = parseJson(line);
    if (section.version === section.module.section.version) section.restorer.add(row, line);
    else {
      const upgraded = section.module.section.upgrade!(section.version, row);
      section.restorer.add(upgraded, JSON.stringify(upgraded));
    }
    section.rows++;
  }

  private readMarker(marker: unknown): void {
    if (!isRecord(marker)) throw new SnapshotError("corrupt", "a marker line is not an object");
    if (this.header === null) return this.readHeader(marker);
    if (typeof marker["section"] === "string") return this.openSection(marker["section"], marker["version"]);
    if (marker["end"] === "snapshot") return this.endSnapshot();
    if (typeof marker["end"] === "string") return this.closeSection(marker["end"], marker["rows"]);
    throw new SnapshotError("corrupt", "an unknown marker line");
  }

  private readHeader(marker: Record<string, unknown>): void {
    const { snapshot, index, hash, sections } = marker;
    if (snapshot !== SNAPSHOT_FORMAT) {
      throw new SnapshotError(
        "format_version",
        `snapshot format ${JSON.stringify(snapshot)} is not format ${SNAPSHOT_FORMAT}, the one this build reads`,
      );
    }
    if (!isIndex(index) || typeof hash !== "string" || !/^[0-9a-f]{8}$/.test(hash) || !isIndex(sections))
      throw new SnapshotError("corrupt", "the snapshot header is malformed");
    this.header = { index, hash, sections };
    this.state.appliedIndex = index;
    this.state.hash = Number.parseInt(hash, 16);
  }

  private openSection(name: string, version: unknown): void {
    if (this.section !== null) throw new SnapshotError("corrupt", `section ${name} opens inside another`);
    const module = this.registry.modules.find((m) => m.name === name);
    if (module === undefined)
      throw new SnapshotError("unknown_section", `the snapshot has a section "${name}" that no module reads`);
    if (this.seen.has(name)) throw new SnapshotError("corrupt", `section ${name} appears twice`);
    if (!isIndex(version) || version < 1)
      throw new SnapshotError("corrupt", `section ${name} has no version`);
    const current = module.section.version;
    if (version > current) {
      throw new SnapshotError(
        "section_version",
        `section ${name} is version ${version}, newer than version ${current} that this build reads; upgrade juno`,
      );
    }
    if (version < current && module.section.upgrade === undefined) {
      throw new SnapshotError(
        "section_version",
        `section ${name} is version ${version}; this build reads version ${current} and cannot upgrade it`,
      );
    }
    this.seen.add(name);
    this.section = { module, version, restorer: module.section.restore(), rows: 0 };
  }

  private closeSection(name: string, rows: unknown): void {
    const section = this.section;
    if (section === null || section.module.name !== name)
      throw new SnapshotError("corrupt", `section ${name} closes without being open`);
    if (rows !== section.rows) {
      throw new SnapshotError(
        "corrupt",
        `section ${name} says ${JSON.stringify(rows)} rows but holds ${section.rows}`,
      );
    }
    this.state.put(name, section.restorer.finish());
    this.section = null;
  }

  private endSnapshot(): void {
    if (this.section !== null) throw new SnapshotError("corrupt", "the snapshot ends inside a section");
    if (this.header !== null && this.seen.size !== this.header.sections)
      throw new SnapshotError(
        "corrupt",
        `the snapshot holds ${this.seen.size} of ${this.header.sections} sections`,
      );
    this.ended = true;
  }
}

/** Restores a whole snapshot in one go (startup, tests). */
export function restoreSnapshot(registry: ModuleRegistry, data: Uint8Array): ControlState {
  const reader = new SnapshotReader(registry, data);
  while (!reader.step(1 << 22));
  return reader.finish();
}

/** Writes a whole snapshot in one go (tests, small states). */
export function writeSnapshot(state: ControlState): Uint8Array {
  const writer = new SnapshotWriter(state);
  while (!writer.step(1 << 16));
  return writer.data();
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new SnapshotError("corrupt", "a snapshot line is not JSON");
  }
}

function isIndex(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
