/**
 * Watches the event loop for blocks: a timer that should fire every `intervalMs` and a warning
 * whenever it fired `thresholdMs` or more late. Long blocks make a node miss heartbeats and hold
 * every request waiting; an operator should see them, as etcd warns of slow applies. The warning
 * says how much of the gap the garbage collector took and how much CPU the process used: about
 * the whole gap means this process was busy; much less means the machine did not run it.
 */

import { PerformanceObserver } from "node:perf_hooks";
import type { Logger } from "./logger.js";

/** Starts watching; returns the function that stops it. */
export function monitorEventLoop(log: Logger, thresholdMs = 50, intervalMs = 20): () => void {
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let gcMs = 0;
  let gcLongestMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcMs += entry.duration;
      gcLongestMs = Math.max(gcLongestMs, entry.duration);
    }
  });
  gc.observe({ entryTypes: ["gc"] });
  const timer = setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    const blockedMs = now - last - intervalMs;
    if (blockedMs >= thresholdMs) {
      const cpuMs = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
      log.warn(
        {
          blockedMs: Math.round(blockedMs),
          gcMs: Math.round(gcMs),
          gcLongestMs: Math.round(gcLongestMs),
          cpuMs: Math.round(cpuMs),
        },
        "event loop blocked",
      );
    }
    last = now;
    lastCpu = cpu;
    gcMs = 0;
    gcLongestMs = 0;
  }, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    gc.disconnect();
  };
}
