/**
 * Watches the event loop for blocks: a timer that should fire every `intervalMs` and a warning
 * whenever it fired `thresholdMs` or more late. Long blocks make a node miss heartbeats and hold
 * every request waiting; an operator should see them, as etcd warns of slow applies. The warning
 * says how much time the garbage collector took and how much CPU the process used over a window
 * (`cpuWindowMs`) that holds the gap: about the whole gap means this process was busy;
 * much less means the machine did not run it. The CPU clock is read every CPU_SAMPLE_TICKS ticks
 * and after each block, not on every tick: reading it is a system call, and at 50 a second it
 * cost a busy node more than 1% of its CPU.
 */

import { PerformanceObserver } from "node:perf_hooks";
import type { Logger } from "./logger.js";

/** Ticks between readings of the process's CPU clock. */
const CPU_SAMPLE_TICKS = 5;

/** Starts watching; returns the function that stops it. */
export function monitorEventLoop(log: Logger, thresholdMs = 50, intervalMs = 20): () => void {
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let lastCpuAt = last;
  let ticks = 0;
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
    const blockedMs = now - last - intervalMs;
    last = now;
    const blocked = blockedMs >= thresholdMs;
    if (!blocked && ++ticks < CPU_SAMPLE_TICKS) return;
    ticks = 0;
    const cpu = process.cpuUsage();
    if (blocked) {
      const cpuMs = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
      log.warn(
        {
          blockedMs: Math.round(blockedMs),
          gcMs: Math.round(gcMs),
          gcLongestMs: Math.round(gcLongestMs),
          cpuMs: Math.round(cpuMs),
          cpuWindowMs: Math.round(now - lastCpuAt),
        },
        "event loop blocked",
      );
    }
    lastCpu = cpu;
    lastCpuAt = now;
    gcMs = 0;
    gcLongestMs = 0;
  }, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    gc.disconnect();
  };
}
