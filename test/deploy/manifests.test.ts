// Proves that the Kubernetes manifests (deploy/k8s and its kustomizations) and the Helm chart (deploy/helm/juno, rendered by helm-render.ts with its defaults and with overrides) are valid Kubernetes objects, that they carry the seed's fields (StatefulSet juno-phase3 with 5 replicas of juno-orchestrator on 8080 and 9090, RAFT_NODE_ID from metadata.name, JUNO_PHASE 3; the VirtualService's 90/10 split on /api/v3/), that every pod's environment is one juno accepts and derives the expected peers from, and that the chart and the plain manifests agree on all of it.

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  ConfigError,
  OPTIONS,
  checkExposure,
  formatAddress,
  parseNodeConfig,
  type NodeConfig,
} from "../../src/config/index.js";
import { renderChart, type RenderOptions } from "./helm-render.js";
import { kustomize, validate, type KubeObject } from "./manifests.js";
import { ROOT } from "./package-build.js";

const K8S = join(ROOT, "deploy", "k8s");
const CHART = join(ROOT, "deploy", "helm", "juno");

const base = kustomize(K8S);
const istio = kustomize(join(K8S, "istio"));
const monitoring = kustomize(join(K8S, "monitoring"));

interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly fieldRef?: { readonly fieldPath: string };
    readonly secretKeyRef?: { readonly name: string; readonly key: string };
  };
}
interface HttpGet {
  readonly path: string;
  readonly port: string;
  readonly scheme?: string;
}
interface Container {
  readonly name: string;
  readonly image: string;
  readonly args?: readonly string[];
  readonly ports: readonly { readonly name: string; readonly containerPort: number }[];
  readonly env: readonly EnvVar[];
  readonly readinessProbe: { readonly httpGet: HttpGet };
  readonly livenessProbe: { readonly httpGet: HttpGet };
  readonly startupProbe: { readonly httpGet: HttpGet };
  readonly securityContext: Record<string, unknown>;
  readonly resources: { readonly requests: Record<string, string>; readonly limits: Record<string, string> };
  readonly volumeMounts: readonly { readonly name: string; readonly mountPath: string }[];
}
interface StatefulSetShape {
  readonly metadata: { readonly name: string };
  readonly spec: {
    readonly serviceName: string;
    readonly replicas: number;
    readonly podManagementPolicy: string;
    readonly selector: { readonly matchLabels: Record<string, string> };
    readonly template: {
      readonly metadata: {
        readonly labels: Record<string, string>;
        readonly annotations?: Record<string, string>;
      };
      readonly spec: {
        readonly containers: readonly Container[];
        readonly securityContext: Record<string, unknown>;
        readonly terminationGracePeriodSeconds: number;
        readonly affinity: { readonly podAntiAffinity: Record<string, unknown> };
        readonly automountServiceAccountToken: boolean;
      } & Record<string, unknown>;
    };
    readonly volumeClaimTemplates: readonly {
      readonly metadata: { readonly name: string };
      readonly spec: Record<string, unknown>;
    }[];
  } & Record<string, unknown>;
}

function one(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.filter(
    (object) => object.kind === kind && (name === undefined || object.metadata.name === name),
  );
  expect(found, `${kind} ${name ?? ""}`).toHaveLength(1);
  return found[0]!;
}

const statefulSetOf = (objects: readonly KubeObject[]) =>
  one(objects, "StatefulSet") as unknown as StatefulSetShape;
const containerOf = (objects: readonly KubeObject[]) =>
  statefulSetOf(objects).spec.template.spec.containers.find(
    (container) => container.name === "juno-orchestrator",
  )!;

