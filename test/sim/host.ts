/**
 * A simulated juno node: a RaftNode, a disk that loses writes not yet synced when the node
 * crashes, and a key-value state machine serving client writes and linearizable reads.
 */

import {
  AssertionError,
  RaftNode,
  SeededRandom,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type RaftOptions,
  type Ready,
  type Snapshot,
  type StartState,
} from "../../src/raft/index.js";
import { SimViolation, chainHash, type DurableView, type SafetyChecker } from "./checkers.js";
import type { EventQueue } from "./event-queue.js";

/** What a node keeps on its simulated disk; only synced writes land here. */
export interface Disk {
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Entries after the snapshot, contiguous. */
  entries: Entry[];
}

/** A client write as it travels in an entry. */
export interface WriteCommand {
  readonly client: number;
  readonly key: string;
  /** Unique per write, so a read tells exactly which write it saw. */
  readonly writeId: number;
}

/** The answer to a write. `definite` failures never took effect; others may have. */
export type WriteOutcome =
  | { readonly ok: true; readonly index: number }
  | { readonly ok: false; readonly definite: boolean; readonly leaderHint: NodeId | null };

/** The answer to a read: the id of the write it saw (0 for none). */
export type ReadOutcome = { readonly ok: true; readonly writeId: number } | { readonly ok: false };

/** Deliberately broken host behaviour, to show the checkers catch it. */
export interface HostBugs {
  /** Restart with the vote forgotten (a storage layer that does not persist it). */
  readonly forgetVoteOnRestart?: boolean;
  /** Send a Ready's messages before its writes are durable. */
  readonly sendBeforePersist?: boolean;
}

/** Everything a host needs from the simulation around it. */
export interface HostEnvironment {
  readonly queue: EventQueue;
  readonly random: SeededRandom;
  readonly checker: SafetyChecker;
  readonly send: (message: Message) => void;
  readonly trace: (line: string) => void;
  readonly raftOptions: Omit<RaftOptions, "id" | "random">;
  readonly bugs: HostBugs;
  /** Called when this node becomes leader (fault profiles react to it). */
  readonly onBecameLeader: (id: NodeId) => void;
  /** Simulated fsync latency for one Ready. */
  readonly fsyncMs: () => number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The replicated key-value state: key -> id of the last write, plus a hash chain over applied entries. */
class KvState {
  values = new Map<string, number>();
  appliedIndex = 0;
  hash = 0;

  static fromSnapshot(snapshot: Snapshot | null): KvState {
    const state = new KvState();
    if (snapshot === null) return state;
    const parsed = JSON.parse(decoder.decode(snapshot.data)) as { values: [string, number][]; hash: number };
    state.values = new Map(parsed.values);
    state.hash = parsed.hash;
    state.appliedIndex = snapshot.index;
    return state;
  }

  apply(entry: Entry): void {
    if (entry.type === "normal" && entry.data.length > 0) {
      const command = JSON.parse(decoder.decode(entry.data)) as WriteCommand;
      this.values.set(command.key, command.writeId);
    }
    this.appliedIndex = entry.index;
    this.hash = chainHash(this.hash, entry);
  }

