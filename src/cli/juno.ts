/** The `juno` command line. */

import { runDemo } from "./demo.js";

const usage = `usage: juno <command>

commands:
  demo    run three Raft nodes in one process: election, replication, failover
`;

const command = process.argv[2];
switch (command) {
  case "demo":
    process.exitCode = runDemo();
    break;
  case undefined:
  case "help":
  case "--help":
    process.stdout.write(usage);
    break;
  default:
    process.stderr.write(`juno: unknown command '${command}'\n${usage}`);
    process.exitCode = 2;
}
