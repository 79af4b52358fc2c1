/**
 * A small deterministic in-memory cluster for the Raft unit tests: nodes persist their Readys to
 * an in-memory disk (honouring the Ready contract), messages travel through a FIFO network with
 * optional filters, and a crashed node restarts from exactly what it persisted.
 */

import {
  RaftNode,
  SeededRandom,
  type Entry,
  type HardState,
  type Message,
  type MessageType,
  type NodeId,
  type ProposalAccepted,
  type RaftOptions,
  type Random,
  type ReadFailure,
  type ReadState,
  type Ready,
  type Snapshot,
  type StartState,
} from "../../src/raft/index.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The text in `data`. */
export function text(data: Uint8Array): string {
  return decoder.decode(data);
}

/** Raft options a test may set for every node (id and random are the harness's job). */
export type TestRaftOptions = Omit<RaftOptions, "id" | "random">;

/** What a node keeps on its in-memory "disk": only what its Readys asked it to persist. */
export interface Disk {
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Entries after the snapshot, contiguous and in order. */
  entries: Entry[];
}

/**
 * A test node: the Raft core, its disk, and a toy state machine that records the data of every
 * applied normal entry (so two nodes with the same `state` applied the same commands in order).
 */
export class TestNode {
  readonly raft: RaftNode;
  up = true;
  readonly disk: Disk = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] };
  /** The state machine: data of applied non-empty normal entries, in order. */
  state: string[] = [];
  /** The highest index the state machine has applied. */
  appliedIndex = 0;
  /** Every entry this incarnation applied, in order (config entries and no-ops included). */
  applied: Entry[] = [];
  readStates: ReadState[] = [];
  readFailures: ReadFailure[] = [];
  /** Every hard state this node persisted, across restarts. */
  readonly hardStates: HardState[] = [];

  constructor(
    readonly id: NodeId,
    readonly start: StartState,
    readonly options: TestRaftOptions,
    random: Random,
  ) {
    this.raft = new RaftNode({ ...options, id, random }, start);
  }

  /** The terms of the retained log, by index from firstIndex (handy to compare logs). */
  logTerms(): number[] {
    const terms: number[] = [];
    const log = this.raft.log;
    for (let index = log.firstIndex(); index <= log.lastIndex(); index++) terms.push(log.term(index)!);
    return terms;
  }

  /** The state machine encoded as snapshot data. */
  serializeState(): Uint8Array {
    return bytes(JSON.stringify(this.state));
  }
}

/** Decides the fate of a message in flight: deliver it (possibly rewritten) or drop it (null). */
export type Filter = (message: Message) => Message | null;

/** How a cluster is built. */
export interface ClusterOptions {
  /** Seeds every generator in the cluster (default 1). */
  readonly seed?: number;
  /** Raft options for every node. */
  readonly raft?: TestRaftOptions;
  /** The random source for each node (default: a SeededRandom drawn from `seed`). */
  readonly random?: (id: NodeId) => Random;
}

/** Node ids n1..nN. */
export function nodeIds(count: number): NodeId[] {
  return Array.from({ length: count }, (_, i) => `n${i + 1}`);
}

/** A deterministic in-memory cluster: no timers, no Math.random, every step explicit. */
export class Cluster {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Messages sent and not yet delivered, in send order. */
  inFlight: Message[] = [];
  /** Every message any node sent, in order (before filters), for counting round trips. */
  readonly sent: Message[] = [];
  private filters: Filter[] = [];
  private readonly random: SeededRandom;
  private readonly randomFor: ((id: NodeId) => Random) | undefined;
  private readonly raftOptions: TestRaftOptions;
  /** The first entry applied at each index by any node, for the state-machine safety check. */
  private readonly appliedByIndex = new Map<number, Entry>();

  constructor(options: ClusterOptions = {}) {
    this.random = new SeededRandom(options.seed ?? 1);
    this.raftOptions = options.raft ?? {};
    this.randomFor = options.random;
  }

  /** A cluster of `count` founding voters n1..nN, all bootstrapped, none of them leader yet. */
  static bootstrap(count: number, options: ClusterOptions = {}): Cluster {
    const cluster = new Cluster(options);
    const voters = nodeIds(count);
    for (const id of voters) cluster.add(id, { kind: "bootstrap", voters });
    cluster.flushAll();
    return cluster;
  }

