/**
 * A renderer for the subset of Helm's Go templates that deploy/helm/juno uses, so that the chart
 * is tested here, where helm is not installed. The chart keeps to exactly this subset:
 *
 * - text and actions `{{ pipeline }}`, with `{{-` and `-}}` trimming the white space beside them,
 *   and comments `{{/* ... *\/}}`;
 * - `if` / `else if` / `else` / `end`, `with` / `else` / `end`, `range` over lists and maps (keys
 *   in sorted order, as Go does), with `$value :=` or `$key, $value :=`, and `else`;
 * - `define` / `include` / `template`; variables `$name := ...` and `$name = ...`, scoped to
 *   their block as in Go; `$` (the root) and `$.Field`;
 * - fields `.Values.*`, `.Release.Name/Namespace/Service/IsInstall/IsUpgrade`,
 *   `.Chart.Name/Version/AppVersion`, and a field of a parenthesised pipeline `(...).field`;
 * - literals "string", `raw string`, numbers, true, false, nil; pipelines `a | f b`, parentheses;
 * - functions: toYaml, nindent, indent, quote, default, printf (%s %d %v %q), required, fail,
 *   trunc, trimSuffix, b64enc, eq, ne, lt, gt, and, or, not, int, sub, join, dict, index, lookup,
 *   randAlphaNum.
 *
 * Where it differs from Helm: `lookup` finds nothing (as under `helm template` or --dry-run),
 * `randAlphaNum` draws from a seeded generator (so renders are reproducible), and numbers are
 * JavaScript numbers, where Helm's from values are float64 and literals int: `eq` on numbers is
 * exact here but refused by Go between the two kinds, so the chart compares numbers only after
 * `int`. Anything outside the subset is refused with an error, so the chart cannot drift out of it.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from "yaml";

// ---------------------------------------------------------------- lexing

/** A piece of a template: text, or an action's source between the delimiters. */
type Piece = { readonly text: string } | { readonly action: string; readonly line: number };

/** Splits a template into text and actions, applying the trim markers. */
function lex(source: string, file: string): Piece[] {
  const pieces: Piece[] = [];
  let position = 0;
  let trimNext = false;
  while (position < source.length) {
    const open = source.indexOf("{{", position);
    let text = source.slice(position, open < 0 ? source.length : open);
    if (trimNext) text = text.replace(/^\s+/, "");
    if (open < 0) {
      pieces.push({ text });
      break;
    }
    let start = open + 2;
    if (source[start] === "-" && /\s/.test(source[start + 1] ?? "")) {
      text = text.replace(/\s+$/, "");
      start += 1;
    }
    pieces.push({ text });
    const line = source.slice(0, open).split("\n").length;
    const end = closingDelimiter(source, start, `${file}:${line}`);
    let body = source.slice(start, end);
    trimNext = /\s-$/.test(body);
    if (trimNext) body = body.slice(0, -1);
    body = body.trim();
    if (!(body.startsWith("/*") && body.endsWith("*/"))) pieces.push({ action: body, line });
    position = end + 2;
  }
  return pieces;
}

/** Where the action starting at `start` ends: the first `}}` outside a string or comment. */
function closingDelimiter(source: string, start: number, where: string): number {
  const rest = source.slice(start).trimStart();
  if (rest.startsWith("/*")) {
    const close = source.indexOf("*/", start);
    const end = close < 0 ? -1 : source.indexOf("}}", close);
    if (end < 0) throw new Error(`${where}: unclosed comment`);
    return end;
  }
  let quote: string | null = null;
  for (let i = start; i < source.length; i++) {
    const char = source[i];
    if (quote !== null) {
      if (char === "\\" && quote === '"') i++;
      else if (char === quote) quote = null;
    } else if (char === '"' || char === "`") quote = char;
    else if (char === "}" && source[i + 1] === "}") return i;
  }
  throw new Error(`${where}: unclosed action`);
}

// ---------------------------------------------------------------- expressions

/** The kinds of token inside an action. */
type TokenKind =
  "string" | "number" | "identifier" | "field" | "variable" | "(" | ")" | "|" | ":=" | "=" | ",";

/** A token; `glued` says no white space came before it. */
interface Token {
  readonly kind: TokenKind;
  readonly value: string;
  readonly glued: boolean;
}

