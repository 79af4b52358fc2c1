/**
 * Agent failure: real agent processes (the SDK's Agent) beat against three juno nodes under a
 * write load and run a stream of tasks (one every 250 ms), while agents are killed (SIGKILL) and paused (SIGSTOP,
 * then SIGCONT) and the juno leader is killed and paused. Prints how long each detection took;
 * fails on any false positive (an agent that was not faulted marked suspect or failed, read from
 * the replicated log), on a faulted agent never detected, on a resumed agent that does not come
 * back healthy, and on a task that does not end completed exactly once: every accepted task must
 * end completed, by an attempt an agent heard acknowledged, and no task may have two attempts
 * acknowledged complete.
 *
 *   npx tsx test/chaos/agent_failure.ts [--quick]
 */

import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { ProcessCluster } from "../integration/harness.js";
import { nodeArgsFor } from "../support/compiled.js";
import { Acks, NO_COMPACTION, WriteLoad, ms, percentile, quick, runScript, say, sleep } from "./common.js";

const AGENTS = quick ? 4 : 10;
const ROUNDS = quick ? 2 : 5;
const FAILURE_TIMEOUT_MS = 2_000;
const DETECTION_BOUND_MS = 5 * FAILURE_TIMEOUT_MS;
/** A task is submitted this often: a stream, light enough not to starve the agents' beats on two cores. */
const TASK_EVERY_MS = 250;
const SETTINGS = {
  ...NO_COMPACTION,
  AGENT_HEARTBEAT_INTERVAL: "0.2",
  FAILURE_DETECTION_TIMEOUT: String(FAILURE_TIMEOUT_MS / 1000),
  HEALTH_CHECK_INTERVAL: "0.5",
  HEALTH_CHECK_TIMEOUT: "0.4",
};

interface AgentProcess {
  readonly name: string;
  child: ChildProcess;
  id: string;
  /** When faults on it began and ended (end null while it lasts). */
  readonly faults: { start: number; end: number | null }[];
}

type Json = Record<string, unknown>;

/** Every completion an agent process heard acknowledged: task id to the attempts. */
const completions = new Map<string, Set<number>>();

/** Tasks submitted now and then through the live nodes, each under its own idempotency key. */
class TaskStream {
  private readonly accepted = new Set<string>();
  private stopped = false;
  private submitted = 0;

  constructor(
    private readonly cluster: ProcessCluster,
    private readonly live: () => string[],
  ) {}

  async run(): Promise<void> {
    while (!this.stopped) {
      const n = ++this.submitted;
      const body = {
        task_type: "work",
        team: "chaos",
        requirements: { skills: ["echo"] },
        data: { ms: 50 + (n % 5) * 50 },
        idempotency_key: `chaos-${n}`,
        max_attempts: 20,
      };
      // An unanswered submission is sent again under its key: it must not make a second task.
      for (let tries = 0; tries < 5; tries++) {
        const nodes = this.live();
        const node = nodes[(n + tries) % nodes.length];
        if (node === undefined) break;
        const answer = await this.cluster
          .request(node, "POST", "/api/v3/tasks/distribute", body, 2_000)
          .catch(() => null);
        if (answer !== null && (answer.status === 200 || answer.status === 201)) {
          this.accepted.add((answer.body["task"] as Json)["id"] as string);
          break;
        }
        await sleep(200);
      }
      await sleep(TASK_EVERY_MS);
    }
  }

  stop(): void {
    this.stopped = true;
  }

