/**
 * One DNS question to one server, over UDP with a fallback to TCP when the answer is truncated
 * (RFC 7766). node:dns cannot be used: its resolveSrv drops the TTLs, and TTLs are what tell the
 * provider when to ask again. Messages are encoded and decoded by dns-packet.
 */

import dgram from "node:dgram";
import { getServers } from "node:dns";
import { isIPv6 } from "node:net";
import net from "node:net";
import * as dnsPacket from "dns-packet";
import type { TimerHandle } from "../transport/timers.js";
import { DiscoveryError } from "./errors.js";
import type { DiscoveryClock, RandomSource } from "./types.js";

/** A DNS server's address. */
export interface DnsServer {
  readonly host: string;
  readonly port: number;
}

/** The record types the provider asks for. */
export type DnsQuestionType = "SRV" | "A" | "AAAA" | "TXT";

/** A decoded answer: the rcode and the three record sections. */
export interface DnsResponse {
  /** The response code: 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ... */
  readonly rcode: number;
  readonly answers: readonly dnsPacket.Answer[];
  readonly authorities: readonly dnsPacket.Answer[];
  readonly additionals: readonly dnsPacket.Answer[];
}

/** How one question is asked. */
export interface DnsQueryOptions {
  readonly clock: Pick<DiscoveryClock, "setTimeout" | "clearTimeout">;
  readonly random: RandomSource;
  /** How long to wait for each UDP attempt and for the whole TCP exchange. */
  readonly timeoutMs: number;
  /** UDP attempts before giving up (each with a new message id). */
  readonly attempts: number;
  readonly signal: AbortSignal;
}

/** The response codes. */
export const RCODE_NOERROR = 0;
export const RCODE_NXDOMAIN = 3;

/** What we tell servers we can take over UDP (EDNS0, RFC 6891); 1232 avoids IP fragmentation. */
const UDP_PAYLOAD_SIZE = 1232;
/** Datagrams that do not answer our question are ignored; this many of them fail the attempt. */
const MAX_STRAY_DATAGRAMS = 32;
/** The largest DNS message over TCP (a 16-bit length). */
const MAX_TCP_MESSAGE_BYTES = 65_535;

/** The standard DNS port. */
export const DNS_PORT = 53;

/**
 * Parses "host", "host:port", "[v6]" or "[v6]:port" (a bare IPv6 address is a host without a
 * port), refusing anything else.
 */
export function parseDnsServer(text: string): DnsServer {
  const value = text.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(value);
  if (bracketed !== null) return server(bracketed[1] ?? "", bracketed[2], text);
  if (isIPv6(value)) return { host: value, port: DNS_PORT };
  const plain = /^([^:\s]+)(?::(\d{1,5}))?$/.exec(value);
  if (plain !== null) return server(plain[1] ?? "", plain[2], text);
  throw new DiscoveryError("invalid_options", `DNS server ${JSON.stringify(text)} is not host[:port]`);
}

function server(host: string, portText: string | undefined, text: string): DnsServer {
  const port = portText === undefined ? DNS_PORT : Number(portText);
  if (host.length === 0 || !(port >= 1 && port <= 65_535))
    throw new DiscoveryError("invalid_options", `DNS server ${JSON.stringify(text)} is not host[:port]`);
  return { host, port };
}

/** The system resolver's servers (from /etc/resolv.conf), as node:dns reads them. */
export function systemDnsServers(): readonly DnsServer[] {
  return getServers().map(parseDnsServer);
}

/** Asks `server` one question; resolves with any answer that has a response code, rejects on no answer. */
export async function queryDns(
  server: DnsServer,
  name: string,
  type: DnsQuestionType,
  options: DnsQueryOptions,
): Promise<DnsResponse> {
  let lastError: DiscoveryError | null = null;
  for (let attempt = 0; attempt < Math.max(1, options.attempts); attempt++) {
    const id = Math.floor(options.random() * 65_536) & 0xffff;
    const query = encodeQuery(id, name, type, true);
    try {
      const reply = await exchangeUdp(server, query, (message) => matches(message, id, name, type), options);
      if (!reply.flag_tc) return toResponse(reply);
      // Truncated: the whole answer only comes over TCP.
      const tcpId = (id + 1) & 0xffff;
      const tcpReply = await exchangeTcp(server, encodeQuery(tcpId, name, type, false), options);
      if (!matches(tcpReply, tcpId, name, type))
        throw new DiscoveryError(
          "bad_response",
          `DNS over TCP answered another question than ${name} ${type}`,
        );
      return toResponse(tcpReply);
    } catch (error) {
      if (!(error instanceof DiscoveryError) || error.code !== "timeout") throw error;
      lastError = error;
    }
  }
  throw lastError ?? new DiscoveryError("timeout", `no DNS answer for ${name} ${type}`);
}

function encodeQuery(id: number, name: string, type: DnsQuestionType, udp: boolean): Buffer {
  const message: dnsPacket.Packet = {
    type: "query",
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: "IN" }],
    additionals: [
      {
        type: "OPT",
        name: ".",
        udpPayloadSize: UDP_PAYLOAD_SIZE,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      },
    ],
  };
  return udp ? dnsPacket.encode(message) : dnsPacket.streamEncode(message);
}

