/**
 * Mutual TLS for the peer transport. Both directions authenticate: the accepting side asks for a
 * certificate and refuses a peer that presents none or one that does not verify against the
 * cluster CA; the dialling side verifies the accepting side's certificate against the same CA and
 * checks that it names the host it dialled (a DNS name or IP address in its subject alternative
 * names, as Node's checkServerIdentity does). The cluster-secret handshake then runs inside the
 * encrypted stream, unchanged. A certificate is not tied to a node id: any holder of a certificate
 * from the cluster CA and of the cluster secret may claim any id, as with the secret alone.
 *
 * The accepting side's TLS server never listens itself: the transport's TCP listener hands each
 * connection to it, so that one listener and one connection limit serve both modes. The key pair
 * and CA can be replaced while running (a certificate renewed on disk): new connections use the
 * new ones, established connections stay as they are.
 */

import { isIP } from "node:net";
import tls, { type SecureContext, type TLSSocket } from "node:tls";

/** This node's certificate chain and key, and the cluster CA, all PEM. */
export interface PeerTlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca: string | Buffer;
}

/** The oldest protocol version either side speaks. */
const MIN_VERSION = "TLSv1.2";

/** The TLS side of one transport: the context it dials with and the server it accepts through. */
export class PeerTls {
  /** Hands accepted sockets through the TLS handshake; emits secureConnection and tlsClientError. */
  readonly server: tls.Server;
  private context: SecureContext;

  constructor(options: PeerTlsOptions, handshakeTimeoutMs: number) {
    this.context = clientContext(options);
    this.server = tls.createServer({
      ...serverContextOptions(options),
      // Refusals are decided by the transport (secureConnection with authorized false), so that
      // each is logged and counted; Node would otherwise drop them without a word.
      requestCert: true,
      rejectUnauthorized: false,
      handshakeTimeout: handshakeTimeoutMs,
      minVersion: MIN_VERSION,
    });
  }

  /** Uses `options` for connections made from now on, both ways. */
  update(options: PeerTlsOptions): void {
    const context = clientContext(options);
    this.server.setSecureContext(serverContextOptions(options));
    this.context = context;
  }

  /** Dials `host:port` with this node's certificate, verifying the peer's certificate and name. */
  connect(host: string, port: number): TLSSocket {
    return tls.connect({
      host,
      port,
      secureContext: this.context,
      // SNI takes names only; an IP address is still checked against the certificate's IP SANs.
      ...(isIP(host) === 0 ? { servername: host } : {}),
      rejectUnauthorized: true,
      minVersion: MIN_VERSION,
    });
  }
}

function serverContextOptions(options: PeerTlsOptions): tls.SecureContextOptions {
  return { cert: options.cert, key: options.key, ca: options.ca, minVersion: MIN_VERSION };
}

function clientContext(options: PeerTlsOptions): SecureContext {
  return tls.createSecureContext(serverContextOptions(options));
}

/** What certificate verification codes mean, in words an operator can act on. */
const VERIFY_REASONS: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: "its certificate has expired",
  CERT_NOT_YET_VALID: "its certificate is not valid yet (check the clocks)",
  DEPTH_ZERO_SELF_SIGNED_CERT: "its certificate is self-signed, not issued by the cluster CA",
  SELF_SIGNED_CERT_IN_CHAIN: "its certificate chain ends in a CA that is not the cluster CA",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its certificate is not issued by the cluster CA",
  UNABLE_TO_GET_ISSUER_CERT: "its certificate is not issued by the cluster CA",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "its certificate is not issued by the cluster CA",
  CERT_SIGNATURE_FAILURE: "its certificate's signature does not verify",
  CERT_REVOKED: "its certificate is revoked",
  INVALID_PURPOSE: "its certificate is not for this use (it needs both serverAuth and clientAuth)",
  ERR_TLS_CERT_ALTNAME_INVALID: "its certificate does not name the host it was dialled at",
};

/**
 * Why a certificate was refused, from a verification code (an `authorizationError`, or the `code`
 * of a dialling error), or null when the code is not about a certificate.
 */
export function certificateRefusal(code: string | undefined | null): string | null {
  if (code === undefined || code === null) return null;
  const known = VERIFY_REASONS[code];
  if (known !== undefined) return `${known} (${code})`;
  return /CERT|SIGNATURE|ISSUER|PURPOSE|ALTNAME/.test(code) ? `its certificate was refused (${code})` : null;
}

/** Whether an accepted socket's peer presented any certificate at all. */
export function presentedCertificate(socket: TLSSocket): boolean {
  const certificate = socket.getPeerCertificate();
  return certificate !== null && Object.keys(certificate).length > 0;
}

/** An error's code, if it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}
