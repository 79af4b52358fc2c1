// Proves the engine's behaviour pattern by pattern, event by event: pipelines, fan-out and
// fan-in with each join, for_each, event, timer, sub-workflow and approval steps, compensation
// order, cancel, fail_fast against continue, max_running_steps, timeouts, and that events which
// do not fit the run change nothing and say why. Runs are frozen before every event, so any
// write to the old run throws.

import { describe, expect, it } from "vitest";
import type { JsonValue } from "../../src/control/index.js";
import {
  advance,
  create,
  derivedUuid,
  progressOf,
  start,
  unitOfTask,
  WORKFLOW_LIMITS,
  type WorkflowEvent,
  type WorkflowRun,
} from "../../src/workflows/index.js";
import { define, Driver, task, workflow } from "./helpers.js";

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

/** A driver whose run is frozen before each event. */
class FrozenDriver extends Driver {
  override send(event: WorkflowEvent): ReturnType<Driver["send"]> {
    deepFreeze(this.run);
    return super.send(event);
  }
}

function drive(
  steps: unknown[],
  extra: Record<string, unknown> = {},
  input: Record<string, JsonValue> = {},
): FrozenDriver {
  return new FrozenDriver(define(workflow(steps, extra)), input);
}

describe("pipeline", () => {
  it("runs steps one after another, feeding outputs forward, and ends with the leaves' outputs", () => {
    const d = drive(
      [
        task("build", { input: { repo: "{{input.repo}}" } }),
        task("test", {
          input: { image: "{{steps.build.output.image}}", note: "testing {{steps.build.output.image}}" },
        }),
        task("deploy", { input: "{{steps.test.output}}" }),
      ],
      { pattern: "pipeline" },
      { repo: "juno" },
    );
    expect(d.run.status).toBe("running");
    expect(d.ofType("submit_task")).toMatchObject([{ step: "build", input: { repo: "juno" }, team: "t" }]);
    d.succeed("build", { image: "juno:1" });
    expect(d.ofType("submit_task")).toMatchObject([
      { step: "test", input: { image: "juno:1", note: "testing juno:1" } },
    ]);
    d.succeed("test", { passed: 12 });
    expect(d.ofType("submit_task")).toMatchObject([{ step: "deploy", input: { passed: 12 } }]);
    d.succeed("deploy", "ok");
    expect(d.run.status).toBe("succeeded");
    expect(d.run.output).toEqual({ deploy: "ok" });
    expect(d.ofType("workflow_finished")).toEqual([
      {
        type: "workflow_finished",
        status: "succeeded",
        output: { deploy: "ok" },
        failure: null,
        parent: null,
      },
    ]);
  });

  it("submits with a deterministic idempotency key and task id, and the task's settings", () => {
    const d = drive([
      task("a", {
        priority: 8,
        timeout_ms: 5000,
        skills: ["gpu"],
        retry: { max_attempts: 3, backoff: { initial_ms: 10 } },
      }),
    ]);
    const [submit] = d.ofType("submit_task");
    expect(submit).toEqual({
      type: "submit_task",
      step: "a",
      index: null,
      task_id: derivedUuid("wf-1", "wf-1:a:1"),
      idempotency_key: "wf-1:a:1",
      task_type: "work",
      team: "t",
      delegated_from: null,
      skills: ["gpu"],
      input: {},
      priority: 8,
      timeout_ms: 5000,
      max_attempts: 3,
      backoff: { initial_ms: 10, multiplier: 2, max_ms: 60000, jitter: 0.2 },
    });
    expect(d.unit("a")).toMatchObject({ status: "running", attempts: 1, task_id: submit!.task_id });
    expect(unitOfTask(d.run, submit!.task_id)).toEqual({ step: "a", index: null });
  });

  it("hands a delegated step to the other team", () => {
    const d = new Driver(
      define({
        name: "wf",
        teams: ["a", "b"],
        steps: [{ id: "x", team: "a", task_type: "plan", delegate_to: "b" }],
      }),
    );
    expect(d.ofType("submit_task")).toMatchObject([{ team: "b", delegated_from: "a" }]);
  });

  it("uses the definition's output template and default input", () => {
    const definition = define(
      workflow([task("a")], {
        input: { env: "dev", region: "eu" },
        output: { image: "{{steps.a.output.image}}", env: "{{input.env}}" },
      }),
    );
    const d = new Driver(definition, { env: "prod" });
    expect(d.run.input).toEqual({ env: "prod", region: "eu" });
    d.succeed("a", { image: "i" });
    expect(d.run.output).toEqual({ image: "i", env: "prod" });
  });
});