  /** Adds a node that starts from `start` (a joiner, or a scripted restart state). */
  add(id: NodeId, start: StartState, options: TestRaftOptions = {}): TestNode {
    const node = new TestNode(id, start, { ...this.raftOptions, ...options }, this.nextRandom(id));
    if (start.kind === "restart") {
      node.disk.hardState = start.state.hardState;
      node.disk.snapshot = start.state.snapshot;
      node.disk.entries = [...start.state.entries];
      if (start.state.snapshot !== null) this.loadSnapshot(node, start.state.snapshot);
    }
    this.nodes.set(id, node);
    return node;
  }

  /** The node called `id`. */
  node(id: NodeId): TestNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** The Raft core of node `id`. */
  raft(id: NodeId): RaftNode {
    return this.node(id).raft;
  }

  /** Nodes that are up. */
  upNodes(): TestNode[] {
    return [...this.nodes.values()].filter((node) => node.up);
  }

  /** The up node that leads the highest term, or null. */
  leader(): NodeId | null {
    let best: TestNode | null = null;
    for (const node of this.upNodes()) {
      if (node.raft.role !== "leader") continue;
      if (best === null || node.raft.term > best.raft.term) best = node;
    }
    return best?.id ?? null;
  }

  /** Like leader(), but fails the test when there is none. */
  mustLeader(): NodeId {
    const leader = this.leader();
    if (leader === null) throw new Error("no leader");
    return leader;
  }

  // ------------------------------------------------------------------ network

  /** Adds a filter; returns a function that removes it again. */
  addFilter(filter: Filter): () => void {
    this.filters.push(filter);
    return () => {
      this.filters = this.filters.filter((f) => f !== filter);
    };
  }

  /** Drops every message for which `predicate` holds. */
  dropIf(predicate: (message: Message) => boolean): () => void {
    return this.addFilter((message) => (predicate(message) ? null : message));
  }

  /** Cuts `id` off from everyone (both directions). */
  isolate(id: NodeId): () => void {
    return this.dropIf((message) => message.from === id || message.to === id);
  }

  /** Removes every filter. */
  heal(): void {
    this.filters = [];
  }

  /** Messages any node sent so far that match, e.g. sentMatching({ type: "append", to: "n2" }). */
  sentMatching(match: { from?: NodeId; to?: NodeId; type?: MessageType }): Message[] {
    return this.sent.filter(
      (m) =>
        (match.from === undefined || m.from === match.from) &&
        (match.to === undefined || m.to === match.to) &&
        (match.type === undefined || m.type === match.type),
    );
  }

  /** Hands one message to its target through the filters; returns whether it arrived. */
  deliver(message: Message): boolean {
    let current: Message | null = message;
    for (const filter of this.filters) {
      current = filter(current);
      if (current === null) return false;
    }
    const target = this.nodes.get(current.to);
    if (target === undefined || !target.up) return false;
    target.raft.step(current);
    return true;
  }

  // ------------------------------------------------------------------ Ready handling

  /** Handles every Ready of node `id`: persist, then send, then apply, then advance. */
  flush(id: NodeId): void {
    const node = this.node(id);
    if (!node.up) return;
    for (let guard = 0; node.raft.hasReady(); guard++) {
      if (guard > 1000) throw new Error(`${id} keeps producing Readys`);
      const ready = node.raft.ready();
      this.persist(node, ready);
      for (const message of ready.messages) {
        this.sent.push(message);
        this.inFlight.push(message);
      }
      this.apply(node, ready);
      node.raft.advance();
    }
  }

  /** Handles the Readys of every up node. */
  flushAll(): void {
    for (const node of this.upNodes()) this.flush(node.id);
  }

