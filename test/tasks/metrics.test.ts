// Proves the tasks module's Prometheus series say what GET /tasks/metrics says: queue depth by
// priority and by team, running tasks by team, each agent's load while it holds tasks, and the
// state of every breaker that is not closed; the series of a team with nothing left goes; and
// attempts started, with those a report's take started counted apart.

import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { agentsState, registerCommand } from "../../src/agents/index.js";
import { ControlState, ModuleRegistry } from "../../src/control/index.js";
import type { NodeView } from "../../src/runtime/view.js";
import {
  completeCommand,
  configureCommand,
  DEFAULT_TASK_SETTINGS,
  failCommand,
  reportCommand,
  startCommand,
  submitCommand,
  tasksState,
} from "../../src/tasks/index.js";
import { registerTaskMetrics } from "../../src/tasks/metrics.js";
import { agentRegistration, sequentialUuid, taskSubmission } from "../support/fixtures.js";
import { LogBuilder } from "../support/log-builder.js";

const registry = new ModuleRegistry([agentsState, tasksState]);

/** The value of one series in a Prometheus text exposition, or undefined when it is absent. */
function series(text: string, name: string, labels: string): number | undefined {
  const line = text.split("\n").find((each) => each.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("tasks Prometheus metrics", () => {
  it("export depth by team, running by team, per-agent load and open breakers, and drop what left", async () => {
    const log = new LogBuilder();
    const state = new ControlState(registry);
    const agent = sequentialUuid();
    state.apply(log.add(configureCommand, { ...DEFAULT_TASK_SETTINGS, breakerThreshold: 1 }));
    state.apply(log.add(registerCommand, agentRegistration({ id: agent, capacity: 2 })));
    const [a1, a2, b1] = [
      taskSubmission({ team: "alpha", max_attempts: 5 }),
      taskSubmission({ team: "alpha", max_attempts: 5 }),
      taskSubmission({ team: "beta", priority: 7, max_attempts: 5 }),
    ];
    for (const body of [a1, b1, a2]) state.apply(log.add(submitCommand, body));
    const metrics = new Registry();
    const view = { state: () => state.of(tasksState) } as unknown as NodeView;
    registerTaskMetrics(metrics, view);

    // The first two placed at once (capacity 2), one of each team; the second alpha task waits.
    let text = await metrics.metrics();
    expect(series(text, "juno_task_queue_depth_by_team", 'team="alpha"')).toBe(1);
    expect(series(text, "juno_task_queue_depth_by_team", 'team="beta"')).toBeUndefined();
    expect(series(text, "juno_task_queue_depth", 'priority="5"')).toBe(1);
    expect(series(text, "juno_tasks_running_by_team", 'team="alpha"')).toBe(1);
    expect(series(text, "juno_tasks_running_by_team", 'team="beta"')).toBe(1);
    expect(series(text, "juno_agent_tasks_active", `agent_id="${agent}"`)).toBe(2);
    expect(text).not.toContain("juno_task_breaker_state{");

    // The beta task completes (its team's series goes), then a failure opens the breaker (threshold 1).
    const tasks = state.of(tasksState);
    const held = [...tasks.heldBy(agent)].map((id) => tasks.get(id)!);
    const alpha = held.find((task) => task.team === "alpha")!;
    const beta = held.find((task) => task.team === "beta")!;
    state.apply(
      log.add(startCommand, {
        agent_id: agent,
        tasks: held.map((task) => ({ id: task.id, attempt: task.attempt })),
      }),
    );
    state.apply(
      log.add(completeCommand, { id: beta.id, agent_id: agent, attempt: beta.attempt, result: null }),
    );
    state.apply(
      log.add(
        failCommand,
        {
          id: alpha.id,
          agent_id: agent,
          attempt: alpha.attempt,
          error: "x",
          retryable: true,
        },
        Date.now(),
      ), // stamped now: the breaker's cool-down (30 s) counts from here
    );
    text = await metrics.metrics();
    expect(series(text, "juno_task_breaker_state", `agent_id="${agent}",state="open"`)).toBe(1);
    expect(series(text, "juno_task_breakers_open", "")).toBeUndefined(); // an unlabelled gauge prints bare
    expect(text).toMatch(/^juno_task_breakers_open 1$/m);
    expect(series(text, "juno_tasks_running_by_team", 'team="beta"')).toBeUndefined();
    // The slot beta freed went to the waiting alpha task; the failed one waits behind the breaker.
    expect(series(text, "juno_tasks_running_by_team", 'team="alpha"')).toBe(1);
    expect(series(text, "juno_agent_tasks_active", `agent_id="${agent}"`)).toBe(1);
    expect(series(text, "juno_task_queue_depth_by_team", 'team="alpha"')).toBe(1);
  });

  it("count attempts started, and apart those a report's take started", async () => {
    const log = new LogBuilder();
    const state = new ControlState(registry);
    const agent = sequentialUuid();
    state.apply(log.add(registerCommand, agentRegistration({ id: agent, capacity: 2 })));
    const bodies = [taskSubmission({}), taskSubmission({}), taskSubmission({})];
    for (const body of bodies) state.apply(log.add(submitCommand, body));
    const metrics = new Registry();
    registerTaskMetrics(metrics, { state: () => state.of(tasksState) } as unknown as NodeView);
    const [first, second] = bodies;
    state.apply(
      log.add(startCommand, {
        agent_id: agent,
        tasks: [first!, second!].map((body) => ({ id: body.id, attempt: 1 })),
      }),
    );
    let text = await metrics.metrics();
    expect(text).toMatch(/^juno_tasks_started_total 2$/m);
    expect(text).toMatch(/^juno_tasks_started_by_report_total 0$/m);
    // The first's report frees its slot for the third, and its take starts it.
    state.apply(
      log.add(reportCommand, {
        agent_id: agent,
        completed: [{ id: first!.id, attempt: 1, result: null }],
        failed: [],
        take: 1,
      }),
    );
    text = await metrics.metrics();
    expect(text).toMatch(/^juno_tasks_started_total 3$/m);
    expect(text).toMatch(/^juno_tasks_started_by_report_total 1$/m);
    expect(state.of(tasksState).get(bodies[2]!.id)!.status).toBe("running");
  });
});
