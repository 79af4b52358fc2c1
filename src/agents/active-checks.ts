/**
 * Active checks by the leader: an HTTP GET of each agent's health URL (default
 * `{endpoint}/health`) or a TCP connect, every health-check interval with a timeout and bounded
 * concurrency (health/check-runner.ts). The check set follows the registry: it is rebuilt when
 * agents come, go or change how they want to be checked.
 */

import type { Timers } from "../transport/timers.js";
import { CheckRunner } from "./health/check-runner.js";
import { HttpCheck, TcpCheck, healthUrl, type Check } from "./health/checks.js";
import type { CheckResult } from "./health/types.js";
import type { Agent } from "./state.js";

/** Starts checking agents; the function it returns stops. */
export interface ActiveChecks {
  start(agents: () => Iterable<Agent>, onResult: (id: string, result: CheckResult) => void): () => void;
}

/** How checks run. */
export interface ActiveCheckOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Checks in flight at once across all agents. */
  readonly maxInFlight: number;
  readonly timers: Timers;
  readonly now: () => number;
}

/** Real checks over the network. */
export function networkChecks(options: ActiveCheckOptions): ActiveChecks {
  return {
    start(agents, onResult) {
      const runner = new CheckRunner({
        intervalMs: options.intervalMs,
        maxInFlight: options.maxInFlight,
        timers: options.timers,
        now: options.now,
        onResult: (id, result) => onResult(id, result),
      });
      const checks = new Map<string, { readonly spec: string; readonly check: Check }>();
      const refresh = (): void => {
        const seen = new Set<string>();
        for (const agent of agents()) {
          const spec = checkSpec(agent);
          if (spec === null) continue;
          seen.add(agent.id);
          if (checks.get(agent.id)?.spec === spec) continue;
          checks.set(agent.id, { spec, check: buildCheck(agent, options) });
        }
        for (const id of [...checks.keys()]) if (!seen.has(id)) checks.delete(id);
        runner.setTargets([...checks].map(([agentId, { check }]) => ({ agentId, check })));
      };
      refresh();
      runner.start();
      let timer = options.timers.setTimeout(function again() {
        refresh();
        timer = options.timers.setTimeout(again, options.intervalMs);
      }, options.intervalMs);
      return () => {
        options.timers.clearTimeout(timer);
        void runner.stop();
      };
    },
  };
}

/** What decides an agent's check (null: it is not actively checked). */
function checkSpec(agent: Agent): string | null {
  const check = agent.healthCheck;
  if (check.type === "none") return null;
  return `${check.type} ${check.url ?? agent.endpoint}`;
}

function buildCheck(agent: Agent, options: ActiveCheckOptions): Check {
  const checkOptions = { timeoutMs: options.timeoutMs, timers: options.timers, clock: options.now };
  const check = agent.healthCheck;
  if (check.type === "tcp") {
    const url = new URL(check.url ?? agent.endpoint);
    const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
    return new TcpCheck(url.hostname.replace(/^\[|\]$/g, ""), port, checkOptions);
  }
  return new HttpCheck(check.url ?? healthUrl(agent.endpoint), checkOptions);
}
