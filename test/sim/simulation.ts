/**
 * The deterministic cluster simulator. One seed fixes everything: cluster size, fault mix, every
 * random choice. A run has a fault phase (crashes, restarts, partitions, lossy links, clock skew,
 * membership changes, leadership transfers, all under client load) and a liveness phase (faults
 * stop; a leader must emerge and a new write must commit on every member within a bound). The
 * checkers watch throughout; the first violation ends the run with a readable trace.
 */

import {
  SeededRandom,
  isMember,
  type InjectedBugs,
  type NodeId,
  type RaftNode,
  type RaftOptions,
} from "../../src/raft/index.js";
import { parseEnvelopeText } from "../../src/control/index.js";
import type { PeerMessage } from "../../src/transport/peer-message.js";
import { SafetyChecker, SimViolation } from "./checkers.js";
import { EventQueue } from "./event-queue.js";
import { SimHost, type HostBugs, type ReadOutcome, type WriteOutcome } from "./host.js";
import { checkLinearizable, type HistoryOp } from "./linearizability.js";
import { CALM, SimNetwork, type LinkConditions } from "./network.js";

/** What to simulate. Everything not given is drawn from the seed. */
export interface SimOptions {
  readonly seed: number;
  readonly nodes?: number;
  readonly faultPhaseMs?: number;
  readonly livenessBoundMs?: number;
  readonly clients?: number;
  readonly raftBugs?: InjectedBugs;
  /** Pins Raft tunables instead of drawing them from the seed. */
  readonly raftOverrides?: Partial<Omit<RaftOptions, "id" | "random" | "bugs">>;
  readonly hostBugs?: HostBugs;
  /**
   * Fault mix: "default" exercises everything; "crashy" favours crashes and power loss; "churn"
   * keeps cutting off whoever leads and lets cut-off nodes rejoin one by one, the shape of the
   * Raft paper's figure 8; "figure8" plays that figure's sequence with timings from the seed.
   */
  readonly profile?: SimProfile;
  /** Call with every trace line as it happens (for --trace). */
  readonly onTrace?: (line: string) => void;
}

/** The fault mixes the simulator knows. */
/**
 * The fault mixes. "store_outages" is never picked by a seed (so existing seeds replay as they
 * did): it runs the default mix with a store whose writes take a network round trip and whose
 * database goes away, one node's at a time or the shared server for all (the PostgreSQL store).
 */
export type SimProfile = "default" | "crashy" | "churn" | "figure8" | "store_outages";

/** Counts printed after a run. */
export interface SimStats {
  nodes: number;
  simulatedMs: number;
  events: number;
  faults: Record<string, number>;
  writesAcknowledged: number;
  writesFailed: number;
  writesUnknown: number;
  readsOk: number;
  readsFailed: number;
  operationsChecked: number;
  leaderElections: number;
  finalTerm: number;
  messages: { sent: number; delivered: number; dropped: number; duplicated: number };
  checks: Record<string, number>;
}

/** The outcome of one seed. */
export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violation: SimViolation | null;
  readonly stats: SimStats;
  /** The last trace lines (all of them on failure, up to the buffer size). */
  readonly trace: readonly string[];
  /** A one-line description of the configuration drawn from the seed. */
  readonly config: string;
}

const TICK_MS = 100;
const ELECTION_TICKS = 10;
const CLIENT_TIMEOUT_MS = 3_000;
/** How long clients keep working once the cluster has recovered. */
const RECOVERED_CLIENT_MS = 5_000;
/** How long a quiet cluster may take to apply every acknowledged write on every member. */
const QUIESCE_BOUND_MS = 5_000;
const KEYS = ["a", "b", "c"];
const TRACE_LINES = 3_000;
const MAX_EXTRA_NODES = 4;
const MIN_VOTERS = 3;
const CHURN_WEIGHTS: [string, number][] = [
  ["isolate_leader", 4],
  ["rejoin", 3],
  ["crash_leader", 1],
  ["restart", 2],
  ["heal", 0.3],
];

/** The fault profile a seed runs when none is chosen: mostly the general mix, every fault shape often. */
export function profileForSeed(seed: number): SimProfile {
  const slot = seed % 10;
  if (slot < 5) return "default";
  if (slot < 7) return "crashy";
  if (slot < 9) return "churn";
  return "figure8";
}

