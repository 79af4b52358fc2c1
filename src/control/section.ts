/** Helpers for modules' snapshot sections: restorers that check every row against a schema. */

import type { Static, TSchema } from "typebox";
import { Compile } from "typebox/compile";
import type { SectionRestorer } from "./module.js";
import { SnapshotError } from "./snapshot.js";

/** What a section does with rows that passed the schema. */
export interface RowSink<T, S> {
  /** A row that passed the schema, and its JSON text (to store as it is). */
  add(row: T, text: string): void;
  finish(): S;
}

/**
 * A restorer for section `name` whose rows must match `schema`; rows that pass go to the sink
 * `start()` makes, anything else is refused with SnapshotError (no unchecked casts on restore).
 */
export function checkedRestorer<T extends TSchema, S>(
  name: string,
  schema: T,
  start: () => RowSink<Static<T>, S>,
): () => SectionRestorer<S> {
  const validator = Compile(schema);
  return () => {
    const sink = start();
    let count = 0;
    return {
      add(row: unknown, text: string): void {
        count++;
        if (!validator.Check(row)) {
          const error = validator.Errors(row)[0];
          const where = error === undefined || error.instancePath === "" ? "" : ` at ${error.instancePath}`;
          throw new SnapshotError(
            "invalid_row",
            `section ${name}, row ${count}${where}: ${error?.message ?? "does not match the row schema"}`,
          );
        }
        sink.add(row, text);
      },
      finish: () => sink.finish(),
    };
  };
}
