/**
 * The registry of modules: every command kind with its compiled schema, every snapshot section,
 * every projected table and error code, gathered once at startup. The kernel and the edge look
 * commands up here by kind; neither names a domain.
 */

import type { TSchema } from "typebox";
import { Compile, type Validator } from "typebox/compile";
import { assert } from "../raft/assert.js";
import { parseEnvelopeText, type Envelope } from "./envelope.js";
import type { CommandSpec, StateModule, TableSpec } from "./module.js";

/** A command kind as the registry holds it: its spec, its module and its compiled schema. */
export interface RegisteredCommand {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly spec: CommandSpec<any, TSchema, unknown>;
  readonly module: AnyStateModule;
  readonly validator: Validator;
}

/** Why a body is not a valid command, or null when it is. */
export type BodyProblem = string | null;

/** An entry's bytes as text and as the envelope they hold. */
export interface DecodedEntry {
  readonly text: string;
  readonly envelope: Envelope;
}

const decoder = new TextDecoder();

const KIND_PATTERN = /^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/;
const NAME_PATTERN = /^[a-z][a-z0-9_]*$/;

/** Any module, whatever its state type (a registry holds modules of different state types). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStateModule = StateModule<any>;

/** Every registered module, command, table and error code. */
export class ModuleRegistry<M extends AnyStateModule = AnyStateModule> {
  readonly modules: readonly M[];
  private readonly commands = new Map<string, RegisteredCommand>();
  private readonly legacyKinds = new Map<string, RegisteredCommand>();
  private readonly errorStatus = new Map<string, number>();
  /**
   * Entries decoded when the store wrote them and not applied yet, by their bytes: each entry is
   * parsed once per node, not once to be written and again to be applied. Apply takes its copy out.
   */
  private readonly decoded = new WeakMap<Uint8Array, DecodedEntry>();
  /**
   * The verdict of problem() on a body decoded from an entry, so the store's and the kernel's
   * checks run once; only those bodies, which nobody changes, are remembered.
   */
  private readonly verdicts = new WeakMap<
    object,
    { readonly kind: string; readonly problem: BodyProblem } | null
  >();

  constructor(modules: readonly M[]) {
    this.modules = modules;
    const names = new Set<string>();
    for (const module of modules) {
      assert(NAME_PATTERN.test(module.name), () => `module name ${module.name} is not lower_case`);
      assert(!names.has(module.name), () => `module ${module.name} is registered twice`);
      names.add(module.name);
      // The module's own commands take the module's own state: the list's element type says any.
      // eslint-disable-next-line @typescript-eslint/no-unsafe-argument
      for (const spec of module.commands) this.addCommand(module, spec);
      for (const [code, status] of Object.entries(module.errors ?? {})) {
        const known = this.errorStatus.get(code);
        assert(known === undefined || known === status, () => `error ${code} has two statuses`);
        this.errorStatus.set(code, status);
      }
    }
  }

  /** The command kind `kind`, if a module registered it. */
  command(kind: string): RegisteredCommand | undefined {
    return this.commands.get(kind);
  }

  /** The command an unversioned entry's command kind maps to. */
  legacyCommand(kind: string): RegisteredCommand | undefined {
    return this.legacyKinds.get(kind);
  }

  /** Why `body` is not a valid `kind` command (schema, then the spec's own check), or null. */
  problem(kind: string, body: unknown): BodyProblem {
    const remembered = typeof body === "object" && body !== null && this.verdicts.has(body);
    const known = remembered ? this.verdicts.get(body) : undefined;
    if (known?.kind === kind) return known.problem;
    const command = this.commands.get(kind);
    if (command === undefined) return `unknown command kind ${JSON.stringify(kind)}`;
    const problem = command.validator.Check(body)
      ? (command.spec.check?.(body) ?? null)
      : schemaProblem(command.validator, body);
    if (remembered) this.verdicts.set(body, { kind, problem });
    return problem;
  }

  /**
   * An entry's bytes decoded (throws EnvelopeError when they are no envelope), kept until
   * takeEnvelope() so that applying the entry does not parse it again. Bodies are read, never
   * changed, by whoever is handed them.
   */
  decodeEntry(data: Uint8Array): DecodedEntry {
    let decoded = this.decoded.get(data);
    if (decoded === undefined) {
      const text = decoder.decode(data);
      decoded = { text, envelope: parseEnvelopeText(text) };
      this.decoded.set(data, decoded);
      const body = decoded.envelope.body;
      if (typeof body === "object" && body !== null) this.verdicts.set(body, null);
    }
    return decoded;
  }

  /** The envelope in an entry's bytes, from decodeEntry()'s copy (which goes) or parsed now. */
  takeEnvelope(data: Uint8Array): Envelope {
    const decoded = this.decoded.get(data);
    if (decoded === undefined) return parseEnvelopeText(decoder.decode(data));
    this.decoded.delete(data);
    return decoded.envelope;
  }

  /** The HTTP status of a module's error code, if a module declared it. */
  statusOf(code: string): number | undefined {
    return this.errorStatus.get(code);
  }

  /** Every module's error codes with their status. */
  errorCodes(): ReadonlyMap<string, number> {
    return this.errorStatus;
  }

  /** Every table the modules project into. */
  tables(): TableSpec[] {
    return this.modules.flatMap((module) => module.projection?.tables ?? []);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private addCommand(module: AnyStateModule, spec: CommandSpec<any, TSchema, unknown>): void {
    assert(KIND_PATTERN.test(spec.kind), () => `command kind ${spec.kind} is not module.verb`);
    assert(spec.kind.startsWith(`${module.name}.`), () => `${spec.kind} is not named after ${module.name}`);
    assert(!this.commands.has(spec.kind), () => `command ${spec.kind} is registered twice`);
    const registered: RegisteredCommand = { spec, module, validator: Compile(spec.schema) };
    this.commands.set(spec.kind, registered);
    if (spec.legacy !== undefined) this.legacyKinds.set(spec.legacy.kind, registered);
  }
}

/** The first schema error, as a sentence naming the field. */
function schemaProblem(validator: Validator, body: unknown): string {
  for (const error of validator.Errors(body)) {
    const where = error.instancePath === "" ? "the body" : error.instancePath.slice(1).replaceAll("/", ".");
    return `${where} ${error.message}`;
  }
  return "the body does not match the command's schema";
}
