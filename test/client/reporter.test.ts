// Proves the worker's batched reports against fake juno nodes, the clock in the test's hands:
// handlers that finish together are reported in one POST /tasks/report, sent once the injected
// timers say so; each report in it is settled on its own (a stale one as stale while the others
// complete); a batch whose answer was lost is sent again and its completion taken once, its failure
// found on the task; a batch that fails whole is retried report by report with backoff and lands
// together again; a batch refused whole goes again report by report through /complete and /fail;
// a juno without the route gets every report through those from then on, and one older than
// `take` gets the batch again without it; stop() waits for a
// queued report; and a batch keeps to the server's bounds (256 reports, well under its bytes, one
// agent, each task once), leaving the rest for the next.

import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  Agent,
  JunoClient,
  type AgentOptions,
  type JunoClientOptions,
  type TaskDelivery,
  type TaskEvent,
} from "../../src/client/index.js";
import {
  REPORT_BATCH_BYTES_MAX,
  REPORT_LINGER_MS,
  Reporter,
  type AttemptReport,
} from "../../src/client/reporter.js";
import type { ReportTasksRequest, ReportTasksResponse } from "../../src/client/types.js";
import { FakeCluster, type RecordedRequest } from "./fake-juno.js";
import { ManualTimers } from "./manual-timers.js";

let cluster: FakeCluster;
let timers: ManualTimers;
const agents: Agent[] = [];

beforeEach(async () => {
  cluster = await FakeCluster.start(2);
  timers = new ManualTimers();
});
afterEach(async () => {
  let stopped = false;
  const stopping = Promise.all(agents.splice(0).map((agent) => agent.stop())).then(() => (stopped = true));
  // A report still queued waits for its flush, and a drain for its timeout, on the test's clock.
  for (let round = 0; round < 400 && !stopped; round++) {
    timers.advance(500);
    await macrotask();
  }
  await stopping;
  await cluster.close();
});

/** A client of the fake cluster whose own backoff waits are immediate and whose timeouts are on `timers`. */
function client(options: Partial<JunoClientOptions> = {}): JunoClient {
  return new JunoClient({
    urls: cluster.urls,
    timers,
    random: () => 0.5,
    sleep: () => Promise.resolve(),
    ...options,
  });
}

/**
 * A started pull agent of capacity 4 whose "work" handler waits for `gate` (or, for a task whose
 * data names one, for `gates[name]`), then fails with `data.fail` when given, else returns `{done: id}`.
 */
async function worker(
  gate: Promise<void>,
  options: Partial<AgentOptions> = {},
  gates: Readonly<Record<string, Promise<void>>> = {},
): Promise<{ agent: Agent; id: string; events: TaskEvent[] }> {
  const agent = new Agent({
    client: client(),
    name: `reporter-${agents.length}`,
    endpoint: "http://127.0.0.1:9/reporter",
    team: "build",
    skills: ["work"],
    capacity: 4,
    healthCheck: { type: "none" },
    pollWaitMs: 1_000,
    busyPollWaitMs: 1_000,
    timers,
    random: () => 0.5,
    ...options,
  });
  agents.push(agent);
  const events: TaskEvent[] = [];
  agent.on("task", (event) => events.push(event));
  agent.handle("work", async (task) => {
    const data = task.data as { fail?: string; gate?: string };
    await (data.gate === undefined ? gate : gates[data.gate]);
    if (data.fail !== undefined) throw new Error(data.fail);
    return { done: task.id };
  });
  const view = await agent.start();
  return { agent, id: view?.id ?? "", events };
}

/** A delivery as a poll hands it out. */
function delivery(fields: Partial<TaskDelivery> = {}): TaskDelivery {
  return {
    id: randomUUID(),
    attempt: 1,
    task_type: "work",
    priority: 5,
    team: "web",
    data: {},
    timeout_ms: null,
    workflow_id: null,
    max_attempts: 3,
    ...fields,
  };
}

