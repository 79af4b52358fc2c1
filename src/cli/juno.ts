#!/usr/bin/env node
/** The `juno` command line: a table of contents of its commands. */

import { runDemo } from "./demo.js";
import { devCommand } from "./dev.js";
import { startCommand } from "./start.js";
import { statusCommand } from "./status.js";
import { agentsCommand } from "./agents.js";
import { tasksCommand } from "./tasks.js";
import { workflowsCommand } from "./workflows.js";

const usage = `usage: juno <command> [options]

commands:
  start     run one node
  dev       run a local cluster, 3 nodes unless --nodes says otherwise; Ctrl-C stops it
  status    show who leads, the term and replication, from any node
  agents    list, show or deregister agents (ls | show <id> | rm <id>), from any node
  tasks     submit, list, show or cancel tasks, and the queue's metrics
            (submit [--wait] | ls | show <id> | cancel <id> | metrics), from any node
  workflows submit, follow, list, show or cancel workflow runs, send them events, trigger and
            register definitions (submit -f <file> [--watch] | ls | show <id> | watch <id> |
            cancel <id> | event <id> <name> | trigger <name> | definitions register | ls),
            from any node
  demo      run three Raft nodes in one process: election, replication, failover

juno <command> --help lists the command's flags and variables.
`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "start": {
      const started = await startCommand(rest, process.env);
      if (typeof started === "number") return started;
      return new Promise((resolve) => {
        const leave = (signal: NodeJS.Signals): void => {
          process.stdout.write(
            `${JSON.stringify({ time: new Date().toISOString(), event: "signal", signal })}\n`,
          );
          started.stop().then(
            () => resolve(0),
            () => resolve(1),
          );
        };
        process.once("SIGTERM", leave);
        process.once("SIGINT", leave);
      });
    }
    case "dev":
      return devCommand(rest);
    case "status":
      return statusCommand(rest);
    case "agents":
      return agentsCommand(rest);
    case "tasks":
      return tasksCommand(rest);
    case "workflows":
      return workflowsCommand(rest);
    case "demo":
      return runDemo();
    case undefined:
    case "help":
    case "--help":
      process.stdout.write(usage);
      return 0;
    default:
      process.stderr.write(`juno: unknown command '${command}'\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `juno: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
