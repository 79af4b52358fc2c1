#!/usr/bin/env node
/** The `juno` command line: a table of contents of its commands. */

import { runDemo } from "./demo.js";
import { devCommand } from "./dev.js";
import { startCommand } from "./start.js";
import { statusCommand } from "./status.js";
import { agentsCommand } from "./agents.js";
import { membersCommand } from "./members.js";
import { tasksCommand } from "./tasks.js";
import { auditCommand, tokensCommand } from "./tokens.js";
import { usage } from "./usage.js";
import { workflowsCommand } from "./workflows.js";

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
    case "members":
      return membersCommand(rest);
    case "agents":
      return agentsCommand(rest);
    case "tasks":
      return tasksCommand(rest);
    case "workflows":
      return workflowsCommand(rest);
    case "tokens":
      return tokensCommand(rest);
    case "audit":
      return auditCommand(rest);
    case "demo":
      return runDemo();
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(usage());
      return 0;
    default:
      process.stderr.write(`juno: unknown command '${command}' (juno --help lists them)\n`);
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
