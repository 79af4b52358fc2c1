/**
 * A simulated juno node process: the production ready loop (JunoNode) with the production
 * modules and controllers, plus the simulator's key-value module for client load, run on a
 * simulated clock, disk and network. A crash throws the process away; its disk stays.
 */

import { workflowsState, type WorkflowsOptions, type WorkflowsState } from "../../src/workflows/index.js";
import {
  agentsState,
  registerCommand,
  type AgentsModule,
  type AgentsOptions,
  type Registration,
} from "../../src/agents/index.js";
import type { BeatAnswer } from "../../src/agents/heartbeats.js";
import { nodeModules } from "../../src/modules.js";
import type { Command } from "../../src/control/index.js";
import type { SubmitResult } from "../../src/runtime/requests.js";
import { tasksState, type TasksOptions, type TasksState } from "../../src/tasks/index.js";
import {
  AssertionError,
  type ConfigChange,
  type NodeId,
  type RaftNode,
  type RaftOptions,
  type SeededRandom,
} from "../../src/raft/index.js";
import type { Clock, TimerHandle } from "../../src/runtime/clock.js";
import type { NodeErrorCode } from "../../src/runtime/errors.js";
import { JunoNode, type LoopBugs } from "../../src/runtime/node.js";
import type { PeerMessage } from "../../src/transport/peer-message.js";
import { SimViolation, type DurableView, type SafetyChecker } from "./checkers.js";
import { SimDisk, SimStorage } from "./disk.js";
import type { EventQueue } from "./event-queue.js";
import { kvModule, putCommand } from "./kv-module.js";

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
  readonly send: (message: PeerMessage) => void;
  readonly trace: (line: string) => void;
  readonly raftOptions: Omit<RaftOptions, "id" | "random">;
  readonly bugs: HostBugs;
  /** Called when this node becomes leader (fault profiles react to it). */
  readonly onBecameLeader: (id: NodeId) => void;
  /** Simulated fsync latency for one Ready. */
  readonly fsyncMs: () => number;
  /** Until when every node's store is unreachable (a shared PostgreSQL server down); 0 if never. */
  readonly sharedOutageUntil?: () => number;
  /** The agents module's settings (the agent scenarios). */
  readonly agents?: AgentsOptions;
  readonly tasks?: TasksOptions;
  readonly workflows?: WorkflowsOptions;
}

/** Refusals that guarantee the proposal never entered the log. */
const DEFINITE: ReadonlySet<NodeErrorCode> = new Set<NodeErrorCode>([
  "not_leader",
  "no_leader",
  "overloaded",
  "proposal_dropped",
  "shutting_down",
  "entry_too_large",
  "uncommitted_limit",
  "leadership_transfer_in_progress",
  "invalid_command",
]);

/** How long the node lets a request wait; clients give up a little later (CLIENT_TIMEOUT_MS). */
const REQUEST_TIMEOUT_MS = 2_500;
/** Simulated wall-clock time starts here, so timestamps look like real ones. */
const EPOCH_MS = 1_764_547_200_000;

/** One simulated node process. */
export class SimHost {
  readonly disk = new SimDisk();
  up = false;
  /** Multiplies every timer of the node: clocks of different nodes run at different rates. */
  clockRate = 1;
  /** Until when this node's store is unreachable (simulated ms). */
  storeOutageUntil = 0;
  private node: JunoNode | null = null;
  /** The running process's agents module (its heartbeat relay). */
  private agents: AgentsModule | null = null;
  private storage: SimStorage | null = null;
  private deliverTo: ((message: PeerMessage) => void) | null = null;
  private incarnation = 0;
  private lastRole = "follower";
  private lastCommit = 0;

  constructor(
    readonly id: NodeId,
    private readonly env: HostEnvironment,
    /** The founding voters if this node bootstraps the cluster, else null (it joins). */
    private readonly founders: readonly NodeId[] | null,
    private readonly tickMs: number,
  ) {}

