/**
 * The Kubernetes objects of deploy/: a reader of the kustomizations (the subset they use:
 * resources that are files or other kustomizations, images, configMapGenerator with files and
 * options), and validation of every object against the Kubernetes API schemas (kubernetes-models)
 * or, for the Istio and prometheus-operator kinds that kubernetes-models does not have, against
 * what their CRDs require of the fields used here.
 */

import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { parse as parseYaml, parseAllDocuments } from "yaml";

/** A Kubernetes object as parsed from YAML. */
export type KubeObject = Record<string, unknown> & {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string> };
};

/** Every object of a YAML file. */
export function readObjects(path: string): KubeObject[] {
  return parseAllDocuments(readFileSync(path, "utf8"))
    .map((document) => {
      if (document.errors.length > 0) throw new Error(`${path}: ${document.errors[0]!.message}`);
      return document.toJSON() as KubeObject | null;
    })
    .filter((object): object is KubeObject => object !== null);
}

interface Kustomization {
  readonly resources?: readonly string[];
  readonly images?: readonly { name: string; newName?: string; newTag?: string }[];
  readonly configMapGenerator?: readonly {
    name: string;
    files: readonly string[];
    options?: { disableNameSuffixHash?: boolean; labels?: Record<string, string> };
  }[];
}

/** The objects a kustomization directory builds, as `kubectl kustomize` would (without sorting). */
export function kustomize(directory: string): KubeObject[] {
  const kustomization = parseYaml(
    readFileSync(join(directory, "kustomization.yaml"), "utf8"),
  ) as Kustomization;
  const known = new Set(["apiVersion", "kind", "resources", "images", "configMapGenerator"]);
  for (const key of Object.keys(kustomization))
    if (!known.has(key))
      throw new Error(`${directory}: kustomization field ${key} is outside the reader's subset`);
  const objects: KubeObject[] = [];
  for (const resource of kustomization.resources ?? []) {
    const path = join(directory, resource);
    objects.push(...(resource.endsWith(".yaml") ? readObjects(path) : kustomize(path)));
  }
  for (const generator of kustomization.configMapGenerator ?? []) {
    if (generator.options?.disableNameSuffixHash !== true) throw new Error("the reader adds no name hashes");
    const data: Record<string, string> = {};
    for (const file of generator.files) {
      const [key, source] = file.includes("=") ? file.split("=", 2) : [basename(file), file];
      data[key!] = readFileSync(join(directory, source!), "utf8");
    }
    objects.push({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: generator.name, labels: generator.options.labels ?? {} },
      data,
    });
  }
  for (const image of kustomization.images ?? []) {
    for (const container of podContainers(objects)) {
      const [name] = container.image.split(":");
      if (name === image.name) container.image = `${image.newName ?? name}:${image.newTag ?? "latest"}`;
    }
  }
  return objects;
}

/** The containers of every workload among the objects, to be rewritten in place. */
function podContainers(objects: readonly KubeObject[]): { image: string }[] {
  return objects.flatMap((object) => {
    const spec = (object.spec as { template?: { spec?: { containers?: { image: string }[] } } } | undefined)
      ?.template;
    return spec?.spec?.containers ?? [];
  });
}

/** Validators of the Kubernetes API kinds, by apiVersion/kind. */
const MODELS: Record<string, (object: KubeObject) => void> = {
  "v1/ConfigMap": (object) => new ConfigMap(object).validate(),
  "v1/Secret": (object) => new Secret(object).validate(),
  "v1/Service": (object) => new Service(object).validate(),
  "v1/ServiceAccount": (object) => new ServiceAccount(object).validate(),
  "apps/v1/StatefulSet": (object) => new StatefulSet(object).validate(),
  "policy/v1/PodDisruptionBudget": (object) => new PodDisruptionBudget(object).validate(),
  "networking.k8s.io/v1/NetworkPolicy": (object) => new NetworkPolicy(object).validate(),
  "rbac.authorization.k8s.io/v1/Role": (object) => new Role(object).validate(),
  "rbac.authorization.k8s.io/v1/RoleBinding": (object) => new RoleBinding(object as never).validate(),
  "networking.istio.io/v1alpha3/VirtualService": checkVirtualService,
  "networking.istio.io/v1alpha3/DestinationRule": checkDestinationRule,
  "monitoring.coreos.com/v1/ServiceMonitor": checkServiceMonitor,
  "monitoring.coreos.com/v1/PrometheusRule": checkPrometheusRule,
};

