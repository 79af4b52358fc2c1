// Proves the promises that matter under process faults: a paused leader (SIGSTOP, then SIGCONT)
// never serves a stale default read nor acknowledges a write it did not commit; and killing every
// node at varying moments under write load loses no acknowledged write: each is in the log,
// once, at the index it was acknowledged at, identical on every node.

import { afterEach, describe, expect, it } from "vitest";
import { ProcessCluster, eventually } from "./harness.js";

let cluster: ProcessCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe("process faults", () => {
  it("a paused leader never serves a stale read nor acknowledges an uncommitted write", async () => {
    cluster = await ProcessCluster.start(3);
    const old = await cluster.leader();
    await cluster.write(old, "before pause");
    await cluster.signal(old, "SIGSTOP");
    // Requests to the paused leader wait in its socket backlog.
    const staleWrite = cluster.request(
      old,
      "POST",
      "/api/v3/consensus/propose",
      { entry_type: "it", data: "to the paused leader" },
      30_000,
    );
    const others = cluster.running().filter((id) => id !== old);
    const fresh = await cluster.leader(others);
    const freshIndex = await cluster.write(fresh, "while paused");
    await cluster.signal(old, "SIGCONT");
    const read = await cluster.request(
      old,
      "GET",
      `/api/v3/consensus/log?from=${freshIndex}`,
      undefined,
      30_000,
    );
    if (read.status === 200) {
      // A default read is linearizable: it must see the write committed while it was paused.
      expect((read.body["entries"] as { data: unknown }[])[0]?.data).toBe("while paused");
    } else {
      expect(read.status).toBeGreaterThanOrEqual(500);
    }
    const write = await staleWrite;
    const log = await eventually(async () => {
      const entries = await cluster!.log(fresh);
      return entries.length > 0 ? entries : undefined;
    });
    if (write.status === 201) {
      // Acknowledged means committed: it is in the log where the answer said.
      const at = log.find((e) => e.index === write.body["index"]);
      expect(at?.data).toBe("to the paused leader");
    } else {
      expect(write.status).toBeGreaterThanOrEqual(500);
    }
  });

  it("killing every node at varying moments under load loses no acknowledged write", async () => {
    cluster = await ProcessCluster.start(3);
    const acknowledged = new Map<number, string>();
    let next = 0;
    for (const acksBeforeKill of [5, 40, 17]) {
      await cluster.leader();
      let stop = false;
      const writers = Array.from({ length: 6 }, async () => {
        while (!stop) {
          const data = `w${next++}`;
          const answer = await cluster!.request(
            "n1",
            "POST",
            "/api/v3/consensus/propose",
            { entry_type: "it", data },
            3_000,
          );
          if (answer.status === 201) acknowledged.set(answer.body["index"] as number, data);
        }
      });
      const target = acknowledged.size + acksBeforeKill;
      await eventually(() => Promise.resolve(acknowledged.size >= target ? true : undefined), 30_000);
      // Power loss: every node dies at once, mid-load.
      await Promise.all(cluster.running().map((id) => cluster!.signal(id, "SIGKILL")));
      stop = true;
      await Promise.all(writers);
      for (const id of ["n1", "n2", "n3"]) await cluster.restart(id);
    }
    await cluster.leader();
    await cluster.write("n2", "settle");
    const logs = await Promise.all(
      ["n1", "n2", "n3"].map((id) =>
        eventually(async () => {
          const log = await cluster!.log(id);
          return log.some((e) => e.data === "settle") ? log : undefined;
        }),
      ),
    );
    for (const log of logs) {
      expect(log).toEqual(logs[0]);
      for (const [index, data] of acknowledged) {
        expect(log.find((e) => e.index === index)?.data, `acknowledged write at ${index}`).toBe(data);
      }
      const writes = log
        .filter((e) => typeof e.data === "string" && e.data.startsWith("w"))
        .map((e) => e.data);
      expect(new Set(writes).size, "no write twice").toBe(writes.length);
    }
    expect(acknowledged.size).toBeGreaterThan(60);
  });
});
