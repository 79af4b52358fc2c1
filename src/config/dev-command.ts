/** `juno dev`'s option table: how many nodes, where their data goes, and the secrets they share. */

import { integerCodec, secretCodec, textCodec } from "./codecs.js";
import { defineCommand, type CommandValues } from "./command.js";
import { CLUSTER_SECRET_LENGTH_MIN } from "./option-table.js";

/** The most nodes `juno dev` starts; 9 keeps ids one digit (n1..n9) and a laptop responsive. */
export const DEV_NODES_MAX = 9;

/** `juno dev`: a local cluster for trying things out. */
export const DEV_COMMAND = defineCommand({
  name: "dev",
  summary:
    "Runs a local cluster for trying juno out: starts the nodes as `juno start` processes on free " +
    "loopback ports with one API token and one cluster secret, prints how to reach them, and stops " +
    "them all on Ctrl-C. The nodes are asked for readable log lines (--log-format=pretty).",
  options: {
    nodes: {
      flag: "--nodes",
      env: null,
      default: "3",
      unit: "nodes",
      meaning: `How many nodes to start, 1 to ${DEV_NODES_MAX}; they are named n1, n2, ...`,
      codec: integerCodec(1, DEV_NODES_MAX, "nodes"),
    },
    dataDir: {
      flag: "--data-dir",
      env: null,
      default: "./data/dev",
      meaning: "Directory holding each node's data, in a subdirectory named by its id.",
      codec: textCodec,
    },
    apiToken: {
      flag: null,
      env: "JUNO_API_TOKEN",
      default: { derived: "a fresh random token" },
      meaning:
        "Bearer token every node requires on /api/v3; printed at start, so the examples can be pasted.",
      codec: secretCodec(1),
    },
    clusterSecret: {
      flag: null,
      env: "JUNO_CLUSTER_SECRET",
      default: { derived: "a fresh random secret" },
      meaning: `Secret the nodes authenticate each other with on the Raft transport; at least ${CLUSTER_SECRET_LENGTH_MIN} characters. Never printed.`,
      codec: secretCodec(CLUSTER_SECRET_LENGTH_MIN),
    },
  },
});

/** What `juno dev` runs with, as parsed from its table. */
export type DevSettings = CommandValues<typeof DEV_COMMAND.options>;

/** One node of a dev cluster: its id and the loopback ports the system handed out for it. */
export interface DevNode {
  readonly id: string;
  readonly httpPort: number;
  readonly raftPort: number;
}

/**
 * The `juno start` arguments of one node of a dev cluster; its API token and cluster secret go in
 * its environment, never here. Nodes write warnings and worse, as readable lines.
 */
export function devNodeArguments(node: DevNode, cluster: readonly DevNode[], dataDir: string): string[] {
  const peers = cluster.map((member) => `${member.id}=127.0.0.1:${member.raftPort}`).join(",");
  return [
    `--id=${node.id}`,
    `--http=127.0.0.1:${node.httpPort}`,
    `--raft=127.0.0.1:${node.raftPort}`,
    `--peers=${peers}`,
    `--data-dir=${dataDir.replace(/\/+$/, "")}/${node.id}`,
    // Elections, leader changes, peers and snapshots, one readable line each.
    "--log-level=info",
    "--log-format=pretty",
  ];
}
