// Collects what a provider reports (snapshots, errors, skipped entries) and lets a test wait for a
// report without sleeping: each report wakes the waiters, which check their condition again.

import type {
  DiscoveredAgent,
  InvalidEntry,
  ProviderHandlers,
  SnapshotDetails,
} from "../../src/discovery/index.js";

/** One snapshot as the handler got it. */
export interface RecordedSnapshot {
  readonly agents: readonly DiscoveredAgent[];
  readonly details: SnapshotDetails;
}

/** What a provider reported, in order. */
export class Recorder {
  readonly snapshots: RecordedSnapshot[] = [];
  readonly errors: Error[] = [];
  readonly invalid: InvalidEntry[] = [];
  private waiters: Array<() => void> = [];

  readonly handlers: ProviderHandlers = {
    onSnapshot: (agents, details) => {
      this.snapshots.push({ agents, details });
      this.wake();
    },
    onError: (error) => {
      this.errors.push(error);
      this.wake();
    },
    onInvalid: (problem) => {
      this.invalid.push(problem);
      this.wake();
    },
  };

  /** Resolves once there are `count` reports (snapshots and errors together). */
  async reports(count: number): Promise<void> {
    await this.until(() => this.snapshots.length + this.errors.length >= count);
  }

  /** Resolves once `condition` holds after some report (or at once when it already holds). */
  async until(condition: () => boolean): Promise<void> {
    while (!condition()) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Resolves with the first snapshot from now on whose agents satisfy `condition`. */
  async snapshotWhere(
    condition: (agents: ReadonlyMap<string, DiscoveredAgent>, details: SnapshotDetails) => boolean,
  ): Promise<RecordedSnapshot> {
    let seen = this.snapshots.length;
    for (;;) {
      await this.until(() => this.snapshots.length > seen);
      for (; seen < this.snapshots.length; seen++) {
        const snapshot = this.snapshots[seen] as RecordedSnapshot;
        if (condition(byKey(snapshot.agents), snapshot.details)) return snapshot;
      }
    }
  }

  /** The agents of the last snapshot, by key. */
  get last(): ReadonlyMap<string, DiscoveredAgent> {
    const last = this.snapshots.at(-1);
    if (last === undefined) throw new Error("no snapshot yet");
    return byKey(last.agents);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Agents by key. */
export function byKey(agents: readonly DiscoveredAgent[]): Map<string, DiscoveredAgent> {
  return new Map(agents.map((agent) => [agent.key, agent]));
}
