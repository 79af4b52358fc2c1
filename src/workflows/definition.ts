/**
 * Workflow definitions: parsed from JSON or YAML text (or taken as an object), checked against
 * the schema, then validated as a whole (dependencies, cycles, teams, templates, compensation,
 * quorums, limits), and returned normalised: `pattern: pipeline` expanded into depends_on,
 * every default filled, dependents and a topological order computed. Validation reports every
 * problem it finds (up to a bound), each with a stable code and the JSON pointer of the field.
 */

import { Compile } from "typebox/compile";
import { Settings } from "typebox/system";
import { parse as parseYaml } from "yaml";
import { isJsonValue, isRecord, type JsonValue } from "../control/index.js";
import { ancestorSets, findCycles, hasBit, topologicalOrder } from "./graph.js";
import { utf8Length } from "./ids.js";
import { parseRfc3339 } from "./iso-time.js";
import { WORKFLOW_LIMITS } from "./limits.js";
import { WorkflowDefinitionSchema, type StepInput, type WorkflowDefinitionInput } from "./schema.js";
import { isSyntaxError, parseTemplate, templateStrings, type Reference } from "./template.js";

/** What a step does when it runs. */
export type StepType = "task" | "event" | "timer" | "workflow" | "approval";
/** Which upstream outcomes let a step run (Airflow's trigger rules). */
export type TriggerRule = "all_success" | "all_done" | "one_success" | "one_failed" | "none_failed";
/** How many upstream steps must satisfy the trigger rule. */
export type Join = "all" | "any" | { readonly quorum: number };
/** What a step failure does to the rest of the run. */
export type OnFailure = "fail_fast" | "continue";

/** Backoff between attempts, as the tasks module's `backoff` takes it. */
export interface BackoffPolicy {
  readonly initial_ms: number;
  readonly multiplier: number;
  readonly max_ms: number;
  readonly jitter: number;
}

/** A step's retries. For task steps they are the task's own attempts (null: the tasks module's default). */
export interface RetryPolicy {
  readonly max_attempts: number | null;
  readonly backoff: BackoffPolicy;
}

/** What every step has, normalised. */
interface StepCommon {
  readonly id: string;
  readonly team: string;
  /** Template over the workflow input, upstream outputs and (for_each) `item` / `index`. */
  readonly input: JsonValue;
  /** Steps this one waits for (pipelines have them filled in), without duplicates. */
  readonly depends_on: readonly string[];
  /** Steps that list this one in depends_on. */
  readonly dependents: readonly string[];
  readonly when: TriggerRule;
  /** The join as written (null: the trigger rule's default). */
  readonly join: Join | null;
  /**
   * How many upstream steps must end in an outcome the trigger rule counts as good before this
   * step runs: `all` every dependency, `any` one, `{quorum: n}` n; by default every dependency
   * for all_success, none_failed and all_done, one for one_success and one_failed. Never more
   * than the dependencies; 0 for a step without any (it runs at once).
   */
  readonly threshold: number;
  /** A template that resolves to a list, or a literal list: the step runs once per item. */
  readonly for_each: JsonValue | null;
  readonly retry: RetryPolicy;
  readonly timeout_ms: number | null;
  /** 0 to 9, higher first (DESIGN), default 5. */
  readonly priority: number;
  /** The step to run if the workflow fails after this one succeeded. */
  readonly compensate: string | null;
  /** On a compensation step: the step it compensates (it never runs otherwise). */
  readonly compensates: string | null;
  /** The team whose coordinator agent is handed the task instead of `team`'s agents. */
  readonly delegate_to: string | null;
}

/** A step run by an agent as a task. */
export interface TaskStepDefinition extends StepCommon {
  readonly type: "task";
  readonly task_type: string;
  readonly skills: readonly string[];
}
/** A step that waits for a named event (POST /workflows/{id}/events). */
export interface EventStepDefinition extends StepCommon {
  readonly type: "event";
  readonly event: string;
}
/** A step that waits a duration from when it is reached, or until a time. */
export interface TimerStepDefinition extends StepCommon {
  readonly type: "timer";
  readonly duration_ms: number | null;
  /** Milliseconds since the epoch. */
  readonly at: number | null;
}
/** A step that runs a registered definition as a sub-workflow; its outcome is the step's. */
export interface WorkflowStepDefinition extends StepCommon {
  readonly type: "workflow";
  readonly workflow: { readonly name: string; readonly version: number | null; readonly team: string | null };
}
/** A step that is a consensus decision: it succeeds when approved, fails when rejected. */
export interface ApprovalStepDefinition extends StepCommon {
  readonly type: "approval";
  readonly voters: readonly string[];
  readonly quorum: number;
}

