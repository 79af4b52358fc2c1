/** The SDK client a client command talks through: its nodes, token and timeout, with the SDK's failover. */

import { JunoClient, type ClientTlsOptions, type JunoClientOptions } from "../client/index.js";
import type { ClientConnection, ClientTlsFiles } from "../config/client-options.js";

/**
 * The client of a command: its nodes, token and timeout; `overrides` (tests' timers and sleeps)
 * set everything else.
 */
export function clientOf(
  connection: ClientConnection,
  overrides: Partial<JunoClientOptions> = {},
): JunoClient {
  const token = connection.token;
  const tls = connection.tls ?? null;
  return new JunoClient({
    ...(tls === null ? {} : { tls: clientTlsOf(tls) }),
    ...overrides,
    urls: connection.urls,
    timeoutMs: connection.timeoutMs,
    ...(token === null ? {} : { token: token.reveal() }),
  });
}

/** The files the command read, as the SDK takes them. */
function clientTlsOf(files: ClientTlsFiles): ClientTlsOptions {
  return {
    ...(files.ca === null ? {} : { ca: files.ca }),
    ...(files.cert === null || files.key === null ? {} : { cert: files.cert, key: files.key }),
  };
}
