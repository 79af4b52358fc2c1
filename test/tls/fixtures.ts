/**
 * Certificates for the TLS tests, each made once per test file on first use (RSA key generation
 * costs about a tenth of a second each): a cluster CA and a member certificate it issued for loopback,
 * a client certificate, and the ones that must be refused: expired, self-signed, and issued by
 * another CA. Also writes them to a temporary directory for the tests that take files.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  LOOPBACK_NAMES,
  createCertificateAuthority,
  issueCertificate,
  selfSignedCertificate,
  type CertificateAuthority,
  type KeyPairPem,
} from "../../src/tls/certificates.js";

/** Everything a TLS test may need. */
export interface TestCertificates {
  readonly ca: CertificateAuthority;
  /** Issued by `ca` for localhost, 127.0.0.1 and ::1, for server and client use. */
  readonly member: KeyPairPem;
  /** Issued by `ca` for client use only. */
  readonly client: KeyPairPem;
  /** Issued by `ca`, valid until yesterday. */
  readonly expired: KeyPairPem;
  /** Signed by its own key. */
  readonly selfSigned: KeyPairPem;
  /** Another CA, and a member certificate it issued. */
  readonly otherCa: CertificateAuthority;
  readonly foreign: KeyPairPem;
  /** Issued by `ca` for a name that is not this machine. */
  readonly misnamed: KeyPairPem;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Each certificate is made when first asked for, once per test file. */
function lazily<T>(make: () => T): () => T {
  let made: { value: T } | null = null;
  return () => (made ??= { value: make() }).value;
}

const ca = lazily(() => createCertificateAuthority({ commonName: "juno test cluster CA" }));
const otherCa = lazily(() => createCertificateAuthority({ commonName: "someone else's CA" }));
/** One key for every leaf: a certificate's key need not be its own to test how it is judged. */
const member = lazily(() => issueCertificate(ca(), { commonName: "member", ...LOOPBACK_NAMES }));
const keyPem = (): string => member().keyPem;

/** The certificates, each made on first use. */
const CERTIFICATES: TestCertificates = Object.defineProperties({} as TestCertificates, {
  ca: { get: ca },
  otherCa: { get: otherCa },
  member: { get: member },
  client: {
    get: lazily(() => issueCertificate(ca(), { commonName: "operator", usage: "client", keyPem: keyPem() })),
  },
  expired: {
    get: lazily(() =>
      issueCertificate(ca(), {
        commonName: "expired member",
        keyPem: keyPem(),
        ...LOOPBACK_NAMES,
        notBefore: new Date(Date.now() - 10 * DAY_MS),
        notAfter: new Date(Date.now() - DAY_MS),
      }),
    ),
  },
  selfSigned: {
    get: lazily(() => selfSignedCertificate({ commonName: "impostor", ...LOOPBACK_NAMES, keyPem: keyPem() })),
  },
  foreign: {
    get: lazily(() =>
      issueCertificate(otherCa(), { commonName: "foreign member", ...LOOPBACK_NAMES, keyPem: keyPem() }),
    ),
  },
  misnamed: {
    get: lazily(() =>
      issueCertificate(ca(), { commonName: "elsewhere", dnsNames: ["juno.example"], keyPem: keyPem() }),
    ),
  },
});

/** The certificates; each is made the first time it is read. */
export function certificates(): TestCertificates {
  return CERTIFICATES;
}

/** A temporary directory with `files` (name -> text) written into it; remove it with the returned function. */
export function writeFiles(files: Record<string, string>): {
  dir: string;
  path: (name: string) => string;
  remove: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), "juno-tls-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text, { mode: 0o600 });
  return {
    dir,
    path: (name) => join(dir, name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
