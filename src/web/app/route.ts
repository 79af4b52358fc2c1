/** Hash routing: #/cluster, #/agents, #/agents/<id>, #/tasks, #/workflows, #/workflows/<id>. */

import { useEffect, useState } from "preact/hooks";

/** Where the page is. */
export type Route =
  | { readonly view: "cluster" }
  | { readonly view: "agents"; readonly agentId: string | null }
  | { readonly view: "tasks" }
  | { readonly view: "workflows" }
  | { readonly view: "workflow"; readonly workflowId: string };

/** The route a hash names (anything unknown is the cluster view). */
export function parseRoute(hash: string): Route {
  const parts = hash
    .replace(/^#\/?/, "")
    .split("/")
    .filter((part) => part !== "")
    .map(decodeSafely);
  const [view = "", id] = parts;
  if (view === "agents") return { view: "agents", agentId: id ?? null };
  if (view === "tasks") return { view: "tasks" };
  if (view === "workflows")
    return id === undefined ? { view: "workflows" } : { view: "workflow", workflowId: id };
  return { view: "cluster" };
}

/** A hash part decoded, or as it is when it is not valid percent-encoding. */
function decodeSafely(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** The hash of a route. */
export function hrefOf(route: Route): string {
  switch (route.view) {
    case "cluster":
      return "#/cluster";
    case "agents":
      return route.agentId === null ? "#/agents" : `#/agents/${encodeURIComponent(route.agentId)}`;
    case "tasks":
      return "#/tasks";
    case "workflows":
      return "#/workflows";
    case "workflow":
      return `#/workflows/${encodeURIComponent(route.workflowId)}`;
  }
}

/** The current route, following hash changes. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const changed = (): void => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}
