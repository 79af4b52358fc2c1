/**
 * Where each member is reached, combining what the log records (the cluster module's state), the
 * addresses configured with --peers, members being added whose change has not committed yet, and
 * this node's own advertised addresses. The peer service and HTTP forwarding both read it.
 */

import type { NodeId } from "../raft/types.js";
import type { NodeView } from "../runtime/view.js";
import { clusterState } from "./module.js";
import type { MemberAddresses } from "./state.js";

/** Member addresses, from every source that knows them. */
export class ClusterDirectory {
  private view: NodeView | null = null;
  /** Members being added: their addresses until the log records them. */
  private readonly pending = new Map<NodeId, MemberAddresses>();
  private pendingVersion = 0;

  constructor(
    readonly self: NodeId,
    readonly advertise: MemberAddresses,
    readonly known: ReadonlyMap<NodeId, MemberAddresses>,
  ) {}

  /** Reads the log's addresses from `view` from now on. */
  bind(view: NodeView): void {
    this.view = view;
  }

  /** Where member `id` is reached: as the log records it, else as configured, else as being added. */
  addressesOf(id: NodeId): MemberAddresses {
    if (id === this.self) return this.advertise;
    const recorded = this.view?.state(clusterState).members.get(id);
    const known = this.known.get(id);
    const pending = this.pending.get(id);
    return {
      raft: recorded?.raft ?? known?.raft ?? pending?.raft ?? null,
      http: recorded?.http ?? known?.http ?? pending?.http ?? null,
    };
  }

  /** A member is being added at these addresses (until its change commits, only we know them). */
  expect(id: NodeId, addresses: MemberAddresses): void {
    this.pending.set(id, addresses);
    this.pendingVersion++;
  }

  /** Ids of members being added. */
  expected(): readonly NodeId[] {
    return [...this.pending.keys()];
  }

  /** Changes whenever the pending set changes (for cheap change detection). */
  get version(): number {
    return this.pendingVersion;
  }
}
