/**
 * The agents scenario of the deterministic simulator: a juno cluster (the production ready loop
 * and agents module, on the simulated clock, disk and network) and simulated agents that
 * register, beat on schedule to any node (failing over to another node like the SDK does),
 * crash and pause, while juno nodes crash, restart and are cut off. Checkers:
 *
 *   - no false positive: an agent that has been beating on schedule for a whole failure timeout
 *     is never marked suspect or failed by a committed entry, across leader changes and partitions;
 *   - detection: a crashed agent is failed within FAILURE_DETECTION_TIMEOUT plus one interval when
 *     one leader led throughout, and every crashed agent is failed once the faults stop;
 *   - recovery: once the faults stop, every agent that beats is healthy again on every node;
 *   - and the Raft safety checkers of the main simulator, all along.
 */

import { decodeEnvelope } from "../../src/control/index.js";
import type { Registration } from "../../src/agents/index.js";
import type { AgentBugs } from "../../src/agents/health-controller.js";
import type { TaskBugs } from "../../src/tasks/index.js";
import type { WorkflowBugs } from "../../src/workflows/index.js";
import { SeededRandom, type Entry, type NodeId } from "../../src/raft/index.js";
import type { PeerMessage } from "../../src/transport/peer-message.js";
import { SafetyChecker, SimViolation } from "./checkers.js";
import { EventQueue } from "./event-queue.js";
import { SimHost } from "./host.js";
import { CALM, SimNetwork } from "./network.js";
import { TaskWorkload } from "./tasks-workload.js";
import { WorkflowWorkload } from "./workflows-workload.js";

const TICK_MS = 100;
const HEARTBEAT_MS = 1_000;
const FAILURE_TIMEOUT_MS = 5_000;
/** An agent gives up on one node after this long and tries the next. */
const BEAT_ATTEMPT_TIMEOUT_MS = 800;
const TRACE_LINES = 2_000;

/** What to simulate. */
export interface AgentSimOptions {
  readonly seed: number;
  readonly faultPhaseMs?: number;
  /** Run a deliberately broken agents module (its checkers must catch it). */
  readonly bugs?: AgentBugs;
  /** Run a deliberately broken tasks module (the task checkers must catch it). */
  readonly taskBugs?: TaskBugs;
  /** Run a deliberately broken workflows module (the workflow checkers must catch it). */
  readonly workflowBugs?: WorkflowBugs;
  readonly onTrace?: (line: string) => void;
}

/** The outcome of one seed. */
export interface AgentSimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violation: SimViolation | null;
  readonly stats: {
    nodes: number;
    agents: number;
    beatsSent: number;
    beatsTaken: number;
    transitions: number;
    tasksAccepted: number;
    tasksCompleted: number;
    workflowsAccepted: number;
    crashedAgents: number;
    detectionsChecked: number;
    /** Placements checked against the registry of the node that applied them. */
    placementsChecked: number;
    leaderChanges: number;
    faults: Record<string, number>;
  };
  readonly trace: readonly string[];
}

type AgentPhase = "live" | "paused" | "crashed";

interface SimAgent {
  readonly number: number;
  id: string | null;
  phase: AgentPhase;
  /** Since when it has been live (registered or resumed): beats on schedule from then on. */
  liveSinceMs: number;
  preferred: NodeId | null;
  attempt: number;
}

/** Runs one seed; never throws for a violation: it is in the result. */
export function runAgentSimulation(options: AgentSimOptions): AgentSimResult {
  return new AgentSimulation(options).run();
}

/** Watches committed transitions for false positives, and every node's placements after each entry. */
class TransitionChecker extends SafetyChecker {
  private readonly seen = new Set<number>();
  transitions = 0;

  constructor(
    private readonly judge: (agentId: string, status: string, index: number) => void,
    private readonly afterApply: (nodeId: NodeId, index: number) => void,
    private readonly onInstalled: (nodeId: NodeId) => void,
  ) {
    super();
  }

