/**
 * The operator dashboard: a page at /ui (preact, uPlot, dagre; bundled by scripts/build-ui.ts
 * from src/web/app) that every node serves, and the API it reads beyond the modules' own: a live
 * overview stream, and the elections and leader changes this node has seen.
 *
 *   static.ts    the bundle's files at /ui, or a 503 page saying how to build them
 *   routes.ts    GET /api/v3/ui/stream, /ui/overview, /ui/auth, /cluster/timeline
 *   stream.ts    one publisher per node for every open stream
 *   overview.ts  the overview of one node's state
 *   timeline.ts  the ring of elections and leader changes
 *   samples.ts   the ring of task samples the charts start from
 *   cors.ts      cross-origin reads, so a page can move to another member
 */

import type { FastifyInstance } from "fastify";
import type { NodeId } from "../raft/types.js";
import type { NodeApi } from "../runtime/domain-module.js";
import { overviewOf } from "./overview.js";
import { dashboardRoutes } from "./routes.js";
import { TaskSampler } from "./samples.js";
import { defaultBundleDirectory, registerStatic } from "./static.js";
import { OverviewPublisher } from "./stream.js";
import { ClusterTimeline, recordTimeline } from "./timeline.js";

export { registerCors } from "./cors.js";
export { defaultBundleDirectory } from "./static.js";

/** How the dashboard is served. */
export interface DashboardOptions {
  /** Where member `id` serves HTTP (host:port), as the page is to reach it. */
  readonly httpAddressOf: (id: NodeId) => string | null;
  /** Whether the API asks for a bearer token now (the page asks for one only then). */
  readonly tokenRequired: () => boolean;
  /** The bundle's folder; default dist/web/public in the package. */
  readonly bundleDirectory?: string;
  /** Wall-clock milliseconds; default Date.now. */
  readonly now?: () => number;
}

/** The dashboard as a fastify plugin: its files at /ui, its routes under /api/v3. */
export function uiPlugin(node: NodeApi, options: DashboardOptions) {
  return async (app: FastifyInstance): Promise<void> => {
    const view = node.view;
    const now = options.now ?? Date.now;
    const timeline = new ClusterTimeline();
    const stopTimeline = recordTimeline(view, timeline, now);
    const overview = () => overviewOf(view, options.httpAddressOf, timeline.revision, now());
    const publisher = new OverviewPublisher(view, overview, new TaskSampler(view), now);
    publisher.start();
    // preClose: streams end before the server waits for its connections to go idle.
    app.addHook("preClose", (done) => {
      stopTimeline();
      publisher.stop();
      done();
    });
    await registerStatic(app, options.bundleDirectory ?? defaultBundleDirectory());
    const sources = { nodeId: view.id, tokenRequired: options.tokenRequired, publisher, timeline, overview };
    await app.register(
      (scope, _options, done) => {
        dashboardRoutes(scope, sources);
        done();
      },
      { prefix: "/api/v3" },
    );
  };
}