/** The tokens of an action; `glued` says no white space came before the token. */
function tokenize(source: string, where: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const start = i;
    while (/\s/.test(source[i] ?? "")) i++;
    if (i >= source.length) break;
    const glued = i === start;
    const rest = source.slice(i);
    const [kind, length, value] = nextToken(rest, where);
    tokens.push({ kind, value, glued });
    i += length;
  }
  return tokens;
}

/** The kind, length and value of the token at the start of `rest`. */
function nextToken(rest: string, where: string): [TokenKind, number, string] {
  const patterns: [TokenKind, RegExp][] = [
    ["string", /^"(?:[^"\\]|\\.)*"/],
    ["string", /^`[^`]*`/],
    ["number", /^-?[0-9]+(?:\.[0-9]+)?/],
    ["variable", /^\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/],
    ["field", /^(?:\.[A-Za-z_][A-Za-z0-9_]*)+|^\./],
    ["identifier", /^[A-Za-z_][A-Za-z0-9_]*/],
    [":=", /^:=/],
    ["(", /^\(/],
    [")", /^\)/],
    ["|", /^\|/],
    ["=", /^=/],
    [",", /^,/],
  ];
  for (const [kind, pattern] of patterns) {
    const match = pattern.exec(rest);
    if (match === null) continue;
    const source = match[0];
    if (kind !== "string") return [kind, source.length, source];
    return [
      kind,
      source.length,
      source.startsWith("`") ? source.slice(1, -1) : (JSON.parse(source) as string),
    ];
  }
  throw new Error(`${where}: unexpected ${JSON.stringify(rest.slice(0, 10))}`);
}

/** An operand of a command. */
type Operand =
  | { readonly kind: "literal"; readonly value: unknown }
  | { readonly kind: "field"; readonly path: readonly string[] }
  | { readonly kind: "variable"; readonly name: string; readonly path: readonly string[] }
  | { readonly kind: "function"; readonly name: string }
  | { readonly kind: "pipeline"; readonly pipeline: Pipeline; readonly path: readonly string[] };

/** A pipeline: commands joined by `|`, and the variables it declares or assigns. */
interface Pipeline {
  readonly commands: readonly (readonly Operand[])[];
  readonly declare: readonly string[];
  readonly assign: string | null;
}

/** Parses the tokens of one pipeline, from `position`; returns it and where it stopped. */
function parsePipeline(tokens: readonly Token[], position: number, where: string): [Pipeline, number] {
  let declare: string[] = [];
  let assign: string | null = null;
  // `$a := ...`, `$a, $b := ...` or `$a = ...`
  const declaration = tokens.slice(position).findIndex((token) => token.kind === ":=" || token.kind === "=");
  if (declaration >= 0) {
    const head = tokens.slice(position, position + declaration);
    const names = head.filter((token) => token.kind === "variable").map((token) => token.value);
    const onlyVariables = head.every((token) => token.kind === "variable" || token.kind === ",");
    if (onlyVariables && names.length > 0) {
      if (tokens[position + declaration]!.kind === ":=") declare = names;
      else assign = names[0]!;
      position += declaration + 1;
    }
  }
  const commands: Operand[][] = [];
  let command: Operand[] = [];
  while (position < tokens.length && tokens[position]!.kind !== ")") {
    const token = tokens[position]!;
    if (token.kind === "|") {
      commands.push(command);
      command = [];
      position++;
      continue;
    }
    const [operand, next] = parseOperand(tokens, position, where);
    command.push(operand);
    position = next;
  }
  commands.push(command);
  if (commands.some((each) => each.length === 0)) throw new Error(`${where}: empty command in pipeline`);
  return [{ commands, declare, assign }, position];
}

