/**
 * The kernel of the replicated state machine: apply(entry) runs the entry through the module that
 * owns its command kind, and says what happened. Pure and deterministic: time comes inside the
 * entry, ids come from the leader, and every replica reaches the same state and the same hash.
 *
 * Invariant: appliedIndex only grows, one entry at a time.
 */

import { decodeChange } from "../raft/membership.js";
import { assert } from "../raft/assert.js";
import type { Entry } from "../raft/types.js";
import { EnvelopeError, type Envelope } from "./envelope.js";
import { chainHash } from "./hash.js";
import type { Static, TSchema } from "typebox";
import type {
  Accepted,
  ApplyContext,
  AuditEvent,
  CommandSpec,
  Notice,
  Refusal,
  RowChange,
  StateModule,
} from "./module.js";
import type { AnyStateModule, ModuleRegistry, RegisteredCommand } from "./registry.js";

/** What one entry did when applied. */
export type EntryOutcome =
  | { readonly kind: "none" }
  | { readonly kind: "ok"; readonly value: unknown }
  | { readonly kind: "refused"; readonly code: string; readonly message: string };

/** An applied entry: its outcome, the rows to write, and the forwarded request it answers. */
export interface AppliedEntry {
  readonly outcome: EntryOutcome;
  readonly changes: readonly RowChange[];
  readonly origin: string | null;
}

const NONE: EntryOutcome = { kind: "none" };

/** Notices one entry may raise, and commands it may invoke, before the kernel calls it a runaway loop. */
export const MAX_NOTICES_PER_ENTRY = 1_000_000;

/** The replicated state: one state per module, the applied index and the state hash. */
export class ControlState {
  /** The last applied index. */
  appliedIndex = 0;
  /** The hash chain over every applied entry (see hash.ts). */
  hash = 0;
  private readonly states = new Map<string, unknown>();
  private readonly reader = <S>(module: StateModule<S>): S => this.of(module);
  /** Modules that raise notices, and modules that hear them, in registry order. */
  private readonly raising: readonly AnyStateModule[];
  private readonly hearing: readonly AnyStateModule[];
  /** Modules that record audited commands, in registry order. */
  private readonly auditing: readonly AnyStateModule[];

  constructor(readonly registry: ModuleRegistry) {
    for (const module of registry.modules) this.states.set(module.name, module.section.empty());
    this.raising = registry.modules.filter((module) => module.takeNotices !== undefined);
    this.hearing = registry.modules.filter((module) => module.onNotice !== undefined);
    this.auditing = registry.modules.filter((module) => module.onAudited !== undefined);
  }

  /** The state of `module` (read it; only apply changes it). */
  of<S>(module: StateModule<S>): S {
    assert(this.states.has(module.name), () => `module ${module.name} is not registered`);
    // The registry created this entry from module.section.empty() or a restore of its own section.
    return this.states.get(module.name) as S;
  }

  /** Replaces a module's state wholesale (snapshot restore only). */
  put(name: string, state: unknown): void {
    assert(this.states.has(name), () => `module ${name} is not registered`);
    this.states.set(name, state);
  }

  /** Applies the next committed entry. A command refused by its module changes nothing. */
  apply(entry: Entry): AppliedEntry {
    assert(entry.index === this.appliedIndex + 1, () => `applying ${entry.index} after ${this.appliedIndex}`);
    this.appliedIndex = entry.index;
    this.hash = chainHash(this.hash, entry);
    if (entry.type === "config") return this.applyMembershipChange(entry);
    if (entry.data.length === 0) return { outcome: NONE, changes: [], origin: null };
    let envelope: Envelope;
    try {
      envelope = this.registry.takeEnvelope(entry.data);
    } catch (error) {
      // Only leaders write entries, and they write envelopes: anything else is a broken invariant.
      if (error instanceof EnvelopeError) assert(false, () => `entry ${entry.index}: ${error.message}`);
      throw error;
    }
    const changes: RowChange[] = [];
    let budget = MAX_NOTICES_PER_ENTRY;
    const invoke = <S, T extends TSchema, R>(
      spec: CommandSpec<S, T, R>,
      body: Static<T>,
    ): Accepted<R> | Refusal => {
      assert(--budget > 0, () => `entry ${entry.index} invoked more than ${MAX_NOTICES_PER_ENTRY} commands`);
      const registered = this.registry.command(spec.kind);
      assert(registered !== undefined, () => `invoked command kind ${spec.kind} is not registered`);
      const applied = this.applyBody(registered, body, context);
      changes.push(...applied.changes);
      const outcome = applied.outcome;
      if (outcome.kind === "ok") return { ok: true, value: outcome.value as R };
      assert(outcome.kind === "refused", "a command's outcome is ok or refused");
      return { ok: false, code: outcome.code, message: outcome.message };
    };
    const context: ApplyContext = {
      index: entry.index,
      term: entry.term,
      timestamp: envelope.ts,
      actor: envelope.actor,
      read: this.reader,
      invoke,
    };
    const applied = this.applyCommand(envelope, context);
    const queue = this.takeNotices([]);
    // Most entries invoke nothing and raise nothing: their own rows are the entry's.
    if (changes.length === 0 && queue.length === 0) return { ...applied, origin: envelope.origin };
    const all = [...applied.changes, ...changes];
    // What reactions invoke lands in `changes` from here on: hand it to `all` after each one.
    changes.length = 0;
    for (let next = 0; next < queue.length; next++) {
      assert(--budget > 0, () => `entry ${entry.index} raised more than ${MAX_NOTICES_PER_ENTRY} notices`);
      const notice = queue[next]!;
      for (const module of this.hearing) {
        const own = module.onNotice!(this.states.get(module.name), notice, context);
        all.push(...changes, ...own);
        changes.length = 0;
        this.takeNotices(queue);
      }
    }
    return { outcome: applied.outcome, changes: all, origin: envelope.origin };
  }

