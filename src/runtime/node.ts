/**
 * The ready loop: the only asynchronous code around the pure core, and the same loop in
 * production, in the tests' in-process clusters and in the simulator; only the clock, the
 * storage, the transport and the modules are injected. Inputs (peer messages, ticks, client
 * proposals and reads) queue up and are fed into Raft together once per turn; each Ready is then
 * handled in the order its contract demands, one at a time:
 *
 *   1. load an installed snapshot into a fresh state (in slices) and apply committed entries in
 *      memory, collecting each one's outcome and row changes;
 *   2. persist the snapshot, entries, hard state, row changes and applied index in one write,
 *      durable (fsync) when the Ready says it must be, and wait for it;
 *   3. only then send the Ready's messages;
 *   4. answer the clients whose entries applied and the reads now safe to serve; advance().
 *
 * While a Ready is being persisted new inputs wait in the inbox, so they form the next batch: one
 * append and one fsync for everything that arrived meanwhile.
 */

import {
  ControlState,
  ModuleRegistry,
  encodeEnvelope,
  type AppliedEntry,
  type Command,
  type CommandSpec,
  type RowChange,
  type StateModule,
} from "../control/index.js";
import {
  RaftNode,
  assert,
  SeededRandom,
  decodeChange,
  type ConfigChange,
  type Entry,
  type NodeId,
  type RaftOptions,
  type RaftStatus,
  type Ready,
  type StartState,
} from "../raft/index.js";
import type { Static, TSchema } from "typebox";
import { isRaftMessage, type PeerMessage } from "../transport/peer-message.js";
import { SILENT_LOGGER, type Logger } from "../util/logger.js";
import { BackgroundWork } from "./background.js";
import { SYSTEM_CLOCK, oncePerTurnOn, type Clock } from "./clock.js";
import { ControllerHost, type ControllerContext } from "./controllers.js";
import type { AnyDomainModule, Committed, NodeApi, ProposeOptions } from "./domain-module.js";
import { CommandRefused, NodeError } from "./errors.js";
import { Forwarder } from "./forwarder.js";
import { RequestTracker, type ReadDone, type SubmitDone, type SubmitResult } from "./requests.js";
import { ConsensusStats } from "./performance.js";
import { Snapshots, type SliceSizes } from "./snapshots.js";
import type { NodeStorage, ReadyWrite } from "./storage.js";
import type { NodeCounters, NodeView } from "./view.js";

/** How the node reaches its peers. */
export interface Transport {
  /** Queues messages for their recipients; never blocks, may drop (Raft and forwarding tolerate loss). */
  send(messages: readonly PeerMessage[]): void;
  /** Registers the handler for messages from peers. */
  onMessage(handler: (message: PeerMessage) => void): void;
  /** Writes out what send() queued, now rather than at the end of the turn (optional). */
  flush?(): void;
}

/** Watches applied entries and installed snapshots (the simulator's state-machine checker). */
export interface ApplyObserver {
  onApplied(entry: Entry, hashAfter: number): void;
  onSnapshotInstalled(index: number, hash: number): void;
}

/** Deliberately broken loop behaviour, so the simulator can show its checkers catch it. */
export interface LoopBugs {
  /** Send a Ready's messages before its writes are durable. */
  readonly sendBeforePersist?: boolean;
}

/** What the node is configured with. */
export interface NodeOptions {
  readonly id: NodeId;
  /** Every domain module (their order is the order of snapshot sections), with the store's registry. */
  readonly registry: ModuleRegistry<AnyDomainModule>;
  readonly storage: NodeStorage;
  readonly transport: Transport;
  /** The founding voters when the store is empty and this node founds the cluster; null to join one. */
  readonly founders: readonly NodeId[] | null;
  readonly clock?: Clock;
  /** Raft tunables (in ticks). */
  readonly raft?: Omit<RaftOptions, "id" | "random">;
  /** Wall-clock milliseconds per tick. */
  readonly tickMs?: number;
  /** Seed for election timeouts and this run's boot id. */
  readonly seed?: number;
  /** Requests waiting for their outcome at once; more are refused with "overloaded". */
  readonly maxPendingRequests?: number;
  /** How long a proposal or read may wait for its outcome. */
  readonly requestTimeoutMs?: number;
  readonly logger?: Logger;
  /**
   * Work per slice: snapshot rows written, projected rows rebuilt (each a store insert), and
   * snapshot bytes read.
   */
  readonly slice?: SliceSizes;
  readonly observer?: ApplyObserver;
  readonly bugs?: LoopBugs;
}

