/**
 * Push delivery, the agent's side: juno's leader POSTs a push agent's tasks to its delivery URL
 * (`{ "agent_id", "tasks": [TaskDelivery, ...] }`), and the agent answers at once, before any
 * handler runs: 200 `{ "accepted": n }` when it took them all, else an error in juno's one shape
 * so the leader places them elsewhere. Reading starts at `createPushListener()`.
 *
 * The answers, by the API's contract:
 * - 200 `{accepted}`: every task is held here now (or was already: a repeat is acknowledged and
 *   not run again).
 * - 400 bad_request: the body is not JSON, or not a push. 413 payload_too_large: over PUSH_BODY_BYTES_MAX.
 * - 409 wrong_agent: `agent_id` is not this agent's current id (a restarted agent at the same URL).
 * - 503 draining (stopping), not_ready (no handler yet), not_registered (no id known even after
 *   waiting PUSH_REGISTRATION_WAIT_MS: juno may push before the registration's answer arrives),
 *   over_capacity (taking them all would pass the capacity; partial acceptance is not in the API).
 *
 * Nothing here imports from node: the listener takes any request and response shaped like
 * Node's, so the SDK still loads where there is only fetch. Only `listen()` needs node:http, and
 * imports it when called.
 */

import { JunoApiError, isRecord } from "./errors.js";
import { deadline, type Timers } from "./timers.js";
import type { TaskDelivery, TaskPush, TaskPushAccepted } from "./types.js";
import type { PushRefusal, PushVerdict } from "./worker.js";

/** An HTTP request as the push listener reads it: Node's IncomingMessage fits. */
export interface PushRequest extends AsyncIterable<unknown> {
  readonly method?: string | undefined;
  /** The path and query, as Node gives it. */
  readonly url?: string | undefined;
  readonly headers?: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/** An HTTP response as the push listener writes it: Node's ServerResponse fits. */
export interface PushResponse {
  writeHead(statusCode: number, headers: Record<string, string>): unknown;
  end(body: string): unknown;
  readonly headersSent?: boolean;
}

/**
 * A request handler for a server of your own: answers POSTs to the delivery path and returns true,
 * or returns false (and touches nothing) for any other request, which is yours to answer.
 */
export type PushListener = (request: PushRequest, response: PushResponse) => boolean;

/** How agent.pushListener() matches requests. */
export interface PushListenerOptions {
  /**
   * The path pushes arrive on; by default the path of the agent's delivery URL. Set it when a
   * proxy in front of the agent rewrites the path.
   */
  readonly path?: string;
}

/** Where agent.listen() listens. */
export interface ListenOptions {
  /** The port juno reaches the agent on: the one in its endpoint (or delivery URL). 0: any free one. */
  readonly port: number;
  /** The address to listen on; every interface by default. */
  readonly host?: string;
}

/** A server agent.listen() started; the Agent closes it once stop() has deregistered. */
export interface PushServer {
  /** `http://host:port` as bound (host `localhost` when listening on every interface). */
  readonly url: string;
  close(): Promise<void>;
}

/** The delivery URL's path when the agent gives none: `{endpoint}/juno/tasks`. */
export const DEFAULT_DELIVERY_PATH = "/juno/tasks";
/** The most tasks one push may carry: the poll's bound, POLL_TASKS_MAX. */
export const PUSH_TASKS_MAX = 100;
/** The largest push body read, in bytes: PUSH_TASKS_MAX tasks of 64 KiB data each, and room for the rest. */
export const PUSH_BODY_BYTES_MAX = 8 * 1024 * 1024;
/** How long a push waits for the agent's registration to be answered before it is refused. */
export const PUSH_REGISTRATION_WAIT_MS = 1_000;
/** How long listen()'s server lets a request take, headers and body. */
const REQUEST_TIMEOUT_MS = 10_000;
/** The longest id the API gives, and the longest task type. */
const ID_LENGTH_MAX = 64;
const TASK_TYPE_LENGTH_MAX = 50;

/** What the listener needs of its Agent. */
export interface PushHost {
  readonly timers: Timers;
  /** The agent's id now, or null while it is not registered. */
  currentId(): string | null;
  /** The key the leader signs pushes with, from the registration answer (null: they come unsigned). */
  deliveryKey(): string | null;
  /** Resolves with the id once registered, or null once `signal` fires or it never will be. */
  registered(signal: AbortSignal): Promise<string | null>;
  /** Why a push would be refused now whatever it carries (the worker's state), or null. */
  refusal(): { readonly refusal: PushRefusal; readonly message: string } | null;
  /** Takes the tasks whole or refuses them (worker.takePush). */
  takePush(agentId: string, tasks: readonly TaskDelivery[]): PushVerdict;
  /** Starts the handlers of what was taken (worker.startWaiting). */
  startWaiting(): void;
  /** A push refused for a reason worth hearing (not `draining`), or a failure of the listener. */
  emitError(error: unknown): void;
}

/** An answer to one push: a JSON body, and the error it stands for when it refuses. */
interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly error: JunoApiError | null;
}

