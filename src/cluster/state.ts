/**
 * Cluster: where each member is reached (its Raft and HTTP addresses), as the log records them:
 * from an add_learner change's context and from members' own announcements; a removal forgets.
 */

import Type, { type Static } from "typebox";
import {
  Table,
  accept,
  checkedRestorer,
  isRecord,
  type Applied,
  type CommandSpec,
  type StateSection,
} from "../control/index.js";
import type { ConfigChange } from "../raft/types.js";

/** The entry_type recorded for a member's address announcement. */
export const MEMBER_ENTRY_TYPE = "juno.member";
/** Longest member id. */
export const MAX_MEMBER_ID_LENGTH = 100;

/** Where a member is reached. */
export interface MemberAddresses {
  readonly raft: string | null;
  readonly http: string | null;
}

/** The cluster module's state. */
export class ClusterState {
  readonly members = new Table<string, MemberAddresses>();
  /** Bumped on every change, so watchers can tell cheaply whether anything moved. */
  version = 0;
}

const Address = Type.Union([Type.String({ minLength: 1, maxLength: 300 }), Type.Null()]);

/** cluster.member: a member announces where it is reached (a new leader does, so followers can forward to it). */
export const MemberBody = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: MAX_MEMBER_ID_LENGTH }),
    raft_addr: Address,
    http_addr: Address,
  },
  { additionalProperties: false },
);

/** cluster.member */
export const memberCommand: CommandSpec<ClusterState, typeof MemberBody, null> = {
  kind: "cluster.member",
  schema: MemberBody,
  apply(state, body): Applied<null> {
    state.members.set(body.id, { raft: body.raft_addr, http: body.http_addr });
    state.version++;
    return accept(null);
  },
  entryType: () => MEMBER_ENTRY_TYPE,
  logView: (body) => ({ data: { id: body.id, raft_addr: body.raft_addr, http_addr: body.http_addr } }),
  legacy: {
    kind: "member",
    body: (command) => ({
      id: command["id"],
      raft_addr: command["raftAddress"],
      http_addr: command["httpAddress"],
    }),
  },
};

/** Records a new member's addresses (from its add_learner context) and forgets removed members. */
export function onMembershipChange(state: ClusterState, change: ConfigChange): [] {
  state.version++;
  if (change.type === "remove") state.members.delete(change.node);
  if (change.type !== "add_learner" || change.context === undefined) return [];
  const addresses = parseMemberContext(change.context);
  // A context that is not ours (or malformed) carries no addresses; the membership itself stands.
  if (addresses !== null) state.members.set(change.node, addresses);
  return [];
}

/** Encodes member addresses as a membership change's context. */
export function encodeMemberContext(addresses: MemberAddresses): string {
  return JSON.stringify({ raft: addresses.raft, http: addresses.http });
}

function parseMemberContext(context: string): MemberAddresses | null {
  let value: unknown;
  try {
    value = JSON.parse(context);
  } catch {
    return null;
  }
  if (!isRecord(value)) return null;
  const raft = typeof value["raft"] === "string" ? value["raft"] : null;
  const http = typeof value["http"] === "string" ? value["http"] : null;
  return { raft, http };
}

const MemberRow = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: MAX_MEMBER_ID_LENGTH }), raft: Address, http: Address },
  { additionalProperties: false },
);

/** Snapshot section "cluster", version 1: one row per member address. */
export const clusterSection: StateSection<ClusterState> = {
  version: 1,
  empty: () => new ClusterState(),
  rows: (state) =>
    state.members.cursor((id, addresses) =>
      JSON.stringify({ id, raft: addresses.raft, http: addresses.http }),
    ),
  restore: checkedRestorer("cluster", MemberRow, () => {
    const state = new ClusterState();
    return {
      add: (row: Static<typeof MemberRow>) => state.members.set(row.id, { raft: row.raft, http: row.http }),
      finish: () => state,
    };
  }),
};
