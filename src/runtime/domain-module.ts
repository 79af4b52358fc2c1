/**
 * A domain module, whole: its replicated half (StateModule: commands, section, projection) plus
 * what runs around it: its HTTP routes, its leader-only controllers and its every-node services.
 * Each domain folder exports one of these; the node and the server are given the list at startup
 * and never name a domain themselves.
 */

import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import type { Static, TSchema } from "typebox";
import type { Actor, CommandSpec, StateModule } from "../control/index.js";
import type { ConfigChange, NodeId } from "../raft/types.js";
import type { Credentials } from "../server/authorization.js";
import type { Controller } from "./controllers.js";
import type { NodeView } from "./view.js";

/** A committed proposal: where it landed and its module's result. */
export interface Committed<R> {
  readonly index: number;
  readonly term: number;
  readonly value: R;
}

/** How a proposal is made. */
export interface ProposeOptions {
  /** The API caller it is made for: the entry records it, and the audit log shows it. */
  readonly actor?: Actor | null;
}

/** What routes may ask of the node. Refusals reject with NodeError or CommandRefused. */
export interface NodeApi {
  readonly view: NodeView;
  /** Replicates a command through any node (a follower forwards it); resolves once applied here. */
  propose<S, T extends TSchema, R>(
    spec: CommandSpec<S, T, R>,
    body: Static<T>,
    options?: ProposeOptions,
  ): Promise<Committed<R>>;
  /** Resolves once this node's state reflects every write committed before the call (ReadIndex). */
  readBarrier(): Promise<void>;
  /** Replicates a membership change (leader only). */
  changeMembership(change: ConfigChange): Promise<{ readonly index: number; readonly term: number }>;
  /** Hands leadership to `target` (leader only). */
  transferLeadership(target: NodeId): Promise<void>;
}

/** A module's routes: a fastify plugin body, given the node. */
export type ModuleRoutes = (app: FastifyInstance, api: NodeApi) => void | Promise<void>;

/** Any domain module, whatever its state type. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDomainModule = DomainModule<any>;

/** A module's Prometheus metrics: registers its collectors on `registry`, reading `view`. */
export type ModuleMetrics = (registry: Registry, view: NodeView) => void;

/** One figure of `/metrics/performance`, beside the seed's target for it. */
export interface PerformanceFigure {
  /** The figure itself (null: nothing measured yet). */
  readonly value: number | null;
  readonly unit: string;
  /** The seed's target, as its specification states it ("< 100 ms"). */
  readonly target: string;
  /** Whether the figure meets the target (null: not measured, or not what this figure can tell). */
  readonly meets: boolean | null;
  /** What the figure is, in a sentence, and any figures beside it (percentiles, samples). */
  readonly about: string;
  readonly detail?: Readonly<Record<string, number | null>>;
}

/** A module's part of `/metrics/performance`: figures beside their targets, and its counts. */
export interface ModulePerformance {
  readonly figures?: Readonly<Record<string, PerformanceFigure>>;
  readonly counts?: Readonly<Record<string, number>>;
}

/** One domain module. */
export interface DomainModule<S = unknown> extends StateModule<S> {
  readonly routes?: ModuleRoutes;
  readonly metrics?: ModuleMetrics;
  /** This node's figures for `/metrics/performance`, read when asked. */
  readonly performance?: (view: NodeView) => ModulePerformance;
  /** Loops that run on the leader only. */
  readonly controllers?: readonly Controller[];
  /** Loops that run on every node. */
  readonly services?: readonly Controller[];
  /**
   * The API tokens this module keeps, for the server's authentication (besides JUNO_API_TOKEN).
   * At most one module has them.
   */
  readonly credentials?: Credentials;
}
