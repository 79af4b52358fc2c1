/** JSON values as the replicated state holds them, and a check that parsed input is plain JSON. */

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** How deep a JSON value may nest before it is refused (bounds recursion everywhere it is walked). */
export const MAX_JSON_DEPTH = 64;

/** Whether a parsed value is plain JSON: no undefined, functions, non-finite numbers or deep nesting. */
export function isJsonValue(value: unknown, depth = 0): value is JsonValue {
  if (depth > MAX_JSON_DEPTH) return false;
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((item) => isJsonValue(item, depth + 1));
  if (typeof value === "object") return Object.values(value).every((item) => isJsonValue(item, depth + 1));
  return false;
}

/** Whether `value` is a non-null, non-array object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
