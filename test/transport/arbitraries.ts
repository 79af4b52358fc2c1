// Fast-check generators of every kind of peer message (Raft's and the runtime's forwarding), covering the edges of the encoding: ids of
// every Unicode plane and of maximum length, numbers up to Number.MAX_SAFE_INTEGER, entries whose
// index and term follow on or jump, empty and non-empty bytes.

import fc from "fast-check";
import type {
  ModuleMessage,
  PeerMessage,
  ProposeRequest,
  ProposeResponse,
} from "../../src/transport/peer-message.js";
import type { Entry, Membership, Message, NodeId } from "../../src/raft/types.js";

/** The seed every property in this directory runs with, so CI sees the same cases every time. */
export const SEED = 20_240_611;

const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

/** Node ids: mostly short and ASCII as in practice, sometimes any code point, sometimes 255 bytes. */
export const nodeIdArb: fc.Arbitrary<NodeId> = fc
  .oneof(
    { weight: 4, arbitrary: fc.constantFrom("a", "b", "c", "node-1", "juno-eu-west-2") },
    { weight: 2, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 16 }) },
    { weight: 1, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 200, maxLength: 255 }) },
    { weight: 1, arbitrary: fc.constant("\u{1F980}".repeat(63)) },
  )
  .filter((id) => utf8Length(id) <= 255);

/** Non-negative safe integers, weighted towards the varint length boundaries. */
export const numberArb: fc.Arbitrary<number> = fc.oneof(
  fc.nat(300),
  fc.integer({ min: 2 ** 31 - 3, max: 2 ** 32 + 3 }),
  fc.constantFrom(0, 127, 128, 16_383, 16_384, 2 ** 35, 2 ** 49 - 1, 2 ** 49, Number.MAX_SAFE_INTEGER),
  fc.maxSafeNat(),
);

const bytesArb = (maxLength: number): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ maxLength }).map((bytes) => new Uint8Array(bytes));

const entryArb: fc.Arbitrary<Entry> = fc.record({
  index: numberArb,
  term: numberArb,
  type: fc.constantFrom("normal" as const, "config" as const),
  data: bytesArb(40),
});

/** Entries as Raft sends them: consecutive indexes from prevIndex + 1, terms that only grow. */
function consecutiveEntries(prevIndex: number, term: number): fc.Arbitrary<Entry[]> {
  return fc
    .array(fc.record({ bump: fc.boolean(), config: fc.boolean(), data: bytesArb(40) }), { maxLength: 12 })
    .map((specs) => {
      let entryTerm = term;
      return specs.map((spec, i) => {
        if (spec.bump && entryTerm < Number.MAX_SAFE_INTEGER) entryTerm++;
        return {
          index: prevIndex + 1 + i,
          term: entryTerm,
          type: spec.config ? ("config" as const) : ("normal" as const),
          data: spec.data,
        };
      });
    });
}

const membershipArb: fc.Arbitrary<Membership> = fc.record({
  voters: fc.array(nodeIdArb, { maxLength: 7 }),
  learners: fc.array(nodeIdArb, { maxLength: 3 }),
});

const head = fc.record({ from: nodeIdArb, to: nodeIdArb, term: numberArb });

