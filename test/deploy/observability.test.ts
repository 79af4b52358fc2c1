// Proves that the Grafana dashboard and the alert rules in deploy/observability read only what juno exports: every metric name in their PromQL is a series of a running node's /metrics (histograms by their _bucket, _sum and _count; Prometheus's own `up` aside), every label they match on is one those series carry, and every exact label value is one they take; and that the dashboard is well-formed JSON for Grafana and the rules a valid PrometheusRule.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { runNode, type RunningNode } from "../../src/cli/start.js";
import { ConfigError, parseNodeConfig } from "../../src/config/index.js";
import { validate, type KubeObject } from "./manifests.js";
import { ROOT } from "./package-build.js";
import { matchers, metricNames, parseExposition, type Exposition } from "./promql.js";

const DIRECTORY = join(ROOT, "deploy", "observability");

/** Series Prometheus makes itself, and labels it adds to every target's series. */
const PROMETHEUS_SERIES = new Set(["up"]);
const TARGET_LABELS = new Set(["namespace", "pod", "container", "job", "instance", "service", "endpoint"]);

interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly type: string; readonly uid: string };
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly targets?: readonly { readonly expr: string; readonly refId: string }[];
}
interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly templating: {
    readonly list: readonly { readonly name: string; readonly type: string; readonly query?: unknown }[];
  };
}
interface Rule {
  readonly alert: string;
  readonly expr: string;
}

const dashboard = JSON.parse(readFileSync(join(DIRECTORY, "grafana-dashboard.json"), "utf8")) as Dashboard;
const rules = parseYaml(readFileSync(join(DIRECTORY, "juno-alerts.yaml"), "utf8")) as KubeObject & {
  spec: { groups: { name: string; rules: Rule[] }[] };
};
const alerts = rules.spec.groups.flatMap((group) => group.rules);

/** Every PromQL expression, named for messages. */
const expressions: [string, string][] = [
  ...dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map(
      (target) => [`panel "${panel.title}" ${target.refId}`, target.expr] as [string, string],
    ),
  ),
  ...alerts.map((rule) => [`alert ${rule.alert}`, rule.expr] as [string, string]),
];

let exposition: Exposition;
let node: RunningNode;
const dataDir = mkdtempSync(join(tmpdir(), "juno-metrics-"));

