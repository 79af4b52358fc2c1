/**
 * Push delivery: for agents registered with `delivery: { mode: "push" }`, the leader POSTs their
 * assigned tasks to the agent's delivery URL instead of waiting for a poll.
 *
 * - What is pushed is read from the committed state only: an attempt is sent once it is
 *   `assigned` to a push agent, so the cluster never hands out a task it has not committed.
 * - One request per agent at a time carries every attempt assigned to it meanwhile (a batch), as
 *   `{ agent_id, tasks: [...] }`; each task names its id and attempt, the same as a poll answer.
 * - Each request has a timeout, is tried again once after a short backoff, and goes through a
 *   circuit breaker per agent (cockatiel), which fails fast while the agent keeps refusing.
 * - Accepted (2xx): the attempts start (tasks.start), exactly as a poll takes them. Refused, timed
 *   out or failed fast: the attempts expire with cause "delivery" and go to other agents at once;
 *   each counts as a failure on the agent's replicated breaker, so placement stops choosing it.
 * - A new leader sends again what it finds assigned and not started: an agent may hear the same
 *   attempt twice and must take it once (the SDK does). A report for the attempt is fenced by its
 *   attempt number as always, so nothing runs to completion twice.
 */

import {
  ConsecutiveBreaker,
  ExponentialBackoff,
  TimeoutStrategy,
  circuitBreaker,
  handleAll,
  handleWhen,
  isBrokenCircuitError,
  retry,
  timeout,
  wrap,
  type IPolicy,
} from "cockatiel";
import { request } from "undici";
import { agentsState } from "../agents/module.js";
import { deliveryKey, SIGNATURE_HEADER, signDelivery } from "../faults/delivery-signature.js";
import type { Agent } from "../agents/state.js";
import { command } from "../control/index.js";
import type { TimerHandle } from "../runtime/clock.js";
import type { Controller, ControllerContext, Running } from "../runtime/controllers.js";
import { expireCommand, startCommand } from "./commands.js";
import { tasksState } from "./module.js";
import type { TasksState } from "./state.js";
import { TASK_LIMITS, type Task } from "./task.js";
import { delivery } from "./views.js";

/** Sends one delivery (with its headers); resolves when the agent accepted it (2xx), rejects otherwise. */
export type PushSender = (
  url: string,
  headers: Readonly<Record<string, string>>,
  body: string,
  signal: AbortSignal,
) => Promise<void>;

export interface PushOptions {
  /** How long one try may take (TASK_DELIVERY_TIMEOUT). */
  readonly timeoutMs: number;
  /** Tries per delivery (the first and the retries). */
  readonly tries: number;
  /** Consecutive failed tries after which the agent's delivery breaker opens. */
  readonly breakerThreshold: number;
  /** How long an open delivery breaker fails fast before it lets one try through. */
  readonly halfOpenAfterMs: number;
  /** How the request goes out (the default: undici's request). */
  readonly send?: PushSender;
  /** The cluster secret each agent's delivery key derives from (null: pushes go unsigned). */
  readonly signingSecret?: string | null;
}

export const DEFAULT_PUSH_OPTIONS: PushOptions = {
  timeoutMs: 5_000,
  tries: 2,
  breakerThreshold: 5,
  halfOpenAfterMs: 10_000,
};

/** Attempts one request carries at most. */
export const MAX_PUSH_BATCH = 64;
/** Deliveries in flight at once, over all agents. */
const MAX_IN_FLIGHT = 256;
/** How often the loop looks again without a change (a busy agent's next batch, a cooled breaker). */
const RESCAN_MS = 500;

export function pushController(options: PushOptions): Controller {
  return { name: "tasks.push", start: (context) => new PushLoop(context, options) };
}

/**
 * POSTs the delivery with undici's request (kept-alive connections; a good deal cheaper per call
 * than fetch, which matters on the leader); any answer but a 2xx is a refusal.
 */
export const httpSender: PushSender = async (url, headers, body, signal) => {
  const response = await request(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
    signal,
  });
  // Drain the body so the connection goes back to the pool.
  await response.body.dump().catch(() => undefined);
  if (response.statusCode < 200 || response.statusCode > 299)
    throw new Error(`the agent answered ${response.statusCode}`);
};

class PushLoop implements Running {
  private stopped = false;
  private readonly sending = new Set<string>();
  private readonly busy = new Set<string>();
  private readonly policies = new Map<string, { readonly url: string; readonly policy: IPolicy }>();
  private pushAgents: Agent[] = [];
  private agentsVersion = -1;
  private tasksVersion = -1;
  private dirty = true;
  private scheduled = false;
  private timer: TimerHandle | null = null;
  private readonly stopWatching: () => void;
  private readonly abort = new AbortController();

  constructor(
    private readonly context: ControllerContext,
    private readonly options: PushOptions,
  ) {
    this.stopWatching = context.view.onChange(() => this.soon());
    this.rescan();
  }