describe("fan-out and fan-in", () => {
  const fan = (join: unknown, extra: Record<string, unknown> = {}): unknown[] => [
    task("split"),
    task("b1", { depends_on: ["split"] }),
    task("b2", { depends_on: ["split"] }),
    task("b3", { depends_on: ["split"] }),
    task("merge", { depends_on: ["b1", "b2", "b3"], ...(join === undefined ? {} : { join }), ...extra }),
  ];

  it("join all waits for every branch", () => {
    const d = drive(fan(undefined));
    d.succeed("split");
    expect(d.submitted()).toEqual(["b1", "b2", "b3"]);
    d.succeed("b2");
    d.succeed("b1");
    expect(d.submitted()).toEqual([]);
    d.succeed("b3");
    expect(d.submitted()).toEqual(["merge"]);
  });

  it("join any goes on at the first success and lets the others finish", () => {
    const d = drive(fan("any"));
    d.succeed("split");
    d.succeed("b2");
    expect(d.submitted()).toEqual(["merge"]);
    expect(d.ofType("cancel_task")).toEqual([]);
    expect(d.status("b1")).toBe("running");
    d.succeed("merge");
    expect(d.run.status).toBe("running");
    d.fail("b1");
    d.succeed("b3");
    // b1's failure was handled: merge, which depends on it, ran.
    expect(d.run.status).toBe("succeeded");
  });

  it("a quorum join runs at n successes, and skips once n can no longer be reached", () => {
    const d = drive(fan({ quorum: 2 }));
    d.succeed("split");
    d.fail("b1");
    expect(d.run.status).toBe("running");
    d.succeed("b2");
    expect(d.submitted()).toEqual([]);
    d.succeed("b3");
    expect(d.submitted()).toEqual(["merge"]);

    const e = drive(fan({ quorum: 2 }));
    e.succeed("split");
    e.fail("b1");
    e.fail("b2");
    expect(e.status("merge")).toBe("skipped");
    expect(e.run.status).toBe("failed");
    expect(e.ofType("cancel_task")).toMatchObject([{ step: "b3" }]);
    expect(e.run.failure).toMatchObject({ code: "step_failed", step: "b1" });
  });

  it("all_done runs after a failure and the workflow succeeds, the failure handled", () => {
    const d = drive([
      task("a"),
      task("b", {
        depends_on: ["a"],
        when: "all_done",
        input: { s: "{{steps.a.status}}", o: "{{steps.a.output}}" },
      }),
    ]);
    d.fail("a");
    expect(d.ofType("submit_task")).toMatchObject([{ step: "b", input: { s: "failed", o: null } }]);
    expect(d.unit("b").missing).toEqual(["steps.a.output"]);
    d.succeed("b");
    expect(d.run.status).toBe("succeeded");
  });

  it("one_failed runs on a failure and is skipped when everything succeeded", () => {
    const d = drive([task("a"), task("b"), task("alert", { depends_on: ["a", "b"], when: "one_failed" })]);
    d.fail("b");
    expect(d.submitted()).toEqual(["alert"]);
    d.succeed("alert");
    d.succeed("a");
    expect(d.run.status).toBe("succeeded");

    const e = drive([task("a"), task("alert", { depends_on: ["a"], when: "one_failed" })]);
    e.succeed("a");
    expect(e.status("alert")).toBe("skipped");
    expect(e.run.status).toBe("succeeded");
  });

  it("none_failed runs past a skipped branch; all_success does not", () => {
    const d = drive([
      task("a"),
      task("gate", { when: "one_failed", depends_on: ["a"] }),
      task("after", { depends_on: ["a", "gate"], when: "none_failed" }),
      task("strict", { depends_on: ["a", "gate"] }),
    ]);
    d.succeed("a");
    expect(d.status("gate")).toBe("skipped");
    expect(d.submitted()).toEqual(["after"]);
    expect(d.status("strict")).toBe("skipped");
    d.succeed("after");
    expect(d.run.status).toBe("succeeded");
  });

  it("one_success skips when no branch can succeed", () => {
    const d = drive([task("a"), task("b"), task("c", { depends_on: ["a", "b"], when: "one_success" })], {
      on_failure: "continue",
    });
    d.fail("a");
    expect(d.status("c")).toBe("pending");
    d.fail("b");
    expect(d.status("c")).toBe("skipped");
    expect(d.run.status).toBe("failed");
  });
});

