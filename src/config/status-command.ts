/**
 * `juno status`'s option table and parser: what to show and whether to wait for a leader; which
 * nodes to ask and how to print are the shared client options (src/config/client-options.ts),
 * plus --http, the command's old flag for one node, still read as --nodes.
 */

import {
  parseClientCommand,
  sharedSettings,
  type ClientParseOptions,
  type ClientSettings,
  type UsageError,
} from "./client-options.js";
import { booleanCodec, secondsCodec } from "./codecs.js";
import { defineCommand, type CommandValues } from "./command.js";
import type { Environment } from "./option-spec.js";

/** `juno status`: the cluster, and what runs on it. */
export const STATUS_COMMAND = defineCommand({
  name: "status",
  summary:
    "Shows who leads, the term, the commit and applied indexes and each member's replication (as " +
    "the leader sees it, when it can be asked), then the agents, tasks and workflows by status. " +
    "--http <host:port>, the old way to name one node, still works as --nodes.",
  options: {
    clusterOnly: {
      flag: "--cluster-only",
      env: null,
      default: "false",
      meaning: "Show the cluster alone, without the agents, tasks and workflows.",
      codec: booleanCodec,
    },
    wait: {
      flag: "--wait",
      env: null,
      default: "false",
      meaning:
        "Wait until a node answers and the cluster has a leader (it is starting, or electing one); " +
        "exit 1 (wait_timeout) if that does not happen in time.",
      codec: booleanCodec,
    },
    waitTimeoutMs: {
      flag: "--wait-timeout",
      env: null,
      default: "60",
      unit: "s",
      meaning: "How long --wait waits.",
      codec: secondsCodec(1_000, 86_400_000),
    },
  },
});

/** What `juno status` shows, as parsed from its table. */
export type StatusSettings = CommandValues<typeof STATUS_COMMAND.options>;

/** A parsed `juno status`. */
export type StatusCommand = ClientSettings & {
  readonly clusterOnly: boolean;
  /** How long to wait for a leader, or null without --wait. */
  readonly waitMs: number | null;
};

/** Parses the words after `juno status` and the environment, or the refusal to print before exiting with 2. */
export function parseStatusCommand(
  argv: readonly string[],
  env: Environment,
  options: ClientParseOptions = {},
): StatusCommand | UsageError {
  const parsed = parseClientCommand(STATUS_COMMAND, argv, env, { ...options, nodeAliases: ["--http"] });
  if (parsed instanceof Error) return parsed;
  const { clusterOnly, wait, waitTimeoutMs } = parsed.values;
  return { ...sharedSettings(parsed), clusterOnly, waitMs: wait ? waitTimeoutMs : null };
}