/** Cluster sizes rotate through three, five and seven nodes; figure 8 needs at least five. */
function clusterSizeFor(seed: number, profile: SimProfile): number {
  const sizes = profile === "figure8" ? [5, 7] : [3, 5, 7];
  return sizes[Math.floor(seed / 10) % sizes.length]!;
}

/** Runs one seed to completion. Never throws for a protocol violation: it is in the result. */
export function runSimulation(options: SimOptions): SimResult {
  const sim = new Simulation(options);
  return sim.run();
}

class Simulation {
  private readonly random: SeededRandom;
  private readonly queue = new EventQueue();
  private readonly checker = new SafetyChecker();
  private readonly network: SimNetwork;
  private readonly hosts = new Map<NodeId, SimHost>();
  private readonly history: HistoryOp[] = [];
  private readonly traceBuffer: string[] = [];
  private readonly faults: Record<string, number> = {};
  private readonly nodeCount: number;
  private readonly faultPhaseMs: number;
  private readonly livenessBoundMs: number;
  private readonly clientCount: number;
  private readonly config: string;
  private readonly crashWeight: number;
  private faultsOn = true;
  /** Until when the store every node shares is down (store_outages profile). */
  private sharedOutageUntil = 0;
  private clientsOn = true;
  private nextOpId = 1;
  private nextWriteId = 1;
  private nextNodeNumber: number;
  private events = 0;
  private elections = 0;
  private readonly createHost: (id: NodeId, founders: readonly NodeId[] | null) => SimHost;

  private readonly profile: SimProfile;

  constructor(private readonly options: SimOptions) {
    this.random = new SeededRandom(options.seed);
    const r = this.random;
    this.profile = options.profile ?? profileForSeed(options.seed);
    this.nodeCount = options.nodes ?? clusterSizeFor(options.seed, this.profile);
    this.faultPhaseMs = options.faultPhaseMs ?? 20_000;
    this.livenessBoundMs = options.livenessBoundMs ?? 30_000;
    this.clientCount = options.clients ?? 2 + r.int(3);
    this.crashWeight = this.profile === "crashy" ? 6 : 2;
    const raftOptions = {
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: 1,
      preVote: r.chance(0.85),
      checkQuorum: r.chance(0.85),
      maxMessageBytes: r.pick([200, 4096, 1 << 20]),
      maxInflightMessages: r.pick([1, 4, 256]),
      maxInflightBytes: r.pick([0, 2048, 1 << 20]),
      snapshotChunkBytes: r.pick([64, 1024, 1 << 20]),
      snapshotTrailingEntries: r.pick([0, 5, 100]),
      compactionThresholdEntries: r.pick([10, 30, 100, 500]),
      bugs: options.raftBugs ?? {},
      ...options.raftOverrides,
    };
    const fsyncMs = this.profile === "store_outages" ? r.pick([0.3, 1, 3]) : r.pick([0.2, 2, 10]);
    this.config =
      `nodes=${this.nodeCount} clients=${this.clientCount} preVote=${raftOptions.preVote} checkQuorum=${raftOptions.checkQuorum} ` +
      `maxMessageBytes=${raftOptions.maxMessageBytes} inflight=${raftOptions.maxInflightMessages}/${raftOptions.maxInflightBytes}B ` +
      `chunk=${raftOptions.snapshotChunkBytes} trailing=${raftOptions.snapshotTrailingEntries} ` +
      `snapshotEvery=${raftOptions.compactionThresholdEntries} fsync~${fsyncMs}ms profile=${this.profile}`;
    this.network = new SimNetwork(this.queue, new SeededRandom(r.nextU32()), (message) =>
      this.deliver(message),
    );
    const environment = {
      queue: this.queue,
      random: new SeededRandom(r.nextU32()),
      checker: this.checker,
      send: (message: PeerMessage) => this.network.send(message),
      trace: (line: string) => this.trace(line),
      raftOptions,
      bugs: options.hostBugs ?? {},
      onBecameLeader: (id: NodeId) => this.onBecameLeader(id),
      fsyncMs: () => fsyncMs * (0.2 + r.float() * 1.6),
      sharedOutageUntil: () => this.sharedOutageUntil,
    };
    this.createHost = (id, founders) => {
      const host = new SimHost(id, environment, founders, TICK_MS);
      this.hosts.set(id, host);
      return host;
    };
    this.nextNodeNumber = this.nodeCount + 1;
  }

