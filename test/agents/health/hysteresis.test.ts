// Proves the hysteresis every signal stream shares: the first bad signal warns, only a full run of
// fails makes a stream critical and only a full run of passes clears it; a warning resets both runs;
// the first sign of life lifts a critical stream to warning; and the thresholds must be at least 1.

import { describe, expect, it } from "vitest";
import { SignalTrack, type Signal } from "../../../src/agents/health/index.js";

const THRESHOLDS = { successBeforePassing: 2, failuresBeforeCritical: 3 };

/** The level after each signal of `signals`, from a passing stream. */
function levels(signals: readonly Signal[], start: "passing" | "warning" | "critical" = "passing"): string[] {
  const track = new SignalTrack(THRESHOLDS, start);
  return signals.map((signal) => track.observe(signal));
}

describe("signal hysteresis", () => {
  it("warns on the first failure and is critical only after failuresBeforeCritical in a row", () => {
    expect(levels(["fail", "fail", "fail", "fail"])).toEqual(["warning", "warning", "critical", "critical"]);
  });

  it("restarts the run of failures after a pass or a warning", () => {
    expect(levels(["fail", "fail", "pass", "fail", "fail"])).toEqual([
      "warning",
      "warning",
      "warning",
      "warning",
      "warning",
    ]);
    expect(levels(["fail", "fail", "warn", "fail", "fail", "fail"]).at(-1)).toBe("critical");
    expect(levels(["fail", "fail", "warn", "fail", "fail"]).at(-1)).toBe("warning");
  });

  it("passes again only after successBeforePassing passes in a row", () => {
    expect(levels(["warn", "pass", "pass"])).toEqual(["warning", "warning", "passing"]);
    expect(levels(["warn", "pass", "warn", "pass", "pass"])).toEqual([
      "warning",
      "warning",
      "warning",
      "warning",
      "passing",
    ]);
  });

  it("lifts a critical stream to warning at its first pass or warning, and to passing after the run", () => {
    expect(levels(["pass", "pass"], "critical")).toEqual(["warning", "passing"]);
    expect(levels(["warn"], "critical")).toEqual(["warning"]);
    expect(levels(["fail"], "critical")).toEqual(["critical"]);
  });

  it("never flaps when signals alternate", () => {
    const alternating = Array.from({ length: 50 }, (_, i): Signal => (i % 2 === 0 ? "fail" : "pass"));
    expect(new Set(levels(alternating))).toEqual(new Set(["warning"]));
  });

  it("counts runs", () => {
    const track = new SignalTrack(THRESHOLDS);
    track.observe("fail");
    track.observe("fail");
    expect([track.consecutiveFailures(), track.consecutiveSuccesses()]).toEqual([2, 0]);
    track.observe("pass");
    expect([track.consecutiveFailures(), track.consecutiveSuccesses()]).toEqual([0, 1]);
  });

  it("refuses thresholds below 1", () => {
    expect(() => new SignalTrack({ successBeforePassing: 0, failuresBeforeCritical: 3 })).toThrow();
    expect(() => new SignalTrack({ successBeforePassing: 2, failuresBeforeCritical: 0 })).toThrow();
  });
});
