/**
 * `juno workflows submit | ls | show <id> | watch <id> | cancel <id> | event <id> <name> |
 * trigger <name> | definitions register | definitions ls`: the workflows API as an operator (or a
 * script) uses it, asked of any of the nodes given, with the SDK's failover and its safe retries.
 * Its options are the WORKFLOWS_*_COMMAND tables in src/config/workflows-command.ts.
 *
 * A watched run is drawn as a line per step (status, team, attempts, agent) and a progress bar
 * per team. On a terminal the drawing is redrawn in place after every change; elsewhere (a pipe,
 * a log) only the lines that changed are appended, so the output reads as a history.
 */

import { clientCommand } from "./entry.js";
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import {
  WORKFLOW_STATUSES,
  type CreatedWorkflow,
  type DefinitionSummary,
  type JunoClient,
  type JunoClientOptions,
  type WatchOptions,
  type WorkflowDefinitionInput,
  type WorkflowPage,
  type WorkflowsStatus,
  type WorkflowView,
} from "../client/index.js";
import { CliError } from "../config/cli-errors.js";
import {
  parseWorkflowsCommand,
  workflowsHelpText,
  type WorkflowSubmitSpec,
  type WorkflowsCommand,
} from "../config/workflows-command.js";
import { clientOf } from "./connect.js";
import {
  EXIT,
  cell,
  json,
  jsonLine,
  jsonText,
  printable,
  reportFailure,
  tableLines,
  type CommandIo,
} from "./output.js";
import { progressFor, type Progress } from "./progress.js";

/** Where a workflows command writes, and where `-f -` reads from. */
export interface WorkflowsIo extends CommandIo {
  /** Read for `-f -`; process.stdin by default. */
  readonly stdin?: AsyncIterable<string | Uint8Array>;
}

/** What a command prints on stdout, and its exit code. */
interface Output {
  readonly text: string;
  readonly code: number;
}

/** A definition read from a file or stdin: text to send as YAML, or parsed JSON. */
type Source =
  | { readonly format: "yaml"; readonly text: string }
  | { readonly format: "json"; readonly definition: WorkflowDefinitionInput };

/** The largest definition file read, the server's bound on a request body. */
const SOURCE_BYTES_MAX = 2 * 1024 * 1024;

/** The characters of a team's progress bar. */
const BAR_WIDTH = 10;

/**
 * Parses the words after `juno workflows`, prints help or a refusal (exit 2), or runs the command.
 * `clientOptions` is for tests (timers, sleeps).
 */
export const workflowsCommand = clientCommand({
  name: "juno workflows",
  help: workflowsHelpText,
  parse: parseWorkflowsCommand,
  run: (command, io: WorkflowsIo, clientOptions) => runWorkflows(command, io, clientOptions),
  io: () => ({ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }),
});

/**
 * Runs a parsed command; returns the exit code (src/cli/output.ts): 0 done (for a watch: the run
 * succeeded), 1 when the cluster refused (an invalid definition among them: each problem is
 * printed with its path) or could not be reached, or a watched run failed or was cancelled, 2
 * when the command cannot be run as given (a definition file that cannot be read), 3 when the
 * run does not exist. `clientOptions` and `watch` are for tests; the command's nodes, token and
 * timeout win over them.
 */
export async function runWorkflows(
  command: WorkflowsCommand,
  io: WorkflowsIo,
  clientOptions: Partial<JunoClientOptions> = {},
  watch: WatchOptions = {},
): Promise<number> {
  const context = {
    command: `juno workflows ${command.action}`,
    json: command.json,
    origin: command.connection.origin,
  };
  const progress = progressFor(io, command);
  try {
    const client = clientOf(command.connection, clientOptions);
    const output = await outputOf(command, client, io, progress, watch);
    io.stdout.write(output.text);
    return output.code;
  } catch (error) {
    progress.done();
    return reportFailure(io, context, error);
  }
}

