/**
 * juno's SDK (`juno/client`): a typed HTTP client of a juno cluster that fails over between its
 * nodes (agents, tasks, workflows and their live streams, consensus status), and the Agent helper that registers an agent, keeps it
 * beating, and runs the tasks handed to it (polled, or pushed by juno) with the handlers it is
 * given. It needs nothing but the global fetch, so it runs on Node 20 with no dependencies;
 * only `agent.listen()` needs node:http.
 */

export { Agent, HEARTBEAT_INTERVAL_MAX_MS, HEARTBEAT_INTERVAL_MIN_MS } from "./agent.js";
export type { AgentActivity, AgentEvents, AgentOptions, HealthCheckOptions, LoadReport } from "./agent.js";
export {
  DEFAULT_PAGES_MAX,
  JunoClient,
  POLL_ANSWER_MARGIN_MS,
  REPORT_ITEMS_MAX,
  SUBMIT_MANY_MAX,
  CREATE_WORKFLOWS_MAX,
  REPORT_RESULTS_BYTES_MAX,
  isAgentNotFound,
} from "./client.js";
export type { CallOptions, JunoClientOptions, ListAllOptions, TasksApi, TriggerOptions } from "./client.js";
export { CLIENT_ERROR_CODES, JunoApiError, NO_STATUS, hasErrorCode } from "./errors.js";
export type { AttemptRecord, ClientErrorCode } from "./errors.js";
export type { Listener } from "./events.js";
export { DEFAULT_RESPONSE_BYTES_MAX, DEFAULT_TIMEOUT_MS, URLS_MAX } from "./http.js";
export type { ApiRequest, ApiResponse, HttpMethod, NodePreference, QueryParameters } from "./http.js";
export {
  DEFAULT_DELIVERY_PATH,
  PUSH_BODY_BYTES_MAX,
  PUSH_REGISTRATION_WAIT_MS,
  PUSH_TASKS_MAX,
  SIGNATURE_HEADER,
  SIGNATURE_TOLERANCE_MS,
  signatureProblem,
} from "./push.js";
export type { ListenOptions, PushListener, PushListenerOptions, PushRequest, PushResponse } from "./push.js";
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
export { tlsFetch } from "./tls.js";
export type { ClientTlsOptions } from "./tls.js";
export type { Sleep, Timers } from "./timers.js";
export {
  AGENT_SOURCES,
  AGENT_STATUSES,
  DELIVERY_MODES,
  FINISHED_TASK_STATUSES,
  FINISHED_WORKFLOW_STATUSES,
  TASK_STATUSES,
  WORKFLOW_STATUSES,
  WORKFLOW_STEP_STATUSES,
} from "./types.js";
export type {
  AgentCapabilities,
  AgentDelivery,
  AgentHealth,
  AgentListing,
  AgentPage,
  AgentSource,
  AgentStatus,
  AgentView,
  AgentsHealthSummary,
  CancelledAttempt,
  CompleteTaskRequest,
  ConsensusMember,
  ConsensusStatus,
  CreateWorkflowRequest,
  CreatedWorkflow,
  DefinitionSummary,
  DeliveryMode,
  FailTaskRequest,
  HealthCheckResult,
  HealthCheckSpec,
  HeartbeatRequest,
  HeartbeatResponse,
  LabelSelector,
  ListAgentsFilter,
  ListWorkflowsFilter,
  PlacementStrategy,
  PollTasksRequest,
  PollTasksResponse,
  RegisterAgentRequest,
  RegisterAgentResponse,
  RegisteredAgent,
  RegisteredDefinition,
  ReportResult,
  ReportTasksRequest,
  ReportTasksResponse,
  ReportedCompletion,
  ReportedFailure,
  ResolveQuery,
  ResolvedAgent,
  RunningAttempt,
  StatusCounts,
  SubmitTaskRequest,
  SubmittedTask,
  SubmitManyResult,
  CreateManyWorkflowsResult,
  TaskCounts,
  TaskDelivery,
  TaskError,
  TaskMetrics,
  TaskPush,
  TaskPushAccepted,
  TaskRequirements,
  TaskStatus,
  TaskStatusFilter,
  TaskStatusPage,
  TaskView,
  TriggeredWorkflows,
  WorkflowCounts,
  WorkflowDefinitionInput,
  WorkflowEventAnswer,
  WorkflowPage,
  WorkflowProgress,
  WorkflowStatus,
  WorkflowStepError,
  WorkflowStepInput,
  WorkflowStepStatus,
  WorkflowStepView,
  WorkflowSummary,
  WorkflowTeamProgress,
  WorkflowUnitView,
  WorkflowView,
  WorkflowsStatus,
  YamlWorkflowOptions,
} from "./types.js";
export { DEFAULT_WATCH_IDLE_TIMEOUT_MS } from "./watch.js";
export type { WatchOptions } from "./watch.js";
export {
  ERROR_LENGTH_MAX,
  NonRetryableError,
  POLL_TASKS_MAX,
  POLL_WAIT_MAX_MS,
  POLL_WAIT_MIN_MS,
  RESULT_BYTES_MAX,
  RUNNING_LIST_MAX,
  TaskAbortedError,
} from "./worker.js";
export type { TaskContext, TaskEvent, TaskHandler, TaskOutcome, WorkerOptions } from "./worker.js";
