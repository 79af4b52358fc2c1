/**
 * `juno members ls | add <id> | rm <id> | transfer <id>`: the cluster's membership as an operator
 * changes it, through any node (followers forward the changes to the leader). Its options are
 * the MEMBERS_*_COMMAND tables in src/config/members-command.ts and the shared client options.
 *
 * --json prints: ls `{"node_id", "leader_id", "term", "members": [{id, role, raft_addr,
 * http_addr, voter, match_index, lag_entries, last_contact_ms}]}`; add, rm and transfer the
 * API's answer (`{"id", "voter", "index"}`, `{"id", "removed", "index"}`,
 * `{"transferring_to"}`), after a wait with what it waited for (`voter: true`; `leader_id`, `term`).
 */

import { clientCommand } from "./entry.js";
import { isRecord } from "../client/errors.js";
import type { ConsensusMember, JunoClient, JunoClientOptions } from "../client/index.js";
import { CliError } from "../config/cli-errors.js";
import { formatAddress } from "../config/index.js";
import { membersHelpText, parseMembersCommand, type MembersCommand } from "../config/members-command.js";
import { leadershipLine, membersTable, readClusterView, roleOf } from "./cluster-view.js";
import { clientOf } from "./connect.js";
import { EXIT, json, printable, reportFailure, type CommandIo } from "./output.js";
import { progressFor, type Progress } from "./progress.js";
import { pollUntil, type WaitOptions } from "./wait.js";

/**
 * Parses the words after `juno members`, prints help or a refusal (exit 2), or runs the command.
 * `clientOptions` is for tests (timers, sleeps).
 */
export const membersCommand = clientCommand({
  name: "juno members",
  help: membersHelpText,
  parse: parseMembersCommand,
  run: (command, io, clientOptions) => runMembers(command, io, clientOptions),
});

/** What a command prints on stdout, and what stops it short (a wait that ran out), if anything. */
interface Output {
  readonly text: string;
  readonly failure: CliError | null;
}

/**
 * Runs a parsed command; returns the exit code (src/cli/output.ts): 0 done, 1 refused or
 * unreachable, or a wait that ran out (its stdout still says where things stand), 3 when the
 * member does not exist. `clientOptions` and `wait` are for tests.
 */
export async function runMembers(
  command: MembersCommand,
  io: CommandIo,
  clientOptions: Partial<JunoClientOptions> = {},
  wait: WaitOptions = {},
): Promise<number> {
  const context = {
    command: `juno members ${command.action}`,
    json: command.json,
    origin: command.connection.origin,
  };
  const progress = progressFor(io, command, wait.now);
  try {
    const client = clientOf(command.connection, clientOptions);
    const output = await outputOf(command, client, clientOptions, progress, wait);
    progress.done();
    io.stdout.write(output.text);
    return output.failure === null ? EXIT.ok : reportFailure(io, context, output.failure);
  } catch (error) {
    progress.done();
    return reportFailure(io, context, error);
  }
}

async function outputOf(
  command: MembersCommand,
  client: JunoClient,
  clientOptions: Partial<JunoClientOptions>,
  progress: Progress,
  wait: WaitOptions,
): Promise<Output> {
  switch (command.action) {
    case "ls": {
      const view = await readClusterView(client, command.connection, clientOptions);
      const { status } = view;
      if (command.json) {
        const members = status.members.map((member) => ({ ...member, role: roleOf(member, status) }));
        return ok(json({ node_id: status.node_id, leader_id: status.leader_id, term: status.term, members }));
      }
      return ok(`${[leadershipLine(view), "", ...membersTable(status)].join("\n")}\n`);
    }
    case "add":
      return add(command, client, clientOptions, progress, wait);
    case "rm": {
      await expectMember(client, command.id);
      const { body } = await client.request({
        method: "DELETE",
        path: `/api/v3/cluster/members/${command.id}`,
      });
      const answer = record(body);
      if (command.json) return ok(json(answer));
      return ok(`removed ${printable(command.id)} (log entry ${String(answer["index"])})\n`);
    }
    case "transfer":
      return transfer(command, client, progress, wait);
  }
}

