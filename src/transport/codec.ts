/**
 * The binary encoding of Raft messages and of batches of them, as they travel inside one frame.
 *
 * Layout (every number is an unsigned LEB128 varint unless it says u8):
 *
 *   batch   = count (>= 1) message*count
 *   message = tag:u8 from:id to:id term body
 *   id      = length (1..maxNodeIdBytes) UTF-8 bytes
 *   bytes   = length raw bytes
 *   bool    = u8 0 | 1
 *
 *   tag  type             body
 *   1    vote             lastLogIndex lastLogTerm transfer:bool
 *   2    pre_vote         lastLogIndex lastLogTerm transfer:bool
 *   3    vote_resp        reject:bool
 *   4    pre_vote_resp    reject:bool
 *   5    append           prevIndex prevTerm commit count entry*count
 *   6    append_resp      reject:bool index hintIndex hintTerm
 *   7    heartbeat        commit readSeq
 *   8    heartbeat_resp   readSeq
 *   9    snapshot         index snapshotTerm voters:(count id*) learners:(count id*) totalBytes offset chunk:bytes
 *   10   snapshot_resp    index received
 *   11   timeout_now      (nothing)
 *   12   read_index       context
 *   13   read_index_resp  context index reject:bool
 *   14   propose          count (origin:text kind:text body:text)*count
 *   15   propose_resp     count (origin:text ok:bool (index term | code:text hasLeader:bool [leader:id]))*count
 *   16   module           channel:text payload:text
 *
 *   entry = flags:u8 [index] [term] data:bytes
 *     flags bit 0: a config entry (else normal)
 *     flags bit 1: index follows; when clear the index is the previous entry's + 1 (the first
 *                  entry's previous is prevIndex), which is what Raft always sends
 *     flags bit 2: term follows; when clear the term is the previous entry's (the first entry's
 *                  previous is the message term)
 *
 * Every value has exactly one encoding (minimal varints, booleans 0 or 1, a flag set only when
 * the implied value would be wrong, no trailing bytes), so decode(bytes) re-encodes to `bytes`.
 * The fuzz tests check exactly that. Numbers are non-negative safe integers (up to 2^53 - 1).
 */

import type { Entry, Membership, NodeId } from "../raft/types.js";
import type { ForwardedOutcome, ForwardedProposal, PeerMessage } from "./peer-message.js";
import { ByteReader } from "./byte-reader.js";
import { ByteWriter, varintSize } from "./byte-writer.js";
import { CodecError } from "./codec-error.js";

/** Upper bounds the decoder enforces (and the encoder respects) on top of the frame's own size. */
export interface CodecLimits {
  /** Longest node id, in UTF-8 bytes. */
  readonly maxNodeIdBytes: number;
  /** Most voters plus learners in a snapshot's membership. */
  readonly maxMembershipNodes: number;
  /** Most entries in one append. */
  readonly maxEntriesPerMessage: number;
  /** Most messages in one batch (one frame). */
  readonly maxBatchMessages: number;
  /** Longest entry data or snapshot chunk, in bytes. */
  readonly maxBytesFieldLength: number;
}

/** Limits generous enough for any message the Raft core sends with its default options. */
export const DEFAULT_CODEC_LIMITS: CodecLimits = {
  maxNodeIdBytes: 255,
  maxMembershipNodes: 4096,
  maxEntriesPerMessage: 1_000_000,
  maxBatchMessages: 65_536,
  maxBytesFieldLength: 64 * 1024 * 1024,
};

/** The wire tag of each message type; 0 is never valid, so a zeroed buffer cannot pass for a message. */
const TAG_OF: Readonly<Record<PeerMessage["type"], number>> = {
  vote: 1,
  pre_vote: 2,
  vote_resp: 3,
  pre_vote_resp: 4,
  append: 5,
  append_resp: 6,
  heartbeat: 7,
  heartbeat_resp: 8,
  snapshot: 9,
  snapshot_resp: 10,
  timeout_now: 11,
  read_index: 12,
  read_index_resp: 13,
  propose: 14,
  propose_resp: 15,
  module: 16,
};

