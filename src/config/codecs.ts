/** Codecs: how the text of one setting becomes a typed value, and how the value becomes text again. */

import { ADDRESS_FORM, formatAddress, isWildcard, parseAddress, type Address } from "./address.js";
import { Invalid, quote, type ConfigErrorCode } from "./errors.js";
import { formatPeers, parseNodeId, parsePeers, type Peer } from "./peers.js";
import { REDACTED_TEXT, Secret } from "./secret.js";
import { formatStorage, parseStorage, redactStorage, type Storage } from "./storage.js";

/**
 * Reads and writes one kind of value. `format` must produce text that `parse` turns back into an
 * equal value: serialising a config to flags relies on it, and a property test checks it.
 */
export interface Codec<T> {
  /** What the value looks like, shown in help (`--http <host:port>`). */
  readonly placeholder: string;
  /** The value in `text`, or why it is refused. */
  parse(text: string): T | Invalid;
  /** The text of a value. */
  format(value: T): string;
  /** The value as logs may show it, when `format` would print something secret. */
  redact?(value: T): string;
}

/** Any text at all (a directory path). */
export const textCodec: Codec<string> = {
  placeholder: "path",
  parse: (text) => text,
  format: (value) => value,
};

/** A node id. */
export const nodeIdCodec: Codec<string> = {
  placeholder: "id",
  parse: parseNodeId,
  format: (value) => value,
};

// Beyond 15 digits a double no longer holds every integer exactly.
const DIGITS_MAX = 15;

/** A whole number in [min, max]; plain decimal digits only, so "1e3" or "0x10" are refused. */
export function integerCodec(min: number, max: number, unit: string): Codec<number> {
  const unitSuffix = unit.length > 0 ? ` ${unit}` : "";
  const range = min === max ? `${min}` : `${min}..${max}`;
  return {
    placeholder: unit.length > 0 ? unit : "n",
    parse(text) {
      if (!/^[0-9]+$/.test(text)) {
        return new Invalid("not_a_number", `expected a whole number${unitSuffix}, got ${quote(text)}`);
      }
      const value = text.length > DIGITS_MAX ? Number.POSITIVE_INFINITY : Number(text);
      return value >= min && value <= max
        ? value
        : new Invalid("out_of_range", `expected ${range}${unitSuffix}, got ${quote(text)}`);
    },
    format: (value) => String(value),
  };
}

/**
 * A duration written in seconds, as the seed's variables are, held in milliseconds (the unit
 * every timer takes). Up to three decimals, so "0.5" is half a second.
 */
export function secondsCodec(minMs: number, maxMs: number): Codec<number> {
  const range = `${minMs / 1000}..${maxMs / 1000} s`;
  return {
    placeholder: "s",
    parse(text) {
      const match = /^([0-9]+)(?:\.([0-9]{1,3}))?$/.exec(text);
      if (match === null) {
        return new Invalid(
          "not_a_number",
          `expected seconds as a decimal number with at most 3 decimals, got ${quote(text)}`,
        );
      }
      const wholeText = match[1] ?? "";
      const fraction = Number((match[2] ?? "").padEnd(3, "0"));
      const ms =
        wholeText.length > DIGITS_MAX ? Number.POSITIVE_INFINITY : Number(wholeText) * 1000 + fraction;
      return ms >= minMs && ms <= maxMs
        ? ms
        : new Invalid("out_of_range", `expected ${range}, got ${quote(text)}`);
    },
    // Integer milliseconds divided by 1000 print as the shortest exact decimal ("1.5", "0.001").
    format: (valueMs) => String(valueMs / 1000),
  };
}

/** A switch: true/false or 1/0, in any case. */
export const booleanCodec: Codec<boolean> = {
  placeholder: "true|false",
  parse(text) {
    const lower = text.toLowerCase();
    if (lower === "true" || lower === "1") return true;
    if (lower === "false" || lower === "0") return false;
    return new Invalid("not_a_boolean", `expected true, false, 1 or 0, got ${quote(text)}`);
  },
  format: (value) => String(value),
};

/**
 * One of a fixed list of words; `code` names what kind of word it is. `aliases` maps old names
 * that are still accepted to the word they now mean; they parse to that word and are never
 * written back, and refusals list only the current words.
 */
