/**
 * Certificates made on the spot: a certificate authority, certificates it issues (for a server, a
 * client, or both, with DNS and IP names), and self-signed ones. `juno dev --tls` makes its
 * throw-away CA with these, and the tests make expired, self-signed and foreign certificates
 * cheaply. Keys are RSA 2048 from node:crypto (node-forge's own key generation is pure JavaScript
 * and slow); node-forge builds and signs the X.509 structures, which node:crypto cannot.
 */

import { generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";

/** A certificate and its private key, both PEM. */
export interface KeyPairPem {
  readonly certPem: string;
  readonly keyPem: string;
}

/** A certificate authority that can issue certificates. */
export interface CertificateAuthority extends KeyPairPem {
  readonly commonName: string;
}

/** What a certificate is for: its extended key usage. `both` suits a cluster member (it serves and dials). */
export type CertificateUsage = "server" | "client" | "both";

/** What to put in a certificate. */
export interface CertificateRequest {
  readonly commonName: string;
  /** DNS names for the subject alternative name extension. */
  readonly dnsNames?: readonly string[];
  /** IP addresses (v4 or v6) for the subject alternative name extension. */
  readonly ipAddresses?: readonly string[];
  /** Default `both`. */
  readonly usage?: CertificateUsage;
  /** Default: an hour ago, so that clocks a little apart still agree it is valid. */
  readonly notBefore?: Date;
  /** Default: `validDays` after now. */
  readonly notAfter?: Date;
  /** Default 30 days; used when `notAfter` is not given. */
  readonly validDays?: number;
  /** The subject's private key (PEM, RSA); default a new RSA 2048 key. Tests reuse one to save time. */
  readonly keyPem?: string;
}

/** What a CA is made with. */
export interface AuthorityRequest {
  readonly commonName?: string;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Default 30 days; used when `notAfter` is not given. */
  readonly validDays?: number;
}

/** The names every `juno dev` certificate carries: this machine, by name and by both loopbacks. */
export const LOOPBACK_NAMES = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"] } as const;

const DAY_MS = 24 * 60 * 60 * 1000;
/** Backdating covers clocks that differ a little between the machine that issues and one that checks. */
const BACKDATE_MS = 60 * 60 * 1000;

/** A new CA: a self-signed certificate that may sign others (basicConstraints cA, keyCertSign). */
export function createCertificateAuthority(request: AuthorityRequest = {}): CertificateAuthority {
  const commonName = request.commonName ?? "juno throw-away CA";
  const keys = rsaKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  setValidity(cert, request.notBefore, request.notAfter, request.validDays);
  const subject = [{ name: "commonName", value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { commonName, certPem: forge.pki.certificateToPem(cert), keyPem: keys.privatePem };
}

/** A certificate for `request`, signed by `authority`. */
export function issueCertificate(authority: CertificateAuthority, request: CertificateRequest): KeyPairPem {
  const caCert = forge.pki.certificateFromPem(authority.certPem);
  const caKey = forge.pki.privateKeyFromPem(authority.keyPem);
  const keys = rsaKeys(request.keyPem);
  const cert = leafCertificate(keys.publicKey, request);
  cert.setIssuer(caCert.subject.attributes);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privatePem };
}

/** A certificate for `request` signed by its own key: what a peer outside the cluster's CA might present. */
export function selfSignedCertificate(request: CertificateRequest): KeyPairPem {
  const keys = rsaKeys(request.keyPem);
  const cert = leafCertificate(keys.publicKey, request);
  cert.setIssuer(cert.subject.attributes);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privatePem };
}

/** The unsigned leaf: subject, validity, names and usages. */
function leafCertificate(
  publicKey: forge.pki.rsa.PublicKey,
  request: CertificateRequest,
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialNumber();
  setValidity(cert, request.notBefore, request.notAfter, request.validDays);
  cert.setSubject([{ name: "commonName", value: request.commonName }]);
  const usage = request.usage ?? "both";
  const altNames = [
    ...(request.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(request.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    {
      name: "extKeyUsage",
      serverAuth: usage === "server" || usage === "both",
      clientAuth: usage === "client" || usage === "both",
    },
    ...(altNames.length === 0 ? [] : [{ name: "subjectAltName", altNames }]),
    { name: "subjectKeyIdentifier" },
  ]);
  return cert;
}

function setValidity(
  cert: forge.pki.Certificate,
  notBefore: Date | undefined,
  notAfter: Date | undefined,
  validDays: number | undefined,
): void {
  const now = Date.now();
  cert.validity.notBefore = notBefore ?? new Date(now - BACKDATE_MS);
  cert.validity.notAfter = notAfter ?? new Date(now + (validDays ?? 30) * DAY_MS);
}

/** A random positive serial number (the top bit clear, so DER does not read it as negative). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString("hex");
}

/** An RSA key pair in forge's form: `existingPem`'s, or a new 2048-bit one from node:crypto (PKCS#8 PEM). */
function rsaKeys(existingPem?: string): {
  publicKey: forge.pki.rsa.PublicKey;
  privateKey: forge.pki.rsa.PrivateKey;
  privatePem: string;
} {
  const privatePem =
    existingPem ??
    generateKeyPairSync("rsa", {
      modulusLength: 2048,
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    }).privateKey;
  const privateKey = forge.pki.privateKeyFromPem(privatePem);
  const publicKey = forge.pki.setRsaPublicKey(privateKey.n, privateKey.e);
  return { publicKey, privateKey, privatePem };
}
