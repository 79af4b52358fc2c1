/** Membership arithmetic: applying single-server changes, quorum sizes, and the change codec. */

import { assert } from "./assert.js";
import type { ConfigChange, Membership, NodeId } from "./types.js";

/** The membership of a node that has not joined a cluster yet. */
export const EMPTY_MEMBERSHIP: Membership = Object.freeze({ voters: [], learners: [] });

/** Whether `id` is a voter in `membership`. */
export function isVoter(membership: Membership, id: NodeId): boolean {
  return membership.voters.includes(id);
}

/** Whether `id` is a voter or a learner in `membership`. */
export function isMember(membership: Membership, id: NodeId): boolean {
  return membership.voters.includes(id) || membership.learners.includes(id);
}

/** The number of voters whose agreement is a majority. */
export function quorumSize(membership: Membership): number {
  return Math.floor(membership.voters.length / 2) + 1;
}

/** Why `change` cannot apply to `membership`, or null when it can. */
export function validateChange(membership: Membership, change: ConfigChange): string | null {
  switch (change.type) {
    case "bootstrap":
      return "bootstrap is only written when a cluster is created";
    case "add_learner":
      if (change.node.length === 0) return "node id must not be empty";
      return isMember(membership, change.node) ? `node ${change.node} is already a member` : null;
    case "promote":
      return membership.learners.includes(change.node) ? null : `node ${change.node} is not a learner`;
    case "remove":
      if (!isMember(membership, change.node)) return `node ${change.node} is not a member`;
      if (isVoter(membership, change.node) && membership.voters.length === 1) {
        return "cannot remove the last voter";
      }
      return null;
  }
}

/** The membership after `change`. The caller has validated it, or it comes from a committed log. */
export function applyChange(membership: Membership, change: ConfigChange): Membership {
  switch (change.type) {
    case "bootstrap":
      return freeze([...change.voters], []);
    case "add_learner":
      if (isMember(membership, change.node)) return membership;
      return freeze([...membership.voters], [...membership.learners, change.node]);
    case "promote":
      return freeze(
        [...membership.voters, change.node],
        membership.learners.filter((id) => id !== change.node),
      );
    case "remove":
      return freeze(
        membership.voters.filter((id) => id !== change.node),
        membership.learners.filter((id) => id !== change.node),
      );
  }
}

function freeze(voters: NodeId[], learners: NodeId[]): Membership {
  voters.sort();
  learners.sort();
  assert(!voters.some((id) => learners.includes(id)), "a node is both voter and learner");
  return Object.freeze({ voters: Object.freeze(voters), learners: Object.freeze(learners) });
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a membership change as entry data. */
export function encodeChange(change: ConfigChange): Uint8Array {
  return encoder.encode(JSON.stringify(change));
}

/** Decodes entry data written by encodeChange; a malformed config entry is a broken invariant. */
export function decodeChange(data: Uint8Array): ConfigChange {
  const value = JSON.parse(decoder.decode(data)) as ConfigChange;
  assert(
    typeof value === "object" && value !== null && typeof value.type === "string",
    "malformed config entry",
  );
  return value;
}
