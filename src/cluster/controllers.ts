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

/** Pause before a node tries again to record its addresses after a refused proposal. */
const ANNOUNCE_RETRY_MS = 1_000;

/**
 * Every member records where it is reached unless the log already has it: the leader at once
 * (followers send it leader-only requests), a follower once it knows a leader (its proposal goes
 * there). So the cluster status names every member's HTTP address, not only those that have
 * led, and a dashboard or client that loses its node can go to another directly.
 */
export function announceService(directory: ClusterDirectory): Controller {
  return {
    name: "cluster.announce",
    start(context: ControllerContext): Running {
      let pending = false;
      let retryAtMs = 0;
      const check = (): void => {
        const view = context.view;
        if (pending || view.leaderId() === null || context.clock.now() < retryAtMs) return;
        const { raft, http } = directory.advertise;
        if (raft === null && http === null) return;
        const membership = view.membership();
        if (!membership.voters.includes(directory.self) && !membership.learners.includes(directory.self))
          return;
        const recorded = view.state(clusterState).members.get(directory.self);
        if (recorded?.raft === raft && recorded.http === http) return;
        pending = true;
        context.submit(
          command(memberCommand, { id: directory.self, raft_addr: raft, http_addr: http }),
          (result) => {
            pending = false;
            if (!result.ok) retryAtMs = context.clock.now() + ANNOUNCE_RETRY_MS;
          },
        );
      };
      const unsubscribe = context.view.onChange(check);
      check();
      return { stop: unsubscribe };
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
