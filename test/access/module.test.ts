// Proves the access module and the actor's path through the log: an envelope carries its actor
// in a fixed place and reads back (entries without one are byte for byte what they were); tokens
// are made and revoked by pure apply with refusals that change nothing; the kernel hands every
// audited command, accepted or refused, to the audit log with the entry's actor, only for the
// entry's own command (not the tasks a workflow's cancellation cancels), and nothing else; the
// log keeps the last AUDIT_CAPACITY records and pages through them newest first; and the whole
// state survives a snapshot, whose rows are checked on restore. A follower forwards a
// proposal's actor to the leader beside its body, and a malformed one never enters the log.

import { describe, expect, it } from "vitest";
import {
  AUDIT_CAPACITY,
  AccessState,
  accessState,
  createTokenCommand,
  recordCommand,
  revokeTokenCommand,
} from "../../src/access/index.js";
import {
  ControlState,
  SnapshotError,
  encodeEnvelope,
  envelopeText,
  parseEnvelopeText,
  restoreSnapshot,
  writeSnapshot,
  type Actor,
  type AppliedEntry,
  type CommandSpec,
} from "../../src/control/index.js";
import { deregisterCommand, registerCommand } from "../../src/agents/index.js";
import { nodeModules } from "../../src/modules.js";
import type { Entry } from "../../src/raft/index.js";
import { SYSTEM_CLOCK } from "../../src/runtime/clock.js";
import { Forwarder } from "../../src/runtime/forwarder.js";
import { RequestTracker } from "../../src/runtime/requests.js";
import type { PeerMessage } from "../../src/transport/peer-message.js";
import { createCommand as createWorkflow, cancelWorkflowCommand } from "../../src/workflows/index.js";
import type { Static, TSchema } from "typebox";

const ADMIN: Actor = { id: "api-token", name: "JUNO_API_TOKEN", role: "admin", agent_id: null };
const OPS: Actor = {
  id: "11111111-0000-4000-8000-000000000000",
  name: "ops",
  role: "operator",
  agent_id: null,
};
const DIGEST = "a".repeat(64);
const TOKEN_ID = "22222222-0000-4000-8000-000000000000";
const AGENT_ID = "33333333-0000-4000-8000-000000000000";

/** A replicated state of every production module, and a log to feed it. */
function setup() {
  const { registry } = nodeModules({ self: "n1", advertise: { raft: "memory:n1", http: null } });
  const state = new ControlState(registry);
  let index = 0;
  const apply = <S, T extends TSchema, R>(
    spec: CommandSpec<S, T, R>,
    body: Static<T>,
    actor: Actor | null = null,
  ): AppliedEntry => {
    index++;
    const entry: Entry = {
      index,
      term: 1,
      type: "normal",
      data: encodeEnvelope(spec.kind, 1_000 + index, null, body, actor),
    };
    return state.apply(entry);
  };
  const access = (): AccessState => state.of(accessState);
  return { registry, state, apply, access };
}

const tokenBody = (overrides: Partial<Static<typeof createTokenCommand.schema>> = {}) => ({
  id: TOKEN_ID,
  name: "ci",
  role: "operator" as const,
  agent_id: null,
  digest: DIGEST,
  expires_at: null,
  ...overrides,
});

const registration = {
  id: AGENT_ID,
  name: "indexer",
  endpoint: "http://127.0.0.1:9/indexer",
  team: "search",
  skills: ["index"],
  capacity: 1,
  weight: null,
  labels: [],
  metadata: null,
  health_check: {
    type: "none" as const,
    url: null,
    success_before_passing: null,
    failures_before_critical: null,
  },
  agent_card_url: null,
  source: "custom" as const,
  source_key: null,
};

const record = (target: string) => ({
  action: "member.add" as const,
  target,
  detail: null,
  outcome: "ok",
  message: null,
});