/** The config juno parses in pod `pod` of these objects: the container's args and environment, resolved as the kubelet does. */
function podConfig(objects: readonly KubeObject[], pod: string, namespace = "default"): NodeConfig {
  const container = containerOf(objects);
  const env: Record<string, string> = {};
  for (const variable of container.env) {
    const from = variable.valueFrom;
    if (from?.fieldRef !== undefined) {
      env[variable.name] =
        { "metadata.name": pod, "metadata.namespace": namespace }[from.fieldRef.fieldPath] ?? "";
    } else if (from?.secretKeyRef !== undefined) {
      env[variable.name] = `${from.secretKeyRef.key}-0123456789abcdef`;
    } else {
      // $(VAR) names a variable defined earlier in the list.
      env[variable.name] = (variable.value ?? "").replace(
        /\$\((\w+)\)/g,
        (_, name: string) => env[name] ?? "",
      );
    }
  }
  const [command, ...argv] = container.args ?? [];
  expect(command).toBe("start");
  const config = parseNodeConfig(argv, env);
  if (config instanceof ConfigError) throw new Error(`${config.code}: ${config.message}`);
  expect(checkExposure(config)).toBeNull();
  return config;
}

function kubectlAvailable(): boolean {
  return spawnSync("kubectl", ["version", "--client"], { stdio: "ignore" }).status === 0;
}