  /** Waits for every accepted task to finish, then checks each ended completed exactly once. */
  async check(checks: { expect(condition: boolean, what: string): void }): Promise<void> {
    const pending = new Set(this.accepted);
    const final = new Map<string, Json>();
    const deadline = Date.now() + 20_000;
    while (pending.size > 0 && Date.now() < deadline) {
      for (const id of [...pending]) {
        const node = this.live()[0]!;
        const answer = await this.cluster
          .request(node, "GET", `/api/v3/tasks/${id}`, undefined, 2_000)
          .catch(() => null);
        const task = answer?.status === 200 ? (answer.body["task"] as Json) : null;
        if (task === null) continue;
        if (["succeeded", "failed", "cancelled", "dead_lettered"].includes(task["status"] as string)) {
          pending.delete(id);
          final.set(id, task);
        }
      }
      if (pending.size > 0) await sleep(250);
    }
    checks.expect(
      pending.size === 0,
      `all ${this.accepted.size} accepted tasks finished (${pending.size} did not)`,
    );
    let twice = 0;
    let unheard = 0;
    let other = 0;
    for (const [id, task] of final) {
      const heard = completions.get(id) ?? new Set<number>();
      if (heard.size > 1) twice++;
      if (task["status"] !== "succeeded") other++;
      else if (!heard.has(task["attempt"] as number)) unheard++;
    }
    checks.expect(other === 0, `every accepted task ended completed (${other} did not)`);
    checks.expect(twice === 0, `no task had two attempts acknowledged complete (${twice} had)`);
    checks.expect(
      unheard === 0,
      `every completed attempt was one an agent heard acknowledged (${unheard} were not)`,
    );
    say(`tasks: ${this.accepted.size} accepted, ${final.size} finished, ${twice} counted twice`);
  }
}

