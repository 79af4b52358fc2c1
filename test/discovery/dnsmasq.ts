// A real dnsmasq for the DNS provider's tests: installed on demand through
// scripts/ensure-system-packages.sh, started on 127.0.0.1 with a free port and a configuration
// file of the test's records, restarted with new records (dnsmasq re-reads srv-host and
// txt-record only at start), and stopped by its own process id.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import dgram from "node:dgram";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as dnsPacket from "dns-packet";

const run = promisify(execFile);

/** One SRV record: the service name, its target, port, priority and weight. */
export interface SrvRecord {
  readonly name: string;
  readonly target: string;
  readonly port: number;
  readonly priority?: number;
  readonly weight?: number;
}

/** The zone a dnsmasq serves. */
export interface Zone {
  readonly srv: readonly SrvRecord[];
  /** Address records: name to IPv4 or IPv6 addresses. */
  readonly hosts: ReadonlyArray<readonly [string, string]>;
  /** TXT records: name to its strings (each may contain commas). */
  readonly text: ReadonlyArray<readonly [string, readonly string[]]>;
  /** The TTL of every record (dnsmasq's local-ttl). */
  readonly ttlSeconds: number;
  /** The domain dnsmasq answers for alone (NXDOMAIN for unknown names in it). */
  readonly domain: string;
}

/** Installs dnsmasq when it is missing; quick when it is there. */
export async function ensureDnsmasq(): Promise<void> {
  // dnsmasq-base is the binary alone; the dnsmasq package would also set up a system service on port 53.
  await run("sh", [join(import.meta.dirname, "../../scripts/ensure-system-packages.sh"), "dnsmasq-base"], {
    timeout: 600_000,
  });
}

/** A dnsmasq process serving one zone on 127.0.0.1:port (UDP and TCP). */
export class Dnsmasq {
  private child: ChildProcess | null = null;
  private readonly directory = mkdtempSync(join(tmpdir(), "juno-dnsmasq-"));
  private log = "";

  private constructor(readonly port: number) {}

  /** Starts dnsmasq serving `zone` on a free port. */
  static async start(zone: Zone): Promise<Dnsmasq> {
    let lastError: unknown = null;
    // A free port can be taken between choosing it and dnsmasq binding it: try a few.
    for (let attempt = 0; attempt < 5; attempt++) {
      const server = new Dnsmasq(await freeUdpAndTcpPort());
      try {
        await server.serve(zone);
        return server;
      } catch (error) {
        lastError = error;
        await server.stop();
      }
    }
    throw lastError;
  }

  /** "127.0.0.1:port", as the provider's server option. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Serves `zone` instead: dnsmasq is restarted on the same port. */
  async serve(zone: Zone): Promise<void> {
    await this.halt();
    const configPath = join(this.directory, "dnsmasq.conf");
    writeFileSync(configPath, configuration(this.port, zone));
    const args = ["--no-daemon", `--conf-file=${configPath}`];
    // As root dnsmasq drops to the "dnsmasq" user, which only the full package creates.
    if (process.getuid?.() === 0) args.push("--user=root");
    this.log = "";
    // Debian installs it in /usr/sbin, which is not on every user's PATH.
    const binary = existsSync("/usr/sbin/dnsmasq") ? "/usr/sbin/dnsmasq" : "dnsmasq";
    const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
    this.child = child;
    child.stderr?.on("data", (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-4_000);
    });
    await this.waitUntilAnswering(child);
  }

  /** Stops dnsmasq (the port goes quiet: queries are refused by the kernel). */
  async halt(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    await exited;
  }

  /** Stops dnsmasq and removes its files. */
  async stop(): Promise<void> {
    await this.halt();
    rmSync(this.directory, { recursive: true, force: true });
  }

  private async waitUntilAnswering(child: ChildProcess): Promise<void> {
    for (let attempt = 0; attempt < 200; attempt++) {
      if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${this.log}`);
      if (await answers(this.port)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`dnsmasq did not answer on port ${this.port}: ${this.log}`);
  }
}

function configuration(port: number, zone: Zone): string {
  const lines = [
    `port=${port}`,
    "listen-address=127.0.0.1",
    "bind-interfaces",
    "no-resolv",
    "no-hosts",
    "no-poll",
    "cache-size=0",
    `local-ttl=${zone.ttlSeconds}`,
    `local=/${zone.domain}/`,
    // The readiness probe's name.
    `host-record=ready.${zone.domain},127.0.0.1`,
  ];
  for (const record of zone.srv) {
    lines.push(
      `srv-host=${record.name},${record.target},${record.port},${record.priority ?? 0},${record.weight ?? 0}`,
    );
  }
  for (const [name, address] of zone.hosts) lines.push(`host-record=${name},${address}`);
  for (const [name, strings] of zone.text) {
    lines.push(`txt-record=${name},${strings.map((text) => `"${text}"`).join(",")}`);
  }
  return lines.join("\n") + "\n";
}

/** Whether something answers DNS on 127.0.0.1:port. */
async function answers(port: number): Promise<boolean> {
  const socket = dgram.createSocket("udp4");
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 200);
      socket.on("error", () => {
        clearTimeout(timer);
        resolve(false);
      });
      socket.on("message", () => {
        clearTimeout(timer);
        resolve(true);
      });
      socket.connect(port, "127.0.0.1", () =>
        socket.send(
          dnsPacket.encode({ type: "query", id: 1, questions: [{ type: "A", name: "ready.invalid" }] }),
        ),
      );
    });
  } finally {
    socket.close();
  }
}

/** A port free for both TCP and UDP on 127.0.0.1 right now. */
export async function freeUdpAndTcpPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const server = net.createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const socket = dgram.createSocket("udp4");
    const bound = await new Promise<boolean>((resolve) => {
      socket.once("error", () => resolve(false));
      socket.bind(port, "127.0.0.1", () => resolve(true));
    });
    socket.close();
    server.close();
    await once(server, "close");
    if (bound) return port;
  }
  throw new Error("no port free for both TCP and UDP");
}
