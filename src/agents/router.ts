/**
 * Request routing (the seed's route_request): `/api/v3/route/{skill}/{path}` proxies a request
 * to a healthy agent with that skill, chosen by strategy (balancer.ts), through a circuit
 * breaker per agent (cockatiel), retrying on another agent when an idempotent request fails to
 * connect or gets a 502/503/504. The answer names the agent in `x-juno-agent`.
 *
 * The proxy runs on whichever node the client reached, from that node's replicated view of the
 * registry (so a follower routes without asking the leader), and counts its own requests in
 * flight per agent for least_connections.
 */

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleAll,
  type CircuitBreakerPolicy,
} from "cockatiel";
import type { NodeApi } from "../runtime/domain-module.js";
import Type from "typebox";
import { ApiError } from "../server/errors.js";
import { responses } from "../server/schemas.js";
import { BalancerMemory, STRATEGIES, choose, type Candidate, type Strategy } from "./balancer.js";
import { agentsState } from "./module.js";
import type { Agent } from "./state.js";

/** How the router behaves. */
export interface RouterOptions {
  /** Consecutive failures after which an agent's breaker opens (CIRCUIT_BREAKER_THRESHOLD). */
  readonly breakerThreshold: number;
  /** How long an open breaker waits before letting one trial request through. */
  readonly halfOpenAfterMs: number;
  /** One attempt's limit. */
  readonly attemptTimeoutMs: number;
  /** Agents tried for one idempotent request. */
  readonly maxAttempts: number;
  /** Largest request or response body relayed. */
  readonly maxBodyBytes: number;
}

export const DEFAULT_ROUTER_OPTIONS: RouterOptions = {
  breakerThreshold: 5,
  halfOpenAfterMs: 10_000,
  attemptTimeoutMs: 30_000,
  maxAttempts: 3,
  maxBodyBytes: 10 * 1024 * 1024,
};

/** The header a client names its affinity key in (consistent_hash). */
export const AFFINITY_HEADER = "x-juno-affinity-key";
/** The header the answer names the serving agent in. */
export const AGENT_HEADER = "x-juno-agent";

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);
const RETRYABLE_STATUS = new Set([502, 503, 504]);
/** Headers that belong to one connection (RFC 9110 7.6.1), or to juno, and are not relayed. */
const DROPPED_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
  "authorization",
  AFFINITY_HEADER,
]);
/** Skills remembered for round robin; past it the memory starts over (it is only fairness). */
const MAX_REMEMBERED_SKILLS = 10_000;

/** An agent's answer that counts as a failure of the agent. */
class AgentFailure extends Error {
  constructor(
    message: string,
    readonly response: Response | null,
  ) {
    super(message);
  }
}

/** Routes requests to agents by skill. */
export class AgentRouter {
  private readonly inFlight = new Map<string, number>();
  private readonly memories = new Map<string, BalancerMemory>();
  private readonly breakers = new Map<string, CircuitBreakerPolicy>();

  constructor(private readonly options: RouterOptions = DEFAULT_ROUTER_OPTIONS) {}

