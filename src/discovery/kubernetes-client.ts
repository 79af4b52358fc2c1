/**
 * The Kubernetes API calls the provider makes, through @kubernetes/client-node: read a Service,
 * list EndpointSlices by label selector (page by page), and watch them from a resourceVersion.
 * Every call has a deadline and is cancelled through an AbortSignal; failures become
 * DiscoveryErrors, with 410 Gone as "expired" so the caller knows to list again.
 */

import {
  ApiException,
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  Observable,
  Watch,
  type ConfigurationOptions,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";
import type { TimerHandle } from "../transport/timers.js";
import { DiscoveryError } from "./errors.js";
import type { DiscoveryClock } from "./types.js";

/** How to reach the API server. */
export type KubernetesConnection =
  /** In a pod (KUBERNETES_SERVICE_HOST set): the pod's service account; else KUBECONFIG or ~/.kube/config. */
  | { readonly kind: "auto" }
  /** The pod's service account token and CA (/var/run/secrets/kubernetes.io/serviceaccount). */
  | { readonly kind: "in_cluster" }
  /** A kubeconfig file (default KUBECONFIG, else ~/.kube/config) and optionally one of its contexts. */
  | { readonly kind: "kubeconfig"; readonly path?: string | null; readonly context?: string | null }
  /** An explicit server URL and bearer token (tests, or a proxy such as `kubectl proxy` with no token). */
  | {
      readonly kind: "token";
      readonly server: string;
      readonly token?: string | null;
      /** The server's CA certificate, base64 PEM as in a kubeconfig; none to use the system's. */
      readonly caData?: string | null;
      readonly skipTlsVerify?: boolean;
    };

/** The kubeconfig for `connection`. `environment` is read for KUBERNETES_SERVICE_HOST/PORT only (auto). */
export function loadKubeConfig(
  connection: KubernetesConnection,
  environment: Readonly<Record<string, string | undefined>> = process.env,
): KubeConfig {
  const config = new KubeConfig();
  switch (connection.kind) {
    case "auto":
      if (environment["KUBERNETES_SERVICE_HOST"] && environment["KUBERNETES_SERVICE_PORT"])
        config.loadFromCluster();
      else config.loadFromDefault();
      break;
    case "in_cluster":
      config.loadFromCluster();
      break;
    case "kubeconfig":
      if (connection.path) config.loadFromFile(connection.path);
      else config.loadFromDefault();
      if (connection.context) config.setCurrentContext(connection.context);
      break;
    case "token":
      config.loadFromOptions({
        clusters: [
          {
            name: "juno",
            server: connection.server,
            // The client refuses plain HTTP unless told TLS is not checked; with http:// there is no TLS to check.
            skipTLSVerify: (connection.skipTlsVerify ?? false) || connection.server.startsWith("http:"),
            ...(connection.caData ? { caData: connection.caData } : {}),
          },
        ],
        users: [{ name: "juno", ...(connection.token ? { token: connection.token } : {}) }],
        contexts: [{ name: "juno", cluster: "juno", user: "juno" }],
        currentContext: "juno",
      });
      break;
  }
  if (config.getCurrentCluster() === null)
    throw new DiscoveryError("invalid_options", "kubernetes: the kubeconfig has no current cluster");
  return config;
}

/** The namespace of the kubeconfig's current context (the pod's own in a cluster), null when it names none. */
export function contextNamespace(config: KubeConfig): string | null {
  return config.getContextObject(config.getCurrentContext())?.namespace ?? null;
}

/** One page of a list. */
export interface SlicePage {
  readonly items: readonly unknown[];
  readonly resourceVersion: string;
  /** The token of the next page, null on the last. */
  readonly continueToken: string | null;
}

/** What happened on a watch. */
export type WatchEvent =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: unknown }
  | { readonly type: "BOOKMARK"; readonly resourceVersion: string }
  | { readonly type: "ERROR"; readonly code: number | null; readonly message: string };