describe("for_each", () => {
  it("fans out over an input list with item and index, and gathers outputs in order", () => {
    const d = drive(
      [
        task("each", {
          for_each: "{{input.repos}}",
          input: { repo: "{{item.name}}", n: "{{index}}", tag: "r{{index}}" },
        }),
        task("after", { depends_on: ["each"], input: "{{steps.each.output}}" }),
      ],
      {},
      { repos: [{ name: "a" }, { name: "b" }, { name: "c" }] },
    );
    expect(d.ofType("submit_task")).toMatchObject([
      { step: "each", index: 0, idempotency_key: "wf-1:each[0]:1", input: { repo: "a", n: 0, tag: "r0" } },
      { step: "each", index: 1, input: { repo: "b", n: 1 } },
      { step: "each", index: 2, input: { repo: "c", n: 2 } },
    ]);
    d.succeed("each", "B", 1);
    d.succeed("each", "C", 2);
    expect(d.status("each")).toBe("running");
    d.succeed("each", "A", 0);
    expect(d.unit("each")).toMatchObject({ status: "succeeded", output: ["A", "B", "C"] });
    expect(d.ofType("submit_task")).toMatchObject([{ step: "after", input: ["A", "B", "C"] }]);
  });

  it("fans out over an upstream output, bounded by max_running_steps", () => {
    const d = drive(
      [
        task("list"),
        task("each", { depends_on: ["list"], for_each: "{{steps.list.output.items}}", input: "{{item}}" }),
      ],
      { max_running_steps: 2 },
    );
    d.succeed("list", { items: [1, 2, 3, 4, 5] });
    expect(d.submitted()).toEqual(["each[0]", "each[1]"]);
    d.succeed("each", null, 1);
    expect(d.submitted()).toEqual(["each[2]"]);
    expect(d.unit("each", 3).status).toBe("ready");
  });

  it("fails at the first failed item: running items cancelled, waiting ones skipped", () => {
    const d = drive([task("each", { for_each: [1, 2, 3, 4] })], { max_running_steps: 3 });
    d.fail("each", 1);
    expect(d.unit("each")).toMatchObject({ status: "failed", error: { code: "item_failed" } });
    expect(d.ofType("cancel_task").map((e) => e.index)).toEqual([0, 2]);
    expect(d.run.steps[0]!.children!.map((c) => c.status)).toEqual([
      "cancelled",
      "failed",
      "cancelled",
      "skipped",
    ]);
    expect(d.run.status).toBe("failed");
  });

  it("an empty list succeeds at once; a non-list or an oversized list fails the step", () => {
    const empty = drive([task("each", { for_each: "{{input.items}}" })], {}, { items: [] });
    expect(empty.unit("each")).toMatchObject({ status: "succeeded", output: [] });
    expect(empty.run.status).toBe("succeeded");

    const notList = drive(
      [task("each", { for_each: "{{input.items}}" })],
      { on_failure: "continue" },
      { items: "nope" },
    );
    expect(notList.unit("each")).toMatchObject({ status: "failed", error: { code: "for_each_not_list" } });

    const missing = drive([task("each", { for_each: "{{input.items}}" })]);
    expect(missing.unit("each")).toMatchObject({
      status: "failed",
      error: { code: "for_each_not_list" },
      missing: ["input.items"],
    });

    const big = Array.from({ length: WORKFLOW_LIMITS.forEachItems + 1 }, (_, i) => i);
    const tooMany = drive([task("each", { for_each: "{{input.items}}" })], {}, { items: big });
    expect(tooMany.unit("each")).toMatchObject({ status: "failed", error: { code: "for_each_too_large" } });
  });

  it("ignores events for items that do not exist", () => {
    const d = drive([task("each", { for_each: [1] })]);
    const taskId = d.unit("each", 0).task_id!;
    expect(
      d.send({ type: "task_succeeded", step: "each", index: 3, task_id: taskId, output: 1 }).ignored?.code,
    ).toBe("unknown_item");
    expect(d.send({ type: "task_succeeded", step: "each", task_id: taskId, output: 1 }).ignored?.code).toBe(
      "unknown_item",
    );
  });
});

