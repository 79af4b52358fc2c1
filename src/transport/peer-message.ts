/**
 * Everything nodes send each other: Raft's messages, and the runtime's forwarding of client
 * proposals. A follower batches the proposals its clients send it into one `propose` message to
 * the leader (etcd does the same with MsgProp); the leader appends them and answers with where
 * each landed, or why it could not take it.
 */

import type { Message, NodeId } from "../raft/types.js";

/** One forwarded proposal: which waiting request it is, and the command (its body as JSON text). */
export interface ForwardedProposal {
  /** Unique per request across the cluster's life: "<node>/<boot>/<sequence>". */
  readonly origin: string;
  readonly kind: string;
  readonly body: string;
}

/** Where a forwarded proposal landed, or why the leader could not take it. */
export type ForwardedOutcome =
  | { readonly origin: string; readonly ok: true; readonly index: number; readonly term: number }
  | { readonly origin: string; readonly ok: false; readonly code: string; readonly leaderId: NodeId | null };

/** A follower's batch of client proposals for the leader. */
export interface ProposeRequest {
  readonly type: "propose";
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly proposals: readonly ForwardedProposal[];
}

/** The leader's answer to a ProposeRequest, one outcome per proposal. */
export interface ProposeResponse {
  readonly type: "propose_resp";
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly outcomes: readonly ForwardedOutcome[];
}

/**
 * A domain module's own message to a peer, on a named channel (agents' heartbeats passed to the
 * leader in batches, say). The payload is JSON text the module checks itself; the transport
 * delivers it at most once, like any message, and may lose it.
 */
export interface ModuleMessage {
  readonly type: "module";
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly channel: string;
  readonly payload: string;
}

/** Every message the peer transport carries. */
export type PeerMessage = Message | ProposeRequest | ProposeResponse | ModuleMessage;

/** Whether `message` is one of Raft's own (as opposed to the runtime's forwarding or a module's). */
export function isRaftMessage(message: PeerMessage): message is Message {
  return message.type !== "propose" && message.type !== "propose_resp" && message.type !== "module";
}
