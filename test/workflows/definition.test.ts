// Proves that definitions are validated as a whole, every problem reported with its stable code
// and the JSON pointer of the field, and that valid ones come out normalised: defaults filled,
// pipelines chained, thresholds computed, and the same from YAML as from JSON.

import { describe, expect, it } from "vitest";
import {
  DEFINITION_ERROR_CODES,
  parseDefinition,
  thresholdOf,
  validateDefinition,
  WORKFLOW_LIMITS,
  type DefinitionErrorCode,
} from "../../src/workflows/index.js";
import { define, errorsOf, task, workflow } from "./helpers.js";

/** The codes (and paths) a definition fails with. */
function codes(value: unknown): [DefinitionErrorCode, string][] {
  return errorsOf(value).map((error) => [error.code, error.path]);
}

const tested = new Set<DefinitionErrorCode>();
function expectCode(value: unknown, code: DefinitionErrorCode, path: string): void {
  tested.add(code);
  expect(codes(value)).toContainEqual([code, path]);
}

describe("normalisation", () => {
  it("fills every default", () => {
    const definition = define(workflow([task("a")]));
    expect(definition).toMatchObject({
      name: "wf",
      version: 1,
      pattern: "dag",
      timeout_ms: null,
      on_failure: "fail_fast",
      max_running_steps: null,
      input: {},
      output: null,
      trigger: null,
      order: ["a"],
    });
    expect(definition.steps[0]).toEqual({
      id: "a",
      team: "t",
      type: "task",
      task_type: "work",
      skills: [],
      input: {},
      depends_on: [],
      dependents: [],
      when: "all_success",
      join: null,
      threshold: 0,
      for_each: null,
      retry: { max_attempts: null, backoff: { initial_ms: 1000, multiplier: 2, max_ms: 60000, jitter: 0.2 } },
      timeout_ms: null,
      priority: 5,
      compensate: null,
      compensates: null,
      delegate_to: null,
    });
  });

  it("chains a pipeline's steps in order, leaving compensation steps out", () => {
    const definition = define(
      workflow(
        [
          task("build", { compensate: "undo" }),
          task("undo"),
          task("test"),
          task("deploy", { when: "all_done" }),
        ],
        { pattern: "pipeline" },
      ),
    );
    const deps = Object.fromEntries(definition.steps.map((s) => [s.id, s.depends_on]));
    expect(deps).toEqual({ build: [], undo: [], test: ["build"], deploy: ["test"] });
    expect(definition.steps.find((s) => s.id === "build")!.dependents).toEqual(["test"]);
    expect(definition.steps.find((s) => s.id === "undo")!.compensates).toBe("build");
    expect(definition.order).toEqual(["build", "test", "deploy"]);
  });

  it("orders steps topologically, ties in definition order", () => {
    const definition = define(
      workflow([
        task("d", { depends_on: ["b", "c"] }),
        task("c", { depends_on: ["a"] }),
        task("b"),
        task("a"),
      ]),
    );
    expect(definition.order).toEqual(["b", "a", "c", "d"]);
  });

  it("drops repeated dependencies before counting them", () => {
    const definition = define(workflow([task("a"), task("b", { depends_on: ["a", "a"] })]));
    expect(definition.steps[1]!.depends_on).toEqual(["a"]);
    expect(definition.steps[1]!.threshold).toBe(1);
  });

  it("computes thresholds from the trigger rule and the join", () => {
    expect(thresholdOf("all_success", null, 3)).toBe(3);
    expect(thresholdOf("none_failed", null, 3)).toBe(3);
    expect(thresholdOf("all_done", null, 3)).toBe(3);
    expect(thresholdOf("one_success", null, 3)).toBe(1);
    expect(thresholdOf("one_failed", null, 3)).toBe(1);
    expect(thresholdOf("one_success", null, 0)).toBe(0);
    expect(thresholdOf("all_success", "any", 3)).toBe(1);
    expect(thresholdOf("one_success", "all", 3)).toBe(3);
    expect(thresholdOf("all_success", { quorum: 2 }, 3)).toBe(2);
  });

  it("normalises every step type", () => {
    const definition = define({
      name: "types",
      version: 3,
      teams: ["a", "b"],
      timeout_ms: 60_000,
      on_failure: "continue",
      max_running_steps: 4,
      input: { repo: "juno" },
      trigger: { event: "push" },
      output: { image: "{{steps.build.output.image}}" },
      steps: [
        {
          id: "build",
          team: "a",
          task_type: "build",
          skills: ["go"],
          retry: { max_attempts: 3 },
          delegate_to: "b",
        },
        { id: "go", team: "a", type: "event", event: "deploy-ok", depends_on: ["build"], timeout_ms: 1000 },
        { id: "wait", team: "a", type: "timer", duration_ms: 500, depends_on: ["go"] },
        { id: "until", team: "a", type: "timer", at: "2030-01-01T00:00:00.5+01:00", depends_on: ["go"] },
        {
          id: "sub",
          team: "a",
          type: "workflow",
          workflow: { name: "child", team: "z" },
          depends_on: ["wait"],
        },
        {
          id: "ok",
          team: "b",
          type: "approval",
          voters: ["x", "y"],
          quorum: 2,
          depends_on: ["sub", "until"],
        },
      ],
    });
    expect(definition).toMatchObject({
      version: 3,
      timeout_ms: 60_000,
      on_failure: "continue",
      max_running_steps: 4,
      input: { repo: "juno" },
      trigger: { event: "push" },
    });
    const [build, go, wait, until, sub, ok] = definition.steps;
    expect(build).toMatchObject({
      type: "task",
      skills: ["go"],
      delegate_to: "b",
      retry: { max_attempts: 3 },
    });
    expect(go).toMatchObject({ type: "event", event: "deploy-ok", timeout_ms: 1000 });
    expect(wait).toMatchObject({ type: "timer", duration_ms: 500, at: null });
    expect(until).toMatchObject({
      type: "timer",
      duration_ms: null,
      at: Date.UTC(2029, 11, 31, 23, 0, 0, 500),
    });
    expect(sub).toMatchObject({ type: "workflow", workflow: { name: "child", version: null, team: "z" } });
    expect(ok).toMatchObject({ type: "approval", voters: ["x", "y"], quorum: 2, threshold: 2 });
  });

  it("keeps ids such as __proto__ and constructor as plain data", () => {
    const definition = define(
      workflow([task("__proto__"), task("constructor", { depends_on: ["__proto__"] }), task("toString")]),
    );
    expect(definition.steps.map((s) => s.id)).toEqual(["__proto__", "constructor", "toString"]);
    expect(definition.steps[0]!.dependents).toEqual(["constructor"]);
  });
});

