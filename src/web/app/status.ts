/**
 * Status badges: each status has a tone (its colour) and always its name as text, so nothing is
 * told by colour alone.
 */

import { markup } from "./markup.js";
import type { VNode } from "preact";

/** The tones, each a CSS class (styles.css). */
export type Tone = "ok" | "warn" | "bad" | "busy" | "idle" | "muted";

const TONES: Readonly<Record<string, Tone>> = {
  // agents
  healthy: "ok",
  degraded: "warn",
  suspect: "warn",
  failed: "bad",
  deregistered: "muted",
  // tasks and steps
  queued: "idle",
  assigned: "busy",
  running: "busy",
  succeeded: "ok",
  cancelled: "muted",
  dead_lettered: "bad",
  pending: "idle",
  ready: "idle",
  waiting: "warn",
  skipped: "muted",
  created: "idle",
  not_submitted: "idle",
  // breakers
  closed: "ok",
  half_open: "warn",
  open: "bad",
  // members and roles
  leader: "ok",
  follower: "idle",
  candidate: "warn",
  pre_candidate: "warn",
  learner: "idle",
  unreachable: "bad",
  live: "ok",
};

/** The tone of `status`. */
export function toneOf(status: string): Tone {
  return TONES[status] ?? "idle";
}

/** "half_open" as "half open". */
export function label(status: string): string {
  return status.replaceAll("_", " ");
}

/** A badge: the status's colour and its name. */
export function Badge({ status, text }: { status: string; text?: string }): VNode {
  return markup`<span class=${`badge tone-${toneOf(status)}`} data-status=${status}
    >${text ?? label(status)}</span
  >`;
}
