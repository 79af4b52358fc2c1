/**
 * The node driver: the only asynchronous code around the pure core. It feeds ticks, peer messages
 * and proposals into Raft, and handles each Ready in the order the contract demands: apply in
 * memory, write everything durable in one transaction, then send, then answer waiting clients.
 * Proposals that arrive within one event-loop turn become one append and one fsync.
 */

import { oncePerTurn } from "../util/once-per-turn.js";
import {
  ControlState,
  encodeEnvelope,
  encodeMemberContext,
  type ApplyResult,
  type Command,
  type Decision,
  type MemberAddresses,
} from "../control/index.js";
import {
  RaftNode,
  SeededRandom,
  type ConfigChange,
  type Message,
  type NodeId,
  type RaftOptions,
  type RaftStatus,
  type Ready,
  type StartState,
} from "../raft/index.js";
import type { SqliteStore } from "../store/sqlite-store.js";

/** How the driver reaches its peers. */
export interface Transport {
  /** Queues messages for their recipients; never blocks, may drop (Raft tolerates loss). */
  send(messages: readonly Message[]): void;
  /** Registers the handler for messages from peers. */
  onMessage(handler: (message: Message) => void): void;
}

/** Why the node could not take a request. Stable codes for the HTTP layer. */
export type NodeErrorCode =
  | "not_leader"
  | "no_leader"
  | "overloaded"
  | "proposal_dropped"
  | "timeout"
  | "shutting_down"
  | "entry_too_large"
  | "uncommitted_limit"
  | "leadership_transfer_in_progress"
  | "config_change_pending"
  | "invalid_config_change"
  | "invalid_transfer_target";

/** A refusal with the leader to try instead, when known. */
export class NodeError extends Error {
  override name = "NodeError";
  constructor(
    readonly code: NodeErrorCode,
    message: string,
    readonly leaderId: NodeId | null = null,
  ) {
    super(message);
  }
}

/** What the driver is configured with. */
export interface NodeOptions {
  readonly id: NodeId;
  readonly store: SqliteStore;
  readonly transport: Transport;
  /** The founding voters when the store is empty and this node founds the cluster; null to join one. */
  readonly founders: readonly NodeId[] | null;
  /** Raft tunables (in ticks). */
  readonly raft?: Omit<RaftOptions, "id" | "random">;
  /** Wall-clock milliseconds per tick. */
  readonly tickMs?: number;
  /** Wall-clock time, written into entries by the leader. */
  readonly now?: () => number;
  /** Seed for election timeouts. */
  readonly seed?: number;
  /** Requests waiting for their entry at once; more are refused with "overloaded". */
  readonly maxPendingRequests?: number;
  /** How long a proposal or read may wait for its outcome. */
  readonly requestTimeoutMs?: number;
  /** Where this node is reached; a new leader announces it so followers can forward writes. */
  readonly advertise?: MemberAddresses;
  /** Addresses known from configuration (the --peers list). */
  readonly knownAddresses?: ReadonlyMap<NodeId, MemberAddresses>;
  /** Called with the Raft address of every other member whenever that set changes. */
  readonly onPeersChanged?: (peers: ReadonlyMap<NodeId, string>) => void;
}

/** A committed proposal: where it landed and what applying it did. */
export interface Committed {
  readonly index: number;
  readonly term: number;
  readonly result: ApplyResult;
}

/** Counters and gauges for metrics. */
export interface NodeCounters {
  proposals: number;
  proposalsFailed: number;
  readies: number;
  appliedEntries: number;
  leaderChanges: number;
  elections: number;
  lastApplyMs: number;
}

interface Waiter {
  readonly term: number;
  readonly resolve: (committed: Committed) => void;
  readonly reject: (error: NodeError) => void;
  readonly timer: NodeJS.Timeout;
}

interface ReadWaiter {
  index: number;
  readonly resolve: () => void;
  readonly reject: (error: NodeError) => void;
  readonly timer: NodeJS.Timeout;
}