  stop(): void {
    this.stopped = true;
    this.stopWatching();
    this.abort.abort();
    if (this.timer !== null) this.context.clock.clearTimeout(this.timer);
  }

  private rescan(): void {
    if (this.stopped) return;
    this.dirty = true;
    this.soon();
    this.timer = this.context.clock.setTimeout(() => this.rescan(), RESCAN_MS);
  }

  private soon(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.context.clock.defer(() => {
      this.scheduled = false;
      this.scan();
    });
  }

  private scan(): void {
    const view = this.context.view;
    if (this.stopped || !view.isLeader()) return;
    const tasks = view.state(tasksState);
    const agents = view.state(agentsState);
    if (agents.version !== this.agentsVersion) {
      this.agentsVersion = agents.version;
      this.pushAgents = [...agents.all()].filter((agent) => agent.delivery.mode === "push");
      for (const id of this.policies.keys()) if (agents.get(id) === undefined) this.policies.delete(id);
      this.dirty = true;
    }
    // A cluster with no push agents (most of them) pays nothing per Ready beyond this.
    if (this.pushAgents.length === 0) return;
    if (!this.dirty && tasks.version === this.tasksVersion) return;
    this.tasksVersion = tasks.version;
    this.dirty = false;
    for (const agent of this.pushAgents) {
      if (this.busy.size >= MAX_IN_FLIGHT) {
        this.dirty = true;
        return;
      }
      if (this.busy.has(agent.id) || agent.delivery.url === null) continue;
      const batch = this.waiting(tasks, agent.id);
      if (batch.length > 0) void this.deliver(agent, agent.delivery.url, batch);
    }
  }

  /** The agent's attempts assigned and not yet being sent, oldest first. */
  private waiting(tasks: TasksState, agentId: string): Task[] {
    const batch: Task[] = [];
    for (const id of tasks.heldBy(agentId)) {
      const task = tasks.get(id);
      if (task?.status === "assigned" && !this.sending.has(key(task))) batch.push(task);
    }
    return batch.sort((a, b) => a.seq - b.seq).slice(0, Math.min(MAX_PUSH_BATCH, TASK_LIMITS.batch));
  }

  private policy(agentId: string, url: string): IPolicy {
    const known = this.policies.get(agentId);
    if (known !== undefined && known.url === url) return known.policy;
    const policy = wrap(
      retry(
        handleWhen((error) => !isBrokenCircuitError(error)),
        {
          maxAttempts: Math.max(0, this.options.tries - 1),
          backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1_000 }),
        },
      ),
      circuitBreaker(handleAll, {
        halfOpenAfter: this.options.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(this.options.breakerThreshold),
      }),
      timeout(this.options.timeoutMs, TimeoutStrategy.Aggressive),
    );
    this.policies.set(agentId, { url, policy });
    return policy;
  }

  private async deliver(agent: Agent, url: string, batch: readonly Task[]): Promise<void> {
    const keys = batch.map(key);
    this.busy.add(agent.id);
    for (const k of keys) this.sending.add(k);
    const body = JSON.stringify({ agent_id: agent.id, tasks: batch.map(delivery) });
    const send = this.options.send ?? httpSender;
    let refusal: string | null = null;
    const secret = this.options.signingSecret ?? null;
    const signingKey = secret === null ? null : deliveryKey(secret, agent.id);
    try {
      await this.policy(agent.id, url).execute(({ signal }) => {
        // Signed at each try, so a retry carries a fresh time.
        const headers: Record<string, string> = { "x-juno-agent-id": agent.id };
        if (signingKey !== null)
          headers[SIGNATURE_HEADER] = signDelivery(signingKey, this.context.clock.now(), body);
        return send(url, headers, body, AbortSignal.any([signal, this.abort.signal]));
      }, this.abort.signal);
    } catch (error) {
      refusal = error instanceof Error ? error.message : String(error);
    }
    if (this.stopped) return;
    const attempts = batch.map((task) => ({ id: task.id, attempt: task.attempt }));
    const proposal =
      refusal === null
        ? command(startCommand, { agent_id: agent.id, tasks: attempts })
        : command(expireCommand, {
            expirations: attempts.map((attempt) => ({ ...attempt, cause: "delivery" as const })),
          });
    if (refusal !== null)
      this.context.log.info(
        { agent: agent.id, tasks: batch.length, err: refusal },
        "a push delivery was not accepted; its tasks go to other agents",
      );
    this.context.submit(proposal, (result) => {
      for (const k of keys) this.sending.delete(k);
      this.busy.delete(agent.id);
      if (!result.ok) this.context.log.debug({ err: result.error }, "push outcome not committed");
      this.dirty = true;
      this.soon();
    });
  }
}

function key(task: Task): string {
  return `${task.id}#${task.attempt}`;
}