function parseOperand(tokens: readonly Token[], position: number, where: string): [Operand, number] {
  const token = tokens[position]!;
  switch (token.kind) {
    case "string":
      return [{ kind: "literal", value: token.value }, position + 1];
    case "number":
      return [{ kind: "literal", value: Number(token.value) }, position + 1];
    case "field":
      return [
        { kind: "field", path: token.value === "." ? [] : token.value.slice(1).split(".") },
        position + 1,
      ];
    case "variable": {
      const [name, ...path] = token.value.split(".");
      return [{ kind: "variable", name: name!, path }, position + 1];
    }
    case "identifier":
      if (token.value === "true" || token.value === "false")
        return [{ kind: "literal", value: token.value === "true" }, position + 1];
      if (token.value === "nil") return [{ kind: "literal", value: null }, position + 1];
      if (!Object.hasOwn(FUNCTIONS, token.value) && token.value !== "include")
        throw new Error(`${where}: function ${token.value} is outside the renderer's subset`);
      return [{ kind: "function", name: token.value }, position + 1];
    case "(": {
      const [pipeline, next] = parsePipeline(tokens, position + 1, where);
      if (tokens[next]?.kind !== ")") throw new Error(`${where}: unclosed parenthesis`);
      const chained = tokens[next + 1];
      if (chained?.kind === "field" && chained.glued && chained.value !== ".")
        return [{ kind: "pipeline", pipeline, path: chained.value.slice(1).split(".") }, next + 2];
      return [{ kind: "pipeline", pipeline, path: [] }, next + 1];
    }
    case ")":
    case "|":
    case ":=":
    case "=":
    case ",":
      throw new Error(`${where}: unexpected ${token.value}`);
  }
}

// ---------------------------------------------------------------- the tree

type Node =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "action"; readonly pipeline: Pipeline; readonly where: string }
  | {
      readonly kind: "if" | "with";
      readonly branches: readonly { readonly pipeline: Pipeline; readonly body: readonly Node[] }[];
      readonly otherwise: readonly Node[] | null;
      readonly where: string;
    }
  | {
      readonly kind: "range";
      readonly pipeline: Pipeline;
      readonly body: readonly Node[];
      readonly otherwise: readonly Node[] | null;
      readonly where: string;
    }
  | {
      readonly kind: "template";
      readonly name: string;
      readonly pipeline: Pipeline | null;
      readonly where: string;
    };

/** Parses pieces into nodes; `define`d templates go into `templates`. */
class Parser {
  private position = 0;

  constructor(
    private readonly pieces: readonly Piece[],
    private readonly file: string,
    private readonly templates: Map<string, readonly Node[]>,
  ) {}

  /** The whole file. */
  parseFile(): Node[] {
    const [nodes, stop] = this.parseList();
    if (stop !== null) throw new Error(`${this.file}:${stop.line}: unexpected {{ ${stop.action} }}`);
    return nodes;
  }

  /** Nodes up to an `end` or `else` (returned, consumed), or the end of the file (null). */
  private parseList(): [Node[], { action: string; line: number } | null] {
    const nodes: Node[] = [];
    while (this.position < this.pieces.length) {
      const piece = this.pieces[this.position++]!;
      if ("text" in piece) {
        if (piece.text !== "") nodes.push({ kind: "text", text: piece.text });
        continue;
      }
      const where = `${this.file}:${piece.line}`;
      const keyword = /^[a-z]+\b/.exec(piece.action)?.[0] ?? "";
      const rest = piece.action.slice(keyword.length).trim();
      switch (keyword) {
        case "end":
        case "else":
          return [nodes, piece];
        case "if":
        case "with":
          nodes.push(this.parseConditional(keyword, rest, where));
          break;
        case "range": {
          const pipeline = pipelineOf(rest, where);
          const [body, stop] = this.parseList();
          const otherwise = this.parseElse(stop, where);
          nodes.push({ kind: "range", pipeline, body, otherwise, where });
          break;
        }
        case "define": {
          const name = tokenize(rest, where)[0];
          if (name?.kind !== "string") throw new Error(`${where}: define needs a name`);
          const [body, stop] = this.parseList();
          if (stop?.action !== "end") throw new Error(`${where}: define without end`);
          this.templates.set(name.value, body);
          break;
        }
        case "template": {
          const tokens = tokenize(rest, where);
          const name = tokens[0];
          if (name?.kind !== "string") throw new Error(`${where}: template needs a name`);
          const pipeline = tokens.length > 1 ? parsePipeline(tokens, 1, where)[0] : null;
          nodes.push({ kind: "template", name: name.value, pipeline, where });
          break;
        }
        case "block":
        case "break":
        case "continue":
          throw new Error(`${where}: ${keyword} is outside the renderer's subset`);
        default:
          nodes.push({ kind: "action", pipeline: pipelineOf(piece.action, where), where });
      }
    }
    return [nodes, null];
  }

