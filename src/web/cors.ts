/**
 * Cross-origin reads of the API, for the dashboard: a page served by one member reads the others
 * directly when its own node dies (and to show each member's own status). Any origin may call;
 * the token is a bearer token in the Authorization header, never a cookie, so no credentials mode
 * is needed and none is allowed.
 *
 * Registered on the root app before the auth hook: a preflight (OPTIONS, which carries no token)
 * is answered by the CORS hook before auth would refuse it.
 */

import cors from "@fastify/cors";
import type { FastifyInstance } from "fastify";

/** How long a browser may cache a preflight's answer. */
const PREFLIGHT_MAX_AGE_S = 600;

/** Allows any origin to call the API with a bearer token. */
export async function registerCors(app: FastifyInstance): Promise<void> {
  await app.register(cors, {
    origin: "*",
    methods: ["GET", "POST", "DELETE"],
    allowedHeaders: ["authorization", "content-type"],
    exposedHeaders: ["x-juno-consistency", "x-juno-applied-index", "x-juno-leader"],
    credentials: false,
    maxAge: PREFLIGHT_MAX_AGE_S,
  });
}
