/**
 * The task figures the dashboard charts over time, sampled every few seconds into a bounded ring
 * so a page opened now sees the last minutes at once. The counters are this node's (since it
 * started or last restored a snapshot); the page charts their differences, not their values.
 */

import Type, { type Static } from "typebox";
import type { NodeView } from "../runtime/view.js";
import { tasksState } from "../tasks/module.js";

/** How often a sample is taken. */
export const SAMPLE_INTERVAL_MS = 2_000;
/** Samples kept: ten minutes at the interval. */
export const SAMPLE_CAPACITY = 300;

const NullableNumber = Type.Union([Type.Number(), Type.Null()]);

/** One sample. */
export const TaskSample = Type.Object({
  at_ms: Type.Number({ description: "milliseconds since the epoch" }),
  assigned: Type.Integer({ description: "placements so far (a counter)" }),
  completed: Type.Integer({ description: "completions so far (a counter)" }),
  retried: Type.Integer({ description: "retried attempts so far (a counter)" }),
  dead_lettered: Type.Integer({ description: "dead-lettered tasks so far (a counter)" }),
  queue_depth: Type.Integer(),
  running: Type.Integer(),
  latency_p50_ms: NullableNumber,
  latency_p99_ms: NullableNumber,
});
export type TaskSample = Static<typeof TaskSample>;

/** The ring of samples. */
export class TaskSampler {
  private readonly ring: TaskSample[] = [];

  constructor(
    private readonly view: NodeView,
    private readonly capacity = SAMPLE_CAPACITY,
  ) {}

  /** Takes a sample of the view now, keeps it and returns it. */
  sample(nowMs: number): TaskSample {
    const tasks = this.view.state(tasksState);
    const sample: TaskSample = {
      at_ms: nowMs,
      assigned: tasks.stats.assigned,
      completed: tasks.stats.completed,
      retried: tasks.stats.retried,
      dead_lettered: tasks.stats.deadLettered,
      queue_depth: tasks.queue.size,
      running: tasks.count("running"),
      latency_p50_ms: tasks.stats.latencyPercentileMs(0.5),
      latency_p99_ms: tasks.stats.latencyPercentileMs(0.99),
    };
    this.ring.push(sample);
    if (this.ring.length > this.capacity) this.ring.shift();
    return sample;
  }

  /** The samples kept, oldest first. */
  samples(): readonly TaskSample[] {
    return this.ring;
  }
}
