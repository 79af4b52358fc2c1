/**
 * Raft addresses: `host:port`, with IPv6 hosts in brackets (`[::1]:9090`). The rules are the
 * configuration's (one parser for the whole project); here a malformed address is a programmer
 * error, because every address the transport sees was checked where it entered.
 */

import { formatAddress, parseAddress as parseConfiguredAddress, type Address } from "../config/address.js";
import { Invalid } from "../config/errors.js";

export { formatAddress };

/** A parsed address, ready for node:net. */
export type HostPort = Address;

/**
 * Parses `host:port`. Port 0 (let the system choose) is only meaningful for listening, so it is
 * refused unless `allowPortZero` is set. Throws RangeError with the offending text otherwise.
 */
export function parseAddress(address: string, allowPortZero = false): HostPort {
  const anyPort = allowPortZero && address.endsWith(":0");
  // The configuration refuses port 0 (peers could not dial it): parse with a stand-in port.
  const parsed = parseConfiguredAddress(anyPort ? `${address.slice(0, -1)}1` : address);
  if (parsed instanceof Invalid) {
    throw new RangeError(`address ${JSON.stringify(address)} is not host:port: ${parsed.reason}`);
  }
  return anyPort ? { host: parsed.host, port: 0 } : parsed;
}
