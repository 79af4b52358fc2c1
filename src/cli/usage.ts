/** The text of `juno --help`: the commands, then the options every client command shares, once. */

import { actionLines, clientOptionsHelp } from "../config/help.js";

/** `juno --help`: the commands, then the options every client command shares, once. */
export function usage(): string {
  const lines = [
    "usage: juno <command> [options]",
    "",
    "commands:",
    ...actionLines([
      ["start", "run one node (juno start --help lists its settings)"],
      ["dev", "run a local cluster, 3 nodes unless --nodes <count> says otherwise; Ctrl-C stops it"],
      ["demo", "run three Raft nodes in one process: election, replication, failover"],
      [
        "status",
        "who leads, the term, the indexes, each member's replication, and the agents, tasks and workflows by status",
      ],
      [
        "members",
        "list the cluster's members, add or remove one, hand leadership to one (ls | add <id> --raft <host:port> | rm <id> | transfer <id>)",
      ],
      ["agents", "list, show or deregister agents (ls | show <id> | rm <id>)"],
      [
        "tasks",
        "submit, list, show or cancel tasks, and the queue's metrics (submit [--wait] | ls | show <id> | cancel <id> | metrics)",
      ],
      [
        "workflows",
        "submit, follow, list, show or cancel workflow runs, send them events, trigger and register definitions " +
          "(submit -f <file> [--watch] | ls | show <id> | watch <id> | cancel <id> | event <id> <name> | " +
          "trigger <name> | definitions register -f <file> | definitions ls)",
      ],
      [
        "tokens",
        "make, list or revoke scoped tokens: admin, operator, reader, agent (create --name <name> --role <role> | ls | revoke <id>)",
      ],
      ["audit", "who did which administrative action, when, and how it ended (--action, --actor, --limit)"],
    ]),
    "",
    "juno <command> --help lists a command's actions and flags, juno <command> <action> --help one",
    "action's. status, members, agents, tasks, workflows, tokens and audit are client commands: they",
    "ask any of the nodes given, fail over between them, and all take these options:",
    "",
    ...clientOptionsHelp(),
  ];
  return `${lines.join("\n")}\n`;
}
