/**
 * JunoClient: the agents and tasks APIs and the cluster's status as typed methods, over the
 * failover transport. Register and heartbeat are marked safe to repeat (the server finds a
 * registration by name and endpoint, and a beat only renews a lease), so they ride out node
 * failures and leader changes like reads do.
 *
 * The tasks API is made safe to retry the same way, each write by its own rule:
 * - submit carries an idempotency key (one is made up when the caller gives none), so a retry
 *   after a lost answer finds the task the first attempt made instead of making a second;
 * - complete and fail are fenced by attempt: a repeat either applies once or is refused with 409
 *   stale_attempt, changing nothing. When a call was retried and the last attempt hears
 *   stale_attempt, an earlier attempt may be the one that landed, so the client reads the task
 *   and answers it as a success if the task shows this very report (completed by this attempt
 *   of this agent; failed with this message by it); otherwise the stale_attempt stands;
 * - report (POST /tasks/report, many completions and failures at once) is fenced the same way,
 *   report by report: when the call was sent more than once, each report refused as stale is
 *   checked against its task like that;
 * - cancel is a DELETE: a retry that hears 409 task_finished reads the task, and answers it when
 *   it is cancelled;
 * - poll is not safe to repeat (a poll that landed started its tasks): a lost answer is reported
 *   as outcome_unknown, and the worker finds the tasks it may have started in GET /tasks/status.
 *
 * The workflows API likewise:
 * - create carries an idempotency key like submit (one is made up when the caller gives none);
 *   a YAML definition sent as it is carries none, and is not retried once it may have landed;
 * - execute and cancel are refused once done (409 workflow_started, workflow_ended): a retry that
 *   hears so reads the run, and answers it when it shows the change asked for;
 * - an event counts once per name: a retry that hears duplicate_event answers applied when the
 *   run holds this very event;
 * - register is safe to repeat when the definition names its version (the same one registered
 *   again answers 200); without one each landing takes the next version, so it is not retried;
 * - trigger starts runs each time it lands, so it is not retried either;
 * - watch follows a run's stream, reconnecting to the next node when it drops (watch.ts).
 */

import { hasErrorCode, isRecord, type JunoApiError } from "./errors.js";
import {
  DEFAULT_RESPONSE_BYTES_MAX,
  DEFAULT_TIMEOUT_MS,
  HttpTransport,
  type ApiRequest,
  type ApiResponse,
  type HttpTransportOptions,
  type NodePreference,
} from "./http.js";
import { retryPolicy, type RetryPolicy } from "./retry-policy.js";
import {
  expectAgentView,
  expectAttempt,
  expectFields,
  expectTaskView,
  expectWorkflowSummary,
  expectWorkflowView,
  invalid,
  isAgentStatus,
  isTaskStatus,
} from "./shape.js";
import { SYSTEM_TIMERS, sleeperOn } from "./timers.js";
import { clientFetch } from "./tls.js";
import type {
  AgentHealth,
  AgentListing,
  AgentPage,
  AgentView,
  AgentsHealthSummary,
  CompleteTaskRequest,
  ConsensusStatus,
  CreateWorkflowRequest,
  CreatedWorkflow,
  DefinitionSummary,
  FailTaskRequest,
  HeartbeatRequest,
  HeartbeatResponse,
  LabelSelector,
  ListAgentsFilter,
  ListWorkflowsFilter,
  PollTasksRequest,
  PollTasksResponse,
  RegisterAgentRequest,
  RegisteredAgent,
  RegisteredDefinition,
  ReportResult,
  ReportTasksRequest,
  ReportTasksResponse,
  ResolveQuery,
  ResolvedAgent,
  SubmitTaskRequest,
  SubmittedTask,
  SubmitManyResult,
  CreateManyWorkflowsResult,
  TaskDelivery,
  TaskMetrics,
  TaskStatusFilter,
  TaskStatusPage,
  TaskView,
  TriggeredWorkflows,
  WorkflowDefinitionInput,
  WorkflowEventAnswer,
  WorkflowPage,
  WorkflowView,
  WorkflowsStatus,
  YamlWorkflowOptions,
} from "./types.js";
import { followWorkflow, type WatchOptions, type WatchSetup } from "./watch.js";

/** How a JunoClient is set up: the transport's options, and where idempotency keys come from. */
export interface JunoClientOptions extends HttpTransportOptions {
  /** Makes the idempotency key of a submission that names none; a random UUID by default. */
  readonly idempotencyKey?: () => string;
}

