/** Bodies tests (and the in-process benches) build again and again, with what varies as overrides. */

import type { Registration } from "../../src/agents/index.js";

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