/** One juno node: Raft, the replicated state, the store and the transport, driven by the event loop. */
export class JunoNode {
  readonly id: NodeId;
  readonly raft: RaftNode;
  state: ControlState;
  readonly counters: NodeCounters = {
    proposals: 0,
    proposalsFailed: 0,
    readies: 0,
    appliedEntries: 0,
    leaderChanges: 0,
    elections: 0,
    lastApplyMs: 0,
  };
  private readonly store: SqliteStore;
  private readonly transport: Transport;
  private readonly now: () => number;
  /** Wall-clock milliseconds per tick. */
  readonly tickMs: number;
  private readonly maxPending: number;
  private readonly timeoutMs: number;
  private readonly waiters = new Map<number, Waiter>();
  private readonly reads = new Map<number, ReadWaiter>();
  private readonly readsWaitingForApply: ReadWaiter[] = [];
  private nextReadContext = 1;
  /** One flush per event-loop turn. */
  private readonly scheduleFlush = oncePerTurn(() => this.flush());
  private ticker: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastLeader: NodeId | null = null;
  private readonly listeners = new Set<() => void>();
  private readonly advertise: MemberAddresses;
  private readonly knownAddresses: ReadonlyMap<NodeId, MemberAddresses>;
  /** Members being added: their addresses until the log records them. */
  private readonly pendingAddresses = new Map<NodeId, MemberAddresses>();
  private readonly onPeersChanged: (peers: ReadonlyMap<NodeId, string>) => void;
  private lastPeers = "";

  constructor(options: NodeOptions) {
    this.id = options.id;
    this.store = options.store;
    this.transport = options.transport;
    this.now = options.now ?? Date.now;
    this.tickMs = options.tickMs ?? 100;
    this.maxPending = options.maxPendingRequests ?? 10_000;
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.advertise = options.advertise ?? { raft: null, http: null };
    this.knownAddresses = options.knownAddresses ?? new Map();
    this.onPeersChanged = options.onPeersChanged ?? (() => undefined);
    const stored = this.store.load();
    let start: StartState;
    if (!stored.fresh) {
      start = {
        kind: "restart",
        state: {
          hardState: stored.hardState,
          snapshot: stored.snapshot,
          entries: stored.entries,
          applied: stored.appliedIndex,
        },
      };
    } else if (options.founders !== null) {
      start = { kind: "bootstrap", voters: options.founders };
    } else {
      start = { kind: "join" };
    }
    const random = new SeededRandom(options.seed ?? hashSeed(this.id, this.now()));
    this.raft = new RaftNode({ ...options.raft, id: this.id, random }, start);
    // The in-memory state is the snapshot plus the entries the store already applied.
    this.state = stored.snapshot === null ? new ControlState() : ControlState.restore(stored.snapshot.data);
    for (const entry of stored.entries) {
      if (entry.index > stored.appliedIndex) break;
      if (entry.index > this.state.appliedIndex) this.state.apply(entry);
    }
    this.transport.onMessage((message) => this.receive(message));
  }

  /** Starts ticking. */
  start(): void {
    this.refreshPeers();
    this.ticker = setInterval(() => {
      this.raft.tick();
      this.promoteCaughtUpLearners();
      this.flush();
    }, this.tickMs);
    this.flush();
  }

  /** Whether this node leads. */
  isLeader(): boolean {
    return this.raft.role === "leader";
  }

  /** Replicates a command; resolves once it is committed and applied here. */
  propose(command: Command): Promise<Committed> {
    return this.replicate(() => this.raft.propose(encodeEnvelope({ command, timestamp: this.now() })));
  }

  /** Replicates a membership change; resolves once it is committed. */
  changeMembership(change: ConfigChange): Promise<Committed> {
    return this.replicate(() => this.raft.proposeConfigChange(change));
  }