  /** An if or with, with its else-if chain (if only) and else. */
  private parseConditional(kind: "if" | "with", condition: string, where: string): Node {
    const branches: { pipeline: Pipeline; body: Node[] }[] = [];
    let pipeline = pipelineOf(condition, where);
    for (;;) {
      const [body, stop] = this.parseList();
      branches.push({ pipeline, body });
      if (stop === null) throw new Error(`${where}: ${kind} without end`);
      const elseIf = /^else\s+if\s+(.*)$/s.exec(stop.action);
      if (elseIf !== null && kind === "if") {
        pipeline = pipelineOf(elseIf[1]!, `${this.file}:${stop.line}`);
        continue;
      }
      return { kind, branches, otherwise: this.parseElse(stop, where), where };
    }
  }

  /** After a body: null at `end`, the else branch at `else`. */
  private parseElse(stop: { action: string } | null, where: string): Node[] | null {
    if (stop === null) throw new Error(`${where}: block without end`);
    if (stop.action === "end") return null;
    if (stop.action !== "else") throw new Error(`${where}: unexpected {{ ${stop.action} }}`);
    const [otherwise, end] = this.parseList();
    if (end?.action !== "end") throw new Error(`${where}: else without end`);
    return otherwise;
  }
}

function pipelineOf(source: string, where: string): Pipeline {
  const tokens = tokenize(source, where);
  const [pipeline, stop] = parsePipeline(tokens, 0, where);
  if (stop !== tokens.length) throw new Error(`${where}: unexpected ${tokens[stop]?.value}`);
  return pipeline;
}

// ---------------------------------------------------------------- evaluation

/** Variables of one block, falling back on the enclosing block's. */
class Scope {
  private readonly variables = new Map<string, unknown>();

  constructor(private readonly parent: Scope | null) {}

  declare(name: string, value: unknown): void {
    this.variables.set(name, value);
  }

  assign(name: string, value: unknown, where: string): void {
    if (this.variables.has(name)) this.variables.set(name, value);
    else if (this.parent !== null) this.parent.assign(name, value, where);
    else throw new Error(`${where}: assignment to undeclared ${name}`);
  }

  lookup(name: string, where: string): unknown {
    if (this.variables.has(name)) return this.variables.get(name);
    if (this.parent !== null) return this.parent.lookup(name, where);
    throw new Error(`${where}: undefined variable ${name}`);
  }
}

/** Go's truth: false, 0, nil, and empty strings, lists and maps are false. */
export function truthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value).length > 0;
  return true;
}

/** `.a.b` of a value: a missing key is nil, a field of nil an error, as in Helm. */
function fieldOf(value: unknown, path: readonly string[], where: string): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || current === undefined)
      throw new Error(`${where}: nil pointer evaluating .${key}`);
    if (typeof current !== "object" || Array.isArray(current))
      throw new Error(`${where}: can't evaluate field ${key} in a ${typeof current}`);
    current = Object.hasOwn(current, key) ? (current as Record<string, unknown>)[key] : null;
  }
  return current;
}

/** How a value prints: maps and lists must go through toYaml. */
function printed(value: unknown, where: string): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw new Error(`${where}: printing a ${Array.isArray(value) ? "list" : typeof value}; use toYaml`);
}

interface Context {
  readonly dot: unknown;
  readonly root: unknown;
  readonly scope: Scope;
}

/** One render: the templates, the output so far, and the seeded generator. */
class Renderer {
  private random: () => number;

  constructor(
    private readonly templates: ReadonlyMap<string, readonly Node[]>,
    seed: number,
  ) {
    this.random = mulberry32(seed);
  }

  /** The text of `nodes` with `data` as both dot and $. */
  render(nodes: readonly Node[], data: unknown): string {
    const scope = new Scope(null);
    scope.declare("$", data);
    return this.nodes(nodes, { dot: data, root: data, scope });
  }

  private nodes(nodes: readonly Node[], context: Context): string {
    let out = "";
    for (const node of nodes) out += this.node(node, context);
    return out;
  }

