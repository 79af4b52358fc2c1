/**
 * The simulator's disk, behind the node's real storage interface. A write that must sync takes a
 * simulated fsync and is durable when it completes; one that need not sync is only held, and
 * becomes durable with the next synced write. A crash loses every held write, and the write whose
 * fsync had not finished unless it just had. Applied indexes are held longer, in memory, as the
 * SQLite store holds applied rows: so restarts re-apply entries whose acknowledgement came long
 * before the crash.
 */

import type { Entry, HardState, Snapshot } from "../../src/raft/index.js";
import type {
  CommittedRecord,
  NodeStorage,
  ReadyWrite,
  StoredNode,
  WriteDone,
} from "../../src/runtime/storage.js";
import type { StoreTimings } from "../../src/runtime/storage.js";
import type { EventQueue } from "./event-queue.js";

/**
 * How long applied indexes wait in memory before they go to the disk (unsynced), as the SQLite
 * store holds applied rows (PROJECTION_HOLD_MS there); a snapshot saved meanwhile writes them first.
 */
const APPLIED_HOLD_MS = 1_000;

/** What the disk holds. */
export interface DiskState {
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Entries, contiguous; may start at or before the snapshot's index (a kept tail). */
  entries: Entry[];
  appliedIndex: number;
}

/** A change to the disk, applied in order. */
type DiskOp =
  | { readonly kind: "ready"; readonly write: ReadyWrite }
  | { readonly kind: "snapshot"; readonly snapshot: Snapshot; readonly firstKept: number };

/** One node's disk; outlives the node's processes. */
export class SimDisk {
  readonly durable: DiskState = {
    hardState: { term: 0, vote: null, commit: 0 },
    snapshot: null,
    entries: [],
    appliedIndex: 0,
  };
  /** Writes in the page cache since the last sync. */
  private unsynced: DiskOp[] = [];

  /** Applies `op` to the page cache; with `sync`, makes everything so far durable. Returns hard states that became durable. */
  write(op: DiskOp, sync: boolean): HardState[] {
    this.unsynced.push(op);
    return sync ? this.sync() : [];
  }

  /** Makes the page cache durable (an fsync, or a process crash: the OS writes it out). */
  sync(): HardState[] {
    const hardStates: HardState[] = [];
    for (const op of this.unsynced) {
      const hardState = applyOp(this.durable, op);
      if (hardState !== null) hardStates.push(hardState);
    }
    this.unsynced = [];
    return hardStates;
  }

  /** A power cut: the page cache is gone. */
  losePageCache(): void {
    this.unsynced = [];
  }

  /** The term of the durable entry at `index` (or folded into the durable snapshot). */
  termOnDisk(index: number): number | undefined {
    const disk = this.durable;
    if (disk.snapshot !== null && index <= disk.snapshot.index) return disk.snapshot.term;
    const first = disk.entries[0]?.index ?? Number.POSITIVE_INFINITY;
    return disk.entries[index - first]?.term;
  }
}

function applyOp(disk: DiskState, op: DiskOp): HardState | null {
  if (op.kind === "snapshot") {
    if (disk.snapshot !== null && op.snapshot.index <= disk.snapshot.index) return null;
    disk.snapshot = op.snapshot;
    disk.entries = disk.entries.filter((entry) => entry.index >= op.firstKept);
    return null;
  }
  const write = op.write;
  if (write.snapshot !== null) {
    disk.snapshot = write.snapshot;
    disk.entries = [];
    disk.appliedIndex = write.snapshot.index;
  }
  const first = write.entries[0];
  if (first !== undefined) {
    const start = disk.entries[0]?.index ?? first.index;
    disk.entries.length = Math.max(0, Math.min(disk.entries.length, first.index - start));
    for (const entry of write.entries) disk.entries.push(entry);
  }
  if (write.hardState !== null) disk.hardState = write.hardState;
  if (write.applied !== null) disk.appliedIndex = write.applied.index;
  return write.hardState;
}

/** What a storage instance needs from its host process. */
export interface SimStorageHost {
  readonly queue: EventQueue;
  /** Whether the process that owns this storage is still the running one. */
  alive(): boolean;
  fsyncMs(): number;
  /**
   * Until when (simulated ms) the store cannot write: its database is unreachable, as a
   * PostgreSQL store's is when the server goes away. Writes are held until then, as the
   * PostgreSQL store holds and retries them; 0 when the store is up.
   */
  outageUntil(): number;
  /** Hard states that became durable (for the checkers). */
  onDurable(hardStates: readonly HardState[]): void;
  /** Forget the vote when loading (a broken storage layer, for the checkers to catch). */
  readonly forgetVote: boolean;
}

