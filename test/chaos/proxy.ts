/** A small TCP proxy for one directed link between two nodes, which chaos scripts cut and heal. */

import net, { type Server, type Socket } from "node:net";

/** Forwards connections from a loopback port to `targetPort`, unless cut. */
export class LinkProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private cutNow = false;
  /** Connections refused while cut. */
  refused = 0;
  /** Connections forwarded. */
  forwarded = 0;

  constructor(
    readonly name: string,
    readonly targetPort: number,
  ) {}

  /** Listens on a free loopback port; returns it. */
  async listen(): Promise<number> {
    const server = net.createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return (server.address() as net.AddressInfo).port;
  }

  get port(): number {
    return (this.server?.address() as net.AddressInfo).port;
  }

  get isCut(): boolean {
    return this.cutNow;
  }

  /** Destroys every open connection and refuses new ones until heal(). */
  cut(): void {
    this.cutNow = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  heal(): void {
    this.cutNow = false;
  }

  async close(): Promise<void> {
    this.cut();
    const server = this.server;
    this.server = null;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.cutNow) {
      this.refused++;
      client.destroy();
      return;
    }
    this.forwarded++;
    const upstream = net.connect({ host: "127.0.0.1", port: this.targetPort });
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(a);
      a.on("error", () => b.destroy());
      a.on("close", () => {
        this.sockets.delete(a);
        b.destroy();
      });
      a.pipe(b);
    }
  }
}