function matches(message: dnsPacket.DecodedPacket, id: number, name: string, type: DnsQuestionType): boolean {
  const question = message.questions?.[0];
  return (
    message.flag_qr &&
    message.id === id &&
    question !== undefined &&
    question.type === type &&
    sameName(question.name, name)
  );
}

/** DNS names compare without case and without a trailing dot. */
export function sameName(left: string, right: string): boolean {
  return canonicalName(left) === canonicalName(right);
}

/** A name in lower case without its trailing dot. */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

function toResponse(message: dnsPacket.DecodedPacket): DnsResponse {
  return {
    rcode: (message.flags ?? 0) & 0x0f,
    answers: message.answers ?? [],
    authorities: message.authorities ?? [],
    additionals: message.additionals ?? [],
  };
}

function decode(bytes: Buffer): dnsPacket.DecodedPacket | null {
  try {
    return dnsPacket.decode(bytes);
  } catch {
    return null;
  }
}

/** Sends one datagram and waits for the reply that `accept` takes. */
function exchangeUdp(
  server: DnsServer,
  query: Buffer,
  accept: (message: dnsPacket.DecodedPacket) => boolean,
  options: DnsQueryOptions,
): Promise<dnsPacket.DecodedPacket> {
  return withDeadline(options, `DNS over UDP to ${server.host}:${server.port}`, (settle) => {
    const socket = dgram.createSocket(isIPv6(server.host) ? "udp6" : "udp4");
    let strays = 0;
    socket.on("error", (error: NodeJS.ErrnoException) =>
      settle(
        new DiscoveryError(
          "unreachable",
          `DNS server ${server.host}:${server.port}: ${error.code ?? error.message}`,
          null,
          { cause: error },
        ),
      ),
    );
    socket.on("message", (bytes) => {
      const message = decode(bytes);
      if (message !== null && accept(message)) return settle(null, message);
      if (++strays >= MAX_STRAY_DATAGRAMS)
        settle(
          new DiscoveryError(
            "bad_response",
            `DNS server ${server.host}:${server.port} sent no matching answer`,
          ),
        );
    });
    // A connected socket hears ICMP port-unreachable as ECONNREFUSED: a stopped server fails fast.
    socket.connect(server.port, server.host, () => socket.send(query));
    return () => socket.close();
  });
}

/** Sends one length-prefixed message over a new TCP connection and reads one back. */
function exchangeTcp(
  server: DnsServer,
  query: Buffer,
  options: DnsQueryOptions,
): Promise<dnsPacket.DecodedPacket> {
  return withDeadline(options, `DNS over TCP to ${server.host}:${server.port}`, (settle) => {
    const socket = net.connect({ host: server.host, port: server.port });
    const chunks: Buffer[] = [];
    let received = 0;
    socket.on("connect", () => socket.write(query));
    socket.on("error", (error: NodeJS.ErrnoException) =>
      settle(
        new DiscoveryError(
          "unreachable",
          `DNS server ${server.host}:${server.port}: ${error.code ?? error.message}`,
          null,
          { cause: error },
        ),
      ),
    );
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received > MAX_TCP_MESSAGE_BYTES + 2)
        return settle(new DiscoveryError("too_large", "DNS over TCP sent more than one message"));
      const buffered = Buffer.concat(chunks);
      if (buffered.length < 2) return;
      const length = buffered.readUInt16BE(0);
      if (buffered.length < 2 + length) return;
      const message = decode(buffered.subarray(2, 2 + length));
      settle(
        message === null
          ? new DiscoveryError("bad_response", "DNS over TCP sent an undecodable message")
          : null,
        message ?? undefined,
      );
    });
    socket.on("end", () =>
      settle(new DiscoveryError("bad_response", "DNS over TCP closed before a whole answer")),
    );
    return () => socket.destroy();
  });
}

type Settle<T> = (error: Error | null, value?: T) => void;

/**
 * Runs `start` until it settles, the timeout passes or the signal aborts, whichever is first, and
 * then runs the cleanup it returned exactly once.
 */
function withDeadline<T>(
  options: DnsQueryOptions,
  what: string,
  start: (settle: Settle<T>) => () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let cleanup: (() => void) | null = null;
    let timer: TimerHandle | null = null;
    const onAbort = (): void => settle(new DiscoveryError("aborted", `${what} cancelled`));
    const settle: Settle<T> = (error, value) => {
      if (done) return;
      done = true;
      if (timer !== null) options.clock.clearTimeout(timer);
      options.signal.removeEventListener("abort", onAbort);
      cleanup?.();
      if (error !== null) reject(error);
      else resolve(value as T);
    };
    if (options.signal.aborted) return onAbort();
    options.signal.addEventListener("abort", onAbort);
    timer = options.clock.setTimeout(
      () => settle(new DiscoveryError("timeout", `${what}: no answer in ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    cleanup = start(settle);
    // start may have settled synchronously before cleanup was known.
    if (done) cleanup();
  });
}