beforeAll(async () => {
  // The real start path (juno start's runNode) on loopback, on ports the system just handed out.
  const freePort = () =>
    new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const address = server.address();
        server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
      });
    });
  const [httpPort, raftPort] = [await freePort(), await freePort()];
  const config = parseNodeConfig(
    [
      "--id",
      "n1",
      "--http",
      `127.0.0.1:${httpPort}`,
      "--raft",
      `127.0.0.1:${raftPort}`,
      "--peers",
      `n1=127.0.0.1:${raftPort}`,
    ],
    { JUNO_DATA_DIR: dataDir, JUNO_LOG_LEVEL: "silent", JUNO_API_TOKEN: "metrics-test-token" },
  );
  if (config instanceof ConfigError) throw config;
  node = await runNode(config);
  const base = `http://${node.httpAddress}`;
  const headers = { authorization: "Bearer metrics-test-token", "content-type": "application/json" };
  // An agent, so that the per-team series exist (every status of every team is reported).
  for (let attempt = 0; ; attempt++) {
    const registered = await fetch(`${base}/api/v3/agents/register`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        name: "indexer-1",
        endpoint: "http://127.0.0.1:9",
        team: "search",
        capabilities: { skills: ["index"], capacity: 4 },
        health_check: { type: "none" },
      }),
    });
    if (registered.status === 201 || registered.status === 200) break;
    // 503 until the single node has elected itself; a bound on the wait, not a timing.
    if (attempt > 400) throw new Error(`register: ${registered.status} ${await registered.text()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  exposition = parseExposition(await (await fetch(`${base}/metrics`)).text());
}, 30_000);

afterAll(async () => {
  await node?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("metric names", () => {
  it("the PromQL reader finds names and skips functions, labels, keywords and numbers", () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, node_id) (rate(a_bucket{x="y"}[5m]))) > 1.8e9 and on (n) b offset 5m',
      ),
    ).toEqual(["a_bucket", "b"]);
    expect(matchers('sum(c{status="failed", job=~"j.*"})')).toEqual([
      { metric: "c", label: "status", operator: "=", value: "failed" },
      { metric: "c", label: "job", operator: "=~", value: "j.*" },
    ]);
  });

  it("the node exports the metrics the files are about", () => {
    for (const name of [
      "juno_raft_is_leader",
      "juno_store_write_seconds_bucket",
      "juno_agents",
      "nodejs_eventloop_lag_p99_seconds",
    ])
      expect(exposition.series.has(name), name).toBe(true);
  });

  it("every metric in the dashboard and the alert rules is one juno exports", () => {
    expect(expressions.length).toBeGreaterThan(50);
    for (const [where, expression] of expressions) {
      const names = metricNames(expression);
      expect(names.length, `${where}: no metric in ${expression}`).toBeGreaterThan(0);
      for (const name of names)
        expect(
          exposition.series.has(name) || PROMETHEUS_SERIES.has(name),
          `${where}: ${name} is not exported`,
        ).toBe(true);
    }
    for (const variable of dashboard.templating.list.filter((each) => each.type === "query")) {
      const query = (variable.query as { query: string }).query;
      const metric = /label_values\(([A-Za-z_:][A-Za-z0-9_:]*)/.exec(query)?.[1];
      expect(
        metric !== undefined && exposition.series.has(metric),
        `variable ${variable.name}: ${query}`,
      ).toBe(true);
    }
  });

  it("every label matched on is one the series carry, and every exact value one they take", () => {
    let exact = 0;
    for (const [where, expression] of expressions) {
      for (const matcher of matchers(expression)) {
        if (PROMETHEUS_SERIES.has(matcher.metric) || TARGET_LABELS.has(matcher.label)) continue;
        const family =
          exposition.labels.get(matcher.metric.replace(/_(bucket|sum|count)$/, "")) ??
          exposition.labels.get(matcher.metric);
        const values = family?.get(matcher.label);
        // node_id is the registry's default label, on every series, including a family that has no
        // series on a single node (follower lag).
        if (values === undefined && matcher.label === "node_id") continue;
        expect(values, `${where}: ${matcher.metric} has no label ${matcher.label}`).toBeDefined();
        if (matcher.operator !== "=") continue;
        expect([...values!], `${where}: ${matcher.metric}{${matcher.label}}`).toContain(matcher.value);
        exact++;
      }
    }
    // status="failed", status="healthy" on juno_agents, status=~"5.." on the HTTP histogram, ...
    expect(exact).toBeGreaterThanOrEqual(3);
  });
});

describe("the Grafana dashboard", () => {
  it("has a uid, unique panel ids, every query on the chosen Prometheus data source", () => {
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels.filter((each) => each.type !== "row")) {
      expect(panel.datasource, panel.title).toEqual({ type: "prometheus", uid: "${datasource}" });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
    expect(dashboard.templating.list.map((variable) => variable.name)).toEqual([
      "datasource",
      "namespace",
      "node",
    ]);
  });

  it("lays its panels out on Grafana's 24-column grid without overlaps", () => {
    const cells = new Set<string>();
    for (const { gridPos, title } of dashboard.panels) {
      expect(gridPos.x + gridPos.w, title).toBeLessThanOrEqual(24);
      for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++)
        for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
    }
  });
});

describe("the alert rules", () => {
  it("are a valid PrometheusRule whose spec is a Prometheus rule file", () => {
    validate(rules);
    expect(rules.spec.groups.length).toBeGreaterThan(3);
  });

  it("cover what an operator must hear about", () => {
    const names = alerts.map((rule) => rule.alert);
    for (const alert of [
      "JunoNoLeader",
      "JunoReplicationLag",
      "JunoAgentsFailed",
      "JunoTaskQueueOld",
      "JunoTasksDeadLettered",
      "JunoMemberDown",
      "JunoLeaderFlapping",
      "JunoSlowStoreWrites",
    ])
      expect(names).toContain(alert);
  });
});
