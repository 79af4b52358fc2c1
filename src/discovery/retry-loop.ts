/**
 * The loop every provider runs: one pass (a read of the outside system), then a wait the pass
 * chooses (a DNS TTL, a card's max-age, a rate limit), or after a failure a jittered backoff that
 * grows to a cap. The loop never gives up: a discovery source that is down for an hour must be
 * picked up again when it returns, so retries are bounded in rate, not in number. Each pass is
 * bounded in time by the provider itself (its request timeouts), and stop() cancels the one in
 * flight through its AbortSignal.
 */

import { backoffDelayMs, type BackoffOptions } from "../transport/backoff.js";
import type { TimerHandle } from "../transport/timers.js";
import { asError } from "./errors.js";
import type { DiscoveryClock, RandomSource } from "./types.js";

/** One pass: does its work and resolves with how long to wait before the next one. */
export type LoopPass = (signal: AbortSignal) => Promise<number>;

/** No wait a pass asks for is longer than this (a day): a bad TTL must not park a loop forever. */
export const MAX_LOOP_DELAY_MS = 86_400_000;

/** How a loop waits and reports. */
export interface RetryLoopOptions {
  readonly clock: Pick<DiscoveryClock, "setTimeout" | "clearTimeout">;
  readonly backoff: BackoffOptions;
  readonly random: RandomSource;
  /** Called with each failed pass, and the number of failures in a row (1 for the first). */
  readonly onFailure: (error: Error, failuresInRow: number) => void;
}

/** A loop that is running. */
export interface RunningLoop {
  /** Cancels the pass in flight and the next one; resolves once the pass in flight has settled. */
  stop(): Promise<void>;
}

/** Starts `pass` at once and runs it again after each wait until stopped. */
export function startRetryLoop(pass: LoopPass, options: RetryLoopOptions): RunningLoop {
  let stopped = false;
  let timer: TimerHandle | null = null;
  let controller: AbortController | null = null;
  let inFlight: Promise<void> | null = null;
  let failuresInRow = 0;

  const schedule = (delayMs: number): void => {
    if (stopped) return;
    const bounded = Number.isFinite(delayMs) ? Math.min(Math.max(delayMs, 0), MAX_LOOP_DELAY_MS) : 0;
    timer = options.clock.setTimeout(run, bounded);
  };

  function run(): void {
    timer = null;
    if (stopped) return;
    const current = new AbortController();
    controller = current;
    inFlight = Promise.resolve()
      .then(() => pass(current.signal))
      .then(
        (delayMs) => {
          failuresInRow = 0;
          schedule(delayMs);
        },
        (error: unknown) => {
          if (stopped) return;
          failuresInRow++;
          options.onFailure(asError(error), failuresInRow);
          schedule(backoffDelayMs(failuresInRow - 1, options.backoff, options.random));
        },
      )
      .finally(() => {
        if (controller === current) controller = null;
      });
  }

  run();
  return {
    async stop() {
      stopped = true;
      if (timer !== null) options.clock.clearTimeout(timer);
      timer = null;
      controller?.abort();
      // A pass that ignores its signal still settles within its own timeouts.
      await inFlight?.catch(() => undefined);
    },
  };
}