type Input =
  | { readonly kind: "message"; readonly message: PeerMessage }
  | { readonly kind: "tick" }
  | { readonly kind: "submit"; readonly command: Command; readonly done: SubmitDone }
  | { readonly kind: "read"; readonly done: ReadDone }
  | { readonly kind: "call"; readonly run: () => void };

/**
 * The node's Raft defaults: a Ready applies at most 64 KiB of entries and an append carries at
 * most 64 KiB, so a follower catching up on a long log applies and writes it in steps of a few
 * milliseconds instead of holding the loop for the whole batch. Everything that can share one
 * event-loop turn (a frame decoded, a Ready handled, a background slice, a store step) is kept
 * to around 10 ms, so that together they stay well under 50 ms.
 */
const RAFT_DEFAULTS = { maxCommittedBytesPerReady: 64 * 1024, maxMessageBytes: 64 * 1024 } as const;

/** New log entries taken into one Ready: past it, further inputs wait for the next one. */
const MAX_NEW_ENTRIES_PER_READY = 300;

/** Each slice of snapshot and rebuild work takes on the order of 5 to 10 ms with these. */
const DEFAULT_SLICE = { rows: 1_000, tableRows: 200, bytes: 128 * 1024 };
const SKIPPED: AppliedEntry = { outcome: { kind: "none" }, changes: [], origin: null };

/** One juno node: Raft, the replicated state, the store and the transport, driven by the loop. */
export class JunoNode implements NodeApi {
  readonly id: NodeId;
  readonly view: NodeView;
  readonly registry: ModuleRegistry<AnyDomainModule>;
  /** Wall-clock milliseconds per tick. */
  readonly tickMs: number;
  private readonly raftNode: RaftNode;
  private state: ControlState;
  private readonly storage: NodeStorage;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly slice: SliceSizes;
  private readonly requests: RequestTracker;
  private readonly forwarder: Forwarder;
  private readonly controllers: ControllerHost;
  private readonly consensus: ConsensusStats;
  private readonly counters: NodeCounters = {
    proposals: 0,
    proposalsFailed: 0,
    proposalsForwarded: 0,
    readies: 0,
    appliedEntries: 0,
    leaderChanges: 0,
    elections: 0,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    lastSnapshotBytes: 0,
    lastSnapshotMs: 0,
    lastApplyMs: 0,
  };
  private readonly observer: ApplyObserver | null;
  private readonly bugs: LoopBugs;
  private readonly listeners = new Set<() => void>();
  private inbox: Input[] = [];
  /** A Ready is being handled (between ready() and advance()). */
  private busy = false;
  /** pump() is on the stack (a synchronous store completes inside it). */
  private pumping = false;
  private stopped = false;
  private started = false;
  private ticker: ReturnType<Clock["setTimeout"]> | null = null;
  private lastLeader: NodeId | null = null;
  private readonly snapshots: Snapshots;
  private readonly schedulePump: () => void;
  private readonly background: BackgroundWork;

