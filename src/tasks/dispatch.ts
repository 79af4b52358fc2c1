/**
 * Dispatch: placing queued tasks on agents, inside apply. Every input is replicated state (the
 * agents the committed registry holds, the tasks they hold, breakers, strategy memory, the queue
 * and the entry's time), so every replica makes the same assignments without a log entry per
 * assignment: a submission, a completion or a freed slot places what it can in the same entry.
 *
 * A walk offers queued tasks in queue order (strict priority, then fair shares between teams),
 * skips a task that must wait (backoff, its team at its running limit) or whose requirement class
 * already found no agent in this walk, and stops after TASK_LIMITS.dispatchLook tasks or
 * dispatchBatch placements, or as soon as every class in the queue found no agent (the rest of
 * the walk could only skip). Placements are collected first and applied after the walk, because
 * the queue must not change under a walk.
 */

import type { Agent, AgentsState } from "../agents/state.js";
import { assert } from "../raft/assert.js";
import { admits, onPlaced } from "../faults/breaker.js";
import { candidateSet, placeAmong, type CandidateSet, type PlacementAgent } from "./placement.js";
import type { TasksState } from "./state.js";
import { requirementClass, TASK_LIMITS, type Task } from "./task.js";

/** Places what it can; returns the tasks it assigned. */
export function dispatch(tasks: TasksState, agents: AgentsState | null, nowMs: number): Task[] {
  if (tasks.queue.size === 0 || agents === null) return [];
  const decisions: { task: Task; agentId: string; level: number }[] = [];
  const blocked = new Set<string>();
  const extra = new Map<string, number>();
  const teamExtra = new Map<string, number>();
  const settings = tasks.settings;
  const breakerSettings = tasks.breakerSettings;
  const probes = new Set<string>();
  const load = {
    active: (agentId: string) => tasks.active(agentId) + (extra.get(agentId) ?? 0),
    admits: (agentId: string) =>
      !probes.has(agentId) && admits(tasks.breaker(agentId), breakerSettings, nowMs),
  };
  const teamFull = (team: string) =>
    tasks.running(team) + (teamExtra.get(team) ?? 0) >= settings.teamRunningLimit;
  let looked = 0;
  for (const queued of tasks.queue.order(nowMs, teamFull)) {
    if (++looked > TASK_LIMITS.dispatchLook || decisions.length >= TASK_LIMITS.dispatchBatch) break;
    const task = tasks.get(queued.id)!;
    if (task.notBeforeMs > nowMs || teamFull(task.team)) continue;
    const cls = requirementClass(task.requirements);
    if (blocked.has(cls)) continue;
    const placement = placeAmong(
      task,
      candidatesOf(tasks, agents, task, cls),
      load,
      tasks.memory(cls),
      task.id,
    );
    if (!placement.ok) {
      blocked.add(cls);
      tasks.waiting.set(cls, placement.reason);
      if (blocked.size >= tasks.queuedClassCount) break;
      continue;
    }
    tasks.waiting.delete(cls);
    extra.set(placement.agentId, (extra.get(placement.agentId) ?? 0) + 1);
    teamExtra.set(task.team, (teamExtra.get(task.team) ?? 0) + 1);
    // A half-open breaker lets one probe through: no second task goes to it in this walk.
    if (tasks.breaker(placement.agentId).openedAtMs !== null) probes.add(placement.agentId);
    decisions.push({ task, agentId: placement.agentId, level: tasks.queue.effectiveLevel(queued, nowMs) });
  }
  return decisions.map(({ task, agentId, level }) => {
    // Never hand a task to an agent the committed registry does not call healthy, or past capacity.
    const agent = agents.get(agentId);
    assert(
      agent !== undefined && agent.status === "healthy" && !agent.draining,
      () => `task ${task.id} placed on ${agentId}, which is not eligible`,
    );
    assert(
      tasks.active(agentId) < agent.capacity,
      () => `task ${task.id} placed on ${agentId}, which is full`,
    );
    tasks.queue.charge(task.team, level);
    tasks.setBreaker(agentId, onPlaced(tasks.breaker(agentId), breakerSettings, task.id, nowMs));
    const assigned: Task = {
      ...task,
      status: "assigned",
      attempt: task.attempt + 1,
      agentId,
      assignedAtMs: nowMs,
      startedAtMs: null,
    };
    tasks.put(assigned);
    return assigned;
  });
}

/** The candidate set of `task`'s class, built once per class until the registry changes. */
export function candidatesOf(tasks: TasksState, agents: AgentsState, task: Task, cls: string): CandidateSet {
  if (tasks.candidatesVersion !== agents.version) {
    tasks.candidates.clear();
    tasks.candidatesVersion = agents.version;
  }
  let set = tasks.candidates.get(cls);
  if (set === undefined)
    tasks.candidates.set(cls, (set = candidateSet(task.requirements, candidates(agents, task))));
  return set;
}

/** The agents worth asking about `task`: those with its rarest skill, or all of them. */
function candidates(agents: AgentsState, task: Task): Iterable<PlacementAgent> {
  const skills = task.requirements.skills;
  if (skills.length === 0) return agents.all();
  let rarest = agents.withSkill(skills[0]!);
  for (const skill of skills) {
    const ids = agents.withSkill(skill);
    if (ids.size < rarest.size) rarest = ids;
  }
  return mapDefined(rarest, (id) => agents.get(id));
}

function* mapDefined(ids: ReadonlySet<string>, get: (id: string) => Agent | undefined): Generator<Agent> {
  for (const id of ids) {
    const agent = get(id);
    if (agent !== undefined) yield agent;
  }
}