/** The smallest encoded forwarded proposal: three one-byte texts. */
const MIN_PROPOSAL_BYTES = 6;
/** The smallest encoded forwarded outcome: a one-byte origin, a flag and two one-byte numbers. */
const MIN_OUTCOME_BYTES = 5;

const ENTRY_CONFIG = 0b001;
const ENTRY_EXPLICIT_INDEX = 0b010;
const ENTRY_EXPLICIT_TERM = 0b100;
const ENTRY_FLAGS_KNOWN = ENTRY_CONFIG | ENTRY_EXPLICIT_INDEX | ENTRY_EXPLICIT_TERM;

/** The smallest encoded message (timeout_now between one-byte ids in term 0): tag, two ids, term. */
const MIN_MESSAGE_BYTES = 6;
/** The smallest encoded entry: flags and an empty data length. */
const MIN_ENTRY_BYTES = 2;
/** The smallest encoded node id: length and one byte. */
const MIN_ID_BYTES = 2;

// ---------------------------------------------------------------- node ids

const utf8Encoder = new TextEncoder();
/** Keeps a leading byte order mark, which is part of the id like any other character. */
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });
/** Encoded ids, because a node sends to the same handful of peers millions of times. */
const encodedIds = new Map<NodeId, Uint8Array>();
const ENCODED_ID_CACHE_MAX = 4096;

/** The UTF-8 bytes of a node id, refusing ids that are empty, too long or not well-formed Unicode. */
function idBytes(id: NodeId, limits: CodecLimits): Uint8Array {
  let bytes = encodedIds.get(id);
  if (bytes === undefined) {
    if (typeof id !== "string" || id.length === 0) throw invalid("a node id must be a non-empty string");
    bytes = utf8Encoder.encode(id);
    // A lone surrogate would be replaced by U+FFFD and arrive as a different id.
    if (utf8Decoder.decode(bytes) !== id) throw invalid(`node id ${JSON.stringify(id)} is not well-formed`);
    if (encodedIds.size >= ENCODED_ID_CACHE_MAX) encodedIds.clear();
    encodedIds.set(id, bytes);
  }
  if (bytes.length > limits.maxNodeIdBytes) {
    throw invalid(`node id is ${bytes.length} bytes, more than ${limits.maxNodeIdBytes}`);
  }
  return bytes;
}

/** Throws CodecError unless `id` can travel as a node id (non-empty, well-formed, within the byte limit). */
export function validateNodeId(id: NodeId, limits: CodecLimits = DEFAULT_CODEC_LIMITS): void {
  idBytes(id, limits);
}

function idSize(id: NodeId, limits: CodecLimits): number {
  const length = idBytes(id, limits).length;
  return varintSize(length) + length;
}

// ---------------------------------------------------------------- encoding

/** Encodes one message into a buffer of exactly its size. Throws CodecError if it has no encoding. */
export function encodeMessage(message: PeerMessage, limits: CodecLimits = DEFAULT_CODEC_LIMITS): Uint8Array {
  textBytes.clear();
  const writer = new ByteWriter(new Uint8Array(messageSize(message, limits)));
  writeMessage(writer, message, limits);
  return writer.finish();
}

/** Encodes several messages as one batch: the payload of one frame. */
export function encodeBatch(
  messages: readonly PeerMessage[],
  limits: CodecLimits = DEFAULT_CODEC_LIMITS,
): Uint8Array {
  return joinEncodedMessages(
    messages.map((message) => encodeMessage(message, limits)),
    0,
  );
}

/**
 * Joins messages that were encoded one by one (when they were queued) into one batch, leaving
 * `reserveBytes` free at the front so that a frame header can be written in place instead of
 * copying the whole batch once more.
 */