describe("event steps", () => {
  const steps = [
    task("a"),
    { id: "go", team: "t", type: "event", event: "go", depends_on: ["a"], timeout_ms: 1000 },
    task("b", { depends_on: ["go"], input: "{{steps.go.output.who}}" }),
  ];

  it("wait for the named event and take its data", () => {
    const d = drive(steps);
    d.succeed("a");
    expect(d.unit("go")).toMatchObject({ status: "waiting" });
    expect(d.ofType("set_timer")).toMatchObject([
      { timer: { id: "wf-1:go:timeout:1", at: 1000, purpose: "step_timeout" } },
    ]);
    d.now = 10;
    d.send({ type: "event", name: "go", data: { who: "ops" } });
    expect(d.unit("go")).toMatchObject({ status: "succeeded", output: { who: "ops" } });
    expect(d.ofType("clear_timer")).toEqual([{ type: "clear_timer", timer: "wf-1:go:timeout:1" }]);
    expect(d.ofType("submit_task")).toMatchObject([{ step: "b", input: "ops" }]);
  });

  it("take an event that arrived before they were reached; later ones of that name are ignored", () => {
    const d = drive(steps);
    d.send({ type: "event", name: "go", data: { who: "early" } });
    expect(d.send({ type: "event", name: "go", data: { who: "late" } }).ignored?.code).toBe(
      "duplicate_event",
    );
    expect(d.send({ type: "event", name: "nobody-waits", data: 1 }).ignored?.code).toBe("unknown_event");
    d.succeed("a");
    expect(d.unit("go")).toMatchObject({ status: "succeeded", output: { who: "early" } });
  });

  it("fail when their timeout fires first", () => {
    const d = drive(steps);
    d.succeed("a");
    d.now = 999;
    expect(d.send({ type: "timer_fired", timer: "wf-1:go:timeout:1" }).ignored?.code).toBe("timer_not_due");
    d.now = 1000;
    d.send({ type: "timer_fired", timer: "wf-1:go:timeout:1" });
    expect(d.unit("go")).toMatchObject({ status: "failed", error: { code: "step_timeout" } });
    expect(d.run.status).toBe("failed");
    expect(d.send({ type: "event", name: "go", data: 1 }).ignored?.code).toBe("run_ended");
  });
});

describe("timer steps", () => {
  it("wait a duration from when they are reached", () => {
    const d = drive([
      task("a"),
      { id: "pause", team: "t", type: "timer", duration_ms: 500, depends_on: ["a"] },
      task("b", { depends_on: ["pause"] }),
    ]);
    d.now = 100;
    d.succeed("a");
    expect(d.ofType("set_timer")).toMatchObject([
      { timer: { id: "wf-1:pause:timer", at: 600, purpose: "timer", step: "pause" } },
    ]);
    d.now = 600;
    d.send({ type: "timer_fired", timer: "wf-1:pause:timer" });
    expect(d.unit("pause")).toMatchObject({ status: "succeeded", output: { fired_at: 600 } });
    expect(d.submitted()).toEqual(["b"]);
    expect(d.send({ type: "timer_fired", timer: "wf-1:pause:timer" }).ignored?.code).toBe("unknown_timer");
  });

  it("fire at once when their time has passed", () => {
    const d = drive([
      { id: "at", team: "t", type: "timer", at: "1970-01-01T00:00:00Z" },
      task("b", { depends_on: ["at"] }),
    ]);
    expect(d.status("at")).toBe("succeeded");
    expect(d.submitted()).toEqual(["b"]);
  });
});