/** What the command prints on success, and its exit code. */
async function outputOf(
  command: WorkflowsCommand,
  client: JunoClient,
  io: WorkflowsIo,
  progress: Progress,
  watch: WatchOptions,
): Promise<Output> {
  switch (command.action) {
    case "submit":
      return submit(command.submit, command.watch, command.json, client, io, progress, watch);
    case "ls": {
      const { status, team, name, parent, limit, cursor } = command.filter;
      const page = await client.listWorkflows({
        ...(status === null ? {} : { status }),
        ...(team === null ? {} : { team }),
        ...(name === null ? {} : { name }),
        ...(parent === null ? {} : { parent_id: parent }),
        ...(limit === null ? {} : { limit }),
        ...(cursor === null ? {} : { cursor }),
      });
      if (command.json) return done(json(page));
      if (page.next_cursor !== null && !command.quiet) {
        io.stderr.write(`juno workflows ls: more runs follow: --cursor ${printable(page.next_cursor)}\n`);
      }
      return done(workflowsListing(await client.workflowStatus(), page));
    }
    case "show": {
      const workflow = await client.getWorkflow(command.id);
      return done(command.json ? json({ workflow }) : workflowDetails(workflow));
    }
    case "watch":
      return follow(client, command.id, command.json, io, progress, watch);
    case "cancel": {
      const workflow = await client.cancelWorkflow(command.id, command.reason ?? undefined);
      return done(command.json ? json({ workflow }) : `cancelled ${printable(workflow.id)}\n`);
    }
    case "event": {
      const answer = await client.sendWorkflowEvent(command.id, command.name, command.data);
      if (command.json) return done(json(answer));
      const said = answer.applied
        ? `delivered event ${printable(command.name)} to ${printable(answer.workflow.id)}`
        : `event ${printable(command.name)} changed nothing: ${printable(answer.ignored?.message ?? "ignored")}`;
      return done(`${said}; the run is ${answer.workflow.status}\n`);
    }
    case "trigger": {
      const triggered = await client.triggerWorkflows(command.name, command.data, {
        ...(command.team === null ? {} : { team: command.team }),
      });
      if (command.json) return done(json(triggered));
      if (triggered.started.length === 0)
        return done(`no registered definition starts on ${printable(command.name)}\n`);
      const lines = triggered.started.map(
        (run) => `started ${printable(run.id)} (${printable(run.name)} v${run.version})`,
      );
      return done(`${lines.join("\n")}\n`);
    }
    case "definitions register": {
      const source = await readSource(command.file, io);
      const registered = await client.registerDefinition(
        source.format === "yaml" ? source.text : source.definition,
      );
      if (command.json) return done(json(registered));
      const what = `${printable(registered.name)} version ${registered.version}`;
      return done(
        registered.created ? `registered ${what}\n` : `already registered ${what} (the same definition)\n`,
      );
    }
    case "definitions ls": {
      const definitions = await client.listDefinitions(command.name === null ? {} : { name: command.name });
      return done(command.json ? json({ definitions }) : definitionsTable(definitions));
    }
  }
}

/** Creates the run; with --watch, follows it to its end. */
async function submit(
  spec: WorkflowSubmitSpec,
  watchRun: boolean,
  asJson: boolean,
  client: JunoClient,
  io: WorkflowsIo,
  progress: Progress,
  watch: WatchOptions,
): Promise<Output> {
  const source = await readSource(spec.file, io);
  const run = {
    execute: spec.execute,
    ...(spec.input === null ? {} : { input: spec.input }),
    ...(spec.team === null ? {} : { team: spec.team }),
    ...(spec.idempotencyKey === null ? {} : { idempotency_key: spec.idempotencyKey }),
  };
  const created: CreatedWorkflow =
    source.format === "yaml"
      ? await client.createWorkflowFromYaml(source.text, run)
      : await client.createWorkflow({ ...run, definition: source.definition });
  const { workflow } = created;
  const said = `${created.created ? "created" : "already created (same idempotency key)"} ${printable(workflow.id)} (${printable(workflow.name)} v${workflow.version}): ${workflow.status}\n`;
  if (!watchRun) return done(asJson ? json(created) : said);
  // The stream's first line is the creation's answer, as submit without --watch prints it.
  if (asJson) io.stdout.write(jsonLine(created));
  else progress.line(said.trimEnd());
  return follow(client, workflow.id, asJson, io, progress, watch);
}

/**
 * Follows a run to its end, and exits 0 only when it succeeded. With --json, a line of JSON per
 * change on stdout, `{"workflow": ...}`, the last one the run as it ended. Otherwise the drawing
 * on stdout: redrawn in place on a terminal, appended lines elsewhere; then, when stdout is not a
 * terminal but stderr is, where the run stands shows as progress on stderr too.
 */
async function follow(
  client: JunoClient,
  id: string,
  asJson: boolean,
  io: WorkflowsIo,
  progress: Progress,
  watch: WatchOptions,
): Promise<Output> {
  let revision = -1;
  const terminal = io.stdout.isTTY === true;
  const draw = asJson ? null : drawer(io.stdout, terminal ? (io.stdout.columns ?? 80) : null);
  const final = await client.watchWorkflow(
    id,
    (view) => {
      revision = view.revision;
      if (draw === null) {
        io.stdout.write(jsonLine({ workflow: view }));
        return;
      }
      draw(view);
      if (!terminal)
        progress.update(
          `watching ${printable(view.id)}: ${view.status}, ${view.progress.done}/${view.progress.total} steps`,
        );
    },
    watch,
  );
  progress.done();
  const code = final.status === "succeeded" ? EXIT.ok : EXIT.failed;
  // The watch may end on a view it read itself, after the stream's last.
  if (asJson) return { text: final.revision === revision ? "" : jsonLine({ workflow: final }), code };
  return { text: endingText(final), code };
}

