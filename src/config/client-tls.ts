/**
 * The TLS files of a client command: the CA that https:// nodes must verify against, and a client
 * certificate with its key for nodes that ask for one. Each comes from its flag or variable
 * (--ca JUNO_CA_FILE, --cert JUNO_CLIENT_CERT, --key JUNO_CLIENT_KEY), else the config file; the
 * files are read with the reader the parser is handed, like the config file itself.
 */

import type { ConfigFileReader, LoadedConfig } from "./client-file.js";
import { ConfigError } from "./errors.js";

/** The CA and client certificate of a client command, as read from their files (PEM text). */
export interface ClientTlsFiles {
  /** The CA to trust instead of the system's, or null for the system's. */
  readonly ca: string | null;
  readonly cert: string | null;
  readonly key: string | null;
}

/** The paths the flags or variables gave (null where neither did). */
export interface ClientTlsPaths {
  readonly ca: string | null;
  readonly cert: string | null;
  readonly key: string | null;
}

/** A file to read and what named it, for messages. */
interface Named {
  readonly path: string;
  readonly source: string;
}

const LABELS = {
  ca: "--ca (JUNO_CA_FILE)",
  cert: "--cert (JUNO_CLIENT_CERT)",
  key: "--key (JUNO_CLIENT_KEY)",
} as const;

/**
 * The CA, client certificate and key, read; null when none is named. A certificate needs its key
 * and a key its certificate, and a pair named by flags or variables never mixes with the file's.
 * A file that cannot be read or holds no PEM is refused as bad_tls_file.
 */
export function resolveClientTls(
  given: ClientTlsPaths,
  file: LoadedConfig | null,
  readFile: ConfigFileReader,
): ClientTlsFiles | null | ConfigError {
  const settings = file?.settings;
  const ownPair = given.cert !== null || given.key !== null;
  const pick = (name: keyof ClientTlsPaths, fromFile: string | null | undefined): Named | null => {
    const value = given[name];
    if (value !== null) return { path: value, source: LABELS[name] };
    if (fromFile == null || file === null) return null;
    return { path: fromFile, source: `${file.path} (${name})` };
  };
  const named = {
    ca: pick("ca", settings?.ca),
    cert: pick("cert", ownPair ? null : settings?.cert),
    key: pick("key", ownPair ? null : settings?.key),
  };
  if ((named.cert === null) !== (named.key === null)) {
    const [present, absent] = named.cert === null ? (["key", "cert"] as const) : (["cert", "key"] as const);
    return new ConfigError(
      "missing_required",
      LABELS[absent],
      `${named[present]!.source} needs ${LABELS[absent]}: a client certificate and its key go together`,
    );
  }
  if (named.ca === null && named.cert === null) return null;
  const texts: Record<keyof ClientTlsFiles, string | null> = { ca: null, cert: null, key: null };
  for (const name of ["ca", "cert", "key"] as const) {
    const text = readPem(named[name], readFile);
    if (text instanceof ConfigError) return text;
    texts[name] = text;
  }
  return texts;
}

/** The PEM text of a named file, or null for none; a refusal names the source and the file. */
function readPem(named: Named | null, readFile: ConfigFileReader): string | null | ConfigError {
  if (named === null) return null;
  const refuse = (problem: string) =>
    new ConfigError("bad_tls_file", named.source, `${named.source}: ${named.path} ${problem}`);
  let text: string | null;
  try {
    text = readFile(named.path);
  } catch (error) {
    return refuse(`cannot be read: ${(error as Error).message}`);
  }
  if (text === null) return refuse("does not exist");
  if (!text.includes("-----BEGIN ")) return refuse("is not PEM (no -----BEGIN line)");
  return text;
}