describe("deploy/k8s", () => {
  it("every object of every kustomization is valid against the Kubernetes API schemas", () => {
    const all = [...base, ...istio, ...monitoring];
    expect(all.map((object) => object.kind).sort()).toEqual(
      [
        "ConfigMap",
        "DestinationRule",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "PrometheusRule",
        "Service",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
        "StatefulSet",
        "VirtualService",
      ].sort(),
    );
    for (const object of all) validate(object);
  });

  it.runIf(kubectlAvailable())("kubectl kustomize builds the same objects", () => {
    for (const [directory, objects] of [
      [K8S, base],
      [join(K8S, "istio"), istio],
      [join(K8S, "monitoring"), monitoring],
    ] as const) {
      const built = spawnSync("kubectl", ["kustomize", directory], { encoding: "utf8" });
      expect(built.status, built.stderr).toBe(0);
      const fromKubectl = parseAllDocuments(built.stdout).map((document) => document.toJSON() as KubeObject);
      const key = (object: KubeObject) => `${object.kind}/${object.metadata.name}`;
      expect(fromKubectl.map(key).sort()).toEqual(objects.map(key).sort());
      for (const object of fromKubectl)
        expect(object).toEqual(objects.find((mine) => key(mine) === key(object)));
    }
  });

  it("has the seed's StatefulSet: juno-phase3, 5 replicas, juno-orchestrator on 8080 and 9090, RAFT_NODE_ID and JUNO_PHASE", () => {
    const statefulSet = statefulSetOf(base);
    expect(statefulSet.metadata.name).toBe("juno-phase3");
    expect(statefulSet.spec.replicas).toBe(5);
    expect(statefulSet.spec.selector.matchLabels).toEqual({ app: "juno-phase3" });
    const container = containerOf(base);
    expect(container.image).toBe("juno/phase3:v3.0");
    expect(container.ports.map((port) => port.containerPort)).toEqual([8080, 9090]);
    expect(container.env.find((variable) => variable.name === "RAFT_NODE_ID")?.valueFrom).toEqual({
      fieldRef: { fieldPath: "metadata.name" },
    });
    expect(container.env.find((variable) => variable.name === "JUNO_PHASE")?.value).toBe("3");
  });

  it("has the seed's VirtualService: /api/v3/ 90% to stable, 10% to canary, subsets by the version label", () => {
    const virtualService = one(istio, "VirtualService") as unknown as {
      spec: {
        hosts: string[];
        http: {
          match?: { uri: { prefix: string } }[];
          route: { destination: { host: string; subset: string }; weight?: number }[];
        }[];
      };
    };
    expect(one(istio, "VirtualService").metadata.name).toBe("juno-phase3");
    expect(virtualService.spec.hosts).toEqual(["juno-phase3"]);
    const [api] = virtualService.spec.http;
    expect(api?.match).toEqual([{ uri: { prefix: "/api/v3/" } }]);
    expect(
      api?.route.map((route) => [route.destination.host, route.destination.subset, route.weight]),
    ).toEqual([
      ["juno-phase3", "stable", 90],
      ["juno-phase3", "canary", 10],
    ]);
    const rule = one(istio, "DestinationRule") as unknown as {
      spec: { host: string; subsets: { name: string; labels: Record<string, string> }[] };
    };
    expect(rule.spec.subsets).toEqual([
      { name: "stable", labels: { version: "stable" } },
      { name: "canary", labels: { version: "canary" } },
    ]);
    // The host is the clients' Service (with a cluster IP), and the pods start in the stable subset.
    expect(one(base, "Service", "juno-phase3").spec).not.toHaveProperty("clusterIP", "None");
    expect(statefulSetOf(base).spec.template.metadata.labels.version).toBe("stable");
  });

  it("gives every pod an environment juno accepts, from which it derives the five founders", () => {
    const domain = "juno-phase3-peers.prod.svc.cluster.local";
    const config = podConfig(base, "juno-phase3-3", "prod");
    expect(config.id).toBe("juno-phase3-3");
    expect(config.peers.map((peer) => formatAddress(peer.raftAddress))).toEqual(
      [0, 1, 2, 3, 4].map((i) => `juno-phase3-${i}.${domain}:9090`),
    );
    expect(formatAddress(config.advertiseHttpAddress)).toBe(`juno-phase3-3.${domain}:8080`);
    expect(config.join).toBe(false);
    expect(config.dataDir).toBe("/var/lib/juno");
    expect(config.phase).toBe(3);
    // A pod added by scaling up joins instead of founding.
    expect(podConfig(base, "juno-phase3-5", "prod").join).toBe(true);
  });

  it("sets only variables juno knows, besides POD_NAMESPACE and NODE_OPTIONS", () => {
    const known = new Set([...OPTIONS.map((option) => option.env), "POD_NAMESPACE", "NODE_OPTIONS"]);
    for (const variable of containerOf(base).env) expect(known.has(variable.name), variable.name).toBe(true);
  });

  it("wires the StatefulSet, its Services and its budget together", () => {
    const statefulSet = statefulSetOf(base);
    const headless = one(base, "Service", statefulSet.spec.serviceName) as unknown as {
      spec: {
        clusterIP: string;
        publishNotReadyAddresses: boolean;
        selector: Record<string, string>;
        ports: { port: number }[];
      };
    };
    expect(headless.spec.clusterIP).toBe("None");
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    expect(headless.spec.ports.map((port) => port.port)).toEqual([8080, 9090]);
    const podLabels = statefulSet.spec.template.metadata.labels;
    for (const service of base.filter((object) => object.kind === "Service"))
      expect(podLabels).toMatchObject((service.spec as { selector: Record<string, string> }).selector);
    const budget = one(base, "PodDisruptionBudget").spec as {
      maxUnavailable: number;
      selector: { matchLabels: Record<string, string> };
    };
    expect(budget.maxUnavailable).toBe(1);
    expect(podLabels).toMatchObject(budget.selector.matchLabels);
    expect(statefulSet.spec.podManagementPolicy).toBe("Parallel");
    expect(statefulSet.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
    expect(statefulSet.spec.template.spec.affinity.podAntiAffinity).toHaveProperty(
      "requiredDuringSchedulingIgnoredDuringExecution",
    );
  });

  it("probes /healthz for liveness and /readyz for readiness, runs as non-root with nothing it does not need", () => {
    const container = containerOf(base);
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http", scheme: "HTTPS" });
    expect(container.startupProbe.httpGet).toEqual({ path: "/healthz", port: "http", scheme: "HTTPS" });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http", scheme: "HTTPS" });
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    const pod = statefulSetOf(base).spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(container.resources.requests).toHaveProperty("memory");
    expect(container.resources.limits).toHaveProperty("memory");
    // The data volume is where juno keeps its data; the secrets come from the Secret.
    const claim = statefulSetOf(base).spec.volumeClaimTemplates[0]!.metadata.name;
    expect(container.volumeMounts).toContainEqual({ name: claim, mountPath: "/var/lib/juno" });
    for (const name of ["JUNO_API_TOKEN", "JUNO_CLUSTER_SECRET"])
      expect(container.env.find((variable) => variable.name === name)?.valueFrom?.secretKeyRef?.name).toBe(
        "juno-phase3-secrets",
      );
  });

  it("serves HTTPS and mutual TLS from the Secret juno-phase3-tls, mounted read-only, and starts beyond loopback without --insecure", () => {
    const config = podConfig(base, "juno-phase3-0");
    expect(config).toMatchObject({
      insecure: false,
      tlsCert: "/etc/juno/tls/tls.crt",
      tlsKey: "/etc/juno/tls/tls.key",
      peerTlsCa: "/etc/juno/tls/ca.crt",
      // The pod's certificate serves its peers too.
      peerTlsCert: "/etc/juno/tls/tls.crt",
    });
    expect(containerOf(base).volumeMounts).toContainEqual({
      name: "tls",
      mountPath: "/etc/juno/tls",
      readOnly: true,
    });
    const volumes = statefulSetOf(base).spec.template.spec["volumes"] as { name: string; secret?: unknown }[];
    expect(volumes.find((volume) => volume.name === "tls")?.secret).toEqual({
      secretName: "juno-phase3-tls",
      defaultMode: 0o440,
    });
    const monitor = one(monitoring, "ServiceMonitor").spec as { endpoints: Record<string, unknown>[] };
    expect(monitor.endpoints[0]).toMatchObject({
      scheme: "https",
      tlsConfig: { ca: { secret: { name: "juno-phase3-tls", key: "ca.crt" } }, serverName: "juno-phase3" },
    });
  });

  it("scrapes the pods one way or the other: annotations on the pods, or the ServiceMonitor on the headless Service", () => {
    const annotations = statefulSetOf(base).spec.template.metadata.annotations ?? {};
    expect(annotations).toMatchObject({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "8080",
      "prometheus.io/path": "/metrics",
      "prometheus.io/scheme": "https",
    });
    const monitor = one(monitoring, "ServiceMonitor").spec as {
      selector: { matchLabels: Record<string, string> };
    };
    const selected = base.filter(
      (object) =>
        object.kind === "Service" &&
        Object.entries(monitor.selector.matchLabels).every(
          ([key, value]) => object.metadata.labels?.[key] === value,
        ),
    );
    expect(selected.map((service) => service.metadata.name)).toEqual(["juno-phase3-peers"]);
  });
});

describe("the validators", () => {
  const statefulSet = () =>
    structuredClone(one(base, "StatefulSet")) as KubeObject & { spec: StatefulSetShape["spec"] };

  it("refuse a Kubernetes object that breaks its API schema", () => {
    const broken = statefulSet();
    (broken.spec.template.spec.containers[0]!.ports[0] as { containerPort: unknown }).containerPort = "8080";
    expect(() => validate(broken)).toThrow("containerPort must be integer");
    const unnamed = { ...statefulSet(), metadata: { name: "Juno_Phase3" } };
    expect(() => validate(unnamed)).toThrow("no DNS name");
    expect(() => validate({ apiVersion: "v9", kind: "Thing", metadata: { name: "x" } })).toThrow(
      "no validator",
    );
  });

  it("refuse Istio and prometheus-operator objects with unknown fields, bad weights or missing parts", () => {
    const virtualService = structuredClone(one(istio, "VirtualService")) as KubeObject & {
      spec: { http: { route: { weight: number }[] }[] };
    };
    virtualService.spec.http[0]!.route[1]!.weight = 20;
    expect(() => validate(virtualService)).toThrow("add up to 100");
    const rule = structuredClone(one(monitoring, "PrometheusRule")) as KubeObject & {
      spec: { groups: { rules: Record<string, unknown>[] }[] };
    };
    rule.spec.groups[0]!.rules[0]!.expresion = "up";
    expect(() => validate(rule)).toThrow("expresion is not a field");
    const monitor = structuredClone(one(monitoring, "ServiceMonitor")) as KubeObject & {
      spec: Record<string, unknown>;
    };
    delete monitor.spec.endpoints;
    expect(() => validate(monitor)).toThrow("endpoints is required");
  });
});

/** The chart rendered for these options, every object validated. */
function render(options: RenderOptions = {}): KubeObject[] {
  const { objects } = renderChart(CHART, options);
  for (const object of objects as KubeObject[]) validate(object);
  return objects as KubeObject[];
}

describe("deploy/helm/juno", () => {
  const defaults = render();

  it("renders with its defaults into valid objects: the StatefulSet, two Services, budget, Secret, account, policy", () => {
    expect(defaults.map((object) => object.kind).sort()).toEqual(
      [
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Secret",
        "Service",
        "Service",
        "ServiceAccount",
        "StatefulSet",
      ].sort(),
    );
    expect(renderChart(CHART).files.get("templates/NOTES.txt")).toContain("deploy/k8s/scale.sh");
  });

  it("agrees with the plain manifests on everything but Helm's labels", () => {
    const withIstio = render({
      values: { istio: { enabled: true, canary: { enabled: true } }, tls: { enabled: false } },
    });
    // The same pod configuration, to the last derived setting.
    for (const pod of ["juno-phase3-0", "juno-phase3-4", "juno-phase3-6"])
      expect(podConfig(defaults, pod, "default")).toEqual(podConfig(base, pod, "default"));
    const plain = statefulSetOf(base).spec;
    const chart = statefulSetOf(defaults).spec;
    const same = [
      "serviceName",
      "replicas",
      "podManagementPolicy",
      "updateStrategy",
      "persistentVolumeClaimRetentionPolicy",
      "selector",
    ];
    for (const key of same) expect(chart[key], key).toEqual(plain[key]);
    expect(chart.template.metadata.annotations).toEqual(plain.template.metadata.annotations);
    expect(chart.template.metadata.labels).toMatchObject({ app: "juno-phase3", version: "stable" });
    const podSpec = (spec: typeof plain) => {
      const { containers, ...rest } = spec.template.spec;
      const { env: _env, ...container } = containers[0]!;
      return { rest, container };
    };
    expect(podSpec(chart)).toEqual(podSpec(plain));
    expect(chart.volumeClaimTemplates.map((claim) => claim.spec)).toEqual(
      plain.volumeClaimTemplates.map((claim) => claim.spec),
    );
    for (const kind of ["PodDisruptionBudget", "NetworkPolicy"])
      expect(one(defaults, kind).spec, kind).toEqual(one(base, kind).spec);
    for (const name of ["juno-phase3", "juno-phase3-peers"])
      expect(one(defaults, "Service", name).spec, name).toEqual(one(base, "Service", name).spec);
    for (const kind of ["VirtualService", "DestinationRule"])
      expect(one(withIstio, kind).spec, kind).toEqual(one(istio, kind).spec);
  });

  it("generates the API token and the cluster secret, or takes them from values", () => {
    const decode = (objects: KubeObject[], key: string) =>
      Buffer.from((one(objects, "Secret").data as Record<string, string>)[key]!, "base64").toString();
    expect(decode(defaults, "api-token")).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(decode(defaults, "cluster-secret")).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(decode(defaults, "api-token")).not.toBe(decode(defaults, "cluster-secret"));
    const given = render({ values: { auth: { apiToken: "token-1", clusterSecret: "secret-0123456789" } } });
    expect([decode(given, "api-token"), decode(given, "cluster-secret")]).toEqual([
      "token-1",
      "secret-0123456789",
    ]);
  });

  it("serves TLS from <release>-tls by default, optionally checks client certificates, and runs plain only with JUNO_INSECURE", () => {
    expect(podConfig(defaults, "juno-phase3-0")).toMatchObject({
      tlsCert: "/etc/juno/tls/tls.crt",
      insecure: false,
    });
    const named = render({ values: { tls: { secretName: "juno-certs", clientCertificates: true } } });
    const volumes = statefulSetOf(named).spec.template.spec["volumes"] as {
      name: string;
      secret?: unknown;
    }[];
    expect(volumes.find((volume) => volume.name === "tls")?.secret).toMatchObject({
      secretName: "juno-certs",
    });
    expect(podConfig(named, "juno-phase3-0").tlsClientCa).toBe("/etc/juno/tls/ca.crt");
    const plain = render({ values: { tls: { enabled: false } } });
    expect(podConfig(plain, "juno-phase3-0")).toMatchObject({
      tlsCert: null,
      peerTlsCa: null,
      insecure: true,
    });
    expect(containerOf(plain).readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
    expect(containerOf(plain).volumeMounts.map((mount) => mount.name)).not.toContain("tls");
    expect(() => renderChart(CHART, { values: { istio: { enabled: true } } })).toThrow(
      "set tls.enabled=false",
    );
    const monitored = render({ values: { serviceMonitor: { enabled: true } } });
    expect((one(monitored, "ServiceMonitor").spec as { endpoints: unknown[] }).endpoints[0]).toMatchObject({
      scheme: "https",
      tlsConfig: { serverName: "juno-phase3" },
    });
  });

  it("keeps the log in PostgreSQL when given a Secret with its URL", () => {
    const objects = render({ values: { postgres: { existingSecret: "juno-db" } } });
    const storage = containerOf(objects).env.find((variable) => variable.name === "JUNO_STORAGE");
    expect(storage?.valueFrom?.secretKeyRef).toEqual({ name: "juno-db", key: "url" });
    expect(containerOf(defaults).env.some((variable) => variable.name === "JUNO_STORAGE")).toBe(false);
  });

  it("mounts a Secret of scoped tokens as JUNO_TOKENS_FILE when given one", () => {
    const objects = render({ values: { auth: { tokensSecret: "juno-tokens" } } });
    expect(podConfig(objects, "juno-phase3-0").tokensFile).toBe("/etc/juno/tokens/tokens.yaml");
    const volumes = statefulSetOf(objects).spec.template.spec["volumes"] as {
      name: string;
      secret?: unknown;
    }[];
    expect(volumes.find((volume) => volume.name === "tokens")?.secret).toMatchObject({
      secretName: "juno-tokens",
    });
    expect(containerOf(objects).volumeMounts.map((mount) => mount.name)).toContain("tokens");
    expect(podConfig(defaults, "juno-phase3-0").tokensFile).toBeNull();
  });

  it("uses an existing Secret instead of making one", () => {
    const objects = render({ values: { auth: { existingSecret: "my-juno-secrets" } } });
    expect(objects.some((object) => object.kind === "Secret")).toBe(false);
    const refs = containerOf(objects).env.flatMap((variable) => variable.valueFrom?.secretKeyRef?.name ?? []);
    expect(refs).toEqual(["my-juno-secrets", "my-juno-secrets"]);
  });

  it("names everything after the release and derives the peer domain from its namespace", () => {
    const objects = render({
      releaseName: "juno",
      namespace: "ops",
      values: { replicas: 3, initialReplicas: 3 },
    });
    expect(statefulSetOf(objects).metadata.name).toBe("juno");
    expect(statefulSetOf(objects).spec.serviceName).toBe("juno-peers");
    const config = podConfig(objects, "juno-2", "ops");
    expect(config.peers.map((peer) => formatAddress(peer.raftAddress))).toEqual(
      [0, 1, 2].map((i) => `juno-${i}.juno-peers.ops.svc.cluster.local:9090`),
    );
  });

  it("keeps the initial size when an upgrade scales, and refuses an install whose size is not it", () => {
    const upgraded = render({ upgrade: true, values: { replicas: 7 } });
    expect(statefulSetOf(upgraded).spec.replicas).toBe(7);
    expect(podConfig(upgraded, "juno-phase3-6").join).toBe(true);
    expect(() => renderChart(CHART, { values: { replicas: 3 } })).toThrow(
      "replicas must equal initialReplicas",
    );
    expect(() => renderChart(CHART, { values: { initialReplicas: 65, replicas: 65 } })).toThrow("1 to 64");
  });

  it("sets the discovery variables, with a Role for kubernetes discovery, and refuses incomplete settings", () => {
    const kubernetes = render({
      values: { discovery: { type: "kubernetes", names: ["agents", "ml/trainers"], team: "ml" } },
    });
    const config = podConfig(kubernetes, "juno-phase3-0");
    expect([config.serviceDiscoveryType, config.discoveryNames, config.discoveryTeam]).toEqual([
      "kubernetes",
      "agents,ml/trainers",
      "ml",
    ]);
    expect(statefulSetOf(kubernetes).spec.template.spec.automountServiceAccountToken).toBe(true);
    const role = one(kubernetes, "Role") as unknown as { rules: { resources: string[]; verbs: string[] }[] };
    expect(role.rules).toEqual([
      expect.objectContaining({ resources: ["endpointslices"], verbs: ["list", "watch"] }),
      expect.objectContaining({ resources: ["services"], verbs: ["get"] }),
    ]);
    expect(one(kubernetes, "RoleBinding").roleRef).toMatchObject({
      kind: "Role",
      name: one(kubernetes, "Role").metadata.name,
    });
    const consul = render({
      values: { discovery: { type: "consul", consulEndpoint: "http://consul:8500" } },
    });
    expect(podConfig(consul, "juno-phase3-0").consulEndpoint).toBe("http://consul:8500");
    expect(() => renderChart(CHART, { values: { discovery: { type: "consul" } } })).toThrow(
      "consulEndpoint is required",
    );
    expect(() => renderChart(CHART, { values: { discovery: { type: "dns" } } })).toThrow(
      "discovery.names is required",
    );
  });

  it("turns the Istio canary, the ServiceMonitor and the other switches on and off", () => {
    const canary = render({
      values: { istio: { enabled: true, canary: { enabled: true, weight: 25 } }, tls: { enabled: false } },
    });
    const routes = (objects: KubeObject[]) =>
      (
        one(objects, "VirtualService").spec as { http: { route: { weight?: number }[] }[] }
      ).http[0]!.route.map((route) => route.weight);
    expect(routes(canary)).toEqual([75, 25]);
    expect(routes(render({ values: { istio: { enabled: true }, tls: { enabled: false } } }))).toEqual([100]);
    const monitored = render({
      values: {
        serviceMonitor: { enabled: true, labels: { release: "prometheus" } },
        metrics: { podAnnotations: false },
      },
    });
    expect(one(monitored, "ServiceMonitor").metadata.labels).toMatchObject({ release: "prometheus" });
    expect(statefulSetOf(monitored).spec.template.metadata.annotations).toBeUndefined();
    const tuned = render({
      values: {
        podAntiAffinity: "soft",
        storage: { storageClass: "fast-ssd", size: "50Gi" },
        networkPolicy: { enabled: false },
        env: { RAFT_ELECTION_TIMEOUT: "1500" },
        image: { tag: "v3.1" },
      },
    });
    expect(tuned.some((object) => object.kind === "NetworkPolicy")).toBe(false);
    const spec = statefulSetOf(tuned).spec;
    expect(spec.template.spec.affinity.podAntiAffinity).toHaveProperty(
      "preferredDuringSchedulingIgnoredDuringExecution",
    );
    expect(spec.volumeClaimTemplates[0]!.spec).toMatchObject({
      storageClassName: "fast-ssd",
      resources: { requests: { storage: "50Gi" } },
    });
    expect(containerOf(tuned).image).toBe("juno/phase3:v3.1");
    expect(podConfig(tuned, "juno-phase3-0").electionTimeoutMs).toBe(1500);
    expect(() => renderChart(CHART, { values: { podAntiAffinity: "maybe" } })).toThrow("hard or soft");
  });
});
