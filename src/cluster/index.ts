/**
 * The cluster module: where members are reached (replicated), the leader's announcements and
 * learner promotion (controllers), the transport's peer list (a service on every node), and the
 * status, membership, transfer and log routes.
 */

import type { NodeId } from "../raft/types.js";
import type { DomainModule } from "../runtime/domain-module.js";
import { announceService, peerService, promoteController } from "./controllers.js";
import { ClusterDirectory } from "./directory.js";
import { clusterState } from "./module.js";
import { clusterRoutes } from "./routes.js";
import type { ClusterState, MemberAddresses } from "./state.js";

export { ClusterDirectory } from "./directory.js";
export { clusterState } from "./module.js";
export { statusView } from "./routes.js";
export * from "./state.js";

/** How this node's cluster module is set up. */
export interface ClusterOptions {
  readonly self: NodeId;
  /** Where this node is reached; a new leader announces it. */
  readonly advertise?: MemberAddresses;
  /** Addresses known from configuration (the --peers list). */
  readonly known?: ReadonlyMap<NodeId, MemberAddresses>;
  /** Called with the Raft address of every other member whenever that set changes. */
  readonly onPeersChanged?: (peers: ReadonlyMap<NodeId, string>) => void;
}

/** The cluster module, and the directory the node's edge uses to find members. */
export interface ClusterModule extends DomainModule<ClusterState> {
  readonly directory: ClusterDirectory;
}

/** Builds this node's cluster module. */
export function createClusterModule(options: ClusterOptions): ClusterModule {
  const directory = new ClusterDirectory(
    options.self,
    options.advertise ?? { raft: null, http: null },
    options.known ?? new Map(),
  );
  return {
    ...clusterState,
    directory,
    routes: clusterRoutes(directory),
    controllers: [promoteController()],
    services: [
      announceService(directory),
      peerService(directory, options.onPeersChanged ?? (() => undefined)),
    ],
  };
}
