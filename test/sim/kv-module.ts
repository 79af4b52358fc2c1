/**
 * The simulator's client workload as a domain module: a register per key holding the id of the
 * last write to it. Registered beside the production modules, it runs through the same kernel,
 * envelope, snapshot sections and forwarding as every real command.
 */

import Type, { type Static } from "typebox";
import {
  Table,
  accept,
  checkedRestorer,
  type CommandSpec,
  type StateModule,
} from "../../src/control/index.js";

/** key -> id of the last write. */
export class KvState {
  readonly values = new Table<string, number>();
}

/** kv.put */
export const PutBody = Type.Object(
  {
    client: Type.Integer({ minimum: 0 }),
    key: Type.String({ minLength: 1, maxLength: 100 }),
    writeId: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);

/** A client write: the register `key` now holds `writeId`. */
export const putCommand: CommandSpec<KvState, typeof PutBody, null> = {
  kind: "kv.put",
  schema: PutBody,
  apply(state, body) {
    state.values.set(body.key, body.writeId);
    return accept(null);
  },
  entryType: () => "sim.kv",
  logView: (body) => ({ data: { key: body.key, writeId: body.writeId } }),
};

const KvRow = Type.Tuple([Type.String({ minLength: 1 }), Type.Integer({ minimum: 1 })]);

/** The module. */
export const kvModule: StateModule<KvState> = {
  name: "kv",
  commands: [putCommand],
  section: {
    version: 1,
    empty: () => new KvState(),
    rows: (state) => state.values.cursor((key, writeId) => JSON.stringify([key, writeId])),
    restore: checkedRestorer("kv", KvRow, () => {
      const state = new KvState();
      return {
        add: ([key, writeId]: Static<typeof KvRow>) => state.values.set(key, writeId),
        finish: () => state,
      };
    }),
  },
};
