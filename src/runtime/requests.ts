/**
 * The request tracker: clients waiting for their proposal to apply, and reads waiting for a read
 * index. A proposal is known by where it landed (index and term), and a forwarded one also by its
 * origin, before the leader has said where it landed. Each waiter is settled exactly once: by its
 * entry applying, by another entry taking its slot, by a snapshot covering it, or by its timeout.
 */

import type { AppliedEntry, EntryOutcome } from "../control/index.js";
import type { Entry, NodeId } from "../raft/types.js";
import type { Clock, TimerHandle } from "./clock.js";
import { NodeError } from "./errors.js";

/** How a proposal ended. */
export type SubmitResult =
  | { readonly ok: true; readonly index: number; readonly term: number; readonly outcome: EntryOutcome }
  | { readonly ok: false; readonly error: NodeError };

/** Called once with a proposal's end. */
export type SubmitDone = (result: SubmitResult) => void;

/** Called once when a read may be served (null) or cannot be (the error). */
export type ReadDone = (error: NodeError | null) => void;

interface ProposalWaiter {
  readonly done: SubmitDone;
  readonly origin: string | null;
  /** Where the entry landed, once known. */
  index: number;
  term: number;
  timer: TimerHandle | null;
  settled: boolean;
}

interface ReadWaiter {
  readonly done: ReadDone;
  index: number;
  timer: TimerHandle | null;
  settled: boolean;
}