describe("sub-workflow steps", () => {
  const sub = (extra: Record<string, unknown> = {}): unknown[] => [
    {
      id: "child",
      team: "t",
      type: "workflow",
      workflow: { name: "deploy", version: 2, team: "ops" },
      input: { env: "{{input.env}}" },
      ...extra,
    },
    task("after", { depends_on: ["child"], input: "{{steps.child.output.url}}" }),
  ];

  it("start a sub-workflow and take its outcome", () => {
    const d = drive(sub(), {}, { env: "prod" });
    const [started] = d.ofType("start_workflow");
    expect(started).toEqual({
      type: "start_workflow",
      step: "child",
      index: null,
      workflow_id: derivedUuid("wf-1", "wf-1:child:1"),
      idempotency_key: "wf-1:child:1",
      name: "deploy",
      version: 2,
      team: "ops",
      input: { env: "prod" },
      priority: 5,
      depth: 1,
      parent: { workflow_id: "wf-1", step: "child", index: null },
    });
    expect(
      d.send({
        type: "workflow_ended",
        step: "child",
        workflow_id: "other",
        status: "succeeded",
        output: null,
      }).ignored?.code,
    ).toBe("stale_workflow");
    d.send({
      type: "workflow_ended",
      step: "child",
      workflow_id: started!.workflow_id,
      status: "succeeded",
      output: { url: "u" },
    });
    expect(d.ofType("submit_task")).toMatchObject([{ step: "after", input: "u" }]);
  });

  it("retry a failed sub-workflow after the backoff, with a new key", () => {
    const d = drive(sub({ retry: { max_attempts: 2, backoff: { initial_ms: 100, jitter: 0 } } }));
    const first = d.ofType("start_workflow")[0]!;
    d.send({
      type: "workflow_ended",
      step: "child",
      workflow_id: first.workflow_id,
      status: "failed",
      output: null,
    });
    expect(d.unit("child")).toMatchObject({
      status: "waiting",
      attempts: 1,
      error: { code: "workflow_failed" },
    });
    expect(d.ofType("set_timer")).toMatchObject([
      { timer: { id: "wf-1:child:retry:1", at: 100, purpose: "retry" } },
    ]);
    d.now = 100;
    d.send({ type: "timer_fired", timer: "wf-1:child:retry:1" });
    const second = d.ofType("start_workflow")[0]!;
    expect(second.idempotency_key).toBe("wf-1:child:2");
    expect(second.workflow_id).not.toBe(first.workflow_id);
    d.send({
      type: "workflow_ended",
      step: "child",
      workflow_id: second.workflow_id,
      status: "failed",
      output: null,
    });
    expect(d.unit("child")).toMatchObject({ status: "failed", attempts: 2 });
    expect(d.run.status).toBe("failed");
  });

  it("a timed-out sub-workflow is cancelled and the step fails", () => {
    const d = drive(sub({ timeout_ms: 50 }));
    const started = d.ofType("start_workflow")[0]!;
    d.now = 50;
    d.send({ type: "timer_fired", timer: "wf-1:child:timeout:1" });
    expect(d.ofType("cancel_workflow")).toEqual([
      { type: "cancel_workflow", step: "child", index: null, workflow_id: started.workflow_id },
    ]);
    expect(d.unit("child")).toMatchObject({ status: "failed", error: { code: "step_timeout" } });
  });

  it("refuse to nest deeper than the limit", () => {
    const definition = define(workflow(sub()));
    const { run } = start(definition, {}, { id: "deep", depth: WORKFLOW_LIMITS.depth }, 0);
    expect(run.steps[0]).toMatchObject({ status: "failed", error: { code: "workflow_too_deep" } });
  });

  it("report their end to the parent", () => {
    const definition = define(workflow([task("a")]));
    const parent = { workflow_id: "p", step: "child", index: null };
    const { run } = start(definition, {}, { id: "c", parent, depth: 1 }, 0);
    const ended = advance(
      run,
      { type: "task_succeeded", step: "a", task_id: run.steps[0]!.task_id!, output: 1 },
      5,
    );
    expect(ended.effects.at(-1)).toEqual({
      type: "workflow_finished",
      status: "succeeded",
      output: { a: 1 },
      failure: null,
      parent,
    });
  });
});

describe("approval steps", () => {
  const steps = [
    task("build"),
    {
      id: "ok",
      team: "t",
      type: "approval",
      voters: ["ann", "bob", "cy"],
      quorum: 2,
      depends_on: ["build"],
      input: { image: "{{steps.build.output}}" },
    },
    task("deploy", { depends_on: ["ok"] }),
  ];

  it("open a decision and continue when it is approved", () => {
    const d = drive(steps);
    d.succeed("build", "img");
    expect(d.ofType("open_approval")).toEqual([
      {
        type: "open_approval",
        step: "ok",
        index: null,
        approval_id: "wf-1:ok:1",
        team: "t",
        voters: ["ann", "bob", "cy"],
        quorum: 2,
        data: { image: "img" },
      },
    ]);
    expect(
      d.send({ type: "approval_decided", step: "ok", approval_id: "other", approved: true }).ignored?.code,
    ).toBe("stale_approval");
    d.send({
      type: "approval_decided",
      step: "ok",
      approval_id: "wf-1:ok:1",
      approved: true,
      output: { votes: 2 },
    });
    expect(d.unit("ok")).toMatchObject({ status: "succeeded", output: { votes: 2 } });
    expect(d.submitted()).toEqual(["deploy"]);
  });

  it("fail the step when it is rejected", () => {
    const d = drive(steps);
    d.succeed("build");
    d.send({ type: "approval_decided", step: "ok", approval_id: "wf-1:ok:1", approved: false });
    expect(d.unit("ok")).toMatchObject({ status: "failed", error: { code: "approval_rejected" } });
    expect(d.status("deploy")).toBe("skipped");
    expect(d.run.status).toBe("failed");
  });
});

