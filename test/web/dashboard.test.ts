// Proves the dashboard works in a real browser against a real three-node cluster (in-process
// nodes with HTTP servers, SDK agents of three teams doing the work): it asks for the token once,
// each view loads and shows data, and live changes appear without a reload: an agent registers and
// its row appears, workflow steps finish and their DAG nodes change status, an event and a cancel
// sent from the page take effect; and when the node serving the page (the leader) is killed, the
// page reconnects to another member, shows the new leader and keeps updating. The page logs no
// errors beyond the refused connections to the node the test killed. Screenshots of each view go
// to test-artifacts/ui/.

import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildUi } from "../../scripts/build-ui.js";
import { Agent, NonRetryableError } from "../../src/client/index.js";
import { ApiCluster, type Member } from "../server/cluster.js";
import { until } from "../support/local-node.js";
import { ensureChromium, launchChromium, recordProblems, screenshot, type PageProblem } from "./browser.js";

const TOKEN = "dashboard-browser-token";
/** Playwright's waits: generous, since two shared cores run this beside other suites. */
const WAIT_MS = 20_000;

type Json = Record<string, unknown>;

let cluster: ApiCluster;
let browser: Browser;
let page: Page;
let origin: Member;
const agents: Agent[] = [];
const problems: PageProblem[] = [];
/** Task types whose handlers wait until the test releases them. */
const holds = new Map<string, { release: () => void; released: Promise<void> }>();
/** Members the test killed, by HTTP address. */
const killed = new Set<string>();

function hold(taskType: string): void {
  let release = (): void => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  holds.set(taskType, { release, released });
}

/** One call to a live member's API with the token. */
async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const member = [...cluster.members.values()].find((m) => !killed.has(m.http))!;
  const response = await fetch(`http://${member.http}/api/v3${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Json };
}

function urls(): string[] {
  return [...cluster.members.values()].filter((m) => !killed.has(m.http)).map((m) => `http://${m.http}`);
}

/** Starts an SDK agent that runs every task type the test uses. */
async function startAgent(name: string, team: string, skills: string[], capacity = 4): Promise<Agent> {
  const agent = new Agent({
    urls: urls(),
    token: TOKEN,
    name,
    endpoint: `http://127.0.0.1:1/${name}`,
    team,
    skills,
    capacity,
    healthCheck: { type: "none" },
    pollWaitMs: 1_000,
  });
  const handler = async (task: { task_type: string; data: unknown }, context: { signal: AbortSignal }) => {
    const held = holds.get(task.task_type);
    if (held !== undefined) {
      await new Promise<void>((resolve) => {
        void held.released.then(resolve);
        context.signal.addEventListener("abort", () => resolve(), { once: true });
      });
    }
    if (task.task_type === "perf") throw new NonRetryableError("p99 over budget: 412 ms > 250 ms");
    if (task.task_type === "flaky") throw new Error("connection reset by peer");
    return { by: name, ok: true };
  };
  for (const type of [
    "checkout",
    "compile",
    "unit",
    "lint",
    "perf",
    "report",
    "deploy",
    "smoke",
    "flaky",
    "index",
    "crawl",
  ])
    agent.handle(type, handler);
  agents.push(agent);
  await agent.start();
  return agent;
}

/** Kills a member: its node stops and its server goes, connections and all. */
async function kill(member: Member): Promise<void> {
  killed.add(member.http);
  member.node.stop();
  const closing = member.app.close();
  // Streams the server does not end itself (a workflow's watch) would hold the close open.
  const sweep = setInterval(() => member.app.server.closeAllConnections(), 10);
  await closing;
  clearInterval(sweep);
}

const release = {
  name: "release-api",
  description: "Build, test and ship the API: three teams, an approval event, a perf check allowed to fail.",
  teams: ["build", "test", "deploy"],
  on_failure: "continue",
  steps: [
    { id: "checkout", team: "build", task_type: "checkout", skills: ["build"] },
    { id: "compile", team: "build", task_type: "compile", skills: ["build"], depends_on: ["checkout"] },
    { id: "unit", team: "test", task_type: "unit", skills: ["test"], depends_on: ["compile"] },
    { id: "lint", team: "test", task_type: "lint", skills: ["test"], depends_on: ["compile"] },
    { id: "perf", team: "test", task_type: "perf", skills: ["test"], depends_on: ["compile"] },
    {
      id: "report",
      team: "test",
      task_type: "report",
      skills: ["test"],
      depends_on: ["perf"],
      when: "all_done",
    },
    { id: "approve", team: "deploy", type: "event", event: "release-approved", depends_on: ["lint"] },
    {
      id: "deploy",
      team: "deploy",
      task_type: "deploy",
      skills: ["deploy"],
      depends_on: ["unit", "approve"],
    },
    { id: "smoke", team: "deploy", task_type: "smoke", skills: ["deploy"], depends_on: ["deploy"] },
  ],
};