  private node(node: Node, context: Context): string {
    switch (node.kind) {
      case "text":
        return node.text;
      case "action": {
        const value = this.pipeline(node.pipeline, context, node.where);
        return node.pipeline.declare.length > 0 || node.pipeline.assign !== null
          ? ""
          : printed(value, node.where);
      }
      case "if":
      case "with": {
        for (const branch of node.branches) {
          const inner = { ...context, scope: new Scope(context.scope) };
          const value = this.pipeline(branch.pipeline, inner, node.where);
          if (truthy(value))
            return this.nodes(branch.body, node.kind === "with" ? { ...inner, dot: value } : inner);
        }
        return node.otherwise === null
          ? ""
          : this.nodes(node.otherwise, { ...context, scope: new Scope(context.scope) });
      }
      case "range":
        return this.range(node, context);
      case "template": {
        const data = node.pipeline === null ? null : this.pipeline(node.pipeline, context, node.where);
        return this.include(node.name, data, node.where);
      }
    }
  }

  private range(node: Extract<Node, { kind: "range" }>, context: Context): string {
    const { declare } = node.pipeline;
    const collection = this.pipeline({ ...node.pipeline, declare: [] }, context, node.where);
    let entries: [unknown, unknown][];
    if (collection === null || collection === undefined) entries = [];
    else if (Array.isArray(collection)) entries = collection.map((value, index) => [index, value]);
    else if (typeof collection === "object")
      entries = Object.keys(collection)
        .sort()
        .map((key) => [key, (collection as Record<string, unknown>)[key]]);
    else throw new Error(`${node.where}: range over ${typeof collection}`);
    if (entries.length === 0)
      return node.otherwise === null
        ? ""
        : this.nodes(node.otherwise, { ...context, scope: new Scope(context.scope) });
    let out = "";
    for (const [key, value] of entries) {
      const scope = new Scope(context.scope);
      if (declare.length === 1) scope.declare(declare[0]!, value);
      if (declare.length === 2) {
        scope.declare(declare[0]!, key);
        scope.declare(declare[1]!, value);
      }
      out += this.nodes(node.body, { ...context, dot: value, scope });
    }
    return out;
  }

  /** A defined template's text for `data`. */
  include(name: string, data: unknown, where: string): string {
    const nodes = this.templates.get(name);
    if (nodes === undefined) throw new Error(`${where}: no template ${JSON.stringify(name)}`);
    const scope = new Scope(null);
    scope.declare("$", data);
    return this.nodes(nodes, { dot: data, root: data, scope });
  }

  private pipeline(pipeline: Pipeline, context: Context, where: string): unknown {
    let value: unknown = undefined;
    let piped = false;
    for (const command of pipeline.commands) {
      value = this.command(command, context, where, piped ? [value] : []);
      piped = true;
    }
    if (pipeline.declare.length > 0) context.scope.declare(pipeline.declare[0]!, value);
    if (pipeline.assign !== null) context.scope.assign(pipeline.assign, value, where);
    return value;
  }

  private command(command: readonly Operand[], context: Context, where: string, piped: unknown[]): unknown {
    const [head, ...rest] = command;
    if (head?.kind === "function") {
      const args = [...rest.map((operand) => this.operand(operand, context, where)), ...piped];
      if (head.name === "include") return this.include(String(args[0]), args[1], where);
      return FUNCTIONS[head.name]!.call(this, args, where);
    }
    if (rest.length > 0 || piped.length > 0) throw new Error(`${where}: a value is not a function`);
    return this.operand(head!, context, where);
  }

  private operand(operand: Operand, context: Context, where: string): unknown {
    switch (operand.kind) {
      case "literal":
        return operand.value;
      case "field":
        return fieldOf(context.dot, operand.path, where);
      case "variable":
        return fieldOf(context.scope.lookup(operand.name, where), operand.path, where);
      case "pipeline":
        return fieldOf(this.pipeline(operand.pipeline, context, where), operand.path, where);
      case "function":
        return this.command([operand], context, where, []);
    }
  }

  /** A random letter or digit, from the seeded generator. */
  randomCharacter(): string {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    return alphabet[Math.floor(this.random() * alphabet.length)]!;
  }
}

