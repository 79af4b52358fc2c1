/**
 * Templates in step inputs: `{{input.repo}}`, `{{steps.build.output.image}}`, `{{item.name}}`,
 * `{{index}}`, `{{workflow.id}}`. A string that is exactly one template takes the referenced
 * value with its JSON type; templates embedded in a longer string are stringified into it
 * (strings as they are, numbers and booleans as written, objects and arrays as JSON, null and
 * missing values as nothing). A reference that does not resolve gives null (or nothing, embedded)
 * and is reported, so the engine can record it on the step; a template that does not parse is
 * a definition error.
 */

import type { JsonValue } from "../control/index.js";

/** One `{{ ... }}` expression: a root name and the path below it, e.g. steps / build / output / image. */
export interface Reference {
  readonly root: string;
  readonly path: readonly string[];
  /** The expression as written (trimmed), for messages. */
  readonly text: string;
}

/** A template string cut into literal text and references. */
export type TemplatePart = string | Reference;

/** A parsed template string: its parts, and whether it is exactly one template. */
export interface ParsedTemplate {
  readonly parts: readonly TemplatePart[];
  /** The reference when the whole string is one template (its value keeps its JSON type). */
  readonly whole: Reference | null;
}

/** Why a template string does not parse. */
export interface TemplateSyntaxError {
  readonly message: string;
}

/** What a template reference resolves against: the engine answers for each root. */
export interface TemplateScope {
  /** The value of a reference, or undefined when it does not resolve. */
  lookup(reference: Reference): JsonValue | undefined;
}

/** A resolved template and the references in it that did not resolve. */
export interface Resolved {
  readonly value: JsonValue;
  readonly missing: readonly string[];
}

const OPEN = "{{";
const CLOSE = "}}";
const FIRST_SEGMENT = /^[A-Za-z_][A-Za-z0-9_-]*/;
const DOT_SEGMENT = /^\.([A-Za-z0-9_-]+)/;
const INDEX_SEGMENT = /^\[(0|[1-9][0-9]*)\]/;
const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

/** Whether a string holds template syntax at all (cheap test before parsing). */
export function hasTemplate(text: string): boolean {
  return text.includes(OPEN);
}

/** Parses a template string into parts, or says why it cannot. */
export function parseTemplate(text: string): ParsedTemplate | TemplateSyntaxError {
  const parts: TemplatePart[] = [];
  let rest = text;
  while (rest.length > 0) {
    const open = rest.indexOf(OPEN);
    if (open === -1) {
      parts.push(rest);
      break;
    }
    if (open > 0) parts.push(rest.slice(0, open));
    const close = rest.indexOf(CLOSE, open + OPEN.length);
    if (close === -1) return { message: `"${OPEN}" is not closed by "${CLOSE}"` };
    const reference = parseExpression(rest.slice(open + OPEN.length, close));
    if ("message" in reference) return reference;
    parts.push(reference);
    rest = rest.slice(close + CLOSE.length);
  }
  const whole = parts.length === 1 && typeof parts[0] !== "string" ? parts[0]! : null;
  return { parts, whole };
}

/** Parses the inside of `{{ ... }}`: a name, then `.name` or `[index]` segments. */
export function parseExpression(inner: string): Reference | TemplateSyntaxError {
  const text = inner.trim();
  const first = FIRST_SEGMENT.exec(text);
  if (first === null) return { message: `"{{${inner}}}" is not a reference such as {{input.name}}` };
  const path: string[] = [];
  let rest = text.slice(first[0].length);
  while (rest.length > 0) {
    const segment = DOT_SEGMENT.exec(rest) ?? INDEX_SEGMENT.exec(rest);
    if (segment === null) return { message: `"{{${inner}}}" has an invalid path at "${rest}"` };
    path.push(segment[1]!);
    rest = rest.slice(segment[0].length);
  }
  return { root: first[0], path, text };
}

/** Whether a parse result is an error. */
export function isSyntaxError(result: ParsedTemplate | TemplateSyntaxError): result is TemplateSyntaxError {
  return "message" in result;
}

/** Every template string inside a JSON value, with its JSON pointer below `pointer`. */
export function* templateStrings(value: JsonValue, pointer: string): Generator<[string, string]> {
  if (typeof value === "string") {
    if (hasTemplate(value)) yield [value, pointer];
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* templateStrings(value[i]!, `${pointer}/${i}`);
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value))
      yield* templateStrings(item, `${pointer}/${escapePointer(key)}`);
  }
}

/** A JSON pointer token for `key` (RFC 6901: `~` as `~0`, `/` as `~1`). */
export function escapePointer(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** The value at `path` below `value` (own keys of objects, canonical indexes of arrays), or undefined. */
export function walkPath(value: JsonValue | undefined, path: readonly string[]): JsonValue | undefined {
  let current = value;
  for (const segment of path) {
    if (current === undefined || current === null || typeof current !== "object") return undefined;
    if (Array.isArray(current)) {
      if (!ARRAY_INDEX.test(segment)) return undefined;
      current = current[Number(segment)];
    } else {
      current = Object.hasOwn(current, segment) ? current[segment] : undefined;
    }
  }
  return current;
}

/** Resolves every template in a JSON value against `scope`; values without templates are kept as they are. */
export function resolveTemplates(template: JsonValue, scope: TemplateScope): Resolved {
  const missing: string[] = [];
  const value = resolveValue(template, scope, missing);
  return { value, missing };
}

function resolveValue(template: JsonValue, scope: TemplateScope, missing: string[]): JsonValue {
  if (typeof template === "string")
    return hasTemplate(template) ? resolveString(template, scope, missing) : template;
  if (Array.isArray(template)) return template.map((item) => resolveValue(item, scope, missing));
  if (template !== null && typeof template === "object") {
    // fromEntries defines own properties, so a key such as "__proto__" stays plain data.
    return Object.fromEntries(
      Object.entries(template).map(([key, item]) => [key, resolveValue(item, scope, missing)]),
    );
  }
  return template;
}

function resolveString(text: string, scope: TemplateScope, missing: string[]): JsonValue {
  const parsed = parseTemplate(text);
  // Definitions are validated before they run, so this is text that only looks like a template.
  if (isSyntaxError(parsed)) return text;
  if (parsed.whole !== null) return lookup(parsed.whole, scope, missing) ?? null;
  let out = "";
  for (const part of parsed.parts)
    out += typeof part === "string" ? part : stringify(lookup(part, scope, missing));
  return out;
}

function lookup(reference: Reference, scope: TemplateScope, missing: string[]): JsonValue | undefined {
  const value = scope.lookup(reference);
  if (value === undefined && !missing.includes(reference.text)) missing.push(reference.text);
  return value;
}

/** How a value reads inside a longer string. */
export function stringify(value: JsonValue | undefined): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}
