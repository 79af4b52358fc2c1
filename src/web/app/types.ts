/**
 * The shapes the page reads from the API, as far as it reads them. The server's TypeBox schemas
 * (src/web/overview.ts, the modules' views.ts) are the truth; these follow them by hand, since the
 * page is built apart from the Node program.
 */

/** What the SDK already types, the page takes from it (types only: nothing of Node comes along). */
export type { AgentHealth, ConsensusStatus } from "../../client/types.js";

export type Counts = Record<string, number>;

/** GET /ui/overview and the stream's `overview` event. */
export interface Overview {
  readonly at: string;
  readonly node: {
    readonly id: string;
    readonly role: string;
    readonly term: number;
    readonly leader_id: string | null;
    readonly commit_index: number;
    readonly applied_index: number;
    readonly http_addr: string | null;
  };
  readonly members: readonly OverviewMember[];
  readonly timeline_revision: number;
  readonly agents: {
    readonly revision: number;
    readonly total: number;
    readonly by_status: Counts;
    readonly by_team: Record<string, Counts>;
    readonly breakers_open: number;
  };
  readonly tasks: {
    readonly revision: number;
    readonly counts: Counts;
    readonly queue: {
      readonly depth: number;
      readonly by_priority: Counts;
      readonly by_team: Counts;
      readonly oldest_waiting_ms: number | null;
      readonly oldest_task_id: string | null;
    };
    readonly running_by_team: Counts;
    readonly assignment_latency_ms: { readonly p50: number | null; readonly p99: number | null };
    readonly completed_last_minute: number;
  };
  readonly workflows: {
    readonly revision: number;
    readonly counts: Counts;
    readonly total: number;
    readonly live: number;
  };
}

export interface OverviewMember {
  readonly id: string;
  readonly http_addr: string | null;
  readonly voter: boolean;
  readonly leader: boolean;
  readonly match_index: number | null;
  readonly lag_entries: number | null;
  readonly last_contact_ms: number | null;
}

/** The stream's `sample` event, and each of `history`'s samples. */
export interface TaskSample {
  readonly at_ms: number;
  readonly assigned: number;
  readonly completed: number;
  readonly retried: number;
  readonly dead_lettered: number;
  readonly queue_depth: number;
  readonly running: number;
  readonly latency_p50_ms: number | null;
  readonly latency_p99_ms: number | null;
}

/** GET /cluster/timeline. */
export interface Timeline {
  readonly node_id: string;
  readonly events: readonly {
    readonly seq: number;
    readonly at: string;
    readonly kind: "observed" | "election" | "leader" | "no_leader";
    readonly term: number;
    readonly leader_id: string | null;
    readonly role: string;
  }[];
}

/** An agent, as GET /agents lists it. */
export interface Agent {
  readonly id: string;
  readonly name: string;
  readonly endpoint: string;
  readonly team: string;
  readonly capabilities: { readonly skills: readonly string[]; readonly capacity: number };
  readonly status: string;
  readonly status_since: string;
  readonly status_reason: string;
  readonly draining: boolean;
  readonly last_heartbeat: string | null;
  readonly registered_at: string;
  readonly source: string;
  readonly delivery: { readonly mode: string };
}

/** GET /tasks/metrics. */
export interface TaskMetrics {
  readonly agents: readonly {
    readonly id: string;
    readonly active: number;
    readonly capacity: number | null;
    readonly breaker: "closed" | "open" | "half_open";
    readonly consecutive_failures: number;
  }[];
  readonly totals: {
    readonly assigned: number;
    readonly completed: number;
    readonly retried: number;
    readonly dead_lettered: number;
  };
}

/** A task, as GET /tasks/{id} and /tasks/status show it. */
export interface Task {
  readonly id: string;
  readonly task_type: string;
  readonly priority: number;
  readonly status: string;
  readonly team: string;
  readonly attempt: number;
  readonly max_attempts: number;
  readonly assigned_agent: string | null;
  readonly previous_agents: readonly string[];
  readonly created_at: string;
  readonly completed_at: string | null;
  readonly waiting_reason: string | null;
  readonly workflow_id: string | null;
  readonly error: { readonly message: string; readonly cause: string } | null;
  readonly requirements: { readonly skills: readonly string[]; readonly team: string | null };
}

export interface WorkflowProgress {
  readonly total: number;
  readonly done: number;
  readonly percent: number;
  readonly by_status: Counts;
  readonly teams: readonly {
    readonly team: string;
    readonly total: number;
    readonly done: number;
    readonly running: number;
    readonly percent: number;
  }[];
}

/** A run, as GET /workflows lists it. */
export interface WorkflowSummary {
  readonly id: string;
  readonly name: string;
  readonly version: number;
  readonly status: string;
  readonly team: string;
  readonly teams: readonly string[];
  readonly parent_id: string | null;
  readonly revision: number;
  readonly progress: WorkflowProgress;
  readonly created_at: string;
  readonly started_at: string | null;
  readonly ended_at: string | null;
}

/** One unit of a step (the step itself, or one for_each item). */
export interface StepUnit {
  readonly status: string;
  readonly attempts: number;
  readonly task_id: string | null;
  readonly task_status: string | null;
  readonly agent_id: string | null;
  readonly workflow_id: string | null;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly started_at: string | null;
  readonly ended_at: string | null;
}

export interface WorkflowStep extends StepUnit {
  readonly id: string;
  readonly type: string;
  readonly team: string;
  readonly task_type: string | null;
  readonly depends_on: readonly string[];
  readonly when: string;
  readonly compensates: string | null;
  readonly delegate_to: string | null;
  readonly items: readonly (StepUnit & { readonly index: number })[] | null;
}

/** A run, whole, as GET /workflows/{id} and the watch stream show it. */
export interface Workflow extends WorkflowSummary {
  readonly description: string;
  readonly phase: string;
  readonly failure: { readonly code: string; readonly step: string | null; readonly message: string } | null;
  readonly events: readonly { readonly name: string; readonly at: string }[];
  readonly steps: readonly WorkflowStep[];
}