  override onSnapshotInstalled(nodeId: NodeId, index: number, hash: number): void {
    super.onSnapshotInstalled(nodeId, index, hash);
    this.onInstalled(nodeId);
  }

  override onApplied(nodeId: NodeId, entry: Entry, hashAfter: number): void {
    super.onApplied(nodeId, entry, hashAfter);
    if (entry.type === "normal") this.afterApply(nodeId, entry.index);
    if (entry.type !== "normal" || this.seen.has(entry.index)) return;
    this.seen.add(entry.index);
    let envelope;
    try {
      envelope = decodeEnvelope(entry.data);
    } catch {
      return;
    }
    if (envelope.kind !== "agents.health") return;
    const body = envelope.body as { changes: { id: string; status: string }[] };
    for (const change of body.changes) {
      this.transitions++;
      this.judge(change.id, change.status, entry.index);
    }
  }
}

class AgentSimulation {
  private readonly random: SeededRandom;
  private readonly queue = new EventQueue();
  private readonly checker: TransitionChecker;
  private readonly network: SimNetwork;
  private readonly hosts = new Map<NodeId, SimHost>();
  /** Per node: the replica last looked at, and the attempts seen holding an agent there. */
  private readonly placements = new Map<NodeId, { state: object; seen: Set<string>; version: number }>();
  private placementsChecked = 0;
  private readonly agents: SimAgent[] = [];
  private readonly byId = new Map<string, SimAgent>();
  private readonly traceBuffer: string[] = [];
  private readonly faults: Record<string, number> = {};
  private readonly nodeIds: NodeId[];
  private readonly faultPhaseMs: number;
  private readonly workload: TaskWorkload;
  private readonly workflows: WorkflowWorkload;
  private faultsOn = true;
  private leaderId: NodeId | null = null;
  private leaderTerm = 0;
  private leaderSinceMs = 0;
  private leaderChanges = 0;
  private beatsSent = 0;
  private beatsTaken = 0;
  private detectionsChecked = 0;
  /** When a juno node last crashed or was cut off: detection is only promised on a steady cluster. */
  private lastNodeFaultMs = -Infinity;

  constructor(private readonly options: AgentSimOptions) {
    this.random = new SeededRandom(options.seed);
    const r = this.random;
    const nodeCount = r.pick([3, 5]);
    this.nodeIds = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
    this.faultPhaseMs = options.faultPhaseMs ?? 40_000;
    this.checker = new TransitionChecker(
      (id, status, index) => this.judge(id, status, index),
      (nodeId, index) => this.checkPlacements(nodeId, index),
      (nodeId) => this.placements.delete(nodeId),
    );
    this.network = new SimNetwork(this.queue, new SeededRandom(r.nextU32()), (message) =>
      this.deliver(message),
    );
    this.network.conditions = { ...CALM, lossRate: r.pick([0, 0.01, 0.03]) };
    const environment = {
      queue: this.queue,
      random: new SeededRandom(r.nextU32()),
      checker: this.checker,
      send: (message: PeerMessage) => this.network.send(message),
      trace: (line: string) => this.trace(line),
      raftOptions: { electionTicks: 10, heartbeatTicks: 1, preVote: true, checkQuorum: true },
      bugs: {},
      onBecameLeader: (id: NodeId) => this.onBecameLeader(id),
      fsyncMs: () => 1 + r.float() * 3,
      agents: {
        heartbeatIntervalMs: HEARTBEAT_MS,
        failureTimeoutMs: FAILURE_TIMEOUT_MS,
        healthCheckIntervalMs: 2_000,
        checks: null,
        ...(options.bugs === undefined ? {} : { bugs: options.bugs }),
      },
      tasks: {
        settings: { pickupTimeoutMs: 5_000 },
        ...(options.taskBugs === undefined ? {} : { bugs: options.taskBugs }),
      },
      workflows: options.workflowBugs === undefined ? {} : { bugs: options.workflowBugs },
    };
    for (const id of this.nodeIds) this.hosts.set(id, new SimHost(id, environment, this.nodeIds, TICK_MS));
    this.workload = new TaskWorkload({
      seed: options.seed,
      queue: this.queue,
      random: new SeededRandom(r.nextU32()),
      hosts: () => [...this.hosts.values()],
      trace: (line) => this.trace(line),
    });
    this.workflows = new WorkflowWorkload(
      {
        seed: options.seed,
        queue: this.queue,
        random: new SeededRandom(r.nextU32()),
        hosts: () => [...this.hosts.values()],
        trace: (line) => this.trace(line),
      },
      () => this.agents,
      (agent) => teamOf(agent.number),
    );
  }