  run(): SimResult {
    let violation: SimViolation | null = null;
    try {
      this.boot();
      this.runFaultPhase();
      this.runLivenessPhase();
      this.finalChecks();
    } catch (error) {
      if (!(error instanceof SimViolation)) throw error;
      violation = error;
      this.trace(`VIOLATION ${error.message}`);
    }
    return {
      seed: this.options.seed,
      ok: violation === null,
      violation,
      stats: this.stats(),
      trace: [...this.traceBuffer],
      config: this.config,
    };
  }

  // ---------------------------------------------------------------- phases

  private boot(): void {
    const founders = Array.from({ length: this.nodeCount }, (_, i) => `n${i + 1}`);
    for (const id of founders) {
      const host = this.createHost(id, founders);
      host.clockRate = 0.9 + this.random.float() * 0.2;
      host.start();
    }
    for (let client = 1; client <= this.clientCount; client++) this.startClient(client);
    if (this.profile === "figure8") this.queue.after(1_500, () => this.figure8Step1());
    else this.scheduleFault();
    this.scheduleLogMatchingCheck();
  }

  private runFaultPhase(): void {
    this.runUntil(this.faultPhaseMs);
    this.faultsOn = false;
  }

  /** Faults stop: heal, restart everyone, calm the network. A new write must then commit everywhere. */
  private runLivenessPhase(): void {
    this.trace("faults stop: healing the network, restarting crashed nodes");
    this.network.heal();
    this.sharedOutageUntil = 0;
    for (const host of this.hosts.values()) host.storeOutageUntil = 0;
    this.network.conditions = { ...CALM };
    for (const host of this.hosts.values()) {
      host.clockRate = 1;
      if (!host.up) host.start();
    }
    this.decommissionRemovedNodes();
    const start = this.queue.now;
    const deadline = start + this.livenessBoundMs;
    let probeIndex = 0;
    let probeInFlight = false;
    const probeId = this.nextWriteId++;
    const tryProbe = (): void => {
      if (probeIndex > 0 || probeInFlight) return;
      const leader = this.currentLeader();
      if (leader === null) return;
      probeInFlight = true;
      leader.write({ client: 0, key: "liveness", writeId: probeId }, (outcome) => {
        probeInFlight = false;
        if (outcome.ok) probeIndex = outcome.index;
      });
      this.queue.after(CLIENT_TIMEOUT_MS, () => {
        probeInFlight = false;
      });
    };
    while (this.queue.now < deadline) {
      tryProbe();
      this.runUntil(Math.min(deadline, this.queue.now + 50));
      if (probeIndex > 0 && this.members().every((host) => host.up && host.appliedIndex >= probeIndex)) {
        this.trace(
          `liveness: write committed at ${probeIndex} and applied on every member after ${(this.queue.now - start).toFixed(0)} ms`,
        );
        // Clients go on for a while against the recovered cluster, then every operation settles.
        this.runUntil(this.queue.now + RECOVERED_CLIENT_MS);
        this.clientsOn = false;
        this.runUntil(this.queue.now + CLIENT_TIMEOUT_MS + 100);
        return;
      }
    }
    const states = [...this.hosts.values()]
      .map((h) =>
        h.up
          ? `${h.id}:${h.raft.role}/t${h.raft.term}/c${h.raft.log.committed}/a${h.appliedIndex}`
          : `${h.id}:down`,
      )
      .join(" ");
    const leader = this.currentLeader();
    const progress =
      leader === null
        ? "no leader"
        : leader.raft
            .status()
            .progress.map((p) => `${p.id}:${p.state}/m${p.match}/n${p.next}`)
            .join(" ");
    this.trace(
      `leader progress: ${progress}; snapshot at ${leader?.raft.currentSnapshot()?.index ?? "none"}`,
    );
    throw new SimViolation(
      "liveness",
      `no write committed on every member within ${this.livenessBoundMs} ms after faults stopped (probe index ${probeIndex}; ${states})`,
    );
  }