  /**
   * Delivers messages (and the messages they cause) until the network is quiet. Time does not
   * pass: no node ticks.
   */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      this.flushAll();
      if (this.inFlight.length === 0) return;
      const batch = this.inFlight;
      this.inFlight = [];
      for (const message of batch) this.deliver(message);
    }
    throw new Error(`network not quiet after ${maxRounds} rounds`);
  }

  /** Drops everything in flight (say, the network lost it). */
  dropInFlight(): Message[] {
    const dropped = this.inFlight;
    this.inFlight = [];
    return dropped;
  }

  private persist(node: TestNode, ready: Ready): void {
    const disk = node.disk;
    // The Ready contract: snapshot, then entries (replacing any from the first new index on),
    // then the hard state, all before a single message goes out.
    if (ready.snapshot !== null) {
      disk.snapshot = ready.snapshot;
      disk.entries = [];
    }
    const first = ready.entries[0];
    if (first !== undefined) {
      disk.entries = disk.entries.filter((entry) => entry.index < first.index);
      const last = disk.entries[disk.entries.length - 1];
      const expected = last !== undefined ? last.index + 1 : (disk.snapshot?.index ?? 0) + 1;
      if (first.index !== expected) throw new Error(`${node.id}: persisted entries leave a gap`);
      disk.entries.push(...ready.entries);
    }
    if (ready.hardState !== null) {
      this.checkHardState(node, ready.hardState);
      disk.hardState = ready.hardState;
      node.hardStates.push(ready.hardState);
    }
  }

  /** Figure 2's durable state rules: term and commit never go back, one vote per term. */
  private checkHardState(node: TestNode, next: HardState): void {
    const previous = node.hardStates[node.hardStates.length - 1];
    if (previous === undefined) return;
    if (next.term < previous.term)
      throw new Error(`${node.id}: term went back ${previous.term} -> ${next.term}`);
    if (next.commit < previous.commit) throw new Error(`${node.id}: commit went back`);
    if (next.term === previous.term && previous.vote !== null && next.vote !== previous.vote) {
      throw new Error(`${node.id}: voted twice in term ${next.term}: ${previous.vote} and ${next.vote}`);
    }
  }

  private apply(node: TestNode, ready: Ready): void {
    if (ready.snapshot !== null) this.loadSnapshot(node, ready.snapshot);
    for (const entry of ready.committedEntries) {
      if (entry.index !== node.appliedIndex + 1) {
        throw new Error(`${node.id}: applied ${entry.index} after ${node.appliedIndex} (out of order)`);
      }
      const earlier = this.appliedByIndex.get(entry.index);
      if (earlier === undefined) this.appliedByIndex.set(entry.index, entry);
      else if (earlier.term !== entry.term || text(earlier.data) !== text(entry.data)) {
        throw new Error(
          `state machine safety: ${node.id} applied term ${entry.term} at ${entry.index}, another node term ${earlier.term}`,
        );
      }
      node.appliedIndex = entry.index;
      node.applied.push(entry);
      if (entry.type === "normal" && entry.data.length > 0) node.state.push(text(entry.data));
    }
    node.readStates.push(...ready.readStates);
    node.readFailures.push(...ready.readFailures);
  }

  private loadSnapshot(node: TestNode, snapshot: Snapshot): void {
    node.state = snapshot.data.length === 0 ? [] : (JSON.parse(text(snapshot.data)) as string[]);
    node.appliedIndex = snapshot.index;
  }

  // ------------------------------------------------------------------ time

  /** One tick for each listed node (default: every up node), then the network settles. */
  tick(...ids: NodeId[]): void {
    const targets = ids.length > 0 ? ids.map((id) => this.node(id)) : this.upNodes();
    for (const node of targets) {
      if (!node.up) continue;
      node.raft.tick();
      this.flush(node.id);
    }
    this.stabilize();
  }

  /** Ticks every up node until `condition` holds; returns the ticks it took. */
  tickUntil(condition: () => boolean, maxTicks = 500): number {
    for (let ticks = 0; ticks <= maxTicks; ticks++) {
      if (condition()) return ticks;
      this.tick();
    }
    throw new Error(`condition not reached within ${maxTicks} ticks`);
  }

  /** Ticks every up node until some node leads; returns its id. */
  waitForLeader(maxTicks = 500): NodeId {
    this.tickUntil(() => this.leader() !== null, maxTicks);
    return this.mustLeader();
  }

  /**
   * Ticks only node `id` until it leads: the others never time out, so the outcome is
   * scripted. Fails the test if it cannot win within `maxTicks`.
   */
  elect(id: NodeId, maxTicks = 200): void {
    for (let ticks = 0; ticks <= maxTicks; ticks++) {
      if (this.raft(id).role === "leader") return;
      this.tick(id);
    }
    throw new Error(`${id} did not win an election within ${maxTicks} ticks`);
  }

  // ------------------------------------------------------------------ clients

  /** Proposes `data` at node `id` and fails the test if it is refused. */
  propose(id: NodeId, data: string | Uint8Array): ProposalAccepted {
    const result = this.raft(id).propose(typeof data === "string" ? bytes(data) : data);
    if (!result.ok) throw new Error(`proposal refused: ${result.code}`);
    return result;
  }

  /** Proposes at the leader and delivers until the network is quiet; returns where it landed. */
  proposeAndCommit(data: string): ProposalAccepted {
    const result = this.propose(this.mustLeader(), data);
    this.stabilize();
    return result;
  }

  /** Whether every listed node (default: every up node) applied the entry at `index` and `term`. */
  appliedEverywhere(at: { index: number; term: number }, ids?: NodeId[]): boolean {
    const targets = ids?.map((id) => this.node(id)) ?? this.upNodes();
    return targets.every((node) => node.appliedIndex >= at.index && node.raft.log.term(at.index) === at.term);
  }

  /**
   * Lets the application take a snapshot at its applied index; the disk keeps the snapshot and
   * the entries the core still retains. Returns the log's new first index.
   */
  takeSnapshot(id: NodeId): number {
    const node = this.node(id);
    const firstKept = node.raft.takeSnapshot(node.appliedIndex, node.serializeState());
    node.disk.snapshot = node.raft.currentSnapshot();
    node.disk.entries = node.disk.entries.filter((entry) => entry.index >= firstKept);
    return firstKept;
  }

  // ------------------------------------------------------------------ crashes

  /** Stops node `id`: its volatile state is gone, its disk stays. Messages to it are lost. */
  crash(id: NodeId): void {
    const node = this.node(id);
    node.up = false;
    this.inFlight = this.inFlight.filter((message) => message.to !== id && message.from !== id);
  }

  /** Rebuilds node `id` from its disk, as a process restart would. */
  restart(id: NodeId, options: TestRaftOptions = {}): TestNode {
    const old = this.node(id);
    const disk = old.disk;
    const empty = disk.hardState.term === 0 && disk.entries.length === 0 && disk.snapshot === null;
    const start: StartState = empty
      ? old.start
      : {
          kind: "restart",
          state: {
            hardState: disk.hardState,
            snapshot: disk.snapshot,
            entries: disk.entries,
            applied: disk.snapshot?.index ?? 0,
          },
        };
    const node = new TestNode(id, start, { ...old.options, ...options }, this.nextRandom(id));
    node.disk.hardState = disk.hardState;
    node.disk.snapshot = disk.snapshot;
    node.disk.entries = [...disk.entries];
    node.hardStates.push(...old.hardStates);
    if (disk.snapshot !== null) this.loadSnapshot(node, disk.snapshot);
    this.nodes.set(id, node);
    this.flush(id);
    return node;
  }

  private nextRandom(id: NodeId): Random {
    const seed = this.random.nextU32();
    return this.randomFor?.(id) ?? new SeededRandom(seed);
  }
}

