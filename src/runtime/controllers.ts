/**
 * Controllers and services: the loops a module runs beside the state machine. A controller runs
 * on the leader only (lease expiry, health checks, promotion of caught-up learners): it starts
 * once the new leader has applied everything of the previous terms, so what it reads is
 * complete, and it stops the moment leadership is lost. A service runs on every node (keeping
 * the transport's peer list current, say). Both read the NodeView and propose commands; neither
 * ever changes the state itself. They get time only from the injected clock and answers only
 * through callbacks, so the simulator runs them exactly as production does.
 */

import type { Command } from "../control/index.js";
import type { ConfigChange, NodeId } from "../raft/types.js";
import type { Logger } from "../util/logger.js";
import type { Clock } from "./clock.js";
import type { NodeError } from "./errors.js";
import type { SubmitDone } from "./requests.js";
import type { NodeView } from "./view.js";

/** What a controller or service may do. */
export interface ControllerContext {
  readonly view: NodeView;
  readonly clock: Clock;
  readonly log: Logger;
  /** Proposes a command; `done` hears how it ended. */
  submit(command: Command, done?: SubmitDone): void;
  /** Proposes a membership change. */
  changeMembership(change: ConfigChange, done?: SubmitDone): void;
  /** Asks the leader to hand leadership to `target`. */
  transferLeadership(target: NodeId, done?: (error: NodeError | null) => void): void;
  /**
   * Sends `payload` (JSON text) to peer `to` on a module's `channel`: at most once, and it may be
   * lost, so whatever rides on it needs its own timeout.
   */
  sendToPeer(to: NodeId, channel: string, payload: string): void;
  /** Takes what peers send on `channel` (one listener per channel); returns a function that stops it. */
  listen(channel: string, handler: (from: NodeId, payload: string) => void): () => void;
}

/** A running controller or service. */
export interface Running {
  stop(): void;
}

/** A loop a module runs: on the leader (controllers) or on every node (services). */
export interface Controller {
  readonly name: string;
  start(context: ControllerContext): Running;
}

/** Starts and stops controllers as leadership comes and goes, and services once. */
export class ControllerHost {
  private running: { readonly name: string; readonly handle: Running }[] = [];
  private started = false;
  private services: Running[] = [];
  /** The last index of the log when this node became leader; controllers start once it is applied. */
  private leaderFrom: number | null = null;

  constructor(
    private readonly controllers: readonly Controller[],
    private readonly serviceList: readonly Controller[],
    private readonly context: ControllerContext,
  ) {}

  /** Starts every service. */
  startServices(): void {
    this.services = this.serviceList.map((service) => service.start(this.context));
  }

  /** After every Ready: start controllers on a caught-up new leader, stop them on a lost one. */
  update(isLeader: boolean, lastIndex: number, appliedIndex: number): void {
    if (!isLeader) {
      this.leaderFrom = null;
      this.stopControllers();
      return;
    }
    this.leaderFrom ??= lastIndex;
    if (this.started || appliedIndex < this.leaderFrom) return;
    this.started = true;
    for (const controller of this.controllers) {
      this.context.log.debug({ controller: controller.name }, "controller started");
      this.running.push({ name: controller.name, handle: controller.start(this.context) });
    }
  }

  /** Stops everything (the node is stopping). */
  stopAll(): void {
    this.stopControllers();
    for (const service of this.services) service.stop();
    this.services = [];
  }

  private stopControllers(): void {
    this.started = false;
    for (const { name, handle } of this.running) {
      handle.stop();
      this.context.log.debug({ controller: name }, "controller stopped");
    }
    this.running = [];
  }
}