  private finalChecks(): void {
    const appliedIndexOf = new Map<number, number>();
    const entries = this.checker.appliedEntries;
    for (let index = 1; index < entries.length; index++) {
      const print = entries[index];
      if (print === undefined) continue;
      const json = print.slice(print.indexOf("|", print.indexOf("|") + 1) + 1);
      if (!json.startsWith('{"v"')) continue;
      const envelope = parseEnvelopeText(json);
      const body = envelope.body as { writeId?: number } | null;
      if (envelope.kind === "kv.put" && typeof body?.writeId === "number")
        appliedIndexOf.set(body.writeId, index);
    }
    let highestAck = 0;
    for (const op of this.history)
      if (op.outcome === "ok" && op.kind === "write") highestAck = Math.max(highestAck, op.ackIndex!);
    // Once quiet, a leader must stand and every member must apply every acknowledged write.
    const deadline = this.queue.now + QUIESCE_BOUND_MS;
    const settled = (): boolean => {
      const current = this.members();
      return current.length > 0 && current.every((host) => host.up && host.appliedIndex >= highestAck);
    };
    while (!settled() && this.queue.now < deadline) this.runUntil(this.queue.now + 50);
    const members = this.members();
    if (members.length === 0) throw new SimViolation("liveness", "no leader once the cluster was quiet");
    for (const host of members) {
      if (!host.up || host.appliedIndex < highestAck) {
        throw new SimViolation(
          "no acknowledged write lost",
          `${host.id} applied only ${host.appliedIndex} of ${highestAck}`,
        );
      }
    }
    this.checker.checkLogMatching(members.map((host) => host.raft));
    this.operationsChecked = checkLinearizable(this.history, appliedIndexOf);
  }

  private operationsChecked = 0;

  private runUntil(timeMs: number): void {
    while (this.queue.runNext(timeMs)) this.events++;
    this.queue.now = Math.max(this.queue.now, timeMs);
  }

  // ---------------------------------------------------------------- clients

  private startClient(client: number): void {
    let leaderGuess: NodeId | null = null;
    const next = (): void => {
      if (!this.clientsOn) return;
      const target = this.pickTarget(leaderGuess);
      const isWrite = this.random.chance(0.6);
      const op: HistoryOp = {
        id: this.nextOpId++,
        client,
        kind: isWrite ? "write" : "read",
        key: this.random.pick(KEYS),
        writeId: isWrite ? this.nextWriteId++ : 0,
        invokeMs: this.queue.now,
        completeMs: null,
        outcome: "pending",
      };
      this.history.push(op);
      let settled = false;
      const settle = (outcome: HistoryOp["outcome"], hint: NodeId | null): void => {
        if (settled) return;
        settled = true;
        op.outcome = outcome;
        if (outcome !== "unknown") op.completeMs = this.queue.now;
        leaderGuess = outcome === "ok" ? target.id : hint;
        this.queue.after(this.random.float() * 20, next);
      };
      this.queue.after(CLIENT_TIMEOUT_MS, () => settle(op.kind === "write" ? "unknown" : "fail", null));
      if (op.kind === "write") {
        target.write({ client, key: op.key, writeId: op.writeId }, (outcome: WriteOutcome) => {
          if (outcome.ok) op.ackIndex = outcome.index;
          settle(
            outcome.ok ? "ok" : outcome.definite ? "fail" : "unknown",
            outcome.ok ? null : outcome.leaderHint,
          );
        });
      } else {
        target.read(op.key, (outcome: ReadOutcome) => {
          if (outcome.ok) op.writeId = outcome.writeId;
          settle(outcome.ok ? "ok" : "fail", null);
        });
      }
    };
    this.queue.after(this.random.float() * 100, next);
  }

  private pickTarget(leaderGuess: NodeId | null): SimHost {
    const guessed = leaderGuess === null ? undefined : this.hosts.get(leaderGuess);
    if (guessed !== undefined && this.random.chance(0.9)) return guessed;
    return this.random.pick([...this.hosts.values()]);
  }

  // ---------------------------------------------------------------- faults

  private scheduleFault(): void {
    const meanMs = this.profile === "churn" ? 250 : 400;
    const delay = -Math.log(1 - this.random.float()) * meanMs;
    this.queue.after(delay, () => {
      if (!this.faultsOn) return;
      this.injectFault();
      this.scheduleFault();
    });
  }

