// Proves, on random DAGs of 1 to 200 steps (random trigger rules, joins, step types, for_each
// fan-outs, compensations and outcomes, delivered in random valid orders with stale duplicates
// thrown in), that: no unit starts before its dependencies allow; every run ends in the status an
// independent oracle computes from the outcomes alone; compensation runs exactly for the
// completed steps that have one, one at a time, in reverse order of completion; no idempotency
// key is used twice; max_running_steps holds; and a finished run leaves nothing outstanding.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { JsonValue } from "../../src/control/index.js";
import {
  advance,
  start,
  validateDefinition,
  type StepStatus,
  type WorkflowDefinition,
  type WorkflowEffect,
  type WorkflowEvent,
  type WorkflowRun,
} from "../../src/workflows/index.js";
import { seededRandom } from "../support/fixtures.js";

type Rule = "all_success" | "all_done" | "one_success" | "one_failed" | "none_failed";
type Outcome = "succeeded" | "failed" | "cancelled";
type Kind = "task" | "approval" | "workflow" | "for_each";

interface StepSpec {
  readonly deps: number[];
  readonly rule: Rule;
  readonly join: "all" | "any" | { quorum: number } | null;
  readonly kind: Kind;
  /** The outcome delivered for the step (for_each: one per item). */
  readonly outcomes: Outcome[];
  readonly compensation: Outcome | null;
  readonly priority: number;
}

interface Scenario {
  readonly steps: StepSpec[];
  /** The order steps are listed in the definition (a permutation of indexes). */
  readonly listing: number[];
  readonly onFailure: "fail_fast" | "continue";
  readonly maxRunning: number | null;
  readonly seed: number;
}

const RULES: Rule[] = ["all_success", "all_done", "one_success", "one_failed", "none_failed"];
const outcome = fc.constantFrom<Outcome>(
  "succeeded",
  "succeeded",
  "succeeded",
  "succeeded",
  "succeeded",
  "failed",
  "failed",
  "cancelled",
);

function stepArbitrary(index: number): fc.Arbitrary<StepSpec> {
  return fc
    .record({
      deps: fc.uniqueArray(fc.nat({ max: Math.max(0, index - 1) }), { maxLength: index === 0 ? 0 : 4 }),
      rule: fc.constantFrom(...RULES),
      joinKind: fc.constantFrom("default", "default", "all", "any", "quorum"),
      quorum: fc.nat(),
      kind: fc.constantFrom<Kind>("task", "task", "task", "task", "task", "approval", "workflow", "for_each"),
      outcomes: fc.array(outcome, { minLength: 1, maxLength: 3 }),
      compensation: fc.option(outcome, { freq: 4 }),
      priority: fc.integer({ min: 0, max: 9 }),
    })
    .map(({ deps, rule, joinKind, quorum, kind, outcomes, compensation, priority }) => {
      const join =
        joinKind === "default" || deps.length === 0
          ? null
          : joinKind === "quorum"
            ? { quorum: 1 + (quorum % deps.length) }
            : joinKind;
      return {
        deps,
        rule,
        join,
        kind,
        outcomes: kind === "for_each" ? outcomes : outcomes.slice(0, 1),
        compensation,
        priority,
      };
    });
}

const scenario = (maxSteps: number): fc.Arbitrary<Scenario> =>
  fc
    .integer({ min: 1, max: maxSteps })
    .chain((size) =>
      fc.record({
        steps: fc.tuple(...Array.from({ length: size }, (_, i) => stepArbitrary(i))),
        seed: fc.integer(),
        onFailure: fc.constantFrom<"fail_fast" | "continue">("fail_fast", "continue"),
        maxRunning: fc.option(fc.integer({ min: 1, max: 5 }), { freq: 2 }),
      }),
    )
    .map(({ steps, seed, onFailure, maxRunning }) => ({
      steps,
      listing: shuffle(
        steps.map((_, i) => i),
        seededRandom(seed ^ 0x5bd1e995),
      ),
      onFailure,
      maxRunning,
      seed,
    }));

function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const id = (i: number): string => `s${i}`;
const undoId = (i: number): string => `undo${i}`;

