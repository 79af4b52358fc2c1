/** Where a node keeps its log and state: the embedded SQLite file or a PostgreSQL database. */

import { Invalid, quote } from "./errors.js";
import { REDACTED_TEXT, Secret } from "./secret.js";

/**
 * The storage backend. A PostgreSQL URL usually carries a password, so it is held as a Secret
 * and printed with the password masked.
 */
export type Storage = { readonly kind: "sqlite" } | { readonly kind: "postgres"; readonly url: Secret };

/** The form every storage error asks for. */
export const STORAGE_FORM = "sqlite, or a URL postgres://user:password@host:5432/database";

/** Parses `sqlite` or a `postgres://` (or `postgresql://`) URL with a host. */
export function parseStorage(text: string): Storage | Invalid {
  if (text === "sqlite") return { kind: "sqlite" };
  const url = parseUrl(text);
  if (url === null || (url.protocol !== "postgres:" && url.protocol !== "postgresql:")) {
    // Quote only what comes before "://": the rest may hold a password.
    const scheme = text.includes("://") ? `${text.slice(0, text.indexOf("://"))}://...` : text;
    return new Invalid("unsupported_storage", `expected ${STORAGE_FORM}, got ${quote(scheme)}`);
  }
  if (url.hostname.length === 0) {
    return new Invalid("unsupported_storage", `expected ${STORAGE_FORM}, got a postgres URL without a host`);
  }
  return { kind: "postgres", url: new Secret(text) };
}

/** The text of a storage setting, password included; parseStorage reads it back. */
export function formatStorage(storage: Storage): string {
  return storage.kind === "sqlite" ? "sqlite" : storage.url.reveal();
}

/** The text of a storage setting fit for logs: the URL with its password (in either place) masked. */
export function redactStorage(storage: Storage): string {
  if (storage.kind === "sqlite") return "sqlite";
  const url = parseUrl(storage.url.reveal());
  if (url === null) return REDACTED_TEXT;
  const user = url.username + (url.password.length > 0 ? `:${REDACTED_TEXT}` : "");
  // libpq also reads a password from the query string (?password=...).
  const query = [...url.searchParams]
    .map(([key, value]) => `${key}=${key === "password" ? REDACTED_TEXT : value}`)
    .join("&");
  return `${url.protocol}//${user.length > 0 ? `${user}@` : ""}${url.host}${url.pathname}${query.length > 0 ? `?${query}` : ""}`;
}

/** A URL, or null when the text is none. */
function parseUrl(text: string): URL | null {
  return URL.canParse(text) ? new URL(text) : null;
}