  serialize(): Uint8Array {
    return encoder.encode(JSON.stringify({ values: [...this.values], hash: this.hash }));
  }
}

type Input =
  | { readonly kind: "message"; readonly message: Message }
  | { readonly kind: "tick" }
  | { readonly kind: "write"; readonly command: WriteCommand; readonly done: (outcome: WriteOutcome) => void }
  | { readonly kind: "read"; readonly key: string; readonly done: (outcome: ReadOutcome) => void }
  | { readonly kind: "call"; readonly run: (raft: RaftNode) => void };

/** One simulated node process. */
export class SimHost {
  readonly disk: Disk = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] };
  up = false;
  /** Multiplies the tick interval: clocks of different nodes run at different rates. */
  clockRate = 1;
  private raftNode: RaftNode | null = null;
  private state = new KvState();
  private incarnation = 0;
  private busy = false;
  private inbox: Input[] = [];
  private pendingWrites = new Map<number, { term: number; done: (outcome: WriteOutcome) => void }>();
  private pendingReads = new Map<number, { key: string; done: (outcome: ReadOutcome) => void }>();
  private readsWaitingForApply: { index: number; key: string; done: (outcome: ReadOutcome) => void }[] = [];
  private nextReadContext = 1;
  private lastRole = "follower";
  private lastCommit = 0;

  constructor(
    readonly id: NodeId,
    private readonly env: HostEnvironment,
    /** The founding voters if this node bootstraps the cluster, else null (it joins). */
    private readonly founders: readonly NodeId[] | null,
    private readonly tickMs: number,
  ) {}

  /** The Raft node while the host is up. */
  get raft(): RaftNode {
    if (this.raftNode === null) throw new Error(`${this.id} is down`);
    return this.raftNode;
  }

  /** Boots (or reboots) the node from what its disk holds. */
  start(): void {
    this.incarnation++;
    this.up = true;
    this.busy = false;
    this.inbox = [];
    const disk = this.disk;
    const empty = disk.hardState.term === 0 && disk.entries.length === 0 && disk.snapshot === null;
    let start: StartState;
    if (empty) {
      start = this.founders !== null ? { kind: "bootstrap", voters: this.founders } : { kind: "join" };
    } else {
      const vote = this.env.bugs.forgetVoteOnRestart ? null : disk.hardState.vote;
      start = {
        kind: "restart",
        state: {
          hardState: { ...disk.hardState, vote },
          snapshot: disk.snapshot,
          entries: disk.entries,
          applied: disk.snapshot?.index ?? 0,
        },
      };
    }
    const random = new SeededRandom(this.env.random.nextU32());
    this.raftNode = this.guard(() => new RaftNode({ ...this.env.raftOptions, id: this.id, random }, start));
    this.state = KvState.fromSnapshot(disk.snapshot);
    this.lastRole = "follower";
    this.lastCommit = this.raftNode.log.baseIndex;
    this.observe();
    this.scheduleTick(this.incarnation);
    this.drive();
  }

  /**
   * Kills the process. Writes of a Ready still waiting for its fsync are lost, unless
   * `syncedBeforeCrash` (the fsync finished but nothing was sent or applied yet).
   */
  crash(syncedBeforeCrash: boolean, pendingReady: Ready | null = this.inFlightReady): void {
    if (!this.up) return;
    if (syncedBeforeCrash && pendingReady !== null) this.writeToDisk(pendingReady);
    this.incarnation++;
    this.up = false;
    this.raftNode = null;
    this.inFlightReady = null;
    this.busy = false;
    this.inbox = [];
    // Clients of a crashed node never hear back; they time out with an unknown outcome.
    this.pendingWrites.clear();
    this.pendingReads.clear();
    this.readsWaitingForApply = [];
  }

  private inFlightReady: Ready | null = null;

  /** A message arrives from the network. */
  deliver(message: Message): void {
    if (!this.up) return;
    this.inbox.push({ kind: "message", message });
    this.drive();
  }

  /** A client asks this node to write. */
  write(command: WriteCommand, done: (outcome: WriteOutcome) => void): void {
    if (!this.up) return;
    this.inbox.push({ kind: "write", command, done });
    this.drive();
  }

  /** A client asks this node for a linearizable read of `key`. */
  read(key: string, done: (outcome: ReadOutcome) => void): void {
    if (!this.up) return;
    this.inbox.push({ kind: "read", key, done });
    this.drive();
  }

  /** Runs an operator action (membership change, transfer) against the node when it is idle. */
  call(run: (raft: RaftNode) => void): void {
    if (!this.up) return;
    this.inbox.push({ kind: "call", run });
    this.drive();
  }

  /** The highest index this node's state machine has applied. */
  get appliedIndex(): number {
    return this.state.appliedIndex;
  }

  private scheduleTick(incarnation: number): void {
    this.env.queue.after(this.tickMs * this.clockRate, () => {
      if (incarnation !== this.incarnation) return;
      this.inbox.push({ kind: "tick" });
      this.drive();
      this.scheduleTick(incarnation);
    });
  }

  /** Feeds queued inputs into Raft, then starts persisting the next Ready if there is one. */
  private drive(): void {
    if (!this.up || this.busy) return;
    const raft = this.raft;
    while (this.inbox.length > 0) {
      const input = this.inbox.shift()!;
      this.guard(() => this.handle(raft, input));
      this.observe();
    }
    if (!raft.hasReady()) return;
    const ready = this.guard(() => raft.ready());
    this.busy = true;
    this.inFlightReady = ready;
    if (this.env.bugs.sendBeforePersist) for (const message of ready.messages) this.sendMessage(message);
    const incarnation = this.incarnation;
    // Nothing that needs an fsync: the write goes to the page cache and on at once.
    const delayMs = ready.mustSync ? this.env.fsyncMs() : 0;
    this.env.queue.after(delayMs, () => {
      if (incarnation !== this.incarnation) return;
      this.inFlightReady = null;
      this.writeToDisk(ready);
      if (!this.env.bugs.sendBeforePersist) for (const message of ready.messages) this.sendMessage(message);
      this.applyReady(ready);
      this.guard(() => raft.advance());
      this.busy = false;
      this.maybeSnapshot();
      this.drive();
    });
  }

  private sendMessage(message: Message): void {
    this.env.checker.onMessageSent(message, this.durableView);
    this.env.send(message);
  }

  /** What the checkers may ask of this node's disk. */
  private readonly durableView: DurableView = {
    hardState: () => this.disk.hardState,
    termOnDisk: (index) => {
      const disk = this.disk;
      if (disk.snapshot !== null && index <= disk.snapshot.index) return disk.snapshot.term;
      const first = disk.entries[0]?.index ?? Number.POSITIVE_INFINITY;
      return disk.entries[index - first]?.term;
    },
  };

  private handle(raft: RaftNode, input: Input): void {
    switch (input.kind) {
      case "message":
        raft.step(input.message);
        return;
      case "tick":
        raft.tick();
        return;
      case "write": {
        const result = raft.propose(encoder.encode(JSON.stringify(input.command)));
        if (result.ok) this.pendingWrites.set(result.index, { term: result.term, done: input.done });
        else input.done({ ok: false, definite: true, leaderHint: result.leaderId });
        return;
      }
      case "read": {
        const context = this.nextReadContext++;
        this.pendingReads.set(context, { key: input.key, done: input.done });
        raft.readIndex(context);
        return;
      }
      case "call":
        input.run(raft);
        return;
    }
  }

  /** Reports role and commit changes to the checkers as soon as they happen. */
  private observe(): void {
    const raft = this.raft;
    if (raft.role !== this.lastRole) {
      this.lastRole = raft.role;
      if (raft.role === "leader") {
        this.env.trace(`${this.id} leads term ${raft.term} (last index ${raft.log.lastIndex()})`);
        this.env.checker.onBecameLeader(raft);
        this.env.onBecameLeader(this.id);
      }
    }
    if (raft.log.committed > this.lastCommit) {
      this.env.checker.onCommitAdvanced(raft, this.lastCommit);
      this.lastCommit = raft.log.committed;
    }
  }

  private writeToDisk(ready: Ready): void {
    const disk = this.disk;
    if (ready.snapshot !== null) {
      disk.snapshot = ready.snapshot;
      disk.entries = [];
    }
    const first = ready.entries[0];
    if (first !== undefined) {
      const start = disk.entries[0]?.index ?? first.index;
      disk.entries.length = Math.max(0, Math.min(disk.entries.length, first.index - start));
      for (const entry of ready.entries) disk.entries.push(entry);
    }
    if (ready.hardState !== null) {
      this.env.checker.onHardStatePersisted(this.id, ready.hardState);
      disk.hardState = ready.hardState;
    }
  }

  private applyReady(ready: Ready): void {
    if (ready.snapshot !== null) {
      this.state = KvState.fromSnapshot(ready.snapshot);
      this.env.checker.onSnapshotInstalled(this.id, ready.snapshot.index, this.state.hash);
      this.env.trace(`${this.id} installed snapshot at ${ready.snapshot.index}`);
      for (const [index, pending] of this.pendingWrites) {
        if (index > ready.snapshot.index) continue;
        this.pendingWrites.delete(index);
        pending.done({ ok: false, definite: false, leaderHint: null });
      }
    }
    for (const entry of ready.committedEntries) {
      if (entry.index <= this.state.appliedIndex) continue;
      this.state.apply(entry);
      this.env.checker.onApplied(this.id, entry, this.state.hash);
      const pending = this.pendingWrites.get(entry.index);
      if (pending === undefined) continue;
      this.pendingWrites.delete(entry.index);
      // Ours only if the term matches: otherwise another leader's entry took the slot.
      if (pending.term === entry.term) pending.done({ ok: true, index: entry.index });
      else pending.done({ ok: false, definite: true, leaderHint: null });
    }
    for (const failure of ready.readFailures) {
      const read = this.pendingReads.get(failure.context);
      this.pendingReads.delete(failure.context);
      read?.done({ ok: false });
    }
    for (const readState of ready.readStates) {
      const read = this.pendingReads.get(readState.context);
      if (read === undefined) continue;
      this.pendingReads.delete(readState.context);
      this.readsWaitingForApply.push({ index: readState.index, key: read.key, done: read.done });
    }
    this.serveReads();
  }

  private serveReads(): void {
    const waiting = this.readsWaitingForApply;
    this.readsWaitingForApply = [];
    for (const read of waiting) {
      if (read.index <= this.state.appliedIndex)
        read.done({ ok: true, writeId: this.state.values.get(read.key) ?? 0 });
      else this.readsWaitingForApply.push(read);
    }
  }

  private maybeSnapshot(): void {
    const raft = this.raft;
    if (!raft.snapshotDue()) return;
    const firstKept = this.guard(() => raft.takeSnapshot(this.state.appliedIndex, this.state.serialize()));
    this.disk.snapshot = raft.currentSnapshot();
    this.disk.entries = this.disk.entries.filter((entry) => entry.index >= firstKept);
  }

  /** Runs core code, turning its assertion failures into simulation violations. */
  private guard<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof AssertionError)
        throw new SimViolation("core assertion", `${this.id}: ${error.message}`);
      throw error;
    }
  }
}
