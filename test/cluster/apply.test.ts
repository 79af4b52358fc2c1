// Proves the cluster module's apply rules: a member's addresses come from its add_learner
// context and from its own announcements, a removal forgets them, and a malformed context leaves
// the membership change standing without addresses.

import { describe, expect, it } from "vitest";
import { ControlState, ModuleRegistry } from "../../src/control/index.js";
import { clusterState, encodeMemberContext, memberCommand } from "../../src/cluster/index.js";
import { LogBuilder } from "../support/log-builder.js";

const registry = new ModuleRegistry([clusterState]);

describe("cluster: apply", () => {
  it("records addresses from add_learner contexts and announcements, and forgets removed members", () => {
    const state = new ControlState(registry);
    const log = new LogBuilder();
    state.apply(log.config({ type: "bootstrap", voters: ["n1"] }));
    state.apply(
      log.config({
        type: "add_learner",
        node: "n2",
        context: encodeMemberContext({ raft: "h2:9090", http: "h2:8080" }),
      }),
    );
    const members = () => state.of(clusterState).members;
    expect(members().get("n2")).toEqual({ raft: "h2:9090", http: "h2:8080" });
    state.apply(log.add(memberCommand, { id: "n1", raft_addr: "h1:9090", http_addr: "h1:8080" }));
    expect(members().get("n1")).toEqual({ raft: "h1:9090", http: "h1:8080" });
    state.apply(log.add(memberCommand, { id: "n2", raft_addr: "h2b:9090", http_addr: null }));
    expect(members().get("n2")).toEqual({ raft: "h2b:9090", http: null });
    state.apply(log.config({ type: "remove", node: "n2" }));
    expect(members().has("n2")).toBe(false);
  });

  it("a malformed context carries no addresses; the change itself stands", () => {
    const state = new ControlState(registry);
    const log = new LogBuilder();
    const applied = state.apply(log.config({ type: "add_learner", node: "n3", context: "{not json" }));
    expect(applied.outcome.kind).toBe("none");
    expect(state.of(clusterState).members.has("n3")).toBe(false);
  });

  it("ids named like prototype properties are members like any other", () => {
    const state = new ControlState(registry);
    const log = new LogBuilder();
    for (const id of ["constructor", "__proto__", "toString"])
      state.apply(log.add(memberCommand, { id, raft_addr: `${id}:1`, http_addr: null }));
    expect(state.of(clusterState).members.get("__proto__")).toEqual({ raft: "__proto__:1", http: null });
    expect(state.of(clusterState).members.size).toBe(3);
  });
});