/** The tasks API as a namespace of the client: `client.tasks.submit(...)`. */
export interface TasksApi {
  /** POST /tasks/distribute; see JunoClient.submitTask. */
  submit(request: SubmitTaskRequest, options?: CallOptions): Promise<SubmittedTask>;
  /** POST /tasks/distribute/bulk; see JunoClient.submitTasks. */
  submitMany(requests: readonly SubmitTaskRequest[], options?: CallOptions): Promise<SubmitManyResult[]>;
  /** GET /tasks/{id}. */
  get(id: string, options?: CallOptions): Promise<TaskView>;
  /** DELETE /tasks/{id}; see JunoClient.cancelTask. */
  cancel(id: string, options?: CallOptions): Promise<TaskView>;
  /** GET /tasks/status: counts and one filtered page. */
  status(filter?: TaskStatusFilter, options?: CallOptions): Promise<TaskStatusPage>;
  /** GET /tasks/metrics. */
  metrics(options?: CallOptions): Promise<TaskMetrics>;
  /** POST /tasks/report: many attempts of one agent completed or failed at once; see JunoClient.reportTasks. */
  report(request: ReportTasksRequest, options?: CallOptions): Promise<ReportTasksResponse>;
}

/** Per-call options. */
export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Overrides the client's per-attempt timeout for this call. */
  readonly timeoutMs?: number;
  /** Overrides parts of the client's retry policy for this call (attempts, backoff). */
  readonly retry?: Partial<RetryPolicy>;
  /**
   * Starts at this preference's node rather than the client's shared one, and records in it the
   * node that answered (or the next to try after a failure): for a line of calls, like an
   * agent's beats, that should stick to the node that serves them.
   */
  readonly prefer?: NodePreference;
}

/** Per-call options of triggerWorkflows. */
export interface TriggerOptions extends CallOptions {
  /** The team that owns the runs it starts; each definition's first team when absent. */
  readonly team?: string;
}

/** Per-call options of listAllAgents. */
export interface ListAllOptions extends CallOptions {
  /** The most pages fetched; the listing says `truncated` when more were left. */
  readonly pagesMax?: number;
}

/** A thousand pages: every agent of a cluster at the design's scale, at any sensible page size. */
export const DEFAULT_PAGES_MAX = 1_000;

/** The longest agent or task id accepted in a path; ids are UUIDs, 36 characters. */
const ID_LENGTH_MAX = 256;

/**
 * What a poll's attempt may take beyond its wait_ms: the server answers once the wait is over,
 * and then proposes the start of what it hands out.
 */
export const POLL_ANSWER_MARGIN_MS = DEFAULT_TIMEOUT_MS;

/** The most tasks one POST /tasks/distribute/bulk carries, the server's bound. */
export const SUBMIT_MANY_MAX = 500;

/** The most runs one POST /workflows/bulk creates, the server's bound. */
export const CREATE_WORKFLOWS_MAX = 100;

/** The most reports one POST /tasks/report carries, the server's bound. */
export const REPORT_ITEMS_MAX = 256;

/** The most bytes of JSON the results of one POST /tasks/report take together, the server's bound. */
export const REPORT_RESULTS_BYTES_MAX = 1024 * 1024;

const API = "/api/v3";

/** The media type YAML bodies go as. */
const YAML = "application/yaml";

/** A typed client of one juno cluster, given the base URLs of some of its nodes. */
export class JunoClient {
  /** The tasks API as a namespace: submit, get, cancel, status, metrics, report. */
  readonly tasks: TasksApi;
  private readonly transport: HttpTransport;
  private readonly idempotencyKey: () => string;
  /** What watchWorkflow needs of this client: its own connections, with the transport's settings. */
  private readonly watchSetup: WatchSetup;

