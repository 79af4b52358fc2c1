/**
 * A2A Agent Cards (https://a2a-protocol.org/latest/specification/#agent-card): the JSON document
 * an agent serves at `{endpoint}/.well-known/agent-card.json` (and, before A2A 0.3, at
 * `/.well-known/agent.json`) to say who it is, where to reach it and what it can do. Read with a
 * deadline and a body bound, checked against a schema of the fields juno uses (others are
 * ignored, so newer cards still read), and reduced to what an agent needs: name, url, skills,
 * description and version.
 */

import Type, { type Static } from "typebox";
import { Compile } from "typebox/compile";
import { SYSTEM_CLOCK } from "../runtime/clock.js";
import { checkEndpoint, normalizeSkills } from "./agent-attributes.js";
import { DiscoveryError } from "./errors.js";
import { discardBody, parseJson, readBoundedText, withDeadline, type FetchFunction } from "./http-request.js";
import type { DiscoveryClock } from "./types.js";

/** The card's location under an agent's endpoint (A2A 0.3 and later). */
export const AGENT_CARD_PATH = ".well-known/agent-card.json";
/** The location before A2A 0.3, tried when the first answers 404. */
export const LEGACY_AGENT_CARD_PATH = ".well-known/agent.json";
/** The largest card read: real cards are a few KiB. */
export const DEFAULT_MAX_CARD_BYTES = 256 * 1024;
/** Most skills a card may list (more is refused: it is not a card a person wrote). */
export const MAX_CARD_SKILLS = 512;
/** Longest description kept. */
export const MAX_CARD_DESCRIPTION_LENGTH = 1_000;

const Text = (maxLength: number) => Type.String({ maxLength });

/** One skill of a card (AgentSkill). */
export const AgentSkillSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 256 }),
  name: Text(256),
  description: Type.Optional(Text(10_000)),
  tags: Type.Optional(Type.Array(Text(256), { maxItems: 64 })),
  examples: Type.Optional(Type.Array(Text(10_000), { maxItems: 64 })),
});

/** Where a card says the agent is reached (AgentInterface: `transport` in 0.3, `protocolBinding` in 1.0). */
export const AgentInterfaceSchema = Type.Object({
  url: Text(2_048),
  transport: Type.Optional(Text(64)),
  protocolBinding: Type.Optional(Text(64)),
});

/**
 * The fields of an AgentCard juno reads. `url` (0.3) or `supportedInterfaces` (1.0) must say
 * where the agent is; everything not listed here may be anything.
 */
export const AgentCardSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 1_000 }),
  description: Text(100_000),
  version: Text(256),
  url: Type.Optional(Text(2_048)),
  protocolVersion: Type.Optional(Text(64)),
  preferredTransport: Type.Optional(Text(64)),
  supportedInterfaces: Type.Optional(Type.Array(AgentInterfaceSchema, { maxItems: 32 })),
  additionalInterfaces: Type.Optional(Type.Array(AgentInterfaceSchema, { maxItems: 32 })),
  capabilities: Type.Optional(
    Type.Object({
      streaming: Type.Optional(Type.Boolean()),
      pushNotifications: Type.Optional(Type.Boolean()),
      stateTransitionHistory: Type.Optional(Type.Boolean()),
    }),
  ),
  defaultInputModes: Type.Optional(Type.Array(Text(256), { maxItems: 64 })),
  defaultOutputModes: Type.Optional(Type.Array(Text(256), { maxItems: 64 })),
  skills: Type.Array(AgentSkillSchema, { maxItems: MAX_CARD_SKILLS }),
});

/** A card as the schema accepts it. */
export type AgentCardDocument = Static<typeof AgentCardSchema>;

const cardValidator = Compile(AgentCardSchema);

/** What juno takes from a card. */
export interface AgentCard {
  readonly name: string;
  /** Where the agent is reached: the card's `url`, or its first http(s) supported interface. */
  readonly url: string;
  /** Skill ids and tags, without repeats, at most MAX_SKILLS. */
  readonly skills: readonly string[];
  /** Cut to MAX_CARD_DESCRIPTION_LENGTH. */
  readonly description: string;
  readonly version: string;
  readonly protocolVersion: string | null;
  readonly preferredTransport: string | null;
}

/** Checks a parsed card and reduces it; throws "invalid_card" saying where it is wrong. */
export function parseAgentCard(document: unknown, cardUrl: string): AgentCard {
  if (!cardValidator.Check(document)) {
    const error = cardValidator.Errors(document)[0];
    const where = error === undefined || error.instancePath === "" ? "" : ` at ${error.instancePath}`;
    throw new DiscoveryError(
      "invalid_card",
      `agent card ${cardUrl}${where}: ${error?.message ?? "is not an A2A agent card"}`,
    );
  }
  const card = document;
  const url = cardEndpoint(card);
  if (url === null)
    throw new DiscoveryError(
      "invalid_card",
      `agent card ${cardUrl}: no http(s) url of at most 255 characters`,
    );
  const skills: string[] = [];
  for (const skill of card.skills) skills.push(skill.id, ...(skill.tags ?? []));
  return {
    name: card.name,
    url,
    skills: normalizeSkills(skills),
    description: card.description.slice(0, MAX_CARD_DESCRIPTION_LENGTH),
    version: card.version,
    protocolVersion: card.protocolVersion ?? null,
    preferredTransport: card.preferredTransport ?? card.supportedInterfaces?.[0]?.protocolBinding ?? null,
  };
}

