/** A wrapper that keeps secrets out of logs, error messages and JSON. */

/** The text that stands in for a secret in every printed form. */
export const REDACTED_TEXT = "[redacted]";

/**
 * A secret value (API token, cluster secret, a database URL with a password). Every way of
 * turning it into text prints `[redacted]`, so logging a whole config is safe; only `reveal()`
 * gives the value, which makes each use of it easy to find. The value is a private field, so
 * structural equality (`toEqual`) does not see it: compare secrets with `equals()`.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The secret itself; call only where it is used (a header check, a database connection). */
  reveal(): string {
    return this.#value;
  }

  /** Whether two secrets hold the same value. */
  equals(other: Secret): boolean {
    return this.#value === other.#value;
  }

  /** What string conversion prints. */
  toString(): string {
    return REDACTED_TEXT;
  }

  /** What JSON.stringify (and so every JSON logger) prints. */
  toJSON(): string {
    return REDACTED_TEXT;
  }

  /** What console.log and util.inspect print; the key is Node's documented inspect hook. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return REDACTED_TEXT;
  }
}