describe("the envelope's actor", () => {
  it("is written after the origin, before the body, with its keys in a fixed order, and reads back", () => {
    const shuffled = { agent_id: null, role: "admin", name: "JUNO_API_TOKEN", id: "api-token" } as Actor;
    const text = envelopeText("tasks.cancel", 5, "n2/x/1", { id: "t" }, shuffled);
    expect(text).toBe(
      '{"v":1,"kind":"tasks.cancel","ts":5,"origin":"n2/x/1","actor":{"id":"api-token","name":"JUNO_API_TOKEN","role":"admin","agent_id":null},"body":{"id":"t"}}',
    );
    expect(parseEnvelopeText(text)).toMatchObject({ kind: "tasks.cancel", origin: "n2/x/1", actor: ADMIN });
  });

  it("leaves entries without one exactly as they were, and reads them with a null actor", () => {
    expect(envelopeText("decisions.vote", 5, null, { a: 1 })).toBe(
      '{"v":1,"kind":"decisions.vote","ts":5,"body":{"a":1}}',
    );
    expect(parseEnvelopeText('{"v":1,"kind":"k.v","ts":5,"body":null}').actor).toBeNull();
    expect(parseEnvelopeText('{"command":{"kind":"vote"},"timestamp":3}').actor).toBeNull();
  });

  it("refuses a malformed actor", () => {
    for (const actor of [
      '"me"',
      '{"id":"x","name":"y","role":"admin"}',
      `{"id":"${"x".repeat(200)}","name":"y","role":"r","agent_id":null}`,
    ])
      expect(() => parseEnvelopeText(`{"v":1,"kind":"k.v","ts":5,"actor":${actor},"body":null}`)).toThrow(
        /actor/,
      );
  });
});

describe("tokens", () => {
  it("are made with the actor as their maker and revoked, each recorded in the audit log", () => {
    const { apply, access } = setup();
    const made = apply(createTokenCommand, tokenBody(), ADMIN);
    expect(made.outcome).toMatchObject({ kind: "ok", value: { id: TOKEN_ID, createdBy: "JUNO_API_TOKEN" } });
    expect(access().tokenByDigest(DIGEST)?.name).toBe("ci");
    expect(apply(revokeTokenCommand, { id: TOKEN_ID }, ADMIN).outcome.kind).toBe("ok");
    expect(access().tokenCount).toBe(0);
    expect(access().tokenByDigest(DIGEST)).toBeUndefined();
    const records = access().auditPage({}, null, 10);
    expect(records.map((r) => [r.action, r.target, r.outcome, r.actor?.name])).toEqual([
      ["token.revoke", TOKEN_ID, "ok", "JUNO_API_TOKEN"],
      ["token.create", TOKEN_ID, "ok", "JUNO_API_TOKEN"],
    ]);
    // The digest never shows in the log API's view of the entry.
    expect(JSON.stringify(createTokenCommand.logView(tokenBody()))).not.toContain(DIGEST);
  });

  it("refuses a taken name, a past expiry, an unknown id and an agent id on the wrong role, changing nothing", () => {
    const { apply, access, registry } = setup();
    apply(createTokenCommand, tokenBody(), ADMIN);
    const version = access().version;
    const taken = apply(createTokenCommand, tokenBody({ id: AGENT_ID, digest: "b".repeat(64) }), ADMIN);
    expect(taken.outcome).toMatchObject({ kind: "refused", code: "token_name_taken" });
    const past = apply(
      createTokenCommand,
      tokenBody({ id: AGENT_ID, name: "late", digest: "b".repeat(64), expires_at: 1 }),
    );
    expect(past.outcome).toMatchObject({ kind: "refused", code: "validation_failed" });
    expect(apply(revokeTokenCommand, { id: "nope" }).outcome).toMatchObject({ code: "token_not_found" });
    expect(registry.problem(createTokenCommand.kind, tokenBody({ role: "agent" }))).toMatch(/agent_id/);
    expect(registry.problem(createTokenCommand.kind, tokenBody({ agent_id: AGENT_ID }))).toMatch(/agent_id/);
    expect(access().tokenCount).toBe(1);
    // Only the audit log moved: a refused action is recorded with its code.
    expect(access().version).toBe(version + 3);
    expect(
      access()
        .auditPage({}, null, 3)
        .map((r) => r.outcome),
    ).toEqual(["token_not_found", "validation_failed", "token_name_taken"]);
  });
});

