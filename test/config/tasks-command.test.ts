// Proves that `juno tasks` parses its action, id and flags into a typed command by `juno agents`'
// rules (the same connection flags, stable error codes), that --skill repeats, --data is JSON,
// --type and --team are required by submit, filters belong to ls alone, and help comes from the
// tables.

import { describe, expect, it } from "vitest";
import { ConfigError, type Environment } from "../../src/config/index.js";
import {
  TASKS_LS_COMMAND,
  TASKS_SUBMIT_COMMAND,
  parseTasksCommand,
  tasksHelpText,
  type TasksCommand,
} from "../../src/config/tasks-command.js";

function parse(argv: readonly string[], env: Environment = {}): TasksCommand {
  const command = parseTasksCommand(argv, env);
  if (command instanceof Error) throw new Error(`${command.code}: ${command.message}`);
  return command;
}

function refusal(argv: readonly string[], env: Environment = {}): ConfigError {
  const command = parseTasksCommand(argv, env);
  if (!(command instanceof ConfigError)) throw new Error(`accepted: ${JSON.stringify(command)}`);
  return command;
}

describe("juno tasks submit", () => {
  it("needs a type and a team, and defaults the rest to the server's", () => {
    expect(parse(["submit", "--type", "build", "--team", "web"])).toEqual({
      action: "submit",
      connection: { urls: ["http://127.0.0.1:8080"], token: null, timeoutMs: 10_000, origin: "the default" },
      json: false,
      quiet: false,
      submit: {
        taskType: "build",
        team: "web",
        priority: null,
        data: null,
        skills: [],
        idempotencyKey: null,
      },
      waitMs: null,
    });
    expect(refusal(["submit", "--team", "web"])).toMatchObject({
      code: "missing_required",
      source: "--type",
    });
    expect(refusal(["submit", "--type", "build"])).toMatchObject({
      code: "missing_required",
      source: "--team",
    });
  });

  it("reads every flag: repeated skills, JSON data, the key, and --wait with its timeout", () => {
    const command = parse(
      [
        "submit",
        "--type=build",
        "--team",
        "web",
        "--priority",
        "9",
        "--skill",
        "rust",
        "--skill=wasm",
        "--skill",
        "rust",
        "--data",
        '{"repo":"web","n":[1,2]}',
        "--idempotency-key",
        "deploy-42",
        "--wait",
        "--wait-timeout",
        "2.5",
        "--url",
        "http://a:1",
        "--url",
        "http://b:2",
      ],
      { JUNO_API_TOKEN: "secret" },
    );
    expect(command).toMatchObject({
      connection: { urls: ["http://a:1", "http://b:2"] },
      submit: {
        priority: 9,
        skills: ["rust", "wasm"],
        data: { repo: "web", n: [1, 2] },
        idempotencyKey: "deploy-42",
      },
      waitMs: 2_500,
    });
    expect(parse(["submit", "--type", "t", "--team", "w", "--wait"])).toMatchObject({ waitMs: 600_000 });
  });

  it("refuses data that is not JSON, a priority out of range, and a bad skill, each with its code", () => {
    const base = ["submit", "--type", "t", "--team", "w"];
    expect(refusal([...base, "--data", "{bad"])).toMatchObject({
      code: "unexpected_argument",
      source: "--data",
    });
    expect(refusal([...base, "--priority", "10"])).toMatchObject({
      code: "out_of_range",
      source: "--priority",
    });
    expect(refusal([...base, "--skill", "no spaces"])).toMatchObject({ code: "unexpected_argument" });
    expect(refusal([...base, "--skill"])).toMatchObject({ code: "missing_value", source: "--skill" });
    expect(refusal([...base, "--status", "queued"])).toMatchObject({ code: "unknown_flag" });
  });
});

describe("juno tasks ls, show, cancel, metrics", () => {
  it("reads the filters of ls", () => {
    expect(
      parse([
        "ls",
        "--status",
        "dead_lettered",
        "--team",
        "web",
        "--agent",
        "a-1",
        "--type",
        "build",
        "--workflow",
        "w-1",
        "--limit",
        "10",
        "--cursor",
        "c-1",
        "--json",
      ]),
    ).toMatchObject({
      action: "ls",
      json: true,
      filter: {
        status: "dead_lettered",
        team: "web",
        agent: "a-1",
        taskType: "build",
        workflow: "w-1",
        limit: 10,
        cursor: "c-1",
      },
    });
    expect(refusal(["ls", "--status", "sleeping"])).toMatchObject({ code: "out_of_range" });
    expect(refusal(["ls", "--limit", "501"])).toMatchObject({ code: "out_of_range" });
  });

  it("takes the id of show and cancel first, and metrics takes only the connection", () => {
    expect(parse(["show", "t-1", "--json"])).toMatchObject({ action: "show", id: "t-1", json: true });
    expect(parse(["cancel", "t-1"])).toMatchObject({ action: "cancel", id: "t-1" });
    expect(refusal(["cancel"])).toMatchObject({ code: "missing_required", source: "<id>" });
    expect(refusal(["show", "--json"])).toMatchObject({ code: "missing_required" });
    expect(parse(["metrics", "--urls", "http://a:1,http://b:2"])).toMatchObject({
      action: "metrics",
      connection: { urls: ["http://a:1", "http://b:2"] },
    });
    expect(refusal(["metrics", "--team", "web"])).toMatchObject({ code: "unknown_flag" });
  });

  it("refuses a missing or unknown action", () => {
    expect(refusal([])).toMatchObject({ code: "missing_required" });
    expect(refusal(["rm", "t-1"])).toMatchObject({ code: "unexpected_argument" });
  });
});

describe("help", () => {
  it("lists every action, and every flag of one action", () => {
    const all = tasksHelpText([]);
    for (const action of ["submit", "ls", "show <id>", "cancel <id>", "metrics"])
      expect(all).toContain(`  ${action}`);
    const submit = tasksHelpText(["submit"]);
    for (const option of Object.values(TASKS_SUBMIT_COMMAND.options)) expect(submit).toContain(option.flag);
    const ls = tasksHelpText(["ls"]);
    for (const option of Object.values(TASKS_LS_COMMAND.options)) expect(ls).toContain(option.flag);
    expect(tasksHelpText(["cancel"])).toContain("usage: juno tasks cancel <id> [flags]");
  });
});
