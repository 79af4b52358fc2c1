/** Bodies tests (and the in-process benches) build again and again, with what varies as overrides. */

import type { Registration } from "../../src/agents/index.js";
import type { SubmitBody } from "../../src/tasks/index.js";

/** An agents.register body for an agent checked by nothing (health_check "none"), skill "work". */
export function agentRegistration(overrides: Partial<Registration> & Pick<Registration, "id">): Registration {
  return {
    name: `agent-${overrides.id.slice(-4)}`,
    endpoint: `http://10.0.0.1/${overrides.id}`,
    team: "ops",
    skills: ["work"],
    capacity: 1,
    weight: null,
    labels: [],
    metadata: null,
    health_check: { type: "none", url: null, success_before_passing: null, failures_before_critical: null },
    agent_card_url: null,
    source: "custom",
    source_key: null,
    ...overrides,
  };
}

/** A seeded generator of [0, 1) (mulberry32): the same seed, the same sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

let uuids = 0;
/** A fresh UUID for a test row, unique in this process: 00000000-0000-4000-8000-<counter>. */
export function sequentialUuid(): string {
  return `00000000-0000-4000-8000-${(++uuids).toString(16).padStart(12, "0")}`;
}

/**
 * A tasks.submit body as the API would build it: a fresh id, team "t", priority 5, skill "work",
 * least_connections, no timeouts, retries without backoff.
 */
export function taskSubmission(overrides: Partial<SubmitBody> = {}): SubmitBody {
  return {
    id: sequentialUuid(),
    task_type: "job",
    priority: 5,
    data: null,
    team: "t",
    requirements: { skills: ["work"], team: null, labels: [] },
    affinity_key: null,
    strategy: "least_connections",
    idempotency_key: null,
    timeout_ms: null,
    schedule_to_start_ms: null,
    max_attempts: null,
    backoff: { initial_ms: 0, multiplier: 1, max_ms: 0, jitter: 0 },
    workflow_id: null,
    ...overrides,
  };
}
