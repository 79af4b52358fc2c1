/**
 * Snapshot data as files beside the database (`<data-dir>/snapshots/<generation>.snap`), written
 * off the event loop a chunk at a time, each chunk synced as it goes, then renamed into place and
 * the directory synced. Kept out of SQLite on purpose: a snapshot of a large state written through the
 * write-ahead log is written twice (log, then checkpoint) and its fsyncs land on the node's
 * commits; a file costs one write and a few milliseconds of fsync per chunk.
 */

import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";

const SUFFIX = ".snap";

/** The snapshot files of one node. */
export class SnapshotFiles {
  /** Removals and writes still under way. */
  private readonly pending = new Set<Promise<void>>();
  /** How to abandon each write under way. */
  private readonly writes = new Set<() => void>();

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
   * Writes generation `generation` off the event loop: the thread pool does the writes and the
   * syncs, a chunk at a time (each synced as it goes, so the disk takes it in steady pieces), then
   * the file is renamed into place and the directory synced. `done` gets null once the file is
   * complete and durable, or the error. Writing on the loop itself held it for up to a quarter of
   * a second per chunk when the disk was busy (the kernel makes writers wait for dirty pages).
   * abandon() stops it before its next chunk (done then gets an error) and removes the partial file.
   */
  write(
    generation: number,
    data: Uint8Array,
    chunkBytes: number,
    done: (error: Error | null) => void,
  ): { abandon(): void } {
    const temporary = `${this.path(generation)}.partial`;
    let abandoned = false;
    const written = (async (): Promise<void> => {
      const handle = await open(temporary, "w");
      try {
        for (let offset = 0; offset < data.length;) {
          if (abandoned) throw new Error("the snapshot file was abandoned while being written");
          const end = Math.min(data.length, offset + chunkBytes);
          for (let at = offset; at < end;) at += (await handle.write(data, at, end - at, at)).bytesWritten;
          await handle.sync();
          offset = end;
        }
        if (abandoned) throw new Error("the snapshot file was abandoned while being written");
      } catch (error) {
        await handle.close();
        await unlink(temporary).catch(ignore);
        throw error;
      }
      await handle.close();
      await rename(temporary, this.path(generation));
      await this.syncDirectory();
    })();
    const tracked: Promise<void> = written
      .then(
        () => done(null),
        (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
      )
      .finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
    const abandon = (): void => {
      abandoned = true;
    };
    this.writes.add(abandon);
    void tracked.finally(() => this.writes.delete(abandon));
    return { abandon };
  }

  /** Abandons every write under way (the store is closing). */
  abandonWrites(): void {
    for (const abandon of this.writes) abandon();
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
        .finally(() => this.pending.delete(removal));
      this.pending.add(removal);
    }
  }

  /** Settles once every removal and write started so far has finished. */
  async settled(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private path(generation: number): string {
    return join(this.dir, `${generation}${SUFFIX}`);
  }

  /** A rename is durable once the directory itself is synced. */
  private async syncDirectory(): Promise<void> {
    const handle = await open(this.dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

/** A file already gone, or one another process removed: nothing to do. */
function ignore(): void {}