describe("compensation", () => {
  const saga = [
    task("reserve", { compensate: "release" }),
    task("charge", { depends_on: ["reserve"], compensate: "refund" }),
    task("notify", { depends_on: ["reserve"], compensate: "unnotify" }),
    task("ship", { depends_on: ["charge", "notify"] }),
    task("release", { input: { what: "{{steps.reserve.output}}" } }),
    task("refund"),
    task("unnotify"),
  ];

  it("runs the compensations of the succeeded steps, latest first, one at a time, then fails", () => {
    const d = drive(saga);
    d.succeed("reserve", "r1");
    d.succeed("notify");
    d.succeed("charge");
    d.fail("ship");
    expect(d.run).toMatchObject({
      status: "running",
      phase: "compensating",
      compensation: ["unnotify", "release"],
    });
    expect(d.submitted()).toEqual(["refund"]);
    d.succeed("refund");
    expect(d.submitted()).toEqual(["unnotify"]);
    d.fail("unnotify");
    expect(d.ofType("submit_task")).toMatchObject([{ step: "release", input: { what: "r1" } }]);
    d.succeed("release");
    expect(d.run).toMatchObject({
      status: "failed",
      phase: "ended",
      failure: { code: "step_failed", step: "ship" },
    });
    expect(d.ofType("workflow_finished")).toMatchObject([{ status: "failed" }]);
  });

  it("compensates only what succeeded: cancelled steps are not compensated", () => {
    const d = drive(saga);
    d.succeed("reserve");
    d.fail("charge");
    expect(d.ofType("cancel_task")).toMatchObject([{ step: "notify" }]);
    expect(d.submitted()).toEqual(["release"]);
    d.succeed("release");
    expect(d.run.status).toBe("failed");
    expect(d.status("refund")).toBe("skipped");
    expect(d.status("unnotify")).toBe("skipped");
  });

  it("a successful run skips its compensation steps", () => {
    const d = drive(saga);
    for (const step of ["reserve", "charge", "notify", "ship"]) d.succeed(step);
    expect(d.run.status).toBe("succeeded");
    expect(["release", "refund", "unnotify"].map((s) => d.status(s))).toEqual([
      "skipped",
      "skipped",
      "skipped",
    ]);
  });

  it("a workflow timeout fails the run and compensates", () => {
    const d = drive(saga, { timeout_ms: 1000 });
    expect(d.ofType("set_timer")).toMatchObject([
      { timer: { id: "wf-1:timeout", at: 1000, purpose: "workflow_timeout" } },
    ]);
    expect(d.run.deadline_at).toBe(1000);
    d.succeed("reserve");
    d.now = 1000;
    d.send({ type: "timeout" });
    expect(d.run.failure).toMatchObject({ code: "workflow_timeout" });
    expect(
      d
        .ofType("cancel_task")
        .map((e) => e.step)
        .sort(),
    ).toEqual(["charge", "notify"]);
    expect(d.submitted()).toEqual(["release"]);
    expect(d.send({ type: "timeout" }).ignored?.code).toBe("no_timeout");
    d.succeed("release");
    expect(d.run.status).toBe("failed");
  });
});

describe("cancel", () => {
  it("cancels running tasks, sub-workflows and decisions, skips the rest, clears timers, and runs no compensation", () => {
    const d = drive(
      [
        task("a", { compensate: "undo" }),
        task("b"),
        { id: "sub", team: "t", type: "workflow", workflow: { name: "x" } },
        { id: "ok", team: "t", type: "approval", voters: ["v"], quorum: 1 },
        { id: "pause", team: "t", type: "timer", duration_ms: 100 },
        task("later", { depends_on: ["b"] }),
        task("undo"),
      ],
      { timeout_ms: 10_000 },
    );
    d.succeed("a");
    d.send({ type: "cancel" });
    expect(d.run.status).toBe("cancelled");
    expect(d.ofType("cancel_task")).toMatchObject([{ step: "b" }]);
    expect(d.ofType("cancel_workflow")).toMatchObject([{ step: "sub" }]);
    expect(d.ofType("cancel_approval")).toMatchObject([{ step: "ok", approval_id: "wf-1:ok:1" }]);
    expect(
      d
        .ofType("clear_timer")
        .map((e) => e.timer)
        .sort(),
    ).toEqual(["wf-1:pause:timer", "wf-1:timeout"]);
    expect(d.run.timers).toEqual([]);
    expect(d.ofType("submit_task")).toEqual([]);
    expect(d.run.steps.map((s) => s.status)).toEqual([
      "succeeded",
      "cancelled",
      "cancelled",
      "cancelled",
      "cancelled",
      "skipped",
      "skipped",
    ]);
    expect(d.ofType("workflow_finished")).toMatchObject([{ status: "cancelled" }]);
    expect(d.send({ type: "cancel" }).ignored?.code).toBe("run_ended");
  });

  it("cancels a run that was created and never started", () => {
    const run = create(define(workflow([task("a")])), {}, { id: "c" }, 0);
    expect(
      advance(run, { type: "task_succeeded", step: "a", task_id: "x", output: 1 }, 1).ignored?.code,
    ).toBe("not_started");
    const cancelled = advance(run, { type: "cancel" }, 1);
    expect(cancelled.run).toMatchObject({ status: "cancelled", ended_at: 1 });
    expect(cancelled.run.steps[0]!.status).toBe("skipped");
    expect(cancelled.effects).toMatchObject([{ type: "workflow_finished", status: "cancelled" }]);
  });

  it("stops compensation part-way", () => {
    const d = drive([task("a", { compensate: "undo" }), task("b", { depends_on: ["a"] }), task("undo")]);
    d.succeed("a");
    d.fail("b");
    expect(d.submitted()).toEqual(["undo"]);
    d.send({ type: "cancel" });
    expect(d.ofType("cancel_task")).toMatchObject([{ step: "undo" }]);
    expect(d.run.status).toBe("cancelled");
  });
});

