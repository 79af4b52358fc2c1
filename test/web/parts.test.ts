// Proves the dashboard's pure parts on their own: the page's event-stream parser takes chunks cut
// anywhere (inside a line, between CR and LF) and yields whole events, skipping comments; the
// timeline records elections and leader changes once each and keeps only its bound; and the DAG
// layout puts every step inside its team's cluster, with an edge per dependency.

import { describe, expect, it } from "vitest";
import { layoutSteps } from "../../src/web/app/layout.js";
import { EventStreamParser, type StreamEvent } from "../../src/web/app/sse.js";
import type { WorkflowStep } from "../../src/web/app/types.js";
import { ClusterTimeline } from "../../src/web/timeline.js";

describe("the event-stream parser", () => {
  const text =
    ': heartbeat\n\nevent: overview\nid: 7\ndata: {"a":1}\n\nevent: sample\r\ndata: line one\r\ndata: line two\r\n\r\ndata: plain\n\n';
  const expected: StreamEvent[] = [
    { event: "overview", data: '{"a":1}', id: "7" },
    { event: "sample", data: "line one\nline two", id: "7" },
    { event: "message", data: "plain", id: "7" },
  ];

  it("yields whole events, skipping comments, with LF or CRLF line ends", () => {
    expect(new EventStreamParser().push(text)).toEqual(expected);
  });

  it("yields the same events whatever the chunks, even one character at a time", () => {
    for (const size of [1, 2, 3, 5, 8, 13]) {
      const parser = new EventStreamParser();
      const events: StreamEvent[] = [];
      for (let at = 0; at < text.length; at += size) events.push(...parser.push(text.slice(at, at + size)));
      expect(events, `chunks of ${size}`).toEqual(expected);
    }
  });

  it("holds an event until its blank line arrives", () => {
    const parser = new EventStreamParser();
    expect(parser.push("event: workflow\ndata: {}\n")).toEqual([]);
    expect(parser.push("\n")).toEqual([{ event: "workflow", data: "{}", id: null }]);
  });
});

describe("the cluster timeline", () => {
  it("records the first observation, then each election and leader change once", () => {
    const timeline = new ClusterTimeline();
    timeline.observe({ term: 1, leaderId: null, role: "follower" }, 1_000);
    timeline.observe({ term: 1, leaderId: null, role: "follower" }, 1_100);
    timeline.observe({ term: 2, leaderId: null, role: "candidate" }, 1_200);
    timeline.observe({ term: 2, leaderId: "n1", role: "leader" }, 1_300);
    timeline.observe({ term: 2, leaderId: "n1", role: "leader" }, 1_400);
    timeline.observe({ term: 3, leaderId: "n2", role: "follower" }, 1_500);
    timeline.observe({ term: 3, leaderId: null, role: "follower" }, 1_600);
    expect(timeline.events().map((event) => [event.kind, event.term, event.leader_id])).toEqual([
      ["observed", 1, null],
      ["election", 2, null],
      ["leader", 2, "n1"],
      ["election", 3, null],
      ["leader", 3, "n2"],
      ["no_leader", 3, null],
    ]);
    expect(timeline.revision).toBe(6);
    expect(timeline.events()[2]).toMatchObject({ seq: 3, at: new Date(1_300).toISOString(), role: "leader" });
  });

  it("keeps only its bound, the newest events", () => {
    const timeline = new ClusterTimeline(3);
    for (let term = 1; term <= 10; term++) timeline.observe({ term, leaderId: null, role: "follower" }, term);
    expect(timeline.events().map((event) => event.term)).toEqual([8, 9, 10]);
    expect(timeline.revision).toBe(10);
  });
});

describe("the DAG layout", () => {
  const step = (id: string, team: string, depends_on: string[] = []): WorkflowStep => ({
    id,
    team,
    depends_on,
    type: "task",
    task_type: id,
    when: "all_success",
    compensates: null,
    delegate_to: null,
    items: null,
    status: "pending",
    attempts: 0,
    task_id: null,
    task_status: null,
    agent_id: null,
    workflow_id: null,
    error: null,
    started_at: null,
    ended_at: null,
  });

  it("puts each step inside its team's cluster, left to right in dependency order", () => {
    const steps = [
      step("build", "build"),
      step("unit", "test", ["build"]),
      step("lint", "test", ["build"]),
      step("ship", "deploy", ["unit", "lint"]),
    ];
    const layout = layoutSteps(steps);
    expect(layout.teams.map((team) => team.team).sort()).toEqual(["build", "deploy", "test"]);
    expect(layout.edges.map((edge) => `${edge.from}>${edge.to}`).sort()).toEqual([
      "build>lint",
      "build>unit",
      "lint>ship",
      "unit>ship",
    ]);
    const box = (id: string) => layout.steps.find((candidate) => candidate.id === id)!;
    for (const placed of layout.steps) {
      const team = layout.teams.find((candidate) => candidate.team === placed.team)!;
      expect(placed.x - placed.width / 2).toBeGreaterThanOrEqual(team.x);
      expect(placed.x + placed.width / 2).toBeLessThanOrEqual(team.x + team.width);
      expect(placed.y - placed.height / 2).toBeGreaterThanOrEqual(team.y);
      expect(placed.y + placed.height / 2).toBeLessThanOrEqual(team.y + team.height);
    }
    expect(box("build").x).toBeLessThan(box("unit").x);
    expect(box("unit").x).toBeLessThan(box("ship").x);
    expect(layout.width).toBeGreaterThan(0);
  });
});
