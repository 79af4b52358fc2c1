/**
 * Snapshot data as files beside the database (`<data-dir>/snapshots/<generation>.snap`), written
 * a chunk per step, each chunk synced as it goes, then renamed into place and the directory
 * synced. Kept out of SQLite on purpose: a snapshot of a large state written through the
 * write-ahead log is written twice (log, then checkpoint) and its fsyncs land on the node's
 * commits; a file costs one write and a few milliseconds of fsync per chunk.
 */

import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";

const SUFFIX = ".snap";

/** The snapshot files of one node. */
export class SnapshotFiles {
  /** Removals still under way. */
  private readonly removing = new Set<Promise<void>>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** Whether generation `generation` has a complete file. */
  has(generation: number): boolean {
    return existsSync(this.path(generation));
  }

  /** The data of generation `generation`. */
  read(generation: number): Uint8Array {
    return new Uint8Array(readFileSync(this.path(generation)));
  }

  /** The generations that have complete files. */
  generations(): number[] {
    return readdirSync(this.dir)
      .filter((name) => name.endsWith(SUFFIX))
      .map((name) => Number(name.slice(0, -SUFFIX.length)))
      .filter((generation) => Number.isSafeInteger(generation));
  }

  /**
   * A writer for generation `generation`: each step() writes and syncs the next `chunkBytes`;
   * the last one puts the file in place. Returns true once the file is complete and durable.
   */
  writer(generation: number, data: Uint8Array, chunkBytes: number): { step(): boolean; abandon(): void } {
    const temporary = `${this.path(generation)}.partial`;
    const fd = openSync(temporary, "w");
    let offset = 0;
    let open = true;
    const close = (): void => {
      if (open) closeSync(fd);
      open = false;
    };
    return {
      step: (): boolean => {
        const end = Math.min(data.length, offset + chunkBytes);
        let written = offset;
        while (written < end) written += writeSync(fd, data, written, end - written, written);
        fsyncSync(fd);
        offset = end;
        if (offset < data.length) return false;
        close();
        renameSync(temporary, this.path(generation));
        this.syncDirectory();
        return true;
      },
      abandon: (): void => {
        close();
        if (existsSync(temporary)) unlinkSync(temporary);
      },
    };
  }

  /**
   * Removes every file but those of the generations in `keep` (partial ones included), off the
   * event loop: freeing a large file's blocks can take a while (longer with online discard).
   */
  removeAllBut(keep: ReadonlySet<number>): void {
    for (const name of readdirSync(this.dir)) {
      const generation = Number(name.split(".")[0]);
      if (keep.has(generation)) continue;
      if (!name.endsWith(SUFFIX) && !name.endsWith(`${SUFFIX}.partial`)) continue;
      const removal: Promise<void> = unlink(join(this.dir, name))
        .catch(ignore)
        .finally(() => this.removing.delete(removal));
      this.removing.add(removal);
    }
  }

  /** Settles once every removal started so far has finished. */
  async settled(): Promise<void> {
    await Promise.all([...this.removing]);
  }

  private path(generation: number): string {
    return join(this.dir, `${generation}${SUFFIX}`);
  }

  /** A rename is durable once the directory itself is synced. */
  private syncDirectory(): void {
    const fd = openSync(this.dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** A file already gone, or one another process removed: nothing to do. */
function ignore(): void {}
