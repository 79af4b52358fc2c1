/**
 * `juno dev --tls`: a throw-away CA made afresh on every run, a certificate per node (for
 * localhost, 127.0.0.1 and ::1, good for serving and dialling) and a client certificate, written
 * under the dev data directory. The CA's key is never written: nothing can be issued by it once
 * the run is over, and the next run makes a new CA.
 */

import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { LOOPBACK_NAMES, createCertificateAuthority, issueCertificate } from "./certificates.js";

/** Where the files of a dev cluster's certificates are. */
export interface DevCertificateFiles {
  readonly dir: string;
  readonly ca: string;
  /** Each node's certificate and key, by node id. */
  readonly nodes: ReadonlyMap<string, { readonly cert: string; readonly key: string }>;
  readonly client: { readonly cert: string; readonly key: string };
}

/** Makes the CA and certificates for `nodeIds` and writes them into `dir` (created if needed). */
export function writeDevCertificates(dir: string, nodeIds: readonly string[]): DevCertificateFiles {
  const absolute = resolve(dir);
  mkdirSync(absolute, { recursive: true, mode: 0o700 });
  const ca = createCertificateAuthority({ commonName: "juno dev throw-away CA", validDays: 30 });
  const write = (name: string, text: string, mode: number): string => {
    const path = join(absolute, name);
    writeFileSync(path, text, { mode });
    // An existing file keeps its mode through writeFileSync; a key must not stay readable.
    chmodSync(path, mode);
    return path;
  };
  const caPath = write("ca.crt", ca.certPem, 0o644);
  const nodes = new Map<string, { cert: string; key: string }>();
  for (const id of nodeIds) {
    const pair = issueCertificate(ca, { commonName: id, ...LOOPBACK_NAMES, usage: "both" });
    nodes.set(id, {
      cert: write(`${id}.crt`, pair.certPem, 0o644),
      key: write(`${id}.key`, pair.keyPem, 0o600),
    });
  }
  const client = issueCertificate(ca, { commonName: "juno dev client", usage: "client" });
  return {
    dir: absolute,
    ca: caPath,
    nodes,
    client: {
      cert: write("client.crt", client.certPem, 0o644),
      key: write("client.key", client.keyPem, 0o600),
    },
  };
}
