/**
 * Work done a slice per event-loop turn (writing or reading a snapshot, rebuilding the projected
 * tables), so that no step holds the loop for long whatever the size of the state. Slices are
 * bounded by rows or bytes, not by time, so the simulator runs them the same way every time.
 */

import type { Clock } from "./clock.js";

/** A job running in slices; cancel() stops it before its next slice. */
export interface SlicedJob {
  cancel(): void;
  readonly cancelled: boolean;
}

/**
 * Calls `step` once per turn, starting on the next one, until it returns true, then `done`. An
 * exception from a step goes to `failed` and ends the job.
 */
export function runInSlices(
  clock: Clock,
  step: () => boolean,
  done: () => void,
  failed: (error: unknown) => void,
): SlicedJob {
  const job = { cancelled: false, cancel: () => (job.cancelled = true) };
  const slice = (): void => {
    if (job.cancelled) return;
    let finished: boolean;
    try {
      finished = step();
    } catch (error) {
      job.cancelled = true;
      failed(error);
      return;
    }
    if (finished) done();
    else clock.defer(slice);
  };
  clock.defer(slice);
  return job;
}
