/**
 * Tasks in the agents scenario: a submitter hands tasks to random nodes (retrying an unanswered
 * submission with the same idempotency key, as the SDK does), and every simulated agent takes
 * its assigned tasks through any node, works on them for a while and reports them complete,
 * retrying a report whose answer was lost. Agents crash and pause with the scenario's faults, so
 * tasks are released, expire and move between agents, across leader changes and partitions.
 *
 * Checkers, once the faults have stopped and the work has drained:
 *   - nothing accepted is lost: every task the submitter heard accepted is on every node, and
 *     every task on any node ended completed (live agents keep working until nothing is left);
 *   - exactly once: each task was acknowledged complete exactly once, and for the attempt the
 *     state says is the one that completed (a stale attempt was never counted);
 *   - one truth: every node holds the same tasks, field for field.
 *   - never on a failed agent: after every entry each node applies, an attempt newly holding an
 *     agent there is on one that node's committed registry has and does not call failed (the
 *     scenario's checker, agents-sim.ts; the broken variant place-on-failed proves it bites).
 * The production code also asserts as it applies that no task is ever placed on an agent the
 * committed registry does not call healthy, nor past an agent's capacity; a failed assertion ends
 * the seed.
 */

import {
  completeCommand,
  reportCommand,
  startCommand,
  submitCommand,
  type ReportApplied,
  type SubmitBody,
} from "../../src/tasks/index.js";
import type { SeededRandom } from "../../src/raft/index.js";
import { SimViolation } from "./checkers.js";
import type { EventQueue } from "./event-queue.js";
import type { SimHost } from "./host.js";

/** What the workload knows of one simulated agent. */
export interface WorkloadAgent {
  readonly number: number;
  readonly id: string | null;
  readonly phase: "live" | "paused" | "crashed";
}

export interface WorkloadContext {
  readonly seed: number;
  readonly queue: EventQueue;
  readonly random: SeededRandom;
  readonly hosts: () => readonly SimHost[];
  readonly trace: (line: string) => void;
}

const POLL_MS = 300;
const SUBMIT_EVERY_MS = 400;
/** An unanswered request is asked again (through another node) after this long. */
const RETRY_MS = 1_500;

export class TaskWorkload {
  /** Accepted task ids, by the idempotency key they were submitted under. */
  private readonly accepted = new Map<string, string>();
  /** Each task's acknowledged completions (attempt numbers). */
  private readonly completions = new Map<string, number[]>();
  /** Per agent, the attempts it is working on. */
  private readonly working = new Map<number, Map<string, number>>();
  private submitting = true;
  private submitted = 0;
  completed = 0;

  constructor(private readonly context: WorkloadContext) {}

  get acceptedCount(): number {
    return this.accepted.size;
  }

  /** Submits a task now and then until stop(). */
  start(): void {
    this.context.queue.after(1_000, () => this.submitLoop());
  }

  stopSubmitting(): void {
    this.submitting = false;
  }

  /** Starts an agent's poll loop once it is registered. */
  startAgent(agent: WorkloadAgent): void {
    this.working.set(agent.number, new Map());
    this.context.queue.after(this.context.random.int(POLL_MS), () => this.poll(agent));
  }

  // ---------------------------------------------------------------- submitter

  private submitLoop(): void {
    if (!this.submitting) return;
    const n = ++this.submitted;
    const r = this.context.random;
    const body: SubmitBody = {
      id: uuidOf(this.context.seed, 0x100000 + n),
      task_type: "work",
      priority: r.int(10),
      data: { n },
      team: r.pick(["red", "blue", "green"]),
      requirements: { skills: ["work"], team: null, labels: [] },
      affinity_key: null,
      strategy: r.pick(["least_connections", "round_robin", "weighted_round_robin"] as const),
      idempotency_key: `task-${n}`,
      timeout_ms: r.chance(0.3) ? 4_000 : null,
      schedule_to_start_ms: null,
      max_attempts: 50,
      backoff: { initial_ms: 100, multiplier: 2, max_ms: 1_000, jitter: 0.5 },
      workflow_id: null,
    };
    this.submit(body);
    this.context.queue.after(SUBMIT_EVERY_MS * (0.5 + r.float()), () => this.submitLoop());
  }

  private submit(body: SubmitBody): void {
    const host = this.anyUpHost();
    const again = (): void => this.context.queue.after(RETRY_MS, () => this.submit(body));
    if (host === null) return again();
    let answered = false;
    host.submit({ kind: submitCommand.kind, body }, (result) => {
      if (answered) return;
      answered = true;
      if (!result.ok || result.outcome.kind !== "ok") return again();
      const { task } = result.outcome.value as { task: { id: string } };
      const known = this.accepted.get(body.idempotency_key!);
      if (known !== undefined && known !== task.id)
        throw new SimViolation(
          "task idempotency",
          `key ${body.idempotency_key} answered task ${task.id}, earlier ${known}`,
        );
      this.accepted.set(body.idempotency_key!, task.id);
    });
    this.context.queue.after(RETRY_MS * 2, () => {
      if (!answered) {
        answered = true;
        this.submit(body);
      }
    });
  }

  // ---------------------------------------------------------------- agents

