/**
 * The shape of a workflow definition as users write it (JSON or YAML), in TypeBox: every field
 * bounded, unknown fields refused. One flat step object serves every step type, so a wrong
 * field gets one clear error instead of a union's list; which fields each type needs is checked
 * by the definition's semantic validation.
 */

import Type, { type Static } from "typebox";
import { WORKFLOW_LIMITS } from "./limits.js";

const NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:/-]*$";
/** Step ids are template path segments, so they exclude `.` and `[`. */
export const STEP_ID_PATTERN = "^[A-Za-z_][A-Za-z0-9_-]*$";

const Name = Type.String({ minLength: 1, maxLength: WORKFLOW_LIMITS.nameLength, pattern: NAME_PATTERN });
const Team = Type.String({ minLength: 1, maxLength: WORKFLOW_LIMITS.nameLength });
const StepId = Type.String({ minLength: 1, maxLength: WORKFLOW_LIMITS.nameLength, pattern: STEP_ID_PATTERN });
const DurationMs = Type.Integer({ minimum: 1, maximum: WORKFLOW_LIMITS.durationMs });

/** Step types. */
export const StepTypeSchema = Type.Union([
  Type.Literal("task"),
  Type.Literal("event"),
  Type.Literal("timer"),
  Type.Literal("workflow"),
  Type.Literal("approval"),
]);

/** Trigger rules (Airflow's names): which upstream outcomes let a step run. */
export const TriggerRuleSchema = Type.Union([
  Type.Literal("all_success"),
  Type.Literal("all_done"),
  Type.Literal("one_success"),
  Type.Literal("one_failed"),
  Type.Literal("none_failed"),
]);

/** Fan-in policy: how many upstream steps must satisfy the trigger rule. */
export const JoinSchema = Type.Union([
  Type.Literal("all"),
  Type.Literal("any"),
  Type.Object(
    { quorum: Type.Integer({ minimum: 1, maximum: WORKFLOW_LIMITS.dependsOn }) },
    { additionalProperties: false },
  ),
]);

/** Retries of a step: its task's attempts (the tasks module retries), or its sub-workflow's. */
export const RetrySchema = Type.Object(
  {
    max_attempts: Type.Integer({ minimum: 1, maximum: WORKFLOW_LIMITS.maxAttempts }),
    backoff: Type.Optional(
      Type.Object(
        {
          initial_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000 })),
          multiplier: Type.Optional(Type.Number({ minimum: 1, maximum: 100 })),
          max_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000 })),
          jitter: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** A sub-workflow reference: a registered definition by name (and version), owned by a team. */
export const SubWorkflowSchema = Type.Object(
  {
    name: Name,
    version: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000 })),
    team: Type.Optional(Team),
  },
  { additionalProperties: false },
);

/** One step as written. */
export const StepSchema = Type.Object(
  {
    id: StepId,
    team: Team,
    type: Type.Optional(StepTypeSchema),
    task_type: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
    skills: Type.Optional(Type.Array(Name, { maxItems: WORKFLOW_LIMITS.skills, uniqueItems: true })),
    input: Type.Optional(Type.Unknown({ description: "any JSON value; strings may hold {{templates}}" })),
    depends_on: Type.Optional(Type.Array(StepId, { maxItems: WORKFLOW_LIMITS.dependsOn })),
    when: Type.Optional(TriggerRuleSchema),
    join: Type.Optional(JoinSchema),
    for_each: Type.Optional(
      Type.Union([
        Type.String({ minLength: 1, maxLength: 1_000 }),
        Type.Array(Type.Unknown(), { maxItems: WORKFLOW_LIMITS.forEachItems }),
      ]),
    ),
    retry: Type.Optional(RetrySchema),
    timeout_ms: Type.Optional(DurationMs),
    priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 9 })),
    compensate: Type.Optional(StepId),
    delegate_to: Type.Optional(Team),
    event: Type.Optional(Name),
    duration_ms: Type.Optional(DurationMs),
    at: Type.Optional(
      Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Integer({ minimum: 0, maximum: 1e15 })]),
    ),
    workflow: Type.Optional(SubWorkflowSchema),
    voters: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
        minItems: 1,
        maxItems: WORKFLOW_LIMITS.voters,
        uniqueItems: true,
      }),
    ),
    quorum: Type.Optional(Type.Integer({ minimum: 1, maximum: WORKFLOW_LIMITS.voters })),
  },
  { additionalProperties: false },
);
export type StepInput = Static<typeof StepSchema>;

/** A workflow definition as written. */
export const WorkflowDefinitionSchema = Type.Object(
  {
    name: Name,
    version: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000 })),
    description: Type.Optional(Type.String({ maxLength: 2_000 })),
    teams: Type.Array(Team, { minItems: 1, maxItems: WORKFLOW_LIMITS.teams, uniqueItems: true }),
    pattern: Type.Optional(Type.Union([Type.Literal("dag"), Type.Literal("pipeline")])),
    timeout_ms: Type.Optional(DurationMs),
    on_failure: Type.Optional(Type.Union([Type.Literal("fail_fast"), Type.Literal("continue")])),
    max_running_steps: Type.Optional(Type.Integer({ minimum: 1, maximum: WORKFLOW_LIMITS.steps })),
    input: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    output: Type.Optional(
      Type.Unknown({ description: "what the run returns; strings may hold {{templates}}" }),
    ),
    trigger: Type.Optional(Type.Object({ event: Name }, { additionalProperties: false })),
    // The count is checked before the schema so that too many steps has its own error code.
    steps: Type.Array(StepSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type WorkflowDefinitionInput = Static<typeof WorkflowDefinitionSchema>;
