/**
 * A workflow run's DAG laid out by dagre: steps as boxes left to right in dependency order,
 * grouped in one cluster per team, edges routed around them. The layout depends on the steps and
 * their dependencies only, so a run that moves on (statuses change) keeps its picture; the caller
 * lays out again only when the shape changes (shapeKey).
 */

import dagre from "@dagrejs/dagre";
import type { WorkflowStep } from "./types.js";

/** A step's box. */
export interface StepBox {
  readonly id: string;
  readonly team: string;
  /** Centre. */
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** A team's cluster around its steps. */
export interface TeamBox {
  readonly team: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** An edge from a dependency to the step that waits on it. */
export interface EdgePath {
  readonly from: string;
  readonly to: string;
  readonly points: readonly { readonly x: number; readonly y: number }[];
  /** A compensation step's link to the step it undoes, drawn dashed. */
  readonly compensation: boolean;
}

/** The whole picture. */
export interface Layout {
  readonly width: number;
  readonly height: number;
  readonly steps: readonly StepBox[];
  readonly teams: readonly TeamBox[];
  readonly edges: readonly EdgePath[];
}

export const STEP_WIDTH = 176;
export const STEP_HEIGHT = 58;
const TEAM_PREFIX = "team\u0000";

/** What the layout depends on: step ids, teams and dependencies. */
export function shapeKey(steps: readonly WorkflowStep[]): string {
  return steps
    .map((step) => `${step.id}@${step.team}<${step.depends_on.join(",")}~${step.compensates ?? ""}`)
    .join("|");
}

/** Lays out `steps`. */
export function layoutSteps(steps: readonly WorkflowStep[]): Layout {
  const graph = new dagre.graphlib.Graph({ compound: true, multigraph: false });
  // Room above each team's cluster for its name (drawn in the 18 px over the cluster's box).
  graph.setGraph({ rankdir: "LR", nodesep: 36, ranksep: 56, marginx: 16, marginy: 32 });
  graph.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(steps.map((step) => step.id));
  for (const team of new Set(steps.map((step) => step.team)))
    graph.setNode(TEAM_PREFIX + team, { label: team });
  for (const step of steps) {
    graph.setNode(step.id, { width: STEP_WIDTH, height: STEP_HEIGHT });
    graph.setParent(step.id, TEAM_PREFIX + step.team);
  }
  for (const step of steps) {
    for (const dependency of step.depends_on) if (ids.has(dependency)) graph.setEdge(dependency, step.id);
    if (step.compensates !== null && ids.has(step.compensates))
      graph.setEdge(step.compensates, step.id, { compensation: true });
  }
  dagre.layout(graph);
  const label = graph.graph() as { width?: number; height?: number };
  const boxes: StepBox[] = steps.map((step) => {
    const node = graph.node(step.id) as { x: number; y: number; width: number; height: number };
    return { id: step.id, team: step.team, x: node.x, y: node.y, width: node.width, height: node.height };
  });
  const teams: TeamBox[] = [];
  for (const id of graph.nodes()) {
    if (!id.startsWith(TEAM_PREFIX)) continue;
    const node = graph.node(id) as { x: number; y: number; width: number; height: number };
    teams.push({
      team: id.slice(TEAM_PREFIX.length),
      x: node.x - node.width / 2,
      y: node.y - node.height / 2,
      width: node.width,
      height: node.height,
    });
  }
  // Typed here: under Node's module resolution (the tests) dagre's declarations do not resolve.
  const edges: EdgePath[] = graph.edges().map((edge: { v: string; w: string }) => {
    const data = graph.edge(edge) as { points?: { x: number; y: number }[]; compensation?: boolean };
    return {
      from: edge.v,
      to: edge.w,
      points: data.points ?? [],
      compensation: data.compensation === true,
    };
  });
  return { width: label.width ?? 0, height: label.height ?? 0, steps: boxes, teams, edges };
}
