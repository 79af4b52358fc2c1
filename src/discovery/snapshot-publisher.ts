/**
 * Hands snapshots to the provider's handlers, and hands the last one again every
 * `republishIntervalMs` while it is fresh. DiscoverySync removes an agent only after it has been
 * missing from several snapshots over a grace period; a source that changes rarely (a Kubernetes
 * watch, a long TTL) would otherwise send one snapshot without the agent and then nothing, and the
 * agent would never go. A failure stops the repeats until the next good read, so a provider that
 * cannot read its source never keeps asserting an old set.
 */

import type { TimerHandle } from "../transport/timers.js";
import type {
  DiscoveredAgent,
  DiscoveryClock,
  InvalidEntry,
  ProviderHandlers,
  SnapshotDetails,
} from "./types.js";

/** Repeat a fresh snapshot every 10 s: with the sync's defaults (3 misses, 30 s) a gone agent goes in about 30 s. */
export const DEFAULT_REPUBLISH_INTERVAL_MS = 10_000;

/** The shortest repeat interval accepted. */
export const MIN_REPUBLISH_INTERVAL_MS = 100;

/** The snapshot side of a provider: publish, fail, stop. */
export class SnapshotPublisher {
  private stopped = false;
  private timer: TimerHandle | null = null;
  private last: { agents: readonly DiscoveredAgent[]; details: SnapshotDetails } | null = null;

  constructor(
    private readonly handlers: ProviderHandlers,
    private readonly clock: Pick<DiscoveryClock, "setTimeout" | "clearTimeout">,
    private readonly republishIntervalMs: number = DEFAULT_REPUBLISH_INTERVAL_MS,
  ) {
    if (!(republishIntervalMs >= MIN_REPUBLISH_INTERVAL_MS))
      throw new RangeError(`republishIntervalMs must be at least ${MIN_REPUBLISH_INTERVAL_MS}`);
  }

  /** Sends `agents` now, and again every interval until the next publish, fail or stop. */
  publish(agents: readonly DiscoveredAgent[], details: SnapshotDetails): void {
    if (this.stopped) return;
    this.last = { agents, details };
    this.send();
  }

  /** Reports a failed read; the repeats stop until the next publish. */
  fail(error: Error): void {
    if (this.stopped) return;
    this.cancelRepeat();
    this.last = null;
    this.handlers.onError(error);
  }

  /** Reports an error without making the last snapshot stale (a part failed, the rest is current). */
  warn(error: Error): void {
    if (this.stopped) return;
    this.handlers.onError(error);
  }

  /** Reports an entry that was skipped. */
  invalid(problem: InvalidEntry): void {
    if (this.stopped) return;
    this.handlers.onInvalid?.(problem);
  }

  /** No handler is called after this. */
  stop(): void {
    this.stopped = true;
    this.cancelRepeat();
  }

  private send(): void {
    this.cancelRepeat();
    const last = this.last;
    if (last === null || this.stopped) return;
    this.handlers.onSnapshot(last.agents, last.details);
    // The handler may have stopped the provider.
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.send();
    }, this.republishIntervalMs);
  }

  private cancelRepeat(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
