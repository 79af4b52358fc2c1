/** Deliberately broken variants of juno's Raft, each of which a checker must catch. */

import type { SimOptions } from "./simulation.js";

/** The broken variants by name, as simulator options. */
export const BUGS = {
  /** Commit an entry of an older term by counting replicas (the paper's figure 8). */
  "commit-old-term": {
    raftBugs: { commitOldTermByCount: true },
    profile: "figure8",
    nodes: 5,
    // Slow replication of the re-elected leader's old tail opens the window figure 8 needs.
    raftOverrides: { maxInflightMessages: 1, maxMessageBytes: 100 },
  },
  /** Grant votes without the up-to-date log check (5.4.1). */
  "vote-without-log-check": { raftBugs: { voteWithoutLogCheck: true } },
  /** Forget the persisted vote when restarting. */
  "forget-vote": { hostBugs: { forgetVoteOnRestart: true }, profile: "crashy" },
  /** Answer ReadIndex without confirming leadership with a quorum. */
  "read-without-quorum": { raftBugs: { readWithoutQuorum: true }, profile: "churn" },
  /** Send a Ready's messages before its writes are durable. */
  "send-before-persist": { hostBugs: { sendBeforePersist: true }, profile: "crashy" },
} satisfies Record<string, Partial<SimOptions>>;

/** The name of a broken variant. */
export type BugName = keyof typeof BUGS;
