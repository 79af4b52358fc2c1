/**
 * Preloaded into a chaos node with `--import`: redirects outgoing TCP connections to the Raft
 * addresses listed in JUNO_CHAOS_DIAL (`{"127.0.0.1:port": proxyPort}`) to this node's own link
 * proxy. `--peers` already points at the proxies, but a leader records its real Raft address in the
 * log and peers then dial that; this keeps every Raft link going through the proxy that can cut it.
 */

import net from "node:net";

const routes = JSON.parse(process.env["JUNO_CHAOS_DIAL"] ?? "{}") as Record<string, number>;
const exports = net as unknown as Record<string, unknown>;
const original = net.connect;

function redirected(...args: unknown[]): net.Socket {
  const first = args[0];
  if (typeof first === "object" && first !== null && "port" in first) {
    const options = first as { host?: string; port: number | string };
    const to = routes[`${options.host ?? "localhost"}:${options.port}`];
    if (to !== undefined) args[0] = { ...options, host: "127.0.0.1", port: to };
  }
  return (original as (...a: unknown[]) => net.Socket).apply(net, args);
}

exports["connect"] = redirected;
exports["createConnection"] = redirected;