const nightly = {
  name: "nightly-index",
  teams: ["build"],
  pattern: "pipeline",
  steps: [
    { id: "checkout", team: "build", task_type: "checkout", skills: ["build"] },
    { id: "index", team: "build", task_type: "index", skills: ["build"] },
  ],
};

// Its failing step runs on the build team, whose breakers must stay closed for the runs above.
const hotfix = {
  name: "hotfix-perf",
  teams: ["build"],
  steps: [{ id: "perf", team: "build", task_type: "perf", skills: ["build"] }],
};

async function createRun(definition: Json): Promise<string> {
  const created = await call("POST", "/workflows", { definition, execute: true, team: "platform" });
  expect(created.status).toBe(201);
  return (created.json["workflow"] as Json)["id"] as string;
}

async function workflowStatus(id: string): Promise<string> {
  return ((await call("GET", `/workflows/${id}`)).json["workflow"] as Json)["status"] as string;
}

/** The DAG node of step `id`. */
function dagStep(id: string) {
  return page.locator(`svg.dag g.step[data-step="${id}"]`);
}

async function stepStatusIs(id: string, status: string): Promise<void> {
  await page
    .locator(`svg.dag g.step[data-step="${id}"][data-status="${status}"]`)
    .waitFor({ timeout: WAIT_MS });
}

let releaseId = "";

beforeAll(async () => {
  await ensureChromium();
  const [, started] = await Promise.all([
    buildUi(),
    ApiCluster.start(
      TOKEN,
      ["n1", "n2", "n3"],
      { heartbeatIntervalMs: 100, failureTimeoutMs: 3_000 },
      { tickMs: 50, redispatchMs: 200, settings: { breakerThreshold: 2 } },
    ),
  ]);
  cluster = started;
  origin = await cluster.leader();
  hold("unit");
  hold("deploy");
  hold("crawl");
  await Promise.all([
    startAgent("builder-1", "build", ["build"]),
    startAgent("builder-2", "build", ["build"], 2),
    startAgent("tester-1", "test", ["test", "lint"]),
    startAgent("tester-2", "test", ["test"]),
    startAgent("deployer-1", "deploy", ["deploy"], 2),
  ]);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  recordProblems(page, problems);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const held of holds.values()) held.release();
  await Promise.all(agents.map((agent) => agent.stop()));
  for (const member of cluster.members.values()) member.app.server.closeAllConnections();
  await cluster.stop();
}, 30_000);