/** Any message, every field arbitrary within its type. */
export const messageArb: fc.Arbitrary<Message> = fc.oneof(
  fc
    .record({
      h: head,
      type: fc.constantFrom("vote" as const, "pre_vote" as const),
      lastLogIndex: numberArb,
      lastLogTerm: numberArb,
      transfer: fc.boolean(),
    })
    .map(({ h, ...rest }) => ({ ...h, ...rest })),
  fc
    .record({
      h: head,
      type: fc.constantFrom("vote_resp" as const, "pre_vote_resp" as const),
      reject: fc.boolean(),
    })
    .map(({ h, ...rest }) => ({ ...h, ...rest })),
  fc
    .record({
      h: head,
      prevIndex: fc.oneof(numberArb, fc.nat(1_000_000)),
      prevTerm: numberArb,
      commit: numberArb,
      arbitraryEntries: fc.option(fc.array(entryArb, { maxLength: 8 })),
    })
    .chain(({ h, prevIndex, prevTerm, commit, arbitraryEntries }) => {
      // Consecutive entries must not run past Number.MAX_SAFE_INTEGER.
      const base = arbitraryEntries !== null ? prevIndex : Math.min(prevIndex, Number.MAX_SAFE_INTEGER - 20);
      const entries =
        arbitraryEntries !== null ? fc.constant(arbitraryEntries) : consecutiveEntries(base, h.term);
      return entries.map((list) => ({
        ...h,
        type: "append" as const,
        prevIndex: base,
        prevTerm,
        entries: list,
        commit,
      }));
    }),
  fc
    .record({
      h: head,
      reject: fc.boolean(),
      index: numberArb,
      hintIndex: numberArb,
      hintTerm: numberArb,
    })
    .map(({ h, ...rest }) => ({ ...h, type: "append_resp" as const, ...rest })),
  fc
    .record({ h: head, commit: numberArb, readSeq: numberArb })
    .map(({ h, ...rest }) => ({ ...h, type: "heartbeat" as const, ...rest })),
  fc
    .record({ h: head, readSeq: numberArb })
    .map(({ h, ...rest }) => ({ ...h, type: "heartbeat_resp" as const, ...rest })),
  fc
    .record({
      h: head,
      index: numberArb,
      snapshotTerm: numberArb,
      membership: membershipArb,
      totalBytes: numberArb,
      offset: numberArb,
      chunk: bytesArb(300),
    })
    .map(({ h, ...rest }) => ({ ...h, type: "snapshot" as const, ...rest })),
  fc
    .record({ h: head, index: numberArb, received: numberArb })
    .map(({ h, ...rest }) => ({ ...h, type: "snapshot_resp" as const, ...rest })),
  head.map((h) => ({ ...h, type: "timeout_now" as const })),
  fc
    .record({ h: head, context: numberArb })
    .map(({ h, ...rest }) => ({ ...h, type: "read_index" as const, ...rest })),
  fc
    .record({ h: head, context: numberArb, index: numberArb, reject: fc.boolean() })
    .map(({ h, ...rest }) => ({ ...h, type: "read_index_resp" as const, ...rest })),
);

const textArb = fc.string({ minLength: 1, maxLength: 40, unit: "grapheme" });

/** The runtime's forwarding messages (batches of client proposals, the leader's answers) and modules' messages. */
export const forwardArb: fc.Arbitrary<ProposeRequest | ProposeResponse | ModuleMessage> = fc.oneof(
  fc
    .record({
      h: head,
      proposals: fc.array(
        fc.record({
          origin: textArb,
          kind: textArb,
          body: fc.string({ minLength: 1, maxLength: 200 }).filter(isWellFormed),
        }),
        {
          minLength: 1,
          maxLength: 5,
        },
      ),
    })
    .map(({ h, proposals }) => ({ ...h, type: "propose" as const, proposals })),
  fc
    .record({
      h: head,
      outcomes: fc.array(
        fc.oneof(
          fc.record({ origin: textArb, ok: fc.constant(true as const), index: numberArb, term: numberArb }),
          fc.record({
            origin: textArb,
            ok: fc.constant(false as const),
            code: textArb,
            leaderId: fc.option(nodeIdArb, { nil: null }),
          }),
        ),
        { minLength: 1, maxLength: 5 },
      ),
    })
    .map(({ h, outcomes }) => ({ ...h, type: "propose_resp" as const, outcomes })),
  fc
    .record({
      h: head,
      channel: textArb,
      payload: fc.string({ minLength: 1, maxLength: 200 }).filter(isWellFormed),
    })
    .map(({ h, channel, payload }) => ({ ...h, type: "module" as const, channel, payload })),
);

/** Any message the peer transport carries. */
export const peerMessageArb: fc.Arbitrary<PeerMessage> = fc.oneof(messageArb, forwardArb);

function isWellFormed(text: string): boolean {
  return new TextDecoder().decode(new TextEncoder().encode(text)) === text;
}

/** A non-empty batch of messages, as one frame carries. */
export const batchArb: fc.Arbitrary<PeerMessage[]> = fc.array(peerMessageArb, { minLength: 1, maxLength: 6 });
