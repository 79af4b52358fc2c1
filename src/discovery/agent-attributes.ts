/**
 * Team, skills, capacity, weight and labels from key=value metadata, the same way for every source:
 * DNS TXT strings, Consul service Meta and Kubernetes annotations differ only in their key names.
 * Also the one place that builds a DiscoveredAgent, so every provider's agents obey the same bounds.
 */

import {
  MAX_AGENT_NAME_LENGTH,
  MAX_CAPACITY,
  MAX_ENDPOINT_LENGTH,
  MAX_LABEL_KEY_LENGTH,
  MAX_LABEL_VALUE_LENGTH,
  MAX_LABELS,
  MAX_SKILL_LENGTH,
  MAX_SKILLS,
  MAX_TEAM_LENGTH,
  MAX_WEIGHT,
} from "./limits.js";
import type { DiscoveredAgent, DiscoverySource } from "./types.js";

/** The metadata keys that carry each attribute in one source; every other key becomes a label. */
export interface AttributeKeys {
  readonly team: string;
  readonly skills: string;
  readonly capacity: string;
  readonly weight: string;
}

/** What an agent is when its metadata says nothing. */
export interface AttributeDefaults {
  /** The team of agents whose metadata names none. */
  readonly team: string;
  /** The skills of agents whose metadata lists none. */
  readonly skills: readonly string[];
  /** The capacity of agents whose metadata gives none. */
  readonly capacity: number;
}

/** The defaults every provider starts from: team "default", no skills, capacity 1. */
export const DEFAULT_ATTRIBUTES: AttributeDefaults = { team: "default", skills: [], capacity: 1 };

/** The attributes read from one entry's metadata. */
export interface AgentAttributes {
  readonly team: string;
  readonly skills: readonly string[];
  readonly capacity: number;
  readonly weight: number | null;
  readonly labels: ReadonlyMap<string, string>;
}

/**
 * Reads the attributes from `pairs` (in the source's order). Keys are matched exactly; a value
 * that cannot be used (an empty team, a capacity that is not a positive integer) falls back to the
 * default rather than refusing the agent, because one typo in metadata should not unregister it.
 * `skillsOverride` replaces the skills when the metadata has none (Consul uses the service's tags).
 */
export function readAttributes(
  pairs: Iterable<readonly [string, string]>,
  keys: AttributeKeys,
  defaults: AttributeDefaults,
  skillsFallback: readonly string[] | null = null,
): AgentAttributes {
  let team: string | null = null;
  let skills: readonly string[] | null = null;
  let capacity: number | null = null;
  let weight: number | null = null;
  const labels = new Map<string, string>();
  for (const [key, value] of pairs) {
    if (key === keys.team) team = parseTeam(value);
    else if (key === keys.skills) skills = parseSkillList(value);
    else if (key === keys.capacity) capacity = parseCapacity(value);
    else if (key === keys.weight) weight = parseWeight(value);
    else addLabel(labels, key, value);
  }
  return {
    team: team ?? defaults.team,
    skills: skills ?? normalizeSkills(skillsFallback ?? defaults.skills),
    capacity: capacity ?? defaults.capacity,
    weight,
    labels,
  };
}

/** A team name: trimmed, non-empty and at most MAX_TEAM_LENGTH long, else null. */
export function parseTeam(value: string): string | null {
  const team = value.trim();
  return team.length > 0 && team.length <= MAX_TEAM_LENGTH ? team : null;
}

/** A comma-separated skill list, normalized as normalizeSkills does. */
export function parseSkillList(value: string): readonly string[] {
  // Bounded before splitting: a huge value must not become a huge array.
  const bounded = value.slice(0, MAX_SKILLS * (MAX_SKILL_LENGTH + 1));
  return normalizeSkills(bounded.split(","));
}

/** Skills trimmed, without empty, over-long or repeated ones, at most MAX_SKILLS of them, in their first order. */
export function normalizeSkills(skills: Iterable<string>): readonly string[] {
  const seen = new Set<string>();
  for (const raw of skills) {
    if (seen.size >= MAX_SKILLS) break;
    const skill = raw.trim();
    if (skill.length === 0 || skill.length > MAX_SKILL_LENGTH) continue;
    seen.add(skill);
  }
  return [...seen];
}

/** A capacity: a decimal integer from 1 to MAX_CAPACITY, else null. */
export function parseCapacity(value: string): number | null {
  if (!/^\s*\d{1,9}\s*$/.test(value)) return null;
  const capacity = Number(value);
  return capacity >= 1 && capacity <= MAX_CAPACITY ? capacity : null;
}

/** A weight: a finite decimal number from 0 to MAX_WEIGHT, else null. */
export function parseWeight(value: string): number | null {
  if (!/^\s*\d{1,9}(\.\d{1,6})?\s*$/.test(value)) return null;
  const weight = Number(value);
  return weight >= 0 && weight <= MAX_WEIGHT ? weight : null;
}

/** Adds one label within the bounds: an empty or over-long key and labels past MAX_LABELS are dropped, long values cut. */
export function addLabel(labels: Map<string, string>, key: string, value: string): void {
  if (key.length === 0 || key.length > MAX_LABEL_KEY_LENGTH) return;
  if (!labels.has(key) && labels.size >= MAX_LABELS) return;
  labels.set(key, value.slice(0, MAX_LABEL_VALUE_LENGTH));
}

/** The fields of an agent before they are checked. */
export interface AgentFields {
  readonly key: string;
  readonly source: DiscoverySource;
  readonly name: string;
  readonly endpoint: string;
  readonly attributes: AgentAttributes;
  readonly healthy: boolean | null;
}

/**
 * The agent, or the reason it cannot be one. A name is cut to MAX_AGENT_NAME_LENGTH (it is only a
 * label for people); an endpoint that is not an http(s) URL of at most MAX_ENDPOINT_LENGTH cannot be
 * cut without pointing somewhere else, so it makes the entry invalid.
 */
export function buildAgent(fields: AgentFields): DiscoveredAgent | string {
  const endpointProblem = checkEndpoint(fields.endpoint);
  if (endpointProblem !== null) return endpointProblem;
  const name = fields.name.trim().slice(0, MAX_AGENT_NAME_LENGTH);
  if (name.length === 0) return "the agent has no name";
  return {
    key: fields.key,
    source: fields.source,
    name,
    endpoint: fields.endpoint,
    team: fields.attributes.team,
    skills: fields.attributes.skills,
    capacity: fields.attributes.capacity,
    weight: fields.attributes.weight,
    labels: fields.attributes.labels,
    healthy: fields.healthy,
  };
}

/** Null when `endpoint` is an absolute http(s) URL within MAX_ENDPOINT_LENGTH, else what is wrong with it. */
export function checkEndpoint(endpoint: string): string | null {
  if (endpoint.length > MAX_ENDPOINT_LENGTH)
    return `endpoint is longer than ${MAX_ENDPOINT_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `endpoint ${JSON.stringify(endpoint)} is not a URL`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return `endpoint ${JSON.stringify(endpoint)} is not http or https`;
  return null;
}

/** `scheme://host:port`, with an IPv6 address in brackets. */
export function formatEndpoint(scheme: "http" | "https", host: string, port: number): string {
  const bare = host.endsWith(".") ? host.slice(0, -1) : host;
  const shown = bare.includes(":") && !bare.startsWith("[") ? `[${bare}]` : bare;
  return `${scheme}://${shown}:${port}`;
}

/** Whether `port` is a TCP port number an agent can listen on. */
export function isPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65_535;
}
