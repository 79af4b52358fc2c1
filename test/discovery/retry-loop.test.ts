// Proves that a provider's loop runs its first pass at once, waits what each pass asks (bounded),
// backs off with growing, capped delays after failures and reports each one, starts over after a
// success, and on stop cancels the pass in flight and runs nothing more.

import { describe, expect, it } from "vitest";
import { MAX_LOOP_DELAY_MS, startRetryLoop } from "../../src/discovery/index.js";
import { resolveBackoff } from "../../src/transport/backoff.js";
import { ManualClock } from "./manual-clock.js";

const backoff = resolveBackoff({ initialDelayMs: 100, maxDelayMs: 400, multiplier: 2, jitter: 0 });

async function settled(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

describe("startRetryLoop", () => {
  it("waits what each pass asks for, bounded", async () => {
    const clock = new ManualClock();
    const delays = [1_000, -5, Number.NaN, MAX_LOOP_DELAY_MS * 10];
    let passes = 0;
    const loop = startRetryLoop(() => Promise.resolve(delays[passes++] ?? 1), {
      clock,
      backoff,
      random: () => 0,
      onFailure: () => undefined,
    });
    await settled();
    expect(passes).toBe(1);
    expect(clock.pendingDelays()).toEqual([1_000]);
    clock.advance(1_000);
    await settled();
    expect(clock.pendingDelays()).toEqual([0]);
    clock.advance(0);
    await settled();
    expect(clock.pendingDelays()).toEqual([0]);
    clock.advance(0);
    await settled();
    expect(clock.pendingDelays()).toEqual([MAX_LOOP_DELAY_MS]);
    await loop.stop();
    expect(clock.pendingDelays()).toEqual([]);
  });

  it("backs off after failures, reports each, and starts over after a success", async () => {
    const clock = new ManualClock();
    const outcomes = [false, false, false, false, true, false];
    const failures: number[] = [];
    let passes = 0;
    const loop = startRetryLoop(
      () => (outcomes[passes++] === true ? Promise.resolve(5_000) : Promise.reject(new Error("down"))),
      { clock, backoff, random: () => 0, onFailure: (_error, inRow) => failures.push(inRow) },
    );
    const waits: number[] = [];
    for (let step = 0; step < 6; step++) {
      await settled();
      const [delay] = clock.pendingDelays();
      waits.push(delay ?? -1);
      clock.advance(delay ?? 0);
    }
    await loop.stop();
    expect(waits).toEqual([100, 200, 400, 400, 5_000, 100]);
    expect(failures).toEqual([1, 2, 3, 4, 1]);
  });

  it("cancels the pass in flight on stop and runs nothing more", async () => {
    const clock = new ManualClock();
    let aborted = false;
    let passes = 0;
    const loop = startRetryLoop(
      (signal) =>
        new Promise<number>((_resolve, reject) => {
          passes++;
          signal.addEventListener("abort", () => {
            aborted = true;
            reject(new Error("aborted"));
          });
        }),
      {
        clock,
        backoff,
        random: () => 0,
        onFailure: () => expect.unreachable("a stopped loop reports nothing"),
      },
    );
    await settled();
    await loop.stop();
    expect(aborted).toBe(true);
    expect(clock.pendingDelays()).toEqual([]);
    clock.advance(10_000);
    expect(passes).toBe(1);
  });
});