  constructor(options: NodeOptions) {
    this.id = options.id;
    this.registry = options.registry;
    this.storage = options.storage;
    this.transport = options.transport;
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.tickMs = options.tickMs ?? 100;
    this.log = (options.logger ?? SILENT_LOGGER).child({ component: "node" });
    this.slice = options.slice ?? DEFAULT_SLICE;
    this.observer = options.observer ?? null;
    this.bugs = options.bugs ?? {};
    this.schedulePump = oncePerTurnOn(this.clock, () => this.pump());
    this.background = new BackgroundWork(this.clock);
    this.consensus = new ConsensusStats(this.clock.now());
    const seed = options.seed ?? hashSeed(this.id, this.clock.now());
    const stored = this.storage.load();
    this.raftNode = new RaftNode(
      { ...RAFT_DEFAULTS, ...options.raft, id: this.id, random: new SeededRandom(seed) },
      startState(stored, options.founders),
    );
    this.state = Snapshots.recover(this.registry, stored.snapshot, stored.entries, stored.appliedIndex);
    this.requests = new RequestTracker(
      this.clock,
      options.requestTimeoutMs ?? 10_000,
      options.maxPendingRequests ?? 10_000,
      () => this.raftNode.leaderId,
    );
    this.forwarder = new Forwarder(
      {
        id: this.id,
        registry: this.registry,
        requests: this.requests,
        send: (messages) => this.transport.send(messages),
        term: () => this.raftNode.term,
        now: () => this.clock.now(),
        propose: (data) => this.raftNode.propose(data),
      },
      (new SeededRandom(seed ^ 0x5bd1e995).nextU32() >>> 0).toString(36),
    );
    this.snapshots = new Snapshots({
      registry: this.registry,
      raft: this.raftNode,
      storage: this.storage,
      background: this.background,
      log: this.log,
      counters: this.counters,
      slice: this.slice,
      observer: this.observer,
      state: () => this.state,
      now: () => this.clock.now(),
      whenIdle: (run) => this.enqueue({ kind: "call", run }),
      wake: () => this.schedulePump(),
      fail: (error) => this.fail(error),
      stopped: () => this.stopped,
    });
    this.view = this.createView();
    const context = this.controllerContext();
    this.controllers = new ControllerHost(
      this.registry.modules.flatMap((module) => module.controllers ?? []),
      this.registry.modules.flatMap((module) => module.services ?? []),
      context,
    );
    this.transport.onMessage((message) => this.enqueue({ kind: "message", message }));
    if (stored.projectionStale) this.snapshots.rebuildProjection();
  }

  /** The Raft core, for the simulator's checkers and tests; everything else reads `view`. */
  get raft(): RaftNode {
    return this.raftNode;
  }

  /** Starts ticking and the modules' services. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.controllers.startServices();
    this.scheduleTick();
    this.pump();
  }

  /** Whether this node leads. */
  isLeader(): boolean {
    return this.raftNode.role === "leader";
  }

  // ---------------------------------------------------------------- requests (callbacks)

  /**
   * Replicates a command through this node: appended here when it leads, forwarded to the leader
   * otherwise. `done` hears once the entry applied here (or why it will not).
   */
  submit(command: Command, done: SubmitDone): void {
    if (this.stopped) return done({ ok: false, error: shuttingDown() });
    if (this.requests.full()) {
      return done({
        ok: false,
        error: new NodeError("overloaded", "too many requests waiting; retry later", this.raftNode.leaderId),
      });
    }
    const started = performance.now();
    this.enqueue({
      kind: "submit",
      command,
      done: (result) => {
        if (result.ok) this.consensus.onWriteApplied(performance.now() - started);
        done(result);
      },
    });
  }

  /** Calls `done` once this node's state reflects every write committed before the call (ReadIndex). */
  read(done: ReadDone): void {
    if (this.stopped) return done(shuttingDown());
    if (this.requests.full()) {
      return done(
        new NodeError("overloaded", "too many requests waiting; retry later", this.raftNode.leaderId),
      );
    }
    this.enqueue({ kind: "read", done });
  }

  /** Replicates a membership change (leader only). */
  submitMembershipChange(change: ConfigChange, done: SubmitDone): void {
    if (this.stopped) return done({ ok: false, error: shuttingDown() });
    this.enqueue({
      kind: "call",
      run: () => {
        const accepted = this.raftNode.proposeConfigChange(change);
        if (!accepted.ok) {
          done({ ok: false, error: new NodeError(accepted.code, accepted.message, accepted.leaderId) });
          return;
        }
        this.requests.expectEntry(accepted.index, accepted.term, done);
      },
    });
  }

