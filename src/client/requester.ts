/**
 * How the transport puts one request on the wire and reads its answer. By default undici's
 * `Dispatcher.request` over a keep-alive pool per node: it skips the WHATWG layers of fetch
 * (web streams, Headers objects, a Response per answer) that cost an agent or a submitter more
 * CPU per call than the call itself. A caller that brings its own `fetch` (tests, a proxy) gets
 * that fetch instead, with the same answers, and so does a runtime where undici cannot be loaded
 * (the SDK promises to need nothing but fetch): undici is imported on the first request, not
 * by this file.
 */

import type { AbortHandle } from "./timers.js";
import { tlsConnectOptions, type ClientTlsOptions } from "./tls.js";

/** undici's types only: the module itself is loaded when first needed. */
type Dispatcher = import("undici").Dispatcher;
type HttpMethod = import("undici").Dispatcher.HttpMethod;
type AnswerBody = import("undici").Dispatcher.ResponseData["body"];

/** One request as the transport has built it. */
export interface WireRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
  /** Ends the request: an AbortSignal, or the transport's lighter AbortHandle. */
  readonly signal: AbortSignal | AbortHandle;
  /** The largest answer body read; a larger one rejects with ResponseTooLarge. */
  readonly bytesMax: number;
}

/** An answer, its body read in full. */
export interface WireAnswer {
  readonly status: number;
  /** A header's value, or null when it is absent; names in lower case. */
  header(name: string): string | null;
  readonly text: string;
}

/** Sends one request to `url` (base URL and target) and reads the answer; rejects on a network error. */
export type Requester = (url: string, request: WireRequest) => Promise<WireAnswer>;

/** An answer body beyond the bound. */
export class ResponseTooLarge extends Error {
  constructor(
    readonly status: number,
    bytesMax: number,
  ) {
    super(`the answer is larger than ${bytesMax} bytes`);
  }
}

/** Keep-alive connections are let go after this long idle: shorter than the server's own 72 s. */
const KEEP_ALIVE_TIMEOUT_MS = 30_000;

/** The requester for these options: the given fetch, else undici with the given TLS settings. */
export function requesterFor(options: {
  readonly fetch?: typeof fetch;
  readonly tls?: ClientTlsOptions;
}): Requester {
  if (options.fetch !== undefined) return fetchRequester(options.fetch);
  const connect = options.tls === undefined ? undefined : tlsConnectOptions(options.tls);
  let loaded: Promise<Requester> | null = null;
  const load = async (): Promise<Requester> => {
    let Agent: typeof import("undici").Agent;
    try {
      ({ Agent } = await import("undici"));
    } catch {
      if (connect !== undefined) throw new Error("tls options need undici, which could not be loaded");
      return fetchRequester(globalThis.fetch.bind(globalThis));
    }
    const options = {
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      ...(connect === undefined ? {} : { connect }),
    };
    return dispatcherRequester(new Agent(options));
  };
  return async (url, request) => {
    loaded ??= load();
    return (await loaded)(url, request);
  };
}

/** Requests through an undici dispatcher; its connections are kept alive and shared by every call. */
export function dispatcherRequester(dispatcher: Dispatcher): Requester {
  return async (url, request) => {
    const answer = await dispatcher.request({
      origin: originOf(url),
      path: pathOf(url),
      method: request.method as HttpMethod,
      headers: request.headers,
      body: request.body ?? null,
      // undici takes any EventTarget-like signal: the handle's aborted, reason and listeners.
      signal: request.signal,
    });
    const headers = answer.headers;
    const length = headers["content-length"];
    const declared = Number(length ?? "0");
    if (declared > request.bytesMax) {
      discard(answer.body);
      throw new ResponseTooLarge(answer.statusCode, request.bytesMax);
    }
    // A declared length within the bound is the whole body (undici refuses a body that runs
    // past it), so it is read in one go; one without (chunked) is read counting as it comes.
    const text =
      length === undefined
        ? await readBounded(answer.body, answer.statusCode, request.bytesMax)
        : await answer.body.text();
    return {
      status: answer.statusCode,
      header: (name) => {
        const value = headers[name];
        return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
      },
      text,
    };
  };
}

/** Requests through a fetch function. */
export function fetchRequester(fetchFunction: typeof fetch): Requester {
  return async (url, request) => {
    const response = await fetchFunction(url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: request.signal instanceof AbortSignal ? request.signal : request.signal.signal(),
    });
    const text = await readBoundedText(response, request.bytesMax);
    return { status: response.status, header: (name) => response.headers.get(name), text };
  };
}

/** A body stream's text, refusing one larger than `bytesMax` without reading all of it. */
async function readBounded(body: AnswerBody, status: number, bytesMax: number): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength;
    if (bytes > bytesMax) {
      discard(body);
      throw new ResponseTooLarge(status, bytesMax);
    }
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}

/**
 * Drops an answer body unread. undici's body emits an abort error when destroyed: unheard, it
 * would be an uncaught exception that ends the process.
 */
function discard(body: { on(event: "error", listener: () => void): unknown; destroy(): void }): void {
  body.on("error", () => undefined);
  body.destroy();
}

/** A fetch Response's body as text, refusing one larger than `bytesMax` without reading all of it. */
export async function readBoundedText(response: Response, bytesMax: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > bytesMax) {
    await response.body?.cancel();
    throw new ResponseTooLarge(response.status, bytesMax);
  }
  if (response.body === null) return "";
  // Node's types leave the chunk type open; fetch's bodies are bytes.
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    bytes += chunk.value.byteLength;
    if (bytes > bytesMax) {
      await reader.cancel();
      throw new ResponseTooLarge(response.status, bytesMax);
    }
    text += decoder.decode(chunk.value, { stream: true });
  }
  return text + decoder.decode();
}

/** `http://host:port` of a full URL. */
function originOf(url: string): string {
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  return slash < 0 ? url : url.slice(0, slash);
}

/** The path and query of a full URL, `/` when it has none. */
function pathOf(url: string): string {
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  return slash < 0 ? "/" : url.slice(slash);
}