  /** Appends to `queue` the notices every module raised since it was last asked; returns the queue. */
  private takeNotices(queue: Notice[]): Notice[] {
    for (const module of this.raising) {
      const raised = module.takeNotices!(this.states.get(module.name));
      if (raised.length > 0) queue.push(...raised);
    }
    return queue;
  }

  private applyCommand(envelope: Envelope, context: ApplyContext): Omit<AppliedEntry, "origin"> {
    const registered =
      envelope.legacy === undefined
        ? this.registry.command(envelope.kind)
        : this.registry.legacyCommand(envelope.kind);
    // A kind this build does not know would leave this replica behind the others: stop instead.
    assert(
      registered !== undefined,
      () => `entry ${context.index} has unknown command kind ${envelope.kind}`,
    );
    const body =
      envelope.legacy === undefined ? envelope.body : registered.spec.legacy!.body(envelope.legacy);
    const applied = this.applyBody(registered, body, context);
    if (registered.spec.audit === undefined || this.auditing.length === 0) return applied;
    return {
      outcome: applied.outcome,
      changes: [...applied.changes, ...this.audit(registered, body, applied.outcome, context)],
    };
  }

  /** Hands an audited command's outcome to the modules that record it; their row changes. */
  private audit(
    registered: RegisteredCommand,
    body: unknown,
    outcome: EntryOutcome,
    context: ApplyContext,
  ): RowChange[] {
    // A body the schema refused says nothing reliable about what it meant to do.
    if (this.registry.problem(registered.spec.kind, body) !== null) return [];
    const event: AuditEvent = {
      kind: registered.spec.kind,
      ...registered.spec.audit!(body),
      actor: context.actor ?? null,
      outcome:
        outcome.kind === "refused"
          ? { ok: false, code: outcome.code, message: outcome.message }
          : { ok: true },
    };
    const changes: RowChange[] = [];
    for (const module of this.auditing)
      changes.push(...module.onAudited!(this.states.get(module.name), event, context));
    return changes;
  }

  private applyBody(
    registered: RegisteredCommand,
    body: unknown,
    context: ApplyContext,
  ): Omit<AppliedEntry, "origin"> {
    const problem = this.registry.problem(registered.spec.kind, body);
    if (problem !== null) {
      return { outcome: { kind: "refused", code: "invalid_command", message: problem }, changes: [] };
    }
    const applied = registered.spec.apply(this.states.get(registered.module.name), body, context);
    const outcome: EntryOutcome = applied.outcome.ok
      ? { kind: "ok", value: applied.outcome.value }
      : { kind: "refused", code: applied.outcome.code, message: applied.outcome.message };
    return { outcome, changes: applied.changes };
  }

  private applyMembershipChange(entry: Entry): AppliedEntry {
    const change = decodeChange(entry.data);
    const context: ApplyContext = { index: entry.index, term: entry.term, timestamp: 0 };
    const changes: RowChange[] = [];
    for (const module of this.registry.modules) {
      const hook = module.onMembershipChange;
      if (hook !== undefined) changes.push(...hook(this.states.get(module.name), change, context));
    }
    return { outcome: NONE, changes, origin: null };
  }
}
