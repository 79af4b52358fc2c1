/**
 * The server's view of the access module's tokens: the tokens file's (this node's) and the API's
 * (the replicated state's), looked up by the SHA-256 digest of what a caller presents. The map is
 * keyed by digest, never by secret, so how long a lookup takes says nothing about any secret; the
 * digest found is compared again in constant time before it counts.
 */

import { timingSafeEqual } from "node:crypto";
import type { StateModule } from "../control/index.js";
import type { NodeView } from "../runtime/view.js";
import type { Credentials, Principal } from "../server/authorization.js";
import type { AccessState, ApiToken } from "./state.js";
import type { FileToken } from "./tokens.js";

/** The id a file token's principal has: "file:<name>". */
export function fileTokenId(name: string): string {
  return `file:${name}`;
}

/** Credentials from the tokens file and from `module`'s state. */
export function accessCredentials(
  fileTokens: readonly FileToken[],
  module: StateModule<AccessState>,
): Credentials {
  const byDigest = new Map<string, FileToken>(fileTokens.map((token) => [token.digest, token]));
  return {
    configured: (view: NodeView) => byDigest.size > 0 || view.state(module).tokenCount > 0,
    authenticate(view: NodeView, digest: Buffer, nowMs: number): Principal | "expired" | null {
      const hex = digest.toString("hex");
      const file = byDigest.get(hex);
      const token: FileToken | ApiToken | undefined = file ?? view.state(module).tokenByDigest(hex);
      if (token === undefined || !timingSafeEqual(Buffer.from(token.digest, "hex"), digest)) return null;
      if (token.expiresAtMs !== null && token.expiresAtMs <= nowMs) return "expired";
      return {
        id: file !== undefined ? fileTokenId(file.name) : (token as ApiToken).id,
        name: token.name,
        role: token.role,
        agentId: token.agentId,
      };
    },
  };
}