export function joinEncodedMessages(encoded: readonly Uint8Array[], reserveBytes: number): Uint8Array {
  if (encoded.length === 0) throw invalid("a batch holds at least one message");
  let size = reserveBytes + varintSize(encoded.length);
  for (const part of encoded) size += part.length;
  const writer = new ByteWriter(new Uint8Array(size), reserveBytes);
  writer.varint(encoded.length);
  for (const part of encoded) writer.raw(part);
  return writer.finish();
}

/** How many bytes a batch of already encoded messages takes beyond the messages themselves. */
export function batchOverheadBytes(count: number): number {
  return varintSize(count);
}

function messageSize(m: PeerMessage, limits: CodecLimits): number {
  const head = 1 + idSize(m.from, limits) + idSize(m.to, limits) + numberSize(m.term, "term");
  switch (m.type) {
    case "vote":
    case "pre_vote":
      return head + numberSize(m.lastLogIndex, "lastLogIndex") + numberSize(m.lastLogTerm, "lastLogTerm") + 1;
    case "vote_resp":
    case "pre_vote_resp":
      return head + 1;
    case "append":
      return head + appendBodySize(m.prevIndex, m.prevTerm, m.commit, m.term, m.entries, limits);
    case "append_resp":
      return (
        head +
        1 +
        numberSize(m.index, "index") +
        numberSize(m.hintIndex, "hintIndex") +
        numberSize(m.hintTerm, "hintTerm")
      );
    case "heartbeat":
      return head + numberSize(m.commit, "commit") + numberSize(m.readSeq, "readSeq");
    case "heartbeat_resp":
      return head + numberSize(m.readSeq, "readSeq");
    case "snapshot":
      return (
        head +
        numberSize(m.index, "index") +
        numberSize(m.snapshotTerm, "snapshotTerm") +
        membershipSize(m.membership, limits) +
        numberSize(m.totalBytes, "totalBytes") +
        numberSize(m.offset, "offset") +
        bytesSize(m.chunk, "chunk", limits)
      );
    case "snapshot_resp":
      return head + numberSize(m.index, "index") + numberSize(m.received, "received");
    case "timeout_now":
      return head;
    case "read_index":
      return head + numberSize(m.context, "context");
    case "read_index_resp":
      return head + numberSize(m.context, "context") + numberSize(m.index, "index") + 1;
    case "propose":
      return head + proposalsSize(m.proposals, limits);
    case "propose_resp":
      return head + outcomesSize(m.outcomes, limits);
    case "module":
      return (
        head +
        textSize(m.channel, "channel", limits.maxNodeIdBytes) +
        textSize(m.payload, "payload", limits.maxBytesFieldLength)
      );
    default:
      throw invalid(`unknown message type ${JSON.stringify((m as { type: unknown }).type)}`);
  }
}

function appendBodySize(
  prevIndex: number,
  prevTerm: number,
  commit: number,
  messageTerm: number,
  entries: readonly Entry[],
  limits: CodecLimits,
): number {
  if (entries.length > limits.maxEntriesPerMessage) {
    throw invalid(`${entries.length} entries, more than ${limits.maxEntriesPerMessage}`);
  }
  let size =
    numberSize(prevIndex, "prevIndex") +
    numberSize(prevTerm, "prevTerm") +
    numberSize(commit, "commit") +
    varintSize(entries.length);
  let previousIndex = prevIndex;
  let previousTerm = messageTerm;
  for (const entry of entries) {
    if (entry.type !== "normal" && entry.type !== "config")
      throw invalid(`unknown entry type ${JSON.stringify(entry.type)}`);
    const indexSize = numberSize(entry.index, "entry index");
    const termSize = numberSize(entry.term, "entry term");
    size += 1 + bytesSize(entry.data, "entry data", limits);
    if (entry.index !== previousIndex + 1) size += indexSize;
    if (entry.term !== previousTerm) size += termSize;
    previousIndex = entry.index;
    previousTerm = entry.term;
  }
  return size;
}