/**
 * A function that draws each view: on a terminal (`columns` wide) the whole drawing, moved back
 * over the last one; elsewhere (`columns` null) the lines that differ from the last drawing,
 * appended. Lines on a terminal are cut to its width, so that none wraps and the count of lines
 * to move back over stays true.
 */
function drawer(
  screen: { write(text: string): unknown },
  columns: number | null,
): (view: WorkflowView) => void {
  let shown: readonly string[] = [];
  return (view) => {
    const lines =
      columns === null
        ? historyLines(view)
        : workflowBlock(view).map((line) => line.slice(0, Math.max(1, columns - 1)));
    if (columns !== null) {
      // Up to the first line of the last drawing, then clear to the end of the screen.
      const back = shown.length === 0 ? "" : `\u001b[${shown.length}F\u001b[J`;
      screen.write(`${back}${lines.join("\n")}\n`);
    } else {
      const before = new Set(shown);
      const changed = lines.filter((line) => !before.has(line));
      if (changed.length > 0) screen.write(`${changed.join("\n")}\n`);
    }
    shown = lines;
  };
}

/** The run as a drawing: a head line, a table of steps, and a progress bar per team. */
export function workflowBlock(view: WorkflowView): string[] {
  const { progress } = view;
  const head = `${printable(view.name)} v${view.version} ${printable(view.id)}: ${view.status}, ${progress.done}/${progress.total} steps (${progress.percent}%)`;
  const steps = tableLines(
    ["STEP", "STATUS", "TEAM", "ATTEMPTS", "AGENT"],
    view.steps.map((step) => [
      cell(step.id),
      step.status,
      cell(step.delegate_to === null ? step.team : `${step.team}->${step.delegate_to}`),
      String(step.attempts),
      printable(step.agent_id ?? "-"),
    ]),
  );
  const width = Math.max(0, ...progress.teams.map((team) => printable(team.team).length));
  const bars = progress.teams.map(
    (team) =>
      `team ${printable(team.team).padEnd(width)}  ${bar(team.percent)} ${String(team.percent).padStart(3)}%  ${team.done}/${team.total} done${team.running > 0 ? `, ${team.running} running` : ""}`,
  );
  return [head, ...steps.map((line) => `  ${line}`), ...bars.map((line) => `  ${line}`)];
}

/** The run as history lines, one per step and per team, each saying all it says without columns. */
export function historyLines(view: WorkflowView): string[] {
  const { progress } = view;
  const steps = view.steps.map(
    (step) =>
      `step ${printable(step.id)}: ${step.status} (team ${printable(step.team)}${step.delegate_to === null ? "" : ` -> ${printable(step.delegate_to)}`}, attempts ${step.attempts}, agent ${printable(step.agent_id ?? "-")})`,
  );
  const teams = progress.teams.map(
    (team) =>
      `team ${printable(team.team)}: ${bar(team.percent)} ${team.percent}% (${team.done}/${team.total})`,
  );
  return [
    `workflow ${printable(view.id)} (${printable(view.name)} v${view.version}): ${view.status}, ${progress.percent}% (${progress.done}/${progress.total} steps)`,
    ...steps,
    ...teams,
  ];
}

/** `[#####.....]`: a filled mark per tenth done, rounded down, so a full bar means every step ended. */
export function bar(percent: number): string {
  const filled = Math.max(0, Math.min(BAR_WIDTH, Math.floor(percent / BAR_WIDTH)));
  return `[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}]`;
}

/** The last line of a watch: how the run ended, with its output or why it failed. */
function endingText(view: WorkflowView): string {
  const head = `${view.status}: ${printable(view.id)}`;
  if (view.status === "succeeded") return `${head}\noutput: ${jsonText(view.output)}\n`;
  if (view.failure === null) return `${head}\n`;
  const at = view.failure.step === null ? "" : ` at step ${printable(view.failure.step)}`;
  return `${head}\nfailure: ${printable(view.failure.code)}${at}: ${printable(view.failure.message)}\n`;
}

