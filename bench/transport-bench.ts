/**
 * Micro-benchmark of the transport codec: how many messages per second, and how many megabytes of
 * encoded bytes per second, one thread encodes and decodes. No sockets: this measures the CPU cost
 * the codec adds to every message, which the network cannot hide. Not run by the tests.
 *
 *   npx tsx bench/transport-bench.ts [--duration-ms=2000] [--warmup-ms=500]
 *
 * Scenarios: an append of 64 entries of 64 bytes (a typical replication message under load),
 * a heartbeat (the most frequent message on an idle cluster), and a frame of 16 such appends
 * joined the way PeerTransport batches them and decoded as one batch.
 */

import { performance } from "node:perf_hooks";
import type { Message } from "../src/raft/types.js";
import { joinEncodedMessages } from "../src/transport/codec.js";
import { decodeBatch, decodeMessage, encodeMessage } from "../src/transport/index.js";

/** What a run is configured with. */
interface BenchSettings {
  readonly durationMs: number;
  readonly warmupMs: number;
}

/** Reads --name=value options; anything unknown is an error rather than silently ignored. */
function parseSettings(argv: readonly string[]): BenchSettings {
  const settings = { durationMs: 2_000, warmupMs: 500 };
  for (const arg of argv) {
    const match = /^--(duration-ms|warmup-ms)=(\d+)$/.exec(arg);
    if (match === null) throw new Error(`unknown option ${arg}; use --duration-ms=N --warmup-ms=N`);
    if (match[1] === "duration-ms") settings.durationMs = Number(match[2]);
    else settings.warmupMs = Number(match[2]);
  }
  return settings;
}

/** An append as a leader sends it under load: consecutive entries of the current term. */
function append(entryCount: number, entryBytes: number): Message {
  const prevIndex = 1_234_567;
  return {
    type: "append",
    from: "juno-1",
    to: "juno-2",
    term: 42,
    prevIndex,
    prevTerm: 42,
    commit: prevIndex - 10,
    entries: Array.from({ length: entryCount }, (_, i) => ({
      index: prevIndex + 1 + i,
      term: 42,
      type: "normal" as const,
      data: new Uint8Array(entryBytes).fill(i & 0xff),
    })),
  };
}

/** One measured scenario: `run` encodes and decodes `messages` messages of `bytes` encoded bytes. */
interface Scenario {
  readonly name: string;
  readonly messages: number;
  readonly bytes: number;
  readonly run: () => number;
}

function scenarios(): Scenario[] {
  const appendMessage = append(64, 64);
  const appendBytes = encodeMessage(appendMessage).length;
  const heartbeat: Message = {
    type: "heartbeat",
    from: "juno-1",
    to: "juno-2",
    term: 42,
    commit: 1_234_557,
    readSeq: 99,
  };
  const heartbeatBytes = encodeMessage(heartbeat).length;
  const frameOf = 16;
  return [
    {
      name: "append 64 x 64 B",
      messages: 1,
      bytes: appendBytes,
      run: () => (decodeMessage(encodeMessage(appendMessage)) as { term: number }).term,
    },
    {
      name: "heartbeat",
      messages: 1,
      bytes: heartbeatBytes,
      run: () => decodeMessage(encodeMessage(heartbeat)).term,
    },
    {
      name: `frame of ${frameOf} appends`,
      messages: frameOf,
      bytes: frameOf * appendBytes,
      run: () => {
        const encoded: Uint8Array[] = [];
        for (let i = 0; i < frameOf; i++) encoded.push(encodeMessage(appendMessage));
        return decodeBatch(joinEncodedMessages(encoded, 0)).length;
      },
    },
  ];
}

/** Runs `scenario` for about `durationMs` and returns the operations completed and the time taken. */
function measure(scenario: Scenario, durationMs: number): { operations: number; elapsedMs: number } {
  let operations = 0;
  let sink = 0;
  const start = performance.now();
  let elapsedMs = 0;
  while (elapsedMs < durationMs) {
    for (let i = 0; i < 256; i++) sink += scenario.run();
    operations += 256;
    elapsedMs = performance.now() - start;
  }
  if (sink === -1) console.log("unreachable");
  return { operations, elapsedMs };
}

function main(): void {
  const settings = parseSettings(process.argv.slice(2));
  console.log(`transport codec, encode + decode, one thread, Node ${process.version}`);
  console.log(
    `${"scenario".padEnd(24)} ${"bytes/msg".padStart(10)} ${"msgs/s".padStart(14)} ${"MB/s".padStart(10)}`,
  );
  for (const scenario of scenarios()) {
    measure(scenario, settings.warmupMs);
    const { operations, elapsedMs } = measure(scenario, settings.durationMs);
    const messagesPerSecond = (operations * scenario.messages * 1_000) / elapsedMs;
    const megabytesPerSecond = (operations * scenario.bytes * 1_000) / elapsedMs / 1e6;
    console.log(
      `${scenario.name.padEnd(24)} ${String(scenario.bytes / scenario.messages).padStart(10)} ` +
        `${Math.round(messagesPerSecond).toLocaleString("en-US").padStart(14)} ${megabytesPerSecond.toFixed(1).padStart(10)}`,
    );
  }
}

main();