describe("fail_fast and continue", () => {
  const steps = [task("a"), task("a2", { depends_on: ["a"] }), task("b"), task("b2", { depends_on: ["b"] })];

  it("fail_fast cancels the other branch at the first unhandled failure", () => {
    const d = drive(steps);
    d.fail("a");
    expect(d.run.status).toBe("failed");
    expect(d.ofType("cancel_task")).toMatchObject([{ step: "b" }]);
    expect(d.run.steps.map((s) => s.status)).toEqual(["failed", "skipped", "cancelled", "skipped"]);
    expect(
      d.send({ type: "task_succeeded", step: "b", task_id: d.unit("b").task_id!, output: 1 }).ignored?.code,
    ).toBe("run_ended");
  });

  it("continue lets independent branches finish, then fails", () => {
    const d = drive(steps, { on_failure: "continue" });
    d.fail("a");
    expect(d.run.status).toBe("running");
    expect(d.status("a2")).toBe("skipped");
    d.succeed("b");
    expect(d.submitted()).toEqual(["b2"]);
    d.succeed("b2");
    expect(d.run).toMatchObject({ status: "failed", failure: { step: "a" } });
  });

  it("fail_fast waits while a failure may still be handled", () => {
    const d = drive([task("a"), task("b"), task("c", { depends_on: ["a", "b"], when: "all_done" })]);
    d.fail("a");
    expect(d.run.status).toBe("running");
    d.succeed("b");
    expect(d.submitted()).toEqual(["c"]);
  });

  it("an externally cancelled task counts as a failure", () => {
    const d = drive(steps);
    d.send({ type: "task_cancelled", step: "a", task_id: d.unit("a").task_id!, reason: "operator" });
    expect(d.unit("a")).toMatchObject({ status: "cancelled", error: { code: "task_cancelled" } });
    expect(d.run.status).toBe("failed");
  });
});

describe("max_running_steps", () => {
  it("bounds running units; ready ones start by priority, then topological order", () => {
    const d = drive(
      [
        task("a"),
        task("b", { priority: 9 }),
        task("c"),
        task("d", { priority: 0 }),
        task("e", { priority: 9 }),
      ],
      { max_running_steps: 2 },
    );
    expect(d.submitted()).toEqual(["b", "e"]);
    expect(d.status("a")).toBe("ready");
    d.succeed("e");
    expect(d.submitted()).toEqual(["a"]);
    d.succeed("a");
    expect(d.submitted()).toEqual(["c"]);
    d.succeed("b");
    expect(d.submitted()).toEqual(["d"]);
  });

  it("does not count steps that only wait", () => {
    const d = drive([{ id: "w", team: "t", type: "event", event: "x" }, task("a"), task("b")], {
      max_running_steps: 1,
    });
    expect(d.status("w")).toBe("waiting");
    expect(d.submitted()).toEqual(["a"]);
  });
});

