/**
 * `juno dev`: a local cluster for trying things out. Starts N `juno start` processes on free
 * loopback ports with a fresh API token and cluster secret, prints how to reach them, and stops
 * them all cleanly on Ctrl-C. With --tls they run on certificates from a throw-away CA
 * (src/tls/dev-certificates.ts). Its options are the table DEV_COMMAND in src/config.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { join } from "node:path";
import {
  ConfigError,
  DEV_COMMAND,
  commandHelpText,
  devNodeArguments,
  parseCommand,
  refusalText,
  wantsHelp,
  type DevNode,
  type DevNodeTls,
  type Environment,
} from "../config/index.js";
import { writeDevCertificates, type DevCertificateFiles } from "../tls/dev-certificates.js";

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

/** One node's TLS files, or null without --tls. */
function nodeTls(certificates: DevCertificateFiles | null, id: string): DevNodeTls | null {
  const own = certificates?.nodes.get(id);
  return certificates === null || own === undefined ? null : { ...own, ca: certificates.ca };
}

/** What `juno dev` prints: each node's addresses, the variables to export, and examples to paste. */
export function devBanner(
  nodes: readonly DevNode[],
  dataDir: string,
  token: string,
  certificates: DevCertificateFiles | null,
): string {
  const scheme = certificates === null ? "http" : "https";
  const first = nodes[0]!;
  const base = `${scheme}://127.0.0.1:${first.httpPort}`;
  // curl trusts the throw-away CA only when told to.
  const curl = certificates === null ? "curl -s" : `curl -s --cacert ${certificates.ca}`;
  const tlsLines =
    certificates === null
      ? []
      : [
          `  TLS: a throw-away CA in ${certificates.dir} (new each run); HTTPS for the API, mutual TLS between peers`,
          `  export JUNO_CA_FILE=${certificates.ca}      # juno status | agents | ... trust the CA (or --ca)`,
          `  # optional client certificate: --cert ${certificates.client.cert} --key ${certificates.client.key}`,
          `  #   (JUNO_CLIENT_CERT, JUNO_CLIENT_KEY); the SDK: new JunoClient({ urls, tls: { ca, cert, key } })`,
        ];
  return [
    `juno dev: ${nodes.length} node(s) on 127.0.0.1, data in ${dataDir}`,
    ...nodes.map((n) => `  ${n.id}  ${scheme}://127.0.0.1:${n.httpPort}   raft 127.0.0.1:${n.raftPort}`),
    "",
    `  export JUNO_API_TOKEN=${token}`,
    `  export JUNO_NODES=${nodes.map((n) => `${scheme}://127.0.0.1:${n.httpPort}`).join(",")}`,
    ...tlsLines,
    "",
    "  # propose an entry (any node; followers forward to the leader)",
    `  ${curl} -X POST ${base}/api/v3/consensus/propose \\`,
    `       -H "authorization: Bearer $JUNO_API_TOKEN" -H 'content-type: application/json' \\`,
    `       -d '{"entry_type":"deploy","data":{"service":"api","version":"1.4.2"}}'`,
    "  # read the committed log",
    `  ${curl} -H "authorization: Bearer $JUNO_API_TOKEN" '${base}/api/v3/consensus/log?from=1'`,
    "  # who leads, the members, and what runs (every client command reads JUNO_NODES)",
    "  npm run juno -- status",
    "",
    "Ctrl-C stops the cluster.",
    "",
  ].join("\n");
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
  const certificates = settings.tls
    ? writeDevCertificates(
        join(settings.dataDir, "tls"),
        nodes.map((n) => n.id),
      )
    : null;
  const children: ChildProcess[] = [];
  for (const n of nodes) {
    const args = [
      ...process.execArgv,
      process.argv[1]!,
      "start",
      ...devNodeArguments(n, nodes, settings.dataDir, nodeTls(certificates, n.id)),
    ];
    const child = spawn(process.execPath, args, {
      env: { ...env, JUNO_API_TOKEN: token, JUNO_CLUSTER_SECRET: secret },
      stdio: ["ignore", "inherit", "inherit"],
    });
    children.push(child);
  }
  process.stdout.write(devBanner(nodes, settings.dataDir, token, certificates));
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