/** `show`: the run's fields, then its drawing, then the step errors. */
export function workflowDetails(view: WorkflowView): string {
  const fields: [string, string][] = [
    ["id", view.id],
    ["name", `${view.name} v${view.version}${view.registered ? " (registered)" : ""}`],
    ["status", `${view.status} (${view.phase})`],
    ["team", view.team],
    ["teams", view.teams.join(", ")],
    ["parent", view.parent === null ? "-" : `${view.parent.workflow_id} step ${view.parent.step}`],
    ["expands task", view.expands_task ?? "-"],
    ["idempotency key", view.idempotency_key ?? "-"],
    ["created", view.created_at],
    ["started", view.started_at ?? "-"],
    ["ended", view.ended_at ?? "-"],
    ["deadline", view.deadline_at ?? "-"],
    ["input", jsonText(view.input)],
    ["output", jsonText(view.output)],
    [
      "failure",
      view.failure === null
        ? "-"
        : `${view.failure.code}${view.failure.step === null ? "" : ` at step ${view.failure.step}`}: ${view.failure.message}`,
    ],
    ["events", view.events.map((event) => event.name).join(", ") || "-"],
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  const head = fields.map(([name, value]) => `${name.padEnd(width)}  ${printable(value)}`);
  const errors = view.steps
    .filter((step) => step.error !== null)
    .map(
      (step) =>
        `  ${printable(step.id)}: ${printable(step.error?.code ?? "")}: ${printable(step.error?.message ?? "")}`,
    );
  const drawing = workflowBlock(view).slice(1);
  return `${[...head, "", "steps:", ...drawing, ...(errors.length === 0 ? [] : ["", "errors:", ...errors])].join("\n")}\n`;
}

/** `ls`: the counts by status, then the page as a table. */
export function workflowsListing(status: WorkflowsStatus, page: WorkflowPage): string {
  const counts = WORKFLOW_STATUSES.filter((name) => (status.counts[name] ?? 0) > 0).map(
    (name) => `${name} ${status.counts[name] ?? 0}`,
  );
  const head = `${status.total} runs${counts.length === 0 ? "" : `: ${counts.join(", ")}`}\n`;
  if (page.workflows.length === 0) return `${head}no runs match\n`;
  const rows = page.workflows.map((run) => [
    printable(run.id),
    cell(run.name),
    String(run.version),
    run.status,
    cell(run.team),
    `${run.progress.percent}% (${run.progress.done}/${run.progress.total})`,
    run.created_at,
  ]);
  return `${head}${tableLines(["ID", "NAME", "VERSION", "STATUS", "TEAM", "PROGRESS", "CREATED"], rows).join("\n")}\n`;
}

/** `definitions ls`: a row per registered version. */
export function definitionsTable(definitions: readonly DefinitionSummary[]): string {
  if (definitions.length === 0) return "no definitions are registered\n";
  const rows = definitions.map((definition) => [
    cell(definition.name),
    String(definition.version),
    cell(definition.teams.join(",")),
    String(definition.steps),
    cell(definition.trigger ?? "-"),
    definition.registered_at,
  ]);
  return `${tableLines(["NAME", "VERSION", "TEAMS", "STEPS", "TRIGGER", "REGISTERED"], rows).join("\n")}\n`;
}

/**
 * The definition in `file` ("-": stdin): .yaml and .yml go as YAML, .json as JSON; anything else
 * as JSON when it starts with "{", as YAML otherwise (the server reads it either way).
 */
async function readSource(file: string, io: WorkflowsIo): Promise<Source> {
  const text = file === "-" ? await readStdin(io) : await readDefinitionFile(file);
  const extension = file === "-" ? "" : extname(file).toLowerCase();
  const asJson =
    extension === ".json" ||
    (extension !== ".yaml" && extension !== ".yml" && text.trimStart().startsWith("{"));
  if (!asJson) return { format: "yaml", text };
  let definition: unknown;
  try {
    definition = JSON.parse(text);
  } catch (error) {
    throw unreadable(`${file === "-" ? "stdin" : file} is not JSON: ${(error as Error).message}`);
  }
  if (typeof definition !== "object" || definition === null || Array.isArray(definition)) {
    throw unreadable(`${file === "-" ? "stdin" : file} does not hold a definition (a JSON object)`);
  }
  return { format: "json", definition: definition as WorkflowDefinitionInput };
}

async function readDefinitionFile(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw unreadable(`cannot read ${file}: ${(error as Error).message}`);
  }
  if (bytes.byteLength > SOURCE_BYTES_MAX) {
    throw unreadable(`${file} is larger than ${SOURCE_BYTES_MAX} bytes, more than a definition may be`);
  }
  return bytes.toString("utf8");
}

/** All of stdin, up to SOURCE_BYTES_MAX. */
async function readStdin(io: WorkflowsIo): Promise<string> {
  const stdin: AsyncIterable<string | Uint8Array> = io.stdin ?? process.stdin;
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  for await (const chunk of stdin) {
    const data = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
    bytes += data.byteLength;
    if (bytes > SOURCE_BYTES_MAX) {
      throw unreadable(`stdin holds more than ${SOURCE_BYTES_MAX} bytes, more than a definition may be`);
    }
    text += decoder.decode(data, { stream: true });
  }
  return text + decoder.decode();
}

/** A definition file (or stdin) that cannot be used: the command cannot run as given (exit 2). */
function unreadable(message: string): CliError {
  return new CliError("unreadable_file", "--file", message);
}

function done(text: string): Output {
  return { text, code: EXIT.ok };
}