/** The calls, bound to one kubeconfig and clock. */
export class KubernetesClient {
  private readonly core: CoreV1Api;
  private readonly discovery: DiscoveryV1Api;
  private readonly watcher: Watch;

  constructor(
    config: KubeConfig,
    private readonly clock: Pick<DiscoveryClock, "setTimeout" | "clearTimeout">,
    /** The deadline of a read or of one list page. */
    private readonly requestTimeoutMs: number,
  ) {
    this.core = config.makeApiClient(CoreV1Api);
    this.discovery = config.makeApiClient(DiscoveryV1Api);
    this.watcher = new Watch(config);
  }

  /** The Service's annotations; null when there is no such Service. */
  async serviceAnnotations(
    namespace: string,
    name: string,
    signal: AbortSignal,
  ): Promise<Map<string, string> | null> {
    const what = `kubernetes service ${namespace}/${name}`;
    try {
      const service = await this.withSignal(what, signal, (options) =>
        this.core.readNamespacedService({ name, namespace }, options),
      );
      const annotations = new Map<string, string>();
      for (const [key, value] of Object.entries(service.metadata?.annotations ?? {}))
        annotations.set(key, value);
      return annotations;
    } catch (error) {
      if (error instanceof DiscoveryError && error.status === 404) return null;
      throw error;
    }
  }

  /** One page of the EndpointSlices that match `labelSelector`. */
  async listSlices(
    namespace: string,
    labelSelector: string,
    pageSize: number,
    continueToken: string | null,
    signal: AbortSignal,
  ): Promise<SlicePage> {
    const what = `kubernetes endpointslices of ${namespace} (${labelSelector})`;
    const list = await this.withSignal(what, signal, (options) =>
      this.discovery.listNamespacedEndpointSlice(
        {
          namespace,
          labelSelector,
          limit: pageSize,
          ...(continueToken === null ? {} : { _continue: continueToken }),
        },
        options,
      ),
    );
    const resourceVersion = list.metadata?.resourceVersion;
    if (typeof resourceVersion !== "string" || resourceVersion === "")
      throw new DiscoveryError("bad_response", `${what}: the list has no resourceVersion`);
    const next = list.metadata?._continue;
    return {
      items: list.items,
      resourceVersion,
      continueToken: typeof next === "string" && next !== "" ? next : null,
    };
  }