  constructor(options: JunoClientOptions) {
    const { idempotencyKey, ...transport } = options;
    // Requests go through undici's pool (requester.ts) unless a fetch is given; watches stream
    // through fetch, with the same TLS settings.
    const fetchFunction = clientFetch(options);
    this.transport = new HttpTransport(transport);
    this.idempotencyKey = idempotencyKey ?? (() => globalThis.crypto.randomUUID());
    const timers = options.timers ?? SYSTEM_TIMERS;
    this.watchSetup = {
      // The transport has checked the URLs and the token; these are the same, as it keeps them.
      urls: options.urls.map((url) => url.replace(/\/+$/, "")),
      firstUrl: () => this.transport.preferredUrl,
      authorization: options.token === undefined ? null : `Bearer ${options.token}`,
      fetch: fetchFunction,
      policy: retryPolicy(options.retry),
      random: options.random ?? Math.random,
      sleep: options.sleep ?? sleeperOn(timers),
      timers,
      now: options.now ?? Date.now,
      eventLengthMax: options.responseBytesMax ?? DEFAULT_RESPONSE_BYTES_MAX,
    };
    this.tasks = Object.freeze({
      submit: (request: SubmitTaskRequest, callOptions?: CallOptions) =>
        this.submitTask(request, callOptions),
      submitMany: (requests: readonly SubmitTaskRequest[], callOptions?: CallOptions) =>
        this.submitTasks(requests, callOptions),
      get: (id: string, callOptions?: CallOptions) => this.getTask(id, callOptions),
      cancel: (id: string, callOptions?: CallOptions) => this.cancelTask(id, callOptions),
      status: (filter?: TaskStatusFilter, callOptions?: CallOptions) => this.taskStatus(filter, callOptions),
      metrics: (callOptions?: CallOptions) => this.taskMetrics(callOptions),
      report: (request: ReportTasksRequest, callOptions?: CallOptions) =>
        this.reportTasks(request, callOptions),
    });
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

  /** `request` with an idempotency key: its own, or one made up here so that retries are safe. */
  private keyed<T extends { readonly idempotency_key?: string }>(request: T): T {
    return request.idempotency_key === undefined
      ? { ...request, idempotency_key: this.idempotencyKey() }
      : request;
  }

  /**
   * POST /tasks/distribute: queues a task (or assigns it at once). Safe to retry: a submission
   * without an idempotency_key gets one made up here, so the client's own retries after a lost
   * answer find the first task (200, `created: false`) rather than make a second.
   */
  async submitTask(request: SubmitTaskRequest, options: CallOptions = {}): Promise<SubmittedTask> {
    const body = this.keyed(request);
    const answer = await this.send(
      { method: "POST", path: `${API}/tasks/distribute`, body, idempotent: true },
      options,
    );
    return { task: taskOf(answer.body), created: answer.status === 201 };
  }

  /**
   * POST /tasks/distribute/bulk: 1..SUBMIT_MANY_MAX submissions in one request and one log entry,
   * each answered on its own, in the order given, as submitTask would answer it: the task and
   * whether this call made it, or refused (queue_full, limit_exceeded) making nothing. The batch
   * is placed highest priority first. Safe to retry like submitTask: each request without an
   * idempotency_key gets one made up here, so a retry after a lost answer finds the tasks the
   * first attempt made (created false) instead of making them again. Throws RangeError for none
   * or more than SUBMIT_MANY_MAX; one that does not validate refuses the whole call (400,
   * naming it as tasks[i]) and makes nothing.
   */
  async submitTasks(
    requests: readonly SubmitTaskRequest[],
    options: CallOptions = {},
  ): Promise<SubmitManyResult[]> {
    if (requests.length === 0 || requests.length > SUBMIT_MANY_MAX)
      throw new RangeError(`submitTasks takes 1 to ${SUBMIT_MANY_MAX} tasks, not ${requests.length}`);
    const tasks = requests.map((request) => this.keyed(request));
    const answer = await this.send(
      { method: "POST", path: `${API}/tasks/distribute/bulk`, body: { tasks }, idempotent: true },
      options,
    );
    return submitManyResultsOf(answer.body, tasks.length);
  }

  /** GET /tasks/{id}; 404 task_not_found when it is not (or no longer) kept. */
  async getTask(id: string, options: CallOptions = {}): Promise<TaskView> {
    const { body } = await this.send({ method: "GET", path: `${API}/tasks/${taskPath(id)}` }, options);
    return taskOf(body);
  }

  /**
   * DELETE /tasks/{id}: the task as it was cancelled; 409 task_finished when it had already
   * ended. A running task's agent hears of it on its next poll. A retry after a lost answer that
   * hears task_finished reads the task, and answers it when it is cancelled.
   */
  async cancelTask(id: string, options: CallOptions = {}): Promise<TaskView> {
    try {
      const { body } = await this.send({ method: "DELETE", path: `${API}/tasks/${taskPath(id)}` }, options);
      return taskOf(body);
    } catch (error) {
      if (hasErrorCode(error, "task_finished") && wasRetried(error)) {
        const task = await this.getTask(id, options);
        if (task.status === "cancelled") return task;
      }
      throw error;
    }
  }

  /** GET /tasks/status: counts by status of every task, and one page of those the filter matches. */
  async taskStatus(filter: TaskStatusFilter = {}, options: CallOptions = {}): Promise<TaskStatusPage> {
    const { body } = await this.send(
      { method: "GET", path: `${API}/tasks/status`, query: { ...filter } },
      options,
    );
    const page = expectFields(body, "task status", {
      counts: "object",
      total: "number",
      tasks: "array",
      next_cursor: "string|null",
    });
    (page["tasks"] as unknown[]).forEach((task, index) =>
      expectTaskView(task, `task status.tasks[${index}]`),
    );
    return page as unknown as TaskStatusPage;
  }

  /** GET /tasks/metrics: queue depth, the oldest waiting task, running tasks by team, agents' load. */
  async taskMetrics(options: CallOptions = {}): Promise<TaskMetrics> {
    const { body } = await this.send({ method: "GET", path: `${API}/tasks/metrics` }, options);
    expectFields(body, "task metrics", {
      counts: "object",
      queue: "object",
      running_by_team: "object",
      agents: "array",
    });
    return body as TaskMetrics;
  }

  /**
   * POST /tasks/poll: takes the tasks assigned to an agent (each now running in the attempt it
   * carries), waiting up to `wait_ms` for one, and hears which of its `running` attempts are no
   * longer its own. Not safe to repeat: a lost answer is outcome_unknown, and the tasks it may
   * have started are found in GET /tasks/status. The attempt's timeout is `wait_ms` plus
   * POLL_ANSWER_MARGIN_MS unless the call sets one.
   */
  async pollTasks(request: PollTasksRequest, options: CallOptions = {}): Promise<PollTasksResponse> {
    const waitMs = request.wait_ms ?? 0;
    const timeoutMs = options.timeoutMs ?? (waitMs > 0 ? waitMs + POLL_ANSWER_MARGIN_MS : undefined);
    const { body } = await this.send(
      { method: "POST", path: `${API}/tasks/poll`, body: request },
      timeoutMs === undefined ? options : { ...options, timeoutMs },
    );
    const answer = expectFields(body, "poll", { tasks: "array", cancelled: "array" });
    (answer["tasks"] as unknown[]).forEach((task, index) =>
      expectAttempt(task, `poll.tasks[${index}]`, "delivery"),
    );
    (answer["cancelled"] as unknown[]).forEach((cancelled, index) =>
      expectAttempt(cancelled, `poll.cancelled[${index}]`, "cancelled"),
    );
    return answer as unknown as PollTasksResponse;
  }

  /**
   * POST /tasks/{id}/complete: reports the attempt done with its result. Retried like a read,
   * being fenced by attempt; see the module comment for a retry that hears 409 stale_attempt.
   */
  async completeTask(id: string, request: CompleteTaskRequest, options: CallOptions = {}): Promise<TaskView> {
    return this.report(id, "complete", request, options, (task) => completedBy(task, request));
  }

  /**
   * POST /tasks/{id}/fail: reports the attempt failed. A retryable failure (the default) queues the
   * next attempt after its backoff while attempts remain, then dead-letters the task; one that is
   * not retryable fails it. Retried like completeTask.
   */
  async failTask(id: string, request: FailTaskRequest, options: CallOptions = {}): Promise<TaskView> {
    return this.report(id, "fail", request, options, (task) => failedBy(task, request));
  }

  /**
   * POST /tasks/report: completions and failures of one agent's attempts in one request (and one
   * log entry), each fenced by its attempt and answered on its own in `results`, in the order
   * given, completed first, as completeTask and failTask would answer it: ok with the task's
   * status, or refused (stale_attempt, task_not_found) changing nothing. Retried like them: when
   * the call was sent more than once, a report refused as stale_attempt is checked against its
   * task and answered ok if the task shows this very report. Throws RangeError for no report, more
   * than REPORT_ITEMS_MAX, or a task named twice; a juno older than the route answers 404 not_found.
   */
  async reportTasks(request: ReportTasksRequest, options: CallOptions = {}): Promise<ReportTasksResponse> {
    const items = reportItemsOf(request);
    const answer = await this.send(
      { method: "POST", path: `${API}/tasks/report`, body: request, idempotent: true },
      options,
    );
    const results = reportResultsOf(answer.body, items);
    const tasks = takenOf(answer.body);
    const resent = answer.attempts.length > 0;
    if (!resent) return { results, tasks, resent };
    const confirmed: ReportResult[] = [];
    // One read at a time: only stale reports of a call that was sent twice are read, rarely many.
    for (const [index, result] of results.entries()) {
      const item = items[index];
      if (item === undefined || result.ok || result.error.code !== "stale_attempt") {
        confirmed.push(result);
        continue;
      }
      const task = await this.getTask(item.id, options);
      confirmed.push(
        item.landed(task) ? { id: item.id, attempt: item.attempt, ok: true, status: task.status } : result,
      );
    }
    return { results: confirmed, tasks, resent };
  }

  /**
   * POST /workflows: a run of a definition, or of a registered one by name; started at once with
   * `execute: true`, else left `created`. Safe to retry like submitTask: a request without an
   * idempotency_key gets one made up here. A definition that does not validate is refused with
   * 422 invalid_definition, every problem ({code, path, message}) in the error's `details.errors`.
   */
  async createWorkflow(request: CreateWorkflowRequest, options: CallOptions = {}): Promise<CreatedWorkflow> {
    const body = this.keyed(request);
    const answer = await this.send(
      { method: "POST", path: `${API}/workflows`, body, idempotent: true },
      options,
    );
    return { workflow: workflowOf(answer.body), created: answer.status === 201 };
  }

  /**
   * POST /workflows/bulk: 1..CREATE_WORKFLOWS_MAX runs in one request and one log entry, each
   * answered on its own, in the order given, as createWorkflow would answer it, or refused
   * (definition_not_found, limit_exceeded) making nothing. Safe to retry like createWorkflow:
   * each request without an idempotency_key gets one made up here. Throws RangeError for none or
   * more than CREATE_WORKFLOWS_MAX, and for a request that expands a task (createWorkflow does
   * that); a request that does not validate refuses the whole call (400, or 422
   * invalid_definition, naming it as workflows[i]) and makes nothing.
   */
  async createWorkflows(
    requests: readonly CreateWorkflowRequest[],
    options: CallOptions = {},
  ): Promise<CreateManyWorkflowsResult[]> {
    if (requests.length === 0 || requests.length > CREATE_WORKFLOWS_MAX)
      throw new RangeError(`createWorkflows takes 1 to ${CREATE_WORKFLOWS_MAX} runs, not ${requests.length}`);
    if (requests.some((request) => request.expands_task !== undefined))
      throw new RangeError("createWorkflows expands no task: use createWorkflow for that");
    const workflows = requests.map((request) => this.keyed(request));
    const answer = await this.send(
      { method: "POST", path: `${API}/workflows/bulk`, body: { workflows }, idempotent: true },
      options,
    );
    return createManyResultsOf(answer.body, workflows.length);
  }

  /**
   * POST /workflows with a YAML definition, as `application/yaml`. With nothing but `execute`
   * the text goes as it is, and is not sent again once it may have landed (a lost answer is
   * outcome_unknown). With an input, a team or an idempotency key it goes inside a YAML create
   * request, under `definition:`, with a key made up when none is given, and is retried like
   * createWorkflow; the server's YAML syntax errors then point one line down and two columns
   * right of the text given.
   */
  async createWorkflowFromYaml(
    text: string,
    run: YamlWorkflowOptions = {},
    options: CallOptions = {},
  ): Promise<CreatedWorkflow> {
    const { execute, ...fields } = run;
    const bare = Object.keys(fields).length === 0;
    const body = bare
      ? text
      : yamlCreateRequest(text, {
          ...fields,
          ...(execute === undefined ? {} : { execute }),
          idempotency_key: fields.idempotency_key ?? this.idempotencyKey(),
        });
    const answer = await this.send(
      {
        method: "POST",
        path: `${API}/workflows`,
        query: { execute: bare && execute !== undefined ? String(execute) : undefined },
        body,
        contentType: YAML,
        idempotent: !bare,
      },
      options,
    );
    return { workflow: workflowOf(answer.body), created: answer.status === 201 };
  }

  /** GET /workflows/{id}: the run, its steps (status, attempts, task, agent, output, error, times) and progress. */
  async getWorkflow(id: string, options: CallOptions = {}): Promise<WorkflowView> {
    const { body } = await this.send({ method: "GET", path: workflowPath(id) }, options);
    return workflowOf(body);
  }

  /** GET /workflows: one page of runs, newest first. */
  async listWorkflows(filter: ListWorkflowsFilter = {}, options: CallOptions = {}): Promise<WorkflowPage> {
    const { body } = await this.send(
      { method: "GET", path: `${API}/workflows`, query: { ...filter } },
      options,
    );
    const page = expectFields(body, "page", { workflows: "array", next_cursor: "string|null" });
    (page["workflows"] as unknown[]).forEach((run, index) =>
      expectWorkflowSummary(run, `page.workflows[${index}]`),
    );
    return page as unknown as WorkflowPage;
  }

  /** GET /workflows/status: runs counted by status and team, definitions, timers, approvals. */
  async workflowStatus(options: CallOptions = {}): Promise<WorkflowsStatus> {
    const { body } = await this.send({ method: "GET", path: `${API}/workflows/status` }, options);
    expectFields(body, "workflow status", {
      counts: "object",
      total: "number",
      live: "number",
      by_team: "object",
    });
    return body as WorkflowsStatus;
  }

  /**
   * POST /workflows/{id}/execute: starts a created run; 409 workflow_started when it had started.
   * A retry that hears so reads the run, and answers it when it is no longer `created`.
   */
  async executeWorkflow(id: string, options: CallOptions = {}): Promise<WorkflowView> {
    try {
      const { body } = await this.send(
        { method: "POST", path: `${workflowPath(id)}/execute`, idempotent: true },
        options,
      );
      return workflowOf(body);
    } catch (error) {
      if (hasErrorCode(error, "workflow_started") && wasRetried(error)) {
        const run = await this.getWorkflow(id, options);
        if (run.status !== "created") return run;
      }
      throw error;
    }
  }

  /**
   * DELETE /workflows/{id}: cancels the run (its running tasks and sub-workflows too); 409
   * workflow_ended when it had ended. A retry that hears so reads the run, and answers it when it
   * is cancelled.
   */
  async cancelWorkflow(id: string, reason?: string, options: CallOptions = {}): Promise<WorkflowView> {
    try {
      const { body } = await this.send(
        { method: "DELETE", path: workflowPath(id), query: { reason } },
        options,
      );
      return workflowOf(body);
    } catch (error) {
      if (hasErrorCode(error, "workflow_ended") && wasRetried(error)) {
        const run = await this.getWorkflow(id, options);
        if (run.status === "cancelled") return run;
      }
      throw error;
    }
  }

  /**
   * POST /workflows/{id}/events: the event steps waiting for `name` take `data` as their output.
   * The first event of a name counts; `applied: false` says why one changed nothing. A retry that
   * hears duplicate_event answers applied when the run holds this very event.
   */
  async sendWorkflowEvent(
    id: string,
    name: string,
    data: unknown = null,
    options: CallOptions = {},
  ): Promise<WorkflowEventAnswer> {
    const answer = await this.send(
      { method: "POST", path: `${workflowPath(id)}/events`, body: { name, data }, idempotent: true },
      options,
    );
    const delivered = expectFields(answer.body, "event answer", { workflow: "object" });
    if (typeof delivered["applied"] !== "boolean") throw invalid("event answer.applied is not a boolean");
    const workflow = workflowOf(delivered);
    const result = delivered as unknown as WorkflowEventAnswer;
    const ours = workflow.events.find((event) => event.name === name);
    const landedBefore =
      answer.attempts.length > 0 &&
      result.ignored?.code === "duplicate_event" &&
      ours !== undefined &&
      JSON.stringify(ours.data) === JSON.stringify(data);
    return landedBefore ? { applied: true, ignored: null, workflow } : { ...result, workflow };
  }

  /**
   * POST /workflows/events: starts a run of the latest version of every registered definition
   * whose trigger.event is `name`, with `data` as input. Each landing starts runs, so it is not
   * sent again once it may have landed (a lost answer is outcome_unknown).
   */
  async triggerWorkflows(
    name: string,
    data: Readonly<Record<string, unknown>> = {},
    options: TriggerOptions = {},
  ): Promise<TriggeredWorkflows> {
    const { team, ...callOptions } = options;
    const { body } = await this.send(
      {
        method: "POST",
        path: `${API}/workflows/events`,
        body: { name, data, ...(team === undefined ? {} : { team }) },
      },
      callOptions,
    );
    expectFields(body, "trigger answer", { started: "array" });
    return body as TriggeredWorkflows;
  }

  /**
   * POST /workflows/definitions: registers a definition (an object, or YAML text) by name and
   * version, the next version when it names none. Safe to repeat only when it names its version
   * (the same definition again answers 200, another one 409 version_exists), so only then is it
   * retried after a lost answer.
   */
  async registerDefinition(
    definition: WorkflowDefinitionInput | string,
    options: CallOptions = {},
  ): Promise<RegisteredDefinition> {
    const yaml = typeof definition === "string";
    const answer = await this.send(
      {
        method: "POST",
        path: `${API}/workflows/definitions`,
        body: definition,
        ...(yaml ? { contentType: YAML } : {}),
        idempotent: !yaml && definition.version !== undefined,
      },
      options,
    );
    const registered = expectFields(answer.body, "registration", { name: "string", version: "number" });
    return { ...(registered as unknown as RegisteredDefinition), created: answer.status === 201 };
  }

  /** GET /workflows/definitions: every registered version, by name (or of one name). */
  async listDefinitions(
    filter: { readonly name?: string } = {},
    options: CallOptions = {},
  ): Promise<readonly DefinitionSummary[]> {
    const { body } = await this.send(
      { method: "GET", path: `${API}/workflows/definitions`, query: { ...filter } },
      options,
    );
    const listing = expectFields(body, "definitions", { definitions: "array" })["definitions"] as unknown[];
    listing.forEach((summary, index) =>
      expectFields(summary, `definitions[${index}]`, { name: "string", version: "number" }),
    );
    return listing as DefinitionSummary[];
  }

  /**
   * GET /workflows/{id}/watch: calls `onUpdate` with the run at once and after every change, and
   * resolves with its last view once it ended. A dropped stream starts again at the next node of
   * the client's list (watch.ts says when it gives up); `signal` ends the watch (code aborted).
   */
  watchWorkflow(
    id: string,
    onUpdate: (view: WorkflowView) => void,
    options: WatchOptions = {},
  ): Promise<WorkflowView> {
    return followWorkflow(
      this.watchSetup,
      `${workflowPath(id)}/watch`,
      onUpdate,
      () => this.getWorkflow(id, options.signal === undefined ? {} : { signal: options.signal }),
      options,
    );
  }

  /** Sends a report fenced by attempt; a retried one refused as stale is checked against the task. */
  private async report(
    id: string,
    verb: "complete" | "fail",
    request: CompleteTaskRequest | FailTaskRequest,
    options: CallOptions,
    landed: (task: TaskView) => boolean,
  ): Promise<TaskView> {
    const path = `${API}/tasks/${taskPath(id)}/${verb}`;
    try {
      const { body } = await this.send({ method: "POST", path, body: request, idempotent: true }, options);
      return taskOf(body);
    } catch (error) {
      if (hasErrorCode(error, "stale_attempt") && wasRetried(error)) {
        const task = await this.getTask(id, options);
        if (landed(task)) return task;
      }
      throw error;
    }
  }

  private send(request: ApiRequest, options: CallOptions): Promise<ApiResponse> {
    return this.transport.send({ ...request, ...options });
  }
}

/** One report of a POST /tasks/report, in the order its results come, and how to tell it landed. */
interface ReportItem {
  readonly id: string;
  readonly attempt: number;
  /** Whether `task` shows this very report, for one refused as stale after the call was sent twice. */
  readonly landed: (task: TaskView) => boolean;
}

/** The reports of `request`, completed first; throws RangeError on a request no server takes. */
function reportItemsOf(request: ReportTasksRequest): ReportItem[] {
  const agentId = request.agent_id;
  const items: ReportItem[] = [
    ...(request.completed ?? []).map(({ id, attempt }) => ({
      id,
      attempt,
      landed: (task: TaskView) => completedBy(task, { agent_id: agentId, attempt }),
    })),
    ...(request.failed ?? []).map((failure) => ({
      id: failure.id,
      attempt: failure.attempt,
      landed: (task: TaskView) => failedBy(task, { ...failure, agent_id: agentId }),
    })),
  ];
  if (items.length === 0 || items.length > REPORT_ITEMS_MAX) {
    throw new RangeError(`a report carries 1..${REPORT_ITEMS_MAX} attempts, got ${items.length}`);
  }
  const ids = new Set<string>();
  for (const item of items) {
    pathSegment(item.id, "a task id");
    if (ids.has(item.id)) throw new RangeError(`a report names each task once; ${item.id} is named twice`);
    ids.add(item.id);
  }
  return items;
}

/**
 * The results of a bulk submission's answer, checked: one per task sent, in their order. As with
 * submitTask, `created` is false after a retry whose lost first attempt made the task.
 */
function submitManyResultsOf(body: unknown, count: number): SubmitManyResult[] {
  const results = expectFields(body, "bulk", { results: "array" })["results"] as unknown[];
  if (results.length !== count)
    throw invalid(`bulk.results has ${results.length} results for ${count} tasks`);
  return results.map((result, index) => {
    const what = `bulk.results[${index}]`;
    const fields = expectFields(result, what, {});
    if (fields["ok"] === true) {
      expectTaskView(fields["task"], `${what}.task`);
      if (typeof fields["created"] !== "boolean") throw invalid(`${what}.created is not a boolean`);
      return { ok: true, task: fields["task"] as TaskView, created: fields["created"] };
    }
    return bulkRefusalOf(fields, what);
  });
}

function createManyResultsOf(body: unknown, count: number): CreateManyWorkflowsResult[] {
  const results = expectFields(body, "bulk", { results: "array" })["results"] as unknown[];
  if (results.length !== count) throw invalid(`bulk.results has ${results.length} results for ${count} runs`);
  return results.map((result, index) => {
    const what = `bulk.results[${index}]`;
    const fields = expectFields(result, what, {});
    if (fields["ok"] === true) {
      expectFields(fields, what, { id: "string" });
      if (typeof fields["created"] !== "boolean") throw invalid(`${what}.created is not a boolean`);
      const workflow = fields["workflow"];
      if (workflow !== undefined) expectWorkflowView(workflow, `${what}.workflow`);
      return {
        ok: true,
        id: fields["id"] as string,
        workflow: (workflow as WorkflowView | undefined) ?? null,
        created: fields["created"],
      };
    }
    return bulkRefusalOf(fields, what);
  });
}

/** A bulk result that is not ok: the error it was refused with, checked. */
function bulkRefusalOf(
  fields: Record<string, unknown>,
  what: string,
): { ok: false; error: { code: string; message: string } } {
  const error = fields["error"];
  if (fields["ok"] !== false || !isRecord(error)) throw invalid(`${what} is neither ok nor an error`);
  expectFields(error, `${what}.error`, { code: "string", message: "string" });
  return { ok: false, error: error as { code: string; message: string } };
}

/** The tasks a report's `take` started, checked; none from a juno older than `take`. */
function takenOf(body: unknown): TaskDelivery[] {
  const tasks = isRecord(body) ? body["tasks"] : undefined;
  if (tasks === undefined) return [];
  if (!Array.isArray(tasks)) throw invalid("report.tasks is not an array");
  tasks.forEach((task, index) => expectAttempt(task, `report.tasks[${index}]`, "delivery"));
  return tasks as TaskDelivery[];
}

/** The results of a report's answer, checked against the reports sent: one each, in their order. */
function reportResultsOf(body: unknown, items: readonly ReportItem[]): ReportResult[] {
  const results = expectFields(body, "report", { results: "array" })["results"] as unknown[];
  if (results.length !== items.length) {
    throw invalid(`report.results has ${results.length} results for ${items.length} reports`);
  }
  return results.map((result, index) => {
    const what = `report.results[${index}]`;
    const item = items[index];
    const fields = expectFields(result, what, { id: "string", attempt: "number" });
    if (fields["id"] !== item?.id || fields["attempt"] !== item?.attempt) {
      throw invalid(`${what} is not the answer to report ${index} (${item?.id}, attempt ${item?.attempt})`);
    }
    if (fields["ok"] === true) {
      if (!isTaskStatus(fields["status"])) throw invalid(`${what}.status is not a task status`);
      return result as ReportResult;
    }
    const error = fields["error"];
    if (fields["ok"] !== false || !isRecord(error)) throw invalid(`${what} is neither ok nor an error`);
    expectFields(error, `${what}.error`, { code: "string", message: "string" });
    return result as ReportResult;
  });
}

/** The run of a `{workflow: WorkflowView}` answer. */
function workflowOf(body: unknown): WorkflowView {
  const workflow = expectFields(body, "answer", { workflow: "object" })["workflow"];
  expectWorkflowView(workflow, "answer.workflow");
  return workflow as WorkflowView;
}

/**
 * A YAML create request around a YAML definition: the text indented under `definition:`, then
 * the other fields as JSON, which YAML reads as it is. A leading `---` and a trailing `...` mark
 * the document, which the request now is, so they are dropped.
 */
function yamlCreateRequest(text: string, fields: Readonly<Record<string, unknown>>): string {
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  const start = lines.findIndex((line) => !/^\s*(#.*)?$/.test(line));
  if (start >= 0 && /^---\s*(#.*)?$/.test(lines[start] ?? "")) lines.splice(start, 1);
  let end = lines.length - 1;
  while (end >= 0 && /^\s*(#.*)?$/.test(lines[end] ?? "")) end--;
  if (end >= 0 && /^\.\.\.\s*(#.*)?$/.test(lines[end] ?? "")) lines.splice(end, 1);
  const definition = lines.map((line) => (line === "" ? line : `  ${line}`)).join("\n");
  const rest = Object.entries(fields).map(([name, value]) => `${name}: ${JSON.stringify(value)}`);
  return `definition:\n${definition}\n${rest.join("\n")}\n`;
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

/** The task of a `{task: TaskView}` answer. */
function taskOf(body: unknown): TaskView {
  const task = expectFields(body, "answer", { task: "object" })["task"];
  expectTaskView(task, "answer.task");
  return task as TaskView;
}

/**
 * Whether an error came after more than one attempt, so an earlier one may have reached a server
 * and taken effect although its answer was lost.
 */
function wasRetried(error: JunoApiError): boolean {
  return error.attempts.length > 1;
}

/** Whether `task` shows the completion `request` reports: completed in that attempt, by that agent. */
export function completedBy(task: TaskView, request: CompleteTaskRequest): boolean {
  return (
    task.status === "succeeded" &&
    task.attempt === request.attempt &&
    task.previous_agents.at(-1) === request.agent_id
  );
}

/**
 * Whether `task` shows the failure `request` reports: the last error is that agent's report with
 * this message, and it ended this attempt (the task waits for its next attempt, has failed or is
 * dead-lettered) or the next attempt, placed since, has not ended yet. Once a later attempt has
 * ended too, nothing left on the task tells, and the stale_attempt stands.
 */
export function failedBy(task: TaskView, request: FailTaskRequest): boolean {
  const error = task.error;
  if (error === null || error.cause !== "agent" || error.message !== request.error) return false;
  if (error.retryable !== (request.retryable ?? true)) return false;
  if (task.previous_agents.at(-1) !== request.agent_id) return false;
  if (task.attempt === request.attempt) {
    return task.status === "queued" || task.status === "failed" || task.status === "dead_lettered";
  }
  return task.attempt === request.attempt + 1 && (task.status === "assigned" || task.status === "running");
}

/** The id as one path segment; throws on an empty or oversized id. */
function pathSegment(id: string, what: string): string {
  if (id.length === 0 || id.length > ID_LENGTH_MAX) {
    throw new RangeError(`${what} is 1..${ID_LENGTH_MAX} characters, got ${id.length}`);
  }
  return encodeURIComponent(id);
}

function agentPath(id: string): string {
  return pathSegment(id, "an agent id");
}

function taskPath(id: string): string {
  return pathSegment(id, "a task id");
}

/** The path of one run, `/api/v3/workflows/{id}`. */
function workflowPath(id: string): string {
  return `${API}/workflows/${pathSegment(id, "a workflow id")}`;
}
