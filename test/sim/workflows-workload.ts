/**
 * Workflows in the agents scenario: a client creates random DAG workflows (1 to 8 task steps over
 * the two teams, random dependencies on earlier steps, random trigger rules and join policies)
 * through random nodes, retrying an unanswered create with the same idempotency key. Their tasks
 * are taken and completed by the scenario's simulated agents (tasks-workload.ts) like any other
 * task, while nodes crash and are cut off and agents crash and pause.
 *
 * Checkers, once the faults have stopped and the work has drained:
 *   - nothing accepted is lost: every run the client heard created is on every node, the same;
 *   - termination: every run ended succeeded (agents never fail a task), unless its teams have no
 *     live agent left, in which case it is still running, never failed;
 *   - dependency order: no step's task was created before the dependencies its rule waits for
 *     had completed (all of them for all_success without a join, `threshold` of them otherwise),
 *     judged from the tasks' leader-stamped times, not from the engine's own bookkeeping;
 *   - exactly once: each step of a run has exactly one task that succeeded, and its output is that
 *     task's result (an effect applied twice would show as a second task or a second output).
 */

import { createCommand, type WorkflowRun } from "../../src/workflows/index.js";
import type { Task } from "../../src/tasks/index.js";
import { SimViolation } from "./checkers.js";
import type { SimHost } from "./host.js";
import type { WorkloadAgent, WorkloadContext } from "./tasks-workload.js";

const CREATE_EVERY_MS = 900;
const RETRY_MS = 1_500;
const TEAMS = ["blue", "green"] as const;
const RULES = ["all_success", "all_done", "none_failed", "one_success"] as const;

export class WorkflowWorkload {
  /** Accepted run ids by idempotency key. */
  private readonly accepted = new Map<string, string>();
  private creating = true;
  private created = 0;

  constructor(
    private readonly context: WorkloadContext,
    private readonly agents: () => readonly WorkloadAgent[],
    private readonly teamOf: (agent: WorkloadAgent) => string,
  ) {}

  get acceptedCount(): number {
    return this.accepted.size;
  }

  start(): void {
    this.context.queue.after(1_500, () => this.createLoop());
  }

  stopCreating(): void {
    this.creating = false;
  }

  private createLoop(): void {
    if (!this.creating) return;
    const n = ++this.created;
    this.create(n, this.definition(n));
    this.context.queue.after(CREATE_EVERY_MS * (0.5 + this.context.random.float()), () => this.createLoop());
  }

  /** A random DAG: each step may depend on any earlier ones, with a random rule and join. */
  private definition(n: number): unknown {
    const r = this.context.random;
    const count = 1 + r.int(8);
    const steps = [];
    for (let i = 0; i < count; i++) {
      const earlier = Array.from({ length: i }, (_, j) => `s${j}`).filter(() => r.chance(0.4));
      const join = earlier.length > 1 && r.chance(0.3) ? { join: { quorum: 1 + r.int(earlier.length) } } : {};
      steps.push({
        id: `s${i}`,
        team: r.pick(TEAMS),
        task_type: "work",
        skills: ["work"],
        depends_on: earlier,
        when: earlier.length === 0 ? "all_success" : r.pick(RULES),
        ...join,
        input: earlier.length === 0 ? { n } : { from: `{{steps.${earlier[0]!}.output.by}}` },
        retry: { max_attempts: 50, backoff: { initial_ms: 100, multiplier: 2, max_ms: 1_000 } },
      });
    }
    return { name: `sim-${n % 5}`, teams: [...TEAMS], steps };
  }

  private create(n: number, definition: unknown): void {
    const key = `wf-${n}`;
    const host = this.anyUpHost();
    const again = (): void => this.context.queue.after(RETRY_MS, () => this.create(n, definition));
    if (host === null) return again();
    let answered = false;
    const body = {
      id: uuidOf(this.context.seed, 0x200000 + n * 16 + (this.context.random.int(16) & 0xf)),
      team: "blue",
      definition,
      ref: null,
      input: {},
      execute: true,
      idempotency_key: key,
      expands_task: null,
    };
    host.submit({ kind: createCommand.kind, body }, (result) => {
      if (answered) return;
      answered = true;
      if (!result.ok) return again();
      if (result.outcome.kind !== "ok") {
        // A retry under a new id whose first try landed: the key answers the first run.
        if (result.outcome.kind === "refused" && result.outcome.code === "conflict") return again();
        throw new SimViolation("workflow create", `create ${key} refused: ${JSON.stringify(result.outcome)}`);
      }
      const { id } = result.outcome.value as { id: string };
      const known = this.accepted.get(key);
      if (known !== undefined && known !== id)
        throw new SimViolation("workflow idempotency", `key ${key} answered run ${id}, earlier ${known}`);
      this.accepted.set(key, id);
    });
    this.context.queue.after(RETRY_MS * 2, () => {
      if (!answered) {
        answered = true;
        this.create(n, definition);
      }
    });
  }