  /**
   * Adds a node as a learner; the leader promotes it once it has caught up. Its addresses travel
   * with the change, so every member learns where it is.
   */
  addMember(id: NodeId, addresses: MemberAddresses): Promise<Committed> {
    this.pendingAddresses.set(id, addresses);
    this.refreshPeers();
    return this.changeMembership({ type: "add_learner", node: id, context: encodeMemberContext(addresses) });
  }

  /** Where member `id` is reached: as the log records it, else as configured. */
  addressesOf(id: NodeId): MemberAddresses {
    if (id === this.id) return this.advertise;
    const recorded = this.state.memberAddresses(id);
    const known = this.knownAddresses.get(id);
    const pending = this.pendingAddresses.get(id);
    return {
      raft: recorded?.raft ?? known?.raft ?? pending?.raft ?? null,
      http: recorded?.http ?? known?.http ?? pending?.http ?? null,
    };
  }

  /** Resolves once this node's state reflects every write committed before the call (ReadIndex). */
  readBarrier(): Promise<void> {
    if (this.stopped) return Promise.reject(new NodeError("shutting_down", "the node is shutting down"));
    if (this.reads.size + this.readsWaitingForApply.length >= this.maxPending) {
      return Promise.reject(
        new NodeError("overloaded", "too many reads waiting; retry later", this.raft.leaderId),
      );
    }
    return new Promise((resolve, reject) => {
      const context = this.nextReadContext++;
      const timer = setTimeout(() => {
        this.reads.delete(context);
        const at = this.readsWaitingForApply.findIndex((read) => read === waiter);
        if (at >= 0) this.readsWaitingForApply.splice(at, 1);
        reject(new NodeError("timeout", "no read index within the timeout", this.raft.leaderId));
      }, this.timeoutMs);
      const waiter: ReadWaiter = { index: 0, resolve, reject, timer };
      this.reads.set(context, waiter);
      this.raft.readIndex(context);
      this.scheduleFlush();
    });
  }

  /** Hands leadership to `target` (TimeoutNow once it has caught up). */
  transferLeadership(target: NodeId): void {
    const result = this.raft.transferLeadership(target);
    if (!result.ok) throw new NodeError(result.code, result.message, result.leaderId);
    this.scheduleFlush();
  }

  /** Raft's view of the node. */
  status(): RaftStatus {
    return this.raft.status();
  }

