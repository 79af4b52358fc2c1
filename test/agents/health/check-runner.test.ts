// Proves the check runner's scheduling with checks the test settles by hand and timers it fires by
// hand: a round starts at once and then every intervalMs; no more than maxInFlight checks run at once
// and the rest follow as those finish; an agent still being checked is skipped, never checked twice at
// once; results carry the runner's clock; removing an agent aborts its check and drops its result;
// stopping aborts everything in flight, delivers nothing more and schedules no more rounds.

import { describe, expect, it } from "vitest";
import {
  CheckRunner,
  type Check,
  type CheckResult,
  type CheckTarget,
} from "../../../src/agents/health/index.js";
import { ManualTimers, PASS } from "./helpers.js";

/** A check run the test settles; an abort settles it as cancelled, as the real checks do. */
interface Run {
  readonly signal: AbortSignal;
  done: boolean;
  settle(result: CheckResult): void;
}

/** A check whose runs wait for the test. */
class HeldCheck implements Check {
  readonly kind = "http" as const;
  readonly runs: Run[] = [];

  run(signal: AbortSignal): Promise<CheckResult> {
    return new Promise((resolve) => {
      const run: Run = {
        signal,
        done: false,
        settle(result) {
          run.done = true;
          resolve(result);
        },
      };
      this.runs.push(run);
      signal.addEventListener("abort", () =>
        run.settle({ ok: false, latencyMs: 0, slow: false, detail: "cancelled" }),
      );
    });
  }

  /** Runs not yet settled or aborted. */
  open(): Run[] {
    return this.runs.filter((run) => !run.done);
  }
}

/** Settles `run` with `result`. */
function settle(run: Run | undefined, result: CheckResult = PASS): void {
  if (run === undefined) throw new Error("no such run");
  run.settle(result);
}

/** Lets settled promises deliver (a few microtask hops). */
async function flush(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

/** A runner over `count` agents a0, a1, ..., each with its own held check. */
function setup(count: number, options: { maxInFlight?: number } = {}) {
  const timers = new ManualTimers();
  const delivered: { agentId: string; detail: string; atMs: number }[] = [];
  let nowMs = 1_000;
  const runner = new CheckRunner({
    intervalMs: 10_000,
    timers,
    now: () => nowMs,
    onResult: (agentId, result, atMs) => delivered.push({ agentId, detail: result.detail, atMs }),
    ...options,
  });
  const checks = new Map<string, HeldCheck>();
  const targets: CheckTarget[] = [];
  for (let i = 0; i < count; i += 1) {
    const check = new HeldCheck();
    checks.set(`a${i}`, check);
    targets.push({ agentId: `a${i}`, check });
  }
  runner.setTargets(targets);
  const openRuns = (): Run[] => [...checks.values()].flatMap((check) => check.open());
  return {
    timers,
    runner,
    checks,
    delivered,
    openRuns,
    setNow: (value: number) => (nowMs = value),
    check: (id: string): HeldCheck => checks.get(id) ?? new HeldCheck(),
  };
}

describe("check runner", () => {
  it("runs at most maxInFlight checks at once and starts the next as each finishes", async () => {
    const { runner, openRuns, delivered, setNow } = setup(10, { maxInFlight: 3 });
    runner.start();
    expect(openRuns()).toHaveLength(3);
    setNow(2_000);
    settle(openRuns()[0], { ...PASS, detail: "first" });
    await flush();
    expect(delivered).toEqual([{ agentId: "a0", detail: "first", atMs: 2_000 }]);
    expect(openRuns()).toHaveLength(3);
    let rounds = 0;
    while (openRuns().length > 0 && rounds++ < 100) {
      expect(openRuns().length).toBeLessThanOrEqual(3);
      settle(openRuns()[0]);
      await flush();
    }
    expect(delivered.map((result) => result.agentId)).toEqual(Array.from({ length: 10 }, (_, i) => `a${i}`));
    expect(runner.stats()).toMatchObject({ targets: 10, queued: 0, inFlight: 0, delivered: 10 });
  });

  it("starts a round every intervalMs, skipping an agent whose last check has not finished", async () => {
    const { runner, timers, check, delivered } = setup(2);
    runner.start();
    expect(timers.pending(10_000)).toHaveLength(1);
    settle(check("a0").open()[0]);
    await flush();
    timers.fire(10_000);
    // a0 is checked again; a1's first check is still running, so it is not started twice.
    expect(check("a0").runs).toHaveLength(2);
    expect(check("a1").runs).toHaveLength(1);
    expect(runner.stats().skipped).toBe(1);
    settle(check("a1").open()[0]);
    await flush();
    timers.fire(10_000);
    expect(check("a1").runs).toHaveLength(2);
    expect(delivered.map((result) => result.agentId)).toEqual(["a0", "a1"]);
  });

  it("aborts a removed agent's check, drops its result, and uses a changed check from the next round", async () => {
    const { runner, timers, check, delivered } = setup(2);
    runner.start();
    const replacement = new HeldCheck();
    runner.setTargets([{ agentId: "a1", check: replacement }]);
    expect(check("a0").runs[0]?.signal.aborted).toBe(true);
    settle(check("a1").open()[0]);
    await flush();
    expect(delivered.map((result) => result.agentId)).toEqual(["a1"]);
    timers.fire(10_000);
    expect(replacement.runs).toHaveLength(1);
    expect(check("a0").runs).toHaveLength(1);
  });

  it("delivers a check that throws as a failure", async () => {
    const timers = new ManualTimers();
    const results: CheckResult[] = [];
    const runner = new CheckRunner({ timers, now: () => 0, onResult: (_id, result) => results.push(result) });
    const broken: Check = { kind: "tcp", run: () => Promise.reject(new Error("bug in a check")) };
    runner.setTargets([{ agentId: "x", check: broken }]);
    runner.start();
    await flush();
    expect(results).toEqual([{ ok: false, latencyMs: 0, slow: false, detail: "bug in a check" }]);
    await runner.stop();
  });

  it("stops: aborts every check in flight, delivers nothing more, schedules no more rounds", async () => {
    const { runner, timers, openRuns, delivered, checks } = setup(5, { maxInFlight: 2 });
    runner.start();
    const inFlight = openRuns();
    expect(inFlight).toHaveLength(2);
    await runner.stop();
    expect(inFlight.every((run) => run.signal.aborted)).toBe(true);
    expect(delivered).toEqual([]);
    expect(timers.pending()).toEqual([]);
    expect([...checks.values()].reduce((sum, check) => sum + check.runs.length, 0)).toBe(2);
    expect(runner.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it("refuses unbounded settings and too many targets", () => {
    const onResult = (): void => undefined;
    expect(() => new CheckRunner({ onResult, maxInFlight: 0 })).toThrow(RangeError);
    expect(() => new CheckRunner({ onResult, intervalMs: 0 })).toThrow(RangeError);
    const runner = new CheckRunner({ onResult, maxTargets: 1 });
    const check = new HeldCheck();
    expect(() =>
      runner.setTargets([
        { agentId: "a", check },
        { agentId: "b", check },
      ]),
    ).toThrow(RangeError);
  });
});