  private poll(agent: WorkloadAgent): void {
    if (agent.phase === "crashed") return;
    const next = (): void => this.context.queue.after(POLL_MS, () => this.poll(agent));
    if (agent.phase === "paused" || agent.id === null) return next();
    const host = this.anyUpHost();
    const tasks = host?.tasks();
    if (host === null || tasks === null || tasks === undefined) return next();
    const working = this.working.get(agent.number)!;
    const offered: { id: string; attempt: number }[] = [];
    for (const id of tasks.heldBy(agent.id)) {
      const task = tasks.get(id);
      if (task === undefined || working.get(id) === task.attempt) continue;
      // Like the poll route: a running attempt the agent does not know is delivered again.
      if (task.status === "running") this.begin(agent, id, task.attempt);
      else if (task.status === "assigned") offered.push({ id, attempt: task.attempt });
    }
    if (offered.length === 0) return next();
    host.submit({ kind: startCommand.kind, body: { agent_id: agent.id, tasks: offered } }, (result) => {
      if (!result.ok || result.outcome.kind !== "ok" || agent.phase === "crashed") return;
      const started = new Set(result.outcome.value as string[]);
      for (const { id, attempt } of offered) if (started.has(id)) this.begin(agent, id, attempt);
    });
    next();
  }

  private begin(agent: WorkloadAgent, id: string, attempt: number): void {
    const working = this.working.get(agent.number)!;
    if (working.get(id) === attempt) return;
    working.set(id, attempt);
    this.context.queue.after(200 + this.context.random.int(1_300), () => this.finish(agent, id, attempt));
  }

  /** The work is done: report it (unless the agent died), retrying an unanswered report. */
  private finish(agent: WorkloadAgent, id: string, attempt: number, tries = 0): void {
    if (agent.phase === "crashed" || tries > 20) {
      return;
    }
    if (agent.phase === "paused") {
      this.context.queue.after(POLL_MS, () => this.finish(agent, id, attempt, tries));
      return;
    }
    const host = this.anyUpHost();
    const again = (): void =>
      this.context.queue.after(RETRY_MS, () => this.finish(agent, id, attempt, tries + 1));
    if (host === null) return again();
    let answered = false;
    // Odd agents report through tasks.report (the batched report), and take their next work with
    // it (as the SDK's busy agents do); even ones report through tasks.complete.
    const result = { by: agent.number };
    const proposal =
      agent.number % 2 === 1
        ? {
            kind: reportCommand.kind,
            body: { agent_id: agent.id!, completed: [{ id, attempt, result }], failed: [], take: 2 },
          }
        : { kind: completeCommand.kind, body: { id, agent_id: agent.id!, attempt, result } };
    host.submit(proposal, (answer) => {
      if (answered) return;
      answered = true;
      if (!answer.ok) return again();
      this.working.get(agent.number)?.delete(id);
      if (answer.outcome.kind !== "ok") return; // stale_attempt: the task moved on; nothing counted
      if (proposal.kind === reportCommand.kind) {
        const applied = answer.outcome.value as ReportApplied;
        // What the take started is this agent's now, even when its report was refused (unless it died).
        if (agent.phase !== "crashed")
          for (const task of applied.started) this.begin(agent, task.id, task.attempt);
        if (!applied.results[0]!.ok) return;
      }
      this.completed++;
      const seen = this.completions.get(id) ?? [];
      seen.push(attempt);
      this.completions.set(id, seen);
    });
    this.context.queue.after(RETRY_MS * 2, () => {
      if (!answered) {
        answered = true;
        again();
      }
    });
  }

  // ---------------------------------------------------------------- checkers

  /** After the faults stopped and the work drained (see the module comment). */
  check(servable: (team: string | null) => boolean = () => true): void {
    const hosts = this.context.hosts().filter((host) => host.up);
    const reference = hosts[0]?.tasks();
    if (reference === null || reference === undefined) return;
    const views = hosts.map((host) => {
      const tasks = host.tasks()!;
      return JSON.stringify([...tasks.ids()].map((id) => tasks.get(id)));
    });
    for (let i = 1; i < hosts.length; i++) {
      if (views[i] !== views[0])
        throw new SimViolation("task state", `${hosts[i]!.id} holds other tasks than ${hosts[0]!.id}`);
    }
    for (const [key, id] of this.accepted) {
      if (reference.get(id) === undefined)
        throw new SimViolation("task lost", `task ${id} (${key}) was accepted but is not kept`);
    }
    for (const id of reference.ids()) {
      const task = reference.get(id)!;
      // A task only agents that all crashed could take waits queued; it must never fail.
      if (!servable(task.requirements.team) && task.status === "queued") continue;
      if (task.status !== "succeeded")
        throw new SimViolation(
          "task liveness",
          `task ${id} is ${task.status} (attempt ${task.attempt}, agent ${task.agentId}, team ${task.requirements.team}, workflow ${task.workflowId}) after the work drained`,
        );
      // A report sent again after a lost answer hears ok again for the same attempt: one completion.
      const acknowledged = [...new Set(this.completions.get(id) ?? [])];
      if (acknowledged.length > 1)
        throw new SimViolation(
          "task counted twice",
          `task ${id} was acknowledged complete for attempts ${acknowledged.join(", ")}`,
        );
      if (acknowledged.length === 1 && acknowledged[0] !== task.attempt)
        throw new SimViolation(
          "task stale completion",
          `task ${id} completed attempt ${task.attempt} but attempt ${acknowledged[0]} was acknowledged`,
        );
    }
  }

  /** Whether every task the live agents can take has ended (on the first up node). */
  drained(servable: (team: string | null) => boolean): boolean {
    const tasks = this.context
      .hosts()
      .find((host) => host.up)
      ?.tasks();
    if (tasks === null || tasks === undefined) return false;
    for (const task of tasks.liveTasks()) if (servable(task.requirements.team)) return false;
    return true;
  }

  private anyUpHost(): SimHost | null {
    const up = this.context.hosts().filter((host) => host.up);
    return up.length === 0 ? null : this.context.random.pick(up);
  }
}

/** A deterministic UUID per seed and number. */
function uuidOf(seed: number, number: number): string {
  const hex = (seed * 0x1000000 + number).toString(16).padStart(12, "0").slice(-12);
  return `00000000-0000-4000-9000-${hex}`;
}
