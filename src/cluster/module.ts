/** The cluster module's replicated half: member addresses, announced and recorded with membership. */

import type { StateModule } from "../control/index.js";
import { clusterSection, memberCommand, onMembershipChange, type ClusterState } from "./state.js";

/** Cluster: where members are reached. */
export const clusterState: StateModule<ClusterState> = {
  name: "cluster",
  commands: [memberCommand],
  section: clusterSection,
  onMembershipChange,
};
