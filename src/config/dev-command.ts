/** `juno dev`'s option table: how many nodes, where their data goes, and the secrets they share. */

import { booleanCodec, integerCodec, secretCodec, textCodec } from "./codecs.js";
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
    "them all on Ctrl-C. The nodes are asked for readable log lines (--log-format=pretty). With --tls " +
    "they serve HTTPS and talk to each other over mutual TLS, with certificates from a throw-away CA.",
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
    tls: {
      flag: "--tls",
      env: null,
      default: "false",
      meaning:
        "Make a throw-away CA (a new one each run; its key is never written), a certificate per node " +
        "and a client certificate, under <data-dir>/tls, and run the nodes with them: HTTPS for the " +
        "API (client certificates asked for and checked) and mutual TLS between peers. Prints how " +
        "clients trust the CA (JUNO_CA_FILE, curl --cacert).",
      codec: booleanCodec,
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

/** A dev node's TLS files: its certificate and key, and the CA (for peers and client certificates). */
export interface DevNodeTls {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/**
 * The `juno start` arguments of one node of a dev cluster; its API token and cluster secret go in
 * its environment, never here. Nodes write warnings and worse, as readable lines. With `tls`, the
 * node serves HTTPS with its certificate, checks client certificates and its peers' against the
 * CA, and presents its certificate to its peers.
 */
export function devNodeArguments(
  node: DevNode,
  cluster: readonly DevNode[],
  dataDir: string,
  tls: DevNodeTls | null = null,
): string[] {
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
    ...(tls === null
      ? []
      : [
          `--tls-cert=${tls.cert}`,
          `--tls-key=${tls.key}`,
          `--tls-client-ca=${tls.ca}`,
          `--peer-tls-ca=${tls.ca}`,
        ]),
  ];
}
