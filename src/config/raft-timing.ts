/** From the seed's Raft timings in milliseconds to the core's ticks. */

import { Invalid } from "./errors.js";
import type { RaftOptions } from "../raft/index.js";

/** The Raft options a config determines; the runtime adds the id and the random source. */
export type ConfiguredRaftOptions = Required<
  Pick<RaftOptions, "electionTicks" | "heartbeatTicks" | "compactionThresholdEntries">
>;

/** How long a tick is and the core's options in ticks. */
export interface RaftTiming {
  /** Wall-clock milliseconds per Raft tick. */
  readonly tickMs: number;
  readonly raftOptions: ConfiguredRaftOptions;
}

/**
 * One tick is one heartbeat interval, so a leader heartbeats every tick and the election timeout
 * becomes a whole number of ticks (rounded to the nearest). The core needs more election ticks
 * than heartbeat ticks, so anything that rounds to fewer than 2 ticks (an election timeout below
 * 1.5 heartbeat intervals) is refused.
 */
export function deriveRaftTiming(
  electionTimeoutMs: number,
  heartbeatIntervalMs: number,
  compactionThresholdEntries: number,
): RaftTiming | Invalid {
  const electionTicks = Math.round(electionTimeoutMs / heartbeatIntervalMs);
  if (electionTicks < 2) {
    return new Invalid(
      "election_not_above_heartbeat",
      `expected an election timeout of at least 1.5 heartbeat intervals (${1.5 * heartbeatIntervalMs} ms; 10 intervals are usual), got ${electionTimeoutMs} ms`,
    );
  }
  return {
    tickMs: heartbeatIntervalMs,
    raftOptions: { electionTicks, heartbeatTicks: 1, compactionThresholdEntries },
  };
}