  /** The Raft core of the running process. */
  get raft(): RaftNode {
    if (this.node === null) throw new Error(`${this.id} is down`);
    return this.node.raft;
  }

  /** The highest index this node's state machine has applied. */
  get appliedIndex(): number {
    return this.node?.view.appliedIndex() ?? 0;
  }

  /** Boots (or reboots) the node from what its disk holds. */
  start(): void {
    const incarnation = ++this.incarnation;
    this.up = true;
    const alive = (): boolean => this.incarnation === incarnation;
    const storage = new SimStorage(this.disk, {
      queue: this.env.queue,
      alive,
      fsyncMs: () => this.env.fsyncMs(),
      outageUntil: () => Math.max(this.storeOutageUntil, this.env.sharedOutageUntil?.() ?? 0),
      onDurable: (hardStates) => {
        for (const hardState of hardStates) this.env.checker.onHardStatePersisted(this.id, hardState);
      },
      forgetVote: this.env.bugs.forgetVoteOnRestart === true,
    });
    const { registry, agents } = nodeModules(
      { self: this.id, advertise: { raft: `sim:${this.id}`, http: null } },
      [kvModule],
      this.env.agents ?? {},
      this.env.tasks ?? {},
      this.env.workflows ?? {},
    );
    this.agents = agents;
    const bugs: LoopBugs = { sendBeforePersist: this.env.bugs.sendBeforePersist === true };
    const node = this.guard(
      () =>
        new JunoNode({
          id: this.id,
          registry,
          storage,
          transport: {
            send: (messages) => {
              if (!alive()) return;
              for (const message of messages) this.sendMessage(message);
            },
            onMessage: (handler) => {
              this.deliverTo = handler;
            },
          },
          founders: this.founders,
          clock: this.clock(alive),
          raft: this.env.raftOptions,
          tickMs: this.tickMs,
          seed: this.env.random.nextU32(),
          requestTimeoutMs: REQUEST_TIMEOUT_MS,
          // Small slices, so snapshots are written and read across several turns here too.
          slice: { rows: 50, tableRows: 20, bytes: 4096 },
          observer: {
            onApplied: (entry, hash) => this.env.checker.onApplied(this.id, entry, hash),
            onSnapshotInstalled: (index, hash) => {
              this.env.checker.onSnapshotInstalled(this.id, index, hash);
              this.env.trace(`${this.id} installed snapshot at ${index}`);
            },
          },
          bugs,
        }),
    );
    this.node = node;
    this.storage = storage;
    this.lastRole = "follower";
    this.lastCommit = node.raft.log.baseIndex;
    node.view.onChange(() => this.guard(() => this.observe()));
    this.guard(() => node.start());
  }

  /**
   * Kills the process. The write whose fsync is in progress is lost unless `syncedBeforeCrash`
   * (the fsync finished but nothing was sent or applied yet), and so is every write since the
   * last fsync.
   */
  crash(syncedBeforeCrash: boolean): void {
    if (!this.up) return;
    this.storage?.crash(syncedBeforeCrash);
    this.incarnation++;
    this.up = false;
    // Clients of a crashed node never hear back: nothing of the process runs again.
    this.node = null;
    this.agents = null;
    this.storage = null;
    this.deliverTo = null;
  }

  /** A message arrives from the network. */
  deliver(message: PeerMessage): void {
    if (!this.up || this.deliverTo === null) return;
    const deliver = this.deliverTo;
    this.guard(() => deliver(message));
  }

  /** A client asks this node to write. */
  write(command: WriteCommand, done: (outcome: WriteOutcome) => void): void {
    const node = this.node;
    if (node === null) return;
    node.submit({ kind: putCommand.kind, body: command }, (result) => {
      if (result.ok) {
        if (result.outcome.kind === "refused")
          throw new SimViolation("kv", `a write was refused: ${result.outcome.message}`);
        return done({ ok: true, index: result.index });
      }
      const definite = DEFINITE.has(result.error.code);
      this.env.trace(
        `  ${this.id}: write ${command.writeId} failed (${result.error.code}${definite ? ", definite" : ""})`,
      );
      done({ ok: false, definite, leaderHint: result.error.leaderId });
    });
  }

