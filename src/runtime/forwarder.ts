/**
 * Forwarding client proposals from a follower to the leader over the peer transport, in batches:
 * everything the follower's clients proposed in one event-loop turn travels in one `propose`
 * message, and the leader answers with one `propose_resp` saying where each landed. The follower
 * then waits for the entry like for its own: the entry carries the proposal's origin, so the
 * follower answers its client when it applies the entry, whether or not the answer arrived first.
 *
 * A proposal made for an API caller (an audited command) carries its actor: the proposal's body
 * text is then the body's JSON, a newline, and the actor's JSON. JSON text never holds a raw
 * newline, so the two cannot be confused, and a proposal without an actor is exactly what it was
 * before actors existed (a leader of an older build refuses one with an actor as malformed).
 */

import {
  EnvelopeError,
  actorText,
  encodeEnvelope,
  parseActor,
  type Actor,
  type ModuleRegistry,
} from "../control/index.js";
import type { NodeId, ProposeResult } from "../raft/types.js";
import type {
  ForwardedOutcome,
  ForwardedProposal,
  PeerMessage,
  ProposeRequest,
  ProposeResponse,
} from "../transport/peer-message.js";
import { NodeError, isNodeErrorCode } from "./errors.js";
import type { RequestTracker, SubmitDone } from "./requests.js";

/** Most proposals in one forwarded batch. */
export const MAX_FORWARD_BATCH = 1024;
/** Most body bytes in one forwarded batch (the transport's frames are far larger). */
export const MAX_FORWARD_BATCH_BYTES = 4 * 1024 * 1024;
/** Outcomes the leader remembers by origin, so a proposal that arrives twice is appended once. */
export const REMEMBERED_OUTCOMES = 65_536;

/** What the forwarder needs of its node. */
export interface ForwarderHost {
  readonly id: NodeId;
  readonly registry: ModuleRegistry;
  readonly requests: RequestTracker;
  send(messages: readonly PeerMessage[]): void;
  /** The current term (stamped on forwarding messages for the record; Raft ignores them). */
  term(): number;
  now(): number;
  /** Appends an entry as leader. */
  propose(data: Uint8Array): ProposeResult;
}

/** Both halves of forwarding: the follower's batching and the leader's appending. */
export class Forwarder {
  private sequence = 0;
  private batch: { leader: NodeId; proposals: ForwardedProposal[]; bytes: number } | null = null;
  /** Forwarded proposals not yet placed by the leader, by origin: the leader they went to. */
  private readonly sentTo = new Map<string, NodeId>();
  private readonly originPrefix: string;
  /** Leader: the outcome of each recently forwarded proposal, oldest first. */
  private readonly outcomes = new Map<string, ForwardedOutcome>();

  constructor(
    private readonly host: ForwarderHost,
    /** Distinguishes this process's origins from a previous run's, whose entries may still apply. */
    bootId: string,
  ) {
    this.originPrefix = `${host.id}/${bootId}/`;
  }

  /** Follower: queues a proposal for `leader`; `done` hears the outcome once the entry applies here. */
  forward(leader: NodeId, kind: string, body: unknown, done: SubmitDone, actor: Actor | null = null): void {
    const origin = this.originPrefix + String(++this.sequence);
    const bodyText = JSON.stringify(body) ?? "null";
    const text = actor === null ? bodyText : `${bodyText}\n${actorText(actor)}`;
    this.host.requests.expectOrigin(origin, done);
    if (this.batch !== null && this.batch.leader !== leader) this.flush();
    this.batch ??= { leader, proposals: [], bytes: 0 };
    this.batch.proposals.push({ origin, kind, body: text });
    this.batch.bytes += text.length;
    if (this.batch.proposals.length >= MAX_FORWARD_BATCH || this.batch.bytes >= MAX_FORWARD_BATCH_BYTES)
      this.flush();
  }

  /** Sends the queued batch (the loop calls this at the end of every turn's inputs); whether it sent one. */
  flush(): boolean {
    const batch = this.batch;
    if (batch === null) return false;
    this.batch = null;
    for (const proposal of batch.proposals) this.sentTo.set(proposal.origin, batch.leader);
    const message: ProposeRequest = {
      type: "propose",
      from: this.host.id,
      to: batch.leader,
      term: this.host.term(),
      proposals: batch.proposals,
    };
    this.host.send([message]);
    return true;
  }