/** Assigns `tasks` to the agent and waits until every one has started. */
async function run(
  agentId: string,
  events: readonly TaskEvent[],
  tasks: readonly TaskDelivery[],
): Promise<void> {
  for (const task of tasks) cluster.registry.assign(agentId, task);
  await eventually("every task started", () =>
    tasks.every((task) => outcome(events, task.id) !== undefined) ? true : undefined,
  );
}

/** Lets every handler settle and its report queue (a macrotask), then fires the pending flush. */
async function flush(): Promise<void> {
  await macrotask();
  const linger = await timers.waitForTimer(isLinger);
  timers.fire(linger.id);
}

function isLinger(timer: { readonly delayMs: number }): boolean {
  return timer.delayMs === REPORT_LINGER_MS;
}

/** The path a fetch goes to. */
function pathOf(input: Parameters<typeof fetch>[0]): string {
  return new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url).pathname;
}

function macrotask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5));
}

/** Waits until `probe` gives a value, checking every 5 ms, or fails after 5 s naming `what`. */
async function eventually<T>(what: string, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** How the attempt ended as the agent's events tell, or "started" while it runs, or undefined. */
function outcome(events: readonly TaskEvent[], id: string): string | undefined {
  return events.filter((event) => event.id === id).at(-1)?.outcome;
}

/** Waits until every task in `ids` has ended, and gives their outcomes in that order. */
function ended(events: readonly TaskEvent[], ids: readonly string[]): Promise<string[]> {
  return eventually("every report settled", () => {
    const outcomes = ids.map((id) => outcome(events, id) ?? "none");
    return outcomes.every((value) => value !== "started" && value !== "none") ? outcomes : undefined;
  });
}

/** The report requests the fake nodes saw, all nodes together, in no particular order between nodes. */
function reportRequests(): RecordedRequest[] {
  return cluster.nodes.flatMap((node) =>
    node.requests.filter((request) =>
      /\/api\/v3\/tasks\/(report|[^/]+\/(complete|fail))$/.test(request.path),
    ),
  );
}

/** The paths of the report requests, ids left out, in order of name: the reports sent alone go concurrently. */
function reportPaths(): string[] {
  return reportRequests()
    .map((request) => request.path.replace(/[0-9a-f-]{36}/, "{id}"))
    .sort();
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe("batching", () => {
  it("reports handlers that finish together in one request, sent when the injected timers say", async () => {
    const release = gate();
    const { id, events } = await worker(release.promise);
    const tasks = [delivery(), delivery(), delivery()];
    await run(id, events, tasks);
    release.open();
    await macrotask();
    // Nothing goes before the flush's timer fires: the clock is the test's.
    expect(reportRequests()).toEqual([]);
    await flush();
    expect(
      await ended(
        events,
        tasks.map((task) => task.id),
      ),
    ).toEqual(["completed", "completed", "completed"]);
    expect(reportRequests().map((request) => request.path)).toEqual(["/api/v3/tasks/report"]);
    // It takes the agent's next work too: the three slots it frees (the fourth is the poll's).
    expect(cluster.registry.batches).toEqual([
      {
        agent_id: id,
        completed: tasks.map((task) => ({ id: task.id, attempt: 1, result: { done: task.id } })),
        failed: [],
        take: 3,
      },
    ]);
    expect(cluster.registry.reports.map((report) => report.id)).toEqual(tasks.map((task) => task.id));
  });

  it("puts completions first and failures after, each with its error and retryable", async () => {
    const release = gate();
    const { id, events } = await worker(release.promise);
    const failing = delivery({ data: { fail: "disk full" } });
    const passing = delivery();
    await run(id, events, [failing, passing]);
    release.open();
    await flush();
    expect(await ended(events, [failing.id, passing.id])).toEqual(["failed", "completed"]);
    expect(cluster.registry.batches).toEqual([
      {
        agent_id: id,
        completed: [{ id: passing.id, attempt: 1, result: { done: passing.id } }],
        failed: [{ id: failing.id, attempt: 1, error: "disk full", retryable: true }],
        take: 2,
      },
    ]);
  });

  it("settles a stale report in a batch as stale while the others complete", async () => {
    const release = gate();
    const { id, events } = await worker(release.promise);
    const tasks = [delivery(), delivery(), delivery()];
    await run(id, events, tasks);
    const moved = tasks[1]?.id ?? "";
    // The attempt moved on, and no poll or beat has told the agent yet.
    cluster.registry.staleReports.add(`${moved}#1`);
    release.open();
    await flush();
    expect(
      await ended(
        events,
        tasks.map((task) => task.id),
      ),
    ).toEqual(["completed", "stale", "completed"]);
    expect(events.find((event) => event.id === moved && event.outcome === "stale")?.detail).toMatch(
      /no longer current/,
    );
    expect(cluster.registry.batches).toHaveLength(1);
    expect(cluster.registry.reports.map((report) => report.id)).toEqual([tasks[0]?.id, tasks[2]?.id]);
  });

  it("sends what finishes while a batch is out in the next one, at once when it is answered", async () => {
    const first = gate();
    const second = gate();
    const { id, events } = await worker(first.promise, {}, { second: second.promise });
    const early = delivery();
    const late = delivery({ data: { gate: "second" } });
    await run(id, events, [early, late]);
    cluster.node(0).when((request) => request.path.endsWith("/tasks/report"), { kind: "hang" }, 1);
    first.open();
    await flush();
    await eventually("the first batch reached node 0", () =>
      cluster.node(0).requests.some((request) => request.path === "/api/v3/tasks/report") ? true : undefined,
    );
    // The first batch hangs on node 0 until its attempt times out; the late task finishes meanwhile.
    second.open();
    await macrotask();
    expect(timers.pending().filter(isLinger)).toEqual([]);
    const timeout = await timers.waitForTimer((timer) => timer.delayMs === 10_000);
    timers.fire(timeout.id);
    expect(await ended(events, [early.id, late.id])).toEqual(["completed", "completed"]);
    // The first batch again (on node 1), then the late one, sent without a flush timer.
    expect(cluster.registry.batches.map((batch) => batch["completed"])).toEqual([
      [{ id: early.id, attempt: 1, result: { done: early.id } }],
      [{ id: late.id, attempt: 1, result: { done: late.id } }],
    ]);
  });
});

describe("lost answers and failures", () => {
  it("sends a batch whose answer was lost again: its completion is taken once, its failure found on the task", async () => {
    let dropped = 0;
    const dropping: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const text = await response.text();
      if (dropped === 0 && pathOf(input).endsWith("/tasks/report")) {
        dropped++;
        const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
        throw new TypeError("fetch failed", { cause: reset });
      }
      return new Response(text, { status: response.status, headers: response.headers });
    };
    const release = gate();
    const { id, events } = await worker(release.promise, { client: client({ fetch: dropping }) });
    const passing = delivery();
    const failing = delivery({ data: { fail: "no luck" } });
    await run(id, events, [passing, failing]);
    release.open();
    await flush();
    expect(await ended(events, [passing.id, failing.id])).toEqual(["completed", "failed"]);
    expect(dropped).toBe(1);
    // Sent twice, taken once each; the failure, refused as stale the second time, was read back.
    expect(cluster.registry.batches).toHaveLength(2);
    expect(cluster.registry.reports.map((report) => `${report.verb} ${report.id}`)).toEqual([
      `complete ${passing.id}`,
      `fail ${failing.id}`,
    ]);
    const reads = cluster.nodes
      .flatMap((node) => node.requests)
      .filter((request) => request.method === "GET");
    expect(reads.map((request) => request.path)).toEqual([`/api/v3/tasks/${failing.id}`]);
  });

  it("retries each report of a batch that failed whole with backoff, and they land together again", async () => {
    const release = gate();
    const agentClient = client({ retry: { maxAttempts: 2 } });
    const { id, events } = await worker(release.promise, { client: agentClient });
    const errors: unknown[] = [];
    agents[0]?.on("error", ({ error, during }) => {
      if (during === "report") errors.push(error);
    });
    const tasks = [delivery(), delivery()];
    await run(id, events, tasks);
    for (const node of cluster.nodes) {
      node.when(
        (request) => request.path.endsWith("/tasks/report"),
        {
          kind: "refuse",
          status: 503,
          code: "no_leader",
        },
        1,
      );
    }
    release.open();
    await flush();
    // Each report backs off on its own: half (random 0.5) of the first 500 ms cap.
    await eventually("both reports back off", () =>
      timers.pending().filter((timer) => timer.delayMs === 250).length === 2 ? true : undefined,
    );
    expect(errors).toHaveLength(2);
    expect(errors).toMatchObject([{ code: "no_leader" }, { code: "no_leader" }]);
    timers.advance(250);
    await flush();
    expect(
      await ended(
        events,
        tasks.map((task) => task.id),
      ),
    ).toEqual(["completed", "completed"]);
    expect(cluster.registry.batches).toHaveLength(1);
    expect(cluster.registry.batches[0]?.["completed"]).toHaveLength(2);
  });

  it("sends each report of a batch refused whole again alone, through /complete and /fail", async () => {
    const release = gate();
    const { id, events } = await worker(release.promise);
    const tasks = [delivery(), delivery({ data: { fail: "bad input" } })];
    await run(id, events, tasks);
    for (const node of cluster.nodes) {
      node.when(
        (request) => request.path.endsWith("/tasks/report"),
        { kind: "refuse", status: 413, code: "payload_too_large" },
        1,
      );
    }
    release.open();
    await flush();
    expect(
      await ended(
        events,
        tasks.map((task) => task.id),
      ),
    ).toEqual(["completed", "failed"]);
    expect(reportPaths()).toEqual([
      "/api/v3/tasks/report",
      "/api/v3/tasks/{id}/complete",
      "/api/v3/tasks/{id}/fail",
    ]);
    // The route is there: the next reports are batched again.
    const next = delivery();
    await run(id, events, [next]);
    await flush();
    expect(await ended(events, [next.id])).toEqual(["completed"]);
    expect(cluster.registry.batches).toHaveLength(1);
  });
});

describe("an older juno", () => {
  /**
   * Runs `tasks` on a new worker and lets them finish together, then one task more (its report
   * flushed by the linger timer when `flushLater`, else sent at once): both rounds' outcomes.
   */
  async function twoRounds(tasks: readonly TaskDelivery[], flushLater: boolean): Promise<string[][]> {
    const release = gate();
    const { id, events } = await worker(release.promise);
    await run(id, events, tasks);
    release.open();
    await flush();
    const first = await ended(
      events,
      tasks.map((task) => task.id),
    );
    const later = delivery();
    await run(id, events, [later]);
    if (flushLater) await flush();
    return [first, await ended(events, [later.id])];
  }

  it("gets the reports through /complete and /fail once /tasks/report answers 404, for good", async () => {
    cluster.registry.reportRoute = false;
    const rounds = await twoRounds([delivery(), delivery({ data: { fail: "nope" } })], false);
    expect(rounds).toEqual([["completed", "failed"], ["completed"]]);
    expect(reportPaths()).toEqual([
      "/api/v3/tasks/report",
      "/api/v3/tasks/{id}/complete",
      "/api/v3/tasks/{id}/complete",
      "/api/v3/tasks/{id}/fail",
    ]);
    expect(cluster.registry.reports.map((report) => report.verb).sort()).toEqual([
      "complete",
      "complete",
      "fail",
    ]);
  });

  it("gets a batch again without `take` when a juno older than it refuses the body, and takes nothing after", async () => {
    cluster.registry.takeOnReport = false;
    const rounds = await twoRounds([delivery(), delivery()], true);
    expect(rounds).toEqual([["completed", "completed"], ["completed"]]);
    // The refused batch, the same one again without take, and the later one: all batched.
    expect(reportPaths()).toEqual(["/api/v3/tasks/report", "/api/v3/tasks/report", "/api/v3/tasks/report"]);
    expect(
      cluster.registry.batches.map((batch) => [(batch["completed"] as unknown[]).length, batch["take"]]),
    ).toEqual([
      [2, undefined],
      [1, undefined],
    ]);
  });
});

describe("stopping", () => {
  it("waits for a queued report before it deregisters", async () => {
    const release = gate();
    const { agent, id, events } = await worker(release.promise);
    const task = delivery();
    await run(id, events, [task]);
    const stopped = agent.stop();
    release.open();
    await flush();
    expect(await stopped).toBe(true);
    expect(events.map((event) => event.outcome)).toEqual(["started", "completed"]);
    const paths = cluster.nodes
      .flatMap((node) => node.requests)
      .map((request) => `${request.method} ${request.path}`);
    expect(paths.indexOf("POST /api/v3/tasks/report")).toBeLessThan(
      paths.indexOf(`DELETE /api/v3/agents/${id}`),
    );
  });
});

describe("a batch's bounds", () => {
  /** A Reporter on a client that answers every report ok and records each request's body. */
  function stubbed(): { reporter: Reporter; requests: ReportTasksRequest[] } {
    const requests: ReportTasksRequest[] = [];
    const stub = {
      reportTasks: (request: ReportTasksRequest): Promise<ReportTasksResponse> => {
        requests.push(request);
        const items = [...(request.completed ?? []), ...(request.failed ?? [])];
        return Promise.resolve({
          results: items.map(({ id, attempt }) => ({ id, attempt, ok: true, status: "succeeded" })),
          tasks: [],
          resent: false,
        });
      },
    } as unknown as JunoClient;
    const reporter = new Reporter({ client: stub, timers, signal: new AbortController().signal });
    return { reporter, requests };
  }

  function report(fields: Partial<AttemptReport> = {}): AttemptReport {
    return {
      agentId: "agent-1",
      id: randomUUID(),
      attempt: 1,
      outcome: { ok: true, result: null, resultBytes: 4 },
      mayHaveLanded: false,
      ...fields,
    };
  }

  /** Sends `reports` together and fires the flush; resolves once every one has landed. */
  async function sendAll(reporter: Reporter, reports: readonly AttemptReport[]): Promise<void> {
    const landed = Promise.all(reports.map((one) => reporter.send(one)));
    timers.fire((await timers.waitForTimer(isLinger)).id);
    await landed;
  }

  function sizes(requests: readonly ReportTasksRequest[]): number[] {
    return requests.map((request) => (request.completed?.length ?? 0) + (request.failed?.length ?? 0));
  }

  it("carries at most 256 reports", async () => {
    const { reporter, requests } = stubbed();
    await sendAll(
      reporter,
      Array.from({ length: 300 }, () => report()),
    );
    expect(sizes(requests)).toEqual([256, 44]);
  });

  it("keeps well under the server's bytes: seven 64 KiB results at most", async () => {
    const { reporter, requests } = stubbed();
    const big = { ok: true as const, result: "x", resultBytes: 64 * 1024 };
    await sendAll(
      reporter,
      Array.from({ length: 10 }, () => report({ outcome: big })),
    );
    expect(sizes(requests)).toEqual([7, 3]);
    expect(7 * (64 * 1024 + 200)).toBeLessThan(REPORT_BATCH_BYTES_MAX);
  });

  it("names each task once and speaks for one agent", async () => {
    const { reporter, requests } = stubbed();
    const again = report();
    await sendAll(reporter, [
      report({ agentId: "agent-1" }),
      again,
      { ...again, attempt: 2 },
      report({ agentId: "agent-2" }),
    ]);
    expect(requests.map((request) => [request.agent_id, request.completed?.length])).toEqual([
      ["agent-1", 2],
      ["agent-1", 1],
      ["agent-2", 1],
    ]);
  });
});