  run(): AgentSimResult {
    let violation: SimViolation | null = null;
    try {
      for (const host of this.hosts.values()) host.start();
      const agentCount = 4 + this.random.int(5);
      for (let number = 1; number <= agentCount; number++) this.startAgent(number);
      this.queue.after(3_000, () => this.scheduleFault());
      this.workload.start();
      this.workflows.start();
      this.runUntil(this.faultPhaseMs);
      this.faultsOn = false;
      this.workload.stopSubmitting();
      this.workflows.stopCreating();
      this.runLivenessPhase();
    } catch (error) {
      if (!(error instanceof SimViolation)) throw error;
      violation = error;
      this.trace(`VIOLATION ${error.message}`);
    }
    return {
      seed: this.options.seed,
      ok: violation === null,
      violation,
      stats: {
        nodes: this.nodeIds.length,
        agents: this.agents.length,
        beatsSent: this.beatsSent,
        beatsTaken: this.beatsTaken,
        transitions: this.checker.transitions,
        tasksAccepted: this.workload.acceptedCount,
        tasksCompleted: this.workload.completed,
        workflowsAccepted: this.workflows.acceptedCount,
        crashedAgents: this.agents.filter((a) => a.phase === "crashed").length,
        detectionsChecked: this.detectionsChecked,
        placementsChecked: this.placementsChecked,
        leaderChanges: this.leaderChanges,
        faults: this.faults,
      },
      trace: [...this.traceBuffer],
    };
  }

  // ---------------------------------------------------------------- checkers

  /** A committed transition: suspect or failed for an agent on schedule all along is a false positive. */
  /**
   * No task is placed on an agent the committed state calls failed: after each entry a node
   * applies, every attempt newly holding an agent there (assigned or running under an attempt
   * this node had not seen) must be on an agent that node's registry, as of that same entry, has
   * and does not call failed. The first look at a replica (a start, a restart, an installed
   * snapshot) only learns what it holds: those attempts were placed before it looked.
   */
  private checkPlacements(nodeId: NodeId, index: number): void {
    const host = this.hosts.get(nodeId);
    const tasks = host?.tasks() ?? null;
    if (host === undefined || tasks === null) return;
    let record = this.placements.get(nodeId);
    const first = record === undefined || record.state !== tasks;
    if (first) this.placements.set(nodeId, (record = { state: tasks, seen: new Set(), version: -1 }));
    // An entry that changed no task placed none.
    if (record!.version === tasks.version) return;
    record!.version = tasks.version;
    for (const task of tasks.liveTasks()) {
      if (task.agentId === null || (task.status !== "assigned" && task.status !== "running")) continue;
      const key = `${task.id}#${task.attempt}`;
      if (record!.seen.has(key)) continue;
      record!.seen.add(key);
      if (first) continue;
      this.placementsChecked++;
      const status = host.agentStatus(task.agentId);
      if (status === null || status === "failed")
        throw new SimViolation(
          "task placed on a failed agent",
          `entry ${index} on ${nodeId}: task ${task.id} attempt ${task.attempt} went to agent ${task.agentId}, which the committed registry calls ${status ?? "unknown (deregistered)"}`,
        );
    }
  }