  /** The decision proposed at `index`, from local state. */
  decision(index: number): Decision | undefined {
    return this.state.decision(index);
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
      const status = this.raft.status();
      const candidates = status.progress
        .filter((p) => p.id !== this.id && p.voter)
        .sort((a, b) => b.match - a.match);
      const target = candidates[0];
      if (target !== undefined) {
        try {
          this.transferLeadership(target.id);
          await this.waitFor(() => !this.isLeader(), timeoutMs);
        } catch {
          // A transfer that cannot start or finish leaves the election to the followers' timeouts.
        }
      }
    }
    this.stop();
  }

  /** Resolves when `condition` holds after a Ready, or after `timeoutMs` regardless. */
  private waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (condition()) return resolve();
      const timer = setTimeout(done, timeoutMs);
      const unsubscribe = this.onChange(() => {
        if (condition()) done();
      });
      function done(): void {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      }
    });
  }

  /**
   * As leader, promotes a learner to voter once it has every committed entry, one change at a time.
   * (Added nodes join as learners so a new, empty node never weakens the quorum while it catches up.)
   */
  private promoteCaughtUpLearners(): void {
    if (!this.isLeader() || this.promotionPending) return;
    const status = this.raft.status();
    const learner = status.progress.find(
      (p) => !p.voter && status.membership.learners.includes(p.id) && p.match >= status.commitIndex,
    );
    if (learner === undefined) return;
    this.promotionPending = true;
    this.changeMembership({ type: "promote", node: learner.id })
      .catch(() => undefined)
      .finally(() => {
        this.promotionPending = false;
      });
  }

  private promotionPending = false;

  /** Stops ticking and fails every waiting request. The store and transport are the caller's to close. */
  stop(): void {
    this.stopped = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
    for (const [index, waiter] of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new NodeError("shutting_down", "the node is shutting down"));
      this.waiters.delete(index);
    }
    for (const waiter of [...this.reads.values(), ...this.readsWaitingForApply]) {
      clearTimeout(waiter.timer);
      waiter.reject(new NodeError("shutting_down", "the node is shutting down"));
    }
    this.reads.clear();
    this.readsWaitingForApply.length = 0;
  }

  private replicate(append: () => ReturnType<RaftNode["propose"]>): Promise<Committed> {
    if (this.stopped) return Promise.reject(new NodeError("shutting_down", "the node is shutting down"));
    if (this.waiters.size >= this.maxPending) {
      return Promise.reject(
        new NodeError("overloaded", "too many proposals waiting; retry later", this.raft.leaderId),
      );
    }
    const accepted = append();
    if (!accepted.ok) {
      this.counters.proposalsFailed++;
      return Promise.reject(new NodeError(accepted.code, accepted.message, accepted.leaderId));
    }
    this.counters.proposals++;
    this.scheduleFlush();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(accepted.index);
        reject(
          new NodeError("timeout", "the proposal was not committed within the timeout", this.raft.leaderId),
        );
      }, this.timeoutMs);
      this.waiters.set(accepted.index, { term: accepted.term, resolve, reject, timer });
    });
  }

  private receive(message: Message): void {
    if (this.stopped) return;
    this.raft.step(message);
    this.scheduleFlush();
  }

  /** Handles Readys until there are none. */
  private flush(): void {
    if (this.stopped) return;
    while (this.raft.hasReady()) this.handleReady(this.raft.ready());
    if (this.raft.snapshotDue()) {
      const index = this.state.appliedIndex;
      const firstKept = this.raft.takeSnapshot(index, this.state.snapshot());
      this.store.saveSnapshot(this.raft.currentSnapshot()!, firstKept);
    }
  }

  private handleReady(ready: Ready): void {
    this.counters.readies++;
    const started = performance.now();
    if (ready.snapshot !== null) this.state = ControlState.restore(ready.snapshot.data);
    const results: ApplyResult[] = [];
    const decisions = new Map<number, Decision>();
    for (const entry of ready.committedEntries) {
      if (entry.index <= this.state.appliedIndex) {
        results.push({ kind: "none" });
        continue;
      }
      const result = this.state.apply(entry);
      results.push(result);
      for (const decision of ControlState.changesOf(result).decisions)
        decisions.set(decision.index, decision);
    }
    const lastCommitted = ready.committedEntries.at(-1);
    // 1. Everything durable in one transaction: entries, hard state, applied effects and index.
    this.store.write({
      snapshot:
        ready.snapshot === null ? null : { snapshot: ready.snapshot, decisions: this.state.listDecisions() },
      entries: ready.entries,
      hardState: ready.hardState,
      applied:
        lastCommitted === undefined
          ? null
          : { index: lastCommitted.index, decisions: [...decisions.values()] },
    });
    // 2. Only then may peers hear of it.
    if (ready.messages.length > 0) this.transport.send(ready.messages);
    // 3. Answer the clients whose entries are now applied, and the reads now safe to serve.
    ready.committedEntries.forEach((entry, i) => this.settle(entry.index, entry.term, results[i]!));
    this.counters.appliedEntries += ready.committedEntries.length;
    for (const failure of ready.readFailures) this.failRead(failure.context, failure.reason);
    for (const readState of ready.readStates) this.readReady(readState.context, readState.index);
    if (ready.snapshot !== null) this.failWaitersUpTo(ready.snapshot.index);
    this.raft.advance();
    this.serveReads();
    if (ready.softState !== null) this.onSoftState();
    this.refreshPeers();
    this.counters.lastApplyMs = performance.now() - started;
    for (const listener of this.listeners) listener();
  }

  private settle(index: number, term: number, result: ApplyResult): void {
    const waiter = this.waiters.get(index);
    if (waiter === undefined) return;
    this.waiters.delete(index);
    clearTimeout(waiter.timer);
    // Another leader's entry took the slot: ours will never commit.
    if (waiter.term !== term)
      waiter.reject(new NodeError("proposal_dropped", "leadership changed before the proposal committed"));
    else waiter.resolve({ index, term, result });
  }

  /** Proposals whose slots a leader's snapshot covered: their fate is unknown here. */
  private failWaitersUpTo(index: number): void {
    for (const [at, waiter] of this.waiters) {
      if (at > index) continue;
      this.waiters.delete(at);
      clearTimeout(waiter.timer);
      waiter.reject(
        new NodeError("proposal_dropped", "the outcome was folded into a snapshot; check the log"),
      );
    }
  }

  private readReady(context: number, index: number): void {
    const waiter = this.reads.get(context);
    if (waiter === undefined) return;
    this.reads.delete(context);
    waiter.index = index;
    this.readsWaitingForApply.push(waiter);
  }

  private failRead(context: number, reason: string): void {
    const waiter = this.reads.get(context);
    if (waiter === undefined) return;
    this.reads.delete(context);
    clearTimeout(waiter.timer);
    const code = reason === "no_leader" ? "no_leader" : "not_leader";
    waiter.reject(new NodeError(code, `read refused: ${reason}`, this.raft.leaderId));
  }

  private serveReads(): void {
    let kept = 0;
    for (const waiter of this.readsWaitingForApply) {
      if (waiter.index <= this.state.appliedIndex) {
        clearTimeout(waiter.timer);
        waiter.resolve();
      } else {
        this.readsWaitingForApply[kept++] = waiter;
      }
    }
    this.readsWaitingForApply.length = kept;
  }

  private onSoftState(): void {
    const leader = this.raft.leaderId;
    if (leader !== null && leader !== this.lastLeader) this.counters.leaderChanges++;
    if (this.raft.role === "candidate") this.counters.elections++;
    this.lastLeader = leader;
    if (this.isLeader()) this.announceSelf();
  }

  /** A new leader records where it is reached, unless the log already says so. */
  private announceSelf(): void {
    const recorded = this.state.memberAddresses(this.id);
    const { raft, http } = this.advertise;
    if (raft === null && http === null) return;
    if (recorded?.raft === raft && recorded.http === http) return;
    this.propose({ kind: "member", id: this.id, raftAddress: raft, httpAddress: http }).catch(
      () => undefined,
    );
  }

  /** Tells the transport where every other member is, when that changed. */
  private refreshPeers(): void {
    const membership = this.raft.membership;
    const peers = new Map<NodeId, string>();
    // The leader stays reachable even when the log no longer counts it a member: a leader that
    // removed itself leads until that removal commits, and needs our acknowledgements to commit it.
    const leader = this.raft.leaderId;
    const ids = [...membership.voters, ...membership.learners, ...this.pendingAddresses.keys()];
    if (leader !== null) ids.push(leader);
    for (const id of ids) {
      if (id === this.id) continue;
      const raft = this.addressesOf(id).raft;
      if (raft !== null) peers.set(id, raft);
    }
    // A joining node knows no membership yet but must answer the leader: use the configured peers.
    if (peers.size === 0) {
      for (const [id, addresses] of this.knownAddresses) {
        if (id !== this.id && addresses.raft !== null) peers.set(id, addresses.raft);
      }
    }
    const key = JSON.stringify([...peers].sort());
    if (key === this.lastPeers) return;
    this.lastPeers = key;
    this.onPeersChanged(peers);
  }
}

/** A seed for election timeouts that differs between nodes and between restarts. */
function hashSeed(id: string, now: number): number {
  let hash = now >>> 0;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}
