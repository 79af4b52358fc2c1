/** The decisions module: proposals, and decisions that gather votes to a quorum. */

import type { DomainModule } from "../runtime/domain-module.js";
import { decisionsState } from "./module.js";
import { decisionRoutes } from "./routes.js";
import type { DecisionsState } from "./state.js";

export { decisionsState } from "./module.js";
export * from "./commands.js";
export * from "./state.js";

/** The decisions module, whole. */
export const decisionsModule: DomainModule<DecisionsState> = { ...decisionsState, routes: decisionRoutes };
