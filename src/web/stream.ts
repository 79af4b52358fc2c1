/**
 * The dashboard's live stream: server-sent events to every open page, from one publisher per node
 * so a hundred pages cost one overview each time, not a hundred.
 *
 *   event: history   once, at the start: the task samples kept (TaskSampler)
 *   event: overview  at the start, then on change (at most every OVERVIEW_MIN_INTERVAL_MS) and
 *                    at least every OVERVIEW_REFRESH_MS (ages and replication figures move on)
 *   event: sample    every SAMPLE_INTERVAL_MS, the newest task sample
 *   : heartbeat      every HEARTBEAT_MS, so a page can tell a quiet stream from a dead one
 *
 * The node's Readies come many times a second (heartbeats included); a change is only worth an
 * overview when an index, the term, the leader or the role moved (overviewKey).
 */

import type { ServerResponse } from "node:http";
import type { NodeView } from "../runtime/view.js";
import { overviewKey, type Overview } from "./overview.js";
import { SAMPLE_INTERVAL_MS, type TaskSampler } from "./samples.js";

/** Streams one node holds open at once; more answer 429. */
export const MAX_STREAMS = 200;
/** Overviews go out at most this often. */
export const OVERVIEW_MIN_INTERVAL_MS = 500;
/** An overview goes out at least this often, changed or not. */
export const OVERVIEW_REFRESH_MS = 5_000;
/** A comment line goes out this often. */
export const HEARTBEAT_MS = 5_000;
/** A page that reads this far behind is cut off; it reconnects and starts afresh. */
export const MAX_BUFFERED_BYTES = 1 << 20;

/** One server-sent event's text. */
export function eventText(name: string, data: unknown, id?: number): string {
  return `event: ${name}\n${id === undefined ? "" : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`;
}

/** Sends overviews, samples and heartbeats to every open stream. */
export class OverviewPublisher {
  private readonly streams = new Set<ServerResponse>();
  private readonly timers: NodeJS.Timeout[] = [];
  private pending: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private lastKey = "";
  private lastSentMs = 0;
  private sent = 0;

  constructor(
    private readonly view: NodeView,
    private readonly build: () => Overview,
    private readonly sampler: TaskSampler,
    private readonly now: () => number,
  ) {}

  /** Starts watching the node and sampling. */
  start(): void {
    this.unsubscribe = this.view.onChange(() => this.changed());
    this.sampler.sample(this.now());
    this.every(SAMPLE_INTERVAL_MS, () =>
      this.broadcast(eventText("sample", this.sampler.sample(this.now()))),
    );
    this.every(HEARTBEAT_MS, () => this.broadcast(": heartbeat\n\n"));
    this.every(OVERVIEW_REFRESH_MS, () => {
      if (this.now() - this.lastSentMs >= OVERVIEW_REFRESH_MS) this.publish();
    });
  }

  /** Ends every stream and stops. */
  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    if (this.pending !== null) clearTimeout(this.pending);
    this.pending = null;
    for (const stream of this.streams) stream.end();
    this.streams.clear();
  }

  /** Streams open now. */
  get size(): number {
    return this.streams.size;
  }

  /** Starts a stream on `raw` (its head already written); false when this node holds too many. */
  open(raw: ServerResponse): boolean {
    if (this.streams.size >= MAX_STREAMS) return false;
    this.streams.add(raw);
    raw.on("close", () => this.streams.delete(raw));
    raw.write(eventText("history", { samples: this.sampler.samples() }));
    raw.write(eventText("overview", this.build(), this.sent));
    return true;
  }

  private every(ms: number, run: () => void): void {
    const timer = setInterval(run, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private changed(): void {
    if (this.streams.size === 0 || this.pending !== null) return;
    if (overviewKey(this.view) === this.lastKey) return;
    const delayMs = Math.max(0, this.lastSentMs + OVERVIEW_MIN_INTERVAL_MS - this.now());
    this.pending = setTimeout(() => {
      this.pending = null;
      this.publish();
    }, delayMs);
    this.pending.unref();
  }

  private publish(): void {
    if (this.streams.size === 0) return;
    this.lastKey = overviewKey(this.view);
    this.lastSentMs = this.now();
    this.broadcast(eventText("overview", this.build(), ++this.sent));
  }

  private broadcast(text: string): void {
    for (const stream of this.streams) {
      stream.write(text);
      if (stream.writableLength > MAX_BUFFERED_BYTES) stream.destroy();
    }
  }
}
