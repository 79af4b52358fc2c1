/** The Raft core's public surface. */
export { AssertionError, assert } from "./assert.js";
export { RaftLog } from "./log.js";
export {
  EMPTY_MEMBERSHIP,
  applyChange,
  decodeChange,
  encodeChange,
  isMember,
  isVoter,
  quorumSize,
  validateChange,
} from "./membership.js";
export { resolveOptions, type InjectedBugs, type RaftOptions } from "./options.js";
export { Inflights, Progress, type ProgressState } from "./progress.js";
export {
  RaftNode,
  type PersistedState,
  type ProgressStatus,
  type RaftStatus,
  type StartState,
} from "./raft.js";
export { SeededRandom, type Random } from "./random.js";
export type * from "./types.js";