/** A scripted log for a restarted node: index 1 is the founding config, then one entry per term given. */
export function scriptedLog(voters: readonly NodeId[], termsFromIndex2: readonly number[]): Entry[] {
  const entries: Entry[] = [
    { index: 1, term: 1, type: "config", data: bytes(JSON.stringify({ type: "bootstrap", voters })) },
  ];
  termsFromIndex2.forEach((term, i) => {
    entries.push({ index: i + 2, term, type: "normal", data: bytes(`e${i + 2}t${term}`) });
  });
  return entries;
}

/** A start state that restarts a node with `entries` in `term`, nothing voted, `commit` committed. */
export function restartWith(entries: readonly Entry[], term: number, commit = 1): StartState {
  return {
    kind: "restart",
    state: { hardState: { term, vote: null, commit }, snapshot: null, entries, applied: 0 },
  };
}

/** A Random that always answers `value` (clamped below the bound): every timeout is the same. */
export function constantRandom(value: number): Random {
  return { int: (bound: number) => Math.min(value, bound - 1) };
}

/** Everything observable about a node (status, log, snapshot), to assert that nothing changed. */
export function observableState(raft: RaftNode): string {
  const log: string[] = [];
  for (let index = raft.log.firstIndex(); index <= raft.log.lastIndex(); index++) {
    const entry = raft.log.entry(index)!;
    log.push(`${entry.index}:${entry.term}:${entry.type}:${text(entry.data)}`);
  }
  return JSON.stringify({
    status: raft.status(),
    log,
    stabled: raft.log.stabled,
    snapshot: raft.currentSnapshot()?.index ?? null,
  });
}
