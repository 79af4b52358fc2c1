// Proves that the publisher hands each snapshot over at once and again every interval while it is
// fresh, stops repeating after a failure until the next snapshot, keeps repeating after a partial
// warning, and calls nothing after stop.

import { describe, expect, it } from "vitest";
import { COMPLETE_SNAPSHOT, SnapshotPublisher } from "../../src/discovery/index.js";
import { ManualClock } from "./manual-clock.js";
import { Recorder } from "./recorder.js";

describe("SnapshotPublisher", () => {
  it("repeats a fresh snapshot every interval", () => {
    const clock = new ManualClock();
    const recorder = new Recorder();
    const publisher = new SnapshotPublisher(recorder.handlers, clock, 1_000);
    publisher.publish([], COMPLETE_SNAPSHOT);
    expect(recorder.snapshots).toHaveLength(1);
    clock.advance(3_500);
    expect(recorder.snapshots).toHaveLength(4);
    // A new snapshot restarts the interval.
    publisher.publish([], { unreadable: ["x"] });
    clock.advance(999);
    expect(recorder.snapshots).toHaveLength(5);
    expect(recorder.snapshots.at(-1)?.details.unreadable).toEqual(["x"]);
  });

  it("stops repeating after a failure, until the next snapshot", () => {
    const clock = new ManualClock();
    const recorder = new Recorder();
    const publisher = new SnapshotPublisher(recorder.handlers, clock, 1_000);
    publisher.publish([], COMPLETE_SNAPSHOT);
    publisher.fail(new Error("down"));
    clock.advance(10_000);
    expect(recorder.snapshots).toHaveLength(1);
    expect(recorder.errors).toHaveLength(1);
    publisher.publish([], COMPLETE_SNAPSHOT);
    clock.advance(1_000);
    expect(recorder.snapshots).toHaveLength(3);
  });

  it("keeps repeating after a warning about one part", () => {
    const clock = new ManualClock();
    const recorder = new Recorder();
    const publisher = new SnapshotPublisher(recorder.handlers, clock, 1_000);
    publisher.publish([], COMPLETE_SNAPSHOT);
    publisher.warn(new Error("one part failed"));
    clock.advance(1_000);
    expect(recorder.snapshots).toHaveLength(2);
    expect(recorder.errors).toHaveLength(1);
  });

  it("calls nothing after stop", () => {
    const clock = new ManualClock();
    const recorder = new Recorder();
    const publisher = new SnapshotPublisher(recorder.handlers, clock, 1_000);
    publisher.publish([], COMPLETE_SNAPSHOT);
    publisher.stop();
    publisher.publish([], COMPLETE_SNAPSHOT);
    publisher.fail(new Error("late"));
    publisher.invalid({ source: "dns", key: "k", reason: "r" });
    clock.advance(10_000);
    expect(recorder.snapshots).toHaveLength(1);
    expect(recorder.errors).toHaveLength(0);
    expect(recorder.invalid).toHaveLength(0);
  });

  it("refuses an interval that would flood the handlers", () => {
    expect(() => new SnapshotPublisher(new Recorder().handlers, new ManualClock(), 1)).toThrow(RangeError);
  });
});