function proposalsSize(proposals: readonly ForwardedProposal[], limits: CodecLimits): number {
  if (proposals.length === 0 || proposals.length > limits.maxEntriesPerMessage)
    throw invalid(`${proposals.length} forwarded proposals: between 1 and ${limits.maxEntriesPerMessage}`);
  let size = varintSize(proposals.length);
  for (const p of proposals) {
    size += textSize(p.origin, "origin", limits.maxNodeIdBytes);
    size += textSize(p.kind, "kind", limits.maxNodeIdBytes);
    size += textSize(p.body, "body", limits.maxBytesFieldLength);
  }
  return size;
}

function outcomesSize(outcomes: readonly ForwardedOutcome[], limits: CodecLimits): number {
  if (outcomes.length === 0 || outcomes.length > limits.maxEntriesPerMessage)
    throw invalid(`${outcomes.length} forwarded outcomes: between 1 and ${limits.maxEntriesPerMessage}`);
  let size = varintSize(outcomes.length);
  for (const o of outcomes) {
    size += textSize(o.origin, "origin", limits.maxNodeIdBytes) + 1;
    if (o.ok) size += numberSize(o.index, "index") + numberSize(o.term, "term");
    else {
      size += textSize(o.code, "code", limits.maxNodeIdBytes) + 1;
      if (o.leaderId !== null) size += idSize(o.leaderId, limits);
    }
  }
  return size;
}

/** Encoded texts of the message being encoded: its sizing pass and writing pass encode each once. */
const textBytes = new Map<string, Uint8Array>();

function utf8Of(text: string): Uint8Array {
  let bytes = textBytes.get(text);
  if (bytes === undefined) {
    bytes = utf8Encoder.encode(text);
    textBytes.set(text, bytes);
  }
  return bytes;
}

function textSize(text: string, what: string, maxBytes: number): number {
  if (typeof text !== "string" || text.length === 0) throw invalid(`${what} must be a non-empty string`);
  const bytes = utf8Of(text);
  if (utf8Decoder.decode(bytes) !== text) throw invalid(`${what} is not well-formed Unicode`);
  if (bytes.length > maxBytes) throw invalid(`${what} is ${bytes.length} bytes, more than ${maxBytes}`);
  return varintSize(bytes.length) + bytes.length;
}

/** Writes a text whose size pass already encoded and checked it. */
function writeText(w: ByteWriter, text: string): void {
  w.lengthPrefixed(textBytes.get(text) ?? utf8Encoder.encode(text));
}

function membershipSize(membership: Membership, limits: CodecLimits): number {
  const nodes = membership.voters.length + membership.learners.length;
  if (nodes > limits.maxMembershipNodes) {
    throw invalid(`membership of ${nodes} nodes, more than ${limits.maxMembershipNodes}`);
  }
  let size = varintSize(membership.voters.length) + varintSize(membership.learners.length);
  for (const id of membership.voters) size += idSize(id, limits);
  for (const id of membership.learners) size += idSize(id, limits);
  return size;
}

