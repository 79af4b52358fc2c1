/**
 * The elections and leader changes one node has seen, with when it saw them: a bounded ring in
 * memory, fed by watching the node's view. Nothing here is replicated; each node tells its own
 * story (a node that was cut off sees fewer leaders), which is what an operator asks of it.
 */

import Type, { type Static } from "typebox";
import type { NodeView } from "../runtime/view.js";
import { isoTime } from "../server/route-helpers.js";

/** Events one node keeps; older ones go first. */
export const TIMELINE_CAPACITY = 200;

/** One event as the API shows it. */
export const TimelineEvent = Type.Object({
  seq: Type.Integer({ description: "grows by one per event this node recorded" }),
  at: Type.String({ format: "date-time" }),
  kind: Type.Union(
    [Type.Literal("observed"), Type.Literal("election"), Type.Literal("leader"), Type.Literal("no_leader")],
    {
      description:
        "observed: what the node knew when it started recording; election: a new term began; leader: a leader became known; no_leader: the leader was lost",
    },
  ),
  term: Type.Integer(),
  leader_id: Type.Union([Type.String(), Type.Null()]),
  role: Type.String({ description: "this node's role at the time" }),
});
export type TimelineEvent = Static<typeof TimelineEvent>;

/** What the timeline looks at. */
interface Observation {
  readonly term: number;
  readonly leaderId: string | null;
  readonly role: string;
}

/** The ring of events. */
export class ClusterTimeline {
  private readonly ring: TimelineEvent[] = [];
  private last: Observation | null = null;
  /** The seq of the newest event (0 before any). Invariant: ring holds seq - ring.length + 1 .. seq. */
  private seq = 0;

  constructor(private readonly capacity = TIMELINE_CAPACITY) {}

  /** Records what changed since the last observation. */
  observe(now: Observation, atMs: number): void {
    const last = this.last;
    this.last = now;
    if (last === null) return this.push("observed", now, atMs);
    if (now.term > last.term) {
      this.push("election", now, atMs);
      if (now.leaderId !== null) this.push("leader", now, atMs);
    } else if (now.leaderId !== last.leaderId) {
      this.push(now.leaderId === null ? "no_leader" : "leader", now, atMs);
    }
  }

  /** The events kept, oldest first. */
  events(): readonly TimelineEvent[] {
    return this.ring;
  }

  /** The seq of the newest event. */
  get revision(): number {
    return this.seq;
  }

  private push(kind: TimelineEvent["kind"], now: Observation, atMs: number): void {
    // An election and its leader seen at once are two events; the election names no leader.
    this.ring.push({
      seq: ++this.seq,
      at: isoTime(atMs),
      kind,
      term: now.term,
      leader_id: kind === "election" ? null : now.leaderId,
      role: now.role,
    });
    if (this.ring.length > this.capacity) this.ring.shift();
  }
}

/** Feeds `timeline` from `view` after every Ready; returns the unsubscribe function. */
export function recordTimeline(view: NodeView, timeline: ClusterTimeline, now: () => number): () => void {
  const observe = (): void =>
    timeline.observe({ term: view.term(), leaderId: view.leaderId(), role: view.role() }, now());
  observe();
  return view.onChange(observe);
}