export function choiceCodec<T extends string>(
  choices: readonly T[],
  code: ConfigErrorCode,
  placeholder: string,
  aliases: ReadonlyMap<string, T> = new Map(),
): Codec<T> {
  return {
    placeholder,
    parse(text) {
      const choice = choices.find((candidate) => candidate === text) ?? aliases.get(text);
      return choice ?? new Invalid(code, `expected one of ${choices.join(", ")}, got ${quote(text)}`);
    },
    format: (value) => value,
  };
}

/** An address to listen on; 0.0.0.0 and :: mean every interface. */
export const listenAddressCodec: Codec<Address> = {
  placeholder: "host:port",
  parse: parseAddress,
  format: formatAddress,
};

/** An address others dial, so never a wildcard. */
export const dialAddressCodec: Codec<Address> = {
  placeholder: "host:port",
  parse(text) {
    const address = parseAddress(text);
    if (address instanceof Invalid || !isWildcard(address)) return address;
    return new Invalid(
      "malformed_address",
      `expected ${ADDRESS_FORM} that others can dial, got the wildcard ${quote(text)}`,
    );
  },
  format: formatAddress,
};

/** The initial cluster. */
export const peersCodec: Codec<readonly Peer[]> = {
  placeholder: "id=host:port,...",
  parse: parsePeers,
  format: formatPeers,
};

/** The storage backend. */
export const storageCodec: Codec<Storage> = {
  placeholder: "sqlite|postgres://...",
  parse: parseStorage,
  format: formatStorage,
  redact: redactStorage,
};

/**
 * A secret of at least `lengthMin` characters. Secrets travel in headers and handshakes and are
 * compared byte for byte, so anything but printable ASCII (an inner space, a non-breaking space
 * pasted from a web page) is refused rather than kept. Messages never quote the value.
 */
export function secretCodec(lengthMin: number): Codec<Secret> {
  return {
    placeholder: "secret",
    parse(text) {
      if (!/^[\x21-\x7e]+$/.test(text)) {
        return new Invalid(
          "malformed_secret",
          "expected printable ASCII characters without spaces; the value is not shown",
        );
      }
      return text.length >= lengthMin
        ? new Secret(text)
        : new Invalid(
            "malformed_secret",
            `expected at least ${lengthMin} characters (32 random ones are better), got ${text.length}`,
          );
    },
    format: (value) => value.reveal(),
    redact: () => REDACTED_TEXT,
  };
}

/** An http:// or https:// URL with a host, kept as written. */
export const httpUrlCodec: Codec<string> = {
  placeholder: "url",
  parse(text) {
    const url = URL.canParse(text) ? new URL(text) : null;
    const ok = url !== null && (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
    return ok
      ? text
      : new Invalid("malformed_url", `expected http://host:port or https://host:port, got ${quote(text)}`);
  },
  format: (value) => value,
};

/** Team weights, `team=weight,...` (a weight above 0, at most 1000; a team named once). */
/** `team=value,...` pairs, each value checked by `value` (an error message, or the number). */
function teamPairsCodec(
  placeholder: string,
  value: (text: string) => number | string,
): Codec<readonly (readonly [string, number])[]> {
  return {
    placeholder,
    parse(text) {
      if (text.trim() === "") return [];
      const pairs: [string, number][] = [];
      for (const part of text.split(",")) {
        const match = /^\s*([A-Za-z0-9][A-Za-z0-9._:/-]{0,99})=([0-9]+(?:\.[0-9]+)?)\s*$/.exec(part);
        if (match === null)
          return new Invalid(
            "malformed_team_weights",
            `expected ${placeholder} separated by commas, got ${quote(part)}`,
          );
        const parsed = value(match[2]!);
        if (typeof parsed === "string") return new Invalid("out_of_range", parsed);
        if (pairs.some(([team]) => team === match[1]))
          return new Invalid("malformed_team_weights", `team ${quote(match[1]!)} is named twice`);
        pairs.push([match[1]!, parsed]);
      }
      return pairs;
    },
    format: (pairs) => pairs.map(([team, n]) => `${team}=${n}`).join(","),
  };
}

export const teamWeightsCodec = teamPairsCodec("team=weight,...", (text) => {
  const weight = Number(text);
  return weight > 0 && weight <= 1000
    ? weight
    : `expected a weight above 0 and at most 1000, got ${quote(text)}`;
});

/** `team=limit,...`: whole numbers from 1 to a million. */
export const teamLimitsCodec = teamPairsCodec("team=limit,...", (text) => {
  const limit = Number(text);
  return Number.isInteger(limit) && limit >= 1 && limit <= 1_000_000
    ? limit
    : `expected a whole number from 1 to 1000000, got ${quote(text)}`;
});
