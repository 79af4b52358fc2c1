/**
 * A real agent process built on the SDK (juno/client's Agent): it serves /health and an echo
 * route, registers with every juno URL it is given, beats on schedule across node failures, runs
 * "work" tasks, and deregisters on SIGTERM. A task sleeps data.ms, or data.first_attempt_ms on its
 * first attempt when given (a task that stalls the first agent to take it, for a test to kill).
 * Prints `registered <id>` once registered and `completed <task> <attempt>` for every completion
 * juno acknowledged; every other outcome of an attempt is a line `<outcome> <task> <attempt>` too
 * (started, failed, cancelled, stale, interrupted, unreported), so a test knows what an agent is
 * running when it kills it.
 *
 *   npx tsx test/chaos/agent-process.ts --name a1 --urls http://127.0.0.1:8080,... [--skill echo] [--capacity 4]
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { Agent } from "../../src/client/index.js";

const { values } = parseArgs({
  options: {
    name: { type: "string" },
    urls: { type: "string" },
    team: { type: "string", default: "chaos" },
    skill: { type: "string", default: "echo" },
    capacity: { type: "string", default: "4" },
  },
});
if (values.name === undefined || values.urls === undefined) {
  console.error("usage: agent-process --name NAME --urls URL[,URL...]");
  process.exit(2);
}
const name = values.name;
const capacity = Number(values.capacity);
if (!Number.isInteger(capacity) || capacity < 1) {
  console.error(`--capacity must be a whole number >= 1, got ${values.capacity}`);
  process.exit(2);
}

const server = createServer((request, response) => {
  response.writeHead(200, { "content-type": "application/json" });
  response.end(JSON.stringify({ agent: name, path: request.url }));
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const agent = new Agent({
  urls: values.urls.split(","),
  ...(process.env["JUNO_API_TOKEN"] === undefined ? {} : { token: process.env["JUNO_API_TOKEN"] }),
  name,
  endpoint,
  team: values.team,
  skills: [values.skill],
  capacity,
  healthCheck: { type: "http" },
});
agent.handle("work", async (task, { signal }) => {
  const data = task.data as { ms?: unknown; first_attempt_ms?: unknown } | null;
  const waitMs =
    task.attempt === 1 && typeof data?.first_attempt_ms === "number"
      ? data.first_attempt_ms
      : typeof data?.ms === "number"
        ? data.ms
        : 50;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, waitMs);
    signal.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason as Error)), {
      once: true,
    });
  });
  return { by: name };
});
agent.on("task", (event) => console.log(`${event.outcome} ${event.id} ${event.attempt}`));
agent.on("error", ({ error, during }) => {
  if (process.env["AGENT_DEBUG"] !== undefined) console.error(`${name}: ${during}: ${String(error)}`);
});
const view = await agent.start();
if (view !== null) console.log(`registered ${view.id}`);

let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  void agent.stop().finally(() => {
    server.close();
    process.exit(0);
  });
});
