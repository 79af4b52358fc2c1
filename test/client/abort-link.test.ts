// Proves linkAbort, which ties each request's controller to an agent's long-lived stop signal:
// a parent's abort reaches every controller still linked (with its reason) and none unlinked,
// an already aborted parent aborts at once, and however many are linked, over however many
// calls, the parent carries one listener (AbortSignal.any leaks per call on Node 20). And the
// AbortHandle a request carries instead of an AbortController: its listeners hear one abort, with
// its reason, a removed one none; a parent's abort reaches it through linkAbort; its signal()
// follows it whether made before or after.

import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { AbortHandle, linkAbort } from "../../src/client/timers.js";

describe("linkAbort", () => {
  it("aborts the linked controllers with the parent's reason, and not the unlinked ones", () => {
    const parent = new AbortController();
    const kept = new AbortController();
    const gone = new AbortController();
    linkAbort(parent.signal, kept);
    const unlink = linkAbort(parent.signal, gone);
    unlink();
    const reason = new Error("draining");
    parent.abort(reason);
    expect(kept.signal.aborted).toBe(true);
    expect(kept.signal.reason).toBe(reason);
    expect(gone.signal.aborted).toBe(false);
  });

  it("aborts at once when the parent already has", () => {
    const parent = new AbortController();
    parent.abort(new Error("stopped"));
    const child = new AbortController();
    linkAbort(parent.signal, child)();
    expect(child.signal.aborted).toBe(true);
    expect((child.signal.reason as Error).message).toBe("stopped");
  });

  it("keeps one listener on the parent however many calls link to it", () => {
    const parent = new AbortController();
    const open = Array.from({ length: 50 }, () => linkAbort(parent.signal, new AbortController()));
    for (let i = 0; i < 10_000; i++) linkAbort(parent.signal, new AbortController())();
    expect(getEventListeners(parent.signal, "abort")).toHaveLength(1);
    for (const unlink of open) unlink();
    expect(getEventListeners(parent.signal, "abort")).toHaveLength(1);
  });

  it("aborts an AbortHandle as it would a controller, and its signal() follows it", () => {
    const parent = new AbortController();
    const handle = new AbortHandle();
    const heard: unknown[] = [];
    const removed = () => heard.push("removed");
    handle.addEventListener("abort", () => heard.push(handle.reason));
    handle.addEventListener("abort", removed);
    handle.removeEventListener("abort", removed);
    const before = handle.signal();
    linkAbort(parent.signal, handle);
    const reason = new Error("stopping");
    parent.abort(reason);
    handle.abort(new Error("twice"));
    expect(handle.aborted).toBe(true);
    expect(heard).toEqual([reason]);
    expect(before.aborted).toBe(true);
    expect(before.reason).toBe(reason);
    const after = handle.signal();
    expect(after.aborted).toBe(true);
    expect(after.reason).toBe(reason);
    // A listener added once it has fired is never called; an abort without a reason names one.
    handle.addEventListener("abort", () => heard.push("late"));
    expect(heard).toHaveLength(1);
    const bare = new AbortHandle();
    bare.abort();
    expect((bare.reason as DOMException).name).toBe("AbortError");
  });
});