  private judge(agentId: string, status: string, index: number): void {
    const agent = this.byId.get(agentId);
    if (agent === undefined) return;
    this.trace(`  entry ${index}: agent ${agent.number} -> ${status}`);
    if (status !== "suspect" && status !== "failed") return;
    const onSchedule =
      agent.phase === "live" && this.queue.now - agent.liveSinceMs >= FAILURE_TIMEOUT_MS + 2 * HEARTBEAT_MS;
    if (onSchedule)
      throw new SimViolation(
        "agent false positive",
        `agent ${agent.number} (${agentId}) marked ${status} at entry ${index} though it has beaten on schedule since ${agent.liveSinceMs.toFixed(0)} ms (now ${this.queue.now.toFixed(0)} ms)`,
      );
  }

  /** After a crash: with one leader throughout, the agent must be failed by the deadline. */
  private checkDetection(agent: SimAgent, crashedAtMs: number, term: number, leader: NodeId | null): void {
    const host = leader === null ? undefined : this.hosts.get(leader);
    const steady = this.lastNodeFaultMs < crashedAtMs - FAILURE_TIMEOUT_MS;
    const sameLeader =
      steady &&
      leader !== null &&
      this.leaderId === leader &&
      this.leaderTerm === term &&
      this.leaderSinceMs <= crashedAtMs &&
      host?.up === true &&
      host.leads();
    if (!sameLeader) return;
    this.detectionsChecked++;
    const status = host.agentStatus(agent.id!);
    if (status !== "failed")
      throw new SimViolation(
        "agent detection",
        `agent ${agent.number} crashed at ${crashedAtMs.toFixed(0)} ms but is ${status} on leader ${leader} at ${this.queue.now.toFixed(0)} ms (deadline: failure timeout plus one interval)`,
      );
  }

  private runLivenessPhase(): void {
    this.trace("faults stop: healing the network, restarting crashed nodes, resuming paused agents");
    this.network.heal();
    this.network.conditions = { ...CALM };
    for (const host of this.hosts.values()) if (!host.up) host.start();
    for (const agent of this.agents) if (agent.phase === "paused") this.resume(agent);
    // A leader emerges, grants its grace, and settles every status.
    const settleMs = 3_000 + FAILURE_TIMEOUT_MS + 4 * HEARTBEAT_MS;
    this.runUntil(this.queue.now + settleMs);
    // Then the tasks drain: released from crashed agents, retried, completed by live ones, and
    // the workflows' later steps after them (a chain of eight takes a while): 15 s at least, and
    // on until nothing a live agent could take is left, for at most 45 s more.
    this.runUntil(this.queue.now + 15_000);
    const servable = (team: string | null): boolean =>
      team === null ||
      this.agents.some((agent) => agent.phase !== "crashed" && teamOf(agent.number) === team);
    for (let waited = 0; waited < 45_000 && !this.workload.drained(servable); waited += 1_000)
      this.runUntil(this.queue.now + 1_000);
    this.runUntil(this.queue.now + 1_000);
    this.workload.check(servable);
    this.workflows.check();
    for (const agent of this.agents) {
      if (agent.id === null)
        throw new SimViolation("agent liveness", `agent ${agent.number} never managed to register`);
      const want = agent.phase === "crashed" ? "failed" : "healthy";
      for (const host of this.hosts.values()) {
        const status = host.agentStatus(agent.id);
        if (status !== want)
          throw new SimViolation(
            "agent liveness",
            `agent ${agent.number} (${agent.phase}) is ${status} on ${host.id} ${settleMs} ms after the faults stopped; expected ${want}`,
          );
      }
    }
  }

  // ---------------------------------------------------------------- agents

  private startAgent(number: number): void {
    const agent: SimAgent = { number, id: null, phase: "live", liveSinceMs: 0, preferred: null, attempt: 0 };
    this.agents.push(agent);
    this.queue.after(this.random.int(500), () => this.register(agent));
  }