  /** Hands leadership to `target` (TimeoutNow once it has caught up). */
  requestTransfer(target: NodeId, done: (error: NodeError | null) => void): void {
    if (this.stopped) return done(shuttingDown());
    this.enqueue({
      kind: "call",
      run: () => {
        const result = this.raftNode.transferLeadership(target);
        done(result.ok ? null : new NodeError(result.code, result.message, result.leaderId));
      },
    });
  }

  // ---------------------------------------------------------------- requests (promises, for routes)

  /** Replicates a command of `spec`'s kind; resolves with its result once applied here. */
  propose<S, T extends TSchema, R>(
    spec: CommandSpec<S, T, R>,
    body: Static<T>,
    options: ProposeOptions = {},
  ): Promise<Committed<R>> {
    return new Promise((resolve, reject) => {
      this.submit({ kind: spec.kind, body, actor: options.actor ?? null }, (result) => {
        if (!result.ok) return reject(result.error);
        const outcome = result.outcome;
        if (outcome.kind === "refused")
          return reject(new CommandRefused(outcome.code, outcome.message, result.index));
        // The registry routed this entry to `spec`'s apply, whose result type is R.
        const value = (outcome.kind === "ok" ? outcome.value : null) as R;
        resolve({ index: result.index, term: result.term, value });
      });
    });
  }