describe("JSON and YAML", () => {
  const yaml = `
name: release
teams: [build, qa]
pattern: pipeline
input:
  repo: juno
steps:
  - id: build
    team: build
    task_type: compile
    input:
      repo: "{{input.repo}}"
  - id: test
    team: qa
    task_type: test
    input:
      image: "{{steps.build.output.image}}"
      note: "built {{steps.build.output.image}}"
`;
  const json = JSON.stringify({
    name: "release",
    teams: ["build", "qa"],
    pattern: "pipeline",
    input: { repo: "juno" },
    steps: [
      { id: "build", team: "build", task_type: "compile", input: { repo: "{{input.repo}}" } },
      {
        id: "test",
        team: "qa",
        task_type: "test",
        input: { image: "{{steps.build.output.image}}", note: "built {{steps.build.output.image}}" },
      },
    ],
  });

  it("give the same definition", () => {
    const fromYaml = parseDefinition(yaml, "yaml");
    const fromJson = parseDefinition(json, "json");
    expect(fromYaml.ok).toBe(true);
    expect(fromYaml).toEqual(fromJson);
  });

  it("YAML keeps a key named __proto__ as data", () => {
    const result = parseDefinition(
      "name: x\nteams: [t]\ninput:\n  __proto__: 1\nsteps:\n  - {id: a, team: t, task_type: w}\n",
      "yaml",
    );
    expect(result.ok).toBe(true);
    if (result.ok) expect(Object.hasOwn(result.definition.input, "__proto__")).toBe(true);
  });

  it("YAML timestamps stay strings (core schema)", () => {
    const result = parseDefinition(
      "name: x\nteams: [t]\ninput: {day: 2020-01-01}\nsteps: [{id: a, team: t, task_type: w}]",
      "yaml",
    );
    expect(result.ok && result.definition.input.day).toBe("2020-01-01");
  });
});