  private register(agent: SimAgent): void {
    if (agent.id !== null) return;
    const host = this.randomUpHost();
    const retry = (): void => this.queue.after(500, () => this.register(agent));
    if (host === null) return retry();
    const registration: Registration = {
      id: uuidFor(this.options.seed, agent.number),
      name: `agent-${agent.number}`,
      endpoint: `http://10.0.0.${agent.number}:8080`,
      team: teamOf(agent.number),
      skills: ["work"],
      capacity: 2,
      weight: null,
      labels: [],
      metadata: null,
      health_check: { type: "none", url: null, success_before_passing: null, failures_before_critical: null },
      agent_card_url: null,
      source: "custom",
      source_key: null,
    };
    let answered = false;
    host.registerAgent(registration, (id) => {
      answered = true;
      if (id === null || agent.id !== null) return retry();
      agent.id = id;
      agent.liveSinceMs = this.queue.now;
      this.byId.set(id, agent);
      this.trace(`agent ${agent.number} registered as ${id} through ${host.id}`);
      this.scheduleBeat(agent);
      this.workload.startAgent(agent);
    });
    this.queue.after(3_000, () => {
      if (!answered) this.register(agent);
    });
  }

  private scheduleBeat(agent: SimAgent): void {
    const jitter = HEARTBEAT_MS * (0.9 + this.random.float() * 0.2);
    this.queue.after(jitter, () => {
      if (agent.phase === "crashed") return;
      if (agent.phase === "live") this.beat(agent, this.nodeIds.length);
      this.scheduleBeat(agent);
    });
  }

  /** One beat: to the preferred node, failing over to others like the SDK. */
  private beat(agent: SimAgent, triesLeft: number): void {
    if (triesLeft === 0 || agent.phase !== "live") return;
    const attempt = ++agent.attempt;
    const host = this.pickHost(agent);
    const next = (): void => {
      if (agent.attempt !== attempt) return;
      agent.preferred = null;
      this.beat(agent, triesLeft - 1);
    };
    if (host === null || !host.up) return next();
    this.beatsSent++;
    host.beatAgent(agent.id!, (answer) => {
      if (agent.attempt !== attempt) return;
      if (!answer.ok) {
        if (answer.code === "agent_not_found")
          throw new SimViolation("agent registry", `agent ${agent.number} is unknown to ${host.id}`);
        if (answer.leaderId !== null && answer.leaderId !== host.id) agent.preferred = answer.leaderId;
        return this.queue.after(0, next);
      }
      this.beatsTaken++;
      agent.preferred = host.id;
      agent.attempt++;
    });
    this.queue.after(BEAT_ATTEMPT_TIMEOUT_MS, next);
  }

  private pickHost(agent: SimAgent): SimHost | null {
    if (agent.preferred !== null) {
      const preferred = this.hosts.get(agent.preferred);
      if (preferred?.up === true) return preferred;
    }
    return this.randomUpHost();
  }

  private resume(agent: SimAgent): void {
    if (agent.phase !== "paused") return;
    agent.phase = "live";
    agent.liveSinceMs = this.queue.now;
    this.trace(`agent ${agent.number} resumes`);
  }

  // ---------------------------------------------------------------- faults

  private scheduleFault(): void {
    if (!this.faultsOn) return;
    this.queue.after(800 + this.random.int(2_500), () => {
      if (!this.faultsOn) return;
      this.injectFault();
      this.scheduleFault();
    });
  }

