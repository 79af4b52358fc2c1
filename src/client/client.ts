/**
 * JunoClient: the agents API and the cluster's status as typed methods, over the failover
 * transport. Register and heartbeat are marked safe to repeat (the server finds a registration by
 * name and endpoint, and a beat only renews a lease), so they ride out node failures and leader
 * changes like reads do.
 */

import { hasErrorCode } from "./errors.js";
import { HttpTransport, type ApiRequest, type ApiResponse, type HttpTransportOptions } from "./http.js";
import { expectAgentView, expectFields, invalid, isAgentStatus } from "./shape.js";
import type {
  AgentHealth,
  AgentListing,
  AgentPage,
  AgentView,
  AgentsHealthSummary,
  ConsensusStatus,
  HeartbeatRequest,
  HeartbeatResponse,
  LabelSelector,
  ListAgentsFilter,
  RegisterAgentRequest,
  RegisteredAgent,
  ResolveQuery,
  ResolvedAgent,
} from "./types.js";

/** How a JunoClient is set up: the transport's options. */
export type JunoClientOptions = HttpTransportOptions;

/** Per-call options. */
export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Overrides the client's per-attempt timeout for this call. */
  readonly timeoutMs?: number;
}

/** Per-call options of listAllAgents. */
export interface ListAllOptions extends CallOptions {
  /** The most pages fetched; the listing says `truncated` when more were left. */
  readonly pagesMax?: number;
}

/** A thousand pages: every agent of a cluster at the design's scale, at any sensible page size. */
export const DEFAULT_PAGES_MAX = 1_000;

/** The longest agent id accepted in a path; ids are UUIDs, 36 characters. */
const AGENT_ID_LENGTH_MAX = 256;

const API = "/api/v3";

/** A typed client of one juno cluster, given the base URLs of some of its nodes. */
export class JunoClient {
  private readonly transport: HttpTransport;

  constructor(options: JunoClientOptions) {
    this.transport = new HttpTransport(options);
  }

  /** The base URL the next call goes to first. */
  get preferredUrl(): string {
    return this.transport.preferredUrl;
  }

  /** Any API request, for routes without a typed method; throws JunoApiError. */
  request(request: ApiRequest): Promise<ApiResponse> {
    return this.transport.send(request);
  }

  /** GET /consensus/status: role, term, leader and replication as the answering node sees them. */
  async status(options: CallOptions = {}): Promise<ConsensusStatus> {
    const { body } = await this.send({ method: "GET", path: `${API}/consensus/status` }, options);
    expectFields(body, "status", { node_id: "string", term: "number", members: "array" });
    return body as ConsensusStatus;
  }

  /** POST /agents/register: creates the agent, or updates the one with this name and endpoint. */
  async registerAgent(request: RegisterAgentRequest, options: CallOptions = {}): Promise<RegisteredAgent> {
    const answer = await this.send(
      { method: "POST", path: `${API}/agents/register`, body: request, idempotent: true },
      options,
    );
    const body = expectFields(answer.body, "registration", {
      agent: "object",
      heartbeat_interval_ms: "number",
      lease_ms: "number",
    });
    expectAgentView(body["agent"], "registration.agent");
    return { ...(body as unknown as RegisteredAgent), created: answer.status === 201 };
  }

  /** POST /agents/{id}/heartbeat: renews the agent's lease; 404 agent_not_found when it is gone. */
  async heartbeat(
    id: string,
    request: HeartbeatRequest = {},
    options: CallOptions = {},
  ): Promise<HeartbeatResponse> {
    const { body } = await this.send(
      { method: "POST", path: `${API}/agents/${agentPath(id)}/heartbeat`, body: request, idempotent: true },
      options,
    );
    const beat = expectFields(body, "heartbeat", {
      id: "string",
      status: "string",
      heartbeat_interval_ms: "number",
    });
    if (!isAgentStatus(beat["status"])) throw invalid("heartbeat.status is not an agent status");
    return beat as unknown as HeartbeatResponse;
  }

  /** GET /agents: one page. */
  async listAgents(filter: ListAgentsFilter = {}, options: CallOptions = {}): Promise<AgentPage> {
    const { label, ...rest } = filter;
    const { body } = await this.send(
      { method: "GET", path: `${API}/agents`, query: { ...rest, label: labelParameter(label) } },
      options,
    );
    const page = expectFields(body, "page", { agents: "array", next_cursor: "string|null" });
    return page as unknown as AgentPage;
  }