/** The node's storage on a simulated disk: one instance per process incarnation. */
export class SimStorage implements NodeStorage {
  readonly timings: StoreTimings = { lastWriteMs: 0, slowWrites: 0 };
  /** The write whose fsync is in progress: a crash loses it unless its fsync finished. */
  inFlight: ReadyWrite | null = null;
  /** The applied index held in memory (see APPLIED_HOLD_MS); a crash loses it. */
  private heldApplied: number | null = null;
  private appliedFlushDue = false;
  /** The held index waits for the write in flight (see flushApplied). */
  private flushAfterInFlight = false;

  constructor(
    private readonly disk: SimDisk,
    private readonly host: SimStorageHost,
  ) {}

  load(): StoredNode {
    const disk = this.disk.durable;
    const empty = disk.hardState.term === 0 && disk.entries.length === 0 && disk.snapshot === null;
    const after = disk.snapshot?.index ?? 0;
    return {
      hardState: { ...disk.hardState, vote: this.host.forgetVote ? null : disk.hardState.vote },
      snapshot: disk.snapshot,
      entries: disk.entries.filter((entry) => entry.index > after),
      appliedIndex: Math.max(disk.appliedIndex, after),
      fresh: empty,
      projectionStale: false,
    };
  }

  persist(write: ReadyWrite, done: WriteDone): void {
    if (write.snapshot !== null) this.flushApplied();
    else if (write.applied !== null) {
      this.holdApplied(write.applied.index);
      write = { ...write, applied: null };
    }
    if (!write.sync) {
      this.host.onDurable(this.disk.write({ kind: "ready", write }, false));
      return done(null);
    }
    this.inFlight = write;
    this.host.queue.after(this.held() + this.host.fsyncMs(), () => {
      if (!this.host.alive() || this.inFlight !== write) return;
      this.inFlight = null;
      this.host.onDurable(this.disk.write({ kind: "ready", write }, true));
      if (this.flushAfterInFlight) {
        this.flushAfterInFlight = false;
        this.flushApplied();
      }
      done(null);
    });
  }

  /** Holds `index` as applied; it reaches the disk (unsynced) APPLIED_HOLD_MS later, or with a snapshot. */
  private holdApplied(index: number): void {
    this.heldApplied = index;
    if (this.appliedFlushDue) return;
    this.appliedFlushDue = true;
    this.host.queue.after(APPLIED_HOLD_MS, () => {
      this.appliedFlushDue = false;
      if (this.host.alive()) this.flushApplied();
    });
  }

  /**
   * Writes the held applied index to the page cache (durable with the next sync). The SQLite
   * store writes synchronously, so no Ready of its is ever half written when it writes held rows;
   * here a Ready's fsync may still be running, and the held index goes after that write (which
   * may carry the commit index that covers it), never ahead of it.
   */
  private flushApplied(): void {
    if (this.heldApplied === null) return;
    if (this.inFlight !== null) {
      this.flushAfterInFlight = true;
      return;
    }
    const applied = { index: this.heldApplied, changes: [] };
    this.heldApplied = null;
    const write: ReadyWrite = { snapshot: null, entries: [], hardState: null, applied, sync: false };
    this.host.onDurable(this.disk.write({ kind: "ready", write }, false));
  }

  /** How long a write starting now waits for the store to come back. */
  private held(): number {
    return Math.max(0, this.host.outageUntil() - this.host.queue.now);
  }

  saveSnapshot(snapshot: Snapshot, firstKept: number, done: WriteDone): void {
    this.host.queue.after(this.held() + this.host.fsyncMs(), () => {
      if (!this.host.alive()) return;
      // As the SQLite store does: the held applied rows go in the snapshot's own transaction.
      this.flushApplied();
      this.host.onDurable(this.disk.write({ kind: "snapshot", snapshot, firstKept }, true));
      done(null);
    });
  }

  /**
   * The process crashed: with `syncedBeforeCrash` the in-flight write's fsync finished first (and
   * made every write before it durable). Writes that needed no fsync are lost otherwise: the
   * SQLite store holds them in memory until the end of a turn, and a power cut would lose them
   * from the page cache too.
   */
  crash(syncedBeforeCrash: boolean): void {
    const write = this.inFlight;
    this.inFlight = null;
    if (syncedBeforeCrash && write !== null)
      this.host.onDurable(this.disk.write({ kind: "ready", write }, true));
    this.disk.losePageCache();
  }

  available(): boolean {
    return this.held() === 0;
  }

  readLog(): Promise<CommittedRecord[]> {
    return Promise.resolve([]);
  }

  firstIndex(): Promise<number | null> {
    return Promise.resolve(this.disk.durable.entries[0]?.index ?? null);
  }

  writeProjectionRows(): void {}

  finishProjectionRebuild(): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }
}