/** A small seeded generator (mulberry32). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sprig's and Go's comparison: refuses values of different kinds, as Go does. */
function equal(a: unknown, b: unknown, where: string): boolean {
  const basic = (value: unknown) => value === null || value === undefined || typeof value !== "object";
  if (!basic(a) || !basic(b)) throw new Error(`${where}: eq of a map or list`);
  if (a !== null && a !== undefined && b !== null && b !== undefined && typeof a !== typeof b)
    throw new Error(`${where}: incompatible types for comparison (${typeof a} and ${typeof b})`);
  return a === b;
}

/** Go's lt and gt: numbers with numbers, strings with strings. */
function compare(a: unknown, b: unknown, where: string): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  throw new Error(`${where}: incompatible types for comparison (${typeof a} and ${typeof b})`);
}

/** A function argument as text; maps and lists are refused. */
function text(value: unknown): string {
  return printed(value, "function argument");
}

function integer(value: unknown): number {
  if (typeof value === "number") return Math.trunc(value);
  if (typeof value === "boolean") return value ? 1 : 0;
  const parsed = Number.parseInt(text(value), 10);
  return Number.isNaN(parsed) ? 0 : parsed;
}

/** Go's fmt.Sprintf for %s, %d, %v, %q and %%. */
function sprintf(format: string, args: unknown[], where: string): string {
  let next = 0;
  return format.replace(/%([sdvq%])/g, (_, verb: string) => {
    if (verb === "%") return "%";
    if (next >= args.length) throw new Error(`${where}: printf: missing argument for %${verb}`);
    const value = args[next++];
    if (verb === "d") return String(integer(value));
    if (verb === "q") return JSON.stringify(text(value));
    return printed(value, where);
  });
}

/** A template function: its arguments (a piped value last) and where it is called, for errors. */
type TemplateFunction = (this: Renderer, args: unknown[], where: string) => unknown;

/** The functions of the subset. */
const FUNCTIONS: Record<string, TemplateFunction> = {
  toYaml: ([value]) => stringifyYaml(value ?? null).replace(/\n$/, ""),
  indent: ([width, value]) =>
    text(value)
      .split("\n")
      .map((line) => " ".repeat(integer(width)) + line)
      .join("\n"),
  nindent(args, where) {
    return `\n${FUNCTIONS.indent!.call(this, args, where) as string}`;
  },
  quote: (args) =>
    args
      .filter((value) => value !== null && value !== undefined)
      .map((value) => JSON.stringify(text(value)))
      .join(" "),
  default: ([fallback, value]) => (truthy(value) ? value : fallback),
  printf: ([format, ...args], where) => sprintf(text(format), args, where),
  required: ([message, value]) => {
    if (value === null || value === undefined || value === "") throw new Error(text(message));
    return value;
  },
  fail: ([message]) => {
    throw new Error(text(message));
  },
  trunc: ([length, value]) => {
    const n = integer(length);
    return n >= 0 ? text(value).slice(0, n) : text(value).slice(n);
  },
  trimSuffix: ([suffix, value]) => {
    const s = text(value);
    const end = text(suffix);
    return end !== "" && s.endsWith(end) ? s.slice(0, -end.length) : s;
  },
  b64enc: ([value]) => Buffer.from(text(value), "utf8").toString("base64"),
  eq: ([a, ...others], where) => others.some((b) => equal(a, b, where)),
  ne: ([a, b], where) => !equal(a, b, where),
  lt: ([a, b], where) => compare(a, b, where) < 0,
  gt: ([a, b], where) => compare(a, b, where) > 0,
  and: (args) => args.find((value) => !truthy(value)) ?? args[args.length - 1],
  or: (args) => args.find((value) => truthy(value)) ?? args[args.length - 1],
  not: ([value]) => !truthy(value),
  int: ([value]) => integer(value),
  sub: ([a, b]) => integer(a) - integer(b),
  join: ([separator, list], where) => {
    if (!Array.isArray(list)) throw new Error(`${where}: join of a ${typeof list}`);
    return list.map((item) => printed(item, where)).join(text(separator));
  },
  dict: (args, where) => {
    if (args.length % 2 !== 0) throw new Error(`${where}: dict needs key and value pairs`);
    const map: Record<string, unknown> = {};
    for (let i = 0; i < args.length; i += 2) map[text(args[i])] = args[i + 1];
    return map;
  },
  index: ([collection, ...keys], where) => {
    let current = collection;
    for (const key of keys) {
      if (current === null || current === undefined) throw new Error(`${where}: index of untyped nil`);
      if (Array.isArray(current)) current = current[integer(key)] ?? null;
      else if (typeof current === "object")
        current = Object.hasOwn(current, text(key)) ? (current as Record<string, unknown>)[text(key)] : null;
      else throw new Error(`${where}: index of a ${typeof current}`);
    }
    return current;
  },
  // As under `helm template`: the cluster is not asked, and nothing is found.
  lookup: () => ({}),
  randAlphaNum(args) {
    return Array.from({ length: integer(args[0]) }, () => this.randomCharacter()).join("");
  },
};