  /**
   * Watches the EndpointSlices that match `labelSelector` from `resourceVersion`, calling `onEvent`
   * for each event, until the server ends the watch (resolves), it fails (rejects, "expired" for
   * 410), the deadline passes or the signal aborts.
   */
  watchSlices(
    namespace: string,
    labelSelector: string,
    resourceVersion: string,
    timeoutSeconds: number,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const path = `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/endpointslices`;
    const what = `kubernetes watch of ${namespace} (${labelSelector})`;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let controller: AbortController | null = null;
      let timer: TimerHandle | null = null;
      const finish = (error: Error | null): void => {
        if (settled) return;
        settled = true;
        if (timer !== null) this.clock.clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        controller?.abort();
        if (error === null) resolve();
        else reject(error);
      };
      const onAbort = (): void => finish(new DiscoveryError("aborted", `${what}: cancelled`));
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort);
      // The server ends the watch at timeoutSeconds; a server that says nothing at all is given a
      // minute more before the watch is abandoned.
      timer = this.clock.setTimeout(
        () =>
          finish(
            new DiscoveryError(
              "timeout",
              `${what}: still open ${timeoutSeconds + 60} s after it should have ended`,
            ),
          ),
        (timeoutSeconds + 60) * 1_000,
      );
      const query = { labelSelector, resourceVersion, allowWatchBookmarks: true, timeoutSeconds };
      this.watcher
        .watch(
          path,
          query,
          (type: string, object: unknown) => {
            if (settled) return;
            const event = watchEvent(type, object);
            if (event === null) return;
            if (event.type === "ERROR") {
              const expired = event.code === 410;
              return finish(
                new DiscoveryError(
                  expired ? "expired" : "bad_response",
                  `${what}: ${event.message}`,
                  event.code,
                ),
              );
            }
            onEvent(event);
          },
          (error: unknown) => finish(error === null || error === undefined ? null : watchError(what, error)),
        )
        .then(
          (started) => {
            controller = started;
            if (settled) started.abort();
          },
          (error: unknown) => finish(watchError(what, error)),
        );
    });
  }

  /** Runs one generated-client call with a deadline and the provider's signal, mapping its failures. */
  private async withSignal<T>(
    what: string,
    signal: AbortSignal,
    call: (options: ConfigurationOptions) => Promise<T>,
  ): Promise<T> {
    const controller = new AbortController();
    let timedOut = false;
    const onAbort = (): void => controller.abort();
    if (signal.aborted) throw new DiscoveryError("aborted", `${what}: cancelled`);
    signal.addEventListener("abort", onAbort);
    const timer = this.clock.setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.requestTimeoutMs);
    const options: ConfigurationOptions = {
      middleware: [signalMiddleware(controller.signal)],
      middlewareMergeStrategy: "append",
    };
    try {
      return await call(options);
    } catch (error) {
      if (timedOut) throw new DiscoveryError("timeout", `${what}: no answer in ${this.requestTimeoutMs} ms`);
      if (signal.aborted) throw new DiscoveryError("aborted", `${what}: cancelled`);
      throw apiError(what, error);
    } finally {
      this.clock.clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }
}

/** A middleware that hands `signal` to the request, so that aborting it cancels the HTTP exchange. */
function signalMiddleware(signal: AbortSignal) {
  return {
    pre(context: RequestContext): Observable<RequestContext> {
      context.setSignal(signal);
      return new Observable(Promise.resolve(context));
    },
    post(context: ResponseContext): Observable<ResponseContext> {
      return new Observable(Promise.resolve(context));
    },
  };
}

function apiError(what: string, error: unknown): DiscoveryError {
  if (error instanceof ApiException) {
    const status = typeof error.code === "number" ? error.code : null;
    const code = status === 410 ? "expired" : "http_status";
    return new DiscoveryError(code, `${what} answered ${status ?? "an error"}`, status, { cause: error });
  }
  return new DiscoveryError(
    "unreachable",
    `${what}: ${error instanceof Error ? error.message : String(error)}`,
    null,
    {
      cause: error,
    },
  );
}

function watchError(what: string, error: unknown): DiscoveryError {
  if (error instanceof DiscoveryError) return error;
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === "number")
    return new DiscoveryError(
      status === 410 ? "expired" : "http_status",
      `${what} answered ${status}`,
      status,
      {
        cause: error,
      },
    );
  if (error instanceof Error && error.name === "AbortError")
    return new DiscoveryError("aborted", `${what}: cancelled`);
  return new DiscoveryError(
    "unreachable",
    `${what}: ${error instanceof Error ? error.message : String(error)}`,
    null,
    {
      cause: error,
    },
  );
}

/** A watch line as an event, null for a type we do not know (skipped, as client-go does). */
function watchEvent(type: string, object: unknown): WatchEvent | null {
  switch (type) {
    case "ADDED":
    case "MODIFIED":
    case "DELETED":
      return { type, object };
    case "BOOKMARK": {
      const resourceVersion = (object as { metadata?: { resourceVersion?: unknown } } | null)?.metadata
        ?.resourceVersion;
      return typeof resourceVersion === "string" ? { type, resourceVersion } : null;
    }
    case "ERROR": {
      const status = object as { code?: unknown; message?: unknown } | null;
      return {
        type,
        code: typeof status?.code === "number" ? status.code : null,
        message: typeof status?.message === "string" ? status.message : "watch error",
      };
    }
    default:
      return null;
  }
}
