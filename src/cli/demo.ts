/**
 * `juno demo`: the consensus core in one process, before the server exists. Three nodes on an
 * in-memory network elect a leader, commit writes, lose their leader, elect another, and end
 * with identical logs.
 */

import { RaftNode, SeededRandom, type Message, type NodeId } from "../raft/index.js";

const TICK_MS = 100;

/** Runs the demonstration, printing what happens; returns the process exit code. */
export function runDemo(print: (line: string) => void = console.log): number {
  const ids: NodeId[] = ["n1", "n2", "n3"];
  const seed = 7;
  const nodes = new Map<NodeId, RaftNode>();
  const down = new Set<NodeId>();
  const applied = new Map<NodeId, string[]>();
  for (const id of ids) {
    nodes.set(
      id,
      new RaftNode(
        { id, random: new SeededRandom(seed + id.charCodeAt(1)) },
        { kind: "bootstrap", voters: ids },
      ),
    );
    applied.set(id, []);
  }
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let clockMs = 0;
  let inFlight: Message[] = [];

  const pump = (): void => {
    for (let round = 0; round < 100; round++) {
      for (const [id, node] of nodes) {
        if (down.has(id)) continue;
        while (node.hasReady()) {
          const ready = node.ready();
          inFlight.push(...ready.messages);
          for (const entry of ready.committedEntries) {
            if (entry.type === "normal" && entry.data.length > 0)
              applied.get(id)!.push(decoder.decode(entry.data));
          }
          node.advance();
        }
      }
      if (inFlight.length === 0) return;
      const batch = inFlight;
      inFlight = [];
      for (const message of batch) if (!down.has(message.to)) nodes.get(message.to)!.step(message);
    }
  };
  const leader = (): RaftNode | undefined =>
    [...nodes.values()].find((n) => !down.has(n.id) && n.role === "leader");
  const tickUntilLeader = (): RaftNode => {
    for (let tick = 0; tick < 200; tick++) {
      const found = leader();
      if (found !== undefined) return found;
      clockMs += TICK_MS;
      for (const [id, node] of nodes) if (!down.has(id)) node.tick();
      pump();
    }
    throw new Error("no leader elected");
  };

  print("juno demo: three Raft nodes in one process (the server arrives with the next milestone)");
  let current = tickUntilLeader();
  print(`  ${(clockMs / 1000).toFixed(1)} s  ${current.id} is leader of term ${current.term}`);
  for (let i = 1; i <= 3; i++) current.propose(encoder.encode(`deploy api v${i}`));
  pump();
  print(`  committed 3 writes; ${current.id} has commit index ${current.log.committed}`);

  down.add(current.id);
  print(`  ${current.id} crashes`);
  current = tickUntilLeader();
  print(`  ${(clockMs / 1000).toFixed(1)} s  ${current.id} is leader of term ${current.term}`);
  current.propose(encoder.encode("deploy api v4"));
  pump();

  const survivors = ids.filter((id) => !down.has(id));
  for (const id of survivors) print(`  ${id} applied: ${applied.get(id)!.join(", ")}`);
  const logs = survivors.map((id) => applied.get(id)!.join("|"));
  const agree = logs.every((log) => log === logs[0]) && applied.get(survivors[0]!)!.length === 4;
  print(agree ? "  the surviving nodes agree on every write" : "  the nodes DISAGREE: this is a bug");
  return agree ? 0 : 1;
}
