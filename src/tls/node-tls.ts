/**
 * A node's TLS files read at start (and again on reload): the HTTP API's key pair and client CA,
 * the peer transport's key pair and cluster CA. A refusal is a ConfigError `bad_tls_file` naming
 * the variable and the file, which `juno start` prints before it binds anything.
 */

import { ConfigError } from "../config/errors.js";
import type { ServerTls } from "../server/tls.js";
import type { PeerTlsOptions } from "../transport/tls.js";
import { optionLabel } from "../config/option-spec.js";
import { optionFor, type Settings } from "../config/option-table.js";
import {
  TlsFileError,
  loadCaBundle,
  loadKeyPair,
  readFromDisk,
  type FileReader,
  type KeyPair,
  type NamedFile,
} from "./material.js";

/** The settings that name TLS files. */
export type TlsSettings = Pick<
  Settings,
  "tlsCert" | "tlsKey" | "tlsClientCa" | "peerTlsCert" | "peerTlsKey" | "peerTlsCa"
>;

/** The HTTP API's TLS: its key pair, and the CAs client certificates must verify against. */
export interface ApiTlsMaterial {
  readonly keyPair: KeyPair;
  readonly clientCa: string | null;
}

/** The peer transport's TLS: this node's key pair and the cluster CA. */
export interface PeerTlsMaterial {
  readonly keyPair: KeyPair;
  readonly ca: string;
}

/** Everything a node serves TLS with; null parts are plain text. */
export interface NodeTlsMaterial {
  readonly api: ApiTlsMaterial | null;
  readonly peer: PeerTlsMaterial | null;
}

/** The files a node's TLS settings name, for watching them. */
export function tlsFiles(settings: TlsSettings): string[] {
  const paths = [
    settings.tlsCert,
    settings.tlsKey,
    settings.tlsClientCa,
    settings.peerTlsCert,
    settings.peerTlsKey,
    settings.peerTlsCa,
  ];
  return [...new Set(paths.filter((path): path is string => path !== null))];
}

/**
 * Reads and checks every TLS file the settings name, or refuses with `bad_tls_file`. The parser
 * has already made sure that they come in complete sets (node-config.ts).
 */
export function loadNodeTls(
  settings: TlsSettings,
  now: Date = new Date(),
  read: FileReader = readFromDisk,
): NodeTlsMaterial | ConfigError {
  try {
    return {
      api:
        settings.tlsCert === null || settings.tlsKey === null
          ? null
          : {
              keyPair: loadKeyPair(
                named("tlsCert", settings.tlsCert),
                named("tlsKey", settings.tlsKey),
                now,
                read,
              ),
              clientCa:
                settings.tlsClientCa === null
                  ? null
                  : loadCaBundle(named("tlsClientCa", settings.tlsClientCa), read),
            },
      peer:
        settings.peerTlsCa === null || settings.peerTlsCert === null || settings.peerTlsKey === null
          ? null
          : {
              keyPair: loadKeyPair(
                named("peerTlsCert", settings.peerTlsCert),
                named("peerTlsKey", settings.peerTlsKey),
                now,
                read,
              ),
              ca: loadCaBundle(named("peerTlsCa", settings.peerTlsCa), read),
            },
    };
  } catch (error) {
    if (!(error instanceof TlsFileError)) throw error;
    return new ConfigError("bad_tls_file", error.option, error.message);
  }
}

/** A file with the option that named it; errors carry the option's variable as their source. */
function named(key: keyof TlsSettings, path: string): NamedFile {
  const option = optionFor(key);
  return { path, option: optionLabel(option), source: option.env };
}

/** The API's TLS as the server takes it, or null for plain HTTP. */
export function serverTlsOf(material: NodeTlsMaterial): ServerTls | null {
  if (material.api === null) return null;
  return {
    cert: material.api.keyPair.cert,
    key: material.api.keyPair.key,
    clientCa: material.api.clientCa,
    peerCa: material.peer?.ca ?? null,
  };
}

/** The peer transport's TLS as it takes it, or null for plain TCP. */
export function peerTlsOf(material: NodeTlsMaterial): PeerTlsOptions | null {
  if (material.peer === null) return null;
  return { cert: material.peer.keyPair.cert, key: material.peer.keyPair.key, ca: material.peer.ca };
}

/** What the start-up log says of each certificate: whose, which names, until when. */
export function describeNodeTls(material: NodeTlsMaterial): Record<string, unknown> {
  const describe = (pair: KeyPair) => ({
    subject: pair.subject,
    names: pair.subjectAltName,
    not_after: pair.notAfter.toISOString(),
  });
  return {
    api:
      material.api === null
        ? "plain http"
        : { ...describe(material.api.keyPair), client_ca: material.api.clientCa !== null },
    peer: material.peer === null ? "plain tcp" : describe(material.peer.keyPair),
  };
}

/** The certificates that expire within `withinMs` of `now`, with the days left, for a warning. */
export function expiringSoon(
  material: NodeTlsMaterial,
  now: Date,
  withinMs: number,
): { which: string; days: number }[] {
  const pairs: [string, KeyPair | undefined][] = [
    ["api", material.api?.keyPair],
    ["peer", material.peer?.keyPair],
  ];
  return pairs.flatMap(([which, pair]) => {
    if (pair === undefined) return [];
    const leftMs = pair.notAfter.getTime() - now.getTime();
    return leftMs < withinMs ? [{ which, days: Math.floor(leftMs / 86_400_000) }] : [];
  });
}