  /** After the faults stopped and the work drained (see the module comment). */
  check(): void {
    const hosts = this.context.hosts().filter((host) => host.up);
    const reference = hosts[0]?.workflows();
    const tasks = hosts[0]?.tasks();
    if (reference === null || reference === undefined || tasks === null || tasks === undefined) return;
    const views = hosts.map((host) => {
      const state = host.workflows()!;
      return JSON.stringify([...state.runs.values()].map((record) => record.run));
    });
    for (let i = 1; i < hosts.length; i++)
      if (views[i] !== views[0])
        throw new SimViolation("workflow state", `${hosts[i]!.id} holds other runs than ${hosts[0]!.id}`);
    const liveTeams = new Set(
      this.agents()
        .filter((agent) => agent.phase !== "crashed" && agent.id !== null)
        .map((agent) => this.teamOf(agent)),
    );
    const byRun = new Map<string, Task[]>();
    for (const id of tasks.ids()) {
      const task = tasks.get(id)!;
      if (task.workflowId === null) continue;
      const list = byRun.get(task.workflowId) ?? [];
      list.push(task);
      byRun.set(task.workflowId, list);
    }
    for (const [key, id] of this.accepted) {
      const record = reference.get(id);
      if (record === undefined)
        throw new SimViolation("workflow lost", `run ${id} (${key}) was accepted but is not kept`);
      const run = record.run;
      const served = run.definition.teams.every((team) => liveTeams.has(team));
      if (run.status !== "succeeded" && (served || run.status !== "running"))
        throw new SimViolation(
          "workflow liveness",
          `run ${id} (${key}) is ${run.status} after the work drained: ${JSON.stringify(run.steps.map((s) => [s.id, s.status]))}`,
        );
      checkRun(run, byRun.get(id) ?? []);
    }
  }

  private anyUpHost(): SimHost | null {
    const up = this.context.hosts().filter((host) => host.up);
    return up.length === 0 ? null : this.context.random.pick(up);
  }
}

/** Dependency order and exactly-once for one run, from its tasks. */
function checkRun(run: WorkflowRun, tasks: readonly Task[]): void {
  const byStep = new Map<string, Task[]>();
  for (const task of tasks) {
    const step = task.idempotencyKey!.split(":")[1]!;
    const list = byStep.get(step) ?? [];
    list.push(task);
    byStep.set(step, list);
  }
  const completedAt = (step: string): number | null => {
    const done = (byStep.get(step) ?? []).filter((task) => task.status === "succeeded");
    return done.length === 0 ? null : done[0]!.completedAtMs;
  };
  run.definition.steps.forEach((step, i) => {
    const state = run.steps[i]!;
    const own = byStep.get(step.id) ?? [];
    const succeeded = own.filter((task) => task.status === "succeeded");
    if (state.status === "succeeded") {
      if (succeeded.length !== 1)
        throw new SimViolation(
          "workflow step counted twice",
          `run ${run.id} step ${step.id} has ${succeeded.length} succeeded tasks`,
        );
      if (JSON.stringify(state.output) !== JSON.stringify(succeeded[0]!.result))
        throw new SimViolation(
          "workflow step output",
          `run ${run.id} step ${step.id}'s output is not its task's result`,
        );
    }
    for (const task of own) {
      const done = step.depends_on
        .map(completedAt)
        .filter((at): at is number => at !== null && at <= task.createdAtMs).length;
      const needed =
        step.when === "all_success" && step.join === null ? step.depends_on.length : step.threshold;
      if (done < needed)
        throw new SimViolation(
          "workflow dependency order",
          `run ${run.id} step ${step.id}'s task was created at ${task.createdAtMs} with ${done} of the ${needed} dependencies it waits for completed`,
        );
    }
  });
}

/** A deterministic UUID per seed and number. */
function uuidOf(seed: number, number: number): string {
  const hex = (seed * 0x1000000 + number).toString(16).padStart(12, "0").slice(-12);
  return `00000000-0000-4000-a000-${hex}`;
}
