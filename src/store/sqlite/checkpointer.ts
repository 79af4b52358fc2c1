/**
 * WAL checkpoints off the event loop. SQLite copies the write-ahead log back into the database
 * file at a checkpoint, by default inside whichever commit crosses 1,000 pages: on the node's
 * own thread, holding its loop for as long as copying and an fsync of the database file take
 * (tens of milliseconds after a snapshot's chunks went through the log). The store turns that
 * off, and this worker thread, with its own connection, runs passive checkpoints instead: they
 * never block the node's writes, and durability does not depend on them (a commit is durable
 * once its log frames are synced).
 */

import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/** How often the worker checkpoints. */
const CHECKPOINT_EVERY_MS = 250;

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 1000");
const checkpoint = () => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch {
    // A busy database or a file being closed: the next round tries again.
  }
};
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.on("message", (message) => {
  if (message !== "close") return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.postMessage("closed");
});
`;

/** A worker thread checkpointing one database file. */
export class Checkpointer {
  private readonly worker: Worker;

  constructor(path: string, stopped: () => void) {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path, driver, everyMs: CHECKPOINT_EVERY_MS },
    });
    // The worker must not keep a process alive that has nothing else to do.
    this.worker.unref();
    this.worker.on("error", () => undefined);
    this.worker.on("exit", () => {
      if (!this.closing) stopped();
    });
  }

  private closing = false;

  /** Runs a last checkpoint and stops the worker. */
  close(): Promise<void> {
    this.closing = true;
    return new Promise((resolve) => {
      const done = (): void => {
        void this.worker.terminate().then(() => resolve());
      };
      const timer = setTimeout(done, 2_000);
      timer.unref();
      this.worker.once("message", () => {
        clearTimeout(timer);
        done();
      });
      this.worker.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      this.worker.postMessage("close");
    });
  }
}
