// Shared helpers for the workflow tests: definitions that must be valid, and a driver that
// feeds a run events and keeps every effect it asked for.

import { expect } from "vitest";
import type { JsonValue } from "../../src/control/index.js";
import {
  advance,
  start,
  validateDefinition,
  type Advanced,
  type DefinitionError,
  type UnitState,
  type WorkflowDefinition,
  type WorkflowEffect,
  type WorkflowEvent,
  type WorkflowRun,
} from "../../src/workflows/index.js";

/** A definition that must validate. */
export function define(value: unknown): WorkflowDefinition {
  const result = validateDefinition(value);
  if (!result.ok) throw new Error(`invalid definition: ${JSON.stringify(result.errors, null, 2)}`);
  return result.definition;
}

/** The errors of a definition that must not validate. */
export function errorsOf(value: unknown): readonly DefinitionError[] {
  const result = validateDefinition(value);
  if (result.ok) throw new Error("the definition validated");
  return result.errors;
}

/** A task step with the fields every test would repeat. */
export function task(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, team: "t", task_type: "work", ...extra };
}

/** A definition over team "t" with these steps. */
export function workflow(steps: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: "wf", teams: ["t"], steps, ...extra };
}

/** Drives one run: every call applies one event and keeps its effects. */
export class Driver {
  run: WorkflowRun;
  readonly effects: WorkflowEffect[] = [];
  last: Advanced;
  now = 0;

  constructor(definition: WorkflowDefinition, input: Record<string, JsonValue> = {}, id = "wf-1") {
    const started = start(definition, input, { id }, this.now);
    this.run = started.run;
    this.effects.push(...started.effects);
    this.last = { run: started.run, effects: started.effects, ignored: null };
  }

  /** Applies an event at the driver's time. */
  send(event: WorkflowEvent): Advanced {
    this.last = advance(this.run, event, this.now);
    this.run = this.last.run;
    this.effects.push(...this.last.effects);
    return this.last;
  }

  unit(step: string, index: number | null = null): UnitState {
    const state = this.run.steps.find((s) => s.id === step);
    if (state === undefined) throw new Error(`no step ${step}`);
    if (index === null) return state;
    const child = state.children?.[index];
    if (child === undefined) throw new Error(`no item ${index} of ${step}`);
    return child;
  }

  status(step: string, index: number | null = null): string {
    return this.unit(step, index).status;
  }

  succeed(step: string, output: JsonValue = null, index: number | null = null): Advanced {
    const taskId = this.unit(step, index).task_id;
    expect(taskId, `${step} has a task`).not.toBeNull();
    return this.send({ type: "task_succeeded", step, index, task_id: taskId!, output });
  }

  fail(step: string, index: number | null = null, retryable = false): Advanced {
    const taskId = this.unit(step, index).task_id;
    expect(taskId, `${step} has a task`).not.toBeNull();
    return this.send({ type: "task_failed", step, index, task_id: taskId!, error: "boom", retryable });
  }

  /** Steps (unit keys) the last event submitted tasks for. */
  submitted(effects: readonly WorkflowEffect[] = this.last.effects): string[] {
    return effects.flatMap((e) =>
      e.type === "submit_task" ? [e.index === null ? e.step : `${e.step}[${e.index}]`] : [],
    );
  }

  ofType<T extends WorkflowEffect["type"]>(
    type: T,
    effects: readonly WorkflowEffect[] = this.last.effects,
  ): Extract<WorkflowEffect, { type: T }>[] {
    return effects.filter((e): e is Extract<WorkflowEffect, { type: T }> => e.type === type);
  }
}
