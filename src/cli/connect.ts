/** The SDK client a client command talks through: its nodes, token and timeout, with the SDK's failover. */

import { JunoClient, type JunoClientOptions } from "../client/index.js";
import type { ClientConnection } from "../config/client-options.js";

/**
 * The client of a command: its nodes, token and timeout; `overrides` (tests' timers and sleeps)
 * set everything else.
 */
export function clientOf(
  connection: ClientConnection,
  overrides: Partial<JunoClientOptions> = {},
): JunoClient {
  const token = connection.token;
  return new JunoClient({
    ...overrides,
    urls: connection.urls,
    timeoutMs: connection.timeoutMs,
    ...(token === null ? {} : { token: token.reveal() }),
  });
}
