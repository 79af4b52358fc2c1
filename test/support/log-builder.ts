/** Builds logs of entries from commands, for tests of modules and the kernel. */

import { encodeEnvelope, type CommandSpec } from "../../src/control/index.js";
import { encodeChange, type ConfigChange, type Entry } from "../../src/raft/index.js";
import type { Static, TSchema } from "typebox";

/** A log under construction: each add appends the next entry (term 1, timestamps 1000, 1001, ...). */
export class LogBuilder {
  readonly entries: Entry[] = [];

  /** Appends a command entry. */
  add<S, T extends TSchema, R>(
    spec: CommandSpec<S, T, R>,
    body: Static<T>,
    timestamp = 1000 + this.entries.length,
  ): Entry {
    return this.raw(spec.kind, body, timestamp);
  }

  /** Appends a command entry of any kind and body (to test refusals). */
  raw(
    kind: string,
    body: unknown,
    timestamp = 1000 + this.entries.length,
    origin: string | null = null,
  ): Entry {
    return this.push("normal", encodeEnvelope(kind, timestamp, origin, body));
  }

  /** Appends a leader's no-op. */
  noop(): Entry {
    return this.push("normal", new Uint8Array(0));
  }

  /** Appends a membership change. */
  config(change: ConfigChange): Entry {
    return this.push("config", encodeChange(change));
  }

  private push(type: Entry["type"], data: Uint8Array): Entry {
    const entry: Entry = { index: this.entries.length + 1, term: 1, type, data };
    this.entries.push(entry);
    return entry;
  }
}
