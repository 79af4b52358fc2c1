/**
 * HTTPS with a CA of one's own, and client certificates. The global fetch trusts the system's CAs
 * and presents no certificate; with `tls` given, the client's requests (requester.ts) and its
 * watches (through undici's fetch) go over an Agent that trusts the given CA instead (as curl
 * --cacert does) and presents the given certificate.
 */

/** PEM text, as a string or its bytes. */
export type Pem = string | Uint8Array;

/** What the client trusts and presents over HTTPS; PEM text (a file's contents, not its path). */
export interface ClientTlsOptions {
  /** CA certificates the nodes' certificates must verify against, instead of the system's. */
  readonly ca?: Pem | readonly Pem[];
  /** A client certificate (chain) for nodes that ask for one; with `key`. */
  readonly cert?: Pem;
  readonly key?: Pem;
}

/** The fetch the client uses: the one given, else one for `tls` when given, else the global one. */
export function clientFetch(options: {
  readonly fetch?: typeof fetch;
  readonly tls?: ClientTlsOptions;
}): typeof fetch {
  if (options.fetch !== undefined) return options.fetch;
  if (options.tls === undefined) return globalThis.fetch.bind(globalThis);
  return tlsFetch(options.tls);
}

/** undici's fetch as this module calls it; its own types differ in details from the DOM's fetch. */
type AnyFetch = (input: unknown, init: object) => Promise<Response>;

/** The TLS settings of an undici connection that trusts and presents what `tls` says. */
export function tlsConnectOptions(tls: ClientTlsOptions): { ca?: string[]; cert?: string; key?: string } {
  if ((tls.cert === undefined) !== (tls.key === undefined))
    throw new TypeError("tls.cert and tls.key go together: give both or neither");
  const text = (pem: Pem): string => (typeof pem === "string" ? pem : new TextDecoder().decode(pem));
  const cas =
    tls.ca === undefined
      ? []
      : typeof tls.ca === "string" || tls.ca instanceof Uint8Array
        ? [tls.ca]
        : tls.ca;
  return {
    ...(tls.ca === undefined ? {} : { ca: cas.map(text) }),
    ...(tls.cert === undefined ? {} : { cert: text(tls.cert) }),
    ...(tls.key === undefined ? {} : { key: text(tls.key) }),
  };
}

/** A fetch that trusts and presents what `tls` says; its connections are kept alive and shared. */
export function tlsFetch(tls: ClientTlsOptions): typeof fetch {
  const connect = tlsConnectOptions(tls);
  let loaded: Promise<AnyFetch> | null = null;
  const load = async (): Promise<AnyFetch> => {
    const undici = await import("undici");
    const dispatcher = new undici.Agent({ connect });
    const undiciFetch = undici.fetch as unknown as AnyFetch;
    return (input, init) => undiciFetch(input, { ...init, dispatcher });
  };
  const wrapped = async (input: unknown, init?: object): Promise<Response> => {
    loaded ??= load();
    return (await loaded)(input, init ?? {});
  };
  return wrapped;
}
