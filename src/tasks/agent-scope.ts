/**
 * Which agent a request about tasks acts for, for agent tokens (src/server/authorization.ts):
 * the agent each named task is assigned to. A task this node has not seen assigned yet (it may
 * be behind the commit that assigned it) is looked up once more after a read barrier before the
 * token is refused. This check refuses an agent acting on another agent's task before anything
 * is proposed; a report on a task the agent held before (moved off it since) gets through, and
 * apply refuses it as stale (409 stale_attempt), exactly as it refuses any report of an attempt
 * that is no longer current.
 */

import type { NodeApi } from "../runtime/domain-module.js";
import type { AgentResolver } from "../server/authorization.js";
import type { FastifyRequest } from "fastify";
import { tasksState } from "./module.js";

/** How to read a request's task ids (null: it names none, and an agent token is refused). */
export type TaskIdsOf = (request: FastifyRequest) => readonly string[] | null;

/**
 * The agents the tasks `idsOf` names are assigned to. With `held`, a task the token's agent held
 * before (a reassigned or finished one) counts as its own too: its reads about its past work, and
 * its late reports, which apply fences.
 */
export function taskAgents(node: NodeApi, idsOf: TaskIdsOf, held = false): AgentResolver {
  return async (request) => {
    const ids = idsOf(request);
    if (ids === null || ids.length === 0) return null;
    const own = request.principal?.agentId ?? null;
    const agents = (): (string | null)[] => {
      const tasks = node.view.state(tasksState);
      return ids.map((id) => {
        const task = tasks.get(id);
        if (task === undefined) return null;
        if (held && own !== null && (task.agentId === own || task.previousAgents.includes(own))) return own;
        return task.agentId;
      });
    };
    const first = agents();
    if (first.every((agent) => agent === own)) return first;
    await node.readBarrier();
    return agents();
  };
}

/** The task id in a path parameter. */
export function taskIdParam(name: string): TaskIdsOf {
  return (request) => {
    const params = request.params as Record<string, unknown> | undefined;
    const value = params !== undefined && Object.hasOwn(params, name) ? params[name] : undefined;
    return typeof value === "string" ? [value] : null;
  };
}
