/**
 * The access module: scoped API tokens (admin, operator, reader, agent) and the audit log.
 *
 *   state.ts        tokens (digests only) and the audit log; snapshot section "access"
 *   commands.ts     create_token, revoke_token, record; recordAudited for other modules' audited commands
 *   tokens.ts       secrets (juno_ + 32 random bytes) and the tokens file
 *   credentials.ts  the server's token lookup: the file's and the state's, by digest
 *   audit.ts        auditing actions that are not commands (membership, leadership)
 *   routes.ts       /tokens and /audit (admin)
 *
 * Roles and the route rules are the server's (src/server/authorization.ts); this module keeps
 * the tokens and the record of who did what.
 */

import type { DomainModule } from "../runtime/domain-module.js";
import { accessCredentials } from "./credentials.js";
import { accessState } from "./module.js";
import { accessRoutes } from "./routes.js";
import type { AccessState } from "./state.js";
import type { FileToken } from "./tokens.js";

export { accessState } from "./module.js";
export { audited, type ActionSubject } from "./audit.js";
export * from "./commands.js";
export * from "./state.js";
export * from "./tokens.js";
export { accessCredentials, fileTokenId } from "./credentials.js";

/** How a node's access module is set up. */
export interface AccessOptions {
  /** This node's tokens file, read at start (not replicated). */
  readonly fileTokens?: readonly FileToken[];
}

/** The access module, whole. */
export type AccessModule = DomainModule<AccessState>;

/** Builds the access module of one node. */
export function createAccessModule(options: AccessOptions = {}): AccessModule {
  const fileTokens = options.fileTokens ?? [];
  return {
    ...accessState,
    routes: accessRoutes(fileTokens),
    credentials: accessCredentials(fileTokens, accessState),
  };
}
