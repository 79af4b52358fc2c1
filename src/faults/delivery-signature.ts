/**
 * Signed push deliveries. Each push agent gets a key of its own, derived from the cluster secret
 * and its id (HMAC-SHA256), so every node derives the same key without storing one: any node gives
 * it in the register answer (`delivery_key`), and the leader signs each push with it:
 *
 *   x-juno-signature: t=<unix ms>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>
 *
 * The agent checks the signature and that `t` is recent, so nobody else who can reach its delivery
 * URL can make its handlers run, and an old push cannot be replayed. A cluster without a secret
 * signs nothing (and says so in the log when a push agent registers).
 */

import { createHmac } from "node:crypto";

export const SIGNATURE_HEADER = "x-juno-signature";

/** The key of agent `agentId` under `secret`, base64url. */
export function deliveryKey(secret: string, agentId: string): string {
  return createHmac("sha256", secret).update(`juno-delivery\u0000${agentId}`).digest("base64url");
}

/** The signature header's value for `body` sent at `timestampMs`. */
export function signDelivery(key: string, timestampMs: number, body: string): string {
  const mac = createHmac("sha256", Buffer.from(key, "base64url"))
    .update(`${timestampMs}.${body}`)
    .digest("hex");
  return `t=${timestampMs},v1=${mac}`;
}