  /** An agent registers through this node; `done` hears the id, or null when it failed. */
  registerAgent(registration: Registration, done: (id: string | null) => void): void {
    const node = this.node;
    if (node === null) return;
    node.submit({ kind: registerCommand.kind, body: registration }, (result) => {
      if (result.ok && result.outcome.kind === "ok") {
        const value = result.outcome.value as { agent: { id: string } };
        return done(value.agent.id);
      }
      done(null);
    });
  }

  /** An agent beats through this node; `done` hears whether a leader took it (never, if this node crashes). */
  beatAgent(id: string, done: (answer: BeatAnswer) => void): void {
    const agents = this.agents;
    if (agents === null) return;
    agents.relay.take(id, { activeTasks: null, draining: null, overloaded: null }, done);
  }

  /** Proposes any command through this node; `done` hears how it ended (never, if this node crashes). */
  submit(command: Command, done: (result: SubmitResult) => void): void {
    this.node?.submit(command, done);
  }

  /** This node's replica of the tasks (null when it is down). */
  tasks(): TasksState | null {
    return this.node?.view.state(tasksState) ?? null;
  }

  /** This node's replica of the workflows (null when it is down). */
  workflows(): WorkflowsState | null {
    return this.node?.view.state(workflowsState) ?? null;
  }

  /** The replicated status of agent `id` on this node (null when it is down or the agent unknown). */
  agentStatus(id: string): string | null {
    return this.node?.view.state(agentsState).get(id)?.status ?? null;
  }

  /** Whether this node is up and leads with its controllers running. */
  leads(): boolean {
    return this.node?.isLeader() === true;
  }

  /** A client asks this node for a linearizable read of `key`. */
  read(key: string, done: (outcome: ReadOutcome) => void): void {
    const node = this.node;
    if (node === null) return;
    node.read((error) => {
      if (error !== null) return done({ ok: false });
      done({ ok: true, writeId: node.view.state(kvModule).values.get(key) ?? 0 });
    });
  }

  /** An operator asks for a membership change; refusals are traced. */
  changeMembership(change: ConfigChange, what: string): void {
    this.node?.submitMembershipChange(change, (result) => {
      if (!result.ok && result.error.code !== "shutting_down")
        this.env.trace(`  ${what} refused: ${result.error.code}`);
    });
  }

  /** An operator asks the leader to hand leadership to `target`. */
  transferLeadership(target: NodeId): void {
    this.node?.requestTransfer(target, (error) => {
      if (error !== null) this.env.trace(`  transfer to ${target} refused: ${error.code}`);
    });
  }

  private clock(alive: () => boolean): Clock {
    const queue = this.env.queue;
    return {
      now: () => EPOCH_MS + queue.now,
      setTimeout: (run, delayMs): TimerHandle => {
        const handle = { cancelled: false };
        queue.after(delayMs * this.clockRate, () => {
          if (!handle.cancelled && alive()) this.guard(run);
        });
        return handle;
      },
      clearTimeout: (handle) => {
        (handle as { cancelled: boolean }).cancelled = true;
      },
      defer: (run) =>
        queue.after(0, () => {
          if (alive()) this.guard(run);
        }),
    };
  }

  private sendMessage(message: PeerMessage): void {
    this.env.checker.onMessageSent(message, this.durableView);
    this.env.send(message);
  }

  /** What the checkers may ask of this node's disk. */
  private readonly durableView: DurableView = {
    hardState: () => this.disk.durable.hardState,
    termOnDisk: (index) => this.disk.termOnDisk(index),
  };

  /** Reports role and commit changes to the checkers. */
  private observe(): void {
    if (this.node === null) return;
    const raft = this.node.raft;
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

  /** Runs node code, turning its assertion failures into simulation violations. */
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