  private injectFault(): void {
    const weights: [string, number][] =
      this.profile === "churn"
        ? CHURN_WEIGHTS
        : [
            ["crash", this.crashWeight],
            ["crash_leader", this.crashWeight],
            ["power_loss", this.crashWeight / 2],
            ["restart", 3],
            ["partition", 1],
            ["isolate_leader", 1],
            ["one_way", 1],
            ["heal", 2],
            ["link_conditions", 2],
            ["clock_rate", 1],
            ["add_learner", 0.8],
            ["promote", 0.3],
            ["remove", 1],
            ["transfer", 1],
            ...(this.profile === "store_outages"
              ? ([
                  ["store_outage", 4],
                  ["shared_store_outage", 1.5],
                ] as [string, number][])
              : []),
          ];
    let total = 0;
    for (const [, weight] of weights) total += weight;
    let pick = this.random.float() * total;
    let kind = weights[0]![0];
    for (const [name, weight] of weights) {
      pick -= weight;
      if (pick < 0) {
        kind = name;
        break;
      }
    }
    if (this.applyFault(kind)) this.faults[kind] = (this.faults[kind] ?? 0) + 1;
  }

  /** Applies one fault; returns whether anything happened. */
  private applyFault(kind: string): boolean {
    const r = this.random;
    const up = [...this.hosts.values()].filter((host) => host.up);
    const down = [...this.hosts.values()].filter((host) => !host.up);
    const leader = this.currentLeader();
    switch (kind) {
      case "crash":
      case "crash_leader": {
        const victim = kind === "crash_leader" ? leader : up.length > 0 ? r.pick(up) : null;
        if (victim === null) return false;
        const synced = r.chance(0.5);
        this.trace(`FAULT crash ${victim.id}${synced ? " (after its fsync)" : " (losing unsynced writes)"}`);
        victim.crash(synced);
        this.restartLater(victim);
        return true;
      }
      case "power_loss": {
        // Several machines lose power at once: none of them syncs what it had in flight.
        const victims = this.shuffled(up).slice(0, 2 + r.int(Math.max(1, up.length - 1)));
        if (victims.length === 0) return false;
        this.trace(`FAULT power loss on ${victims.map((h) => h.id).join(",")}`);
        for (const victim of victims) {
          victim.crash(false);
          this.restartLater(victim);
        }
        return true;
      }
      case "restart": {
        if (down.length === 0) return false;
        const host = r.pick(down);
        this.trace(`FAULT restart ${host.id}`);
        host.start();
        return true;
      }
      case "partition": {
        const ids = this.shuffled([...this.hosts.keys()]);
        const split = 1 + r.int(ids.length - 1);
        const groups = [ids.slice(0, split), ids.slice(split)];
        this.trace(`FAULT partition ${groups.map((g) => `[${g.join(",")}]`).join(" | ")}`);
        this.network.partition(groups);
        return true;
      }
      case "isolate_leader": {
        if (leader === null) return false;
        const others = [...this.hosts.keys()].filter((id) => id !== leader.id);
        this.trace(`FAULT isolate leader ${leader.id}`);
        this.network.partition([[leader.id], others]);
        return true;
      }
      case "one_way": {
        const ids = [...this.hosts.keys()];
        const from = r.pick(ids);
        const targets = ids.filter((id) => id !== from && r.chance(0.5));
        if (targets.length === 0) return false;
        this.trace(`FAULT one-way cut ${from} -> ${targets.join(",")}`);
        for (const to of targets) this.network.cut(from, to);
        return true;
      }
      case "rejoin": {
        const cut = this.network.cutNodes();
        if (cut.length === 0) return false;
        const id = r.pick(cut);
        this.trace(`FAULT ${id} rejoins the network`);
        this.network.healNode(id);
        return true;
      }
      case "store_outage": {
        // One node's database goes away for a while: its writes are held, it acknowledges nothing.
        const victim = up.length > 0 ? r.pick(up) : null;
        if (victim === null) return false;
        const ms = 50 + r.int(1_500);
        victim.storeOutageUntil = this.queue.now + ms;
        this.trace(`FAULT store of ${victim.id} unreachable for ${ms} ms`);
        return true;
      }
      case "shared_store_outage": {
        // The server every node's store is on restarts: all of them hold their writes at once.
        const ms = 50 + r.int(1_000);
        this.sharedOutageUntil = this.queue.now + ms;
        this.trace(`FAULT the shared store is unreachable for ${ms} ms`);
        return true;
      }
      case "heal":
        if (!this.network.hasCuts()) return false;
        this.trace("FAULT heal network");
        this.network.heal();
        return true;
      case "link_conditions": {
        const conditions: LinkConditions = {
          lossRate: r.pick([0, 0, 0.02, 0.1, 0.3]),
          duplicateRate: r.pick([0, 0.02, 0.1]),
          latencyMs: r.pick([0.5, 2, 10]),
          jitterMs: r.pick([1, 10, 50]),
          spikeRate: r.pick([0, 0.01, 0.05]),
          spikeMs: r.pick([200, 1_500]),
        };
        this.trace(`FAULT link ${JSON.stringify(conditions)}`);
        this.network.conditions = conditions;
        return true;
      }
      case "clock_rate": {
        if (up.length === 0) return false;
        const host = r.pick(up);
        host.clockRate = r.pick([0.5, 0.8, 1, 1.25, 2]);
        this.trace(`FAULT clock rate of ${host.id} is now ${host.clockRate}`);
        return true;
      }
      case "add_learner":
        return this.addLearner(leader);
      case "promote":
        return this.promoteLearner(leader);
      case "remove":
        return this.removeMember(leader);
      case "transfer": {
        if (leader === null) return false;
        const voters = leader.raft.membership.voters.filter((id) => id !== leader.id);
        if (voters.length === 0) return false;
        const target = r.pick(voters);
        this.trace(`FAULT transfer leadership ${leader.id} -> ${target}`);
        leader.transferLeadership(target);
        return true;
      }
      default:
        throw new Error(`unknown fault ${kind}`);
    }
  }