describe("errors", () => {
  it("invalid_syntax: bad JSON, bad YAML, duplicate YAML keys, non-finite numbers", () => {
    tested.add("invalid_syntax");
    for (const [text, format] of [
      ["{", "json"],
      ["a: [", "yaml"],
      ["name: a\nname: b\n", "yaml"],
      ["name: x\nteams: [t]\ninput: {n: .inf}\nsteps: [{id: a, team: t, task_type: w}]", "yaml"],
    ] as const) {
      const result = parseDefinition(text, format);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.errors.map((e) => e.code)).toEqual(["invalid_syntax"]);
    }
  });

  it("invalid_syntax: a YAML alias bomb is refused before it expands", () => {
    const lines = ['  a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++)
      lines.push(`  a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(",")}]`);
    const text = `name: x\nteams: [t]\ninput:\n${lines.join("\n")}\nsteps: [{id: a, team: t, task_type: w}]\n`;
    const result = parseDefinition(text, "yaml");
    expect(!result.ok && result.errors[0]).toMatchObject({ code: "invalid_syntax" });
  });

  it("oversized_definition: text or object over 1 MiB", () => {
    tested.add("oversized_definition");
    const big = "x".repeat(WORKFLOW_LIMITS.definitionBytes);
    const text = parseDefinition(JSON.stringify(workflow([task("a")], { description: big })), "json");
    expect(!text.ok && text.errors.map((e) => e.code)).toEqual(["oversized_definition"]);
    expect(codes(workflow([task("a", { input: { blob: big } })]))).toEqual([["oversized_definition", ""]]);
  });

  it("too_many_steps: more than 1,000", () => {
    const steps = Array.from({ length: WORKFLOW_LIMITS.steps + 1 }, (_, i) => task(`s${i}`));
    expectCode(workflow(steps), "too_many_steps", "/steps");
    expect(() => define(workflow(steps.slice(0, WORKFLOW_LIMITS.steps)))).not.toThrow();
  });

  it("invalid_schema: unknown fields, wrong types, out of range, each at its path", () => {
    expectCode(workflow([task("a", { colour: "red" })]), "invalid_schema", "/steps/0/colour");
    expectCode(workflow([task("a", { priority: 10 })]), "invalid_schema", "/steps/0/priority");
    expectCode(workflow([task("a", { when: "sometimes" })]), "invalid_schema", "/steps/0/when");
    expectCode(workflow([task("a.b")]), "invalid_schema", "/steps/0/id");
    expectCode({ name: "wf", steps: [task("a")] }, "invalid_schema", "");
    expectCode(workflow([]), "invalid_schema", "/steps");
    const errors = errorsOf(workflow([task("a", { join: { quorum: 0 } })]));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      path: "/steps/0/join/quorum",
      message: "steps.0.join.quorum must be >= 1",
    });
    expect(errorsOf(workflow([task("a", { when: "sometimes" })]))[0]!.message).toContain(
      'must be one of "all_success", "all_done", "one_success", "one_failed", "none_failed"',
    );
  });

  it("duplicate_step_id", () => {
    expectCode(workflow([task("a"), task("b"), task("a")]), "duplicate_step_id", "/steps/2/id");
  });

  it("unknown_team: a step's team, or its delegate, not in teams", () => {
    expectCode(workflow([{ ...task("a"), team: "nobody" }]), "unknown_team", "/steps/0/team");
    expectCode(workflow([task("a", { delegate_to: "nobody" })]), "unknown_team", "/steps/0/delegate_to");
  });

  it("missing_field: what a step type needs", () => {
    expectCode(workflow([{ id: "a", team: "t" }]), "missing_field", "/steps/0/task_type");
    expectCode(workflow([{ id: "a", team: "t", type: "event" }]), "missing_field", "/steps/0/event");
    expectCode(workflow([{ id: "a", team: "t", type: "timer" }]), "missing_field", "/steps/0/duration_ms");
    expectCode(workflow([{ id: "a", team: "t", type: "workflow" }]), "missing_field", "/steps/0/workflow");
    expectCode(
      workflow([{ id: "a", team: "t", type: "approval", voters: ["v"] }]),
      "missing_field",
      "/steps/0/quorum",
    );
  });

  it("unexpected_field: fields of another step type, depends_on in a pipeline, two timer times", () => {
    expectCode(workflow([task("a", { voters: ["x"] })]), "unexpected_field", "/steps/0/voters");
    expectCode(
      workflow([{ id: "a", team: "t", type: "event", event: "e", for_each: [1] }]),
      "unexpected_field",
      "/steps/0/for_each",
    );
    expectCode(
      workflow([task("a"), task("b", { depends_on: ["a"] })], { pattern: "pipeline" }),
      "unexpected_field",
      "/steps/1/depends_on",
    );
    expectCode(
      workflow([{ id: "a", team: "t", type: "timer", duration_ms: 1, at: 5 }]),
      "unexpected_field",
      "/steps/0/at",
    );
  });

  it("invalid_time: a timer's at that is not RFC 3339", () => {
    expectCode(
      workflow([{ id: "a", team: "t", type: "timer", at: "tomorrow" }]),
      "invalid_time",
      "/steps/0/at",
    );
    expectCode(
      workflow([{ id: "a", team: "t", type: "timer", at: "2030-02-30T00:00:00Z" }]),
      "invalid_time",
      "/steps/0/at",
    );
  });

  it("unknown_dependency", () => {
    expectCode(
      workflow([task("a", { depends_on: ["ghost"] })]),
      "unknown_dependency",
      "/steps/0/depends_on/0",
    );
  });

  it("cycle: names the steps in order, each depending on the next", () => {
    tested.add("cycle");
    const errors = errorsOf(
      workflow([
        task("a", { depends_on: ["c"] }),
        task("b", { depends_on: ["a"] }),
        task("c", { depends_on: ["b"] }),
        task("d"),
      ]),
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: "cycle", path: "/steps/1/depends_on/0", steps: ["a", "c", "b"] });
    expect(errors[0]!.message).toContain("a -> c -> b -> a");
    const self = errorsOf(workflow([task("a", { depends_on: ["a"] })]));
    expect(self).toMatchObject([{ code: "cycle", path: "/steps/0/depends_on/0", steps: ["a"] }]);
  });

  it("cycle: every distinct cycle, not just the first", () => {
    const errors = errorsOf(
      workflow([
        task("a", { depends_on: ["b"] }),
        task("b", { depends_on: ["a"] }),
        task("c", { depends_on: ["d"] }),
        task("d", { depends_on: ["c"] }),
      ]),
    );
    expect(errors.map((e) => e.steps)).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
  });

  it("quorum_too_large: a join quorum over its dependencies, an approval quorum over its voters", () => {
    expectCode(
      workflow([task("a"), task("b"), task("c", { depends_on: ["a", "b"], join: { quorum: 3 } })]),
      "quorum_too_large",
      "/steps/2/join/quorum",
    );
    expectCode(
      workflow([{ id: "a", team: "t", type: "approval", voters: ["x", "y"], quorum: 3 }]),
      "quorum_too_large",
      "/steps/0/quorum",
    );
  });

  it("unknown_compensation_step", () => {
    expectCode(
      workflow([task("a", { compensate: "ghost" })]),
      "unknown_compensation_step",
      "/steps/0/compensate",
    );
  });

  it("self_compensation", () => {
    expectCode(workflow([task("a", { compensate: "a" })]), "self_compensation", "/steps/0/compensate");
  });

  it("invalid_compensation: shared, with dependencies, depended on, or compensated itself", () => {
    expectCode(
      workflow([task("a", { compensate: "undo" }), task("b", { compensate: "undo" }), task("undo")]),
      "invalid_compensation",
      "/steps/1/compensate",
    );
    expectCode(
      workflow([task("a", { compensate: "undo" }), task("undo", { depends_on: ["a"] })]),
      "invalid_compensation",
      "/steps/1/depends_on",
    );
    expectCode(
      workflow([task("a", { compensate: "undo" }), task("undo"), task("c", { depends_on: ["undo"] })]),
      "invalid_compensation",
      "/steps/2/depends_on/0",
    );
    expectCode(
      workflow([task("a", { compensate: "undo" }), task("undo", { compensate: "redo" }), task("redo")]),
      "invalid_compensation",
      "/steps/1/compensate",
    );
  });

  it("invalid_template: unclosed or malformed", () => {
    expectCode(
      workflow([task("a", { input: { x: "{{input.repo" } })]),
      "invalid_template",
      "/steps/0/input/x",
    );
    expectCode(workflow([task("a", { input: ["{{ 1abc }}"] })]), "invalid_template", "/steps/0/input/0");
    expectCode(
      workflow([task("a", { input: { x: "{{input..x}}" } })]),
      "invalid_template",
      "/steps/0/input/x",
    );
  });

  it("unknown_template_reference: a step not upstream, an unknown step or root, item outside for_each", () => {
    const steps = (input: unknown): unknown[] => [
      task("a"),
      task("b"),
      task("c", { depends_on: ["a"], input }),
    ];
    expectCode(
      workflow(steps({ x: "{{steps.b.output}}" })),
      "unknown_template_reference",
      "/steps/2/input/x",
    );
    expectCode(
      workflow(steps({ x: "{{steps.ghost.output}}" })),
      "unknown_template_reference",
      "/steps/2/input/x",
    );
    expectCode(workflow(steps({ x: "{{env.HOME}}" })), "unknown_template_reference", "/steps/2/input/x");
    expectCode(workflow(steps({ x: "{{item}}" })), "unknown_template_reference", "/steps/2/input/x");
    expectCode(
      workflow(steps({ x: "{{steps.a.result}}" })),
      "unknown_template_reference",
      "/steps/2/input/x",
    );
    expectCode(
      workflow(steps({ x: "{{workflow.secret}}" })),
      "unknown_template_reference",
      "/steps/2/input/x",
    );
    expectCode(
      workflow(steps({ "a/b": "x {{steps.c.output}}" })),
      "unknown_template_reference",
      "/steps/2/input/a~1b",
    );
    expectCode(
      workflow([task("a")], { output: "{{steps.ghost.output}}" }),
      "unknown_template_reference",
      "/output",
    );
  });

  it("accepts transitive upstream references, and any forward step from a compensation step", () => {
    define(workflow([
      task("a", { compensate: "undo" }),
      task("b", { depends_on: ["a"] }),
      task("c", { depends_on: ["b"], input: { x: "{{steps.a.output.x}}", s: "{{steps.b.status}}" } }),
      task("undo", { input: { c: "{{steps.c.output}}", w: "{{workflow.id}}" } }),
    ]));
  });

  it("unresolvable_for_each: not one template, not upstream, or from item", () => {
    const steps = (forEach: unknown): unknown[] => [
      task("a"),
      task("b"),
      task("c", { depends_on: ["a"], for_each: forEach }),
    ];
    expectCode(workflow(steps("items: {{input.items}}")), "unresolvable_for_each", "/steps/2/for_each");
    expectCode(workflow(steps("{{steps.b.output.items}}")), "unresolvable_for_each", "/steps/2/for_each");
    expectCode(workflow(steps("{{steps.a.status}}")), "unresolvable_for_each", "/steps/2/for_each");
    expectCode(workflow(steps("{{item}}")), "unresolvable_for_each", "/steps/2/for_each");
    expectCode(workflow(steps("{{steps.ghost.output}}")), "unresolvable_for_each", "/steps/2/for_each");
    define(workflow(steps("{{steps.a.output.items}}")));
    define(workflow(steps("{{input.items}}")));
    define(workflow(steps([1, 2, 3])));
  });

  it("returns every error, not just the first", () => {
    const found = new Set(
      errorsOf(
        workflow([
          task("a", { depends_on: ["ghost"], compensate: "a" }),
          { ...task("b"), team: "nobody" },
          task("b", { input: "{{nope}}" }),
        ]),
      ).map((e) => e.code),
    );
    expect(found).toEqual(
      new Set([
        "unknown_dependency",
        "self_compensation",
        "unknown_team",
        "duplicate_step_id",
        "unknown_template_reference",
      ]),
    );
  });

  it("caps the number of errors", () => {
    const steps = Array.from({ length: 300 }, (_, i) => task(`s${i}`, { depends_on: ["ghost"] }));
    expect(errorsOf(workflow(steps))).toHaveLength(WORKFLOW_LIMITS.errors);
  });

  it("every error code has a test", () => {
    expect([...tested].sort()).toEqual([...DEFINITION_ERROR_CODES].sort());
  });
});

describe("validateDefinition on odd values", () => {
  it("refuses non-objects and non-JSON values without throwing", () => {
    for (const value of [null, 1, "x", [], undefined, { steps: 5 }, () => 1]) {
      expect(validateDefinition(value).ok).toBe(false);
    }
  });
});
