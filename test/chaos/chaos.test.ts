// Runs each chaos script in --quick mode as its own process and expects it to exit 0: a leader
// cut off by a network partition, nodes killed, paused and stopped under load, and a 10x load
// spike, and real agent processes killed and paused (with the juno leader) without a false positive
// and with every task they run ending completed exactly once.
// The scripts print what they did and the figures they saw; a failure shows that output.

import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nodeArgsFor } from "../support/compiled.js";

function runQuick(script: string, limitMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeArgsFor(join(import.meta.dirname, script)), "--quick"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    // The scripts bound themselves; this is a last resort (SIGTERM lets them stop their nodes).
    const timer = setTimeout(() => child.kill("SIGTERM"), limitMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe("chaos scripts (--quick)", () => {
  const limits: Record<string, number> = { "agent_failure.ts": 80_000, "node_failure.ts": 80_000 };
  for (const script of ["network_partition.ts", "node_failure.ts", "load_spike.ts", "agent_failure.ts"]) {
    const limitMs = limits[script] ?? 55_000;
    it(`${script} holds its expectations`, { timeout: limitMs + 5_000 }, async () => {
      const { code, output } = await runQuick(script, limitMs);
      expect(code, output).toBe(0);
    });
  }
});