describe("the kernel audits", () => {
  it("an audited command, accepted or refused, with the entry's actor; other commands not at all", () => {
    const { apply, access } = setup();
    apply(registerCommand, registration, OPS);
    expect(access().auditCount).toBe(0);
    apply(deregisterCommand, { id: AGENT_ID, reason: "retired" }, OPS);
    apply(deregisterCommand, { id: AGENT_ID, reason: "again" }, null);
    const [again, retired] = access().auditPage({}, null, 10);
    expect(retired).toMatchObject({
      action: "agent.deregister",
      target: AGENT_ID,
      detail: "retired",
      actor: OPS,
      outcome: "ok",
      index: 2,
      atMs: 1_002,
    });
    expect(again).toMatchObject({ actor: null, outcome: "agent_not_found", message: `no agent ${AGENT_ID}` });
  });

  it("only the entry's own command: a workflow's cancellation is one record, not one per task it cancels", () => {
    const { apply, access } = setup();
    const id = "44444444-0000-4000-8000-000000000000";
    const definition = {
      name: "two",
      teams: ["build"],
      steps: [
        { id: "a", team: "build", task_type: "t" },
        { id: "b", team: "build", task_type: "t" },
      ],
    };
    const created = apply(createWorkflow, {
      id,
      team: null,
      definition,
      ref: null,
      input: {},
      execute: true,
      idempotency_key: null,
      expands_task: null,
    });
    expect(created.outcome.kind).toBe("ok");
    apply(cancelWorkflowCommand, { id, reason: "wrong input" }, OPS);
    expect(
      access()
        .auditPage({}, null, 10)
        .map((r) => [r.action, r.target, r.outcome]),
    ).toEqual([["workflow.cancel", id, "ok"]]);
  });

  it("a body its schema refuses is not recorded (it says nothing reliable about what it meant)", () => {
    const { state, access } = setup();
    state.apply({
      index: 1,
      term: 1,
      type: "normal",
      data: encodeEnvelope("tasks.cancel", 1, null, { id: 3 }, OPS),
    });
    expect(access().auditCount).toBe(0);
  });
});

describe("the audit log", () => {
  it(`keeps the last ${AUDIT_CAPACITY} records, numbered on, and pages newest first with filters`, () => {
    const { apply, access } = setup();
    for (let i = 1; i <= AUDIT_CAPACITY + 5; i++)
      apply(recordCommand, record(`n${i}`), i % 2 === 0 ? OPS : ADMIN);
    expect(access().auditCount).toBe(AUDIT_CAPACITY);
    const newest = access().auditPage({}, null, 3);
    expect(newest.map((r) => r.seq)).toEqual([AUDIT_CAPACITY + 5, AUDIT_CAPACITY + 4, AUDIT_CAPACITY + 3]);
    const oldest = access().auditPage({}, 7, 10);
    expect(oldest.map((r) => r.seq)).toEqual([6]);
    const byOps = access().auditPage({ actor: "ops" }, null, 2);
    expect(byOps.every((r) => r.actor?.name === "ops")).toBe(true);
    expect(access().auditPage({ actor: OPS.id }, null, 2)).toEqual(byOps);
    expect(access().auditPage({ action: "token.create" }, null, 2)).toEqual([]);
  });

  it("is applied the same on every replica", () => {
    const one = setup();
    const two = setup();
    for (const replica of [one, two]) {
      replica.apply(createTokenCommand, tokenBody(), ADMIN);
      replica.apply(recordCommand, record("n4"), OPS);
    }
    expect(one.state.hash).toBe(two.state.hash);
    expect(JSON.stringify(one.access().auditPage({}, null, 10))).toBe(
      JSON.stringify(two.access().auditPage({}, null, 10)),
    );
  });
});