  // ---------------------------------------------------------------- figure 8, scripted

  /**
   * (a) Cut the leader A off and let it gather a tail of uncommitted entries of its term.
   * Needs five or more nodes.
   */
  private figure8Step1(): void {
    const a = this.currentLeader();
    if (a === null || !this.faultsOn) {
      if (this.faultsOn) this.queue.after(100, () => this.figure8Step1());
      return;
    }
    this.trace(`FIGURE8 (a) cut off leader ${a.id}, which gathers a tail`);
    this.figure8Term = a.raft.term;
    this.network.isolate(a.id, [...this.hosts.keys()]);
    const tail = 3 + this.random.int(20);
    for (let i = 0; i < tail; i++) this.injectWrite(a);
    this.figure8WaitForLeader(a.id, (b) => this.figure8Step2(a, b));
  }

  /** (b) B wins among the rest; cut it off at once and take down one more node, so nobody can win. */
  private figure8Step2(a: SimHost, b: SimHost): void {
    this.queue.after(this.random.float() * 5, () => {
      this.trace(`FIGURE8 (b) cut off new leader ${b.id} and crash another node`);
      this.network.isolate(b.id, [...this.hosts.keys()]);
      const rest = [...this.hosts.values()].filter((host) => host !== a && host !== b && host.up);
      const crashed = this.random.pick(rest);
      crashed.crash(false);
      const connected = rest.filter((host) => host !== crashed);
      this.queue.after(300 + this.random.float() * 700, () => this.figure8Step3(a, b, crashed, connected));
    });
  }

  /** (c) A rejoins the connected nodes, wins again and replicates its old tail slowly. */
  private figure8Step3(a: SimHost, b: SimHost, crashed: SimHost, connected: SimHost[]): void {
    this.trace(`FIGURE8 (c) ${a.id} rejoins ${connected.map((h) => h.id).join(",")}`);
    for (const host of connected) this.network.connect(a.id, host.id);
    this.figure8WaitForLeader(b.id, (leader) => {
      if (leader !== a) {
        this.trace(`FIGURE8 ${leader.id} won instead of ${a.id}; the figure does not apply to this seed`);
        return;
      }
      // (d) Cut A off in the middle of replicating its tail; B rejoins with the crashed node back.
      this.queue.after(this.random.float() * 60, () => {
        this.trace(`FIGURE8 (d) cut off ${a.id}; ${b.id} rejoins, ${crashed.id} restarts`);
        this.network.isolate(a.id, [...this.hosts.keys()]);
        for (const host of [...connected, crashed]) this.network.connect(b.id, host.id);
        if (!crashed.up) crashed.start();
      });
    });
  }

