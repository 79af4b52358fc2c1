/** Always-on assertions: a broken invariant stops the node instead of corrupting data. */

/** The error thrown when an invariant does not hold; never caught inside the core. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Throws an AssertionError with `message` unless `condition` holds. */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new AssertionError(typeof message === "string" ? message : message());
  }
}
