/**
 * juno's SDK (`juno/client`): a typed HTTP client of a juno cluster that fails over between its
 * nodes, and the Agent helper that registers an agent and keeps it beating. It needs nothing but
 * the global fetch, so it runs on Node 20 with no dependencies.
 */

export { Agent, HEARTBEAT_INTERVAL_MAX_MS, HEARTBEAT_INTERVAL_MIN_MS } from "./agent.js";
export type { AgentActivity, AgentEvents, AgentOptions, HealthCheckOptions, LoadReport } from "./agent.js";
export { DEFAULT_PAGES_MAX, JunoClient, isAgentNotFound } from "./client.js";
export type { CallOptions, JunoClientOptions, ListAllOptions } from "./client.js";
export { CLIENT_ERROR_CODES, JunoApiError, NO_STATUS, hasErrorCode } from "./errors.js";
export type { AttemptRecord, ClientErrorCode } from "./errors.js";
export type { Listener } from "./events.js";
export { DEFAULT_RESPONSE_BYTES_MAX, DEFAULT_TIMEOUT_MS, URLS_MAX } from "./http.js";
export type { ApiRequest, ApiResponse, HttpMethod, QueryParameters } from "./http.js";
export {
  DEFAULT_RETRY_POLICY,
  REFUSED_BEFORE_APPLYING_CODES,
  backoffDelayMs,
  judgeAttempt,
  parseRetryAfterMs,
  retryDelayMs,
} from "./retry-policy.js";
export type { AttemptOutcome, RetryPolicy, Verdict } from "./retry-policy.js";
export { SYSTEM_TIMERS } from "./timers.js";
export type { Sleep, Timers } from "./timers.js";
export { AGENT_SOURCES, AGENT_STATUSES } from "./types.js";
export type {
  AgentCapabilities,
  AgentHealth,
  AgentListing,
  AgentPage,
  AgentSource,
  AgentStatus,
  AgentView,
  AgentsHealthSummary,
  ConsensusMember,
  ConsensusStatus,
  HealthCheckResult,
  HealthCheckSpec,
  HeartbeatRequest,
  HeartbeatResponse,
  LabelSelector,
  ListAgentsFilter,
  RegisterAgentRequest,
  RegisterAgentResponse,
  RegisteredAgent,
  ResolveQuery,
  ResolvedAgent,
  StatusCounts,
} from "./types.js";