await runScript("agent_failure", quick ? 75_000 : 150_000, async (checks, cleanup) => {
  const cluster = await ProcessCluster.start(3, SETTINGS);
  cleanup(() => cluster.stop());
  const ids = [...cluster.nodes.keys()];
  const urls = ids.map((id) => `http://127.0.0.1:${cluster.node(id).http}`).join(",");
  const agents: AgentProcess[] = [];
  cleanup(() => {
    for (const agent of agents) agent.child.kill("SIGKILL");
    return Promise.resolve();
  });
  for (let i = 1; i <= AGENTS; i++) agents.push(await spawnAgent(`agent-${i}`, urls));
  const tasks = new TaskStream(cluster, () => ids.filter((id) => !down.has(id)));
  // Every id an agent process ever had (a killed one comes back under a new id), to its faults.
  const incarnations = new Map(agents.map((agent) => [agent.id, agent]));
  say(`started ${ids.join(", ")} and ${AGENTS} agents`);
  const down = new Set<string>();
  const acks = new Acks(checks);
  const submitting = tasks.run();
  const load = new WriteLoad(cluster, acks, "a", () => ids.filter((id) => !down.has(id)), 3_000);
  load.add(3);

  const statusOf = async (agent: AgentProcess): Promise<string | null> => {
    for (const id of ids.filter((node) => !down.has(node))) {
      const answer = await cluster.request(
        id,
        "GET",
        `/api/v3/agents/${agent.id}?consistency=stale`,
        undefined,
        1_000,
      );
      if (answer.status === 200) return (answer.body["agent"] as Json)["status"] as string;
    }
    return null;
  };
  const waitFor = async (
    agent: AgentProcess,
    want: (status: string | null) => boolean,
  ): Promise<number | null> => {
    const from = Date.now();
    while (Date.now() - from < DETECTION_BOUND_MS) {
      if (want(await statusOf(agent))) return Date.now() - from;
      await sleep(50);
    }
    return null;
  };
  for (const agent of agents) {
    checks.expect(
      (await waitFor(agent, (s) => s === "healthy")) !== null,
      `${agent.name} registered and healthy`,
    );
  }

  const detections: number[] = [];
  const recoveries: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    // An agent killed: it must be failed.
    const victim = agents.filter((a) => a.faults.every((f) => f.end !== null))[round % AGENTS]!;
    victim.faults.push({ start: Date.now(), end: null });
    victim.child.kill("SIGKILL");
    const detected = await waitFor(victim, (s) => s === "failed");
    checks.expect(detected !== null, `round ${round}: killed ${victim.name} is failed`);
    if (detected !== null) detections.push(detected);
    say(`round ${round}: ${victim.name} killed, failed after ${ms(detected ?? NaN)}`);
    const replaced = await spawnAgent(victim.name, urls);
    victim.child = replaced.child;
    victim.id = replaced.id;
    incarnations.set(victim.id, victim);
    victim.faults.at(-1)!.end = Date.now();

    // The juno leader killed, then paused: no agent may be marked anything but healthy for it.
    const leader = await cluster.leader(ids.filter((id) => !down.has(id)));
    down.add(leader);
    await cluster.signal(leader, round % 2 === 1 ? "SIGKILL" : "SIGSTOP");
    const next = await cluster.leader(ids.filter((id) => !down.has(id)));
    say(`round ${round}: leader ${leader} ${round % 2 === 1 ? "killed" : "paused"}; ${next} leads`);
    await sleep(FAILURE_TIMEOUT_MS + 500);
    if (round % 2 === 1) await cluster.restart(leader);
    else await cluster.signal(leader, "SIGCONT");
    down.delete(leader);

    // An agent paused past its failure timeout, then resumed: failed, then healthy again.
    const paused = agents[(round + 1) % AGENTS]!;
    paused.faults.push({ start: Date.now(), end: null });
    paused.child.kill("SIGSTOP");
    const pausedDetected = await waitFor(paused, (s) => s === "failed" || s === "suspect");
    checks.expect(pausedDetected !== null, `round ${round}: paused ${paused.name} is suspect or failed`);
    paused.child.kill("SIGCONT");
    const resumedAt = Date.now();
    const back = await waitFor(paused, (s) => s === "healthy");
    checks.expect(back !== null, `round ${round}: resumed ${paused.name} is healthy again`);
    paused.faults.at(-1)!.end = resumedAt + (back ?? 0);
    if (back !== null) recoveries.push(back);
    say(
      `round ${round}: ${paused.name} paused, detected after ${ms(pausedDetected ?? NaN)}, healthy ${ms(back ?? NaN)} after resuming`,
    );
  }
  await load.stop();
  tasks.stop();
  await submitting;
  await tasks.check(checks);

  // False positives, from the replicated log: every suspect or failed transition must fall in or
  // just after a fault of that agent (the grace: one failure timeout plus a second).
  const log = await cluster.log(ids[0]!);
  let transitions = 0;
  for (const entry of log) {
    if (entry.entry_type !== "juno.agent.health") continue;
    const data = entry.data as { changes: { id: string; status: string }[] };
    const at = Date.parse((entry as unknown as { timestamp: string }).timestamp);
    for (const change of data.changes) {
      transitions++;
      if (change.status !== "suspect" && change.status !== "failed") continue;
      const agent = incarnations.get(change.id);
      if (agent === undefined) continue;
      const explained = agent.faults.some(
        (fault) => at >= fault.start && at <= (fault.end ?? Infinity) + FAILURE_TIMEOUT_MS + 1_000,
      );
      checks.expect(
        explained,
        `${agent.name} marked ${change.status} at ${new Date(at).toISOString()}: during or just after a fault on it`,
      );
    }
  }
  say(
    `detections: p50 ${ms(percentile(detections, 50))}, max ${ms(Math.max(...detections))} ` +
      `(failure timeout ${FAILURE_TIMEOUT_MS} ms); recoveries p50 ${ms(percentile(recoveries, 50))}; ` +
      `${transitions} transitions replicated; ${acks.byIndex.size} writes acknowledged`,
  );
});

/** Starts one agent process and waits until it has registered. */
async function spawnAgent(name: string, urls: string): Promise<AgentProcess> {
  const child = spawn(
    process.execPath,
    [...nodeArgsFor(join(import.meta.dirname, "agent-process.ts")), "--name", name, "--urls", urls],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, JUNO_API_TOKEN: "integration-token" } },
  );
  const id = await new Promise<string>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`${name} did not register: ${output}`)), 20_000);
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /registered ([0-9a-f-]{36})/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  });
  let partial = "";
  child.stdout.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      const match = /^completed ([0-9a-f-]{36}) ([0-9]+)$/.exec(line.trim());
      if (match === null) continue;
      let attempts = completions.get(match[1]!);
      if (attempts === undefined) completions.set(match[1]!, (attempts = new Set()));
      attempts.add(Number(match[2]));
    }
  });
  return { name, child, id, faults: [] };
}
