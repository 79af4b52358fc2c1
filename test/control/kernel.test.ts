// Proves the module kernel's rules: commands reach the module that owns their kind and nothing
// else, a body its schema or checks refuse changes nothing (invalid_command), an unknown kind or
// a malformed entry stops the node rather than letting it drift from its peers, entries apply
// strictly in order, replicas that apply the same log have the same hash, and the registry
// refuses modules that would collide.

import { describe, expect, it } from "vitest";
import Type from "typebox";
import {
  ControlState,
  ModuleRegistry,
  Table,
  accept,
  listCursor,
  type CommandSpec,
  type StateModule,
} from "../../src/control/index.js";
import { decisionsState, proposeCommand } from "../../src/decisions/index.js";
import { AssertionError, type Entry } from "../../src/raft/index.js";
import { LogBuilder } from "../support/log-builder.js";

class Counter {
  readonly seen = new Table<number, number>();
}

const AddBody = Type.Object({ by: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });

const add: CommandSpec<Counter, typeof AddBody, number> = {
  kind: "counter.add",
  schema: AddBody,
  check: (body) => (body.by > 100 ? "by must be at most 100" : null),
  apply: (state, body, context) => {
    state.seen.set(context.index, body.by);
    return accept(state.seen.size);
  },
  entryType: () => "counter",
  logView: (body) => ({ data: body.by }),
};

const counter: StateModule<Counter> = {
  name: "counter",
  commands: [add],
  section: {
    version: 1,
    empty: () => new Counter(),
    rows: () => listCursor([]),
    restore: () => ({ add() {}, finish: () => new Counter() }),
  },
};

const registry = new ModuleRegistry([decisionsState, counter]);

describe("the kernel", () => {
  it("routes each command to its module and passes the leader's timestamp and the index", () => {
    const state = new ControlState(registry);
    const log = new LogBuilder();
    state.apply(log.add(proposeCommand, { entry_type: "x", data: 1 }));
    const applied = state.apply(log.raw("counter.add", { by: 3 }, 4242));
    expect(applied.outcome).toEqual({ kind: "ok", value: 1 });
    expect(state.of(counter).seen.get(2)).toBe(3);
    expect(state.of(decisionsState).decisions.size).toBe(0);
  });

  it("a body its schema or its checks refuse is applied as invalid_command and changes nothing", () => {
    const state = new ControlState(registry);
    const log = new LogBuilder();
    for (const body of [{ by: 0 }, { by: "1" }, { by: 1, extra: true }, null, { by: 101 }]) {
      const applied = state.apply(log.raw("counter.add", body));
      expect(applied.outcome).toMatchObject({ kind: "refused", code: "invalid_command" });
      expect(applied.changes).toEqual([]);
    }
    expect(state.of(counter).seen.size).toBe(0);
    expect(state.appliedIndex).toBe(5);
  });

  it("an unknown command kind or a malformed entry stops the node", () => {
    const log = new LogBuilder();
    expect(() => new ControlState(registry).apply(log.raw("nobody.knows", {}))).toThrow(AssertionError);
    const garbage: Entry = { index: 1, term: 1, type: "normal", data: new TextEncoder().encode("{not json") };
    expect(() => new ControlState(registry).apply(garbage)).toThrow(AssertionError);
    const future: Entry = {
      index: 1,
      term: 1,
      type: "normal",
      data: new TextEncoder().encode('{"v":9,"kind":"counter.add","ts":1,"body":{}}'),
    };
    expect(() => new ControlState(registry).apply(future)).toThrow(/version 9/);
  });

  it("applies entries strictly in order", () => {
    const state = new ControlState(registry);
    const log = new LogBuilder();
    log.noop();
    expect(() => state.apply(log.noop())).toThrow(/applying 2 after 0/);
  });

  it("replicas applying the same log reach the same hash; a different entry gives another", () => {
    const log = new LogBuilder();
    log.add(proposeCommand, { entry_type: "a", data: 1 });
    log.noop();
    log.raw("counter.add", { by: 2 });
    const a = new ControlState(registry);
    const b = new ControlState(registry);
    for (const entry of log.entries) {
      a.apply(entry);
      b.apply(entry);
    }
    expect(a.hash).toBe(b.hash);
    const other = new LogBuilder();
    other.add(proposeCommand, { entry_type: "a", data: 2 });
    const c = new ControlState(registry);
    c.apply(other.entries[0]!);
    expect(c.hash).not.toBe(new ControlState(registry).hash);
    const firstOfA = new ControlState(registry);
    firstOfA.apply(log.entries[0]!);
    expect(c.hash).not.toBe(firstOfA.hash);
  });

  it("the registry refuses duplicate modules and kinds, kinds not named after their module, and two statuses for one code", () => {
    expect(() => new ModuleRegistry([counter, counter])).toThrow(/registered twice/);
    const misnamed = { ...counter, name: "other" };
    expect(() => new ModuleRegistry([misnamed])).toThrow(/not named after other/);
    const clash = { ...counter, name: "clash", commands: [], errors: { unknown_proposal: 400 } };
    expect(() => new ModuleRegistry([decisionsState, clash])).toThrow(/two statuses/);
  });
});
