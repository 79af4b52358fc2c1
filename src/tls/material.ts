/**
 * Certificate files read and checked before anything listens: a key pair (certificate chain and
 * private key, PEM) and CA bundles. Every way a file can be wrong (unreadable, not PEM, a key that
 * is not the certificate's, a certificate outside its validity, a CA bundle that holds no CA) is a
 * refusal that names the file and the flag it came from, so a node stops with a message instead of
 * a stack trace, and never falls back to plain text.
 */

import { X509Certificate, createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import tls from "node:tls";

/** The largest certificate or key file read; a real chain is a few kilobytes. */
export const PEM_FILE_BYTES_MAX = 1024 * 1024;

/** A file and the flag (with its variable) that named it, for messages. */
export interface NamedFile {
  readonly path: string;
  /** `--tls-cert (JUNO_TLS_CERT)`, for messages. */
  readonly option: string;
  /** `JUNO_TLS_CERT`: what a refusal names as its source. */
  readonly source: string;
}

/** A certificate chain and its key, as read. */
export interface KeyPair {
  /** The chain, leaf first, PEM. */
  readonly cert: string;
  readonly key: string;
  /** The leaf's subject and names, for the start-up log line. */
  readonly subject: string;
  readonly subjectAltName: string | null;
  readonly notAfter: Date;
}

/** Why a certificate, key or CA file was refused; `option` is the source of the file at fault. */
export class TlsFileError extends Error {
  override name = "TlsFileError";
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(message);
  }
}

/** Reads a file's text; the tests hand in their own. */
export type FileReader = (path: string) => string;

/** Reads from the disk, refusing a file larger than PEM_FILE_BYTES_MAX. */
export const readFromDisk: FileReader = (path) => {
  const buffer = readFileSync(path);
  if (buffer.length > PEM_FILE_BYTES_MAX) throw new Error(`larger than ${PEM_FILE_BYTES_MAX} bytes`);
  return buffer.toString("utf8");
};

/**
 * Reads and checks a certificate chain and its private key: both PEM, the key the leaf's, the leaf
 * valid at `now`. Throws TlsFileError naming the file at fault.
 */
export function loadKeyPair(
  certFile: NamedFile,
  keyFile: NamedFile,
  now: Date = new Date(),
  read: FileReader = readFromDisk,
): KeyPair {
  const cert = readPem(certFile, read);
  const key = readPem(keyFile, read);
  const chain = certificatesOf(certFile, cert);
  const leaf = chain[0]!;
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw refused(keyFile, `is not a private key in PEM (or it is encrypted): ${reason(error)}`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw refused(keyFile, `is not the private key of the certificate in ${certFile.path}`);
  }
  checkValidity(certFile, leaf, now);
  // Whatever else OpenSSL refuses (an unsupported key type, say) is refused now, not at the first connection.
  try {
    tls.createSecureContext({ cert, key });
  } catch (error) {
    throw refused(certFile, `cannot be used with ${keyFile.path}: ${reason(error)}`);
  }
  return {
    cert,
    key,
    subject: leaf.subject.replace(/\n/g, ", "),
    subjectAltName: leaf.subjectAltName ?? null,
    notAfter: new Date(leaf.validTo),
  };
}

/** Reads and checks a CA bundle: one or more certificates, each a CA; returns the PEM text. */
export function loadCaBundle(file: NamedFile, read: FileReader = readFromDisk): string {
  const text = readPem(file, read);
  const certificates = certificatesOf(file, text);
  const notCa = certificates.find((certificate) => !certificate.ca);
  if (notCa !== undefined) {
    throw refused(
      file,
      `holds a certificate that is not a CA (${notCa.subject.replace(/\n/g, ", ")}); give the CA that issued it`,
    );
  }
  return text;
}

/** The file's text, refusing one that cannot be read or holds no PEM block. */
function readPem(file: NamedFile, read: FileReader): string {
  let text: string;
  try {
    text = read(file.path);
  } catch (error) {
    throw refused(file, `cannot be read: ${reason(error)}`);
  }
  if (!text.includes("-----BEGIN ")) throw refused(file, "is not PEM (no -----BEGIN line)");
  return text;
}

/** Every certificate of a PEM text, in order; refuses a text with none or one that does not parse. */
function certificatesOf(file: NamedFile, text: string): X509Certificate[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw refused(file, "holds no certificate (no BEGIN CERTIFICATE block)");
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw refused(file, `certificate ${index + 1} does not parse: ${reason(error)}`);
    }
  });
}

function checkValidity(file: NamedFile, leaf: X509Certificate, now: Date): void {
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (now < notBefore) {
    throw refused(file, `is not valid before ${notBefore.toISOString()} (check this machine's clock)`);
  }
  if (now > notAfter) throw refused(file, `expired on ${notAfter.toISOString()}`);
}

function refused(file: NamedFile, problem: string): TlsFileError {
  return new TlsFileError(file.source, `${file.option}: ${file.path} ${problem}`);
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
