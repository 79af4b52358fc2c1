/**
 * The HTTP API over TLS: the https server's options, the check of optional client certificates,
 * how a follower reaches the leader's HTTPS API when it forwards, and replacing the certificate
 * while running. Every member of a cluster serves its API the same way (all HTTPS or all HTTP):
 * members announce host:port, and a follower dials the leader with its own scheme, as the
 * dashboard and the CLI reach other members with the scheme they reached the first one with.
 */

import type { FastifyInstance } from "fastify";
import { rootCertificates, type Server as TlsServer, type TLSSocket } from "node:tls";
import { Agent, fetch as undiciFetch } from "undici";
import { ApiError } from "./errors.js";

/** What the API serves TLS with, PEM text. */
export interface ServerTls {
  /** The certificate chain, leaf first. */
  readonly cert: string;
  readonly key: string;
  /** CAs client certificates must verify against; null: clients are not asked for one. */
  readonly clientCa: string | null;
  /** The cluster CA (--peer-tls-ca), trusted besides the system's CAs for the leader's API; null: the system's only. */
  readonly peerCa: string | null;
}

/** The oldest protocol version the API speaks. */
const MIN_VERSION = "TLSv1.2";

/** The options of the https server fastify creates. */
export function httpsOptions(tls: ServerTls): {
  cert: string;
  key: string;
  ca?: string;
  requestCert: boolean;
  rejectUnauthorized: boolean;
  minVersion: "TLSv1.2";
} {
  return {
    cert: tls.cert,
    key: tls.key,
    ...(tls.clientCa === null ? {} : { ca: tls.clientCa }),
    // A certificate is asked for but optional; one that is presented must verify, which
    // registerClientCertificates checks (Node can only refuse every client without one).
    requestCert: tls.clientCa !== null,
    rejectUnauthorized: false,
    minVersion: MIN_VERSION,
  };
}

/** What each connection's client certificate came to, judged once per connection. */
const verdicts = new WeakMap<object, string | null>();

/**
 * Refuses every request on a connection whose client presented a certificate that does not
 * verify against the client CA: 401 `unauthorized`, the connection closed after the answer. A
 * client that presents none goes on to the bearer token check as usual. Runs before everything
 * else, the token check and CORS included.
 */
export function registerClientCertificates(app: FastifyInstance): void {
  app.addHook("onRequest", (request, reply, done) => {
    const socket = request.raw.socket as TLSSocket;
    let problem = verdicts.get(socket);
    if (problem === undefined) {
      problem = certificateProblem(socket);
      verdicts.set(socket, problem);
    }
    if (problem === null) return done();
    void reply.header("connection", "close");
    done(new ApiError("unauthorized", `the client certificate was refused: ${problem}`));
  });
}

/** Why the client's certificate is refused, or null when it verified or none was presented. */
function certificateProblem(socket: TLSSocket): string | null {
  if (typeof socket.getPeerCertificate !== "function" || socket.authorized) return null;
  const certificate = socket.getPeerCertificate();
  if (certificate === null || Object.keys(certificate).length === 0) return null;
  return `it does not verify against --tls-client-ca (${String(socket.authorizationError)})`;
}

/** How a follower reaches the leader's API: the scheme and the fetch to use. */
export class LeaderLink {
  private agent: Agent | null = null;

  constructor(private tls: ServerTls | null) {
    this.agent = agentFor(tls);
  }

  /** `http` or `https`, as this node serves. */
  get scheme(): "http" | "https" {
    return this.tls === null ? "http" : "https";
  }

  /** Fetches `url`; over TLS, trusting the system's CAs and the cluster CA. */
  fetch(url: string, init: RequestInit): Promise<Response> {
    if (this.agent === null) return fetch(url, init);
    // undici's own fetch, with its Agent: the global fetch may not take another undici's dispatcher.
    return undiciFetch(url, { ...(init as object), dispatcher: this.agent });
  }

  /** Trusts the CAs of `tls` from now on (a reloaded cluster CA). */
  update(tls: ServerTls): void {
    const previous = this.agent;
    this.tls = tls;
    this.agent = agentFor(tls);
    void previous?.close();
  }

  /** Closes the connections kept open to the leader. */
  async close(): Promise<void> {
    await this.agent?.close();
  }
}

function agentFor(tls: ServerTls | null): Agent | null {
  if (tls === null) return null;
  // Without a cluster CA, Node's own trust (the system's CAs, NODE_EXTRA_CA_CERTS) decides.
  if (tls.peerCa === null) return new Agent({ connect: { minVersion: MIN_VERSION } });
  return new Agent({ connect: { ca: [...rootCertificates, tls.peerCa], minVersion: MIN_VERSION } });
}

/** The leader links of built apps, for reloading. */
const links = new WeakMap<FastifyInstance, LeaderLink>();

/** Keeps `link` as `app`'s, so reloadServerTls can update it. */
export function rememberLeaderLink(app: FastifyInstance, link: LeaderLink): void {
  links.set(app, link);
}

/**
 * Serves new connections of `app` (built with TLS) with the certificate, key and client CA of
 * `tls`, and forwards with its CAs; established connections go on as they are.
 */
export function reloadServerTls(app: FastifyInstance, tls: ServerTls): void {
  const server = app.server as unknown as TlsServer;
  if (typeof server.setSecureContext !== "function") throw new Error("the server was built without TLS");
  const { cert, key, ca } = httpsOptions(tls);
  server.setSecureContext({ cert, key, ...(ca === undefined ? {} : { ca }), minVersion: MIN_VERSION });
  links.get(app)?.update(tls);
}