function numberSize(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${what} is ${String(value)}, not a non-negative safe integer`);
  }
  return varintSize(value);
}

function bytesSize(bytes: Uint8Array, what: string, limits: CodecLimits): number {
  if (!(bytes instanceof Uint8Array)) throw invalid(`${what} is not a Uint8Array`);
  if (bytes.length > limits.maxBytesFieldLength) {
    throw invalid(`${what} is ${bytes.length} bytes, more than ${limits.maxBytesFieldLength}`);
  }
  return varintSize(bytes.length) + bytes.length;
}

/** Writes a message whose size pass already validated every field. */
function writeMessage(w: ByteWriter, m: PeerMessage, limits: CodecLimits): void {
  w.u8(TAG_OF[m.type]);
  w.lengthPrefixed(idBytes(m.from, limits));
  w.lengthPrefixed(idBytes(m.to, limits));
  w.varint(m.term);
  switch (m.type) {
    case "vote":
    case "pre_vote":
      w.varint(m.lastLogIndex);
      w.varint(m.lastLogTerm);
      w.u8(m.transfer ? 1 : 0);
      return;
    case "vote_resp":
    case "pre_vote_resp":
      w.u8(m.reject ? 1 : 0);
      return;
    case "append":
      w.varint(m.prevIndex);
      w.varint(m.prevTerm);
      w.varint(m.commit);
      writeEntries(w, m.prevIndex, m.term, m.entries);
      return;
    case "append_resp":
      w.u8(m.reject ? 1 : 0);
      w.varint(m.index);
      w.varint(m.hintIndex);
      w.varint(m.hintTerm);
      return;
    case "heartbeat":
      w.varint(m.commit);
      w.varint(m.readSeq);
      return;
    case "heartbeat_resp":
      w.varint(m.readSeq);
      return;
    case "snapshot":
      w.varint(m.index);
      w.varint(m.snapshotTerm);
      writeIds(w, m.membership.voters, limits);
      writeIds(w, m.membership.learners, limits);
      w.varint(m.totalBytes);
      w.varint(m.offset);
      w.lengthPrefixed(m.chunk);
      return;
    case "snapshot_resp":
      w.varint(m.index);
      w.varint(m.received);
      return;
    case "timeout_now":
      return;
    case "read_index":
      w.varint(m.context);
      return;
    case "read_index_resp":
      w.varint(m.context);
      w.varint(m.index);
      w.u8(m.reject ? 1 : 0);
      return;
    case "propose":
      w.varint(m.proposals.length);
      for (const p of m.proposals) {
        writeText(w, p.origin);
        writeText(w, p.kind);
        writeText(w, p.body);
      }
      return;
    case "module":
      writeText(w, m.channel);
      writeText(w, m.payload);
      return;
    case "propose_resp":
      w.varint(m.outcomes.length);
      for (const o of m.outcomes) {
        writeText(w, o.origin);
        w.u8(o.ok ? 1 : 0);
        if (o.ok) {
          w.varint(o.index);
          w.varint(o.term);
        } else {
          writeText(w, o.code);
          w.u8(o.leaderId === null ? 0 : 1);
          if (o.leaderId !== null) w.lengthPrefixed(idBytes(o.leaderId, limits));
        }
      }
      return;
  }
}

function writeEntries(
  w: ByteWriter,
  prevIndex: number,
  messageTerm: number,
  entries: readonly Entry[],
): void {
  w.varint(entries.length);
  let previousIndex = prevIndex;
  let previousTerm = messageTerm;
  for (const entry of entries) {
    const explicitIndex = entry.index !== previousIndex + 1;
    const explicitTerm = entry.term !== previousTerm;
    w.u8(
      (entry.type === "config" ? ENTRY_CONFIG : 0) |
        (explicitIndex ? ENTRY_EXPLICIT_INDEX : 0) |
        (explicitTerm ? ENTRY_EXPLICIT_TERM : 0),
    );
    if (explicitIndex) w.varint(entry.index);
    if (explicitTerm) w.varint(entry.term);
    w.lengthPrefixed(entry.data);
    previousIndex = entry.index;
    previousTerm = entry.term;
  }
}

function writeIds(w: ByteWriter, ids: readonly NodeId[], limits: CodecLimits): void {
  w.varint(ids.length);
  for (const id of ids) w.lengthPrefixed(idBytes(id, limits));
}

// ---------------------------------------------------------------- decoding

/** Decodes one message that fills `bytes` exactly. Throws CodecError on anything malformed. */
export function decodeMessage(bytes: Uint8Array, limits: CodecLimits = DEFAULT_CODEC_LIMITS): PeerMessage {
  const reader = new ByteReader(bytes);
  const message = readMessage(reader, limits);
  reader.expectEnd("message");
  return message;
}

/**
 * Decodes a batch (a frame's payload). All messages are decoded before any is returned, so a
 * frame that is bad anywhere yields nothing at all.
 */
export function decodeBatch(bytes: Uint8Array, limits: CodecLimits = DEFAULT_CODEC_LIMITS): PeerMessage[] {
  const reader = new ByteReader(bytes);
  const count = reader.count("message count", limits.maxBatchMessages, MIN_MESSAGE_BYTES);
  if (count === 0) throw new CodecError("out_of_range", "a batch holds at least one message");
  const messages: PeerMessage[] = [];
  for (let i = 0; i < count; i++) messages.push(readMessage(reader, limits));
  reader.expectEnd("batch");
  return messages;
}

function readMessage(r: ByteReader, limits: CodecLimits): PeerMessage {
  const tag = r.u8("message tag");
  const from = r.string("from", limits.maxNodeIdBytes);
  const to = r.string("to", limits.maxNodeIdBytes);
  const term = r.varint("term");
  switch (tag) {
    case 1:
    case 2:
      return {
        type: tag === 1 ? "vote" : "pre_vote",
        from,
        to,
        term,
        lastLogIndex: r.varint("lastLogIndex"),
        lastLogTerm: r.varint("lastLogTerm"),
        transfer: r.boolean("transfer"),
      };
    case 3:
    case 4:
      return { type: tag === 3 ? "vote_resp" : "pre_vote_resp", from, to, term, reject: r.boolean("reject") };
    case 5: {
      const prevIndex = r.varint("prevIndex");
      const prevTerm = r.varint("prevTerm");
      const commit = r.varint("commit");
      const entries = readEntries(r, prevIndex, term, limits);
      return { type: "append", from, to, term, prevIndex, prevTerm, entries, commit };
    }
    case 6:
      return {
        type: "append_resp",
        from,
        to,
        term,
        reject: r.boolean("reject"),
        index: r.varint("index"),
        hintIndex: r.varint("hintIndex"),
        hintTerm: r.varint("hintTerm"),
      };
    case 7:
      return { type: "heartbeat", from, to, term, commit: r.varint("commit"), readSeq: r.varint("readSeq") };
    case 8:
      return { type: "heartbeat_resp", from, to, term, readSeq: r.varint("readSeq") };
    case 9:
      return {
        type: "snapshot",
        from,
        to,
        term,
        index: r.varint("index"),
        snapshotTerm: r.varint("snapshotTerm"),
        membership: readMembership(r, limits),
        totalBytes: r.varint("totalBytes"),
        offset: r.varint("offset"),
        chunk: r.lengthPrefixedCopy("chunk", limits.maxBytesFieldLength),
      };
    case 10:
      return {
        type: "snapshot_resp",
        from,
        to,
        term,
        index: r.varint("index"),
        received: r.varint("received"),
      };
    case 11:
      return { type: "timeout_now", from, to, term };
    case 12:
      return { type: "read_index", from, to, term, context: r.varint("context") };
    case 13:
      return {
        type: "read_index_resp",
        from,
        to,
        term,
        context: r.varint("context"),
        index: r.varint("index"),
        reject: r.boolean("reject"),
      };
    case 14:
      return { type: "propose", from, to, term, proposals: readProposals(r, limits) };
    case 15:
      return { type: "propose_resp", from, to, term, outcomes: readOutcomes(r, limits) };
    case 16:
      return {
        type: "module",
        from,
        to,
        term,
        channel: r.string("channel", limits.maxNodeIdBytes),
        payload: r.string("payload", limits.maxBytesFieldLength),
      };
    default:
      throw new CodecError("unknown_tag", `unknown message tag ${tag}`);
  }
}

function readEntries(r: ByteReader, prevIndex: number, messageTerm: number, limits: CodecLimits): Entry[] {
  const count = r.count("entry count", limits.maxEntriesPerMessage, MIN_ENTRY_BYTES);
  const entries: Entry[] = [];
  let previousIndex = prevIndex;
  let previousTerm = messageTerm;
  for (let i = 0; i < count; i++) {
    const flags = r.u8("entry flags");
    if ((flags & ~ENTRY_FLAGS_KNOWN) !== 0) throw new CodecError("invalid_flags", `entry flags ${flags}`);
    let index = previousIndex + 1;
    if ((flags & ENTRY_EXPLICIT_INDEX) !== 0) {
      index = r.varint("entry index");
      if (index === previousIndex + 1) throw new CodecError("non_canonical", "entry index given but implied");
    } else if (index > Number.MAX_SAFE_INTEGER) {
      throw new CodecError("out_of_range", "implied entry index exceeds Number.MAX_SAFE_INTEGER");
    }
    let entryTerm = previousTerm;
    if ((flags & ENTRY_EXPLICIT_TERM) !== 0) {
      entryTerm = r.varint("entry term");
      if (entryTerm === previousTerm) throw new CodecError("non_canonical", "entry term given but implied");
    }
    // A view, not a copy: the log copies what it appends into its own slabs (raft/log.ts), so the
    // frame is held only while the message is handled, and no entry costs an array buffer of its own.
    const data = r.lengthPrefixedView("entry data", limits.maxBytesFieldLength);
    entries.push({ index, term: entryTerm, type: (flags & ENTRY_CONFIG) !== 0 ? "config" : "normal", data });
    previousIndex = index;
    previousTerm = entryTerm;
  }
  return entries;
}

function readProposals(r: ByteReader, limits: CodecLimits): ForwardedProposal[] {
  const count = r.count("proposal count", limits.maxEntriesPerMessage, MIN_PROPOSAL_BYTES);
  if (count === 0) throw new CodecError("out_of_range", "a propose message holds at least one proposal");
  const proposals: ForwardedProposal[] = [];
  for (let i = 0; i < count; i++) {
    proposals.push({
      origin: r.string("origin", limits.maxNodeIdBytes),
      kind: r.string("kind", limits.maxNodeIdBytes),
      body: r.string("body", limits.maxBytesFieldLength),
    });
  }
  return proposals;
}

function readOutcomes(r: ByteReader, limits: CodecLimits): ForwardedOutcome[] {
  const count = r.count("outcome count", limits.maxEntriesPerMessage, MIN_OUTCOME_BYTES);
  if (count === 0) throw new CodecError("out_of_range", "a propose_resp message holds at least one outcome");
  const outcomes: ForwardedOutcome[] = [];
  for (let i = 0; i < count; i++) {
    const origin = r.string("origin", limits.maxNodeIdBytes);
    if (r.boolean("ok")) {
      outcomes.push({ origin, ok: true, index: r.varint("index"), term: r.varint("term") });
    } else {
      const code = r.string("code", limits.maxNodeIdBytes);
      const leaderId = r.boolean("hasLeader") ? r.string("leader", limits.maxNodeIdBytes) : null;
      outcomes.push({ origin, ok: false, code, leaderId });
    }
  }
  return outcomes;
}

function readMembership(r: ByteReader, limits: CodecLimits): Membership {
  const voters = readIds(r, "voter count", limits.maxMembershipNodes, limits);
  const learners = readIds(r, "learner count", limits.maxMembershipNodes - voters.length, limits);
  return { voters, learners };
}

function readIds(r: ByteReader, what: string, max: number, limits: CodecLimits): NodeId[] {
  const count = r.count(what, max, MIN_ID_BYTES);
  const ids: NodeId[] = [];
  for (let i = 0; i < count; i++) ids.push(r.string("node id", limits.maxNodeIdBytes));
  return ids;
}

function invalid(message: string): CodecError {
  return new CodecError("invalid_value", message);
}