describe("the snapshot section", () => {
  it("restores tokens, the audit log and the next sequence number as they were", () => {
    const { apply, state, registry, access } = setup();
    apply(createTokenCommand, tokenBody(), ADMIN);
    apply(
      createTokenCommand,
      tokenBody({
        id: AGENT_ID,
        name: "bot",
        role: "agent",
        agent_id: AGENT_ID,
        digest: "c".repeat(64),
        expires_at: 9e12,
      }),
      ADMIN,
    );
    apply(recordCommand, record("n4"), OPS);
    const restored = restoreSnapshot(registry, writeSnapshot(state)).of(accessState);
    expect([...restored.allTokens()]).toEqual([...access().allTokens()]);
    expect(restored.auditPage({}, null, 10)).toEqual(access().auditPage({}, null, 10));
    expect(restored.nextSeq).toBe(access().nextSeq);
    expect(restored.tokenByDigest("c".repeat(64))?.agentId).toBe(AGENT_ID);
  });

  it("refuses rows that do not hold together", () => {
    const restore = (rows: unknown[]) => {
      const restorer = accessState.section.restore();
      for (const row of rows) restorer.add(row, JSON.stringify(row));
      return restorer.finish();
    };
    const token = {
      id: TOKEN_ID,
      name: "ci",
      role: "reader",
      agentId: null,
      digest: DIGEST,
      createdAtMs: 1,
      expiresAtMs: null,
      createdBy: null,
    };
    const audit = {
      seq: 1,
      index: 3,
      atMs: 1,
      action: "member.add",
      target: "n4",
      detail: null,
      actor: null,
      outcome: "ok",
      message: null,
    };
    expect(restore([{ meta: { nextSeq: 2 } }, { token }, { audit }]).tokenCount).toBe(1);
    expect(() => restore([{ token }])).toThrow(SnapshotError);
    expect(() => restore([{ meta: { nextSeq: 2 } }, { token }, { token }])).toThrow(/twice/);
    expect(() => restore([{ meta: { nextSeq: 1 } }, { audit }])).toThrow(/order/);
    expect(() => restore([{ meta: { nextSeq: 2 } }, { token: { ...token, role: "agent" } }])).toThrow(
      /agent id/,
    );
    expect(() =>
      restore([
        { meta: { nextSeq: 2 } },
        { token: JSON.parse(JSON.stringify(token).replace("{", '{"__proto__":1,')) as unknown },
      ]),
    ).toThrow(SnapshotError);
    expect(() => restore([{ meta: { nextSeq: 2 } }, { audit }, { token }])).toThrow(/before/);
  });
});

describe("a forwarded proposal's actor", () => {
  /** A leader's forwarder that records what it appends. */
  function leaderForwarder() {
    const { registry } = nodeModules({ self: "n1", advertise: { raft: "memory:n1", http: null } });
    const appended: string[] = [];
    const sent: PeerMessage[] = [];
    const forwarder = new Forwarder(
      {
        id: "n1",
        registry,
        requests: new RequestTracker(SYSTEM_CLOCK, 1_000, 10, () => "n1"),
        send: (messages) => sent.push(...messages),
        term: () => 1,
        now: () => 5,
        propose: (data) => {
          appended.push(new TextDecoder().decode(data));
          return { ok: true, index: appended.length, term: 1 };
        },
      },
      "boot",
    );
    return { forwarder, appended, sent };
  }

  it("travels after the body, on a line of its own, into the leader's envelope; a malformed one is refused", () => {
    const { forwarder, appended, sent } = leaderForwarder();
    const body = JSON.stringify({ id: AGENT_ID, reason: "gone" });
    forwarder.onRequest(
      {
        type: "propose",
        from: "n2",
        to: "n1",
        term: 1,
        proposals: [
          { origin: "n2/b/1", kind: "agents.deregister", body: `${body}\n${JSON.stringify(OPS)}` },
          { origin: "n2/b/2", kind: "agents.deregister", body },
          { origin: "n2/b/3", kind: "agents.deregister", body: `${body}\n{"id":"x"}` },
        ],
      },
      "n1",
    );
    expect(appended.map((text) => parseEnvelopeText(text).actor)).toEqual([OPS, null]);
    const answer = sent[0] as unknown as { outcomes: { ok: boolean; code?: string }[] };
    expect(answer.outcomes.map((outcome) => outcome.ok || outcome.code)).toEqual([
      true,
      true,
      "invalid_command",
    ]);
  });
});
