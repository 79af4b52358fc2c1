/** A V8 CPU profile (`--cpu-prof`) as the profile tools read it: its nodes, each one's parent, and a label per frame. */

import { readFileSync } from "node:fs";

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface LoadedProfile {
  readonly samples: number[];
  readonly timeDeltas: number[];
  readonly byId: ReadonlyMap<number, ProfileNode>;
  readonly parent: ReadonlyMap<number, number>;
}

/** Reads `file` and indexes its nodes by id and by parent. */
export function loadProfile(file: string): LoadedProfile {
  const profile = JSON.parse(readFileSync(file, "utf8")) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  return {
    samples: profile.samples,
    timeDeltas: profile.timeDeltas,
    byId: new Map(profile.nodes.map((node) => [node.id, node])),
    parent,
  };
}

/** "function path:line", the path cut to what follows src/, dist/ or node_modules/. */
export function frameLabel(node: ProfileNode): string {
  const url = node.callFrame.url.replace(/^file:\/\/.*?\/(src|dist|node_modules)\//, "$1/");
  return `${node.callFrame.functionName || "(anonymous)"} ${url}:${node.callFrame.lineNumber + 1}`;
}
