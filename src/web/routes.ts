/** The dashboard's own API: its live stream, the same overview once, and this node's cluster timeline. */

import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import Type from "typebox";
import { ApiError } from "../server/errors.js";
import { startEventStream } from "../server/route-helpers.js";
import { responses } from "../server/schemas.js";
import { Overview } from "./overview.js";
import { MAX_STREAMS, type OverviewPublisher } from "./stream.js";
import { TIMELINE_CAPACITY, TimelineEvent, type ClusterTimeline } from "./timeline.js";

/** What the routes read. */
export interface DashboardSources {
  readonly nodeId: string;
  /** Whether the API asks for a bearer token (tokens made through the API can change it). */
  readonly tokenRequired: () => boolean;
  readonly publisher: OverviewPublisher;
  readonly timeline: ClusterTimeline;
  readonly overview: () => Overview;
}

/** Registers the routes on `scope` (prefixed /api/v3). */
export function dashboardRoutes(scope: FastifyInstance, sources: DashboardSources): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    "/ui/stream",
    {
      schema: {
        summary: "The dashboard's live overview of this node, as server-sent events",
        description:
          "`text/event-stream`: `history` once (the task samples this node kept, oldest first), then `overview` (cluster, agents, task queue and workflows as this node has them) at once, on change (at most twice a second) and at least every 5 s, `sample` every 2 s (task counters, queue depth, assignment latency), and a `: heartbeat` comment every 5 s. Read from this node's state (stale reads): reconnect to any node.",
        tags: ["dashboard"],
        produces: ["text/event-stream"],
        response: responses(
          {
            200: Type.String({
              description: "a text/event-stream of `history`, then `overview` and `sample` events",
            }),
          },
          [429],
        ),
      },
    },
    (request, reply) => {
      if (sources.publisher.size >= MAX_STREAMS)
        throw new ApiError("too_many_requests", `this node already streams to ${MAX_STREAMS} pages`);
      sources.publisher.open(startEventStream(reply));
      request.raw.on("close", () => reply.raw.end());
    },
  );

  app.get(
    "/ui/auth",
    {
      config: { public: true },
      schema: {
        summary: "Whether this node's API asks for a bearer token (the dashboard asks for one only then)",
        tags: ["dashboard"],
        security: [],
        response: responses({ 200: Type.Object({ token_required: Type.Boolean() }) }),
      },
    },
    () => ({ token_required: sources.tokenRequired() }),
  );

  app.get(
    "/ui/overview",
    {
      schema: {
        summary: "The dashboard's overview of this node once: cluster, agents, task queue and workflows",
        description:
          "The stream's `overview` event, as one JSON answer. From this node's state (a stale read).",
        tags: ["dashboard"],
        response: responses({ 200: Overview }),
      },
    },
    () => sources.overview(),
  );

  app.get(
    "/cluster/timeline",
    {
      schema: {
        summary: "The elections and leader changes this node has seen, oldest first",
        description: `Kept in this node's memory (the last ${TIMELINE_CAPACITY}), since it started: each node tells what it saw.`,
        tags: ["cluster"],
        response: responses({
          200: Type.Object({ node_id: Type.String(), events: Type.Array(TimelineEvent) }),
        }),
      },
    },
    () => ({ node_id: sources.nodeId, events: [...sources.timeline.events()] }),
  );
}