/** Validates an object; throws with its kind and name on the first problem. */
export function validate(object: KubeObject): void {
  const key = `${object.apiVersion}/${object.kind}`;
  const check = MODELS[key];
  if (check === undefined) throw new Error(`no validator for ${key}`);
  if (
    typeof object.metadata?.name !== "string" ||
    !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(object.metadata.name)
  )
    throw new Error(`${key}: metadata.name ${JSON.stringify(object.metadata?.name)} is no DNS name`);
  try {
    check(object);
  } catch (error) {
    throw new Error(
      `${key} ${object.metadata.name}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function fail(message: string): never {
  throw new Error(message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Only these keys, and the required ones present. */
function fields(
  value: unknown,
  where: string,
  allowed: readonly string[],
  required: readonly string[] = [],
): Record<string, unknown> {
  if (!isRecord(value)) fail(`${where} must be an object`);
  for (const key of Object.keys(value)) if (!allowed.includes(key)) fail(`${where}.${key} is not a field`);
  for (const key of required) if (value[key] === undefined) fail(`${where}.${key} is required`);
  return value;
}

function list(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value) || value.length === 0) fail(`${where} must be a non-empty list`);
  return value;
}

const METADATA = ["name", "namespace", "labels", "annotations"];

/** Istio's VirtualService, as far as the fields used here (http routes with uri prefixes and weights). */
function checkVirtualService(object: KubeObject): void {
  fields(object, "", ["apiVersion", "kind", "metadata", "spec"], ["spec"]);
  fields(object.metadata, "metadata", METADATA, ["name"]);
  const spec = fields(object.spec, "spec", ["hosts", "gateways", "http"], ["hosts", "http"]);
  list(spec.hosts, "spec.hosts").forEach(
    (host) => typeof host === "string" || fail("spec.hosts holds strings"),
  );
  list(spec.http, "spec.http").forEach((route, i) => {
    const http = fields(
      route,
      `spec.http[${i}]`,
      ["name", "match", "route", "retries", "timeout"],
      ["route"],
    );
    if (http.match !== undefined)
      list(http.match, `spec.http[${i}].match`).forEach((match, j) => {
        const uri = fields(match, `spec.http[${i}].match[${j}]`, ["uri", "headers"]).uri;
        if (uri !== undefined) fields(uri, `spec.http[${i}].match[${j}].uri`, ["prefix", "exact", "regex"]);
      });
    const destinations = list(http.route, `spec.http[${i}].route`).map((destination, j) => {
      const where = `spec.http[${i}].route[${j}]`;
      const entry = fields(destination, where, ["destination", "weight", "headers"], ["destination"]);
      fields(entry.destination, `${where}.destination`, ["host", "subset", "port"], ["host"]);
      if (entry.weight !== undefined && (!Number.isInteger(entry.weight) || (entry.weight as number) < 0))
        fail(`${where}.weight must be a whole number`);
      return entry;
    });
    // Istio: the weights of a route's destinations add up to 100 (one destination may leave it out).
    const weights = destinations.map((entry) => entry.weight as number | undefined);
    if (destinations.length > 1 && weights.reduce((sum: number, w) => sum + (w ?? 0), 0) !== 100)
      fail(`spec.http[${i}] weights must add up to 100`);
  });
}

/** Istio's DestinationRule: a host and named subsets selecting pods by labels. */
function checkDestinationRule(object: KubeObject): void {
  fields(object, "", ["apiVersion", "kind", "metadata", "spec"], ["spec"]);
  fields(object.metadata, "metadata", METADATA, ["name"]);
  const spec = fields(object.spec, "spec", ["host", "subsets", "trafficPolicy"], ["host"]);
  const names = list(spec.subsets, "spec.subsets").map((subset, i) => {
    const entry = fields(
      subset,
      `spec.subsets[${i}]`,
      ["name", "labels", "trafficPolicy"],
      ["name", "labels"],
    );
    return entry.name;
  });
  if (new Set(names).size !== names.length) fail("subset names must be unique");
}

/** The prometheus-operator's ServiceMonitor: a selector and endpoints. */
function checkServiceMonitor(object: KubeObject): void {
  fields(object, "", ["apiVersion", "kind", "metadata", "spec"], ["spec"]);
  fields(object.metadata, "metadata", METADATA, ["name"]);
  const spec = fields(
    object.spec,
    "spec",
    ["selector", "endpoints", "namespaceSelector", "jobLabel"],
    ["selector", "endpoints"],
  );
  fields(spec.selector, "spec.selector", ["matchLabels", "matchExpressions"]);
  list(spec.endpoints, "spec.endpoints").forEach((endpoint, i) => {
    const entry = fields(
      endpoint,
      `spec.endpoints[${i}]`,
      ["port", "path", "interval", "scheme", "scrapeTimeout", "tlsConfig"],
      ["port"],
    );
    if (entry.tlsConfig !== undefined) {
      const tls = fields(entry.tlsConfig, `spec.endpoints[${i}].tlsConfig`, [
        "ca",
        "cert",
        "keySecret",
        "serverName",
        "insecureSkipVerify",
      ]);
      if (tls.ca !== undefined) {
        const ca = fields(tls.ca, `spec.endpoints[${i}].tlsConfig.ca`, ["secret", "configMap"]);
        if (ca.secret !== undefined)
          fields(
            ca.secret,
            `spec.endpoints[${i}].tlsConfig.ca.secret`,
            ["name", "key", "optional"],
            ["name", "key"],
          );
      }
    }
    if (
      entry.interval !== undefined &&
      !(typeof entry.interval === "string" && /^[0-9]+(ms|s|m|h)$/.test(entry.interval))
    )
      fail(`spec.endpoints[${i}].interval is no duration`);
  });
}

/** The prometheus-operator's PrometheusRule: groups of alerting rules, as a Prometheus rule file. */
function checkPrometheusRule(object: KubeObject): void {
  fields(object, "", ["apiVersion", "kind", "metadata", "spec"], ["spec"]);
  fields(object.metadata, "metadata", METADATA, ["name"]);
  const spec = fields(object.spec, "spec", ["groups"], ["groups"]);
  const groups = list(spec.groups, "spec.groups").map((group, i) => {
    const entry = fields(group, `spec.groups[${i}]`, ["name", "interval", "rules"], ["name", "rules"]);
    const alerts = list(entry.rules, `spec.groups[${i}].rules`).map((rule, j) => {
      const where = `spec.groups[${i}].rules[${j}]`;
      const alert = fields(rule, where, ["alert", "expr", "for", "labels", "annotations"], ["alert", "expr"]);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(String(alert.alert))) fail(`${where}.alert is no valid name`);
      if (typeof alert.expr !== "string" || alert.expr.trim() === "")
        fail(`${where}.expr must be PromQL text`);
      if (
        alert.for !== undefined &&
        !(typeof alert.for === "string" && /^[0-9]+(ms|s|m|h|d)$/.test(alert.for))
      )
        fail(`${where}.for is no duration`);
      const labels = fields(alert.labels, `${where}.labels`, ["severity"], ["severity"]);
      if (!["critical", "warning", "info"].includes(String(labels.severity)))
        fail(`${where}: unknown severity`);
      fields(
        alert.annotations,
        `${where}.annotations`,
        ["summary", "description", "runbook_url"],
        ["summary", "description"],
      );
      return alert.alert;
    });
    if (new Set(alerts).size !== alerts.length) fail(`spec.groups[${i}] names an alert twice`);
    return entry.name;
  });
  if (new Set(groups).size !== groups.length) fail("group names must be unique");
}
