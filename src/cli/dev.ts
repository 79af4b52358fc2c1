/**
 * `juno dev`: a local cluster for trying things out. Starts N `juno start` processes on free
 * loopback ports with a fresh API token and cluster secret, prints how to reach them, and stops
 * them all cleanly on Ctrl-C.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";

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

/** Runs the local cluster until interrupted; resolves with the exit code. */
export async function devCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      nodes: { type: "string", default: "3" },
      "data-dir": { type: "string", default: "./data/dev" },
    },
  });
  const count = Number(values.nodes);
  if (!Number.isInteger(count) || count < 1 || count > 9) {
    process.stderr.write("juno dev: --nodes must be between 1 and 9\n");
    return 2;
  }
  const token = process.env["JUNO_API_TOKEN"] ?? randomBytes(16).toString("hex");
  const secret = process.env["JUNO_CLUSTER_SECRET"] ?? randomBytes(24).toString("hex");
  const nodes: { id: string; http: number; raft: number }[] = [];
  for (let i = 1; i <= count; i++)
    nodes.push({ id: `n${i}`, http: await freePort(), raft: await freePort() });
  const peers = nodes.map((n) => `${n.id}=127.0.0.1:${n.raft}`).join(",");
  const children: ChildProcess[] = [];
  for (const n of nodes) {
    const args = [
      ...process.execArgv,
      process.argv[1]!,
      "start",
      `--id=${n.id}`,
      `--http=127.0.0.1:${n.http}`,
      `--raft=127.0.0.1:${n.raft}`,
      `--peers=${peers}`,
      `--data-dir=${join(values["data-dir"], n.id)}`,
      "--log-level=warn",
    ];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, JUNO_API_TOKEN: token, JUNO_CLUSTER_SECRET: secret },
      stdio: ["ignore", "ignore", "inherit"],
    });
    children.push(child);
  }
  const first = nodes[0]!;
  process.stdout.write(
    [
      `juno dev: ${count} node(s) on 127.0.0.1, data in ${values["data-dir"]}`,
      ...nodes.map((n) => `  ${n.id}  http://127.0.0.1:${n.http}   raft 127.0.0.1:${n.raft}`),
      "",
      `  export JUNO_API_TOKEN=${token}`,
      "",
      "  # propose an entry (any node; followers forward to the leader)",
      `  curl -s -X POST http://127.0.0.1:${first.http}/api/v3/consensus/propose \\`,
      `       -H "authorization: Bearer $JUNO_API_TOKEN" -H 'content-type: application/json' \\`,
      `       -d '{"entry_type":"deploy","data":{"service":"api","version":"1.4.2"}}'`,
      "  # read the committed log",
      `  curl -s -H "authorization: Bearer $JUNO_API_TOKEN" 'http://127.0.0.1:${first.http}/api/v3/consensus/log?from=1'`,
      "  # who leads",
      `  npm run juno -- status --http 127.0.0.1:${first.http}`,
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