  /** Calls `then` once a node other than `exclude` leads in a term above the last one seen. */
  private figure8WaitForLeader(exclude: NodeId, then: (leader: SimHost) => void): void {
    const poll = (): void => {
      if (!this.faultsOn) return;
      const leader = [...this.hosts.values()].find(
        (h) => h.up && h.id !== exclude && h.raft.role === "leader" && h.raft.term > this.figure8Term,
      );
      if (leader === undefined) {
        this.queue.after(2, poll);
        return;
      }
      this.figure8Term = leader.raft.term;
      then(leader);
    };
    poll();
  }

  /** The term of the last leader the figure 8 script saw. */
  private figure8Term = 0;

  /** A write from a background client straight to `host`, recorded in the history. */
  private injectWrite(host: SimHost): void {
    const op: HistoryOp = {
      id: this.nextOpId++,
      client: 99,
      kind: "write",
      key: this.random.pick(KEYS),
      writeId: this.nextWriteId++,
      invokeMs: this.queue.now,
      completeMs: null,
      outcome: "unknown",
    };
    this.history.push(op);
    host.write({ client: 99, key: op.key, writeId: op.writeId }, (outcome) => {
      if (op.outcome !== "unknown" || op.completeMs !== null) return;
      if (outcome.ok) {
        op.outcome = "ok";
        op.ackIndex = outcome.index;
        op.completeMs = this.queue.now;
      } else if (outcome.definite) {
        op.outcome = "fail";
        op.completeMs = this.queue.now;
      }
    });
  }

  /** In the churn profile a new leader is often cut off within milliseconds of winning. */
  private onBecameLeader(id: NodeId): void {
    if (this.profile !== "churn" || !this.faultsOn || !this.random.chance(0.5)) return;
    const delay = -Math.log(1 - this.random.float()) * 15;
    this.queue.after(delay, () => {
      if (!this.faultsOn) return;
      const others = [...this.hosts.keys()].filter((other) => other !== id);
      this.trace(`FAULT isolate new leader ${id}`);
      this.faults["isolate_new_leader"] = (this.faults["isolate_new_leader"] ?? 0) + 1;
      this.network.partition([[id], others]);
    });
  }

  /** A supervisor restarts a crashed node: sometimes at once, sometimes after a while. */
  private restartLater(victim: SimHost): void {
    const delay = this.random.chance(0.3) ? this.random.float() * 20 : 200 + this.random.float() * 3_000;
    this.queue.after(delay, () => {
      if (this.faultsOn && !victim.up) {
        this.trace(`FAULT restart ${victim.id}`);
        victim.start();
      }
    });
  }

  private addLearner(leader: SimHost | null): boolean {
    if (leader === null || this.nextNodeNumber > this.nodeCount + MAX_EXTRA_NODES) return false;
    const id = `n${this.nextNodeNumber++}`;
    const host = this.createHost(id, null);
    host.start();
    this.trace(`FAULT add learner ${id} via ${leader.id}`);
    // The leader's promotion controller makes it a voter once it has caught up.
    leader.changeMembership({ type: "add_learner", node: id }, `add ${id}`);
    return true;
  }

  private promoteLearner(leader: SimHost | null): boolean {
    if (leader === null) return false;
    const status = leader.raft.status();
    const caughtUp = status.progress.filter(
      (p) => !p.voter && status.membership.learners.includes(p.id) && p.match >= status.commitIndex,
    );
    if (caughtUp.length === 0) return false;
    const target = this.random.pick(caughtUp).id;
    this.trace(`FAULT promote ${target} via ${leader.id}`);
    leader.changeMembership({ type: "promote", node: target }, `promote ${target}`);
    return true;
  }

