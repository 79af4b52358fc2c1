/**
 * Reading DNS answers: SRV records of a name (through CNAMEs), the addresses and TXT strings of a
 * target, and the TTLs that say when each answer goes stale. Pure functions of decoded messages.
 */

import type * as dnsPacket from "dns-packet";
import { canonicalName, sameName } from "./dns-client.js";

/** One SRV record. */
export interface ServiceRecord {
  readonly target: string;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
  readonly ttlSeconds: number;
}

/** Records of one type at a name, and the shortest TTL among them and the CNAMEs that led there. */
export interface RecordsAt<T> {
  readonly records: readonly T[];
  /** The shortest TTL of the records used, null when there were none. */
  readonly ttlSeconds: number | null;
}

/** CNAME links followed inside one answer before giving up (a loop or a silly chain). */
const MAX_CNAME_LINKS = 8;

/** The names an answer's records for `name` sit at: `name` and every CNAME target it leads to. */
function aliasesOf(
  answers: readonly dnsPacket.Answer[],
  name: string,
): { names: Set<string>; ttlSeconds: number | null } {
  const names = new Set([canonicalName(name)]);
  let ttlSeconds: number | null = null;
  let current = canonicalName(name);
  for (let link = 0; link < MAX_CNAME_LINKS; link++) {
    const alias = answers.find(
      (answer): answer is dnsPacket.StringAnswer => answer.type === "CNAME" && sameName(answer.name, current),
    );
    if (alias === undefined) break;
    ttlSeconds = shorter(ttlSeconds, alias.ttl ?? 0);
    current = canonicalName(alias.data);
    if (names.has(current)) break;
    names.add(current);
  }
  return { names, ttlSeconds };
}

/** The SRV records for `name` in `answers`. */
export function serviceRecords(answers: readonly dnsPacket.Answer[], name: string): RecordsAt<ServiceRecord> {
  const aliases = aliasesOf(answers, name);
  let ttlSeconds = aliases.ttlSeconds;
  const records: ServiceRecord[] = [];
  for (const answer of answers) {
    if (answer.type !== "SRV" || !aliases.names.has(canonicalName(answer.name))) continue;
    const ttl = answer.ttl ?? 0;
    ttlSeconds = shorter(ttlSeconds, ttl);
    records.push({
      target: canonicalName(answer.data.target),
      port: answer.data.port,
      priority: answer.data.priority ?? 0,
      weight: answer.data.weight ?? 0,
      ttlSeconds: ttl,
    });
  }
  return { records, ttlSeconds: records.length === 0 ? null : ttlSeconds };
}

/** The A or AAAA addresses for `name` in `records` (an answer or an additional section). */
export function addressRecords(
  records: readonly dnsPacket.Answer[],
  name: string,
  type: "A" | "AAAA",
): RecordsAt<string> {
  const aliases = aliasesOf(records, name);
  let ttlSeconds = aliases.ttlSeconds;
  const addresses: string[] = [];
  for (const record of records) {
    if (record.type !== type || !aliases.names.has(canonicalName(record.name))) continue;
    if (typeof record.data !== "string") continue;
    ttlSeconds = shorter(ttlSeconds, record.ttl ?? 0);
    addresses.push(record.data);
  }
  return { records: addresses, ttlSeconds: addresses.length === 0 ? null : ttlSeconds };
}

/** The character strings of every TXT record for `name`, in order. */
export function textStrings(answers: readonly dnsPacket.Answer[], name: string): RecordsAt<string> {
  const aliases = aliasesOf(answers, name);
  let ttlSeconds = aliases.ttlSeconds;
  const strings: string[] = [];
  for (const answer of answers) {
    if (answer.type !== "TXT" || !aliases.names.has(canonicalName(answer.name))) continue;
    ttlSeconds = shorter(ttlSeconds, answer.ttl ?? 0);
    const data = answer.data;
    for (const part of Array.isArray(data) ? data : [data]) {
      strings.push(typeof part === "string" ? part : part.toString("utf8"));
    }
  }
  return { records: strings, ttlSeconds: strings.length === 0 ? null : ttlSeconds };
}

/** Most TXT strings read per target; DNS-SD keeps TXT records small, a huge one is cut. */
const MAX_TEXT_PAIRS = 64;

/**
 * TXT strings as key=value pairs (DNS-SD, RFC 6763 section 6): keys compare without case, so they
 * are lower-cased; a string without "=" or with an empty key carries no value and is skipped.
 */
export function textPairs(strings: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const text of strings.slice(0, MAX_TEXT_PAIRS)) {
    const equals = text.indexOf("=");
    if (equals <= 0) continue;
    pairs.push([text.slice(0, equals).trim().toLowerCase(), text.slice(equals + 1)]);
  }
  return pairs;
}

/**
 * How long a negative answer (NXDOMAIN, or no records) may be cached (RFC 2308 section 5): the
 * smaller of the SOA record's TTL and its minimum field, null when the server sent no SOA.
 */
export function negativeTtlSeconds(authorities: readonly dnsPacket.Answer[]): number | null {
  for (const record of authorities) {
    if (record.type !== "SOA") continue;
    return Math.min(record.ttl ?? 0, record.data.minimum ?? record.ttl ?? 0);
  }
  return null;
}

/** The shorter of two TTLs, either of which may be unknown. */
export function shorter(left: number | null, right: number | null): number | null {
  if (left === null) return right;
  if (right === null) return left;
  return Math.min(left, right);
}

/** The delay before asking again: the shortest TTL, within [floorMs, ceilingMs]; `fallbackMs` when no TTL was seen. */
export function refreshDelayMs(
  ttlSeconds: number | null,
  floorMs: number,
  ceilingMs: number,
  fallbackMs: number,
): number {
  const wanted = ttlSeconds === null ? fallbackMs : ttlSeconds * 1_000;
  return Math.min(ceilingMs, Math.max(floorMs, wanted));
}