function cardEndpoint(card: AgentCardDocument): string | null {
  const candidates = [card.url, ...(card.supportedInterfaces ?? []).map((entry) => entry.url)];
  for (const candidate of candidates) {
    if (candidate !== undefined && checkEndpoint(candidate) === null) return candidate;
  }
  return null;
}

/** How a card is read. */
export interface AgentCardReadOptions {
  readonly fetch?: FetchFunction;
  /** The deadline of each request, body included. Default 10 s. */
  readonly timeoutMs?: number;
  /** The largest body accepted. Default 256 KiB. */
  readonly maxBytes?: number;
  readonly signal?: AbortSignal;
  readonly clock?: Pick<DiscoveryClock, "setTimeout" | "clearTimeout">;
  /** The ETag of the card last read from `knownLocation`: a 304 then means "unchanged". */
  readonly etag?: string | null;
  /** Where the card was last found (so the legacy location is not tried first each time). */
  readonly knownLocation?: string | null;
}

/** A card read, or a confirmation that it did not change. */
export type AgentCardFetch =
  | {
      readonly status: "fresh";
      readonly card: AgentCard;
      /** Where the card was found. */
      readonly location: string;
      readonly etag: string | null;
      /** How long the server says the card stays fresh (Cache-Control max-age), null when it does not say. */
      readonly maxAgeMs: number | null;
    }
  | { readonly status: "not_modified"; readonly location: string; readonly maxAgeMs: number | null };

/**
 * The locations to try for `url`: the URL itself when its path ends in ".json" (it names the card),
 * else the well-known locations under it (it names the agent's endpoint).
 */
export function agentCardLocations(url: string): readonly string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DiscoveryError("invalid_options", `agent card: ${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw new DiscoveryError("invalid_options", `agent card: ${JSON.stringify(url)} is not http or https`);
  if (parsed.pathname.endsWith(".json")) return [parsed.toString()];
  const base = new URL(parsed.toString());
  base.search = "";
  base.hash = "";
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  return [new URL(AGENT_CARD_PATH, base).toString(), new URL(LEGACY_AGENT_CARD_PATH, base).toString()];
}

/** Reads and checks the card of `url` (a card URL, or an agent endpoint whose well-known locations are tried). */
export async function readAgentCard(url: string, options: AgentCardReadOptions = {}): Promise<AgentCard> {
  const read = await fetchAgentCard(url, { ...options, etag: null });
  if (read.status !== "fresh")
    throw new DiscoveryError("bad_response", `agent card ${url}: 304 without an ETag sent`);
  return read.card;
}

/** Reads the card of `url`, with If-None-Match when an ETag is known; 404 at every location is "card_not_found". */
export async function fetchAgentCard(
  url: string,
  options: AgentCardReadOptions = {},
): Promise<AgentCardFetch> {
  const locations = [...agentCardLocations(url)];
  // The last place the card was found is tried first, with its ETag.
  const known = options.knownLocation ?? null;
  if (known !== null && locations.includes(known))
    locations.sort((a, b) => (a === known ? -1 : b === known ? 1 : 0));
  for (const location of locations) {
    const etag = location === known ? (options.etag ?? null) : null;
    const read = await fetchLocation(location, etag, options);
    if (read !== null) return read;
  }
  throw new DiscoveryError(
    "card_not_found",
    `agent card ${url}: not found at ${locations.join(" or ")}`,
    404,
  );
}

async function fetchLocation(
  location: string,
  etag: string | null,
  options: AgentCardReadOptions,
): Promise<AgentCardFetch | null> {
  const fetch = options.fetch ?? globalThis.fetch;
  const bounds = {
    clock: options.clock ?? SYSTEM_CLOCK,
    timeoutMs: options.timeoutMs ?? 10_000,
    signal: options.signal ?? new AbortController().signal,
  };
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_CARD_BYTES;
  const what = `agent card ${location}`;
  return withDeadline(what, bounds, async (signal) => {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (etag !== null) headers["If-None-Match"] = etag;
    const response = await fetch(location, { headers, signal, redirect: "follow" });
    const maxAgeMs = maxAgeOf(response.headers.get("cache-control"));
    if (response.status === 304 && etag !== null) {
      await discardBody(response);
      return { status: "not_modified", location, maxAgeMs };
    }
    if (response.status === 404) {
      await discardBody(response);
      return null;
    }
    if (response.status !== 200) {
      await discardBody(response);
      throw new DiscoveryError("http_status", `${what} answered ${response.status}`, response.status);
    }
    const text = await readBoundedText(response, maxBytes, what);
    const card = parseAgentCard(parseJson(text, what), location);
    return { status: "fresh", card, location, etag: response.headers.get("etag"), maxAgeMs };
  });
}

/** Cache-Control's max-age in milliseconds: 0 for no-cache or no-store, null when it says nothing. */
export function maxAgeOf(cacheControl: string | null): number | null {
  if (cacheControl === null) return null;
  let maxAgeMs: number | null = null;
  for (const directive of cacheControl.split(",").slice(0, 32)) {
    const [name = "", value = ""] = directive.trim().toLowerCase().split("=", 2);
    if (name === "no-store" || name === "no-cache") return 0;
    if (name === "max-age" && /^\d{1,9}$/.test(value.replace(/"/g, "")))
      maxAgeMs = Number(value.replace(/"/g, "")) * 1_000;
  }
  return maxAgeMs;
}