// ---------------------------------------------------------------- the chart

/** What a release is rendered with. */
export interface RenderOptions {
  /** Values over the chart's values.yaml, merged as Helm merges them (null removes a key). */
  readonly values?: Record<string, unknown>;
  readonly releaseName?: string;
  readonly namespace?: string;
  /** An install (the default) or an upgrade. */
  readonly upgrade?: boolean;
  /** Seed of randAlphaNum. */
  readonly seed?: number;
}

/** The chart's rendered files by name (templates/x.yaml), NOTES.txt included. */
export interface RenderedChart {
  readonly files: ReadonlyMap<string, string>;
  /** Every object of every rendered manifest, in file order. */
  readonly objects: readonly Record<string, unknown>[];
}

/** Helm's coalescing of user values over the chart's: maps merge, anything else replaces. */
export function mergeValues(base: unknown, overrides: unknown): unknown {
  if (!isMap(base) || !isMap(overrides)) return overrides === undefined ? base : overrides;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === null) delete merged[key];
    else merged[key] = mergeValues(base[key], value);
  }
  return merged;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Renders the chart in `directory` as `helm template` would. */
export function renderChart(directory: string, options: RenderOptions = {}): RenderedChart {
  const chart = parseYaml(readFileSync(join(directory, "Chart.yaml"), "utf8")) as Record<string, unknown>;
  const defaults = parseYaml(readFileSync(join(directory, "values.yaml"), "utf8")) as unknown;
  const values = mergeValues(defaults, options.values ?? {});
  const templates = new Map<string, readonly Node[]>();
  const files = new Map<string, readonly Node[]>();
  const templateDirectory = join(directory, "templates");
  for (const name of readdirSync(templateDirectory).sort()) {
    const source = readFileSync(join(templateDirectory, name), "utf8");
    const nodes = new Parser(lex(source, `templates/${name}`), `templates/${name}`, templates).parseFile();
    if (!name.startsWith("_")) files.set(`templates/${name}`, nodes);
  }
  const data = {
    Values: values,
    Release: {
      Name: options.releaseName ?? "juno-phase3",
      Namespace: options.namespace ?? "default",
      Service: "Helm",
      IsInstall: options.upgrade !== true,
      IsUpgrade: options.upgrade === true,
    },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
  };
  const renderer = new Renderer(templates, options.seed ?? 1);
  const rendered = new Map<string, string>();
  const objects: Record<string, unknown>[] = [];
  for (const [name, nodes] of files) {
    const output = renderer.render(nodes, data);
    rendered.set(name, output);
    if (!name.endsWith(".yaml")) continue;
    for (const document of parseAllDocuments(output)) {
      if (document.errors.length > 0) throw new Error(`${name}: ${document.errors[0]!.message}\n${output}`);
      const object = document.toJSON() as unknown;
      if (object !== null && object !== undefined) objects.push(object as Record<string, unknown>);
    }
  }
  return { files: rendered, objects };
}

/** Renders one template text on its own (for the renderer's own tests). */
export function renderText(source: string, data: unknown, seed = 1): string {
  const templates = new Map<string, readonly Node[]>();
  const nodes = new Parser(lex(source, "inline"), "inline", templates).parseFile();
  return new Renderer(templates, seed).render(nodes, data);
}
