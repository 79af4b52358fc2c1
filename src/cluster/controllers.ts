/**
 * The cluster module's loops. On the leader: announce where it is reached (so followers can send
 * it leader-only requests), and promote learners that have caught up, one change at a time. On
 * every node: keep the transport's peer list equal to the members' Raft addresses.
 */

import { command } from "../control/index.js";
import type { NodeId } from "../raft/types.js";
import type { Controller, ControllerContext, Running } from "../runtime/controllers.js";
import type { ClusterDirectory } from "./directory.js";
import { clusterState } from "./module.js";
import { memberCommand } from "./state.js";

/** A new leader records its addresses unless the log already has them. */
export function announceController(directory: ClusterDirectory): Controller {
  return {
    name: "cluster.announce",
    start(context: ControllerContext): Running {
      const { raft, http } = directory.advertise;
      const recorded = context.view.state(clusterState).members.get(directory.self);
      if ((raft !== null || http !== null) && (recorded?.raft !== raft || recorded.http !== http)) {
        context.submit(command(memberCommand, { id: directory.self, raft_addr: raft, http_addr: http }));
      }
      return { stop: () => undefined };
    },
  };
}

/**
 * Promotes a learner to voter once it holds every committed entry. (Added nodes join as learners,
 * so a new, empty node never weakens the quorum while it catches up.)
 */
export function promoteController(): Controller {
  return {
    name: "cluster.promote",
    start(context: ControllerContext): Running {
      let pending = false;
      const check = (): void => {
        if (pending || context.view.membership().learners.length === 0) return;
        const status = context.view.status();
        const learner = status.progress.find(
          (p) => !p.voter && status.membership.learners.includes(p.id) && p.match >= status.commitIndex,
        );
        if (learner === undefined) return;
        pending = true;
        context.log.info({ learner: learner.id, match: learner.match }, "promoting a caught-up learner");
        context.changeMembership({ type: "promote", node: learner.id }, () => {
          pending = false;
        });
      };
      const unsubscribe = context.view.onChange(check);
      check();
      return { stop: unsubscribe };
    },
  };
}

/** Tells the transport where every other member is, whenever that set changes. */
export function peerService(
  directory: ClusterDirectory,
  onPeersChanged: (peers: ReadonlyMap<NodeId, string>) => void,
): Controller {
  return {
    name: "cluster.peers",
    start(context: ControllerContext): Running {
      directory.bind(context.view);
      let lastKey = "";
      let lastInputs: readonly unknown[] = [];
      const refresh = (): void => {
        const view = context.view;
        const membership = view.membership();
        const leader = view.leaderId();
        const state = view.state(clusterState);
        // Recompute only when something it depends on changed.
        const inputs = [membership, leader, state, state.version, directory.version];
        if (inputs.every((value, i) => value === lastInputs[i]) && lastKey !== "") return;
        lastInputs = inputs;
        const peers = new Map<NodeId, string>();
        // The leader stays reachable even when the log no longer counts it a member: a leader that
        // removed itself leads until that removal commits, and needs our acknowledgements to commit it.
        const ids = [...membership.voters, ...membership.learners, ...directory.expected()];
        if (leader !== null) ids.push(leader);
        for (const id of ids) {
          if (id === directory.self) continue;
          const raft = directory.addressesOf(id).raft;
          if (raft !== null) peers.set(id, raft);
        }
        // A joining node knows no membership yet but must answer the leader: use the configured peers.
        if (peers.size === 0) {
          for (const [id, addresses] of directory.known)
            if (id !== directory.self && addresses.raft !== null) peers.set(id, addresses.raft);
        }
        const key = JSON.stringify([...peers].sort());
        if (key === lastKey) return;
        lastKey = key;
        onPeersChanged(peers);
      };
      const unsubscribe = context.view.onChange(refresh);
      refresh();
      return { stop: unsubscribe };
    },
  };
}