  private removeMember(leader: SimHost | null): boolean {
    if (leader === null) return false;
    const membership = leader.raft.membership;
    const candidates =
      membership.voters.length > MIN_VOTERS
        ? [...membership.voters, ...membership.learners]
        : [...membership.learners];
    if (candidates.length === 0) return false;
    const target = this.random.pick(candidates);
    this.trace(`FAULT remove ${target} via ${leader.id}`);
    leader.changeMembership({ type: "remove", node: target }, `remove ${target}`);
    return true;
  }

  // ---------------------------------------------------------------- helpers

  private deliver(message: PeerMessage): void {
    const host = this.hosts.get(message.to);
    if (host === undefined) return;
    if (message.type === "vote" && !message.transfer) this.elections++;
    host.deliver(message);
  }

  /** The up node that believes it leads in the highest term, if any. */
  private currentLeader(): SimHost | null {
    let best: SimHost | null = null;
    for (const host of this.hosts.values()) {
      if (!host.up || host.raft.role !== "leader") continue;
      if (best === null || host.raft.term > best.raft.term) best = host;
    }
    return best;
  }

  /** The hosts in the membership of the current leader (or of the most advanced node). */
  private members(): SimHost[] {
    const leader = this.currentLeader();
    if (leader === null) return [];
    const membership = leader.raft.membership;
    return [...membership.voters, ...membership.learners]
      .map((id) => this.hosts.get(id)!)
      .filter((host) => host !== undefined);
  }

  /**
   * An operator shuts down the nodes whose removal from the cluster is committed (the highest
   * commit index any node knows tells) and that no other node counts as a member any more. A removed node left running that never learned of its
   * removal would campaign forever: pre-vote and check-quorum keep it from disrupting the
   * cluster, but runs with both off would not recover.
   */
  private decommissionRemovedNodes(): void {
    let reference: SimHost | null = null;
    for (const host of this.hosts.values()) {
      if (host.up && (reference === null || host.raft.log.committed > reference.raft.log.committed))
        reference = host;
    }
    if (reference === null) return;
    const committed = reference.raft.membershipAt(reference.raft.log.committed);
    const up = [...this.hosts.values()].filter((host) => host.up);
    // A node being added is in some other node's latest membership, not yet in the committed one.
    const removed = up.filter(
      (host) =>
        !isMember(committed, host.id) &&
        !up.some((other) => other !== host && isMember(other.raft.membership, host.id)),
    );
    for (const host of removed) {
      this.trace(`decommission ${host.id}: its removal is committed in ${reference.id}'s log`);
      host.crash(false);
    }
  }

  private scheduleLogMatchingCheck(): void {
    this.queue.after(500, () => {
      const nodes: RaftNode[] = [];
      for (const host of this.hosts.values()) if (host.up) nodes.push(host.raft);
      this.checker.checkLogMatching(nodes);
      if (this.faultsOn) this.scheduleLogMatchingCheck();
    });
  }

  private shuffled<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.random.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  private trace(line: string): void {
    const stamped = `${this.queue.now.toFixed(1).padStart(9)} ms  ${line}`;
    this.traceBuffer.push(stamped);
    if (this.traceBuffer.length > TRACE_LINES) this.traceBuffer.shift();
    this.options.onTrace?.(stamped);
  }

  private stats(): SimStats {
    let writesAcknowledged = 0;
    let writesFailed = 0;
    let writesUnknown = 0;
    let readsOk = 0;
    let readsFailed = 0;
    for (const op of this.history) {
      if (op.kind === "write") {
        if (op.outcome === "ok") writesAcknowledged++;
        else if (op.outcome === "fail") writesFailed++;
        else writesUnknown++;
      } else if (op.outcome === "ok") readsOk++;
      else readsFailed++;
    }
    let finalTerm = 0;
    for (const host of this.hosts.values()) if (host.up) finalTerm = Math.max(finalTerm, host.raft.term);
    return {
      nodes: this.nodeCount,
      simulatedMs: Math.round(this.queue.now),
      events: this.events,
      faults: { ...this.faults },
      writesAcknowledged,
      writesFailed,
      writesUnknown,
      readsOk,
      readsFailed,
      operationsChecked: this.operationsChecked,
      leaderElections: this.elections,
      finalTerm,
      messages: { ...this.network.stats },
      checks: { ...this.checker.stats },
    };
  }
}