/** The listener of pushes on `path` for `host`. */
export function createPushListener(host: PushHost, path: string): PushListener {
  if (!path.startsWith("/")) throw new TypeError(`a push path starts with "/", got ${JSON.stringify(path)}`);
  return (request, response) => {
    if (request.method !== "POST" || pathOf(request.url) !== path) return false;
    serve(host, request, response).catch((error: unknown) => {
      // Only a bug of ours lands here; juno hears a 500 (a delivery error) and places the tasks elsewhere.
      host.emitError(error);
      if (response.headersSent !== true) {
        write(response, refused(500, "internal", "the agent failed to take the push"));
      }
    });
    return true;
  };
}

/** Reads, checks and takes one push, and answers it; the handlers start after the answer. */
async function serve(host: PushHost, request: PushRequest, response: PushResponse): Promise<void> {
  const read = await readPush(request);
  if (read === "cut") return;
  if (!read.ok) {
    answer(host, response, read.reply);
    return;
  }
  const push = read.push;
  const early = host.refusal();
  if (early !== null) {
    answer(host, response, refused(503, early.refusal, early.message));
    return;
  }
  const id = host.currentId() ?? (await waitForId(host));
  if (id === null) {
    const late = host.refusal();
    answer(
      host,
      response,
      late === null
        ? refused(503, "not_registered", "the agent is not registered yet")
        : refused(503, late.refusal, late.message),
    );
    return;
  }
  if (push.agent_id !== id) {
    const message = `the push is for agent ${push.agent_id}; this agent is ${id} now`;
    answer(host, response, refused(409, "wrong_agent", message));
    return;
  }
  const key = host.deliveryKey();
  if (key !== null) {
    const problem = await signatureProblem(key, headerText(request.headers?.[SIGNATURE_HEADER]), read.bytes);
    if (problem !== null) {
      answer(host, response, refused(401, "bad_signature", problem));
      return;
    }
  }
  // Taking and answering happen in one turn, so juno hears the answer before any handler runs and
  // a repeat of this push, however soon it comes, finds the attempts held.
  const verdict = host.takePush(id, push.tasks);
  if (!verdict.ok) {
    answer(host, response, refused(503, verdict.refusal, verdict.message));
    return;
  }
  const accepted: TaskPushAccepted = { accepted: verdict.accepted };
  answer(host, response, { status: 200, body: accepted, error: null });
  if (verdict.fresh > 0) host.startWaiting();
}

/** The header the leader signs pushes in: `t=<unix ms>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>`. */
export const SIGNATURE_HEADER = "x-juno-signature";
/** How far a push's signing time may be from this agent's clock. */
export const SIGNATURE_TOLERANCE_MS = 5 * 60_000;