/** One normalised step. */
export type StepDefinition =
  | TaskStepDefinition
  | EventStepDefinition
  | TimerStepDefinition
  | WorkflowStepDefinition
  | ApprovalStepDefinition;

/** A validated, normalised workflow definition: plain JSON data, safe to store and replicate. */
export interface WorkflowDefinition {
  readonly name: string;
  readonly version: number;
  readonly description: string;
  readonly teams: readonly string[];
  readonly pattern: "dag" | "pipeline";
  readonly timeout_ms: number | null;
  readonly on_failure: OnFailure;
  readonly max_running_steps: number | null;
  /** Default input: a run's input is this with the start input's keys laid over it. */
  readonly input: { readonly [key: string]: JsonValue };
  /** Template of the run's output (null: the outputs of the steps nothing depends on, by id). */
  readonly output: JsonValue | null;
  /** Start a run whenever this event arrives (the integration watches for it). */
  readonly trigger: { readonly event: string } | null;
  readonly steps: readonly StepDefinition[];
  /** The steps that run forward (not compensation steps), in a stable topological order. */
  readonly order: readonly string[];
}

/** Stable codes of definition errors. */
export const DEFINITION_ERROR_CODES = [
  "invalid_syntax",
  "oversized_definition",
  "too_many_steps",
  "invalid_schema",
  "duplicate_step_id",
  "unknown_team",
  "missing_field",
  "unexpected_field",
  "invalid_time",
  "unknown_dependency",
  "cycle",
  "quorum_too_large",
  "unknown_compensation_step",
  "self_compensation",
  "invalid_compensation",
  "invalid_template",
  "unknown_template_reference",
  "unresolvable_for_each",
] as const;
export type DefinitionErrorCode = (typeof DEFINITION_ERROR_CODES)[number];

/** One problem with a definition: a stable code, the JSON pointer (RFC 6901) of the field, and a sentence. */
export interface DefinitionError {
  readonly code: DefinitionErrorCode;
  readonly path: string;
  readonly message: string;
  /** The steps the error is about, when it is about several (a cycle, in dependency order). */
  readonly steps?: readonly string[];
}

/** A definition, or every reason it is not one. */
export type DefinitionResult =
  | { readonly ok: true; readonly definition: WorkflowDefinition }
  | { readonly ok: false; readonly errors: readonly DefinitionError[] };

/** The text formats a definition may be written in. */
export type DefinitionFormat = "json" | "yaml";

const DEFAULT_BACKOFF: BackoffPolicy = { initial_ms: 1_000, multiplier: 2, max_ms: 60_000, jitter: 0.2 };
const DEFAULT_PRIORITY = 5;
const definitionCheck = Compile(WorkflowDefinitionSchema);

