/** What the benches read of their processes from /proc: CPU time and resident memory. */

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

/** CPU time a process has used so far (user + system), in seconds; NaN when it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which may itself hold spaces: utime is field 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** Measures the CPU of some processes between construction and `percentages()`, as % of one core. */
export class CpuMeter {
  private readonly before: number[];
  private readonly startedMs = performance.now();

  constructor(private readonly pids: readonly (number | undefined)[]) {
    this.before = pids.map(cpuSeconds);
  }

  percentages(): number[] {
    const seconds = (performance.now() - this.startedMs) / 1000;
    return this.pids.map((pid, i) => ((cpuSeconds(pid) - this.before[i]!) / seconds) * 100);
  }
}

/** Resident memory of a process in MB; NaN when it is gone. */
export function rssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
    return kb / 1024;
  } catch {
    return NaN;
  }
}
