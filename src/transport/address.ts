/** Raft addresses: `host:port`, with IPv6 hosts in brackets (`[::1]:9090`). */

/** A parsed address, ready for node:net. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `host:port`. Port 0 (let the system choose) is only meaningful for listening, so it is
 * refused unless `allowPortZero` is set. Throws RangeError with the offending text otherwise.
 */
export function parseAddress(address: string, allowPortZero = false): HostPort {
  const match = /^(?:\[([0-9A-Fa-f:.%\w-]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(address);
  if (match === null) throw new RangeError(`address ${JSON.stringify(address)} is not host:port`);
  const host = match[1] ?? match[2] ?? "";
  const port = Number(match[3]);
  if (port > 65_535 || (port === 0 && !allowPortZero)) {
    throw new RangeError(`address ${JSON.stringify(address)} has an invalid port`);
  }
  return { host, port };
}

/** Formats an address back to text, bracketing IPv6 hosts. */
export function formatAddress({ host, port }: HostPort): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