/** Parses and validates a definition written as JSON or YAML text. */
export function parseDefinition(text: string, format: DefinitionFormat): DefinitionResult {
  if (utf8Length(text) > WORKFLOW_LIMITS.definitionBytes) return oversized();
  let value: unknown;
  try {
    value =
      format === "json"
        ? JSON.parse(text)
        : parseYaml(text, { schema: "core", uniqueKeys: true, maxAliasCount: 100, prettyErrors: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    return fail([
      { code: "invalid_syntax", path: "", message: `not valid ${format.toUpperCase()}: ${message}` },
    ]);
  }
  return validateDefinition(value);
}

/** Validates a parsed definition (any value) and normalises it. */
export function validateDefinition(value: unknown): DefinitionResult {
  if (!isJsonValue(value)) {
    return fail([
      { code: "invalid_syntax", path: "", message: "not plain JSON (infinite numbers, or nested too deep)" },
    ]);
  }
  const text = JSON.stringify(value);
  if (utf8Length(text) > WORKFLOW_LIMITS.definitionBytes) return oversized();
  // Plain JSON with the same text is the same definition: its verdict is looked up, not redone.
  const known = recentVerdicts.get(text);
  if (known !== undefined) return known;
  const result = deepFreeze(judge(value));
  if (text.length > RECENT_VERDICT_CHARS) return result;
  if (recentVerdicts.size >= RECENT_VERDICTS) recentVerdicts.delete(recentVerdicts.keys().next().value!);
  recentVerdicts.set(text, result);
  return result;
}

/**
 * The verdicts on the last few distinct definitions, by their JSON text. One definition is
 * validated at the edge, checked by every replica's store and kernel, and normalised by apply,
 * and most runs reuse a handful of definitions: each is validated once per process, not four
 * times per run. Frozen, since every caller shares them.
 */
const recentVerdicts = new Map<string, DefinitionResult>();
const RECENT_VERDICTS = 256;
/** Larger definitions are rare and validated each time, so the memory held stays a few MB. */
const RECENT_VERDICT_CHARS = 16 * 1024;

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** validateDefinition() of plain JSON within the size bound, worked out. */
function judge(value: JsonValue): DefinitionResult {
  const errors = new ErrorList();
  if (isRecord(value) && Array.isArray(value.steps) && value.steps.length > WORKFLOW_LIMITS.steps) {
    errors.add(
      "too_many_steps",
      "/steps",
      `${value.steps.length} steps; a definition may have at most ${WORKFLOW_LIMITS.steps}`,
    );
  }
  schemaErrors(value, errors);
  if (errors.length > 0) return fail(errors.items);
  return new Validator(value as WorkflowDefinitionInput, errors).run();
}

function oversized(): DefinitionResult {
  return fail([
    {
      code: "oversized_definition",
      path: "",
      message: `the definition is larger than ${WORKFLOW_LIMITS.definitionBytes} bytes`,
    },
  ]);
}

function fail(errors: readonly DefinitionError[]): DefinitionResult {
  return { ok: false, errors };
}

/**
 * Schema errors, one per field. A union's alternatives become one message ("must be one of
 * ..."), and are dropped when an error deeper inside the same value says more.
 */
function schemaErrors(value: JsonValue, errors: ErrorList): void {
  if (definitionCheck.Check(value)) return;
  const byPath = new Map<string, { consts: string[]; messages: string[]; union: boolean }>();
  for (const error of allSchemaErrors(value)) {
    // An unknown field is reported twice (false schema at the field, additionalProperties at its parent).
    if (error.keyword === "additionalProperties") continue;
    const entry = byPath.get(error.instancePath) ?? { consts: [], messages: [], union: false };
    byPath.set(error.instancePath, entry);
    if (error.schemaPath.includes("anyOf") || error.keyword === "anyOf") entry.union = true;
    if (error.keyword === "anyOf") continue;
    if (error.keyword === "const") {
      entry.consts.push(JSON.stringify((error.params as { allowedValue?: unknown }).allowedValue));
      continue;
    }
    const message = error.keyword === "boolean" ? "is not a known field" : error.message;
    if (!entry.messages.includes(message)) entry.messages.push(message);
  }
  const paths = [...byPath.keys()];
  for (const [path, entry] of byPath) {
    if (entry.union && paths.some((other) => other.startsWith(`${path}/`))) continue;
    // A union of literals also reports "must be string" for each; the list of values says it.
    const messages =
      entry.consts.length > 0 ? entry.messages.filter((m) => m !== "must be string") : entry.messages;
    const parts =
      entry.consts.length > 0 ? [`must be one of ${entry.consts.join(", ")}`, ...messages] : messages;
    const text = parts.length > 0 ? parts.join(", or ") : "does not match the schema";
    errors.add("invalid_schema", path, `${where(path)} ${text}`);
  }
}

/**
 * Every schema error up to the bound. TypeBox buffers 8 by default (a process-wide setting), too
 * few to report each bad field of a definition; it is raised for this one synchronous call.
 */
function allSchemaErrors(value: JsonValue): ReturnType<typeof definitionCheck.Errors> {
  const previous = Settings.Get().maxErrors;
  Settings.Set({ maxErrors: 4 * WORKFLOW_LIMITS.errors });
  try {
    return definitionCheck.Errors(value);
  } finally {
    Settings.Set({ maxErrors: previous });
  }
}

/** A field's pointer as words for messages. */
function where(path: string): string {
  return path === "" ? "the definition" : path.slice(1).replaceAll("/", ".");
}

/** Errors collected, up to the bound. */
class ErrorList {
  readonly items: DefinitionError[] = [];

  get length(): number {
    return this.items.length;
  }

  add(code: DefinitionErrorCode, path: string, message: string, steps?: readonly string[]): void {
    if (this.items.length >= WORKFLOW_LIMITS.errors) return;
    this.items.push(steps === undefined ? { code, path, message } : { code, path, message, steps });
  }
}

/** Where a template is used, which decides what it may reference. */
type TemplateSite =
  | { readonly kind: "input"; readonly step: number }
  | { readonly kind: "for_each"; readonly step: number }
  | { readonly kind: "output" };

/** Fields each step type takes, beyond the ones every step has. */
const TYPE_FIELDS: Record<
  StepType,
  { readonly required: readonly string[]; readonly optional: readonly string[] }
> = {
  task: { required: ["task_type"], optional: ["skills", "retry", "delegate_to", "for_each", "input"] },
  event: { required: ["event"], optional: [] },
  timer: { required: [], optional: ["duration_ms", "at"] },
  workflow: { required: ["workflow"], optional: ["retry", "for_each", "input"] },
  approval: { required: ["voters", "quorum"], optional: ["input"] },
};
const TYPE_SPECIFIC = new Set(
  Object.values(TYPE_FIELDS).flatMap((fields) => [...fields.required, ...fields.optional]),
);

/** The semantic checks over a definition that passed the schema, and its normalisation. */
class Validator {
  private readonly steps: readonly StepInput[];
  /** Step id to its first position. */
  private readonly index = new Map<string, number>();
  /** Per step, the positions of its (known, distinct) dependencies. */
  private readonly deps: number[][] = [];
  /** Per step, the step it compensates, if it is a compensation step. */
  private readonly compensates: (number | null)[] = [];
  private ancestors: Uint32Array[] | null = null;
  private order: number[] | null = null;

  constructor(
    private readonly raw: WorkflowDefinitionInput,
    private readonly errors: ErrorList,
  ) {
    this.steps = raw.steps;
  }

  run(): DefinitionResult {
    this.checkIds();
    this.checkTeams();
    this.checkTypes();
    this.checkCompensation();
    this.collectDependencies();
    this.checkGraph();
    this.checkJoins();
    this.checkTemplates();
    if (this.errors.length > 0) return fail(this.errors.items);
    return { ok: true, definition: this.normalise() };
  }

  private checkIds(): void {
    this.steps.forEach((step, i) => {
      if (this.index.has(step.id)) {
        const first = this.index.get(step.id)!;
        this.errors.add(
          "duplicate_step_id",
          `/steps/${i}/id`,
          `step id "${step.id}" is already used by step ${first}`,
        );
      } else {
        this.index.set(step.id, i);
      }
    });
  }

  private checkTeams(): void {
    const teams = new Set(this.raw.teams);
    this.steps.forEach((step, i) => {
      if (!teams.has(step.team)) {
        this.errors.add(
          "unknown_team",
          `/steps/${i}/team`,
          `step "${step.id}": team "${step.team}" is not in teams`,
        );
      }
      if (step.delegate_to !== undefined && !teams.has(step.delegate_to)) {
        this.errors.add(
          "unknown_team",
          `/steps/${i}/delegate_to`,
          `step "${step.id}": delegate_to team "${step.delegate_to}" is not in teams`,
        );
      }
    });
  }

  private checkTypes(): void {
    this.steps.forEach((step, i) => {
      const type = step.type ?? "task";
      const fields = TYPE_FIELDS[type];
      for (const field of fields.required) {
        if (!Object.hasOwn(step, field)) {
          this.errors.add(
            "missing_field",
            `/steps/${i}/${field}`,
            `step "${step.id}": a ${type} step needs ${field}`,
          );
        }
      }
      for (const field of Object.keys(step)) {
        if (
          TYPE_SPECIFIC.has(field) &&
          !fields.required.includes(field) &&
          !fields.optional.includes(field)
        ) {
          this.errors.add(
            "unexpected_field",
            `/steps/${i}/${field}`,
            `step "${step.id}": a ${type} step takes no ${field}`,
          );
        }
      }
      if (this.raw.pattern === "pipeline" && step.depends_on !== undefined) {
        this.errors.add(
          "unexpected_field",
          `/steps/${i}/depends_on`,
          `step "${step.id}": a pipeline chains its steps in order; it takes no depends_on`,
        );
      }
      if (type === "timer") this.checkTimer(step, i);
      if (type === "approval" && step.voters !== undefined && step.quorum !== undefined) {
        if (step.quorum > step.voters.length) {
          this.errors.add(
            "quorum_too_large",
            `/steps/${i}/quorum`,
            `step "${step.id}": quorum ${step.quorum} is more than its ${step.voters.length} voters`,
          );
        }
      }
    });
  }

  private checkTimer(step: StepInput, i: number): void {
    if ((step.duration_ms === undefined) === (step.at === undefined)) {
      const code = step.duration_ms === undefined ? "missing_field" : "unexpected_field";
      const path = step.duration_ms === undefined ? `/steps/${i}/duration_ms` : `/steps/${i}/at`;
      this.errors.add(code, path, `step "${step.id}": a timer step takes exactly one of duration_ms and at`);
    }
    if (typeof step.at === "string" && parseRfc3339(step.at) === null) {
      this.errors.add(
        "invalid_time",
        `/steps/${i}/at`,
        `step "${step.id}": at "${step.at}" is not an RFC 3339 time such as 2030-01-01T00:00:00Z`,
      );
    }
  }

  private checkCompensation(): void {
    this.compensates.push(...this.steps.map(() => null));
    this.steps.forEach((step, i) => {
      if (step.compensate === undefined) return;
      const path = `/steps/${i}/compensate`;
      const target = this.index.get(step.compensate);
      if (target === undefined) {
        this.errors.add(
          "unknown_compensation_step",
          path,
          `step "${step.id}": compensate names no step "${step.compensate}"`,
        );
      } else if (target === i) {
        this.errors.add("self_compensation", path, `step "${step.id}" cannot compensate itself`);
      } else if (this.compensates[target] !== null) {
        const other = this.steps[this.compensates[target]!]!.id;
        this.errors.add(
          "invalid_compensation",
          path,
          `step "${step.id}": step "${step.compensate}" already compensates step "${other}"`,
        );
      } else {
        this.compensates[target] = i;
      }
    });
    this.compensates.forEach((of, i) => {
      if (of === null) return;
      const step = this.steps[i]!;
      const problem =
        step.depends_on !== undefined && step.depends_on.length > 0
          ? ["depends_on", "it runs only after a failure, so it takes no depends_on"]
          : step.compensate !== undefined
            ? ["compensate", "it cannot have a compensation of its own"]
            : step.for_each !== undefined
              ? ["for_each", "it cannot fan out"]
              : null;
      if (problem !== null) {
        this.errors.add(
          "invalid_compensation",
          `/steps/${i}/${problem[0]}`,
          `compensation step "${step.id}": ${problem[1]}`,
        );
      }
    });
  }

  private collectDependencies(): void {
    this.steps.forEach((step, i) => {
      const deps: number[] = [];
      if (this.raw.pattern === "pipeline") {
        const previous = this.previousForward(i);
        if (previous !== null) deps.push(previous);
      }
      (step.depends_on ?? []).forEach((id, j) => {
        const dep = this.index.get(id);
        const path = `/steps/${i}/depends_on/${j}`;
        if (dep === undefined) {
          this.errors.add("unknown_dependency", path, `step "${step.id}" depends on unknown step "${id}"`);
        } else if (this.compensates[dep] !== null) {
          this.errors.add(
            "invalid_compensation",
            path,
            `step "${step.id}" depends on compensation step "${id}", which runs only after a failure`,
          );
        } else if (!deps.includes(dep)) {
          deps.push(dep);
        }
      });
      this.deps.push(this.compensates[i] === null ? deps : []);
    });
  }

  /** In a pipeline, the forward step listed before step i. */
  private previousForward(i: number): number | null {
    for (let j = i - 1; j >= 0; j--) if (this.compensates[j] === null) return j;
    return null;
  }

  private checkGraph(): void {
    for (const cycle of findCycles(this.deps, 10)) {
      const ids = cycle.steps.map((i) => this.steps[i]!.id);
      const j = (this.steps[cycle.from]!.depends_on ?? []).indexOf(this.steps[cycle.to]!.id);
      const path = j === -1 ? `/steps/${cycle.from}` : `/steps/${cycle.from}/depends_on/${j}`;
      const chain = [...ids, ids[0]!].join(" -> ");
      this.errors.add("cycle", path, `steps form a cycle (each depends on the next): ${chain}`, ids);
    }
    this.order = topologicalOrder(this.deps);
    if (this.order !== null) this.ancestors = ancestorSets(this.deps, this.order);
  }

  private checkJoins(): void {
    this.steps.forEach((step, i) => {
      const join = step.join;
      if (join === undefined || typeof join === "string") return;
      const count = this.deps[i]!.length;
      if (join.quorum > count) {
        this.errors.add(
          "quorum_too_large",
          `/steps/${i}/join/quorum`,
          `step "${step.id}": join quorum ${join.quorum} is more than its ${count} dependencies`,
        );
      }
    });
  }

  private checkTemplates(): void {
    this.steps.forEach((step, i) => {
      if (step.input !== undefined)
        this.checkTemplateValue(step.input as JsonValue, `/steps/${i}/input`, { kind: "input", step: i });
      if (step.for_each !== undefined) this.checkForEach(step.for_each as JsonValue, i);
    });
    if (this.raw.output !== undefined)
      this.checkTemplateValue(this.raw.output as JsonValue, "/output", { kind: "output" });
  }

  private checkTemplateValue(value: JsonValue, pointer: string, site: TemplateSite): void {
    for (const [text, path] of templateStrings(value, pointer)) {
      const parsed = parseTemplate(text);
      if (isSyntaxError(parsed)) {
        this.errors.add("invalid_template", path, `${where(path)}: ${parsed.message}`);
        continue;
      }
      for (const part of parsed.parts) {
        if (typeof part === "string") continue;
        const problem = this.referenceProblem(part, site);
        if (problem !== null)
          this.errors.add("unknown_template_reference", path, `${where(path)}: {{${part.text}}}: ${problem}`);
      }
    }
  }

  private checkForEach(value: JsonValue, i: number): void {
    if (typeof value !== "string") return;
    const path = `/steps/${i}/for_each`;
    const parsed = parseTemplate(value);
    const whole = isSyntaxError(parsed) ? null : parsed.whole;
    const problem =
      whole === null
        ? "must be a list, or one template such as {{input.items}} or {{steps.list.output.items}}"
        : whole.root !== "input" && whole.root !== "steps"
          ? `{{${whole.text}}}: a list comes from input or from an upstream step's output`
          : whole.root === "steps" && whole.path[1] !== "output"
            ? `{{${whole.text}}}: a list comes from an upstream step's output`
            : this.referenceProblem(whole, { kind: "for_each", step: i });
    if (problem !== null)
      this.errors.add("unresolvable_for_each", path, `step "${this.steps[i]!.id}": for_each ${problem}`);
  }

  /** Why a reference cannot resolve where it is used, or null. */
  private referenceProblem(reference: Reference, site: TemplateSite): string | null {
    const path = reference.path;
    switch (reference.root) {
      case "input":
        return null;
      case "workflow":
        return path.length === 1 && ["id", "name", "version"].includes(path[0]!)
          ? null
          : "the workflow offers id, name and version";
      case "item":
      case "index": {
        const forEach = site.kind === "input" && this.steps[site.step]!.for_each !== undefined;
        if (!forEach) return `${reference.root} is defined only in the input of a for_each step`;
        return reference.root === "index" && path.length > 0 ? "index is a number; it has no fields" : null;
      }
      case "steps":
        return this.stepReferenceProblem(reference, site);
      default:
        return `unknown root "${reference.root}" (use input, steps, item, index or workflow)`;
    }
  }

  private stepReferenceProblem(reference: Reference, site: TemplateSite): string | null {
    const [id, field] = reference.path;
    if (id === undefined) return "name a step, as in steps.build.output";
    const target = this.index.get(id);
    if (target === undefined) return `no step "${id}"`;
    if (field !== "output" && field !== "status") return `use steps.${id}.output or steps.${id}.status`;
    if (field === "status" && reference.path.length > 2) return "a status is a string; it has no fields";
    if (this.compensates[target] !== null)
      return `step "${id}" is a compensation step; nothing reads its output`;
    if (site.kind === "output") return null;
    const from = site.step;
    // Compensation steps run after the forward steps, so they may read any of them.
    if (this.compensates[from] !== null) return target === from ? "a step cannot read itself" : null;
    if (this.ancestors === null) return null; // The cycle is reported; upstream is undefined.
    return hasBit(this.ancestors[from]!, target)
      ? null
      : `step "${id}" is not upstream of step "${this.steps[from]!.id}"`;
  }

  private normalise(): WorkflowDefinition {
    const raw = this.raw;
    const dependents: string[][] = this.steps.map(() => []);
    this.deps.forEach((deps, i) => deps.forEach((dep) => dependents[dep]!.push(this.steps[i]!.id)));
    const steps = this.steps.map((step, i) => this.normaliseStep(step, i, dependents[i]!));
    const order = this.order!.filter((i) => this.compensates[i] === null).map((i) => this.steps[i]!.id);
    return {
      name: raw.name,
      version: raw.version ?? 1,
      description: raw.description ?? "",
      teams: [...raw.teams],
      pattern: raw.pattern ?? "dag",
      timeout_ms: raw.timeout_ms ?? null,
      on_failure: raw.on_failure ?? "fail_fast",
      max_running_steps: raw.max_running_steps ?? null,
      input: (raw.input ?? {}) as { [key: string]: JsonValue },
      output: raw.output === undefined ? null : (raw.output as JsonValue),
      trigger: raw.trigger === undefined ? null : { event: raw.trigger.event },
      steps,
      order,
    };
  }

  private normaliseStep(step: StepInput, i: number, dependents: readonly string[]): StepDefinition {
    const depends_on = this.deps[i]!.map((dep) => this.steps[dep]!.id);
    const when = step.when ?? "all_success";
    const join = step.join ?? null;
    const compensates = this.compensates[i];
    const backoff = step.retry?.backoff;
    const common: StepCommon = {
      id: step.id,
      team: step.team,
      input: step.input === undefined ? {} : (step.input as JsonValue),
      depends_on,
      dependents,
      when,
      join: join === null || typeof join === "string" ? join : { quorum: join.quorum },
      threshold: thresholdOf(when, join, depends_on.length),
      for_each: step.for_each === undefined ? null : (step.for_each as JsonValue),
      retry: {
        max_attempts: step.retry?.max_attempts ?? null,
        backoff: {
          initial_ms: backoff?.initial_ms ?? DEFAULT_BACKOFF.initial_ms,
          multiplier: backoff?.multiplier ?? DEFAULT_BACKOFF.multiplier,
          max_ms: backoff?.max_ms ?? DEFAULT_BACKOFF.max_ms,
          jitter: backoff?.jitter ?? DEFAULT_BACKOFF.jitter,
        },
      },
      timeout_ms: step.timeout_ms ?? null,
      priority: step.priority ?? DEFAULT_PRIORITY,
      compensate: step.compensate ?? null,
      compensates: compensates === null || compensates === undefined ? null : this.steps[compensates]!.id,
      delegate_to: step.delegate_to ?? null,
    };
    const type = step.type ?? "task";
    switch (type) {
      case "task":
        return { ...common, type, task_type: step.task_type!, skills: [...(step.skills ?? [])] };
      case "event":
        return { ...common, type, event: step.event! };
      case "timer":
        return {
          ...common,
          type,
          duration_ms: step.duration_ms ?? null,
          at: step.at === undefined ? null : typeof step.at === "number" ? step.at : parseRfc3339(step.at)!,
        };
      case "workflow": {
        const workflow = step.workflow!;
        return {
          ...common,
          type,
          workflow: { name: workflow.name, version: workflow.version ?? null, team: workflow.team ?? null },
        };
      }
      case "approval":
        return { ...common, type, voters: [...step.voters!], quorum: step.quorum! };
    }
  }
}

/** How many upstream steps must end well for a step to run (see StepCommon.threshold). */
export function thresholdOf(when: TriggerRule, join: Join | null | undefined, dependencies: number): number {
  if (join === "all") return dependencies;
  if (join === "any") return Math.min(1, dependencies);
  if (join !== null && join !== undefined) return Math.min(join.quorum, dependencies);
  return when === "one_success" || when === "one_failed" ? Math.min(1, dependencies) : dependencies;
}
