/**
 * The page: a header (the views, and where the live link stands: "live via n2",
 * "reconnecting…"), the token form when the cluster asks for one, and the current view.
 */

import { markup } from "./markup.js";
import type { VNode } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Connection, LinkState } from "./connection.js";
import { hrefOf, useRoute, type Route } from "./route.js";
import { useStore } from "./store.js";
import { AgentsView } from "./views/agents.js";
import { ClusterView } from "./views/cluster.js";
import { TasksView } from "./views/tasks.js";
import { WorkflowView } from "./views/workflow.js";
import { WorkflowsView } from "./views/workflows.js";

const NAV: readonly { readonly view: Route["view"]; readonly route: Route; readonly title: string }[] = [
  { view: "cluster", route: { view: "cluster" }, title: "Cluster" },
  { view: "agents", route: { view: "agents", agentId: null }, title: "Agents" },
  { view: "tasks", route: { view: "tasks" }, title: "Tasks" },
  { view: "workflows", route: { view: "workflows" }, title: "Workflows" },
];

export function App({ connection }: { connection: Connection }): VNode {
  const route = useRoute();
  const link = useStore(connection.state);
  const current = route.view === "workflow" ? "workflows" : route.view;
  useEffect(() => {
    const title = NAV.find((entry) => entry.view === current)?.title ?? "Cluster";
    document.title = `${title} · juno`;
  }, [current]);
  return markup`<a class="skip-link" href="#main" onClick=${skipToMain}>Skip to the content</a>
    <header class="top">
      <a class="brand" href="#/cluster">juno <span>control plane</span></a>
      <nav aria-label="Views">
        <ul>
          ${NAV.map(
            (entry) =>
              markup`<li>
                <a href=${hrefOf(entry.route)} aria-current=${entry.view === current ? "page" : undefined}
                  >${entry.title}</a
                >
              </li>`,
          )}
        </ul>
      </nav>
      <${LinkStatus} link=${link} connection=${connection} />
    </header>
    <main id="main" tabindex="-1">
      ${link.kind === "unauthorized" ? markup`<${TokenForm} connection=${connection} />` : viewOf(route, connection)}
    </main>`;
}

function viewOf(route: Route, connection: Connection): VNode {
  switch (route.view) {
    case "cluster":
      return markup`<${ClusterView} connection=${connection} />`;
    case "agents":
      return markup`<${AgentsView} connection=${connection} agentId=${route.agentId} />`;
    case "tasks":
      return markup`<${TasksView} connection=${connection} />`;
    case "workflows":
      return markup`<${WorkflowsView} connection=${connection} />`;
    case "workflow":
      return markup`<${WorkflowView} connection=${connection} workflowId=${route.workflowId} />`;
  }
}

/** The skip link moves focus without touching the hash, which is the router's. */
function skipToMain(event: Event): void {
  event.preventDefault();
  document.getElementById("main")?.focus();
}

function LinkStatus({ link, connection }: { link: LinkState; connection: Connection }): VNode {
  const overview = useStore(connection.overview);
  const [text, tone] = linkText(link);
  const role =
    link.kind === "live" && overview !== null && overview.node.id === link.via ? overview.node.role : null;
  return markup`<div class="link-status">
    <span
      class=${`link tone-${tone}`}
      role="status"
      aria-live="polite"
      data-link=${link.kind}
      data-via=${link.kind === "live" ? link.via : ""}
      title=${link.kind === "reconnecting" ? link.error : link.kind === "live" ? link.base : ""}
    >
      <span class="dot" aria-hidden="true"></span
      >${text}${role === null ? "" : markup` <small>(${role})</small>`}
    </span>
    ${connection.token() === null ? null : markup`<button type="button" class="quiet" onClick=${() => connection.setToken(null)}>Forget token</button>`}
  </div>`;
}

function linkText(link: LinkState): [string, string] {
  switch (link.kind) {
    case "connecting":
      return ["connecting…", "idle"];
    case "live":
      return [`live via ${link.via}`, "ok"];
    case "reconnecting":
      return [link.lastVia === null ? "reconnecting…" : `reconnecting… (lost ${link.lastVia})`, "warn"];
    case "unauthorized":
      return ["token needed", "bad"];
  }
}

function TokenForm({ connection }: { connection: Connection }): VNode {
  const [token, setToken] = useState("");
  const hadToken = connection.token() !== null;
  return markup`<section class="token-panel" aria-labelledby="token-title">
    <form
      onSubmit=${(event: Event) => {
        event.preventDefault();
        connection.setToken(token.trim());
      }}
    >
      <h2 id="token-title">API token</h2>
      <p>
        ${hadToken ? "The cluster refused the token. " : ""}This cluster asks for its API token
        (<code>JUNO_API_TOKEN</code>). It is kept in this tab only, until it closes.
      </p>
      <label for="token-input">Token</label>
      <input
        id="token-input"
        type="password"
        autocomplete="off"
        required
        value=${token}
        onInput=${(event: Event) => setToken((event.currentTarget as HTMLInputElement).value)}
      />
      <button type="submit">Connect</button>
    </form>
  </section>`;
}
