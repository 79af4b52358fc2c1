// Proves cross-team workflows (issue 10) with real processes: three juno nodes and SDK agent
// processes of three teams run diamond workflows (build, then two tests in parallel, then deploy
// once both passed) created through every node, while the juno leader is killed (SIGKILL) mid-run.
// Every workflow still succeeds; each step ran on its own team's agents, exactly once (one task
// that succeeded per step), and never before the steps it depends on had completed, judged by the
// tasks' leader-stamped times.

import { afterEach, describe, expect, it } from "vitest";
import { NO_COMPACTION, TaskLedger, spawnAgents, type AgentProcess } from "../chaos/common.js";
import { ProcessCluster, eventually, type Answer } from "./harness.js";

const WORKFLOWS = 24;
const TEAMS = ["build", "test", "deploy"] as const;
const AGENTS_PER_TEAM = 2;
const SKILL = "wf-work";
const BOUND_MS = 60_000;
const SETTINGS = {
  ...NO_COMPACTION,
  AGENT_HEARTBEAT_INTERVAL: "0.5",
  FAILURE_DETECTION_TIMEOUT: "4",
  HEALTH_CHECK_INTERVAL: "2",
  HEALTH_CHECK_TIMEOUT: "2",
};

const step = (id: string, team: string, depends_on: string[] = []) => ({
  id,
  team,
  task_type: "work",
  skills: [SKILL],
  depends_on,
  input: { ms: 150 },
  retry: { max_attempts: 20 },
});

const diamond = {
  name: "diamond",
  teams: [...TEAMS],
  steps: [
    step("build", "build"),
    step("unit", "test", ["build"]),
    step("e2e", "test", ["build"]),
    step("deploy", "deploy", ["unit", "e2e"]),
  ],
};

interface StepView {
  readonly id: string;
  readonly status: string;
  readonly team: string;
  readonly task_id: string | null;
  readonly depends_on: readonly string[];
}
interface TaskView {
  readonly id: string;
  readonly status: string;
  readonly idempotency_key: string;
  readonly created_at: string;
  readonly completed_at: string | null;
  readonly assigned_agent: string | null;
  readonly previous_agents: readonly string[];
  readonly requirements: { readonly team: string | null };
}

let cluster: ProcessCluster | null = null;
let agents: AgentProcess[] = [];
afterEach(async () => {
  await Promise.all(agents.map((agent) => agent.kill()));
  agents = [];
  await cluster?.stop();
  cluster = null;
});

describe("workflows across process faults", () => {
  it(
    "diamond workflows over three teams all succeed, in order and once each, through a leader kill",
    { timeout: 150_000 },
    async () => {
      cluster = await ProcessCluster.start(3, SETTINGS);
      const c = cluster;
      const ids = [...c.nodes.keys()];
      const down = new Set<string>();
      const live = (): string[] => ids.filter((id) => !down.has(id));
      const urls = ids.map((id) => `http://127.0.0.1:${c.node(id).http}`);
      const ledger = new TaskLedger();
      for (const team of TEAMS)
        await spawnAgents(
          `${team}-agent`,
          AGENTS_PER_TEAM,
          urls,
          ledger,
          { skill: SKILL, team, capacity: 4 },
          agents,
        );
      const teamOfAgent = new Map(agents.map((agent) => [agent.id, agent.name.split("-")[0]!]));

      // A create not answered 200/201 goes again to the next node under the same idempotency key.
      const create = async (n: number): Promise<string> => {
        const body = { definition: diamond, execute: true, idempotency_key: `wf-${n}` };
        let last: Answer | null = null;
        const deadline = Date.now() + BOUND_MS;
        for (let tries = 0; Date.now() < deadline; tries++) {
          const nodes = live();
          last = await c.request(
            nodes[(n + tries) % nodes.length]!,
            "POST",
            "/api/v3/workflows",
            body,
            3_000,
          );
          if (last.status === 200 || last.status === 201) return (last.body["workflow"] as { id: string }).id;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        throw new Error(`workflow ${n} not created within ${BOUND_MS} ms: ${JSON.stringify(last)}`);
      };
      const created: string[] = [];
      for (let n = 0; n < WORKFLOWS / 2; n++) created.push(await create(n));
      // The leader dies once some steps have completed and others are running.
      await eventually(
        () => Promise.resolve(ledger.completed >= WORKFLOWS ? true : undefined),
        BOUND_MS,
        20,
        "steps completed",
      );
      const leader = await c.leader(live());
      down.add(leader);
      await c.signal(leader, "SIGKILL");
      for (let n = WORKFLOWS / 2; n < WORKFLOWS; n++) created.push(await create(n));
      expect(new Set(created).size).toBe(WORKFLOWS);

      const ended = async (id: string): Promise<{ status: string; steps: StepView[] }> =>
        eventually(
          async () => {
            const answer = await c.request(live()[0]!, "GET", `/api/v3/workflows/${id}`, undefined, 3_000);
            const workflow = answer.body["workflow"] as { status: string; steps: StepView[] } | undefined;
            return workflow !== undefined && ["succeeded", "failed", "cancelled"].includes(workflow.status)
              ? workflow
              : undefined;
          },
          BOUND_MS,
          100,
          `workflow ${id} ended`,
        );
      for (const id of created) {
        const workflow = await ended(id);
        expect(workflow.status, `workflow ${id}`).toBe("succeeded");
        const answer = await c.request(
          live()[0]!,
          "GET",
          `/api/v3/tasks/status?workflow_id=${id}&limit=100`,
          undefined,
          3_000,
        );
        const tasks = answer.body["tasks"] as TaskView[];
        const byStep = new Map<string, TaskView[]>();
        for (const task of tasks) {
          const stepId = task.idempotency_key.split(":")[1]!;
          byStep.set(stepId, [...(byStep.get(stepId) ?? []), task]);
        }
        for (const s of workflow.steps) {
          const own = byStep.get(s.id) ?? [];
          expect(
            own.map((task) => task.status),
            `${id} ${s.id}: one task, succeeded`,
          ).toEqual(["succeeded"]);
          const task = own[0]!;
          expect(task.id).toBe(s.task_id);
          expect(task.requirements.team).toBe(s.team);
          const ranOn = task.assigned_agent ?? task.previous_agents.at(-1) ?? "";
          expect(teamOfAgent.get(ranOn), `${id} ${s.id} ran on its team's agent`).toBe(s.team);
          for (const dependency of s.depends_on) {
            const before = byStep.get(dependency)![0]!;
            expect(
              Date.parse(before.completed_at!),
              `${id}: ${dependency} completed before ${s.id} was created`,
            ).toBeLessThanOrEqual(Date.parse(task.created_at));
          }
        }
      }
    },
  );
});