  private injectFault(): void {
    const r = this.random;
    const kind = r.pick([
      "crash_leader",
      "crash_node",
      "isolate",
      "agent_crash",
      "agent_pause",
      "agent_pause",
      "heal",
    ]);
    this.faults[kind] = (this.faults[kind] ?? 0) + 1;
    switch (kind) {
      case "crash_leader":
      case "crash_node": {
        const host = kind === "crash_leader" ? this.leaderHost() : this.randomUpHost();
        if (host === null || this.upCount() <= Math.floor(this.nodeIds.length / 2) + 1) return;
        this.trace(`fault: crash ${host.id}${kind === "crash_leader" ? " (leader)" : ""}`);
        this.lastNodeFaultMs = this.queue.now;
        host.crash(r.chance(0.5));
        this.queue.after(1_000 + r.int(4_000), () => {
          if (!host.up) {
            this.trace(`restart ${host.id}`);
            host.start();
          }
        });
        return;
      }
      case "isolate": {
        const id = r.pick(this.nodeIds);
        this.trace(`fault: isolate ${id}`);
        this.lastNodeFaultMs = this.queue.now + 6_000;
        this.network.isolate(
          id,
          this.nodeIds.filter((other) => other !== id),
        );
        this.queue.after(1_000 + r.int(5_000), () => this.network.healNode(id));
        return;
      }
      case "agent_crash": {
        const live = this.agents.filter((a) => a.phase === "live" && a.id !== null);
        if (live.length <= 2) return;
        const agent = r.pick(live);
        agent.phase = "crashed";
        const crashedAtMs = this.queue.now;
        const term = this.leaderTerm;
        const leader = this.leaderId;
        this.trace(`fault: agent ${agent.number} crashes`);
        this.queue.after(FAILURE_TIMEOUT_MS + HEARTBEAT_MS, () =>
          this.checkDetection(agent, crashedAtMs, term, leader),
        );
        return;
      }
      case "agent_pause": {
        const live = this.agents.filter((a) => a.phase === "live" && a.id !== null);
        if (live.length === 0) return;
        const agent = r.pick(live);
        agent.phase = "paused";
        const pauseMs = r.pick([1_500, 4_000, 8_000]);
        this.trace(`fault: agent ${agent.number} pauses for ${pauseMs} ms`);
        this.queue.after(pauseMs, () => this.resume(agent));
        return;
      }
      default:
        this.trace("fault: heal");
        this.network.heal();
    }
  }

  // ---------------------------------------------------------------- plumbing

  private onBecameLeader(id: NodeId): void {
    const host = this.hosts.get(id)!;
    this.leaderId = id;
    this.leaderTerm = host.raft.term;
    this.leaderSinceMs = this.queue.now;
    this.leaderChanges++;
  }

  private deliver(message: PeerMessage): void {
    this.hosts.get(message.to)?.deliver(message);
  }

  private leaderHost(): SimHost | null {
    for (const host of this.hosts.values()) if (host.up && host.leads()) return host;
    return null;
  }

  private randomUpHost(): SimHost | null {
    const up = [...this.hosts.values()].filter((host) => host.up);
    return up.length === 0 ? null : this.random.pick(up);
  }

  private upCount(): number {
    return [...this.hosts.values()].filter((host) => host.up).length;
  }

  private runUntil(untilMs: number): void {
    while (this.queue.runNext(untilMs)) {
      // Every event runs the production code; the checkers throw on a violation.
    }
    this.queue.now = Math.max(this.queue.now, untilMs);
  }

  private trace(line: string): void {
    const stamped = `${this.queue.now.toFixed(1).padStart(9)} ${line}`;
    this.options.onTrace?.(stamped);
    this.traceBuffer.push(stamped);
    if (this.traceBuffer.length > TRACE_LINES) this.traceBuffer.shift();
  }
}

/** A deterministic UUID per seed and agent (the simulator draws no real randomness). */
function uuidFor(seed: number, number: number): string {
  const hex = (seed * 1_000 + number).toString(16).padStart(12, "0").slice(-12);
  return `00000000-0000-4000-8000-${hex}`;
}

/** The team of agent `number`: even ones are blue, odd ones green. */
function teamOf(number: number): string {
  return number % 2 === 0 ? "blue" : "green";
}