  /** Resolves once this node's state reflects every write committed before the call. */
  readBarrier(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.read((error) => (error === null ? resolve() : reject(error))),
    );
  }

  /** Replicates a membership change; resolves once committed and applied here. */
  changeMembership(change: ConfigChange): Promise<{ index: number; term: number }> {
    return new Promise((resolve, reject) =>
      this.submitMembershipChange(change, (result) =>
        result.ok ? resolve({ index: result.index, term: result.term }) : reject(result.error),
      ),
    );
  }

  /** Hands leadership to `target`. */
  transferLeadership(target: NodeId): Promise<void> {
    return new Promise((resolve, reject) =>
      this.requestTransfer(target, (error) => (error === null ? resolve() : reject(error))),
    );
  }

  /** Raft's view of the node. */
  status(): RaftStatus {
    return this.raftNode.status();
  }

  /** Calls `listener` after every handled Ready (for tests and status streams). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Leaves gracefully: a leader first hands leadership to its most caught-up voter and waits (up
   * to `timeoutMs`) until it no longer leads, so clients see no election timeout. Then stops.
   */
  async shutdown(timeoutMs = 5_000): Promise<void> {
    if (this.isLeader()) {
      const status = this.raftNode.status();
      const target = status.progress
        .filter((p) => p.id !== this.id && p.voter)
        .sort((a, b) => b.match - a.match)[0];
      if (target !== undefined) {
        const handedOver = await this.transferLeadership(target.id).then(
          () => true,
          () => false,
        );
        if (handedOver) await this.waitFor(() => !this.isLeader(), timeoutMs);
      }
    }
    this.stop();
  }

  /** Stops ticking and fails every waiting request. The store and transport are the caller's to close. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker !== null) this.clock.clearTimeout(this.ticker);
    this.ticker = null;
    this.snapshots.cancel();
    this.controllers.stopAll();
    this.requests.failAll(shuttingDown());
    this.inbox = [];
  }

  // ---------------------------------------------------------------- the loop

  private enqueue(input: Input): void {
    if (this.stopped) return;
    this.inbox.push(input);
    this.schedulePump();
  }

  private scheduleTick(): void {
    this.ticker = this.clock.setTimeout(() => {
      if (this.stopped) return;
      this.inbox.push({ kind: "tick" });
      this.pump();
      this.scheduleTick();
    }, this.tickMs);
  }

  /** Feeds queued inputs into Raft and handles Readys until there are none or one is being persisted. */
  private pump(): void {
    if (this.pumping || this.stopped) return;
    this.pumping = true;
    try {
      while (!this.stopped && !this.busy) {
        const cutShort = this.drainInbox();
        if (!this.raftNode.hasReady()) break;
        this.handleReady(this.raftNode.ready());
        // Catching up (more inputs held back, or more committed entries than one Ready applies):
        // one Ready per turn, so timers, heartbeats and clients get their share in between.
        const log = this.raftNode.log;
        if (!this.busy && (cutShort || log.committed > log.applied)) {
          this.schedulePump();
          break;
        }
      }
      if (!this.busy && !this.stopped) this.snapshots.maybeTake();
    } finally {
      this.pumping = false;
    }
  }

  /** Feeds the inbox into Raft; returns whether it stopped early to bound the next Ready. */
  private drainInbox(): boolean {
    if (this.inbox.length === 0) return false;
    const inputs = this.inbox;
    this.inbox = [];
    const log = this.raftNode.log;
    let cutShort = false;
    for (let i = 0; i < inputs.length; i++) {
      this.handleInput(inputs[i]!);
      // A follower catching up receives many appends at once: past the bound, the rest waits for
      // the next Ready, so no single write (and no single turn) takes them all.
      if (log.lastIndex() - log.stabled >= MAX_NEW_ENTRIES_PER_READY && i + 1 < inputs.length) {
        this.inbox = inputs.slice(i + 1).concat(this.inbox);
        cutShort = true;
        break;
      }
    }
    // A forwarded batch is the first hop of its clients' writes: it leaves at once.
    if (this.forwarder.flush()) this.transport.flush?.();
    return cutShort;
  }

  private handleInput(input: Input): void {
    switch (input.kind) {
      case "message":
        return this.handleMessage(input.message);
      case "tick":
        this.raftNode.tick();
        return;
      case "submit":
        return this.handleSubmit(input.command, input.done);
      case "read":
        this.raftNode.readIndex(this.requests.expectRead(input.done));
        return;
      case "call":
        input.run();
        return;
    }
  }

  private handleMessage(message: PeerMessage): void {
    if (isRaftMessage(message)) this.raftNode.step(message);
    else if (message.type === "propose") this.forwarder.onRequest(message, this.raftNode.leaderId);
    else if (message.type === "propose_resp") this.forwarder.onResponse(message);
    else this.channels.get(message.channel)?.(message.from, message.payload);
  }

  private handleSubmit(command: Command, done: SubmitDone): void {
    const raft = this.raftNode;
    if (raft.role === "leader") {
      const accepted = raft.propose(
        encodeEnvelope(command.kind, this.clock.now(), null, command.body, command.actor ?? null),
      );
      if (!accepted.ok) {
        this.counters.proposalsFailed++;
        return done({ ok: false, error: new NodeError(accepted.code, accepted.message, accepted.leaderId) });
      }
      this.counters.proposals++;
      this.requests.expectEntry(accepted.index, accepted.term, done);
      return;
    }
    const leader = raft.leaderId;
    if (leader === null || leader === this.id) {
      this.counters.proposalsFailed++;
      return done({
        ok: false,
        error: new NodeError("no_leader", "no leader is known right now; retry shortly"),
      });
    }
    this.counters.proposalsForwarded++;
    this.forwarder.forward(leader, command.kind, command.body, done, command.actor ?? null);
  }

  private handleReady(ready: Ready): void {
    this.busy = true;
    this.counters.readies++;
    if (ready.snapshot === null) return this.applyAndPersist(ready, false);
    this.snapshots.install(ready.snapshot, (restored) => {
      this.state = restored;
      this.applyAndPersist(ready, true);
    });
  }

  private applyAndPersist(ready: Ready, installed: boolean): void {
    // A leader's appends leave first: its fsync and its followers' then run side by side, and a
    // new commit index reaches the followers before the leader spends time applying it.
    if (this.bugs.sendBeforePersist) this.send(ready.messages);
    else if (ready.early > 0) this.sendNow(ready.messages.slice(0, ready.early));
    const started = performance.now();
    const applied: AppliedEntry[] = [];
    const changes: RowChange[] = [];
    for (const entry of ready.committedEntries) {
      if (entry.index <= this.state.appliedIndex) {
        applied.push(SKIPPED);
        continue;
      }
      const result = this.state.apply(entry);
      applied.push(result);
      for (const change of result.changes) changes.push(change);
      this.observer?.onApplied(entry, this.state.hash);
      if (entry.type === "config")
        this.log.info({ index: entry.index, change: decodeChange(entry.data) }, "membership changed");
    }
    this.counters.lastApplyMs = performance.now() - started;
    // Committed entries are durable on a quorum already (a leader counts itself only once its own
    // write is durable), so their clients, and reads confirmed by a quorum, need not wait for ours.
    this.settle(ready, applied);
    const last = ready.committedEntries.at(-1);
    const write: ReadyWrite = {
      snapshot: installed ? ready.snapshot : null,
      entries: ready.entries,
      hardState: ready.hardState,
      applied: last === undefined ? null : { index: last.index, changes },
      sync: ready.mustSync,
    };
    // A Ready of messages alone (heartbeats, acknowledgements) has nothing to write.
    if (
      write.snapshot === null &&
      write.entries.length === 0 &&
      write.hardState === null &&
      write.applied === null
    )
      return this.afterPersist(ready, installed);
    this.storage.persist(write, (error) => {
      if (error !== null) return this.fail(error);
      if (this.stopped) return;
      this.afterPersist(ready, installed);
    });
  }

  /** Answers the proposals whose entries applied and the reads now safe to serve. */
  private settle(ready: Ready, applied: readonly AppliedEntry[]): void {
    ready.committedEntries.forEach((entry, i) => this.requests.settle(entry, applied[i]!));
    this.counters.appliedEntries += ready.committedEntries.length;
    if (ready.committedEntries.length > 0)
      this.consensus.onApplied(this.counters.appliedEntries, this.clock.now());
    for (const failure of ready.readFailures) this.requests.failRead(failure.context, failure.reason);
    for (const readState of ready.readStates) this.requests.readReady(readState.context, readState.index);
    if (ready.snapshot !== null) this.requests.failCoveredBy(ready.snapshot.index);
    this.requests.serveReads(this.state.appliedIndex);
  }

  private afterPersist(ready: Ready, installed: boolean): void {
    if (!this.bugs.sendBeforePersist) {
      const messages = ready.early === 0 ? ready.messages : ready.messages.slice(ready.early);
      // Acknowledgements of entries just made durable leave at once, not after the next Ready's
      // fsync. The rest (answers to heartbeats and commit updates) leave at the end of the turn,
      // after the clients this Ready answered have heard back.
      if (ready.mustSync) this.sendNow(messages);
      else this.send(messages);
    }
    this.raftNode.advance();
    if (ready.softState !== null) this.onSoftState();
    if (ready.entries.length > 0 && this.raftNode.role === "leader")
      this.consensus.onAppended(this.raftNode.log.lastIndex(), this.clock.now());
    this.controllers.update(this.isLeader(), this.raftNode.log.lastIndex(), this.state.appliedIndex);
    if (installed) this.snapshots.rebuildProjection();
    this.busy = false;
    for (const listener of this.listeners) listener();
    if (!this.pumping) this.pump();
  }

  /** Sends and writes out at once, not at the end of the turn (before a synchronous fsync). */
  private sendNow(messages: readonly PeerMessage[]): void {
    if (messages.length === 0) return;
    this.send(messages);
    this.transport.flush?.();
  }

  private send(messages: readonly PeerMessage[]): void {
    if (messages.length > 0) this.transport.send(messages);
  }

  private onSoftState(): void {
    const leader = this.raftNode.leaderId;
    if (leader !== this.lastLeader) {
      if (leader !== null) this.counters.leaderChanges++;
      this.consensus.onLeader(leader, this.raftNode.term, this.clock.now());
      this.log.info({ leader, term: this.raftNode.term, role: this.raftNode.role }, "leader changed");
      this.forwarder.onLeaderChange(leader);
      // A read a follower sent to a leader that is gone would wait out its whole timeout: ask
      // the new leader (or this node, leading now) again. An index from either is safe to use,
      // and the second answer for a context finds it served and is ignored.
      if (leader !== null && this.requests.waitingReads().length > 0)
        this.enqueue({
          kind: "call",
          run: () => {
            for (const context of this.requests.waitingReads()) this.raftNode.readIndex(context);
          },
        });
    }
    if (this.raftNode.role === "candidate") {
      this.counters.elections++;
      this.log.info({ term: this.raftNode.term }, "election started");
    }
    this.lastLeader = leader;
  }

  /** A store that cannot write leaves the node unable to acknowledge anything: stop, loudly. */
  private fail(error: Error): void {
    this.log.error({ err: error }, "storage write failed; the node stops");
    this.stop();
    throw error;
  }

  // ---------------------------------------------------------------- views

  private createView(): NodeView {
    return {
      id: this.id,
      tickMs: this.tickMs,
      registry: this.registry,
      isLeader: () => this.isLeader(),
      leaderId: () => this.raftNode.leaderId,
      status: () => this.raftNode.status(),
      membership: () => this.raftNode.membership,
      role: () => this.raftNode.role,
      term: () => this.raftNode.term,
      state: <S>(module: StateModule<S>): S => this.state.of(module),
      appliedIndex: () => this.state.appliedIndex,
      commitIndex: () => this.raftNode.log.committed,
      stateHash: () => this.state.hash,
      counters: () => this.counters,
      consensus: () => this.consensus,
      readLog: (from, to, limit) => this.storage.readLog(from, to, limit),
      firstLogIndex: () => this.storage.firstIndex(),
      storageAvailable: () => this.storage.available(),
      onChange: (listener) => this.onChange(listener),
    };
  }

  private controllerContext(): ControllerContext {
    return {
      view: this.view,
      clock: this.clock,
      log: this.log.child({ component: "controller" }),
      submit: (command, done) => this.submit(command, done ?? ignore),
      changeMembership: (change, done) => this.submitMembershipChange(change, done ?? ignore),
      transferLeadership: (target, done) => this.requestTransfer(target, done ?? (() => undefined)),
      sendToPeer: (to, channel, payload) =>
        this.transport.send([
          { type: "module", from: this.id, to, term: this.raftNode.term, channel, payload },
        ]),
      listen: (channel, handler) => {
        assert(!this.channels.has(channel), `a second listener on channel ${channel}`);
        this.channels.set(channel, handler);
        return () => {
          if (this.channels.get(channel) === handler) this.channels.delete(channel);
        };
      },
    };
  }

  /** Module channels and their listeners. */
  private readonly channels = new Map<string, (from: NodeId, payload: string) => void>();

  /** Resolves when `condition` holds after a Ready, or after `timeoutMs` regardless. */
  private waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (condition()) return resolve();
      const timer = this.clock.setTimeout(done, timeoutMs);
      const unsubscribe = this.onChange(() => {
        if (condition()) done();
      });
      const clock = this.clock;
      function done(): void {
        clock.clearTimeout(timer);
        unsubscribe();
        resolve();
      }
    });
  }
}

function ignore(_result: SubmitResult): void {}

function shuttingDown(): NodeError {
  return new NodeError("shutting_down", "the node is shutting down");
}

/** How Raft starts: from what the store holds, as a founder of a new cluster, or empty to join one. */
function startState(stored: ReturnType<NodeStorage["load"]>, founders: readonly NodeId[] | null): StartState {
  if (!stored.fresh) {
    return {
      kind: "restart",
      state: {
        hardState: stored.hardState,
        snapshot: stored.snapshot,
        entries: stored.entries,
        applied: stored.appliedIndex,
      },
    };
  }
  return founders !== null ? { kind: "bootstrap", voters: founders } : { kind: "join" };
}

/** A seed for election timeouts that differs between nodes and between restarts. */
function hashSeed(id: string, now: number): number {
  let hash = now >>> 0;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}