  /** Follower: the leader said where each proposal landed, or why it could not take it. */
  onResponse(message: ProposeResponse): void {
    for (const outcome of message.outcomes) {
      this.sentTo.delete(outcome.origin);
      if (outcome.ok) {
        this.host.requests.placeOrigin(outcome.origin, outcome.index, outcome.term);
        continue;
      }
      const code = isNodeErrorCode(outcome.code) ? outcome.code : "proposal_dropped";
      this.host.requests.failOrigin(
        outcome.origin,
        new NodeError(
          code,
          `the leader ${message.from} refused the proposal: ${outcome.code}`,
          outcome.leaderId,
        ),
      );
    }
  }

  /**
   * Follower: the leader changed. Proposals sent to another leader that never said where they
   * landed may or may not commit: their clients hear so now instead of at the timeout. (If one
   * does commit, it simply applies; nobody is waiting for it any more.)
   */
  onLeaderChange(leader: NodeId | null): void {
    if (this.batch !== null && this.batch.leader !== leader) {
      const lost = this.batch.proposals;
      this.batch = null;
      for (const proposal of lost) {
        this.host.requests.failOrigin(
          proposal.origin,
          new NodeError("not_leader", "the leader changed before the proposal was forwarded", leader),
        );
      }
    }
    for (const [origin, sentTo] of this.sentTo) {
      if (sentTo === leader) continue;
      this.sentTo.delete(origin);
      if (!this.host.requests.unplaced(origin)) continue;
      this.host.requests.failOrigin(
        origin,
        new NodeError(
          "outcome_unknown",
          `leadership moved from ${sentTo} before it confirmed the proposal; it may or may not have committed`,
          leader,
        ),
      );
    }
  }

  /** Leader: appends a follower's batch and answers with where each proposal landed. */
  onRequest(message: ProposeRequest, leaderId: NodeId | null): void {
    const outcomes: ForwardedOutcome[] = message.proposals.map((proposal) => {
      // A duplicated message must not append twice: answer with the first outcome.
      const known = this.outcomes.get(proposal.origin);
      if (known !== undefined) return known;
      const outcome = this.append(proposal, leaderId);
      this.outcomes.set(proposal.origin, outcome);
      if (this.outcomes.size > REMEMBERED_OUTCOMES) this.outcomes.delete(this.outcomes.keys().next().value!);
      return outcome;
    });
    const answer: ProposeResponse = {
      type: "propose_resp",
      from: this.host.id,
      to: message.from,
      term: this.host.term(),
      outcomes,
    };
    this.host.send([answer]);
  }

  private append(proposal: ForwardedProposal, leaderId: NodeId | null): ForwardedOutcome {
    const refuse = (code: string): ForwardedOutcome => ({
      origin: proposal.origin,
      ok: false,
      code,
      leaderId,
    });
    const cut = proposal.body.indexOf("\n");
    let body: unknown;
    let actor: Actor | null = null;
    try {
      body = JSON.parse(cut < 0 ? proposal.body : proposal.body.slice(0, cut));
      if (cut >= 0) {
        actor = parseActor(JSON.parse(proposal.body.slice(cut + 1)));
        if (actor === null) return refuse("invalid_command");
      }
    } catch {
      return refuse("invalid_command");
    }
    // A peer is authenticated, but the log is forever: nothing malformed goes into it.
    if (this.host.registry.problem(proposal.kind, body) !== null) return refuse("invalid_command");
    let data: Uint8Array;
    try {
      data = encodeEnvelope(proposal.kind, this.host.now(), proposal.origin, body, actor);
    } catch (error) {
      if (error instanceof EnvelopeError) return refuse("invalid_command");
      throw error;
    }
    const result = this.host.propose(data);
    if (!result.ok)
      return { origin: proposal.origin, ok: false, code: result.code, leaderId: result.leaderId };
    return { origin: proposal.origin, ok: true, index: result.index, term: result.term };
  }
}
