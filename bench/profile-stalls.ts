/**
 * `npx tsx bench/profile-stalls.ts <file.cpuprofile> [min-ms] [frames]`: the stretches of a V8
 * CPU profile where the main thread never went idle for at least min-ms (50 by default), each
 * with when it began, how long it ran, its share of garbage collection, and the functions it
 * spent its time in (inclusive), so a loop stall can be put down to the code that held it rather
 * than guessed at. Pair it with `JUNO_CPU_PROF_DIR=dir npm run bench:snapshot`.
 *
 * Under heavy load the loop runs task after task with no idle sample between them, so a stretch
 * can be several tasks back to back; the light loads the benches use while they watch for stalls
 * leave idle gaps between tasks.
 */

import { frameLabel as label, loadProfile } from "./cpu-profile.js";

const [file, minText, framesText] = process.argv.slice(2);
if (file === undefined) {
  console.error("usage: profile-stalls <file.cpuprofile> [min-ms] [frames]");
  process.exit(2);
}
const minUs = Number(minText ?? 50) * 1000;
const frames = Number(framesText ?? 8);
const profile = loadProfile(file);
const { byId, parent } = profile;

interface Stretch {
  readonly startUs: number;
  durationUs: number;
  gcUs: number;
  readonly inclusive: Map<string, number>;
}

const stretches: Stretch[] = [];
let current: Stretch | null = null;
let at = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  at += dt;
  const node = byId.get(id)!;
  if (node.callFrame.functionName === "(idle)") {
    if (current !== null && current.durationUs >= minUs) stretches.push(current);
    current = null;
    return;
  }
  current ??= { startUs: at, durationUs: 0, gcUs: 0, inclusive: new Map() };
  current.durationUs += dt;
  if (node.callFrame.functionName === "(garbage collector)") current.gcUs += dt;
  const seen = new Set<string>();
  for (let up: number | undefined = id; up !== undefined; up = parent.get(up)) {
    const name = label(byId.get(up)!);
    if (seen.has(name)) continue;
    seen.add(name);
    current.inclusive.set(name, (current.inclusive.get(name) ?? 0) + dt);
  }
});
const last = current as Stretch | null;
if (last !== null && last.durationUs >= minUs) stretches.push(last);

const ms = (us: number): string => `${(us / 1000).toFixed(0)} ms`;
console.log(
  `${file}: ${stretches.length} stretches of ${ms(minUs)} or more without an idle sample (${(at / 1e6).toFixed(1)} s profiled)`,
);
for (const stretch of stretches) {
  console.log(
    `\nat ${(stretch.startUs / 1e6).toFixed(2)} s: ${ms(stretch.durationUs)}, ${ms(stretch.gcUs)} of it garbage collection`,
  );
  const top = [...stretch.inclusive]
    .filter(([name]) => !name.startsWith("(root)"))
    .sort((a, b) => b[1] - a[1])
    .slice(0, frames);
  for (const [name, us] of top) console.log(`  ${ms(us).padStart(7)}  ${name}`);
}
