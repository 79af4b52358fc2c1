/**
 * EndpointSlices of one Service as agents: every ready-or-not endpoint address times every
 * matching port is an agent, healthy unless its `ready` condition is false (an unknown condition
 * counts as ready, as the EndpointSlice API says consumers should). Team, skills, capacity and
 * weight come from the Service's annotations juno.dev/team, juno.dev/skills, juno.dev/capacity and
 * juno.dev/weight (else the provider's defaults); other juno.dev/<name> annotations become labels
 * <name>, beside the endpoint's pod, node and zone. Pure functions of the objects as JSON.
 */

import {
  addLabel,
  buildAgent,
  formatEndpoint,
  isPort,
  readAttributes,
  type AttributeDefaults,
  type AttributeKeys,
} from "./agent-attributes.js";
import type { DiscoveredAgent, InvalidEntry } from "./types.js";

/** The annotations of the agent's attributes. */
export const KUBERNETES_ANNOTATION_KEYS: AttributeKeys = {
  team: "juno.dev/team",
  skills: "juno.dev/skills",
  capacity: "juno.dev/capacity",
  weight: "juno.dev/weight",
};

/** Annotations under this prefix are the agents'; others (kubectl's, controllers') are left alone. */
export const JUNO_ANNOTATION_PREFIX = "juno.dev/";

/** Most endpoints read from one slice (the API's own bound is 1000). */
export const MAX_ENDPOINTS_PER_SLICE = 1_000;

/** What the agents of one Service are made from. */
export interface ServiceEndpoints {
  readonly namespace: string;
  readonly service: string;
  /** The slices, as the API serves them (JSON objects). */
  readonly slices: Iterable<unknown>;
  /** The Service's annotations. */
  readonly annotations: ReadonlyMap<string, string>;
  readonly defaults: AttributeDefaults;
  /** Only ports of this name; null for every TCP port. */
  readonly portName: string | null;
  readonly scheme: "http" | "https";
}

/** The agents of one Service, and the endpoints skipped. */
export function agentsOfService(input: ServiceEndpoints): {
  agents: DiscoveredAgent[];
  invalid: InvalidEntry[];
} {
  const ours = [...input.annotations].filter(([key]) => key.startsWith(JUNO_ANNOTATION_PREFIX));
  const pairs = ours.map(([key, value]): [string, string] =>
    isAttributeKey(key) ? [key, value] : [key.slice(JUNO_ANNOTATION_PREFIX.length), value],
  );
  const attributes = readAttributes(pairs, KUBERNETES_ANNOTATION_KEYS, input.defaults);
  const agents = new Map<string, DiscoveredAgent>();
  const invalid: InvalidEntry[] = [];
  const prefix = `kubernetes:${input.namespace}/${input.service}/`;
  for (const raw of input.slices) {
    const slice = asObject(raw);
    if (slice === null) continue;
    const ports = portsOf(slice["ports"], input.portName);
    const endpoints = Array.isArray(slice["endpoints"]) ? (slice["endpoints"] as unknown[]) : [];
    for (const rawEndpoint of endpoints.slice(0, MAX_ENDPOINTS_PER_SLICE)) {
      const endpoint = asObject(rawEndpoint);
      if (endpoint === null) continue;
      const conditions = asObject(endpoint["conditions"]);
      const healthy = conditions?.["ready"] !== false;
      const targetRef = asObject(endpoint["targetRef"]);
      const pod = typeof targetRef?.["name"] === "string" ? targetRef["name"] : null;
      const labels = new Map(attributes.labels);
      if (pod !== null) addLabel(labels, "kubernetes_pod", pod);
      if (typeof endpoint["nodeName"] === "string") addLabel(labels, "kubernetes_node", endpoint["nodeName"]);
      if (typeof endpoint["zone"] === "string") addLabel(labels, "kubernetes_zone", endpoint["zone"]);
      const addresses = Array.isArray(endpoint["addresses"]) ? (endpoint["addresses"] as unknown[]) : [];
      for (const address of addresses.slice(0, 8)) {
        if (typeof address !== "string" || address === "") continue;
        for (const port of ports) {
          const host = address.includes(":") ? `[${address}]` : address;
          const key = `${prefix}${host}:${port.port}`;
          const agent = buildAgent({
            key,
            source: "kubernetes",
            name: `${pod ?? address}:${port.port}`,
            endpoint: formatEndpoint(input.scheme, address, port.port),
            attributes: {
              ...attributes,
              labels: port.name === null ? labels : withPortName(labels, port.name),
            },
            healthy,
          });
          if (typeof agent === "string") {
            invalid.push({ source: "kubernetes", key, reason: agent });
            continue;
          }
          // An address in two slices (while the controller moves it) counts once, ready if either says so.
          const before = agents.get(key);
          if (before === undefined || (before.healthy === false && agent.healthy !== false))
            agents.set(key, agent);
        }
      }
    }
  }
  return { agents: [...agents.values()], invalid };
}

function isAttributeKey(key: string): boolean {
  return Object.values(KUBERNETES_ANNOTATION_KEYS).includes(key);
}

function withPortName(labels: ReadonlyMap<string, string>, name: string): Map<string, string> {
  const copy = new Map(labels);
  addLabel(copy, "kubernetes_port", name);
  return copy;
}

/** The slice's TCP ports (protocol TCP when not given), of `portName` when one is given. */
function portsOf(raw: unknown, portName: string | null): Array<{ port: number; name: string | null }> {
  if (!Array.isArray(raw)) return [];
  const ports: Array<{ port: number; name: string | null }> = [];
  for (const item of raw as unknown[]) {
    const port = asObject(item);
    if (port === null) continue;
    const number = port["port"];
    const name = typeof port["name"] === "string" && port["name"] !== "" ? port["name"] : null;
    const protocol = port["protocol"] ?? "TCP";
    if (typeof number !== "number" || !isPort(number) || protocol !== "TCP") continue;
    if (portName !== null && name !== portName) continue;
    ports.push({ port: number, name });
  }
  return ports.slice(0, 16);
}

/** The name of a slice (its key among the Service's slices), null when it has none. */
export function sliceName(raw: unknown): string | null {
  const name = asObject(asObject(raw)?.["metadata"])?.["name"];
  return typeof name === "string" && name !== "" ? name : null;
}

/** The resourceVersion of an object, null when it has none. */
export function resourceVersionOf(raw: unknown): string | null {
  const version = asObject(asObject(raw)?.["metadata"])?.["resourceVersion"];
  return typeof version === "string" && version !== "" ? version : null;
}

function asObject(value: unknown): Record<string, unknown> | null {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}
