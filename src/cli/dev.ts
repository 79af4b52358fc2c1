/**
 * `juno dev`: a local cluster for trying things out. Starts N `juno start` processes on free
 * loopback ports with a fresh API token and cluster secret, prints how to reach them, and stops
 * them all cleanly on Ctrl-C. Its options are the table DEV_COMMAND in src/config.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import {
  ConfigError,
  DEV_COMMAND,
  commandHelpText,
  devNodeArguments,
  parseCommand,
  refusalText,
  wantsHelp,
  type DevNode,
  type Environment,
} from "../config/index.js";

/** A free TCP port on 127.0.0.1, as the system hands it out. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

/** Runs the local cluster until interrupted; resolves with the exit code (2 when the arguments are refused). */
export async function devCommand(argv: readonly string[], env: Environment = process.env): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(commandHelpText(DEV_COMMAND));
    return 0;
  }
  const settings = parseCommand(DEV_COMMAND, argv, env);
  if (settings instanceof ConfigError) {
    process.stderr.write(refusalText(DEV_COMMAND.name, settings));
    return 2;
  }
  const count = settings.nodes;
  const token = settings.apiToken?.reveal() ?? randomBytes(16).toString("hex");
  const secret = settings.clusterSecret?.reveal() ?? randomBytes(24).toString("hex");
  const nodes: DevNode[] = [];
  for (let i = 1; i <= count; i++)
    nodes.push({ id: `n${i}`, httpPort: await freePort(), raftPort: await freePort() });
  const children: ChildProcess[] = [];
  for (const n of nodes) {
    const args = [
      ...process.execArgv,
      process.argv[1]!,
      "start",
      ...devNodeArguments(n, nodes, settings.dataDir),
    ];
    const child = spawn(process.execPath, args, {
      env: { ...env, JUNO_API_TOKEN: token, JUNO_CLUSTER_SECRET: secret },
      stdio: ["ignore", "inherit", "inherit"],
    });
    children.push(child);
  }
  const first = nodes[0]!;
  process.stdout.write(
    [
      `juno dev: ${count} node(s) on 127.0.0.1, data in ${settings.dataDir}`,
      ...nodes.map((n) => `  ${n.id}  http://127.0.0.1:${n.httpPort}   raft 127.0.0.1:${n.raftPort}`),
      "",
      `  export JUNO_API_TOKEN=${token}`,
      `  export JUNO_NODES=${nodes.map((n) => `http://127.0.0.1:${n.httpPort}`).join(",")}`,
      "",
      "  # propose an entry (any node; followers forward to the leader)",
      `  curl -s -X POST http://127.0.0.1:${first.httpPort}/api/v3/consensus/propose \\`,
      `       -H "authorization: Bearer $JUNO_API_TOKEN" -H 'content-type: application/json' \\`,
      `       -d '{"entry_type":"deploy","data":{"service":"api","version":"1.4.2"}}'`,
      "  # read the committed log",
      `  curl -s -H "authorization: Bearer $JUNO_API_TOKEN" 'http://127.0.0.1:${first.httpPort}/api/v3/consensus/log?from=1'`,
      "  # who leads, the members, and what runs (every client command reads JUNO_NODES)",
      "  npm run juno -- status",
      "",
      "Ctrl-C stops the cluster.",
      "",
    ].join("\n"),
  );
  return new Promise((resolve) => {
    let exited = 0;
    let stopping = false;
    const stopAll = (): void => {
      if (stopping) return;
      stopping = true;
      process.stdout.write("\njuno dev: stopping...\n");
      for (const child of children) child.kill("SIGTERM");
    };
    for (const child of children) {
      child.on("exit", () => {
        exited++;
        if (!stopping) {
          process.stderr.write("juno dev: a node exited unexpectedly; stopping the cluster\n");
          stopAll();
        }
        if (exited === children.length) resolve(stopping ? 0 : 1);
      });
    }
    process.once("SIGINT", stopAll);
    process.once("SIGTERM", stopAll);
  });
}
