/**
 * HTTP reads for the providers that speak HTTP (Consul, agent cards): a deadline on the whole
 * exchange (headers and body) through the injected timers, a bound on the body however the server
 * sends it, and failures as DiscoveryErrors with stable codes.
 */

import { DiscoveryError, isAbortError } from "./errors.js";
import type { DiscoveryClock } from "./types.js";

/** The fetch the providers use: the global one by default, injectable for tests. */
export type FetchFunction = typeof globalThis.fetch;

/** How one request is bounded. */
export interface RequestBounds {
  readonly clock: Pick<DiscoveryClock, "setTimeout" | "clearTimeout">;
  /** The whole exchange, body included, must finish within this. */
  readonly timeoutMs: number;
  /** Cancels the request when the provider stops. */
  readonly signal: AbortSignal;
}

/**
 * Runs `exchange` with a signal that aborts when the deadline passes or the provider stops, and
 * turns the ways it can fail into DiscoveryErrors: "timeout", "aborted" or "unreachable".
 */
export async function withDeadline<T>(
  what: string,
  bounds: RequestBounds,
  exchange: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = (): void => controller.abort();
  if (bounds.signal.aborted) throw new DiscoveryError("aborted", `${what}: cancelled`);
  bounds.signal.addEventListener("abort", onAbort);
  const timer = bounds.clock.setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, bounds.timeoutMs);
  try {
    return await exchange(controller.signal);
  } catch (error) {
    if (error instanceof DiscoveryError) throw error;
    if (timedOut) throw new DiscoveryError("timeout", `${what}: no answer in ${bounds.timeoutMs} ms`);
    if (bounds.signal.aborted || isAbortError(error))
      throw new DiscoveryError("aborted", `${what}: cancelled`, null, { cause: error });
    throw new DiscoveryError("unreachable", `${what}: ${describe(error)}`, null, { cause: error });
  } finally {
    bounds.clock.clearTimeout(timer);
    bounds.signal.removeEventListener("abort", onAbort);
  }
}

/** The most useful text of a fetch failure (undici hides the socket error in `cause`). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code === undefined ? cause.message : `${code} ${cause.message}`;
  }
  return error.message;
}

/**
 * The body as text, refusing more than `maxBytes`: a declared Content-Length over the bound is
 * refused before reading, and a body without one is read up to the bound and no further.
 */
export async function readBoundedText(response: Response, maxBytes: number, what: string): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new DiscoveryError("too_large", `${what}: body of ${declared} bytes is over ${maxBytes}`);
  }
  if (response.body === null) return "";
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.byteLength;
    if (received > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new DiscoveryError("too_large", `${what}: body is over ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Parses JSON text, failing as a bad response. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new DiscoveryError("bad_response", `${what}: the body is not JSON`, null, { cause: error });
  }
}

/** Drops a body that will not be read, so its connection can be reused or closed. */
export async function discardBody(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}
