/**
 * `npx tsx bench/profile-top.ts <file.cpuprofile> [rows]`: the functions a V8 CPU profile spent
 * most time in, by self time and by inclusive time, with the share the process was idle. Pair it
 * with `JUNO_CPU_PROF_DIR=dir npm run bench:cluster`, which profiles every node of the run.
 */

import { frameLabel as label, loadProfile } from "./cpu-profile.js";

const [file, rowsText, skipText] = process.argv.slice(2);
if (file === undefined) {
  console.error("usage: profile-top <file.cpuprofile> [rows] [skip-first-ms]");
  process.exit(2);
}
/** Samples in the first this-many milliseconds (startup, compilation) are left out. */
const skipMs = Number(skipText ?? 0);
const rows = Number(rowsText ?? 25);
const profile = loadProfile(file);
const { byId, parent } = profile;
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
let idle = 0;
let elapsed = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  elapsed += dt;
  if (elapsed < skipMs * 1000) return;
  total += dt;
  const node = byId.get(id)!;
  const name = label(node);
  if (node.callFrame.functionName === "(idle)") idle += dt;
  self.set(name, (self.get(name) ?? 0) + dt);
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const each = label(byId.get(at)!);
    if (seen.has(each)) continue;
    seen.add(each);
    inclusive.set(each, (inclusive.get(each) ?? 0) + dt);
  }
});
const top = (map: Map<string, number>): string[] =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, rows)
    .map(
      ([name, us]) =>
        `${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`,
    );
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${((idle / total) * 100).toFixed(1)}% idle`);
console.log("\nself time:");
for (const line of top(self)) console.log(line);
console.log("\ninclusive time:");
for (const line of top(inclusive)) console.log(line);