/** Why a push's signature does not hold (null: it does), checked with WebCrypto in constant time. */
export async function signatureProblem(
  key: string,
  header: string | null,
  body: Uint8Array,
  nowMs: number = Date.now(),
): Promise<string | null> {
  if (header === null) return `the push carries no ${SIGNATURE_HEADER}`;
  const parts = new Map(
    header.split(",").map((part) => {
      const at = part.indexOf("=");
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
    }),
  );
  const t = parts.get("t") ?? "";
  const mac = parts.get("v1") ?? "";
  if (!/^\d{1,16}$/.test(t) || !/^[0-9a-f]{64}$/.test(mac)) return `${SIGNATURE_HEADER} is malformed`;
  if (Math.abs(nowMs - Number(t)) > SIGNATURE_TOLERANCE_MS)
    return "the push was signed too long ago (or this agent's clock is off)";
  const subtle = globalThis.crypto.subtle;
  const cryptoKey = await subtle.importKey(
    "raw",
    base64urlBytes(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const prefix = new TextEncoder().encode(`${t}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);
  const expected = new Uint8Array(await subtle.sign("HMAC", cryptoKey, signed));
  let difference = 0;
  for (let i = 0; i < expected.length; i++)
    difference |= expected[i]! ^ parseInt(mac.slice(i * 2, i * 2 + 2), 16);
  return difference === 0 ? null : "the signature does not match";
}

function base64urlBytes(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function headerText(value: string | readonly string[] | undefined): string | null {
  if (value === undefined) return null;
  return typeof value === "string" ? value : (value[0] ?? null);
}

/** The agent's id once its registration is answered, waiting at most PUSH_REGISTRATION_WAIT_MS. */
async function waitForId(host: PushHost): Promise<string | null> {
  const limit = deadline(PUSH_REGISTRATION_WAIT_MS, host.timers);
  try {
    return await host.registered(limit.signal);
  } finally {
    limit.dispose();
  }
}

/** Writes the answer, and emits the refusals worth hearing. */
function answer(host: PushHost, response: PushResponse, reply: Answer): void {
  write(response, reply);
  if (reply.error !== null && reply.error.code !== "draining") host.emitError(reply.error);
}

function write(response: PushResponse, reply: Answer): void {
  response.writeHead(reply.status, { "content-type": "application/json" });
  response.end(JSON.stringify(reply.body));
}

/** A refusal in juno's one error shape. */
function refused(status: number, code: string, message: string): Answer {
  return { status, body: { error: { code, message } }, error: new JunoApiError(status, code, message) };
}

/** The push in the body, the refusal of a body that is not one, or "cut" when it outgrew the bound mid-read. */
async function readPush(
  request: PushRequest,
): Promise<
  | { readonly ok: true; readonly push: TaskPush; readonly bytes: Uint8Array }
  | { readonly ok: false; readonly reply: Answer }
  | "cut"
> {
  const bytes = await readBody(request);
  if (bytes === "cut") return "cut";
  if (bytes === "too_large") {
    return {
      ok: false,
      reply: refused(413, "payload_too_large", `a push is at most ${PUSH_BODY_BYTES_MAX} bytes`),
    };
  }
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return { ok: false, reply: refused(400, "bad_request", "the body is not JSON") };
  }
  const problem = pushProblem(body);
  if (problem !== null) return { ok: false, reply: refused(400, "bad_request", problem) };
  return { ok: true, push: body as TaskPush, bytes };
}

/**
 * The body's bytes, at most PUSH_BODY_BYTES_MAX. A Content-Length over it is refused unread
 * ("too_large"); a body that outgrows it without one ends the read, which drops the connection
 * ("cut"): juno sees no answer, a delivery error like the 413.
 */
async function readBody(request: PushRequest): Promise<Uint8Array | "too_large" | "cut"> {
  const declared = Number(request.headers?.["content-length"] ?? 0);
  if (Number.isFinite(declared) && declared > PUSH_BODY_BYTES_MAX) return "too_large";
  const chunks: Uint8Array[] = [];
  let total = 0;
  const encoder = new TextEncoder();
  for await (const chunk of request) {
    const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
    if (!(bytes instanceof Uint8Array)) throw new TypeError("a request body chunk is not bytes");
    total += bytes.byteLength;
    if (total > PUSH_BODY_BYTES_MAX) return "cut";
    chunks.push(bytes);
  }
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return joined;
}

/** What is wrong with `body` as a push, or null when it is one. */
export function pushProblem(body: unknown): string | null {
  if (!isRecord(body)) return "the body is not a JSON object";
  const agentId = body["agent_id"];
  if (typeof agentId !== "string" || agentId.length === 0 || agentId.length > ID_LENGTH_MAX) {
    return `agent_id is not a string of 1..${ID_LENGTH_MAX} characters`;
  }
  const tasks = body["tasks"];
  if (!Array.isArray(tasks)) return "tasks is not an array";
  if (tasks.length > PUSH_TASKS_MAX)
    return `tasks has ${tasks.length} entries; a push carries at most ${PUSH_TASKS_MAX}`;
  for (const [index, task] of tasks.entries()) {
    const problem = deliveryProblem(task);
    if (problem !== null) return `tasks[${index}]${problem}`;
  }
  return null;
}

/** What is wrong with `task` as a TaskDelivery (" is ...", ".field is ..."), or null. */
function deliveryProblem(task: unknown): string | null {
  if (!isRecord(task)) return " is not an object";
  const checks: readonly (readonly [string, (value: unknown) => boolean, string])[] = [
    ["id", (value) => isText(value, ID_LENGTH_MAX), `a string of 1..${ID_LENGTH_MAX} characters`],
    ["attempt", (value) => isWhole(value, 1), "a whole number >= 1"],
    [
      "task_type",
      (value) => isText(value, TASK_TYPE_LENGTH_MAX),
      `a string of 1..${TASK_TYPE_LENGTH_MAX} characters`,
    ],
    ["priority", (value) => isWhole(value, 0), "a whole number"],
    ["team", (value) => typeof value === "string", "a string"],
    ["timeout_ms", (value) => value === null || isWhole(value, 1), "null or a whole number >= 1"],
    ["workflow_id", (value) => value === null || typeof value === "string", "null or a string"],
    ["max_attempts", (value) => isWhole(value, 1), "a whole number >= 1"],
  ];
  for (const [field, holds, what] of checks) {
    if (!Object.hasOwn(task, field) || !holds(task[field])) return `.${field} is not ${what}`;
  }
  // data is any JSON, null included, but it is there.
  if (!Object.hasOwn(task, "data")) return ".data is missing";
  return null;
}

function isText(value: unknown, lengthMax: number): boolean {
  return typeof value === "string" && value.length >= 1 && value.length <= lengthMax;
}

function isWhole(value: unknown, min: number): boolean {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= min;
}

/** The path of a request's target (`/a/b?c` -> `/a/b`), kept as it came: `//x` stays a path. */
function pathOf(url: string | undefined): string {
  const target = url ?? "/";
  const end = target.search(/[?#]/);
  return end === -1 ? target : target.slice(0, end);
}

/** The part of node:http listen() uses, seen without Node's types (the SDK builds without them). */
interface NodeHttp {
  createServer(handler: (request: PushRequest, response: PushResponse) => void): NodeServer;
}

/** The part of a node:http Server listen() uses. */
interface NodeServer {
  requestTimeout: number;
  headersTimeout: number;
  listen(port: number, host: string | undefined, callback: () => void): unknown;
  address(): { readonly port: number } | string | null;
  close(callback: () => void): unknown;
  closeAllConnections(): void;
  on(event: "error", listener: (error: unknown) => void): unknown;
  once(event: "error", listener: (error: unknown) => void): unknown;
  off(event: "error", listener: (error: unknown) => void): unknown;
}

/** Named here, not written into the import, so that type checks and bundlers leave it to Node. */
const NODE_HTTP: string = "node:http";

/**
 * Serves `listener` on a node:http server of its own, with `GET {healthPath}` answered 200 (for an
 * http health check) and anything else 404; Node only.
 */
export async function listenOn(
  listener: PushListener,
  healthPath: string,
  options: ListenOptions,
  onError: (error: unknown) => void,
): Promise<PushServer> {
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535) {
    throw new RangeError(`port must be a whole number in 0..65535, got ${options.port}`);
  }
  const http = (await import(NODE_HTTP)) as NodeHttp;
  const server = http.createServer((request, response) => {
    if (listener(request, response)) return;
    if (request.method === "GET" && pathOf(request.url) === healthPath) {
      write(response, { status: 200, body: { status: "ok" }, error: null });
      return;
    }
    write(response, refused(404, "not_found", `no route ${request.method ?? "?"} ${pathOf(request.url)}`));
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", onError);
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const host = options.host === undefined || options.host === "" ? "localhost" : options.host;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        // Only after deregistration: no push is owed an answer any more.
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