  /** Registers the proxy route on `scope` (its own scope: bodies are relayed raw). */
  register(scope: FastifyInstance, node: NodeApi): void {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      "*",
      { parseAs: "buffer", bodyLimit: this.options.maxBodyBytes },
      (_request, body, done) => done(null, body),
    );
    scope.route({
      // HEAD comes with GET (fastify exposes it).
      method: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      url: "/route/:skill/*",
      config: { relay: true },
      schema: {
        summary: "Proxy a request to a healthy agent with a skill",
        description:
          "`?strategy=` round_robin, weighted_round_robin, least_connections (default) or consistent_hash (on the `x-juno-affinity-key` header). Idempotent methods are retried on another agent after a connection failure or a 502/503/504. The answer carries `x-juno-agent`; 503 no_agent when no healthy agent has the skill.",
        tags: ["agents"],
        response: responses(
          { 200: Type.Unknown({ description: "whatever the agent answered, with its status and headers" }) },
          [413, 415, 502, 503, 504],
        ),
      },
      handler: (request, reply) => this.handle(request, reply, node),
    });
  }

  private async handle(request: FastifyRequest, reply: FastifyReply, node: NodeApi): Promise<FastifyReply> {
    const params = request.params as { skill: string; "*": string };
    const url = new URL(request.url, "http://juno.invalid");
    const strategy = parseStrategy(url.searchParams.get("strategy"));
    url.searchParams.delete("strategy");
    const affinity = headerText(request.headers[AFFINITY_HEADER]);
    const method = request.method;
    const body = Buffer.isBuffer(request.body) ? request.body : null;
    const tried = new Set<string>();
    const attempts = IDEMPOTENT.has(method) ? this.options.maxAttempts : 1;
    let lastFailure: AgentFailure | null = null;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const agent = this.pick(node, params.skill, strategy, affinity, tried);
      if (agent === null) break;
      tried.add(agent.id);
      try {
        const response = await this.call(agent, method, `/${params["*"]}${url.search}`, request, body);
        return await this.relay(reply, agent, response);
      } catch (error) {
        if (error instanceof BrokenCircuitError) continue;
        if (!(error instanceof AgentFailure)) throw error;
        lastFailure = error;
      }
    }
    if (lastFailure?.response != null) {
      const agent = [...tried].at(-1)!;
      return this.relay(reply, node.view.state(agentsState).get(agent) ?? null, lastFailure.response);
    }
    if (lastFailure !== null)
      throw new ApiError(
        "agent_unreachable",
        `no agent with skill ${params.skill} answered: ${lastFailure.message}`,
        {
          agents_tried: [...tried],
        },
      );
    throw new ApiError("no_agent", `no healthy agent has skill ${params.skill}`);
  }

  /** The agent to try next: healthy, not draining, breaker not open, not tried yet. */
  private pick(
    node: NodeApi,
    skill: string,
    strategy: Strategy,
    affinity: string | null,
    tried: ReadonlySet<string>,
  ): Agent | null {
    const state = node.view.state(agentsState);
    const candidates: Candidate[] = [];
    for (const id of state.withSkill(skill)) {
      const agent = state.get(id);
      if (agent === undefined || agent.status !== "healthy" || agent.draining || tried.has(id)) continue;
      if (this.breakers.get(id)?.state === CircuitState.Open) continue;
      candidates.push({
        id,
        capacity: agent.capacity,
        weight: agent.weight,
        active: this.inFlight.get(id) ?? 0,
      });
    }
    candidates.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const chosen = choose(strategy, candidates, this.memory(skill), affinity);
    return chosen === null ? null : (state.get(chosen.id) ?? null);
  }

  private memory(skill: string): BalancerMemory {
    let memory = this.memories.get(skill);
    if (memory === undefined) {
      if (this.memories.size >= MAX_REMEMBERED_SKILLS) this.memories.clear();
      this.memories.set(skill, (memory = new BalancerMemory()));
    }
    return memory;
  }

  private breaker(id: string): CircuitBreakerPolicy {
    let breaker = this.breakers.get(id);
    if (breaker === undefined) {
      breaker = circuitBreaker(handleAll, {
        halfOpenAfter: this.options.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(this.options.breakerThreshold),
      });
      this.breakers.set(id, breaker);
    }
    return breaker;
  }

  /** One attempt through the agent's breaker; a connection failure or a 502/503/504 is a failure. */
  private async call(
    agent: Agent,
    method: string,
    path: string,
    request: FastifyRequest,
    body: Buffer | null,
  ): Promise<Response> {
    this.inFlight.set(agent.id, (this.inFlight.get(agent.id) ?? 0) + 1);
    try {
      return await this.breaker(agent.id).execute(async () => {
        let response: Response;
        try {
          // Relative to the endpoint, so an endpoint with a base path keeps it.
          response = await fetch(new URL(path.replace(/^\/+/, ""), withSlash(agent.endpoint)), {
            method,
            headers: relayedHeaders(request),
            ...(body === null || method === "GET" || method === "HEAD" ? {} : { body }),
            redirect: "manual",
            signal: AbortSignal.timeout(this.options.attemptTimeoutMs),
          });
        } catch (error) {
          throw new AgentFailure(error instanceof Error ? error.message : String(error), null);
        }
        if (RETRYABLE_STATUS.has(response.status))
          throw new AgentFailure(`answered ${response.status}`, response);
        return response;
      });
    } finally {
      const left = (this.inFlight.get(agent.id) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(agent.id);
      else this.inFlight.set(agent.id, left);
    }
  }

  private async relay(reply: FastifyReply, agent: Agent | null, response: Response): Promise<FastifyReply> {
    const length = Number(response.headers.get("content-length") ?? 0);
    if (length > this.options.maxBodyBytes)
      throw new ApiError(
        "payload_too_large",
        `the agent's answer is larger than ${this.options.maxBodyBytes} bytes`,
      );
    const payload = Buffer.from(await response.arrayBuffer());
    if (payload.length > this.options.maxBodyBytes)
      throw new ApiError(
        "payload_too_large",
        `the agent's answer is larger than ${this.options.maxBodyBytes} bytes`,
      );
    for (const [name, value] of response.headers)
      if (!DROPPED_HEADERS.has(name)) void reply.header(name, value);
    if (agent !== null) void reply.header(AGENT_HEADER, agent.id);
    return reply.code(response.status).send(payload);
  }
}

function parseStrategy(text: string | null): Strategy {
  if (text === null) return "least_connections";
  if ((STRATEGIES as readonly string[]).includes(text)) return text as Strategy;
  throw new ApiError("validation_failed", `strategy must be one of ${STRATEGIES.join(", ")}`);
}

function headerText(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? (value[0] ?? null) : value;
}

function relayedHeaders(request: FastifyRequest): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || DROPPED_HEADERS.has(name)) continue;
    headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  const forwarded = headerText(request.headers["x-forwarded-for"]);
  headers.set("x-forwarded-for", forwarded === null ? request.ip : `${forwarded}, ${request.ip}`);
  return headers;
}

function withSlash(endpoint: string): string {
  return endpoint.endsWith("/") ? endpoint : `${endpoint}/`;
}