describe("events that do not fit", () => {
  it("change nothing and say why", () => {
    const d = drive([task("a"), task("b", { depends_on: ["a"] })]);
    const before = d.run;
    const taskId = d.unit("a").task_id!;
    const cases: [WorkflowEvent, string][] = [
      [{ type: "task_succeeded", step: "ghost", task_id: taskId, output: 1 }, "unknown_step"],
      [{ type: "task_succeeded", step: "a", index: 0, task_id: taskId, output: 1 }, "unknown_item"],
      [{ type: "task_succeeded", step: "a", task_id: "not-it", output: 1 }, "stale_task"],
      [{ type: "task_failed", step: "b", task_id: taskId, error: "x", retryable: false }, "stale_task"],
      [{ type: "timer_fired", timer: "nope" }, "unknown_timer"],
      [{ type: "reboot" } as unknown as WorkflowEvent, "invalid_event"],
      [{ type: "start" }, "already_started"],
      [{ type: "approval_decided", step: "a", approval_id: "x", approved: true }, "stale_approval"],
      [
        { type: "workflow_ended", step: "a", workflow_id: "x", status: "succeeded", output: 1 },
        "stale_workflow",
      ],
    ];
    for (const [event, code] of cases) {
      const result = d.send(event);
      expect(result.ignored?.code, JSON.stringify(event)).toBe(code);
      expect(result.run).toBe(before);
      expect(result.effects).toEqual([]);
    }
    d.succeed("a");
    expect(d.send({ type: "task_succeeded", step: "a", task_id: taskId, output: 2 }).ignored?.code).toBe(
      "not_active",
    );
  });

  it("a step whose resolved input is too large fails", () => {
    const d = drive(
      [task("a", { input: "{{input.blob}}" })],
      {},
      { blob: "x".repeat(WORKFLOW_LIMITS.inputBytes) },
    );
    expect(d.unit("a")).toMatchObject({ status: "failed", error: { code: "input_too_large" } });
    expect(d.ofType("submit_task")).toEqual([]);
  });
});

describe("determinism", () => {
  it("the same events give the same run and effects", () => {
    const play = (): [WorkflowRun, unknown[]] => {
      const d = new Driver(
        define(workflow([task("a", { for_each: [1, 2] }), task("b", { depends_on: ["a"] })])),
      );
      d.succeed("a", 1, 0);
      d.succeed("a", 2, 1);
      d.succeed("b");
      return [d.run, d.effects];
    };
    expect(play()).toEqual(play());
  });

  it("replays from created to the same run as start", () => {
    const definition = define(workflow([task("a")], { timeout_ms: 5 }));
    const created = create(definition, { x: 1 }, { id: "r" }, 3);
    expect(created.status).toBe("created");
    expect(advance(created, { type: "start" }, 3).run).toEqual(
      start(definition, { x: 1 }, { id: "r" }, 3).run,
    );
  });
});

describe("runs are plain data", () => {
  it("a run that went through JSON (a snapshot) carries on exactly as the original", () => {
    const d = new Driver(
      define(
        workflow([
          task("a", { for_each: [1, 2] }),
          task("b", { depends_on: ["a"], compensate: "undo" }),
          task("c", { depends_on: ["b"] }),
          task("undo"),
        ]),
      ),
    );
    d.succeed("a", "x", 0);
    const restored = JSON.parse(JSON.stringify(d.run)) as WorkflowRun;
    expect(restored).toEqual(d.run);
    const event: WorkflowEvent = {
      type: "task_succeeded",
      step: "a",
      index: 1,
      task_id: d.unit("a", 1).task_id!,
      output: "y",
    };
    expect(advance(restored, event, 7)).toEqual(advance(d.run, event, 7));
  });
});

describe("progressOf", () => {
  it("counts forward steps by status and team, compensation apart", () => {
    const d = new Driver(
      define({
        name: "p",
        teams: ["build", "qa"],
        steps: [
          { id: "a", team: "build", task_type: "w", compensate: "undo" },
          { id: "b", team: "qa", task_type: "w" },
          { id: "c", team: "qa", task_type: "w", depends_on: ["a"] },
          { id: "undo", team: "build", task_type: "w" },
        ],
      }),
    );
    d.succeed("a");
    expect(progressOf(d.run)).toEqual({
      total: 3,
      done: 1,
      percent: 33,
      by_status: {
        pending: 0,
        ready: 0,
        waiting: 0,
        running: 2,
        succeeded: 1,
        failed: 0,
        cancelled: 0,
        skipped: 0,
      },
      teams: [
        { team: "build", total: 1, done: 1, running: 0, percent: 100 },
        { team: "qa", total: 2, done: 0, running: 2, percent: 0 },
      ],
      compensation: { total: 1, started: 0 },
    });
    d.fail("b");
    expect(progressOf(d.run)).toMatchObject({
      done: 3,
      percent: 100,
      compensation: { total: 1, started: 1 },
    });
  });
});