/** Everyone waiting on this node, bounded by `maxPending`. */
export class RequestTracker {
  private readonly byIndex = new Map<number, ProposalWaiter>();
  private readonly byOrigin = new Map<string, ProposalWaiter>();
  private readonly reads = new Map<number, ReadWaiter>();
  private readsWaitingForApply: ReadWaiter[] = [];
  private nextReadContext = 1;

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly maxPending: number,
    private readonly leader: () => NodeId | null,
  ) {}

  /** Proposals and reads in flight. */
  get pending(): number {
    return this.byIndex.size + this.byOrigin.size + this.reads.size + this.readsWaitingForApply.length;
  }

  /** Whether another request would exceed the bound. */
  full(): boolean {
    return this.pending >= this.maxPending;
  }

  /** Waits for the entry a local proposal appended at (index, term). */
  expectEntry(index: number, term: number, done: SubmitDone): void {
    const waiter = this.proposal(done, null);
    waiter.index = index;
    waiter.term = term;
    this.claim(index, waiter);
  }

  /** Waits for a forwarded proposal, known for now only by its origin. */
  expectOrigin(origin: string, done: SubmitDone): void {
    this.byOrigin.set(origin, this.proposal(done, origin));
  }

  /** The leader says where a forwarded proposal landed; another entry there means it was dropped. */
  placeOrigin(origin: string, index: number, term: number): void {
    const waiter = this.byOrigin.get(origin);
    if (waiter === undefined || waiter.settled) return;
    waiter.index = index;
    waiter.term = term;
    this.claim(index, waiter);
  }

  /** Whether a forwarded proposal still waits without knowing where it landed. */
  unplaced(origin: string): boolean {
    const waiter = this.byOrigin.get(origin);
    return waiter !== undefined && !waiter.settled && waiter.index === 0;
  }

  /** Fails a forwarded proposal (refused by the leader, or its fate unknown). */
  failOrigin(origin: string, error: NodeError): void {
    const waiter = this.byOrigin.get(origin);
    if (waiter !== undefined) this.finish(waiter, { ok: false, error });
  }

  /** An entry applied: answers the proposal it carries, or drops the one whose slot it took. */
  settle(entry: Entry, applied: AppliedEntry): void {
    if (applied.origin !== null) {
      const mine = this.byOrigin.get(applied.origin);
      if (mine !== undefined) {
        this.finish(mine, { ok: true, index: entry.index, term: entry.term, outcome: applied.outcome });
      }
    }
    const waiter = this.byIndex.get(entry.index);
    if (waiter === undefined) return;
    if (waiter.term === entry.term && (waiter.origin === null || waiter.origin === applied.origin)) {
      this.finish(waiter, { ok: true, index: entry.index, term: entry.term, outcome: applied.outcome });
    } else {
      // Another leader's entry took the slot: ours will never commit.
      this.finish(waiter, {
        ok: false,
        error: new NodeError("proposal_dropped", "leadership changed before the proposal committed"),
      });
    }
  }

  /** A snapshot covered everything through `index`: proposals landed there have an unknown fate here. */
  failCoveredBy(index: number): void {
    for (const [at, waiter] of this.byIndex) {
      if (at > index) continue;
      this.finish(waiter, {
        ok: false,
        error: new NodeError("outcome_unknown", "the outcome was folded into a snapshot; check the log"),
      });
    }
  }

  /** Registers a read; returns the context to hand Raft's readIndex. */
  expectRead(done: ReadDone): number {
    const context = this.nextReadContext++;
    const waiter: ReadWaiter = { done, index: 0, timer: null, settled: false };
    waiter.timer = this.clock.setTimeout(
      () =>
        this.finishRead(
          waiter,
          new NodeError("timeout", "no read index within the timeout", this.leader()),
          context,
        ),
      this.timeoutMs,
    );
    this.reads.set(context, waiter);
    return context;
  }

  /** The contexts of reads still waiting for Raft to give them an index. */
  waitingReads(): number[] {
    return [...this.reads.keys()];
  }

  /** Raft gave the read its index: serve it once the state has applied that far. */
  readReady(context: number, index: number): void {
    const waiter = this.reads.get(context);
    if (waiter === undefined) return;
    this.reads.delete(context);
    waiter.index = index;
    this.readsWaitingForApply.push(waiter);
  }

  /** Raft could not confirm a read. */
  failRead(context: number, reason: "no_leader" | "not_leader" | "dropped"): void {
    const waiter = this.reads.get(context);
    if (waiter === undefined) return;
    const code = reason === "no_leader" ? "no_leader" : "not_leader";
    this.finishRead(waiter, new NodeError(code, `read refused: ${reason}`, this.leader()), context);
  }

  /** Serves the reads whose index has been applied. */
  serveReads(appliedIndex: number): void {
    if (this.readsWaitingForApply.length === 0) return;
    const waiting = this.readsWaitingForApply;
    this.readsWaitingForApply = [];
    for (const waiter of waiting) {
      if (waiter.settled) continue;
      if (waiter.index <= appliedIndex) this.finishRead(waiter, null, null);
      else this.readsWaitingForApply.push(waiter);
    }
  }

  /** Fails everything (the node is stopping). */
  failAll(error: NodeError): void {
    for (const waiter of [...this.byIndex.values(), ...this.byOrigin.values()])
      this.finish(waiter, { ok: false, error });
    for (const [context, waiter] of [...this.reads]) this.finishRead(waiter, error, context);
    for (const waiter of this.readsWaitingForApply) this.finishRead(waiter, error, null);
    this.readsWaitingForApply = [];
  }

  /** Records `waiter` at `index`; one still waiting there lost its slot to a newer leader's entry. */
  private claim(index: number, waiter: ProposalWaiter): void {
    const previous = this.byIndex.get(index);
    if (previous !== undefined && previous !== waiter && previous.term !== waiter.term) {
      this.finish(previous, {
        ok: false,
        error: new NodeError("proposal_dropped", "leadership changed before the proposal committed"),
      });
    }
    this.byIndex.set(index, waiter);
  }

  private proposal(done: SubmitDone, origin: string | null): ProposalWaiter {
    const waiter: ProposalWaiter = { done, origin, index: 0, term: 0, timer: null, settled: false };
    waiter.timer = this.clock.setTimeout(() => {
      this.finish(waiter, {
        ok: false,
        error: new NodeError(
          "timeout",
          "the proposal was not committed within the timeout; it may still commit",
          this.leader(),
        ),
      });
    }, this.timeoutMs);
    return waiter;
  }

  private finish(waiter: ProposalWaiter, result: SubmitResult): void {
    if (waiter.settled) return;
    waiter.settled = true;
    if (waiter.timer !== null) this.clock.clearTimeout(waiter.timer);
    if (waiter.origin !== null) this.byOrigin.delete(waiter.origin);
    if (waiter.index !== 0 && this.byIndex.get(waiter.index) === waiter) this.byIndex.delete(waiter.index);
    waiter.done(result);
  }

  private finishRead(waiter: ReadWaiter, error: NodeError | null, context: number | null): void {
    if (waiter.settled) return;
    waiter.settled = true;
    if (waiter.timer !== null) this.clock.clearTimeout(waiter.timer);
    if (context !== null) this.reads.delete(context);
    waiter.done(error);
  }
}