/** Adds the member as a learner; with --wait, waits until the leader has promoted it. */
async function add(
  command: Extract<MembersCommand, { action: "add" }>,
  client: JunoClient,
  clientOptions: Partial<JunoClientOptions>,
  progress: Progress,
  wait: WaitOptions,
): Promise<Output> {
  const { body } = await client.request({
    method: "POST",
    path: "/api/v3/cluster/members",
    body: {
      id: command.id,
      raft_addr: formatAddress(command.raft),
      ...(command.http === null ? {} : { http_addr: formatAddress(command.http) }),
    },
  });
  const answer = record(body);
  const id = printable(command.id);
  const added = `added ${id} as a learner (log entry ${String(answer["index"])})`;
  if (command.waitMs === null) {
    return ok(
      command.json ? json(answer) : `${added}; the leader promotes it to voter once it has caught up\n`,
    );
  }
  progress.line(added);
  let last: ConsensusMember | null = null;
  const promoted = await pollUntil(
    async () => {
      const view = await readClusterView(client, command.connection, clientOptions);
      last = view.status.members.find((member) => member.id === command.id) ?? null;
      if (last?.voter === true) return last;
      const lag = last?.lag_entries == null ? "" : `, ${last.lag_entries} entries behind`;
      progress.update(
        `waiting for ${id} to catch up and be promoted (${last === null ? "not listed" : "learner"}${lag})`,
      );
      return undefined;
    },
    command.waitMs,
    wait,
  );
  if (promoted === null) {
    return {
      text: command.json ? json(answer) : `${added}\n`,
      failure: new CliError(
        "wait_timeout",
        "--wait-timeout",
        `${command.id} is still a learner after ${command.waitMs / 1000} s; the leader promotes it once it has caught up`,
      ),
    };
  }
  return ok(command.json ? json({ ...answer, voter: true }) : `${added}; promoted to voter\n`);
}

/** Asks the leader to hand over to the member; with --wait, waits until it leads. */
async function transfer(
  command: Extract<MembersCommand, { action: "transfer" }>,
  client: JunoClient,
  progress: Progress,
  wait: WaitOptions,
): Promise<Output> {
  await expectMember(client, command.id);
  // Asking twice for the same transfer does no harm, so the request may be sent again.
  const { body } = await client.request({
    method: "POST",
    path: "/api/v3/cluster/leader",
    body: { id: command.id },
    idempotent: true,
  });
  const answer = record(body);
  const id = printable(command.id);
  if (command.waitMs === null) return ok(command.json ? json(answer) : `leadership is going to ${id}\n`);
  let term = 0;
  let leader: string | null = null;
  const led = await pollUntil(
    async () => {
      const status = await client.status();
      term = status.term;
      leader = status.leader_id;
      if (leader === command.id) return status;
      progress.update(`waiting for ${id} to lead (leader ${printable(leader ?? "none")}, term ${term})`);
      return undefined;
    },
    command.waitMs,
    wait,
  );
  if (led === null) {
    return {
      text: command.json ? json({ ...answer, leader_id: leader, term }) : "",
      failure: new CliError(
        "wait_timeout",
        "--wait-timeout",
        `${command.id} does not lead after ${command.waitMs / 1000} s (leader ${leader ?? "none"}, term ${term})`,
      ),
    };
  }
  return ok(
    command.json
      ? json({ ...answer, leader_id: led.leader_id, term: led.term })
      : `${id} leads, term ${led.term}\n`,
  );
}

/** Throws member_not_found (exit 3) unless `id` is a member, so that every command naming a missing thing exits alike. */
async function expectMember(client: JunoClient, id: string): Promise<void> {
  const { body } = await client.request({ method: "GET", path: "/api/v3/cluster/members" });
  const members = record(body)["members"];
  const found = Array.isArray(members) && members.some((member) => isRecord(member) && member["id"] === id);
  if (!found) throw new CliError("member_not_found", id, `${id} is not a member of the cluster`);
}

function record(body: unknown): Readonly<Record<string, unknown>> {
  return isRecord(body) ? body : {};
}

function ok(text: string): Output {
  return { text, failure: null };
}
