/**
 * Work done a slice per event-loop turn (writing or reading a snapshot, rebuilding the projected
 * tables), so that no step holds the loop for long whatever the size of the state. All of a
 * node's jobs share one queue and together run one slice per turn, taking turns: several jobs at
 * once never add up to one long block. Slices are bounded by rows or bytes, not by time, so the
 * simulator runs them the same way every time.
 */

import type { Clock } from "./clock.js";

/** A job running in slices; cancel() stops it before its next slice. */
export interface SlicedJob {
  cancel(): void;
  readonly cancelled: boolean;
}

interface Job {
  readonly step: () => boolean;
  readonly done: () => void;
  readonly failed: (error: unknown) => void;
  cancelled: boolean;
}

/** The jobs of one node, one slice per turn between them. */
export class BackgroundWork {
  private readonly jobs: Job[] = [];
  private scheduled = false;

  constructor(private readonly clock: Clock) {}

  /**
   * Runs `step` once per turn it gets (starting on a later turn) until it returns true, then
   * `done`. An exception from a step goes to `failed` and ends the job.
   */
  run(step: () => boolean, done: () => void, failed: (error: unknown) => void): SlicedJob {
    const job: Job = { step, done, failed, cancelled: false };
    this.jobs.push(job);
    this.schedule();
    return {
      cancel: () => {
        job.cancelled = true;
      },
      get cancelled(): boolean {
        return job.cancelled;
      },
    };
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.clock.defer(() => this.slice());
  }

  private slice(): void {
    this.scheduled = false;
    const job = this.jobs.shift();
    if (job === undefined) return;
    if (!job.cancelled) {
      let finished = false;
      try {
        finished = job.step();
      } catch (error) {
        job.cancelled = true;
        job.failed(error);
      }
      if (finished) job.done();
      else if (!job.cancelled) this.jobs.push(job);
    }
    if (this.jobs.length > 0) this.schedule();
  }
}