function definitionOf(s: Scenario): WorkflowDefinition {
  const steps: unknown[] = [];
  for (const i of s.listing) {
    const spec = s.steps[i]!;
    const common: Record<string, unknown> = {
      id: id(i),
      team: "t",
      depends_on: spec.deps.map(id),
      when: spec.rule,
      priority: spec.priority,
      input: { deps: spec.deps.map((d) => `{{steps.${id(d)}.status}}`) },
      ...(spec.join === null ? {} : { join: spec.join }),
      ...(spec.compensation === null ? {} : { compensate: undoId(i) }),
    };
    if (spec.kind === "task") steps.push({ ...common, task_type: "work" });
    if (spec.kind === "for_each") {
      steps.push({
        ...common,
        task_type: "work",
        for_each: spec.outcomes.map((_, k) => k),
        input: { item: "{{item}}" },
      });
    }
    if (spec.kind === "approval")
      steps.push({ ...common, type: "approval", voters: ["v1", "v2"], quorum: 1 });
    if (spec.kind === "workflow") steps.push({ ...common, type: "workflow", workflow: { name: "child" } });
    if (spec.compensation !== null) steps.push({ id: undoId(i), team: "t", task_type: "undo" });
  }
  const result = validateDefinition({
    name: "random",
    teams: ["t"],
    on_failure: s.onFailure,
    ...(s.maxRunning === null ? {} : { max_running_steps: s.maxRunning }),
    steps,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.definition;
}

// ---- the oracle: final statuses from the outcomes alone, by the documented rules ----

function good(rule: Rule, status: StepStatus): boolean {
  if (rule === "all_success" || rule === "one_success") return status === "succeeded";
  if (rule === "none_failed") return status === "succeeded" || status === "skipped";
  if (rule === "one_failed") return status === "failed" || status === "cancelled";
  return true;
}

function threshold(spec: StepSpec): number {
  const n = spec.deps.length;
  if (spec.join === "all") return n;
  if (spec.join === "any") return Math.min(1, n);
  if (spec.join !== null) return Math.min(spec.join.quorum, n);
  return spec.rule === "one_success" || spec.rule === "one_failed" ? Math.min(1, n) : n;
}

/** What a step ends as when it runs. */
function ranOutcome(spec: StepSpec): StepStatus {
  if (spec.kind === "for_each") return spec.outcomes.every((o) => o === "succeeded") ? "succeeded" : "failed";
  if (spec.kind === "approval") return spec.outcomes[0] === "succeeded" ? "succeeded" : "failed";
  return spec.outcomes[0]!;
}

interface Oracle {
  readonly statuses: StepStatus[];
  readonly run: "succeeded" | "failed";
}

function oracle(s: Scenario): Oracle {
  const statuses: StepStatus[] = [];
  s.steps.forEach((spec, i) => {
    const goodCount = spec.deps.filter((d) => good(spec.rule, statuses[d]!)).length;
    statuses[i] = goodCount >= threshold(spec) ? ranOutcome(spec) : "skipped";
  });
  const dependents = s.steps.map((_, i) => s.steps.flatMap((spec, j) => (spec.deps.includes(i) ? [j] : [])));
  const unhandled = statuses.some(
    (status, i) =>
      (status === "failed" || status === "cancelled") &&
      dependents[i]!.every((d) => statuses[d] === "skipped"),
  );
  return { statuses, run: unhandled ? "failed" : "succeeded" };
}

// ---- the harness: deliver outcomes in random order, check every step ----

/** A cheap assertion for the hot loop (expect is slow when called per event). */
function ensure(condition: boolean, message: () => string): void {
  if (!condition) throw new Error(message());
}

interface Outstanding {
  readonly kind: "task" | "workflow" | "approval";
  readonly step: string;
  readonly index: number | null;
  readonly ref: string;
}

interface Played {
  readonly run: WorkflowRun;
  readonly events: WorkflowEvent[];
  readonly completions: string[];
  readonly compensations: string[];
}

const TERMINAL = new Set<StepStatus>(["succeeded", "failed", "cancelled", "skipped"]);

function play(s: Scenario, expected: Oracle, cancelAt: number | null = null): Played {
  const definition = definitionOf(s);
  const random = seededRandom(s.seed);
  const position = new Map<string, number>(s.steps.map((_, i) => [id(i), i]));
  const undoOf = new Map<string, number>(s.steps.map((_, i) => [undoId(i), i]));
  const outstanding: Outstanding[] = [];
  const delivered: WorkflowEvent[] = [];
  const keys = new Set<string>();
  const events: WorkflowEvent[] = [];
  const completions: string[] = [];
  const compensations: string[] = [];
  let finished: WorkflowEffect | null = null;
  let now = 0;

  const runIndex = new Map(definition.steps.map((step, k) => [step.id, k]));
  const stateOf = (run: WorkflowRun, step: string) => run.steps[runIndex.get(step)!]!;

  const checkStart = (run: WorkflowRun, step: string, index: number | null): void => {
    const i = position.get(step);
    if (i === undefined) {
      // A compensation step: only after a failure, one at a time.
      ensure(run.phase === "compensating", () => `${step} compensates in phase ${run.phase}`);
      ensure(
        !outstanding.some((o) => undoOf.has(o.step)),
        () => `${step} starts while another compensation runs`,
      );
      compensations.push(step);
      return;
    }
    ensure(run.phase === "forward", () => `${step} starts in phase ${run.phase}`);
    const spec = s.steps[i]!;
    ensure(expected.statuses[i] !== "skipped", () => `${step} starts but the oracle skips it`);
    let goodCount = 0;
    for (const d of spec.deps) {
      const status = stateOf(run, id(d)).status;
      ensure(
        !TERMINAL.has(status) || status === expected.statuses[d],
        () => `${id(d)} is ${status} before ${step}; the oracle says ${expected.statuses[d]}`,
      );
      if (TERMINAL.has(status) && good(spec.rule, status)) goodCount++;
    }
    ensure(
      goodCount >= threshold(spec),
      () => `${step}[${index}] started with ${goodCount} good inputs of ${threshold(spec)} needed`,
    );
  };

  const apply = (run: WorkflowRun, effects: readonly WorkflowEffect[]): void => {
    for (const effect of effects) {
      switch (effect.type) {
        case "submit_task":
        case "start_workflow":
        case "open_approval": {
          const key = effect.type === "open_approval" ? effect.approval_id : effect.idempotency_key;
          ensure(!keys.has(key), () => `key ${key} used twice`);
          keys.add(key);
          checkStart(run, effect.step, effect.index);
          const ref =
            effect.type === "submit_task"
              ? effect.task_id
              : effect.type === "start_workflow"
                ? effect.workflow_id
                : effect.approval_id;
          const kind =
            effect.type === "submit_task"
              ? "task"
              : effect.type === "start_workflow"
                ? "workflow"
                : "approval";
          outstanding.push({ kind, step: effect.step, index: effect.index, ref });
          break;
        }
        case "cancel_task":
        case "cancel_workflow":
        case "cancel_approval": {
          const ref =
            effect.type === "cancel_task"
              ? effect.task_id
              : effect.type === "cancel_workflow"
                ? effect.workflow_id
                : effect.approval_id;
          const at = outstanding.findIndex((o) => o.ref === ref);
          ensure(at !== -1, () => `cancel of ${ref}, which is not outstanding`);
          outstanding.splice(at, 1);
          break;
        }
        case "workflow_finished":
          ensure(finished === null, () => "the run finished twice");
          finished = effect;
          break;
        case "set_timer":
        case "clear_timer":
          break;
      }
    }
  };

  const running = (run: WorkflowRun): number =>
    run.steps.reduce(
      (sum, step) =>
        sum +
        (step.children === null
          ? step.status === "running"
            ? 1
            : 0
          : step.children.filter((c) => c.status === "running").length),
      0,
    );

  const observe = (before: WorkflowRun, after: WorkflowRun): void => {
    ensure(
      s.maxRunning === null || running(after) <= s.maxRunning,
      () => `${running(after)} running, over ${s.maxRunning}`,
    );
    after.steps.forEach((step, k) => {
      if (step.status === "succeeded" && before.steps[k]!.status !== "succeeded" && position.has(step.id))
        completions.push(step.id);
    });
  };

  const started = start(definition, {}, { id: "run" }, now);
  let run = started.run;
  apply(run, started.effects);
  for (let round = 0; finished === null; round++) {
    ensure(round < 20_000, () => "the run did not finish");
    now += 1;
    let event: WorkflowEvent;
    if (cancelAt !== null && round === cancelAt) {
      event = { type: "cancel" };
    } else if (delivered.length > 0 && random() < 0.1) {
      // A duplicate of something already delivered: at-least-once delivery.
      event = delivered[Math.floor(random() * delivered.length)]!;
      const result = advance(run, event, now);
      ensure(
        result.ignored !== null && result.run === run,
        () => `a duplicate was applied: ${JSON.stringify(event)}`,
      );
      continue;
    } else {
      ensure(outstanding.length > 0, () => "the run is stuck with nothing outstanding");
      const [next] = outstanding.splice(Math.floor(random() * outstanding.length), 1);
      event = eventFor(s, next!, position, undoOf);
      delivered.push(event);
    }
    const result = advance(run, event, now);
    ensure(
      result.ignored === null,
      () => `ignored: ${JSON.stringify(result.ignored)} for ${JSON.stringify(event)}`,
    );
    events.push(event);
    observe(run, result.run);
    run = result.run;
    apply(run, result.effects);
  }
  expect(outstanding, "a finished run left work outstanding").toEqual([]);
  expect(run.timers).toEqual([]);
  return { run, events, completions, compensations };
}

/** The event that reports an outstanding unit's predetermined outcome. */
function eventFor(
  s: Scenario,
  unit: Outstanding,
  position: Map<string, number>,
  undoOf: Map<string, number>,
): WorkflowEvent {
  const forward = position.get(unit.step);
  const result: Outcome =
    forward === undefined
      ? s.steps[undoOf.get(unit.step)!]!.compensation!
      : s.steps[forward]!.outcomes[unit.index ?? 0]!;
  const at = { step: unit.step, index: unit.index };
  if (unit.kind === "approval")
    return { type: "approval_decided", ...at, approval_id: unit.ref, approved: result === "succeeded" };
  if (unit.kind === "workflow") {
    return {
      type: "workflow_ended",
      ...at,
      workflow_id: unit.ref,
      status: result,
      output: null as JsonValue,
    };
  }
  if (result === "succeeded")
    return { type: "task_succeeded", ...at, task_id: unit.ref, output: { from: unit.step } };
  if (result === "failed")
    return { type: "task_failed", ...at, task_id: unit.ref, error: "boom", retryable: false };
  return { type: "task_cancelled", ...at, task_id: unit.ref };
}

function checkOutcome(s: Scenario, expected: Oracle, played: Played): void {
  const { run } = played;
  expect(run.status).toBe(expected.run);
  s.steps.forEach((_, i) => {
    const status = run.steps.find((x) => x.id === id(i))!.status;
    const oracleStatus = expected.statuses[i]!;
    if (
      s.onFailure === "continue" ||
      run.status === "succeeded" ||
      status === "succeeded" ||
      status === "failed"
    ) {
      expect(status, id(i)).toBe(oracleStatus);
    } else {
      // fail_fast stopped the run: what had not ended was cancelled or skipped.
      expect(status === "cancelled" || status === "skipped", `${id(i)} is ${status}`).toBe(true);
      if (oracleStatus === "skipped") expect(status, id(i)).toBe("skipped");
    }
  });
  const compensated =
    run.status === "failed"
      ? played.completions
          .filter((step) => s.steps[Number(step.slice(1))]!.compensation !== null)
          .reverse()
          .map((step) => `undo${step.slice(1)}`)
      : [];
  expect(played.compensations).toEqual(compensated);
}

describe("the engine on random DAGs", () => {
  it("respects dependencies, ends as the oracle says, and compensates in reverse", () => {
    fc.assert(
      fc.property(scenario(200), (s) => {
        const expected = oracle(s);
        checkOutcome(s, expected, play(s, expected));
      }),
      { numRuns: 120 },
    );
  });

  it("the same on small DAGs, where corner cases are dense", () => {
    fc.assert(
      fc.property(scenario(8), (s) => {
        const expected = oracle(s);
        checkOutcome(s, expected, play(s, expected));
      }),
      { numRuns: 600 },
    );
  });

  it("replaying the same events gives the same run", () => {
    fc.assert(
      fc.property(scenario(60), (s) => {
        const played = play(s, oracle(s));
        let replayed = start(definitionOf(s), {}, { id: "run" }, 0).run;
        played.events.forEach((event, k) => {
          replayed = advance(replayed, event, k + 1).run;
        });
        // Duplicates were ignored, so time differs only where they were skipped: compare statuses.
        expect(replayed.steps.map((x) => [x.id, x.status, x.output])).toEqual(
          played.run.steps.map((x) => [x.id, x.status, x.output]),
        );
        expect(replayed.status).toBe(played.run.status);
      }),
      { numRuns: 60 },
    );
  });

  it("a cancel at any point stops everything, runs no compensation, and ends cancelled", () => {
    fc.assert(
      fc.property(scenario(60), fc.nat({ max: 40 }), (s, cancelAt) => {
        const expected = oracle(s);
        const played = play(s, expected, cancelAt);
        if (played.run.status === "cancelled") {
          const started = played.events.findIndex((e) => e.type === "cancel");
          expect(started).not.toBe(-1);
          expect(played.run.steps.every((x) => TERMINAL.has(x.status))).toBe(true);
        } else {
          // The run ended before the cancel came.
          expect(played.events.some((e) => e.type === "cancel")).toBe(false);
          checkOutcome(s, expected, played);
        }
      }),
      { numRuns: 100 },
    );
  });
});