describe("the dashboard in a browser", () => {
  it("asks for the token once, then shows the cluster: three members, their roles, the timeline", async () => {
    await page.goto(`http://${origin.http}/ui/`);
    await page.getByLabel("Token", { exact: true }).fill(TOKEN);
    await page.getByRole("button", { name: "Connect" }).click();
    await page.locator(`[data-link="live"][data-via="${origin.node.id}"]`).waitFor({ timeout: WAIT_MS });
    await expect
      .poll(() => page.getByTestId("leader").textContent(), { timeout: WAIT_MS })
      .toBe(origin.node.id);
    for (const id of ["n1", "n2", "n3"]) {
      const row = page.locator(`tr[data-member="${id}"]`);
      await row.locator(".badge").first().waitFor({ timeout: WAIT_MS });
      const role = id === origin.node.id ? "leader" : "follower";
      await row.locator(`.badge[data-status="${role}"]`).waitFor({ timeout: WAIT_MS });
    }
    await page.locator(".timeline li").first().waitFor({ timeout: WAIT_MS });
    // The token is kept for the tab: a reload does not ask again.
    await page.reload();
    await page.locator('[data-link="live"]').waitFor({ timeout: WAIT_MS });
    expect(await page.getByLabel("Token", { exact: true }).count()).toBe(0);
    await page.locator('tr[data-member] .badge[data-status="follower"]').nth(1).waitFor({ timeout: WAIT_MS });
    await screenshot(page, "cluster");
  });

  it("shows the queue by priority and team, throughput and latency charts, the oldest waiting task and the dead letters", async () => {
    for (let i = 0; i < 12; i++)
      expect(
        (
          await call("POST", "/tasks/distribute", {
            task_type: "index",
            team: i % 2 === 0 ? "search" : "web",
            requirements: { skills: ["build"] },
          })
        ).status,
      ).toBe(201);
    for (const [priority, team] of [
      [8, "ml"],
      [5, "research"],
      [2, "ml"],
    ] as const)
      await call("POST", "/tasks/distribute", {
        task_type: "train",
        team,
        priority,
        requirements: { skills: ["gpu"] },
      });
    // Two failures in a row on the one agent with the skill: dead letters, and its breaker opens.
    for (let i = 0; i < 2; i++)
      await call("POST", "/tasks/distribute", {
        task_type: "flaky",
        team: "web",
        max_attempts: 1,
        requirements: { skills: ["lint"] },
      });
    // Long crawls keep two builders busy for the rest of the run.
    for (const team of ["search", "web"])
      await call("POST", "/tasks/distribute", {
        task_type: "crawl",
        team,
        requirements: { skills: ["build"] },
      });

    await page.locator('nav a:has-text("Tasks")').click();
    await expect.poll(() => page.getByTestId("queue-depth").textContent(), { timeout: WAIT_MS }).toBe("3");
    await expect.poll(() => page.getByTestId("dead-letters").textContent(), { timeout: WAIT_MS }).toBe("2");
    await page.getByTestId("oldest").waitFor({ timeout: WAIT_MS });
    expect(await page.getByTestId("oldest").textContent()).toContain("train");
    await page.locator("table.dead-letters tbody tr").nth(1).waitFor({ timeout: WAIT_MS });
    await expect
      .poll(() => page.locator("figure.bars").nth(2).textContent(), { timeout: WAIT_MS })
      .toContain("search");
    expect(await page.locator("figure.bars").first().textContent()).toContain("priority 8");
    // uPlot has drawn its charts, from samples that include the burst of work.
    expect(await page.locator(".chart canvas").count()).toBe(3);
    await expect
      .poll(() => page.locator(".chart .visually-hidden").first().textContent(), { timeout: WAIT_MS })
      .not.toContain("no data yet");
    await screenshot(page, "tasks");
  });

  it("lists the agents by team, filters them, shows one's health, and shows a new agent as it registers", async () => {
    await page.locator('nav a:has-text("Agents")').click();
    await page.locator('tbody[data-team="build"] tr[data-agent="builder-1"]').waitFor({ timeout: WAIT_MS });
    for (const team of ["build", "test", "deploy"])
      await page.locator(`tbody[data-team="${team}"]`).waitFor({ timeout: WAIT_MS });
    expect(await page.locator("tr[data-agent]").count()).toBe(5);
    await page.locator("#filter-team").selectOption("test");
    await expect.poll(() => page.locator("tr[data-agent]").count(), { timeout: WAIT_MS }).toBe(2);
    await page.locator("#filter-skill").selectOption("lint");
    await expect.poll(() => page.locator("tr[data-agent]").count(), { timeout: WAIT_MS }).toBe(1);
    await page.locator("#filter-team").selectOption("");
    await page.locator("#filter-skill").selectOption("");

    await startAgent("deployer-2", "deploy", ["deploy"]);
    await page.locator('tbody[data-team="deploy"] tr[data-agent="deployer-2"]').waitFor({ timeout: WAIT_MS });
    expect(await page.locator("tr[data-agent]").count()).toBe(6);

    await page.locator('tr[data-agent="tester-1"] .badge[data-status="open"]').waitFor({ timeout: WAIT_MS });
    await page
      .locator('tbody[data-team="build"] .load', { hasText: "1 /" })
      .first()
      .waitFor({ timeout: WAIT_MS });
    await page.locator('tr[data-agent="tester-1"] a').click();
    await page.locator(".detail .badge[data-status='healthy']").first().waitFor({ timeout: WAIT_MS });
    await page.locator(".detail .history li").first().waitFor({ timeout: WAIT_MS });
    await screenshot(page, "agents");
  });

  it("lists the workflow runs and draws one as a DAG by team that follows its steps live; an event and a cancel from the page take effect", async () => {
    const nightlyId = await createRun(nightly);
    const hotfixId = await createRun(hotfix);
    releaseId = await createRun(release);
    await until(async () => (await workflowStatus(nightlyId)) === "succeeded", WAIT_MS);
    await until(async () => (await workflowStatus(hotfixId)) === "failed", WAIT_MS);

    await page.locator('nav a:has-text("Workflows")').click();
    for (const name of ["release-api", "nightly-index", "hotfix-perf"])
      await page.locator(`tr[data-workflow="${name}"]`).waitFor({ timeout: WAIT_MS });
    await page
      .locator('tr[data-workflow="nightly-index"] .badge[data-status="succeeded"]')
      .waitFor({ timeout: WAIT_MS });
    await page
      .locator('tr[data-workflow="hotfix-perf"] .badge[data-status="failed"]')
      .waitFor({ timeout: WAIT_MS });
    await page
      .locator('tr[data-workflow="release-api"] .badge[data-status="running"]')
      .waitFor({ timeout: WAIT_MS });
    await screenshot(page, "workflows");

    await page.locator('tr[data-workflow="release-api"] a').click();
    await stepStatusIs("compile", "succeeded");
    await stepStatusIs("unit", "running");
    await stepStatusIs("perf", "failed");
    await stepStatusIs("report", "succeeded");
    await stepStatusIs("approve", "waiting");
    expect(await dagStep("deploy").getAttribute("data-status")).toBe("pending");
    for (const team of ["build", "test", "deploy"])
      expect(await page.locator(`svg.dag g.team[data-team="${team}"]`).count()).toBe(1);
    await screenshot(page, "workflow-dag");

    // A step finishes: its node turns, without a reload.
    holds.get("unit")!.release();
    await stepStatusIs("unit", "succeeded");
    // The approval event, sent from the page, releases the deploy.
    await page.getByLabel("Event", { exact: true }).fill("release-approved");
    await page.getByRole("button", { name: "Send event" }).click();
    await stepStatusIs("approve", "succeeded");
    await stepStatusIs("deploy", "running");
    // Cancelled from the page: the running deploy is cancelled and the rest skipped.
    await page.getByRole("button", { name: "Cancel run…" }).click();
    await page.getByRole("button", { name: "Yes, cancel the run" }).click();
    await page.locator('#workflow-title .badge[data-status="cancelled"]').waitFor({ timeout: WAIT_MS });
    await stepStatusIs("deploy", "cancelled");
    await stepStatusIs("smoke", "skipped");
    expect(await workflowStatus(releaseId)).toBe("cancelled");
    await screenshot(page, "workflow-dag-cancelled");
    expect(problems).toEqual([]);
  });

  it("moves to another member when the leader serving the page dies, shows the new leader, and keeps updating", async () => {
    await page.locator('nav a:has-text("Cluster")').click();
    await page.getByTestId("leader").waitFor({ timeout: WAIT_MS });
    await kill(origin);
    const another = new RegExp(`^(?!${origin.node.id}$)n[123]$`);
    const live = page.locator('[data-link="live"]');
    await expect
      .poll(async () => ((await live.count()) === 1 ? await live.getAttribute("data-via") : null), {
        timeout: WAIT_MS,
      })
      .toMatch(another);
    await expect.poll(() => page.getByTestId("leader").textContent(), { timeout: WAIT_MS }).toMatch(another);
    await page
      .locator(`tr[data-member="${origin.node.id}"] .badge[data-status="unreachable"]`)
      .waitFor({ timeout: WAIT_MS });
    await page.locator('.timeline li[data-kind="leader"]').first().waitFor({ timeout: WAIT_MS });
    await screenshot(page, "cluster-failover");

    // Still live: a change made after the failover shows.
    await page.locator('nav a:has-text("Agents")').click();
    await startAgent("late-joiner", "test", ["test"]);
    await page.locator('tr[data-agent="late-joiner"]').waitFor({ timeout: WAIT_MS });

    // The only errors the page logged are Chromium's own notes of the refused connections to the
    // node the test killed; nothing of the page's own.
    const dead = `http://${origin.http}/`;
    const unexpected = problems.filter(
      (problem) => !(problem.kind === "console" && problem.url.startsWith(dead)),
    );
    expect(unexpected).toEqual([]);
  });
});
