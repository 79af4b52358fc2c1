/** host:port addresses: parsing, canonical form, and which of them stay on this machine. */

import { Invalid, quote } from "./errors.js";

/** A host and a port. IPv6 hosts are kept without brackets, in canonical (compressed) form. */
export interface Address {
  readonly host: string;
  readonly port: number;
}

/** The form every address error asks for. */
export const ADDRESS_FORM = "host:port, for example 0.0.0.0:8080, node-1.example:9090 or [::1]:9090";

const IPV4_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
// Leading zeros are refused because some resolvers read "010" as octal.
const IPV4 = new RegExp(`^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}$`);
// Underscores are allowed because container runtimes resolve names such as juno_node_1.
const HOSTNAME_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;
const HOSTNAME_LENGTH_MAX = 253;
const PORT = /^[0-9]{1,5}$/;

/** Parses `host:port`; hostnames are lower-cased and IPv6 compressed so equal addresses compare equal. */
export function parseAddress(text: string): Address | Invalid {
  const colon = text.lastIndexOf(":");
  if (colon < 0) return malformed(text, "it has no port");
  const hostText = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (!PORT.test(portText)) return malformed(text, "the port is not a number");
  const port = Number(portText);
  // Port 0 asks the system for any free port; other nodes could not know which one to dial.
  if (port < 1 || port > 65_535) return malformed(text, "the port is not in 1..65535");
  const host = parseHost(hostText);
  if (host === null) {
    const hint = hostText.includes(":") && !hostText.startsWith("[") ? " (write IPv6 in brackets)" : "";
    return malformed(text, `the host is not an IPv4 address, a hostname or a bracketed IPv6 address${hint}`);
  }
  return { host, port };
}

/** The `host:port` text of an address, with IPv6 hosts in brackets; parseAddress reads it back. */
export function formatAddress(address: Address): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** Whether the host means "every interface" (0.0.0.0 or ::), which can be listened on but not dialled. */
export function isWildcard(address: Address): boolean {
  return address.host === "0.0.0.0" || address.host === "::";
}

/** Whether only processes on this machine can reach the address: 127.0.0.0/8, ::1 or localhost. */
export function isLoopback(address: Address): boolean {
  const host = address.host;
  if (host === "localhost" || host === "::1") return true;
  if (IPV4.test(host)) return host.startsWith("127.");
  // An IPv4-mapped IPv6 address of 127.x.y.z, as canonicalised by the URL parser (::ffff:7fxx:yyzz).
  return /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(host);
}

/** The address a process on this machine dials to reach a listener; wildcards become loopback. */
export function localDialAddress(address: Address): Address {
  if (address.host === "0.0.0.0") return { host: "127.0.0.1", port: address.port };
  if (address.host === "::") return { host: "::1", port: address.port };
  return address;
}

/** Whether two listen addresses would claim the same port on some interface. */
export function overlaps(a: Address, b: Address): boolean {
  return a.port === b.port && (a.host === b.host || isWildcard(a) || isWildcard(b));
}

/** The canonical host, or null when the text is no IPv4 address, hostname or bracketed IPv6 address. */
function parseHost(text: string): string | null {
  if (text.startsWith("[") && text.endsWith("]")) return canonicalIpv6(text.slice(1, -1));
  if (IPV4.test(text)) return text;
  const host = text.toLowerCase();
  if (host.length === 0 || host.length > HOSTNAME_LENGTH_MAX) return null;
  const labels = host.split(".");
  if (!labels.every((label) => HOSTNAME_LABEL.test(label))) return null;
  // An all-numeric last label would make "10.0.0" a hostname; it is a mistyped IPv4 address.
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? "")) return null;
  return host;
}

/** The compressed form of an IPv6 address, or null; the WHATWG URL parser does the validation. */
function canonicalIpv6(text: string): string | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return null;
  const url = `http://[${text}]/`;
  return URL.canParse(url) ? new URL(url).hostname.slice(1, -1) : null;
}

/** The refusal of an address, quoting it. */
function malformed(text: string, why: string): Invalid {
  return new Invalid("malformed_address", `expected ${ADDRESS_FORM}, got ${quote(text)}: ${why}`);
}
