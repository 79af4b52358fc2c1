// A runnable juno agent: it registers with the skills "echo" and "sleep", runs the tasks of those
// types that juno places on it (up to AGENT_CAPACITY at once), and on SIGTERM or Ctrl-C drains:
// no new task is placed on it, the running ones finish (a second signal cuts them short), then it
// deregisters. Run `npm run build` first; see README.md here.
//
//   node examples/agent.mjs          pulls its work: it long-polls juno, so its endpoint is never
//                                    called and it has no health check beyond its heartbeats
//   node examples/agent.mjs --push   juno's leader pushes its work: it listens on AGENT_HOST:AGENT_PORT,
//                                    registers delivery "push" (juno POSTs to {endpoint}/juno/tasks),
//                                    and serves {endpoint}/health for juno's http health check
//
//   JUNO_URL        node base URLs, comma-separated (default http://127.0.0.1:8080)
//   JUNO_API_TOKEN  the cluster's API token, as `juno dev` prints it
//   AGENT_NAME, AGENT_TEAM, AGENT_CAPACITY
//   AGENT_HOST, AGENT_PORT  with --push: the address juno reaches it at (default 127.0.0.1:9000)

/* global process, console, setTimeout, clearTimeout */

import { Agent, NonRetryableError } from "juno/client";

const urls = (process.env.JUNO_URL ?? "http://127.0.0.1:8080")
  .split(",")
  .map((url) => url.trim())
  .filter((url) => url !== "");
const name = process.env.AGENT_NAME ?? `example-agent-${process.pid}`;
const push = process.argv.includes("--push");
const host = process.env.AGENT_HOST ?? "127.0.0.1";
const port = Number(process.env.AGENT_PORT ?? "9000");

const agent = new Agent({
  urls,
  ...(process.env.JUNO_API_TOKEN ? { token: process.env.JUNO_API_TOKEN } : {}),
  name,
  team: process.env.AGENT_TEAM ?? "examples",
  skills: ["echo", "sleep"],
  capacity: Number(process.env.AGENT_CAPACITY ?? "4"),
  drainTimeoutMs: 10_000,
  ...(push
    ? { endpoint: `http://${host}:${port}`, delivery: "push", healthCheck: { type: "http" } }
    : { endpoint: `http://127.0.0.1/agents/${name}`, healthCheck: { type: "none" } }),
});

// "echo": the result is the task's data.
agent.handle("echo", (task) => task.data);

// "sleep": waits data.ms milliseconds, or until the task is cancelled or the agent stops.
agent.handle("sleep", async (task, { signal }) => {
  const ms = task.data?.ms;
  if (!Number.isInteger(ms) || ms < 0 || ms > 3_600_000) {
    // Retrying cannot fix bad input: the task fails at once.
    throw new NonRetryableError(`sleep needs data {"ms": 0..3600000}, got ${JSON.stringify(task.data)}`);
  }
  await new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
  return { slept_ms: ms };
});

agent.on("registered", ({ agent: view }) => log("registered", { id: view.id, name: view.name }));
agent.on("task", (event) => log("task", event));
agent.on("error", ({ error, during }) =>
  log("error", { during, code: error?.code, message: error?.message }),
);
agent.stopOnSignals({ onStopped: (deregistered) => log("stopped", { deregistered }) });

if (push) {
  // Listening before registering: juno may push the moment the registration commits. The server
  // answers 503 draining once the agent stops, and closes after it has deregistered.
  const url = await agent.listen({ port, host });
  log("listening", { url, delivery_url: agent.deliveryUrl });
}
await agent.start();

function log(event, fields) {
  console.log(JSON.stringify({ time: new Date().toISOString(), event, ...fields }));
}