  /**
   * Every page of GET /agents, following the cursor up to `pagesMax` pages. A server that hands
   * back a cursor it gave before would loop forever; that is refused as invalid_response.
   */
  async listAllAgents(filter: ListAgentsFilter = {}, options: ListAllOptions = {}): Promise<AgentListing> {
    const pagesMax = options.pagesMax ?? DEFAULT_PAGES_MAX;
    if (!Number.isInteger(pagesMax) || pagesMax < 1)
      throw new RangeError(`pagesMax must be >= 1, got ${pagesMax}`);
    const agents: AgentView[] = [];
    const seen = new Set<string>();
    let cursor = filter.cursor;
    for (let pages = 0; pages < pagesMax; pages++) {
      const page = await this.listAgents(cursor === undefined ? filter : { ...filter, cursor }, options);
      agents.push(...page.agents);
      if (page.next_cursor === null) return { agents, truncated: false };
      if (seen.has(page.next_cursor)) throw invalid(`the server gave the cursor ${page.next_cursor} twice`);
      seen.add(page.next_cursor);
      cursor = page.next_cursor;
    }
    return { agents, truncated: true };
  }

  /** GET /agents/{id}. */
  async getAgent(id: string, options: CallOptions = {}): Promise<AgentView> {
    const { body } = await this.send({ method: "GET", path: `${API}/agents/${agentPath(id)}` }, options);
    return agentOf(body);
  }

  /**
   * DELETE /agents/{id}: the agent as it was deregistered. A retry after a lost answer may hear
   * 404 agent_not_found for an agent the first attempt removed; `deregister` in agent.ts treats
   * that as done.
   */
  async deregisterAgent(id: string, options: CallOptions = {}): Promise<AgentView> {
    const { body } = await this.send({ method: "DELETE", path: `${API}/agents/${agentPath(id)}` }, options);
    return agentOf(body);
  }

  /** GET /agents/{id}/health: status, suspicion and recent checks of one agent. */
  async agentHealth(id: string, options: CallOptions = {}): Promise<AgentHealth> {
    const { body } = await this.send(
      { method: "GET", path: `${API}/agents/${agentPath(id)}/health` },
      options,
    );
    expectFields(body, "health", { id: "string", status: "string", checks: "array" });
    return body as AgentHealth;
  }

  /** GET /agents/health: how many agents are in each status, overall and per team. */
  async agentsHealth(options: CallOptions = {}): Promise<AgentsHealthSummary> {
    const { body } = await this.send({ method: "GET", path: `${API}/agents/health` }, options);
    expectFields(body, "health summary", { total: "number", by_status: "object", by_team: "object" });
    return body as AgentsHealthSummary;
  }

  /** GET /agents/resolve: the agents that can take work with this skill, team and labels. */
  async resolveAgents(query: ResolveQuery, options: CallOptions = {}): Promise<readonly ResolvedAgent[]> {
    const { label, include_degraded, ...rest } = query;
    const parameters = {
      ...rest,
      label: labelParameter(label),
      include_degraded: include_degraded === undefined ? undefined : String(include_degraded),
    };
    const { body } = await this.send(
      { method: "GET", path: `${API}/agents/resolve`, query: parameters },
      options,
    );
    return expectFields(body, "resolution", { agents: "array" })["agents"] as readonly ResolvedAgent[];
  }

  private send(request: ApiRequest, options: CallOptions): Promise<ApiResponse> {
    return this.transport.send({ ...request, ...options });
  }
}

/** Whether `error` is the server saying the agent is not (or no longer) registered. */
export function isAgentNotFound(error: unknown): boolean {
  return hasErrorCode(error, "agent_not_found");
}

/** The agent of an `{agent: AgentView}` answer. */
function agentOf(body: unknown): AgentView {
  const agent = expectFields(body, "answer", { agent: "object" })["agent"];
  expectAgentView(agent, "answer.agent");
  return agent as AgentView;
}

/** The `key=value` text of a label parameter, or undefined for none. */
function labelParameter(label: LabelSelector | undefined): string | undefined {
  return label === undefined ? undefined : `${label.key}=${label.value}`;
}

/** The id as one path segment; throws on an empty or oversized id. */
function agentPath(id: string): string {
  if (id.length === 0 || id.length > AGENT_ID_LENGTH_MAX) {
    throw new RangeError(`an agent id is 1..${AGENT_ID_LENGTH_MAX} characters, got ${id.length}`);
  }
  return encodeURIComponent(id);
}
